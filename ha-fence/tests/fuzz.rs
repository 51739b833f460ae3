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
fn ipmi_session_on_generated_inputs() {
    replay::generated(CORPUS, &bodies::TARGETS, "ipmi_session", 1024);
}

#[test]
fn metadata_on_generated_inputs() {
    replay::generated(CORPUS, &bodies::TARGETS, "metadata", 1024);
}

#[test]
fn params_on_generated_inputs() {
    replay::generated(CORPUS, &bodies::TARGETS, "params", 1024);
}

#[test]
fn sbd_on_generated_inputs() {
    replay::generated(CORPUS, &bodies::TARGETS, "sbd", 1024);
}

#[test]
fn topology_on_generated_inputs() {
    replay::generated(CORPUS, &bodies::TARGETS, "topology", 1024);
}
