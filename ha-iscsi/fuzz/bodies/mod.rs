//! The bodies of ha-iscsi's fuzz targets, one module per target, each a
//! `run(&[u8])` that must return on any input without panicking. The
//! cargo-fuzz targets in `fuzz_targets/` call them, and so does the
//! stable test `tests/fuzz.rs`, which replays the seed corpora in
//! `corpus/` and runs them on generated inputs.

pub mod discovery;
pub mod initiator;
pub mod login;
pub mod pdu;
pub mod session;
pub mod target;

/// A target's body.
pub type Body = fn(&[u8]);

/// The targets by name, as `fuzz_targets/` and `corpus/` name them.
pub const TARGETS: [(&str, Body); 5] = [
    ("discovery", discovery::run),
    ("initiator", initiator::run),
    ("login", login::run),
    ("pdu", pdu::run),
    ("session", session::run),
];
