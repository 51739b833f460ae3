//! Balancing algorithms: which server gets the next connection or request.
//!
//! One algorithm per file, all behind the [`Balancer`] trait. A balancer is
//! built from the servers that may take new traffic right now (the pool
//! decides which: ready, healthy, weight above 0, and backups only when
//! no normal server is left) and is rebuilt whenever that set or a weight
//! changes. Picking is the hot path; building is not.
//!
//! Retries and redispatch call [`Balancer::pick`] again with the servers
//! already tried, so every algorithm's fallback order is its own: the next
//! point on the ring for consistent hashing, the next server in turn for
//! round robin.
//!
//! Everything here is pure: no clock, no I/O. Randomness comes from a seeded
//! generator, so a test can replay a run.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use crate::config::{Balance, HashType};

mod consistent;
mod first;
mod hash;
mod key;
mod leastconn;
mod random;
mod roundrobin;
mod static_rr;
#[cfg(test)]
mod testutil;

pub use consistent::Consistent;
pub use first::First;
pub use hash::MapHash;
pub use key::{HashOn, stable_hash};
pub use leastconn::LeastConn;
pub use random::Random;
pub use roundrobin::RoundRobin;
pub use static_rr::StaticRr;

/// A server's index in its pool's server list.
pub type ServerId = usize;

/// A server that may take new traffic, as a balancer sees it.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// Which server.
    pub id: ServerId,
    /// Its weight, 1..=256 (servers of weight 0 are never candidates).
    pub weight: u32,
    /// A stable identity for hashing, derived from the server's name, so that
    /// a server keeps its place on a hash ring across rebuilds.
    pub key: u64,
    /// Its connection limit, if any. A server whose `load` has reached it is
    /// full and must not be picked.
    pub maxconn: Option<u32>,
    /// Connections in flight to it now, kept by the proxy.
    pub load: Arc<AtomicU32>,
}

/// What a pick may depend on, taken from the connection or request.
#[derive(Debug, Clone, Copy, Default)]
pub struct PickKey<'a> {
    /// The client's address (`balance source`).
    pub src: Option<IpAddr>,
    /// The request path without the query (`balance uri`).
    pub uri: Option<&'a str>,
}

/// A balancing algorithm over a fixed set of candidates.
pub trait Balancer: Send + Sync + fmt::Debug {
    /// Picks a server for new traffic, skipping the servers in `tried` and
    /// servers that are full. `None` when no candidate is left.
    fn pick(&self, key: &PickKey<'_>, tried: &[ServerId]) -> Option<ServerId>;
}

/// The largest weight a balancer honours (HAProxy's limit). Balancers clamp
/// larger weights to it and drop candidates of weight 0.
pub const MAX_WEIGHT: u32 = 256;

impl Candidate {
    /// A candidate with no connection limit and no load yet.
    pub fn new(id: ServerId, weight: u32, key: u64) -> Self {
        Self {
            id,
            weight,
            key,
            maxconn: None,
            load: Arc::new(AtomicU32::new(0)),
        }
    }

