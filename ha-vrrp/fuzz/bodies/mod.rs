//! The bodies of ha-vrrp's fuzz targets, one module per target, each a
//! `run(&[u8])` that must return on any input without panicking. The
//! cargo-fuzz targets in `fuzz_targets/` call them, and so does the
//! stable test `tests/fuzz.rs`, which replays the seed corpora in
//! `corpus/` and runs them on generated inputs.

pub mod advert;
pub mod keepalived_conf;
pub mod router;

/// A target's body.
pub type Body = fn(&[u8]);

/// The targets by name, as `fuzz_targets/` and `corpus/` name them.
pub const TARGETS: [(&str, Body); 3] = [
    ("advert", advert::run),
    ("keepalived_conf", keepalived_conf::run),
    ("router", router::run),
];
