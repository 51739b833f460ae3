//! The bodies of ha-lb's fuzz targets, one module per target, each a
//! `run(&[u8])` that must return on any input without panicking. The
//! cargo-fuzz targets in `fuzz_targets/` call them, and so does the
//! stable test `tests/fuzz.rs`, which replays the seed corpora in
//! `corpus/` and runs them on generated inputs.

pub mod haproxy_cfg;
pub mod http;

/// A target's body.
pub type Body = fn(&[u8]);

/// The targets by name, as `fuzz_targets/` and `corpus/` name them.
pub const TARGETS: [(&str, Body); 2] = [("haproxy_cfg", haproxy_cfg::run), ("http", http::run)];
