//! ha-iscsi: an iSCSI target (and initiator): the PDU codec, login negotiation with CHAP, SCSI command emulation including persistent reservations, and file/memory/block backstores.
//!
//! **Status: not implemented yet.** This crate is an empty shell that reserves
//! its place in the ha-rs workspace; it exports nothing. The work is tracked
//! in the project's issue #5, and `docs/architecture.md` describes what the
//! crate will hold and how it fits with the others.
