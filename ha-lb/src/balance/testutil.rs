//! Helpers shared by the balancers' unit tests: candidate sets, pick
//! counting, distinct random keys and share assertions.

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::{Balancer, Candidate, PickKey, stable_hash};

/// A key with neither source nor path.
pub(crate) const NO_KEY: PickKey<'static> = PickKey {
    src: None,
    uri: None,
};

/// Candidates `0..weights.len()` with the given weights, keyed by the hash
/// of the names `srv0`, `srv1`, ... as the proxy would key them.
pub(crate) fn candidates(weights: &[u32]) -> Vec<Candidate> {
    weights
        .iter()
        .enumerate()
        .map(|(i, &w)| Candidate::new(i, w, stable_hash(format!("srv{i}").as_bytes())))
        .collect()
}

/// How often each of the servers `0..n` is picked for `keys` (nothing tried).
/// Panics if a pick fails or returns an id out of range.
pub(crate) fn tally<'a>(
    b: &dyn Balancer,
    n: usize,
    keys: impl IntoIterator<Item = PickKey<'a>>,
) -> Vec<u64> {
    let mut counts = vec![0u64; n];
    for key in keys {
        let id = b.pick(&key, &[]).expect("a server is usable");
        counts[id] += 1;
    }
    counts
}

/// Each count is within 1% of its weighted share of the total; one pick of
/// slack because counts are integers (a server of weight 1 among a total of
/// 2560 expects 39.06 of 100k picks and can only get 39 or 40).
pub(crate) fn assert_within_one_percent(counts: &[u64], weights: &[u32]) {
    let picks: u64 = counts.iter().sum();
    let total: u32 = weights.iter().sum();
    for (i, (&c, &w)) in counts.iter().zip(weights).enumerate() {
        let expected = picks as f64 * f64::from(w) / f64::from(total);
        let err = (c as f64 - expected).abs();
        assert!(
            err <= expected * 0.01 + 1.0,
            "server {i} (weight {w}/{total}) got {c} picks, expected {expected:.1}"
        );
    }
}

/// Each server's share of the picks is within `points` percentage points
/// of `weight / total`.
pub(crate) fn assert_shares_within(counts: &[u64], weights: &[u32], points: f64) {
    let picks: u64 = counts.iter().sum();
    let total: u32 = weights.iter().sum();
    for (i, (&c, &w)) in counts.iter().zip(weights).enumerate() {
        let share = c as f64 / picks as f64;
        let expected = f64::from(w) / f64::from(total);
        assert!(
            (share - expected).abs() * 100.0 <= points,
            "server {i} (weight {w}/{total}) got {:.3}% of picks, expected {:.3}%",
            share * 100.0,
            expected * 100.0
        );
    }
}

/// `n` distinct client addresses drawn from `seed`, one in eight IPv6.
pub(crate) fn distinct_ips(seed: u64, n: usize) -> Vec<IpAddr> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut seen = HashSet::with_capacity(n);
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let ip = if rng.u8(..8) == 0 {
            IpAddr::V6(Ipv6Addr::from(rng.u128(..)))
        } else {
            IpAddr::V4(Ipv4Addr::from(rng.u32(..)))
        };
        if seen.insert(ip) {
            out.push(ip);
        }
    }
    out
}

/// `n` distinct request paths drawn from `seed`.
pub(crate) fn distinct_uris(seed: u64, n: usize) -> Vec<String> {
    const DIRS: [&str; 5] = ["static", "api/v1", "img", "users", "a"];
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut seen = HashSet::with_capacity(n);
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let dir = DIRS[rng.usize(..DIRS.len())];
        let uri = format!("/{dir}/{:x}.html", rng.u64(..1 << 40));
        if seen.insert(uri.clone()) {
            out.push(uri);
        }
    }
    out
}

/// Keys with only a client address.
pub(crate) fn src_keys(ips: &[IpAddr]) -> impl Iterator<Item = PickKey<'static>> + '_ {
    ips.iter().map(|&ip| PickKey {
        src: Some(ip),
        uri: None,
    })
}

/// Keys with only a path.
pub(crate) fn uri_keys(uris: &[String]) -> impl Iterator<Item = PickKey<'_>> {
    uris.iter().map(|u| PickKey {
        src: None,
        uri: Some(u),
    })
}
