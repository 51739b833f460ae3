//! The bodies of ha-fence's fuzz targets, one module per target, each a
//! `run(&[u8])` that must return on any input without panicking. The
//! cargo-fuzz targets in `fuzz_targets/` call them, and so does the
//! stable test `tests/fuzz.rs`, which replays the seed corpora in
//! `corpus/` and runs them on generated inputs.

pub mod ipmi_session;
pub mod metadata;
pub mod params;
pub mod sbd;
pub mod topology;

/// A target's body.
pub type Body = fn(&[u8]);

/// The targets by name, as `fuzz_targets/` and `corpus/` name them.
pub const TARGETS: [(&str, Body); 5] = [
    ("ipmi_session", ipmi_session::run),
    ("metadata", metadata::run),
    ("params", params::run),
    ("sbd", sbd::run),
    ("topology", topology::run),
];
