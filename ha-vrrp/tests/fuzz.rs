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
    advert: 1024,
    keepalived_conf: 1024,
    router: 1024,
}
