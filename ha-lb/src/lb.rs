//! The running load balancer: turns a [`Config`] into pools, health
//! checkers and listeners, and stops them gracefully.
//!
//! Everything that can be wrong with a configuration is found before
//! anything runs ([`LoadBalancer::check`], also done by
//! [`LoadBalancer::bind`]): unknown pools, unresolvable server names,
//! invalid check settings. A daemon that binds, drops privileges and forks
//! therefore reports errors while it can still print them.
//!
//! A frontend or pool built in code without the timeouts HAProxy insists
//! on (`client`; `connect` and `server`) is logged at `bind` with
//! HAProxy's warning; the haproxy.cfg importer already returns that
//! warning for sections read from a file.

use std::collections::HashMap;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use ha_core::State;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::acl::Routing;
use crate::backend::{Backend, TcpBackend};
use crate::config::{self, Config, Mode, ServerAddress};
use crate::error::{Error, Result};
use crate::health::{CheckPlan, CheckerTask};
use crate::listener::{self, FrontendCounters, FrontendStats, Limits, Route, Signals, Slots};
use crate::pool::{Balancing, Pool};
use crate::proxy::dispatch::Dispatch;
use crate::proxy::http::{self, HttpRoute};
use crate::proxy::tcp::{self, TcpRoute};
use crate::server::{ServerSpec, ServerState};

/// A checked configuration with its sockets bound, ready to start.
#[derive(Debug)]
pub struct LoadBalancer {
    plan: Plan,
    listeners: Vec<(usize, std::net::TcpListener)>,
}

/// Everything built from a configuration before anything runs.
#[derive(Debug)]
struct Plan {
    pools: HashMap<String, Arc<Pool>>,
    checks: Vec<(Arc<Pool>, CheckPlan)>,
    frontends: Vec<FrontendPlan>,
    /// The global `maxconn`, configured or computed from the fd limit.
    maxconn: u32,
    /// Whether `maxconn` was computed (and is logged as HAProxy does).
    automatic_maxconn: bool,
}

#[derive(Debug)]
struct FrontendPlan {
    name: String,
    route: Route,
    maxconn: Option<u32>,
    binds: Vec<SocketAddr>,
}

impl LoadBalancer {
    /// Checks `config` as starting it would, without binding or running
    /// anything (`ha-lb -c`).
    pub fn check(config: &Config) -> Result<()> {
        Plan::new(config).map(|_| ())
    }

    /// Checks `config` and binds its listening sockets, without starting
    /// anything: the caller may then drop privileges or daemonize before
    /// [`LoadBalancer::start`].
    ///
    /// Logs a warning (with `tracing`) for each frontend or pool built in
    /// code without its timeouts, as HAProxy warns at start.
    pub fn bind(config: Config) -> Result<Self> {
        let plan = Plan::new(&config)?;
        for warning in missing_timeouts(&config) {
            tracing::warn!("{warning}");
        }
        if plan.automatic_maxconn {
            tracing::info!(
                "automatically setting global.maxconn to {} (from the open file limit, {})",
                plan.maxconn,
                crate::maxconn::fd_limit()
            );
        }
        let mut listeners = Vec::new();
        for (index, frontend) in plan.frontends.iter().enumerate() {
            for &addr in &frontend.binds {
                let listener =
                    listener::bind_socket(addr).map_err(|source| Error::Bind { addr, source })?;
                listeners.push((index, listener));
            }
        }
        Ok(Self { plan, listeners })
    }

    /// The process-wide connection limit in force: the `global` `maxconn`,
    /// or, when the configuration sets none, the one computed from the
    /// open file limit as HAProxy does ([`maxconn::automatic`](crate::maxconn::automatic)).
    pub fn maxconn(&self) -> u32 {
        self.plan.maxconn
    }

    /// The bound addresses, by frontend name (useful with port 0).
    pub fn local_addrs(&self) -> Vec<(String, SocketAddr)> {
        self.listeners
            .iter()
            .filter_map(|(i, l)| Some((self.plan.frontends[*i].name.clone(), l.local_addr().ok()?)))
            .collect()
    }

