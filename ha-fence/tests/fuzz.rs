//! The fuzz targets' bodies (`fuzz/bodies/`) on stable: every seed and
//! crash reproducer in `fuzz/corpus/TARGET/` replayed, then generated
//! inputs (arbitrary bytes, and seeds with bytes changed, inserted and
//! removed) through the same functions, a bounded number of cases each.
//! cargo-fuzz runs them longer: `scripts/fuzz`, docs/fuzzing.md.

#[allow(dead_code)]
#[path = "../fuzz/bodies/mod.rs"]
mod bodies;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestError, TestRunner};

/// The files of `target`'s corpus, by name.
fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut files: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| {
            let path = entry.expect("a directory entry").path();
            let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            (path, bytes)
        })
        .collect();
    files.sort();
    files
}

#[test]
fn every_corpus_input_replays() {
    for (target, run) in bodies::TARGETS {
        let files = corpus(target);
        assert!(!files.is_empty(), "no seeds for {target}");
        for (path, bytes) in files {
            if catch_unwind(AssertUnwindSafe(|| run(&bytes))).is_err() {
                panic!("{target} fails on {}", path.display());
            }
        }
    }
}

/// Arbitrary bytes, or a seed with some bytes overwritten, inserted or
/// removed.
fn input(seeds: Vec<Vec<u8>>) -> impl Strategy<Value = Vec<u8>> {
    let edits = prop::collection::vec((any::<prop::sample::Index>(), 0u8..3, any::<u8>()), 1..8);
    let mutated = (prop::sample::select(seeds), edits).prop_map(|(mut seed, edits)| {
        for (at, kind, byte) in edits {
            let i = at.index(seed.len() + 1);
            match kind {
                0 if i < seed.len() => seed[i] = byte,
                1 => seed.insert(i, byte),
                _ if i < seed.len() => {
                    seed.remove(i);
                }
                _ => seed.push(byte),
            }
        }
        seed
    });
    prop_oneof![
        1 => prop::collection::vec(any::<u8>(), 0..512),
        3 => mutated,
    ]
}

/// Runs `target` on `cases` generated inputs (together a few seconds in a
/// debug build); a failure names the smallest input found (add it to the
/// corpus once fixed).
fn generated(target: &str, cases: u32) {
    let run = bodies::TARGETS
        .iter()
        .find(|(name, _)| *name == target)
        .map(|(_, run)| *run)
        .expect("a target of this crate");
    let seeds: Vec<Vec<u8>> = corpus(target).into_iter().map(|(_, bytes)| bytes).collect();
    assert!(!seeds.is_empty(), "no seeds for {target}");
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    match runner.run(&input(seeds), |bytes| {
        run(&bytes);
        Ok(())
    }) {
        Ok(()) => {}
        Err(TestError::Fail(why, input)) => {
            panic!("{target}: {why}; the smallest input found: {input:?}")
        }
        Err(e) => panic!("{target}: {e}"),
    }
}

#[test]
fn ipmi_session_on_generated_inputs() {
    generated("ipmi_session", 1024);
}

#[test]
fn metadata_on_generated_inputs() {
    generated("metadata", 1024);
}

#[test]
fn params_on_generated_inputs() {
    generated("params", 1024);
}

#[test]
fn sbd_on_generated_inputs() {
    generated("sbd", 1024);
}

#[test]
fn topology_on_generated_inputs() {
    generated("topology", 1024);
}
