//! The instance's timer: a timerfd, for deadlines met to the microsecond.
//!
//! Failover time is a timer's precision plus the time to add an address, so
//! the down timer should fire at Master_Down_Interval, not up to a
//! millisecond later as tokio's millisecond timer wheel does; re-arming it
//! every advert also wakes tokio's driver (an eventfd write and an extra
//! `epoll_wait` per advert). A timerfd on CLOCK_MONOTONIC (the clock
//! `Instant` reads) fires at the deadline and costs one `timerfd_settime`
//! per change of deadline.

use std::io;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::time::Instant;

use nix::sys::time::TimeSpec;
use nix::sys::timerfd::{ClockId, Expiration, TimerFd, TimerFlags, TimerSetTimeFlags};
use tokio::io::unix::AsyncFd;

/// A one-shot timer on the monotonic clock.
#[derive(Debug)]
pub struct Timer {
    fd: AsyncFd<Fd>,
    /// The deadline the timerfd is armed for.
    armed: Option<Instant>,
}

#[derive(Debug)]
struct Fd(TimerFd);

impl AsRawFd for Fd {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_fd().as_raw_fd()
    }
}

// The `TimerFd` owns its descriptor until it is dropped.
impl super::socket::OwnsFd for Fd {}

impl Timer {
    /// A disarmed timer. Must be called within a tokio runtime.
    pub fn new() -> io::Result<Self> {
        let fd = TimerFd::new(
            ClockId::CLOCK_MONOTONIC,
            TimerFlags::TFD_NONBLOCK | TimerFlags::TFD_CLOEXEC,
        )?;
        Ok(Self {
            fd: super::socket::register(Fd(fd))?,
            armed: None,
        })
    }

    /// Waits until `at` (forever for `None`), or until an earlier deadline
    /// still armed: callers must check what is due when it returns.
    /// Cancel-safe: a dropped wait leaves the timer armed, and the next wait
    /// picks it up.
    pub async fn wait_until(&mut self, at: Option<Instant>) -> io::Result<()> {
        let Some(at) = at else {
            if self.armed.take().is_some() {
                self.fd.get_ref().0.unset()?;
            }
            return std::future::pending().await;
        };
        let now = Instant::now();
        // An earlier deadline still to come is kept: it fires early, the
        // caller finds nothing due and waits again, and the timer is re-armed
        // then. A backup's down timer moves later with every advert; this
        // re-arms it once per Master_Down_Interval instead of per advert.
        let keep = self.armed.is_some_and(|armed| armed <= at && armed > now);
        if !keep && self.armed != Some(at) {
            let left = at.saturating_duration_since(now);
            if left.is_zero() {
                self.armed = None;
                self.fd.get_ref().0.unset()?;
                return Ok(());
            }
            // Setting the timer also clears expirations not read yet.
            self.fd.get_ref().0.set(
                Expiration::OneShot(TimeSpec::from_duration(left)),
                TimerSetTimeFlags::empty(),
            )?;
            self.armed = Some(at);
        }
        loop {
            let mut ready = self.fd.readable().await?;
            let mut count = [0u8; 8];
            match ready.try_io(|fd| {
                nix::unistd::read(fd.get_ref().0.as_fd(), &mut count).map_err(io::Error::from)
            }) {
                Ok(Ok(_)) => {
                    // One shot: nothing more until re-armed, so skip the
                    // read that would only say EAGAIN.
                    ready.clear_ready();
                    self.armed = None;
                    return Ok(());
                }
                Ok(Err(e)) => return Err(e),
                // Readiness left over from an earlier deadline.
                Err(_would_block) => continue,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn it_fires_at_the_deadline_not_before() {
        let mut timer = Timer::new().unwrap();
        let start = Instant::now();
        let at = start + Duration::from_millis(30);
        timer.wait_until(Some(at)).await.unwrap();
        assert!(Instant::now() >= at);
        // A later deadline keeps an earlier one armed: it fires first, and
        // the next wait arms the later one. The margins are wide because a
        // loaded test machine can pause this thread for tens of milliseconds,
        // and a deadline already past when the later wait starts is rightly
        // replaced.
        let soon = Instant::now() + Duration::from_millis(150);
        let later = soon + Duration::from_millis(500);
        let waited =
            tokio::time::timeout(Duration::from_millis(1), timer.wait_until(Some(soon))).await;
        assert!(waited.is_err(), "not yet");
        timer.wait_until(Some(later)).await.unwrap();
        let woke = Instant::now();
        assert!(woke >= soon && woke < later, "the earlier deadline fires");
        timer.wait_until(Some(later)).await.unwrap();
        assert!(Instant::now() >= later);
        // An earlier deadline replaces a later one at once.
        let far = Instant::now() + Duration::from_secs(60);
        let near = Instant::now() + Duration::from_millis(5);
        let waited =
            tokio::time::timeout(Duration::from_millis(1), timer.wait_until(Some(far))).await;
        assert!(waited.is_err());
        timer.wait_until(Some(near)).await.unwrap();
        assert!(Instant::now() < far);
        // A deadline in the past returns at once.
        timer.wait_until(Some(start)).await.unwrap();
    }
}