    /// Starts checking servers and serving clients on the current tokio
    /// runtime.
    pub async fn start(self) -> Result<Running> {
        let plan = self.plan;
        let checkers = plan
            .checks
            .into_iter()
            .map(|(pool, check)| check.spawn(&pool))
            .collect();
        let (stop_tx, stop_rx) = watch::channel(false);
        let (kill_tx, kill_rx) = watch::channel(false);
        let (alive_tx, alive_rx) = mpsc::channel::<()>(1);
        let global = Slots::new(plan.maxconn);
        let per_frontend: Vec<Option<Slots>> = plan
            .frontends
            .iter()
            .map(|f| f.maxconn.map(Slots::new))
            .collect();
        let stats: Vec<Arc<FrontendStats>> = plan
            .frontends
            .iter()
            .map(|f| Arc::new(FrontendStats::new(&f.name)))
            .collect();
        let mut acceptors = Vec::new();
        let mut addrs = Vec::new();
        for (index, std_listener) in self.listeners {
            let frontend = &plan.frontends[index];
            let listener = TcpListener::from_std(std_listener)?;
            addrs.push((frontend.name.clone(), listener.local_addr()?));
            acceptors.push(tokio::spawn(listener::accept_loop(
                listener,
                frontend.route.clone(),
                Limits {
                    global: global.clone(),
                    frontend: per_frontend[index].clone(),
                },
                Arc::clone(&stats[index]),
                Signals {
                    stop: stop_rx.clone(),
                    kill: kill_rx.clone(),
                    alive: alive_tx.clone(),
                },
            )));
        }
        let frontends = plan
            .frontends
            .iter()
            .map(|f| f.name.clone())
            .zip(stats)
            .collect();
        Ok(Running {
            pools: plan.pools,
            maxconn: plan.maxconn,
            frontends,
            addrs,
            checkers,
            acceptors,
            stop: stop_tx,
            kill: kill_tx,
            alive_tx: Some(alive_tx),
            alive_rx,
        })
    }
}

impl Plan {
    fn new(config: &Config) -> Result<Self> {
        let mut pools = HashMap::new();
        let mut checks = Vec::new();
        for (index, b) in config.pools.iter().enumerate() {
            let pool = Arc::new(Pool::new(
                &b.name,
                Balancing {
                    balance: b.balance,
                    hash_type: b.hash_type,
                    allbackups: b.options.allbackups,
                    seed: index as u64,
                },
            ));
            for s in &b.servers {
                let backend: Arc<dyn Backend> = match &s.address {
                    ServerAddress::Socket(addr) => Arc::new(TcpBackend::new(*addr)),
                    ServerAddress::Name { host, port } => {
                        Arc::new(TcpBackend::new(resolve(host, *port, &s.location)?))
                    }
                    ServerAddress::Backend(backend) => Arc::clone(&backend.0),
                };
                let spec = ServerSpec {
                    weight: s.weight,
                    backup: s.backup,
                    maxconn: s.maxconn,
                    state: if s.disabled {
                        ServerState::Maint
                    } else {
                        ServerState::Ready
                    },
                    health: State::Up,
                    ..ServerSpec::new(&s.name, Arc::clone(&backend))
                };
                pool.add(spec)?;
                if s.check {
                    checks.push((Arc::clone(&pool), CheckPlan::new(b, s, &backend)?));
                }
            }
            pools.insert(b.name.clone(), pool);
        }
        let frontends: Vec<FrontendPlan> = config
            .frontends
            .iter()
            .map(|f| {
                Ok(FrontendPlan {
                    name: f.name.clone(),
                    route: route(f, config, &pools)?,
                    maxconn: f.maxconn,
                    binds: f.binds.iter().map(|b| b.addr).collect(),
                })
            })
            .collect::<Result<_>>()?;
        // What the configuration itself holds open: a socket per listener,
        // and one per checked server while it is probed.
        let config_fds = frontends.iter().map(|f| f.binds.len()).sum::<usize>() + checks.len();
        let (maxconn, automatic_maxconn) = match config.global.maxconn {
            Some(n) => (n, false),
            None => (
                crate::maxconn::automatic(crate::maxconn::fd_limit(), config_fds as u64),
                true,
            ),
        };
        Ok(Self {
            pools,
            checks,
            frontends,
            maxconn,
            automatic_maxconn,
        })
    }
}

