//! When health probes run.
//!
//! HAProxy's `inter`, `fastinter`, `downinter` and `timeout check`, as a
//! plain value the `Checker` driver (or any other driver) follows.

use std::time::Duration;

use crate::error::{Error, Result};
use crate::health::Phase;

/// When probes run and how long each may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    inter: Duration,
    fastinter: Option<Duration>,
    downinter: Option<Duration>,
    timeout: Option<Duration>,
}

impl Schedule {
    /// Probes every `inter`. Zero is refused: it would probe in a busy loop.
    pub fn new(inter: Duration) -> Result<Self> {
        nonzero(inter, "inter must be greater than zero")?;
        Ok(Self {
            inter,
            fastinter: None,
            downinter: None,
            timeout: None,
        })
    }

    /// Interval while the state is changing (HAProxy `fastinter`).
    pub fn fastinter(mut self, fastinter: Duration) -> Result<Self> {
        nonzero(fastinter, "fastinter must be greater than zero")?;
        self.fastinter = Some(fastinter);
        Ok(self)
    }

    /// Interval while settled down (HAProxy `downinter`).
    pub fn downinter(mut self, downinter: Duration) -> Result<Self> {
        nonzero(downinter, "downinter must be greater than zero")?;
        self.downinter = Some(downinter);
        Ok(self)
    }

    /// Longest a probe may run (HAProxy `timeout check`); `inter` when unset.
    pub fn timeout(mut self, timeout: Duration) -> Result<Self> {
        nonzero(timeout, "check timeout must be greater than zero")?;
        self.timeout = Some(timeout);
        Ok(self)
    }

    /// The pause after a probe, given the phase it left the target in.
    pub fn interval(&self, phase: Phase) -> Duration {
        match phase {
            Phase::Up => self.inter,
            Phase::GoingDown | Phase::GoingUp => self.fastinter.unwrap_or(self.inter),
            Phase::Down => self.downinter.unwrap_or(self.inter),
        }
    }

    /// How long one probe may take.
    pub fn probe_timeout(&self) -> Duration {
        self.timeout.unwrap_or(self.inter)
    }
}

impl Default for Schedule {
    /// HAProxy's default: every 2 seconds.
    fn default() -> Self {
        Self {
            inter: Duration::from_millis(2000),
            fastinter: None,
            downinter: None,
            timeout: None,
        }
    }
}

fn nonzero(d: Duration, what: &'static str) -> Result<()> {
    if d.is_zero() {
        Err(Error::InvalidSchedule(what))
    } else {
        Ok(())
    }
}
