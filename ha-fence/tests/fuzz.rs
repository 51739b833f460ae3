//! The fuzz targets' bodies (`fuzz/bodies/`) on stable: every seed and
//! crash reproducer in `fuzz/corpus/TARGET/` replayed, then generated
//! inputs (arbitrary bytes, and seeds with bytes changed, inserted and
//! removed) through the same functions, a bounded number of cases each.
//! cargo-fuzz runs them longer: `scripts/fuzz`, docs/fuzzing.md.

#[allow(dead_code)]
#[path = "../fuzz/bodies/mod.rs"]
mod bodies;
#[macro_use]
#[path = "../../fuzz/replay.rs"]
mod replay;

fuzz_tests! {
    ipmi_session: 1024,
    metadata: 1024,
    params: 1024,
    sbd: 1024,
    topology: 1024,
}