/// A started load balancer.
#[derive(Debug)]
pub struct Running {
    pools: HashMap<String, Arc<Pool>>,
    maxconn: u32,
    frontends: Vec<(String, Arc<FrontendStats>)>,
    addrs: Vec<(String, SocketAddr)>,
    checkers: Vec<CheckerTask>,
    acceptors: Vec<JoinHandle<()>>,
    stop: watch::Sender<bool>,
    kill: watch::Sender<bool>,
    /// Every connection task holds a clone; when all are gone, the channel
    /// closes: that is how shutdown knows the last connection ended.
    alive_tx: Option<mpsc::Sender<()>>,
    alive_rx: mpsc::Receiver<()>,
}

impl Running {
    /// The pool called `name`, for run-time changes.
    pub fn pool(&self, name: &str) -> Option<Arc<Pool>> {
        self.pools.get(name).cloned()
    }

    /// The process-wide connection limit in force (see
    /// [`LoadBalancer::maxconn`]).
    pub fn maxconn(&self) -> u32 {
        self.maxconn
    }

    /// The connection counters of the frontend called `name`.
    pub fn frontend_counters(&self, name: &str) -> Option<FrontendCounters> {
        self.frontends
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, stats)| stats.counters())
    }

    /// The listening addresses, by frontend name.
    pub fn local_addrs(&self) -> &[(String, SocketAddr)] {
        &self.addrs
    }

    /// Stops accepting, lets connections in flight finish (HTTP keep-alive
    /// connections close after their current request) for up to `grace`,
    /// then drops the rest. Returns whether everything finished in time.
    pub async fn shutdown(mut self, grace: Duration) -> bool {
        let _ = self.stop.send(true);
        for acceptor in &self.acceptors {
            acceptor.abort();
        }
        self.checkers.clear();
        self.alive_tx = None;
        let drained = tokio::time::timeout(grace, self.alive_rx.recv())
            .await
            .is_ok();
        if !drained {
            tracing::warn!(
                ?grace,
                "connections still open after the grace period; closing them"
            );
            let _ = self.kill.send(true);
            // Each connection task ends at its next poll; wait for them.
            let _ = self.alive_rx.recv().await;
        }
        drained
    }
}

fn route(
    frontend: &config::Frontend,
    config: &Config,
    pools: &HashMap<String, Arc<Pool>>,
) -> Result<Route> {
    let routing = Routing::compile(frontend)?;
    let names = frontend
        .use_pools
        .iter()
        .map(|u| (u.pool.as_str(), &u.location))
        .chain(
            frontend
                .default_pool
                .as_deref()
                .map(|name| (name, &frontend.location)),
        );
    let mut used = Vec::new();
    for (name, location) in names {
        let pool = config.pool(name).ok_or_else(|| Error::UnknownPool {
            frontend: frontend.name.clone(),
            pool: name.to_owned(),
            location: location.clone(),
        })?;
        if frontend.mode == Mode::Http && pool.mode == Mode::Tcp {
            return Err(Error::ModeMismatch {
                frontend: frontend.name.clone(),
                pool: name.to_owned(),
                location: location.clone(),
            });
        }
        used.push(pool);
    }
    let dispatch = |b: &config::Pool| Dispatch {
        pool: Arc::clone(&pools[&b.name]),
        connect_timeout: b.timeouts.connect,
        queue_timeout: b.timeouts.queue.or(b.timeouts.connect),
        retries: b.retries,
        redispatch: b.options.redispatch,
    };
    Ok(match frontend.mode {
        Mode::Tcp => Route::Tcp(Arc::new(TcpRoute {
            frontend: frontend.name.clone(),
            routing,
            pools: used
                .into_iter()
                .map(|b| {
                    let backend = tcp::PoolRoute {
                        dispatch: dispatch(b),
                        server_idle: frontend
                            .timeouts
                            .tunnel
                            .or(b.timeouts.tunnel)
                            .or(b.timeouts.server),
                    };
                    (b.name.clone(), backend)
                })
                .collect(),
            client_idle: frontend.timeouts.tunnel.or(frontend.timeouts.client),
            log: frontend.options.tcplog || frontend.options.httplog,
        })),
        Mode::Http => Route::Http(Arc::new(HttpRoute {
            frontend: frontend.name.clone(),
            routing,
            pools: used
                .into_iter()
                .map(|b| {
                    let backend = http::PoolRoute {
                        dispatch: dispatch(b),
                        forwardfor: b.options.forwardfor || frontend.options.forwardfor,
                        server_timeout: b.timeouts.server,
                        tunnel_timeout: frontend.timeouts.tunnel.or(b.timeouts.tunnel),
                    };
                    (b.name.clone(), Arc::new(backend))
                })
                .collect(),
            timeouts: frontend.timeouts,
            log: frontend.options.httplog || frontend.options.tcplog,
        })),
    })
}

