//! `balance roundrobin`: smooth weighted round robin (nginx's algorithm).
//!
//! Every server has a `current` counter. A pick adds each usable server's
//! weight to its counter, takes the server with the highest counter (the
//! first one on a tie) and subtracts the total weight of the usable servers
//! from it. Over a cycle of `sum(weights)` picks each server is picked exactly
//! `weight` times, and the picks are spread out: weights 5, 1, 1 give
//! `a a b a c a a`, not `a a a a a b c`.
//!
//! Servers that are skipped (tried or full) take no part in a pick: they gain
//! no turns while skipped, and the other servers share their traffic by
//! weight. A retry with `tried` is just another pick without the tried
//! servers. The counters sit behind a [`Mutex`] held for one pass over the
//! servers; [`StaticRr`](super::StaticRr) is the lock-free alternative.

use std::sync::{Mutex, PoisonError};

use super::{Balancer, Candidate, PickKey, ServerId, sanitize, usable};

/// Smooth weighted round robin (`balance roundrobin`).
#[derive(Debug)]
pub struct RoundRobin {
    candidates: Vec<Candidate>,
    current: Mutex<Vec<i64>>,
}

impl RoundRobin {
    /// Round robin over `candidates` by weight. Candidates of weight 0 are
    /// dropped and weights above [`MAX_WEIGHT`](super::MAX_WEIGHT) clamped.
    pub fn new(candidates: Vec<Candidate>) -> Self {
        let candidates = sanitize(candidates);
        let current = Mutex::new(vec![0; candidates.len()]);
        Self {
            candidates,
            current,
        }
    }
}

impl Balancer for RoundRobin {
    fn pick(&self, _key: &PickKey<'_>, tried: &[ServerId]) -> Option<ServerId> {
        // Nothing inside the lock panics, but a poisoned lock must not take
        // the proxy down either: the counters are always consistent.
        let mut current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        let mut total: i64 = 0;
        let mut best: Option<(usize, i64)> = None;
        for (i, (c, cur)) in self.candidates.iter().zip(current.iter_mut()).enumerate() {
            if !usable(c, tried) {
                continue;
            }
            let weight = i64::from(c.weight);
            *cur = cur.saturating_add(weight);
            total += weight;
            if best.is_none_or(|(_, value)| *cur > value) {
                best = Some((i, *cur));
            }
        }
        let (i, _) = best?;
        if let Some(cur) = current.get_mut(i) {
            *cur = cur.saturating_sub(total);
        }
        self.candidates.get(i).map(|c| c.id)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::thread;

    use proptest::prelude::*;

    use super::*;
    use crate::balance::testutil::{NO_KEY, assert_within_one_percent, candidates, tally};

    #[test]
    fn picks_are_spread_like_nginx() {
        let rr = RoundRobin::new(candidates(&[5, 1, 1]));
        let seq: Vec<_> = (0..14).map(|_| rr.pick(&NO_KEY, &[]).unwrap()).collect();
        // a a b a c a a, twice: the published nginx sequence.
        assert_eq!(seq, [0, 0, 1, 0, 2, 0, 0, 0, 0, 1, 0, 2, 0, 0]);
    }

    #[test]
    fn equal_weights_take_turns() {
        let rr = RoundRobin::new(candidates(&[3, 3, 3]));
        let seq: Vec<_> = (0..6).map(|_| rr.pick(&NO_KEY, &[]).unwrap()).collect();
        assert_eq!(seq, [0, 1, 2, 0, 1, 2]);
    }

    #[test]
    fn a_tried_server_gives_its_turn_to_the_next() {
        let rr = RoundRobin::new(candidates(&[1, 1, 1]));
        assert_eq!(rr.pick(&NO_KEY, &[0]), Some(1));
        assert_eq!(rr.pick(&NO_KEY, &[1, 2]), Some(0));
        assert_eq!(rr.pick(&NO_KEY, &[0, 1, 2]), None);
    }

    #[test]
    fn a_full_server_is_skipped_until_it_has_room() {
        let mut cands = candidates(&[1, 1]);
        cands[0].maxconn = Some(1);
        let load = Arc::clone(&cands[0].load);
        let rr = RoundRobin::new(cands);
        load.store(1, std::sync::atomic::Ordering::Relaxed);
        for _ in 0..4 {
            assert_eq!(rr.pick(&NO_KEY, &[]), Some(1));
        }
        load.store(0, std::sync::atomic::Ordering::Relaxed);
        let seq: Vec<_> = (0..4).map(|_| rr.pick(&NO_KEY, &[]).unwrap()).collect();
        assert_eq!(seq.iter().filter(|&&id| id == 0).count(), 2, "{seq:?}");
    }

    #[test]
    fn weight_zero_is_never_picked_and_empty_is_none() {
        let rr = RoundRobin::new(candidates(&[0, 2]));
        for _ in 0..10 {
            assert_eq!(rr.pick(&NO_KEY, &[]), Some(1));
        }
        assert_eq!(RoundRobin::new(Vec::new()).pick(&NO_KEY, &[]), None);
    }

    #[test]
    fn threads_sharing_it_still_get_whole_cycles() {
        let weights = [7, 3, 1, 12];
        let total: u32 = weights.iter().sum();
        let rr = Arc::new(RoundRobin::new(candidates(&weights)));
        let per_thread = (total * 500) as usize;
        let handles: Vec<_> = (0..2)
            .map(|_| {
                let rr = Arc::clone(&rr);
                thread::spawn(move || {
                    let mut counts = [0u32; 4];
                    for _ in 0..per_thread {
                        counts[rr.pick(&NO_KEY, &[]).unwrap()] += 1;
                    }
                    counts
                })
            })
            .collect();
        let mut counts = [0u32; 4];
        for h in handles {
            for (sum, c) in counts.iter_mut().zip(h.join().unwrap()) {
                *sum += c;
            }
        }
        // 1000 whole cycles under the lock: exactly 1000 * weight each.
        let expected = weights.map(|w| w * 1000);
        assert_eq!(counts, expected);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]

        #[test]
        fn weights_are_respected_over_100k_picks(
            weights in prop::collection::vec(1u32..=256, 1..10),
        ) {
            let rr = RoundRobin::new(candidates(&weights));
            let counts = tally(&rr, weights.len(), (0..100_000).map(|_| NO_KEY));
            assert_within_one_percent(&counts, &weights);

            // And whole cycles are exact.
            let total: u32 = weights.iter().sum();
            let rr = RoundRobin::new(candidates(&weights));
            let cycles = 100_000 / total as usize;
            let counts = tally(&rr, weights.len(), (0..cycles * total as usize).map(|_| NO_KEY));
            for (c, w) in counts.iter().zip(&weights) {
                prop_assert_eq!(*c, u64::from(*w) * cycles as u64);
            }
        }
    }
}
