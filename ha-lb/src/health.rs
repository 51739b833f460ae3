//! Health checking of configured servers: one ha-core [`Checker`] per
//! server with `check` (probing its address, its backend, or with the
//! [`HealthCheck`] the configuration gave), whose verdicts are applied to the
//! pool and logged in HAProxy's words ("Server web_servers/web1 is DOWN, reason: ...").

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

use ha_core::{
    CheckError, Checker, CheckerHandle, Health, HealthCheck, HttpCheck, Schedule, State, TcpCheck,
    Thresholds,
};
use tokio::task::JoinHandle;

use crate::backend::Backend;
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

#[derive(Clone)]
enum Probe {
    Tcp(SocketAddr),
    Http(SocketAddr, ::http::Method, config::HttpCheck),
    /// A server without a network address: a connection through its backend.
    Connect(Arc<dyn Backend>),
    /// The check the configuration gave for the server.
    Given(Arc<dyn HealthCheck>),
}

impl fmt::Debug for Probe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Probe::Tcp(addr) => f.debug_tuple("Tcp").field(addr).finish(),
            Probe::Http(addr, method, check) => f
                .debug_tuple("Http")
                .field(addr)
                .field(method)
                .field(check)
                .finish(),
            Probe::Connect(backend) => f.debug_tuple("Connect").field(backend).finish(),
            Probe::Given(_) => f.write_str("Given"),
        }
    }
}

/// Opens a connection through a backend and drops it: the probe for servers
/// reached without a network address, such as in-process ones.
struct ConnectCheck(Arc<dyn Backend>);

#[ha_core::async_trait]
impl HealthCheck for ConnectCheck {
    async fn check(&self) -> Result<(), CheckError> {
        self.0
            .connect()
            .await
            .map(drop)
            .map_err(|e| CheckError::Connect(e.to_string()))
    }
}

impl CheckPlan {
    /// Validates a server's check settings; `backend` is how the server is
    /// reached (its address, if it has one, is what the built-in probes
    /// target).
    pub fn new(
        pool: &config::Pool,
        server: &config::Server,
        backend: &Arc<dyn Backend>,
    ) -> Result<Self> {
        let at = |source: ha_core::Error| Error::InvalidCheck {
            server: format!("{}/{}", pool.name, server.name),
            location: server.location.clone(),
            source,
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
        let probe = match (&server.health_check, backend.address()) {
            (Some(given), _) => Probe::Given(Arc::clone(&given.0)),
            (None, None) => Probe::Connect(Arc::clone(backend)),
            (None, Some(addr)) => {
                let target = SocketAddr::new(
                    server.check_addr.unwrap_or(addr.ip()),
                    server.check_port.unwrap_or(addr.port()),
                );
                match &pool.http_check {
                    Some(h) => {
                        let method =
                            http::method(&h.method).map_err(|_| Error::InvalidCheckMethod {
                                method: h.method.clone(),
                                location: pool.location.clone(),
                            })?;
                        Probe::Http(target, method, h.clone())
                    }
                    None => Probe::Tcp(target),
                }
            }
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
    pub fn spawn(self, pool: &Arc<Pool>) -> CheckerTask {
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
            Probe::Connect(backend) => Arc::new(ConnectCheck(backend)),
            Probe::Given(check) => check,
        };
        // Like HAProxy: up until the first probe says otherwise.
        let health = Health::provisional(self.thresholds, State::Up);
        let checker = Checker::new(self.name, check, health, self.schedule).spawn();
        let applier = tokio::spawn(apply(checker.subscribe(), Arc::clone(pool), self.server));
        CheckerTask {
            _checker: checker,
            applier,
        }
    }
}

/// Applies a checker's verdicts to its server and logs the changes.
async fn apply(
    mut status: tokio::sync::watch::Receiver<ha_core::HealthStatus>,
    pool: Arc<Pool>,
    server_name: String,
) {
    while status.changed().await.is_ok() {
        let now = status.borrow_and_update().clone();
        let Some(server) = pool.server(&server_name) else {
            return;
        };
        if server.health() == now.state {
            continue;
        }
        let _ = pool.set_health(&server_name, now.state);
        let usable = pool.usable();
        match now.state {
            State::Down => {
                server.keepalive().clear();
                let reason = now
                    .last_error
                    .map_or_else(String::new, |e| format!(", reason: {e}"));
                tracing::warn!(
                    "Server {}/{} is DOWN{reason}. {} active and {} backup servers left. {} sessions active.",
                    pool.name(),
                    server_name,
                    usable.active,
                    usable.backup,
                    server.load(),
                );
                if usable.active == 0 && usable.backup == 0 {
                    tracing::error!("backend '{}' has no server available!", pool.name());
                }
            }
            State::Up => tracing::warn!(
                "Server {}/{} is UP. {} active and {} backup servers online.",
                pool.name(),
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
