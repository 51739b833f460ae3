//! `balance source` and `balance uri` with `hash-type map-based`.
//!
//! The key (client address or path) is hashed with the stable hash of
//! [`stable_hash`](super::stable_hash), and the hash modulo the table size
//! picks a slot of the same interleaved weighted table static round robin
//! uses (each server in `weight` slots), so a server gets its weighted share
//! of keys. When that server is tried or full the pick walks forward in the
//! table to the next slot holding a different, usable server. That fallback
//! is stable (a retry of the same key lands on the same server), but it does
//! not spread: with equal weights the table is `a b c a b c ...` and all of
//! `a`'s keys go to `b`. Servers that go down are removed by a rebuild, which
//! redistributes their keys over all the others; the walk only covers the
//! short spells of a retry or a full server.
//!
//! Map-based hashing is even, but any change of the server set or weights
//! moves most keys; [`Consistent`](super::Consistent) moves only the keys of
//! the server that changed. A pick without the key (no client address, no
//! path) falls back to round robin over the table, as HAProxy does.

use std::sync::atomic::{AtomicUsize, Ordering};

use super::static_rr::WeightedTable;
use super::{Balancer, Candidate, HashOn, PickKey, ServerId};

/// Map-based hashing of the client address or the path
/// (`balance source`/`balance uri`, `hash-type map-based`).
#[derive(Debug)]
pub struct MapHash {
    on: HashOn,
    table: WeightedTable,
    /// Round robin for picks without a key.
    cursor: AtomicUsize,
}

impl MapHash {
    /// Hashing `on` the client address or path over `candidates`.
    /// Candidates of weight 0 are dropped and weights above
    /// [`MAX_WEIGHT`](super::MAX_WEIGHT) clamped.
    pub fn new(on: HashOn, candidates: Vec<Candidate>) -> Self {
        Self {
            on,
            table: WeightedTable::new(candidates),
            cursor: AtomicUsize::new(0),
        }
    }
}

impl Balancer for MapHash {
    fn pick(&self, key: &PickKey<'_>, tried: &[ServerId]) -> Option<ServerId> {
        let len = self.table.len() as u64;
        if len == 0 {
            return None;
        }
        let slot = match self.on.hash(key) {
            // The remainder is below `len`, a usize.
            Some(h) => (h % len) as usize,
            None => self.cursor.fetch_add(1, Ordering::Relaxed),
        };
        self.table.pick_from(slot, tried)
    }
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};

    use proptest::prelude::*;

    use super::*;
    use crate::balance::testutil::{
        NO_KEY, assert_shares_within, candidates, distinct_ips, distinct_uris, src_keys, tally,
        uri_keys,
    };

    fn src(a: u8, b: u8) -> PickKey<'static> {
        PickKey {
            src: Some(IpAddr::V4(Ipv4Addr::new(10, 0, a, b))),
            uri: None,
        }
    }

    #[test]
    fn the_same_key_goes_to_the_same_server() {
        let h = MapHash::new(HashOn::Source, candidates(&[3, 1, 2, 7]));
        for b in 0..=255 {
            let first = h.pick(&src(1, b), &[]);
            assert!(first.is_some());
            for _ in 0..3 {
                assert_eq!(h.pick(&src(1, b), &[]), first);
            }
        }
        // A rebuild over the same servers maps the same way.
        let again = MapHash::new(HashOn::Source, candidates(&[3, 1, 2, 7]));
        for b in 0..=255 {
            assert_eq!(again.pick(&src(2, b), &[]), h.pick(&src(2, b), &[]));
        }
    }

    #[test]
    fn uri_hashing_ignores_the_client() {
        let h = MapHash::new(HashOn::Uri, candidates(&[1, 1, 1, 1, 1]));
        let uris = distinct_uris(7, 200);
        for uri in &uris {
            let a = h.pick(
                &PickKey {
                    src: None,
                    uri: Some(uri),
                },
                &[],
            );
            let b = h.pick(
                &PickKey {
                    src: src(9, 9).src,
                    uri: Some(uri),
                },
                &[],
            );
            assert_eq!(a, b);
        }
        // And different paths do not all land on one server.
        let counts = tally(&h, 5, uri_keys(&uris));
        assert!(counts.iter().all(|&c| c > 0), "{counts:?}");
    }

    #[test]
    fn a_tried_server_falls_through_to_the_next_in_the_table() {
        // Equal weights: the table is 0 1 2 3 0 1 2 3.
        let h = MapHash::new(HashOn::Source, candidates(&[2, 2, 2, 2]));
        for b in 0..=255 {
            let first = h.pick(&src(3, b), &[]).unwrap();
            let second = h.pick(&src(3, b), &[first]).unwrap();
            assert_eq!(second, (first + 1) % 4);
            // Stable: a second retry lands on the same server.
            assert_eq!(h.pick(&src(3, b), &[first]), Some(second));
            let third = h.pick(&src(3, b), &[first, second]).unwrap();
            assert_eq!(third, (first + 2) % 4);
        }
        assert_eq!(h.pick(&src(3, 3), &[0, 1, 2, 3]), None);
    }

    #[test]
    fn no_key_means_round_robin() {
        let h = MapHash::new(HashOn::Uri, candidates(&[1, 1, 1]));
        let seq: Vec<_> = (0..6).map(|_| h.pick(&NO_KEY, &[]).unwrap()).collect();
        assert_eq!(seq, [0, 1, 2, 0, 1, 2]);
        let h = MapHash::new(HashOn::Source, candidates(&[1, 1]));
        let counts = tally(
            &h,
            2,
            (0..10).map(|_| PickKey {
                src: None,
                uri: Some("/x"),
            }),
        );
        assert_eq!(counts, [5, 5]);
        assert_eq!(
            MapHash::new(HashOn::Source, Vec::new()).pick(&src(0, 0), &[]),
            None
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(12))]

        // Each server's share of 100k distinct keys is a sum of Bernoulli
        // trials with p = weight/total: its standard deviation is at most
        // sqrt(0.25 / 100_000) = 0.16 percentage points, so 1 point is more
        // than 6 standard deviations (a chance failure below 1e-9).
        #[test]
        fn source_hashing_respects_weights(
            weights in prop::collection::vec(1u32..=256, 1..10),
            seed in any::<u64>(),
        ) {
            let h = MapHash::new(HashOn::Source, candidates(&weights));
            let ips = distinct_ips(seed, 100_000);
            let counts = tally(&h, weights.len(), src_keys(&ips));
            assert_shares_within(&counts, &weights, 1.0);
        }

        #[test]
        fn uri_hashing_respects_weights(
            weights in prop::collection::vec(1u32..=256, 1..10),
            seed in any::<u64>(),
        ) {
            let h = MapHash::new(HashOn::Uri, candidates(&weights));
            let uris = distinct_uris(seed, 100_000);
            let counts = tally(&h, weights.len(), uri_keys(&uris));
            assert_shares_within(&counts, &weights, 1.0);
        }
    }
}
