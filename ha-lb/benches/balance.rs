//! `Balancer::pick` for every algorithm over 2 and 32 servers.
//!
//! Weights are mixed (1..=8), nothing is tried or full, and the hashing
//! algorithms get a different key each pick (cycling through 1024 client
//! addresses and paths), so the numbers are the hot path as the proxy sees
//! it. Run with `cargo bench -p ha-lb --bench balance`.

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};

use criterion::{BenchmarkId, Criterion};
use ha_lb::balance::{Candidate, PickKey, build, stable_hash};
use ha_lb::config::{Balance, HashType};

const ALGORITHMS: [(&str, Balance, HashType); 9] = [
    ("roundrobin", Balance::RoundRobin, HashType::MapBased),
    ("static-rr", Balance::StaticRr, HashType::MapBased),
    ("leastconn", Balance::LeastConn, HashType::MapBased),
    ("first", Balance::First, HashType::MapBased),
    ("source", Balance::Source, HashType::MapBased),
    ("source-consistent", Balance::Source, HashType::Consistent),
    ("uri", Balance::Uri, HashType::MapBased),
    ("uri-consistent", Balance::Uri, HashType::Consistent),
    (
        "random(2)",
        Balance::Random { draws: 2 },
        HashType::MapBased,
    ),
];

fn candidates(n: usize) -> Vec<Candidate> {
    (0..n)
        .map(|i| {
            let c = Candidate::new(
                i,
                1 + (i as u32 * 5) % 8,
                stable_hash(format!("srv{i}").as_bytes()),
            );
            // Some load, so leastconn and random compare real numbers.
            c.load
                .store((i as u32 * 7) % 13, std::sync::atomic::Ordering::Relaxed);
            c
        })
        .collect()
}

fn pick(c: &mut Criterion) {
    let ips: Vec<IpAddr> = (0..1024u32)
        .map(|i| {
            IpAddr::V4(Ipv4Addr::from(
                0x0a00_0000 | i.wrapping_mul(2_654_435_761) >> 8,
            ))
        })
        .collect();
    let uris: Vec<String> = (0..1024).map(|i| format!("/static/{i:x}/app.js")).collect();
    for (name, balance, hash_type) in ALGORITHMS {
        let mut group = c.benchmark_group(format!("pick/{name}"));
        for n in [2, 32] {
            let b = build(balance, hash_type, candidates(n), 1);
            group.bench_function(BenchmarkId::from_parameter(n), |bench| {
                let mut i = 0usize;
                bench.iter(|| {
                    i = (i + 1) & 1023;
                    let key = PickKey {
                        src: Some(ips[i]),
                        uri: Some(&uris[i]),
                    };
                    black_box(b.pick(black_box(&key), &[]))
                });
            });
        }
        group.finish();
    }
}

// What `criterion_group!`/`criterion_main!` expand to, written out because
// the group function they generate is public and undocumented, which the
// workspace's `missing_docs` lint rejects.
fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    pick(&mut criterion);
    criterion.final_summary();
}
