//! ha-iscsi: an iSCSI target (and initiator): the PDU codec, login
//! negotiation with CHAP, SCSI command emulation including persistent
//! reservations, and file/memory/block backstores.
//!
//! The protocol is sans IO: the PDU codec ([`pdu`]) with CRC32C digests
//! ([`digest`]), login text ([`text`]) and the negotiation of RFC 7143's
//! keys ([`negotiation`]), CHAP ([`chap`]), the target's login
//! ([`login`]), SendTargets ([`discovery`]), the target's side of a
//! connection from login through the full feature phase ([`session`]:
//! PDUs, storage completions and the time in; PDUs, storage operations,
//! deadlines and events out), SCSI emulation ([`scsi`]: SPC-4/SBC-3, unit
//! attentions, RESERVE(6) and persistent reservations, asking for the
//! storage operations it needs), which connections a portal takes
//! ([`admission`]), and the initiator's login and commands
//! ([`initiator`]). The tokio drivers own the sockets and files: the
//! target portal ([`target`]), the initiator's [`InitiatorSession`], the
//! backstores ([`backstore`]: memory, file, block device, or your own
//! [`BlockTarget`]).
//! [`config`] holds what a target serves, imported from targetcli's
//! saveconfig.json, and [`launch`] builds the portals from it. The drivers
//! come with the default `tokio` feature; without it the crate is its pure
//! core. libiscsi's `iscsi-test-cu -t ALL` passes against the target;
//! `docs/architecture.md` says how the crate fits with the others.
//!
//! The crate root re-exports what a first program uses: [`BlockTarget`],
//! [`MemoryBackstore`] and [`FileBackstore`], [`LogicalUnit`] (with
//! [`LogicalUnit::read_only`] for a write-protected LUN), [`Portal`],
//! [`LoginConfig`] and [`Auth`], [`InitiatorConfig`] and
//! [`InitiatorSession`], and [`Sense`] for matching an [`Error::Scsi`].
//! A name re-exported at the root means one thing: the initiator's
//! client, `initiator::Session` in its module, is `InitiatorSession` here,
//! while the target's sans-IO connection core keeps its name in its
//! module only ([`session::Session`]).
//!
//! A SCSI status other than GOOD is an [`Error::Scsi`] with its sense; a
//! failed I/O operation an [`Error::Io`] carrying the `io::Error` and the
//! [`error::Operation`]; the initiator takes its LUN first, as an
//! [`initiator::Lun`] or a number.
//!
//! ```
//! use bytes::BytesMut;
//! use ha_iscsi::pdu::{Bhs, Decoder, Digests, Opcode, Pdu};
//!
//! let mut bhs = Bhs::new(Opcode::NopOut);
//! bhs.set_immediate(true);
//! bhs.set_final(true);
//! bhs.set_itt(7);
//! let ping = Pdu::new(bhs);
//! let digests = Digests { header: true, data: true };
//! let mut wire = BytesMut::new();
//! ping.encode(digests, &mut wire)?;
//!
//! let mut decoder = Decoder::new(8192);
//! decoder.set_digests(digests);
//! decoder.handle_bytes(&wire[..20]); // bytes arrive in pieces
//! assert_eq!(decoder.poll_pdu()?, None);
//! decoder.handle_bytes(&wire[20..]);
//! assert_eq!(decoder.poll_pdu()?, Some(ping));
//! # Ok::<(), ha_iscsi::Error>(())
//! ```

pub mod admission;
pub mod backstore;
pub mod chap;
pub mod config;
pub mod digest;
pub mod discovery;
pub mod error;
#[cfg(unix)]
pub mod initiator;
#[cfg(all(unix, feature = "tokio"))]
pub mod launch;
pub mod login;
pub mod name;
pub mod negotiation;
#[cfg(all(target_os = "linux", feature = "tokio"))]
mod nowait;
pub mod pdu;
pub mod scsi;
pub mod session;
#[cfg(all(unix, feature = "tokio"))]
pub mod target;
pub mod text;

#[cfg(feature = "tokio")]
pub use backstore::FileBackstore;
pub use backstore::{BlockTarget, MemoryBackstore};
pub use error::{ConnectionError, Error, Result};
/// The attribute a [`BlockTarget`] implementation
/// carries, so implementing one needs no dependency of its own.
pub use ha_core::async_trait;
#[cfg(unix)]
pub use initiator::InitiatorConfig;
#[cfg(all(unix, feature = "tokio"))]
pub use initiator::Session as InitiatorSession;
pub use login::{Auth, LoginConfig};
pub use scsi::{LogicalUnit, Sense};
#[cfg(all(unix, feature = "tokio"))]
pub use target::Portal;

/// `N` random bytes from the operating system (CHAP challenges, ISIDs,
/// initial sequence numbers).
#[cfg(feature = "tokio")]
pub(crate) fn random<const N: usize>() -> Result<[u8; N]> {
    ha_core::random::bytes().map_err(|e| Error::Entropy(e.to_string()))
}

// The README's example is compiled too (it needs the drivers).
#[cfg(all(doctest, feature = "tokio"))]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
