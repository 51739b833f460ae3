//! `balance random(N)`: draw N servers at random by weight, keep the least
//! loaded.
//!
//! Each draw takes a usable server with probability proportional to its
//! weight, among the servers not drawn yet (draws are distinct while there
//! are servers left to draw). Of the drawn servers the one with the lowest
//! `load / weight` wins; on a tie the earliest draw. `random(1)` is plain
//! weighted random; `random(2)`, HAProxy's default, is the "power of two
//! choices", which keeps loads nearly even at the cost of two draws. When
//! N is at least the number of usable servers every one is drawn, in random
//! order, and the least loaded wins.
//!
//! Randomness comes from a [`fastrand::Rng`] seeded at build time and kept
//! in a [`Mutex`], so a test replays the same picks from the same seed.

use std::sync::atomic::Ordering;
use std::sync::{Mutex, PoisonError};

use super::{Balancer, Candidate, PickKey, ServerId, sanitize, usable};

/// Draws tracked on the stack; more (a strange configuration) allocate.
const INLINE_DRAWS: usize = 8;

/// Weighted random, least loaded of `draws` (`balance random(draws)`).
#[derive(Debug)]
pub struct Random {
    candidates: Vec<Candidate>,
    draws: u32,
    rng: Mutex<fastrand::Rng>,
}

impl Random {
    /// Random over `candidates`, keeping the least loaded of `draws` draws
    /// (0 counts as 1), from a generator seeded with `seed`. Candidates of
    /// weight 0 are dropped and weights above
    /// [`MAX_WEIGHT`](super::MAX_WEIGHT) clamped.
    pub fn new(candidates: Vec<Candidate>, draws: u32, seed: u64) -> Self {
        Self {
            candidates: sanitize(candidates),
            draws: draws.max(1),
            rng: Mutex::new(fastrand::Rng::with_seed(seed)),
        }
    }

    /// Draws up to `drawn.len()` distinct usable servers by weight and
    /// returns the index of the least loaded.
    fn pick_among(&self, drawn: &mut [usize], tried: &[ServerId]) -> Option<usize> {
        let total: u64 = self
            .candidates
            .iter()
            .filter(|c| usable(c, tried))
            .map(|c| u64::from(c.weight))
            .sum();
        let mut rng = self.rng.lock().unwrap_or_else(PoisonError::into_inner);
        let mut remaining = total;
        // (index, load, weight) of the least loaded drawn so far.
        let mut best: Option<(usize, u64, u64)> = None;
        for d in 0..drawn.len() {
            if remaining == 0 {
                break;
            }
            let mut r = rng.u64(..remaining);
            let mut chosen = None;
            for (i, c) in self.candidates.iter().enumerate() {
                if drawn[..d].contains(&i) || !usable(c, tried) {
                    continue;
                }
                // A server that filled up since `total` was summed leaves
                // `r` short of the end; the last usable one takes it.
                chosen = Some(i);
                let w = u64::from(c.weight);
                if r < w {
                    break;
                }
                r -= w;
            }
            let Some(i) = chosen else { break };
            drawn[d] = i;
            let c = &self.candidates[i];
            let (load, weight) = (
                u64::from(c.load.load(Ordering::Relaxed)),
                u64::from(c.weight),
            );
            remaining = remaining.saturating_sub(weight);
            if best.is_none_or(|(_, bl, bw)| load * bw < bl * weight) {
                best = Some((i, load, weight));
            }
        }
        best.map(|(i, _, _)| i)
    }
}

