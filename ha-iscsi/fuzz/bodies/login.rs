//! The target's login side: arbitrary bytes into a connection that has
//! not logged in (plain, CHAP and mutual CHAP targets, an ACL, discovery),
//! in arbitrary chunks, with time passing between them. It must never
//! panic, and never hold more continued login text than its limit.

use ha_iscsi::negotiation::TargetLimits;

use super::target::Target;

/// `[flags, chunk, stream..]`: the stream arrives `chunk` bytes at a time;
/// after each piece `flags >> 4` seconds pass.
pub fn run(input: &[u8]) {
    let [flags, chunk, rest @ ..] = input else {
        return;
    };
    let limit = TargetLimits::default().max_login_text;
    let mut target = Target::new();
    for piece in rest.chunks(usize::from(*chunk).max(1)) {
        target.feed(piece);
        if !target.logged_in {
            assert!(
                target.session.buffered() <= limit,
                "a login holds {} bytes, over its limit of {limit}",
                target.session.buffered()
            );
        }
        if flags >> 4 != 0 {
            target.wait(flags >> 4);
        }
    }
}
