//! Several routers on a simulated LAN: virtual time, delay, loss,
//! partitions and crashes, reproducible from a seed. No sockets.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use ha_vrrp::packet::{Advert, Interval, Version};
use ha_vrrp::{Output, Router, RouterConfig, State};
use proptest::prelude::*;

/// A deterministic generator (xorshift64*), so runs replay from a seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn chance(&mut self, p: f64) -> bool {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }
}

struct Node {
    router: Router,
    alive: bool,
    /// The island it is on; adverts cross only within an island.
    island: u8,
    /// (time, from, to) of every state change.
    changes: Vec<(Instant, State, State)>,
}

struct Lan {
    start: Instant,
    now: Instant,
    nodes: Vec<Node>,
    in_flight: BinaryHeap<Delivery>,
    adverts: Vec<(IpAddr, Advert)>,
    seq: u64,
    rng: Rng,
    loss: f64,
    max_delay: Duration,
}

/// Index into `Lan::adverts` (adverts are not `Ord`).
type AdvertKey = usize;

/// An advert on its way: (deliver at, sequence, to, from, advert), earliest first.
type Delivery = Reverse<(Instant, u64, usize, usize, AdvertKey)>;

fn ip(i: usize) -> IpAddr {
    IpAddr::from([10, 0, 0, 1 + i as u8])
}

impl Lan {
    fn new(priorities: &[u8], version: Version, interval_centis: u16, seed: u64) -> Self {
        let start = Instant::now();
        let nodes = priorities
            .iter()
            .enumerate()
            .map(|(i, &priority)| {
                let mut config =
                    RouterConfig::new(51, priority, ip(i), vec![IpAddr::from([10, 0, 0, 100])]);
                config.version = version;
                config.interval = Interval::from_centis(interval_centis).unwrap();
                Node {
                    router: Router::new(config),
                    alive: true,
                    island: 0,
                    changes: Vec::new(),
                }
            })
            .collect();
        Self {
            start,
            now: start,
            nodes,
            in_flight: BinaryHeap::new(),
            adverts: Vec::new(),
            seq: 0,
            rng: Rng(seed | 1),
            loss: 0.0,
            max_delay: Duration::from_millis(1),
        }
    }

    fn start_all(&mut self) {
        for i in 0..self.nodes.len() {
            self.nodes[i].router.handle_startup(self.now);
            self.drain(i);
        }
    }

    fn drain(&mut self, i: usize) {
        while let Some(output) = self.nodes[i].router.poll_output() {
            match output {
                Output::Transmit { src, advert } => {
                    assert_eq!(src, ip(i), "sent from the router's primary address");
                    let key = self.adverts.len();
                    self.adverts.push((src, advert));
                    for to in 0..self.nodes.len() {
                        if to == i || self.nodes[to].island != self.nodes[i].island {
                            continue;
                        }
                        if self.rng.chance(self.loss) {
                            continue;
                        }
                        let delay = self
                            .max_delay
                            .mul_f64((self.rng.next() % 1000) as f64 / 1000.0);
                        self.seq += 1;
                        self.in_flight
                            .push(Reverse((self.now + delay, self.seq, to, i, key)));
                    }
                }
                Output::StateChanged { from, to } => {
                    self.nodes[i].changes.push((self.now, from, to))
                }
                Output::AddAddresses(_) | Output::RemoveAddresses(_) | Output::Announce { .. } => {}
            }
        }
    }

    /// Runs until `until` (relative to the start).
    fn run_until(&mut self, until: Duration) {
        let end = self.start + until;
        loop {
            let next_timer = self
                .nodes
                .iter()
                .enumerate()
                .filter(|(_, n)| n.alive)
                .filter_map(|(i, n)| n.router.poll_timeout().map(|t| (t, i)))
                .min();
            let next_packet = self.in_flight.peek().map(|Reverse((t, ..))| *t);
            let next = match (next_timer.map(|(t, _)| t), next_packet) {
                (Some(a), Some(b)) => a.min(b),
                (a, b) => a.or(b).unwrap_or(end),
            };
            if next > end {
                self.now = end;
                return;
            }
            self.now = self.now.max(next);
            if next_packet == Some(next) {
                let Reverse((_, _, to, from, key)) = self.in_flight.pop().unwrap();
                if self.nodes[to].alive && self.nodes[to].island == self.nodes[from].island {
                    let (src, advert) = self.adverts[key].clone();
                    let _ = self.nodes[to].router.handle_advert(self.now, src, &advert);
                    self.drain(to);
                }
            } else if let Some((_, i)) = next_timer {
                self.nodes[i].router.handle_timeout(self.now);
                self.drain(i);
            }
        }
    }

