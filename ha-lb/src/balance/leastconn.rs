//! `balance leastconn`: the server with the fewest connections per weight.
//!
//! A pick reads every usable server's `load` once and keeps the lowest
//! `(load + 1) / weight`: the load the server would have with this
//! connection, per weight unit, as HAProxy counts it (so at zero load a
//! heavier server is still preferred). It is compared without division as
//! `(load_a + 1) * weight_b < (load_b + 1) * weight_a`. Servers that tie are taken in
//! turn: each pick starts its scan one server further on (an atomic cursor,
//! no lock) and keeps the first of the lowest, so equally loaded servers share
//! the traffic instead of the first one taking it all.
//!
//! Loads are read without a lock while other picks run, so two concurrent
//! picks may choose the same server; the proxy's `load` accounting evens
//! that out on the next picks, as in HAProxy.

use std::sync::atomic::{AtomicUsize, Ordering};

use super::{Balancer, Candidate, PickKey, ServerId, full_at, sanitize};

/// Fewest connections relative to weight (`balance leastconn`).
#[derive(Debug)]
pub struct LeastConn {
    candidates: Vec<Candidate>,
    cursor: AtomicUsize,
}

impl LeastConn {
    /// Least connections over `candidates`. Candidates of weight 0 are
    /// dropped and weights above [`MAX_WEIGHT`](super::MAX_WEIGHT) clamped.
    pub fn new(candidates: Vec<Candidate>) -> Self {
        Self {
            candidates: sanitize(candidates),
            cursor: AtomicUsize::new(0),
        }
    }
}

impl Balancer for LeastConn {
    fn pick(&self, _key: &PickKey<'_>, tried: &[ServerId]) -> Option<ServerId> {
        let n = self.candidates.len();
        if n == 0 {
            return None;
        }
        let start = self.cursor.fetch_add(1, Ordering::Relaxed) % n;
        let (before, from) = self.candidates.split_at(start);
        // (id, load, weight) of the best so far.
        let mut best: Option<(ServerId, u64, u64)> = None;
        for c in from.iter().chain(before) {
            if tried.contains(&c.id) {
                continue;
            }
            let load = c.load.load(Ordering::Relaxed);
            if full_at(c.maxconn, load) {
                continue;
            }
            let (load, weight) = (u64::from(load) + 1, u64::from(c.weight));
            if best.is_none_or(|(_, bl, bw)| load * bw < bl * weight) {
                best = Some((c.id, load, weight));
            }
        }
        best.map(|(id, _, _)| id)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use proptest::prelude::*;

    use super::*;
    use crate::balance::testutil::{NO_KEY, candidates};

    fn with_loads(weights: &[u32], loads: &[u32]) -> Vec<Candidate> {
        let cands = candidates(weights);
        for (c, &l) in cands.iter().zip(loads) {
            c.load.store(l, Ordering::Relaxed);
        }
        cands
    }

    #[test]
    fn picks_the_least_loaded() {
        let lc = LeastConn::new(with_loads(&[1, 1, 1, 1], &[5, 2, 7, 3]));
        for _ in 0..8 {
            assert_eq!(lc.pick(&NO_KEY, &[]), Some(1));
        }
        assert_eq!(lc.pick(&NO_KEY, &[1]), Some(3));
    }

    #[test]
    fn at_zero_load_the_heavier_server_is_preferred() {
        let lc = LeastConn::new(with_loads(&[1, 10], &[0, 0]));
        assert_eq!(lc.pick(&NO_KEY, &[]), Some(1));
    }

    #[test]
    fn load_counts_relative_to_weight() {
        // 4/2 = 2 connections per weight unit beats 3/1 = 3.
        let lc = LeastConn::new(with_loads(&[1, 2], &[3, 4]));
        assert_eq!(lc.pick(&NO_KEY, &[]), Some(1));
        // 9/2 = 4.5 loses to 3/1.
        let lc = LeastConn::new(with_loads(&[1, 2], &[3, 9]));
        assert_eq!(lc.pick(&NO_KEY, &[]), Some(0));
    }

    #[test]
    fn equal_servers_take_turns() {
        let lc = LeastConn::new(with_loads(&[1, 1, 1], &[4, 4, 4]));
        let seen: BTreeSet<_> = (0..3).map(|_| lc.pick(&NO_KEY, &[]).unwrap()).collect();
        assert_eq!(seen.len(), 3);
    }

    #[test]
    fn connections_spread_evenly_as_they_open() {
        let cands = candidates(&[1, 3]);
        let lc = LeastConn::new(cands.clone());
        for _ in 0..400 {
            let id = lc.pick(&NO_KEY, &[]).unwrap();
            cands[id].load.fetch_add(1, Ordering::Relaxed);
        }
        let loads: Vec<u32> = cands
            .iter()
            .map(|c| c.load.load(Ordering::Relaxed))
            .collect();
        assert_eq!(loads, [100, 300]);
    }

    #[test]
    fn full_and_tried_are_skipped() {
        let mut cands = with_loads(&[1, 1], &[0, 5]);
        cands[0].maxconn = Some(0);
        let lc = LeastConn::new(cands);
        assert_eq!(lc.pick(&NO_KEY, &[]), Some(1));
        assert_eq!(lc.pick(&NO_KEY, &[1]), None);
        assert_eq!(LeastConn::new(Vec::new()).pick(&NO_KEY, &[]), None);
    }

    proptest! {
        #[test]
        fn the_pick_has_the_lowest_load_per_weight(
            servers in prop::collection::vec((1u32..=256, 0u32..1000), 1..12),
            tried in prop::collection::vec(0usize..12, 0..4),
        ) {
            let weights: Vec<u32> = servers.iter().map(|s| s.0).collect();
            let loads: Vec<u32> = servers.iter().map(|s| s.1).collect();
            let lc = LeastConn::new(with_loads(&weights, &loads));
            let picked = lc.pick(&NO_KEY, &tried);
            let usable: Vec<usize> = (0..servers.len()).filter(|i| !tried.contains(i)).collect();
            prop_assert_eq!(picked.is_some(), !usable.is_empty());
            if let Some(p) = picked {
                prop_assert!(!tried.contains(&p));
                for &i in &usable {
                    // (loads[p] + 1) / weights[p] <= (loads[i] + 1) / weights[i]
                    prop_assert!(
                        (u64::from(loads[p]) + 1) * u64::from(weights[i])
                            <= (u64::from(loads[i]) + 1) * u64::from(weights[p])
                    );
                }
            }
        }
    }
}