/// Resolves a server's host name once, at start, as HAProxy does by default.
fn resolve(host: &str, port: u16, location: &config::Location) -> Result<SocketAddr> {
    (host, port)
        .to_socket_addrs()
        .ok()
        .and_then(|mut addrs| addrs.next())
        .ok_or_else(|| Error::Resolve {
            host: host.to_owned(),
            location: location.clone(),
        })
}

/// HAProxy's start-up warning for each frontend (without `timeout client`)
/// and pool (without `timeout connect` or `timeout server`) built in code;
/// sections read from haproxy.cfg were warned about by the importer.
fn missing_timeouts(config: &Config) -> Vec<String> {
    let frontends = config.frontends.iter().filter_map(|f| {
        let missing = [("client", f.timeouts.client)];
        warning("frontend", &f.name, &f.location, &missing)
    });
    let pools = config.pools.iter().filter_map(|p| {
        let missing = [
            ("connect", p.timeouts.connect),
            ("server", p.timeouts.server),
        ];
        warning("backend", &p.name, &p.location, &missing)
    });
    frontends.chain(pools).collect()
}

fn warning(
    kind: &str,
    name: &str,
    location: &config::Location,
    timeouts: &[(&str, Option<Duration>)],
) -> Option<String> {
    let read_from_file = location.line != 0;
    let missing: Vec<String> = timeouts
        .iter()
        .filter(|(_, set)| set.is_none_or(|t| t.is_zero()))
        .map(|(name, _)| format!("'{name}'"))
        .collect();
    if read_from_file || missing.is_empty() {
        return None;
    }
    Some(format!(
        "missing timeouts for {kind} '{name}'. While not properly invalid, you will certainly \
         encounter various problems with such a configuration. To fix this, please ensure that \
         all following timeouts are set to a non-zero value: {}.",
        missing.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Defaults, Frontend, Pool, Timeouts};

    #[test]
    fn sections_built_without_timeouts_get_haproxys_warning() {
        let config = Config::builder()
            .frontend(Frontend::new("web").default_pool("webs"))
            .pool(Pool::new("webs").timeouts(Timeouts::new().connect(Duration::from_secs(5))))
            .build();
        assert_eq!(
            missing_timeouts(&config),
            [
                "missing timeouts for frontend 'web'. While not properly invalid, you will \
                 certainly encounter various problems with such a configuration. To fix this, \
                 please ensure that all following timeouts are set to a non-zero value: 'client'.",
                "missing timeouts for backend 'webs'. While not properly invalid, you will \
                 certainly encounter various problems with such a configuration. To fix this, \
                 please ensure that all following timeouts are set to a non-zero value: 'server'.",
            ]
        );
        let timeouts = Timeouts::new()
            .connect(Duration::from_secs(5))
            .client(Duration::from_secs(30))
            .server(Duration::from_secs(30));
        let defaults = Defaults::new(Mode::Http, timeouts);
        let config = Config::builder()
            .frontend(defaults.frontend("web").default_pool("webs"))
            .pool(defaults.pool("webs"))
            .build();
        assert!(missing_timeouts(&config).is_empty());
        let mut read = config.clone();
        read.frontends[0].timeouts = Timeouts::new();
        read.frontends[0].location.line = 3;
        assert!(
            missing_timeouts(&read).is_empty(),
            "the importer warns for a file"
        );
    }
}
