//! Health checking of configured servers: one ha-core [`Checker`] per
//! server with `check`, whose verdicts are applied to the pool and
//! logged in HAProxy's words ("Server web_servers/web1 is DOWN, reason: ...").

use std::net::SocketAddr;
use std::sync::Arc;

use ha_core::{
    Checker, CheckerHandle, Health, HealthCheck, HttpCheck, Schedule, State, TcpCheck, Thresholds,
};
use tokio::task::JoinHandle;

use crate::config;
use crate::error::{Error, Result};
use crate::pool::Pool;
use crate::proxy::http;

/// How to check one server, decided before anything runs.
#[derive(Debug, Clone)]
pub(crate) struct CheckPlan {
    name: String,
    server: String,
    schedule: Schedule,
    thresholds: Thresholds,
    probe: Probe,
}

#[derive(Debug, Clone)]
enum Probe {
    Tcp(SocketAddr),
    Http(SocketAddr, ::http::Method, config::HttpCheck),
}

impl CheckPlan {
    /// Validates a server's check settings; `addr` is its resolved address.
    pub fn new(pool: &config::Pool, server: &config::Server, addr: SocketAddr) -> Result<Self> {
        let target = SocketAddr::new(
            server.check_addr.unwrap_or(addr.ip()),
            server.check_port.unwrap_or(addr.port()),
        );
        let at = |e: ha_core::Error| Error::Config {
            location: server.location.clone(),
            message: e.to_string(),
        };
        let mut schedule = Schedule::new(server.inter).map_err(at)?;
        if let Some(fast) = server.fastinter {
            schedule = schedule.fastinter(fast).map_err(at)?;
        }
        if let Some(down) = server.downinter {
            schedule = schedule.downinter(down).map_err(at)?;
        }
        if let Some(limit) = pool.timeouts.check {
            schedule = schedule.timeout(limit).map_err(at)?;
        }
        let probe = match &pool.http_check {
            Some(h) => {
                let method = http::method(&h.method).map_err(|message| Error::Config {
                    location: pool.location.clone(),
                    message,
                })?;
                Probe::Http(target, method, h.clone())
            }
            None => Probe::Tcp(target),
        };
        Ok(Self {
            name: format!("{}/{}", pool.name, server.name),
            server: server.name.clone(),
            schedule,
            thresholds: Thresholds::new(server.rise, server.fall).map_err(at)?,
            probe,
        })
    }

    /// Starts checking on the current runtime, applying verdicts to `set`.
    pub fn spawn(self, set: &Arc<Pool>) -> CheckerTask {
        let timeout = self.schedule.probe_timeout();
        let check: Arc<dyn HealthCheck> = match self.probe {
            Probe::Tcp(target) => Arc::new(TcpCheck::new(target, timeout)),
            Probe::Http(target, method, h) => {
                let mut check = HttpCheck::new(target, timeout)
                    .method(method)
                    .path(&h.path)
                    .expect(h.expect);
                if let Some(host) = &h.host {
                    check = check.host(host);
                }
                Arc::new(check)
            }
        };
        // Like HAProxy: up until the first probe says otherwise.
        let health = Health::provisional(self.thresholds, State::Up);
        let checker = Checker::new(self.name, check, health, self.schedule).spawn();
        let applier = tokio::spawn(apply(checker.subscribe(), Arc::clone(set), self.server));
        CheckerTask {
            _checker: checker,
            applier,
        }
    }
}

/// Applies a checker's verdicts to its server and logs the changes.
async fn apply(
    mut status: tokio::sync::watch::Receiver<ha_core::HealthStatus>,
    set: Arc<Pool>,
    server_name: String,
) {
    while status.changed().await.is_ok() {
        let now = status.borrow_and_update().clone();
        let Some(server) = set.server(&server_name) else {
            return;
        };
        if server.health() == now.state {
            continue;
        }
        let _ = set.set_health(&server_name, now.state);
        let usable = set.usable();
        match now.state {
            State::Down => {
                server.keepalive().clear();
                let reason = now
                    .last_error
                    .map_or_else(String::new, |e| format!(", reason: {e}"));
                tracing::warn!(
                    "Server {}/{} is DOWN{reason}. {} active and {} backup servers left. {} sessions active.",
                    set.name(),
                    server_name,
                    usable.active,
                    usable.backup,
                    server.load(),
                );
                if usable.active == 0 && usable.backup == 0 {
                    tracing::error!("backend '{}' has no server available!", set.name());
                }
            }
            State::Up => tracing::warn!(
                "Server {}/{} is UP. {} active and {} backup servers online.",
                set.name(),
                server_name,
                usable.active,
                usable.backup,
            ),
        }
    }
}

/// A running checker and the task that applies its verdicts.
#[derive(Debug)]
pub(crate) struct CheckerTask {
    _checker: CheckerHandle,
    applier: JoinHandle<()>,
}

impl Drop for CheckerTask {
    fn drop(&mut self) {
        self.applier.abort();
    }
}
