//! The fuzz targets' bodies (`fuzz/bodies/`) on stable: every seed and
//! crash reproducer in `fuzz/corpus/TARGET/` replayed, then generated
//! inputs (arbitrary bytes, and seeds with bytes changed, inserted and
//! removed) through the same functions, a bounded number of cases each.
//! cargo-fuzz runs them longer: `scripts/fuzz`, docs/fuzzing.md.

#[allow(dead_code)]
#[path = "../fuzz/bodies/mod.rs"]
mod bodies;
#[path = "../../fuzz/replay.rs"]
mod replay;

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/corpus");

#[test]
fn every_corpus_input_replays() {
    replay::replay_corpus(CORPUS, &bodies::TARGETS);
}

#[test]
fn cib_on_generated_inputs() {
    replay::generated(CORPUS, &bodies::TARGETS, "cib", 1024);
}

#[test]
fn xml_on_generated_inputs() {
    replay::generated(CORPUS, &bodies::TARGETS, "xml", 1024);
}
