//! The stable side of every crate's fuzz targets, shared by their
//! `tests/fuzz.rs`: each target's seeds and crash reproducers
//! (`fuzz/corpus/TARGET/`) replayed, then generated inputs (arbitrary
//! bytes, and seeds with bytes changed, inserted and removed) through the
//! same bodies, a bounded number of cases each. cargo-fuzz runs the
//! bodies longer: `scripts/fuzz`, docs/fuzzing.md.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestError, TestRunner};

/// A fuzz target's body: any input, never a panic.
pub type Body = fn(&[u8]);

/// The files of `target`'s corpus under `corpus` (a crate's
/// `fuzz/corpus`), by name.
fn corpus(corpus: &str, target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = PathBuf::from(corpus).join(target);
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

/// Replays every seed and crash reproducer of each of `targets`.
pub fn replay_corpus(corpus_dir: &str, targets: &[(&str, Body)]) {
    for (target, run) in targets {
        let files = corpus(corpus_dir, target);
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
pub fn generated(corpus_dir: &str, targets: &[(&str, Body)], target: &str, cases: u32) {
    let run = targets
        .iter()
        .find(|(name, _)| *name == target)
        .map(|(_, run)| *run)
        .expect("a target of this crate");
    let seeds: Vec<Vec<u8>> = corpus(corpus_dir, target)
        .into_iter()
        .map(|(_, bytes)| bytes)
        .collect();
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

/// A crate's stable fuzz tests, in its `tests/fuzz.rs` after `mod bodies`
/// and `mod replay`: `every_corpus_input_replays`, and
/// `on_generated_inputs::TARGET` running each named target on that many
/// generated inputs.
macro_rules! fuzz_tests {
    ($($target:ident: $cases:expr),+ $(,)?) => {
        const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/corpus");

        #[test]
        fn every_corpus_input_replays() {
            replay::replay_corpus(CORPUS, &bodies::TARGETS);
        }

        mod on_generated_inputs {
            use super::{CORPUS, bodies, replay};
            $(
                #[test]
                fn $target() {
                    replay::generated(CORPUS, &bodies::TARGETS, stringify!($target), $cases);
                }
            )+
        }
    };
}