    /// Whether the server has reached its `maxconn` and must not be picked.
    pub fn is_full(&self) -> bool {
        full_at(self.maxconn, self.load.load(Ordering::Relaxed))
    }
}

/// Whether a server limited to `maxconn` is full at `load`.
fn full_at(maxconn: Option<u32>, load: u32) -> bool {
    maxconn.is_some_and(|max| load >= max)
}

/// Whether `c` may be picked now: not tried yet and not full.
fn usable(c: &Candidate, tried: &[ServerId]) -> bool {
    !tried.contains(&c.id) && !c.is_full()
}

/// Drops candidates of weight 0 (never picked) and clamps weights to
/// [`MAX_WEIGHT`], so that table and ring sizes stay bounded.
fn sanitize(mut candidates: Vec<Candidate>) -> Vec<Candidate> {
    candidates.retain(|c| c.weight > 0);
    for c in &mut candidates {
        c.weight = c.weight.min(MAX_WEIGHT);
    }
    candidates
}

/// Builds the balancer for `balance`/`hash_type` over `candidates`. `seed`
/// seeds any randomness (tests replay runs).
///
/// `hash_type` only matters for the hashing algorithms (`Source`, `Uri`);
/// `seed` only for `Random`. `Random { draws: 0 }` draws one server.
pub fn build(
    balance: Balance,
    hash_type: HashType,
    candidates: Vec<Candidate>,
    seed: u64,
) -> Box<dyn Balancer> {
    match balance {
        Balance::RoundRobin => Box::new(RoundRobin::new(candidates)),
        Balance::StaticRr => Box::new(StaticRr::new(candidates)),
        Balance::LeastConn => Box::new(LeastConn::new(candidates)),
        Balance::First => Box::new(First::new(candidates)),
        Balance::Source => hashed(HashOn::Source, hash_type, candidates),
        Balance::Uri => hashed(HashOn::Uri, hash_type, candidates),
        Balance::Random { draws } => Box::new(Random::new(candidates, draws, seed)),
    }
}

/// The hashing balancer for `hash_type`.
fn hashed(on: HashOn, hash_type: HashType, candidates: Vec<Candidate>) -> Box<dyn Balancer> {
    match hash_type {
        HashType::MapBased => Box::new(MapHash::new(on, candidates)),
        HashType::Consistent => Box::new(Consistent::new(on, candidates)),
    }
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

    use proptest::prelude::*;

    use super::*;
    use crate::balance::testutil::{candidates, distinct_ips};

    /// Every algorithm `build` can make.
    const ALL: [(Balance, HashType); 11] = [
        (Balance::RoundRobin, HashType::MapBased),
        (Balance::StaticRr, HashType::MapBased),
        (Balance::LeastConn, HashType::MapBased),
        (Balance::First, HashType::MapBased),
        (Balance::Source, HashType::MapBased),
        (Balance::Source, HashType::Consistent),
        (Balance::Uri, HashType::MapBased),
        (Balance::Uri, HashType::Consistent),
        (Balance::Random { draws: 0 }, HashType::MapBased),
        (Balance::Random { draws: 2 }, HashType::MapBased),
        (Balance::Random { draws: 3 }, HashType::MapBased),
    ];

    /// A server as generated: (id, weight, key, maxconn, load).
    type Spec = (ServerId, u32, u64, Option<u32>, u32);

    fn make(specs: &[Spec]) -> Vec<Candidate> {
        specs
            .iter()
            .map(|&(id, weight, key, maxconn, load)| {
                let mut c = Candidate::new(id, weight, key);
                c.maxconn = maxconn;
                c.load.store(load, Ordering::Relaxed);
                c
            })
            .collect()
    }

    /// Up to 10 servers with distinct ids in any order, weights including 0
    /// and above 256, small loads and limits so that many are full.
    fn servers(
        maxconn: impl Strategy<Value = Option<u32>> + Clone,
    ) -> impl Strategy<Value = Vec<Spec>> {
        prop::sample::subsequence((0..24).collect::<Vec<ServerId>>(), 0..10)
            .prop_shuffle()
            .prop_flat_map(move |ids| {
                let n = ids.len();
                let attrs = (0u32..=300, any::<u64>(), maxconn.clone(), 0u32..5);
                (Just(ids), prop::collection::vec(attrs, n))
            })
            .prop_map(|(ids, attrs)| {
                ids.into_iter()
                    .zip(attrs)
                    .map(|(id, (w, k, m, l))| (id, w, k, m, l))
                    .collect()
            })
    }

    fn src() -> impl Strategy<Value = Option<IpAddr>> {
        prop::option::of(prop_oneof![
            any::<u32>().prop_map(|a| IpAddr::V4(Ipv4Addr::from(a))),
            any::<u128>().prop_map(|a| IpAddr::V6(Ipv6Addr::from(a))),
        ])
    }

    fn uri() -> impl Strategy<Value = Option<String>> {
        prop::option::of("/[a-z0-9/._-]{0,16}")
    }

    /// Whether spec `s` may be picked: weight above 0, not tried, not full.
    fn may_pick(s: &Spec, tried: &[ServerId]) -> bool {
        s.1 > 0 && !tried.contains(&s.0) && !full_at(s.3, s.4)
    }

    proptest! {
        #[test]
        fn tried_and_full_servers_are_never_picked(
            specs in servers(prop::option::of(0u32..5)),
            tried in prop::collection::vec(0..26usize, 0..5),
            src in src(),
            uri in uri(),
            seed in any::<u64>(),
        ) {
            let key = PickKey { src, uri: uri.as_deref() };
            let any_left = specs.iter().any(|s| may_pick(s, &tried));
            for (balance, hash_type) in ALL {
                let b = build(balance, hash_type, make(&specs), seed);
                for _ in 0..8 {
                    let picked = b.pick(&key, &tried);
                    // Something is picked exactly when something is left.
                    prop_assert_eq!(picked.is_some(), any_left, "{:?}", balance);
                    if let Some(id) = picked {
                        let s = specs.iter().find(|s| s.0 == id);
                        prop_assert!(s.is_some_and(|s| may_pick(s, &tried)), "{:?} picked {}", balance, id);
                    }
                }
            }
        }

        #[test]
        fn picking_fills_every_server_exactly_to_its_maxconn(
            specs in servers(prop::option::of(0u32..5).prop_map(|m| m.or(Some(3)))),
            tried in prop::collection::vec(0..26usize, 0..5),
            src in src(),
            uri in uri(),
            seed in any::<u64>(),
        ) {
            // A proxy counts each picked connection in `load`: the servers
            // must take exactly their free slots, then nothing more.
            let key = PickKey { src, uri: uri.as_deref() };
            let room: u32 = specs
                .iter()
                .filter(|s| s.1 > 0 && !tried.contains(&s.0))
                .map(|s| s.3.unwrap_or(0).saturating_sub(s.4))
                .sum();
            for (balance, hash_type) in ALL {
                let cands = make(&specs);
                let b = build(balance, hash_type, cands.clone(), seed);
                let mut picks = 0;
                while let Some(id) = b.pick(&key, &tried) {
                    let c = cands.iter().find(|c| c.id == id).unwrap();
                    c.load.fetch_add(1, Ordering::Relaxed);
                    picks += 1;
                    prop_assert!(picks <= room, "{:?} overfilled", balance);
                }
                prop_assert_eq!(picks, room, "{:?} stopped early", balance);
            }
        }
    }

    #[test]
    fn empty_candidate_lists_pick_nothing() {
        let keys = [
            PickKey::default(),
            PickKey {
                src: Some(IpAddr::V4(Ipv4Addr::LOCALHOST)),
                uri: Some("/"),
            },
        ];
        for (balance, hash_type) in ALL {
            let b = build(balance, hash_type, Vec::new(), 0);
            for key in &keys {
                assert_eq!(b.pick(key, &[]), None, "{balance:?}");
            }
            let b = build(balance, hash_type, candidates(&[0, 0]), 0);
            assert_eq!(b.pick(&keys[1], &[]), None, "{balance:?}");
        }
    }

    #[test]
    fn same_seed_same_picks_for_every_algorithm() {
        let ips = distinct_ips(5, 500);
        let run = |balance, hash_type, seed| {
            let cands = candidates(&[5, 1, 3, 8, 2]);
            let b = build(balance, hash_type, cands.clone(), seed);
            let mut picks = Vec::new();
            for (n, &ip) in ips.iter().enumerate() {
                let uri = format!("/p/{}", n % 37);
                let key = PickKey {
                    src: Some(ip),
                    uri: Some(&uri),
                };
                let id = b.pick(&key, &[n % 6]).unwrap();
                // Connections open, and every third one closes again.
                let load = &cands[id].load;
                if n % 3 == 0 {
                    load.fetch_add(1, Ordering::Relaxed);
                }
                picks.push(id);
            }
            picks
        };
        for (balance, hash_type) in ALL {
            assert_eq!(
                run(balance, hash_type, 99),
                run(balance, hash_type, 99),
                "{balance:?}"
            );
        }
    }

    #[test]
    fn build_honours_hash_type_and_weights() {
        let ips = distinct_ips(6, 1000);
        let cands = candidates(&[1, 2, 3]);
        for (balance, on) in [
            (Balance::Source, HashOn::Source),
            (Balance::Uri, HashOn::Uri),
        ] {
            let map = build(balance, HashType::MapBased, cands.clone(), 0);
            let ring = build(balance, HashType::Consistent, cands.clone(), 0);
            let direct_map = MapHash::new(on, cands.clone());
            let direct_ring = Consistent::new(on, cands.clone());
            let mut differ = 0;
            for (n, &ip) in ips.iter().enumerate() {
                let uri = format!("/{n}");
                let key = PickKey {
                    src: Some(ip),
                    uri: Some(&uri),
                };
                assert_eq!(map.pick(&key, &[]), direct_map.pick(&key, &[]));
                assert_eq!(ring.pick(&key, &[]), direct_ring.pick(&key, &[]));
                differ += usize::from(map.pick(&key, &[]) != ring.pick(&key, &[]));
            }
            assert!(differ > 0, "map-based and consistent agree on every key");
        }
        // Weight 0 is dropped and weights are clamped to MAX_WEIGHT.
        let s = sanitize(candidates(&[0, 1000, 7]));
        assert_eq!(
            s.iter().map(|c| (c.id, c.weight)).collect::<Vec<_>>(),
            [(1, 256), (2, 7)]
        );
    }

    #[test]
    fn candidate_is_full_at_maxconn() {
        let mut c = Candidate::new(0, 1, 0);
        c.load.store(1_000_000, Ordering::Relaxed);
        assert!(!c.is_full());
        c.maxconn = Some(2);
        c.load.store(1, Ordering::Relaxed);
        assert!(!c.is_full());
        c.load.store(2, Ordering::Relaxed);
        assert!(c.is_full());
        c.maxconn = Some(0);
        c.load.store(0, Ordering::Relaxed);
        assert!(c.is_full());
    }
}
