//! `Router::handle_advert` and the rest of the state machine under
//! arbitrary input: a VRRPv2 (PASS authentication), VRRPv3 over IPv4 or
//! VRRPv3 over IPv6 router receives advertisements decoded from the input
//! (checksums made right) or built from it field by field, tracked
//! objects and its sync group change, and time passes. It must never
//! panic, and once its timers ran it is not due again at once.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use ha_vrrp::packet::{Advert, Auth, Interval, Version};
use ha_vrrp::{Router, RouterConfig, State, Track};

use super::advert::{decode, path, v3_checksum};

fn ip(text: &str) -> IpAddr {
    text.parse().expect("an address")
}

/// The router `selector` names: 0 VRRPv2, 1 VRRPv3 over IPv6, else
/// VRRPv3 over IPv4; priority `priority` (0 counts as 1).
fn router(selector: u8, priority: u8) -> Router {
    let (primary, vip) = match selector % 3 {
        1 => ("fe80::12", "fd00::100"),
        _ => ("192.0.2.12", "192.0.2.100"),
    };
    let mut config = RouterConfig::new(51, priority.max(1), ip(primary), vec![ip(vip)]);
    match selector % 3 {
        0 => config.auth = Auth::password("secret12"),
        _ => config.version = Version::V3,
    }
    config.preempt = selector & 8 == 0;
    config.preempt_delay = (selector & 16 != 0).then_some(Duration::from_secs(5));
    config.garp_refresh = (selector & 32 != 0).then_some(Duration::from_secs(3));
    config.tracks = vec![
        Track {
            name: "chk".into(),
            weight: -20,
        },
        Track {
            name: "file".into(),
            weight: 0,
        },
    ];
    Router::new(config)
}

/// `[selector, priority, events..]`. Each event is `[kind, a, b, c,
/// payload (a bytes if kind 0)]`: kind % 6 is 0 a received packet (its
/// path from `b`), 1 an advertisement from fields (vrid `a` or 51,
/// priority `b`, interval `c`), 2 time to the next deadline, 3 `a`
/// tenths of a second pass, 4 a tracked object, 5 the sync group; bit 7
/// of kind 1 takes the vrid from `a`.
pub fn run(input: &[u8]) {
    let [selector, priority, events @ ..] = input else {
        return;
    };
    let mut rest = events;
    let mut router = router(*selector, *priority);
    let config = router.config().clone();
    let mut now = Instant::now();
    router.handle_startup(now);
    drain(&mut router);
    while let &[kind, a, b, c, ref tail @ ..] = rest {
        rest = tail;
        match kind % 6 {
            0 => {
                let (payload, next) = rest.split_at(usize::from(a).min(rest.len()));
                rest = next;
                // The router's own family: an advertisement of the other
                // family never reaches it.
                let family = if config.primary.is_ipv4() { 0 } else { 1 };
                let path = path(b & 2 | family);
                if let Some(advert) = decode(payload, &path, v3_checksum(b), true) {
                    let _ = router.handle_advert(now, path.src, &advert);
                }
            }
            1 => {
                let addresses = if c & 1 == 0 {
                    config.addresses.clone()
                } else {
                    vec![config.primary]
                };
                let auth = if config.version == Version::V2 && c & 2 == 0 {
                    config.auth
                } else {
                    Auth::None
                };
                let advert = Advert {
                    version: config.version,
                    vrid: if kind & 0x80 != 0 { a } else { config.vrid },
                    priority: b,
                    interval: Interval::from_centis(u16::from(c).max(1) * 25)
                        .unwrap_or(config.interval),
                    addresses,
                    auth,
                };
                let src = match (config.primary.is_ipv4(), a & 1) {
                    (true, 0) => ip("192.0.2.11"),
                    (true, _) => ip("192.0.2.13"),
                    (false, 0) => ip("fe80::11"),
                    (false, _) => ip("fe80::13"),
                };
                let _ = router.handle_advert(now, src, &advert);
            }
            2 => {
                if let Some(at) = router.poll_timeout() {
                    now = now.max(at);
                    router.handle_timeout(now);
                    after_timeout(&router, now);
                }
            }
            3 => {
                now += Duration::from_millis(100 * u64::from(a));
                router.handle_timeout(now);
                after_timeout(&router, now);
            }
            4 => {
                let track = usize::from(a % 3);
                if b & 1 == 0 {
                    router.handle_track(now, track, c & 1 == 0);
                } else {
                    let value = i64::from(i8::from_ne_bytes([c])) * i64::from(b);
                    router.handle_track_value(now, track, value);
                }
            }
            _ => {
                let member = match a % 4 {
                    0 => State::Master,
                    1 => State::Backup,
                    2 => State::Fault,
                    _ => State::Initialize,
                };
                router.handle_group(now, member, b & 1 != 0);
            }
        }
        drain(&mut router);
    }
    router.handle_shutdown(now);
    drain(&mut router);
}

/// Carries out nothing: the outputs are only taken.
fn drain(router: &mut Router) {
    while router.poll_output().is_some() {}
}

/// Once its timers at `now` ran, the router's next deadline is later: a
/// driver woken again at once would spin.
fn after_timeout(router: &Router, now: Instant) {
    if let Some(at) = router.poll_timeout() {
        assert!(
            at > now,
            "after its timers ran the router is due again at once"
        );
    }
}
