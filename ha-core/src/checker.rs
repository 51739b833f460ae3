//! The health-check driver: runs a [`HealthCheck`] on a schedule, feeds the
//! results to [`Health`], and publishes the outcome on a
//! [`tokio::sync::watch`] channel.
//!
//! The schedule follows HAProxy: `inter` between probes while the state is
//! settled up, `fastinter` while it is changing (up with failures, or down
//! with successes), `downinter` while it is settled down. Each falls back to
//! `inter` when unset. The next probe is scheduled from the end of the
//! previous one, so probes never overlap.

use std::sync::Arc;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::Instrument;

use crate::check::{CheckError, HealthCheck};
use crate::health::{Health, Phase, State, Transition};
use crate::schedule::Schedule;

/// What the checker publishes after every probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthStatus {
    /// The current state.
    pub state: State,
    /// The current phase.
    pub phase: Phase,
    /// The latest failure, cleared by a success.
    pub last_error: Option<CheckError>,
    /// Probes completed so far.
    pub checks: u64,
    /// The most recent state change, if there was one.
    pub last_transition: Option<Transition>,
}

/// Runs one health check on a schedule.
///
/// ```no_run
/// # #[tokio::main]
/// # async fn main() -> Result<(), ha_core::Error> {
/// use std::sync::Arc;
/// use std::time::Duration;
/// use ha_core::{Checker, Health, Schedule, State, TcpCheck, Thresholds};
///
/// let check = TcpCheck::new("127.0.0.1:8080".parse().unwrap(), Duration::from_secs(1));
/// let health = Health::provisional(Thresholds::default(), State::Up);
/// let handle = Checker::new("web1", Arc::new(check), health, Schedule::default()).spawn();
/// let mut status = handle.subscribe();
/// while status.changed().await.is_ok() {
///     println!("web1 is {}", status.borrow().state);
/// }
/// # Ok(())
/// # }
/// ```
pub struct Checker {
    name: String,
    check: Arc<dyn HealthCheck>,
    health: Health,
    schedule: Schedule,
}

impl Checker {
    /// A checker named `name` (used in log lines) that probes with `check`.
    pub fn new(
        name: impl Into<String>,
        check: Arc<dyn HealthCheck>,
        health: Health,
        schedule: Schedule,
    ) -> Self {
        Self {
            name: name.into(),
            check,
            health,
            schedule,
        }
    }

    fn status(&self, checks: u64, last_transition: Option<Transition>) -> HealthStatus {
        HealthStatus {
            state: self.health.state(),
            phase: self.health.phase(),
            last_error: self.health.last_error().cloned(),
            checks,
            last_transition,
        }
    }

    /// Starts probing on the current tokio runtime. The first probe runs at
    /// once. Probing stops when the handle is dropped.
    pub fn spawn(self) -> CheckerHandle {
        let (tx, rx) = watch::channel(self.status(0, None));
        let span = tracing::debug_span!("health_check", name = %self.name);
        let task = tokio::spawn(self.run(tx).instrument(span));
        CheckerHandle { status: rx, task }
    }

    async fn run(mut self, tx: watch::Sender<HealthStatus>) {
        let mut checks = 0u64;
        let mut last_transition = None;
        loop {
            let limit = self.schedule.probe_timeout();
            let result = match tokio::time::timeout(limit, self.check.check()).await {
                Ok(result) => result,
                Err(_) => Err(CheckError::Timeout(limit)),
            };
            checks += 1;
            self.health.handle_result(result);
            if let Some(t) = self.health.poll_transition() {
                match &t.reason {
                    Some(reason) => {
                        tracing::debug!(name = %self.name, from = %t.from, to = %t.to, %reason, "health changed")
                    }
                    None => {
                        tracing::debug!(name = %self.name, from = %t.from, to = %t.to, "health changed")
                    }
                }
                last_transition = Some(t);
            }
            tx.send_replace(self.status(checks, last_transition.clone()));
            tokio::time::sleep(self.schedule.interval(self.health.phase())).await;
        }
    }
}

/// A running [`Checker`]. Dropping it stops the probes.
#[derive(Debug)]
pub struct CheckerHandle {
    status: watch::Receiver<HealthStatus>,
    task: JoinHandle<()>,
}

impl CheckerHandle {
    /// A receiver that sees every published status.
    pub fn subscribe(&self) -> watch::Receiver<HealthStatus> {
        self.status.clone()
    }

    /// The latest status.
    pub fn status(&self) -> HealthStatus {
        self.status.borrow().clone()
    }
}

impl Drop for CheckerHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}
