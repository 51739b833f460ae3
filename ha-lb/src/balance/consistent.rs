//! `balance source` and `balance uri` with `hash-type consistent`: a hash ring.
//!
//! Every server owns `weight * 40` points on a ring of 64-bit values; point
//! `i` of a server is `hash(candidate.key, i)`, so it depends only on the
//! server's own identity, never on the other servers or on their order. A
//! key (client address or path) is hashed and goes to the owner of the first
//! point at or after its hash, clockwise. The ring is a sorted `Vec` searched
//! by bisection.
//!
//! When a server leaves, only the keys that went to it move, each to the
//! owner of the next point clockwise; when it comes back they return. A tried
//! or full server is skipped the same way, so a retry lands where the key
//! would go if that server were gone. With 40 points per unit of weight a
//! server's share of the ring varies by about `1/sqrt(40 * weight)` (16% at
//! weight 1) around its weighted share; that is the price of moving few keys.
//! A pick without the key falls back to round robin, as in HAProxy.

use std::sync::atomic::{AtomicUsize, Ordering};

use super::key::hash_pair;
use super::static_rr::{WeightedTable, first_usable};
use super::{Balancer, Candidate, HashOn, PickKey, ServerId, usable};

/// Ring points per unit of weight.
const POINTS_PER_WEIGHT: u32 = 40;

/// Consistent hashing of the client address or the path
/// (`balance source`/`balance uri`, `hash-type consistent`).
#[derive(Debug)]
pub struct Consistent {
    on: HashOn,
    /// The candidates, and round robin for picks without a key.
    table: WeightedTable,
    cursor: AtomicUsize,
    /// The ring's points, sorted.
    points: Vec<u64>,
    /// `owners[i]` is the index (into `table.candidates()`) owning `points[i]`.
    owners: Vec<u32>,
}

impl Consistent {
    /// A ring over `candidates`, hashing `on` the client address or path.
    /// Candidates of weight 0 are dropped and weights above
    /// [`MAX_WEIGHT`](super::MAX_WEIGHT) clamped.
    pub fn new(on: HashOn, candidates: Vec<Candidate>) -> Self {
        let table = WeightedTable::new(candidates);
        let cands = table.candidates();
        let size: usize = cands
            .iter()
            .map(|c| (c.weight * POINTS_PER_WEIGHT) as usize)
            .sum();
        // (point, server key, index): ties between servers are ordered by
        // their own keys, so the order never depends on who else is there.
        let mut ring: Vec<(u64, u64, u32)> = Vec::with_capacity(size);
        for (i, c) in cands.iter().enumerate() {
            for p in 0..c.weight * POINTS_PER_WEIGHT {
                ring.push((hash_pair(c.key, u64::from(p)), c.key, i as u32));
            }
        }
        ring.sort_unstable();
        let points = ring.iter().map(|r| r.0).collect();
        let owners = ring.iter().map(|r| r.2).collect();
        Self {
            on,
            table,
            cursor: AtomicUsize::new(0),
            points,
            owners,
        }
    }
}

impl Balancer for Consistent {
    fn pick(&self, key: &PickKey<'_>, tried: &[ServerId]) -> Option<ServerId> {
        let Some(h) = self.on.hash(key) else {
            let slot = self.cursor.fetch_add(1, Ordering::Relaxed);
            return self.table.pick_from(slot, tried);
        };
        if self.points.is_empty() {
            return None;
        }
        // First point at or after `h`; past the last point wraps to the first.
        let start = self.points.partition_point(|&p| p < h) % self.points.len();
        let owner = *self.owners.get(start)?;
        let cands = self.table.candidates();
        let c = cands.get(owner as usize)?;
        if usable(c, tried) {
            return Some(c.id);
        }
        first_usable(cands, &self.owners, start, owner, tried)
    }
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;
    use std::sync::atomic::Ordering;

    use proptest::prelude::*;

    use super::*;
    use crate::balance::testutil::{
        NO_KEY, candidates, distinct_ips, distinct_uris, src_keys, tally,
    };

