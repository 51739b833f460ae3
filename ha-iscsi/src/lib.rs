//! ha-iscsi: an iSCSI target (and initiator): the PDU codec, login
//! negotiation with CHAP, SCSI command emulation including persistent
//! reservations, and file/memory/block backstores.
//!
//! **Status: being built (issue #5).** Done, all sans IO where it is
//! protocol: the PDU codec ([`pdu`]): the Basic Header Segment, AHS, data
//! segments with padding, CRC32C header and data digests ([`digest`]), and a
//! decoder that takes bytes in any chunks and refuses data segments over the
//! declared MaxRecvDataSegmentLength before buffering them; login text
//! ([`text`]) and the negotiation of the operational keys by RFC 7143's
//! rules ([`negotiation`]); CHAP and mutual CHAP with reflection refused
//! ([`chap`]); the target's login phase ([`login`]); SendTargets
//! ([`discovery`]); SCSI emulation ([`scsi`]: SPC-4/SBC-3 block commands,
//! MODE SENSE/SELECT, unit attentions, RESERVE(6) and persistent
//! reservations with every service action and type, kept across restarts
//! with APTPL); a tokio portal ([`target`]) with CmdSN ordering, R2T,
//! task management, NOP-In keep-alive and a logout request on stop, which
//! passes libiscsi's whole `iscsi-test-cu` suite; the
//! [`BlockTarget`](backstore::BlockTarget) trait with memory and file
//! backstores ([`backstore`]). Block-device backstores, ACLs, the
//! targetcli import and the initiator come next; `docs/architecture.md`
//! says how the crate fits with the others.
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

pub mod backstore;
pub mod chap;
pub mod config;
pub mod digest;
pub mod discovery;
pub mod error;
#[cfg(unix)]
pub mod initiator;
#[cfg(unix)]
pub mod launch;
pub mod login;
pub mod negotiation;
#[cfg(target_os = "linux")]
mod nowait;
pub mod pdu;
pub mod scsi;
#[cfg(unix)]
pub mod target;
pub mod text;

pub use error::{Error, Result};