impl Balancer for Random {
    fn pick(&self, _key: &PickKey<'_>, tried: &[ServerId]) -> Option<ServerId> {
        let n = self.candidates.len();
        let draws = (self.draws as usize).min(n);
        let i = if draws <= INLINE_DRAWS {
            let mut drawn = [usize::MAX; INLINE_DRAWS];
            self.pick_among(&mut drawn[..draws], tried)
        } else {
            let mut drawn = vec![usize::MAX; draws];
            self.pick_among(&mut drawn, tried)
        }?;
        self.candidates.get(i).map(|c| c.id)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::balance::testutil::{NO_KEY, candidates, tally};

    fn loaded(weights: &[u32], loads: &[u32]) -> Vec<Candidate> {
        let cands = candidates(weights);
        for (c, &l) in cands.iter().zip(loads) {
            c.load.store(l, Ordering::Relaxed);
        }
        cands
    }

    /// Asserts every count is within 5 binomial standard deviations of its
    /// weighted share. Each pick is an independent draw, so a server's count
    /// is Binomial(picks, p) with p = weight/total and standard deviation
    /// sqrt(picks * p * (1 - p)) (at most 158 for 100k picks). Five of them
    /// are exceeded by chance with probability below 6e-7 per server; the
    /// seed is fixed per case, so any failure replays.
    fn assert_binomial(counts: &[u64], weights: &[u32]) {
        let picks: u64 = counts.iter().sum();
        let total: u32 = weights.iter().sum();
        for (i, (&c, &w)) in counts.iter().zip(weights).enumerate() {
            let p = f64::from(w) / f64::from(total);
            let mean = picks as f64 * p;
            let sd = (picks as f64 * p * (1.0 - p)).sqrt();
            assert!(
                (c as f64 - mean).abs() <= 5.0 * sd + 1.0,
                "server {i}: {c} picks, expected {mean:.0} ± {:.0}",
                5.0 * sd
            );
        }
    }

    #[test]
    fn two_choices_prefer_the_less_loaded() {
        // With two servers both are always drawn: the idle one always wins.
        let r = Random::new(loaded(&[1, 1], &[10, 0]), 2, 1);
        for _ in 0..100 {
            assert_eq!(r.pick(&NO_KEY, &[]), Some(1));
        }
        // Among three, the idle one wins unless neither draw hits it:
        // 1 - (2/3)(1/2) = 2/3 of the picks, against 1/3 with one draw.
        // Binomial sd over 30k picks is 82 (0.27 points); 2 points is 7 sd.
        let share = |draws| {
            let r = Random::new(loaded(&[1, 1, 1], &[10, 0, 10]), draws, 7);
            tally(&r, 3, (0..30_000).map(|_| NO_KEY))[1] as f64 / 30_000.0
        };
        assert!((share(2) - 2.0 / 3.0).abs() < 0.02, "{}", share(2));
        assert!((share(1) - 1.0 / 3.0).abs() < 0.02, "{}", share(1));
    }

    #[test]
    fn more_draws_than_servers_is_least_loaded() {
        let r = Random::new(loaded(&[1, 4, 1], &[3, 4, 2]), 50, 3);
        // Per weight: 3, 1, 2.
        for _ in 0..50 {
            assert_eq!(r.pick(&NO_KEY, &[]), Some(1));
        }
        assert_eq!(r.pick(&NO_KEY, &[1]), Some(2));
    }

    #[test]
    fn many_draws_use_the_heap_path() {
        let weights = vec![1; 20];
        let mut loads = vec![5; 20];
        loads[13] = 0;
        let r = Random::new(loaded(&weights, &loads), 20, 9);
        assert_eq!(r.pick(&NO_KEY, &[]), Some(13));
        let r = Random::new(loaded(&weights, &loads), 12, 9);
        let hits = (0..1000)
            .filter(|_| r.pick(&NO_KEY, &[]) == Some(13))
            .count();
        // Drawn in 12 of 20 distinct draws: 60% of the time.
        assert!((500..700).contains(&hits), "{hits}");
    }

    #[test]
    fn same_seed_same_picks() {
        let run = |seed| {
            let r = Random::new(candidates(&[3, 1, 4, 1, 5]), 2, seed);
            (0..1000)
                .map(|_| r.pick(&NO_KEY, &[]).unwrap())
                .collect::<Vec<_>>()
        };
        assert_eq!(run(11), run(11));
        assert_ne!(run(11), run(12));
    }

    #[test]
    fn nothing_usable_is_none() {
        assert_eq!(Random::new(Vec::new(), 2, 0).pick(&NO_KEY, &[]), None);
        let r = Random::new(candidates(&[1, 1]), 0, 0);
        assert_eq!(r.pick(&NO_KEY, &[0, 1]), None);
        assert_eq!(r.pick(&NO_KEY, &[0]), Some(1));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(12))]

        #[test]
        fn one_draw_follows_the_weights(
            weights in prop::collection::vec(1u32..=256, 1..10),
            seed in any::<u64>(),
        ) {
            let r = Random::new(candidates(&weights), 1, seed);
            assert_binomial(&tally(&r, weights.len(), (0..100_000).map(|_| NO_KEY)), &weights);
        }

        // With equal loads the first draw always wins a tie, so two draws
        // still follow the weights.
        #[test]
        fn two_draws_at_equal_load_follow_the_weights(
            weights in prop::collection::vec(1u32..=256, 1..10),
            seed in any::<u64>(),
        ) {
            let r = Random::new(candidates(&weights), 2, seed);
            assert_binomial(&tally(&r, weights.len(), (0..100_000).map(|_| NO_KEY)), &weights);
        }
    }
}