    fn key(ip: IpAddr) -> PickKey<'static> {
        PickKey {
            src: Some(ip),
            uri: None,
        }
    }

    fn assign(b: &dyn Balancer, ips: &[IpAddr]) -> Vec<ServerId> {
        ips.iter()
            .map(|&ip| b.pick(&key(ip), &[]).unwrap())
            .collect()
    }

    fn without(cands: &[Candidate], id: ServerId) -> Vec<Candidate> {
        cands.iter().filter(|c| c.id != id).cloned().collect()
    }

    #[test]
    fn removing_a_server_moves_only_its_keys_and_few_of_them() {
        let ips = distinct_ips(42, 20_000);
        for n in 2..=10 {
            let all = candidates(&vec![1; n]);
            let before = assign(&Consistent::new(HashOn::Source, all.clone()), &ips);
            for gone in 0..n {
                let ring = Consistent::new(HashOn::Source, without(&all, gone));
                let after = assign(&ring, &ips);
                let mut moved = 0;
                for (b, a) in before.iter().zip(&after) {
                    if b != a {
                        assert_eq!(*b, gone, "a key moved from {b} to {a}, not from {gone}");
                        moved += 1;
                    }
                }
                // Only server `gone`'s keys moved, and all of them did.
                let had = before.iter().filter(|&&s| s == gone).count();
                assert_eq!(moved, had);
                // Its share is ~1/n: the sum of 40 arcs between random
                // points, relative standard deviation 1/sqrt(40) = 16%.
                // Slack: 4 standard deviations (0.63/n) plus 1 point for
                // sampling 20k keys. The servers are fixed, so this is
                // deterministic; the largest share seen is 1.28/n.
                let share = moved as f64 / ips.len() as f64;
                let bound = (1.0 + 4.0 / 40f64.sqrt()) / n as f64 + 0.01;
                assert!(
                    share <= bound,
                    "n={n} gone={gone} share={share} bound={bound}"
                );
            }
        }
    }

    #[test]
    fn adding_a_server_takes_keys_only_for_itself_and_removing_it_restores() {
        let ips = distinct_ips(43, 20_000);
        let five = candidates(&[3, 1, 4, 1, 5]);
        let six = candidates(&[3, 1, 4, 1, 5, 9]);
        let before = assign(&Consistent::new(HashOn::Source, five.clone()), &ips);
        let grown = assign(&Consistent::new(HashOn::Source, six), &ips);
        for (b, g) in before.iter().zip(&grown) {
            assert!(b == g || *g == 5, "a key moved from {b} to {g}");
        }
        assert!(grown.contains(&5));
        let back = assign(&Consistent::new(HashOn::Source, five), &ips);
        assert_eq!(before, back);
    }

    #[test]
    fn the_ring_does_not_depend_on_candidate_order() {
        let ips = distinct_ips(44, 2_000);
        let cands = candidates(&[2, 7, 1, 1]);
        let mut reversed = cands.clone();
        reversed.reverse();
        assert_eq!(
            assign(&Consistent::new(HashOn::Source, cands), &ips),
            assign(&Consistent::new(HashOn::Source, reversed), &ips)
        );
    }

    #[test]
    fn points_follow_weight() {
        // 8000 against 4000 points: the lighter server's share of the ring
        // is Beta(4000, 8000), sd 0.43 points; sampling 100k keys adds
        // 0.15. 2 points of tolerance is over 4 sd, and the servers and
        // keys are fixed, so this is deterministic.
        let weights = [200, 100];
        let ring = Consistent::new(HashOn::Source, candidates(&weights));
        let counts = tally(&ring, 2, src_keys(&distinct_ips(45, 100_000)));
        let share = counts[1] as f64 / 100_000.0;
        assert!((share - 1.0 / 3.0).abs() < 0.02, "{counts:?}");
    }

    #[test]
    fn full_servers_fall_through_clockwise() {
        let mut cands = candidates(&[1, 1, 1, 1]);
        cands[2].maxconn = Some(1);
        let ring = Consistent::new(HashOn::Uri, cands.clone());
        let gone = Consistent::new(HashOn::Uri, without(&cands, 2));
        let uris = distinct_uris(46, 500);
        let keys: Vec<_> = uris
            .iter()
            .map(|u| PickKey {
                src: None,
                uri: Some(u),
            })
            .collect();
        let first: Vec<_> = keys.iter().map(|k| ring.pick(k, &[]).unwrap()).collect();
        assert!(first.contains(&2));
        // Server 2 fills up.
        cands[2].load.store(1, Ordering::Relaxed);
        for (k, &f) in keys.iter().zip(&first) {
            let picked = ring.pick(k, &[]).unwrap();
            if f == 2 {
                // Where the key goes with server 2 off the ring.
                assert_eq!(Some(picked), gone.pick(k, &[]));
            } else {
                assert_eq!(picked, f);
            }
        }
    }

    #[test]
    fn no_key_means_round_robin_and_empty_means_none() {
        let ring = Consistent::new(HashOn::Source, candidates(&[1, 2]));
        let counts = tally(&ring, 2, (0..300).map(|_| NO_KEY));
        assert_eq!(counts, [100, 200]);
        let empty = Consistent::new(HashOn::Source, Vec::new());
        assert_eq!(empty.pick(&key(distinct_ips(1, 1)[0]), &[]), None);
        assert_eq!(empty.pick(&NO_KEY, &[]), None);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        #[test]
        fn leaving_moves_only_own_keys_and_returning_restores(
            servers in prop::collection::vec((1u32..=16, any::<u64>()), 2..8),
            gone in any::<prop::sample::Index>(),
            seed in any::<u64>(),
        ) {
            let cands: Vec<Candidate> = servers
                .iter()
                .enumerate()
                .map(|(i, &(w, k))| Candidate::new(i, w, k))
                .collect();
            let gone = gone.index(cands.len());
            let ips = distinct_ips(seed, 2_000);
            let ring = Consistent::new(HashOn::Source, cands.clone());
            let before = assign(&ring, &ips);
            let after = assign(&Consistent::new(HashOn::Source, without(&cands, gone)), &ips);
            for (i, (b, a)) in before.iter().zip(&after).enumerate() {
                prop_assert!(b == a || *b == gone);
                if *b == gone {
                    // A retry after trying `gone` lands where the key goes
                    // without it.
                    prop_assert_eq!(ring.pick(&key(ips[i]), &[gone]), Some(*a));
                }
            }
            let back = assign(&Consistent::new(HashOn::Source, cands), &ips);
            prop_assert_eq!(before, back);
        }
    }
}
