//! The timing the VRRP tests hold the daemons to: derived from the timers
//! each test configured (RFC 3768 / RFC 5798: skew, Master_Down_Interval)
//! plus what a busy machine adds, part of it measured as the test runs.
#![allow(dead_code)]

use std::time::{Duration, Instant};

/// What a loaded machine adds to a timed event beyond the protocol's own
/// time: the daemons' wake-ups, netlink and their first packet out.
pub const BUSY: Duration = Duration::from_millis(700);

/// The RFC's skew for `priority`: (256 - priority) / 256 of `unit` (a
/// second in VRRPv2, the advert interval in VRRPv3).
pub fn skew(unit: Duration, priority: u32) -> Duration {
    unit * (256 - priority) / 256
}

/// Master_Down_Interval: three adverts and the skew.
pub fn master_down(advert: Duration, unit: Duration, priority: u32) -> Duration {
    3 * advert + skew(unit, priority)
}

/// The slack a timed assertion allows: [`BUSY`] and twice what one poll of
/// the state takes now (an `ip` process each time, slow under load), so
/// that a poll late by one round still counts the event in time.
pub fn slack(mut poll: impl FnMut() -> bool) -> Duration {
    let started = Instant::now();
    let _ = poll();
    BUSY + 2 * started.elapsed()
}

/// Checks `ok` again and again for `span`: `Err` with the time it first
/// failed. An observation of a steady state (no flapping), not a wait.
pub fn holds_for(span: Duration, mut ok: impl FnMut() -> bool) -> Result<(), Duration> {
    let started = Instant::now();
    while started.elapsed() < span {
        if !ok() {
            return Err(started.elapsed());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}
