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
fn discovery_on_generated_inputs() {
    replay::generated(CORPUS, &bodies::TARGETS, "discovery", 1024);
}

#[test]
fn initiator_on_generated_inputs() {
    replay::generated(CORPUS, &bodies::TARGETS, "initiator", 1024);
}

#[test]
fn login_on_generated_inputs() {
    replay::generated(CORPUS, &bodies::TARGETS, "login", 1024);
}

#[test]
fn pdu_on_generated_inputs() {
    replay::generated(CORPUS, &bodies::TARGETS, "pdu", 1024);
}

#[test]
fn session_on_generated_inputs() {
    replay::generated(CORPUS, &bodies::TARGETS, "session", 1024);
}
