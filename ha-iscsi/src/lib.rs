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
//! ([`discovery`]); the first SCSI commands ([`scsi`]: TEST UNIT READY,
//! INQUIRY with VPD 00/80/83, READ CAPACITY, REPORT LUNS, READ, WRITE,
//! SYNCHRONIZE CACHE); a tokio portal ([`target`]) with immediate data,
//! unsolicited data and R2T, that libiscsi's `iscsi-ls`, `iscsi-inq` and
//! `iscsi-readcapacity16` use, with and without CHAP; the
//! [`BlockTarget`](backstore::BlockTarget) trait with memory and file
//! backstores ([`backstore`]). The rest of SCSI and of the full feature
//! phase, block-device backstores, the `ha-target` binary and the initiator
//! come next; `docs/architecture.md` says how the crate fits with the
//! others.
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
pub mod digest;
pub mod discovery;
pub mod error;
pub mod login;
pub mod negotiation;
pub mod pdu;
pub mod scsi;
#[cfg(unix)]
pub mod target;
pub mod text;

pub use error::{Error, Result};