    fn masters(&self) -> Vec<usize> {
        (0..self.nodes.len())
            .filter(|&i| self.nodes[i].alive && self.nodes[i].router.state() == State::Master)
            .collect()
    }

    /// When node `i` last became master.
    fn became_master(&self, i: usize) -> Option<Instant> {
        self.nodes[i]
            .changes
            .iter()
            .rev()
            .find(|(_, _, to)| *to == State::Master)
            .map(|(t, ..)| *t)
    }

    fn crash(&mut self, i: usize) {
        self.nodes[i].alive = false;
    }

    fn stop(&mut self, i: usize) {
        self.nodes[i].router.handle_shutdown(self.now);
        self.drain(i);
        self.nodes[i].alive = false;
    }

    /// Starts a new process: a fresh router with the same settings.
    fn restart(&mut self, i: usize) {
        self.nodes[i].alive = true;
        self.nodes[i].router = Router::new(self.nodes[i].router.config().clone());
        self.nodes[i].router.handle_startup(self.now);
        self.drain(i);
    }
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn the_highest_priority_becomes_the_only_master() {
    let mut lan = Lan::new(&[100, 150, 50], Version::V2, 100, 1);
    lan.start_all();
    // Nobody is master at once: all start as backups (priority < 255).
    assert!(lan.masters().is_empty());
    lan.run_until(Duration::from_secs(10));
    assert_eq!(lan.masters(), [1]);
    // 150 waits Master_Down_Interval = 3 s + (256-150)/256 s = 3.414 s.
    let took = lan.became_master(1).unwrap() - lan.start;
    assert_eq!(
        took,
        Duration::from_secs(3) + Duration::from_secs(1) * 106 / 256
    );
    // Steady: nobody else ever became master.
    assert!(lan.became_master(0).is_none() && lan.became_master(2).is_none());
}

#[test]
fn a_crashed_master_is_replaced_within_master_down_interval() {
    for version in [Version::V2, Version::V3] {
        let interval = if version == Version::V2 { 100 } else { 20 };
        let mut lan = Lan::new(&[150, 100], version, interval, 2);
        lan.start_all();
        lan.run_until(Duration::from_secs(10));
        assert_eq!(lan.masters(), [0]);
        lan.crash(0);
        let crashed = lan.now;
        lan.run_until(Duration::from_secs(20));
        assert_eq!(lan.masters(), [1]);
        let bound = lan.nodes[1].router.master_down_interval();
        let took = lan.became_master(1).unwrap() - crashed;
        // The last advert arrived at most one interval before the crash.
        assert!(took <= bound, "{version:?}: {took:?} > {bound:?}");
        assert!(
            took + Interval::from_centis(interval).unwrap().duration() + ms(2) >= bound,
            "{version:?}: {took:?}"
        );
    }
}

#[test]
fn a_resigning_master_is_replaced_after_the_skew_only() {
    let mut lan = Lan::new(&[150, 100], Version::V3, 20, 3);
    lan.start_all();
    lan.run_until(Duration::from_secs(5));
    lan.stop(0);
    let stopped = lan.now;
    lan.run_until(Duration::from_secs(10));
    assert_eq!(lan.masters(), [1]);
    let skew = lan.nodes[1].router.skew();
    let took = lan.became_master(1).unwrap() - stopped;
    assert!(took <= skew + ms(1), "{took:?} > {skew:?}");
}

#[test]
fn preemption_and_nopreempt() {
    // A returning higher priority takes over...
    let mut lan = Lan::new(&[150, 100], Version::V2, 100, 4);
    lan.start_all();
    lan.run_until(Duration::from_secs(10));
    lan.crash(0);
    lan.run_until(Duration::from_secs(20));
    assert_eq!(lan.masters(), [1]);
    lan.restart(0);
    let restarted = lan.now;
    lan.run_until(Duration::from_secs(30));
    assert_eq!(lan.masters(), [0]);
    // A preempting backup discards the lower master's adverts (RFC 9568
    // 6.4.2), so it takes over when its own down timer runs out.
    assert_eq!(
        lan.became_master(0).unwrap() - restarted,
        lan.nodes[0].router.master_down_interval()
    );
    assert_eq!(lan.nodes[1].router.state(), State::Backup);

    // ...unless it does not preempt.
    let mut lan = Lan::new(&[150, 100], Version::V2, 100, 5);
    lan.nodes[0].router = {
        let mut config = lan.nodes[0].router.config().clone();
        config.preempt = false;
        Router::new(config)
    };
    lan.start_all();
    lan.run_until(Duration::from_secs(10));
    // At start nobody is master, so 150 still wins the first election.
    assert_eq!(lan.masters(), [0]);
    lan.crash(0);
    lan.run_until(Duration::from_secs(20));
    lan.restart(0);
    lan.run_until(Duration::from_secs(60));
    assert_eq!(lan.masters(), [1]);
}

#[test]
fn equal_priorities_elect_the_higher_address() {
    let mut lan = Lan::new(&[100, 100, 100], Version::V3, 100, 6);
    lan.start_all();
    lan.run_until(Duration::from_secs(20));
    assert_eq!(lan.masters(), [2]);
}

#[test]
fn a_healed_partition_converges_within_one_interval() {
    let mut lan = Lan::new(&[150, 100], Version::V3, 100, 7);
    lan.start_all();
    lan.run_until(Duration::from_secs(10));
    lan.nodes[1].island = 1;
    lan.run_until(Duration::from_secs(20));
    // Split brain while apart: both are master.
    assert_eq!(lan.masters(), [0, 1]);
    lan.nodes[1].island = 0;
    let healed = lan.now;
    lan.run_until(Duration::from_secs(20) + Duration::from_secs(1) + ms(10));
    assert_eq!(lan.masters(), [0], "healed at {:?}", healed - lan.start);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// With loss and jitter, one master emerges and stays as long as
    /// adverts mostly get through.
    #[test]
    fn lossy_networks_settle_on_one_master(
        seed in any::<u64>(),
        priorities in prop::collection::vec(1u8..=254, 2..6),
        loss in 0.0f64..0.2,
    ) {
        let mut lan = Lan::new(&priorities, Version::V3, 10, seed);
        lan.loss = loss;
        lan.max_delay = ms(3);
        lan.start_all();
        lan.run_until(Duration::from_secs(5));
        // Once loss stops, one master remains and it has the best
        // priority. Among routers tied for it, any may hold it: the higher
        // address only wins when two masters meet (RFC 5798 6.4.3); a
        // backup hearing an equal priority stays backup (6.4.2), so a tie
        // decided by who spoke first stays decided, as in keepalived.
        lan.loss = 0.0;
        lan.run_until(Duration::from_secs(7));
        let masters = lan.masters();
        prop_assert_eq!(masters.len(), 1, "masters {:?}", masters);
        let best = priorities.iter().max().unwrap();
        prop_assert_eq!(priorities[masters[0]], *best, "masters {:?}", masters);
    }
}

#[test]
fn a_faulted_master_hands_over_after_the_skew() {
    let mut lan = Lan::new(&[150, 100], Version::V3, 100, 8);
    lan.nodes[0].router = {
        let mut config = lan.nodes[0].router.config().clone();
        config.tracks = vec![ha_vrrp::router::Track {
            name: "eth0".into(),
            weight: 0,
        }];
        Router::new(config)
    };
    lan.start_all();
    lan.run_until(Duration::from_secs(5));
    assert_eq!(lan.masters(), [0]);
    lan.nodes[0].router.handle_track(lan.now, 0, false);
    lan.drain(0);
    let faulted = lan.now;
    lan.run_until(Duration::from_secs(6));
    assert_eq!(lan.masters(), [1]);
    assert_eq!(lan.nodes[0].router.state(), State::Fault);
    let took = lan.became_master(1).unwrap() - faulted;
    assert!(took <= lan.nodes[1].router.skew() + ms(1), "{took:?}");
    // Back up: it preempts again.
    lan.nodes[0].router.handle_track(lan.now, 0, true);
    lan.drain(0);
    lan.run_until(Duration::from_secs(12));
    assert_eq!(lan.masters(), [0]);
}
