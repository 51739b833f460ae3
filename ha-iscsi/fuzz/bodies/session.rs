//! The target's session in its full feature phase: an initiator logs in
//! (digests as the input says), then arbitrary bytes follow in arbitrary
//! chunks (SCSI commands, Data-Out, task management, NOP-Out, Text,
//! Logout, garbage), with time passing between them. It must never panic,
//! what it sends must encode, and it never holds more of the initiator's
//! bytes than it was sent.

use super::target::{INITIATOR, OPEN, Target, initiator};

/// `[flags, chunk, stream..]`: flags bits 0-1 the digests offered, bit 3
/// no login first; after each piece of `chunk` bytes `flags >> 4` seconds
/// pass.
pub fn run(input: &[u8]) {
    let [flags, chunk, rest @ ..] = input else {
        return;
    };
    let mut target = Target::new();
    if flags & 8 == 0 {
        let logged_in = target.log_in(initiator(flags & 3), Some(OPEN), &mut Vec::new());
        assert!(logged_in.is_some(), "{INITIATOR} logs in to {OPEN}");
    }
    let mut sent = 0;
    for piece in rest.chunks(usize::from(*chunk).max(1)) {
        sent += piece.len();
        target.feed(piece);
        assert!(
            target.session.buffered() <= sent,
            "the session holds {} bytes of the {sent} sent",
            target.session.buffered()
        );
        if flags >> 4 != 0 {
            target.wait(flags >> 4);
        }
    }
}
