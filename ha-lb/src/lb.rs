//! The running load balancer: builds backend sets, health checkers and
//! listeners from a [`Config`], and stops them gracefully.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use ha_core::{
    Checker, CheckerHandle, Health, HealthCheck, HttpCheck, Schedule, State, TcpCheck, Thresholds,
};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::task::JoinHandle;

use crate::acl::Routing;
use crate::backend::TcpBackend;
use crate::backend_set::{BackendSet, Balancing};
use crate::config::{self, Config, Mode, ServerAddress};
use crate::error::{Error, Result};
use crate::proxy::dispatch::Dispatch;
use crate::proxy::http::{self, HttpBackend, HttpRoute};
use crate::proxy::tcp::{self, TcpRoute};
use crate::server::{ServerSpec, ServerState};

/// Pending connections the kernel queues per listener.
const BACKLOG: i32 = 4096;

/// A load balancer ready to start.
#[derive(Debug)]
pub struct LoadBalancer {
    config: Config,
    listeners: Vec<(String, std::net::TcpListener)>,
}

/// What one frontend does with its connections.
#[derive(Debug, Clone)]
enum Route {
    Tcp(Arc<TcpRoute>),
    Http(Arc<HttpRoute>),
}

impl LoadBalancer {
    /// Checks `config` and binds its listening sockets, without starting
    /// anything: the caller may then drop privileges or daemonize before
    /// [`LoadBalancer::start`].
    pub fn bind(config: Config) -> Result<Self> {
        validate(&config)?;
        let mut listeners = Vec::new();
        for frontend in &config.frontends {
            for bind in &frontend.binds {
                let listener = bind_socket(bind.addr).map_err(|source| Error::Bind {
                    addr: bind.addr,
                    source,
                })?;
                listeners.push((frontend.name.clone(), listener));
            }
        }
        Ok(Self { config, listeners })
    }

    /// The bound addresses, by frontend name (useful with port 0).
    pub fn local_addrs(&self) -> Vec<(String, SocketAddr)> {
        self.listeners
            .iter()
            .filter_map(|(name, l)| Some((name.clone(), l.local_addr().ok()?)))
            .collect()
    }

    /// Starts checking servers and serving clients on the current tokio
    /// runtime.
    pub async fn start(self) -> Result<Running> {
        let config = self.config;
        let mut backends = HashMap::new();
        let mut checkers = Vec::new();
        for (index, b) in config.backends.iter().enumerate() {
            let set = Arc::new(BackendSet::new(
                &b.name,
                Balancing {
                    balance: b.balance,
                    hash_type: b.hash_type,
                    allbackups: b.options.allbackups,
                    seed: index as u64,
                },
            ));
            for s in &b.servers {
                let addr = resolve(&s.address, &s.location).await?;
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
                    ..ServerSpec::new(&s.name, Arc::new(TcpBackend::new(addr)))
                };
                set.add(spec)?;
                if s.check {
                    checkers.push(spawn_checker(&set, b, s, addr)?);
                }
            }
            backends.insert(b.name.clone(), set);
        }

        let (stop_tx, stop_rx) = watch::channel(false);
        let (alive_tx, alive_rx) = mpsc::channel::<()>(1);
        let global_slots = config
            .global
            .maxconn
            .map(|n| Arc::new(Semaphore::new(n as usize)));
        let mut acceptors = Vec::new();
        let mut addrs = Vec::new();
        for (name, std_listener) in self.listeners {
            let frontend = config
                .frontends
                .iter()
                .find(|f| f.name == name)
                .expect("listeners are bound from frontends");
            let route = build_route(frontend, &config, &backends)?;
            let listener = TcpListener::from_std(std_listener)?;
            addrs.push((name.clone(), listener.local_addr()?));
            let slots = frontend
                .maxconn
                .map(|n| Arc::new(Semaphore::new(n as usize)));
            acceptors.push(tokio::spawn(accept_loop(
                listener,
                route,
                Limits {
                    global: global_slots.clone(),
                    frontend: slots,
                },
                stop_rx.clone(),
                alive_tx.clone(),
            )));
        }
        Ok(Running {
            backends,
            addrs,
            checkers,
            acceptors,
            stop: stop_tx,
            alive_tx: Some(alive_tx),
            alive_rx,
        })
    }
}

/// A started load balancer.
#[derive(Debug)]
pub struct Running {
    backends: HashMap<String, Arc<BackendSet>>,
    addrs: Vec<(String, SocketAddr)>,
    checkers: Vec<CheckerTask>,
    acceptors: Vec<JoinHandle<()>>,
    stop: watch::Sender<bool>,
    /// Every connection task holds a clone; when all are gone, the channel
    /// closes: that is how shutdown knows the last connection ended.
    alive_tx: Option<mpsc::Sender<()>>,
    alive_rx: mpsc::Receiver<()>,
}

impl Running {
    /// The backend set called `name`, for run-time changes.
    pub fn backend(&self, name: &str) -> Option<Arc<BackendSet>> {
        self.backends.get(name).cloned()
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
        }
        drained
    }
}

/// A checker and the task that applies its verdicts to the backend set.
#[derive(Debug)]
struct CheckerTask {
    _checker: CheckerHandle,
    applier: JoinHandle<()>,
}

impl Drop for CheckerTask {
    fn drop(&mut self) {
        self.applier.abort();
    }
}

fn spawn_checker(
    set: &Arc<BackendSet>,
    backend: &config::Backend,
    server: &config::Server,
    addr: SocketAddr,
) -> Result<CheckerTask> {
    let target = SocketAddr::new(
        server.check_addr.unwrap_or(addr.ip()),
        server.check_port.unwrap_or(addr.port()),
    );
    let mut schedule = Schedule::new(server.inter)?;
    if let Some(fast) = server.fastinter {
        schedule = schedule.fastinter(fast)?;
    }
    if let Some(down) = server.downinter {
        schedule = schedule.downinter(down)?;
    }
    if let Some(limit) = backend.timeouts.check {
        schedule = schedule.timeout(limit)?;
    }
    let timeout = schedule.probe_timeout();
    let check: Arc<dyn HealthCheck> = match &backend.http_check {
        Some(h) => {
            let method = http::method(&h.method).map_err(|message| Error::Config {
                location: backend.location.clone(),
                message,
            })?;
            let mut check = HttpCheck::new(target, timeout)
                .method(method)
                .path(&h.path)
                .expect(h.expect);
            if let Some(host) = &h.host {
                check = check.host(host);
            }
            Arc::new(check)
        }
        None => Arc::new(TcpCheck::new(target, timeout)),
    };
    let thresholds = Thresholds::new(server.rise, server.fall)?;
    let name = format!("{}/{}", backend.name, server.name);
    let checker = Checker::new(
        name,
        check,
        Health::provisional(thresholds, State::Up),
        schedule,
    )
    .spawn();
    let mut status = checker.subscribe();
    let set = Arc::clone(set);
    let server_name = server.name.clone();
    let applier = tokio::spawn(async move {
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
                    server.pool().clear();
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
    });
    Ok(CheckerTask {
        _checker: checker,
        applier,
    })
}

fn build_route(
    frontend: &config::Frontend,
    config: &Config,
    sets: &HashMap<String, Arc<BackendSet>>,
) -> Result<Route> {
    let dispatch_for = |b: &config::Backend| Dispatch {
        backend: Arc::clone(&sets[&b.name]),
        connect_timeout: b.timeouts.connect,
        queue_timeout: b.timeouts.queue.or(b.timeouts.connect),
        retries: b.retries,
        redispatch: b.options.redispatch,
    };
    match frontend.mode {
        Mode::Tcp => {
            let name = frontend
                .default_backend
                .as_deref()
                .ok_or_else(|| Error::Config {
                    location: frontend.location.clone(),
                    message: format!(
                        "frontend '{}' in tcp mode has no default_backend",
                        frontend.name
                    ),
                })?;
            let backend = config
                .backend(name)
                .ok_or_else(|| unknown(frontend, name))?;
            let mut timeouts = frontend.timeouts;
            timeouts.server = backend.timeouts.server;
            timeouts.tunnel = frontend.timeouts.tunnel.or(backend.timeouts.tunnel);
            Ok(Route::Tcp(Arc::new(TcpRoute {
                frontend: frontend.name.clone(),
                dispatch: dispatch_for(backend),
                timeouts,
                log: frontend.options.tcplog || frontend.options.httplog,
            })))
        }
        Mode::Http => {
            let routing = Routing::compile(frontend)?;
            let mut backends = HashMap::new();
            let names = frontend
                .use_backends
                .iter()
                .map(|u| u.backend.as_str())
                .chain(frontend.default_backend.as_deref());
            for name in names {
                let backend = config
                    .backend(name)
                    .ok_or_else(|| unknown(frontend, name))?;
                backends.insert(
                    name.to_owned(),
                    Arc::new(HttpBackend {
                        dispatch: dispatch_for(backend),
                        forwardfor: backend.options.forwardfor || frontend.options.forwardfor,
                        server_timeout: backend.timeouts.server,
                    }),
                );
            }
            Ok(Route::Http(Arc::new(HttpRoute {
                frontend: frontend.name.clone(),
                routing,
                backends,
                timeouts: frontend.timeouts,
                log: frontend.options.httplog || frontend.options.tcplog,
            })))
        }
    }
}

fn unknown(frontend: &config::Frontend, name: &str) -> Error {
    Error::Config {
        location: frontend.location.clone(),
        message: format!("frontend '{}' uses unknown backend '{name}'", frontend.name),
    }
}

/// Checks what the importer cannot see when a model is built by hand.
fn validate(config: &Config) -> Result<()> {
    for frontend in &config.frontends {
        for name in frontend
            .use_backends
            .iter()
            .map(|u| u.backend.as_str())
            .chain(frontend.default_backend.as_deref())
        {
            if config.backend(name).is_none() {
                return Err(unknown(frontend, name));
            }
        }
    }
    Ok(())
}

async fn resolve(address: &ServerAddress, location: &config::Location) -> Result<SocketAddr> {
    match address {
        ServerAddress::Socket(addr) => Ok(*addr),
        ServerAddress::Name { host, port } => tokio::net::lookup_host((host.as_str(), *port))
            .await
            .ok()
            .and_then(|mut addrs| addrs.next())
            .ok_or_else(|| Error::Config {
                location: location.clone(),
                message: format!("could not resolve address '{host}'"),
            }),
    }
}

fn bind_socket(addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::STREAM,
        Some(socket2::Protocol::TCP),
    )?;
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(BACKLOG)?;
    Ok(socket.into())
}

/// Connection limits: `maxconn` in `global` and in the frontend.
#[derive(Debug, Clone)]
struct Limits {
    global: Option<Arc<Semaphore>>,
    frontend: Option<Arc<Semaphore>>,
}

async fn accept_loop(
    listener: TcpListener,
    route: Route,
    limits: Limits,
    mut stop: watch::Receiver<bool>,
    alive: mpsc::Sender<()>,
) {
    loop {
        // Like HAProxy, stop accepting while at maxconn: new clients wait in
        // the kernel's backlog instead of being accepted and starved.
        let global = match &limits.global {
            Some(s) => Some(Arc::clone(s).acquire_owned().await.expect("never closed")),
            None => None,
        };
        let local = match &limits.frontend {
            Some(s) => Some(Arc::clone(s).acquire_owned().await.expect("never closed")),
            None => None,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stop.changed() => return,
        };
        let route = route.clone();
        let alive = alive.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            let _permits = (global, local);
            let _alive = alive;
            serve(stream, peer, route, stop).await;
        });
    }
}

async fn serve(stream: TcpStream, peer: SocketAddr, route: Route, mut stop: watch::Receiver<bool>) {
    match route {
        Route::Tcp(route) => Box::pin(tcp::serve(stream, peer, route)).await,
        Route::Http(route) => {
            // An idle client costs only this small future: the HTTP
            // machinery (buffers, parser state) is allocated, boxed, once the
            // first bytes arrive. That keeps thousands of idle connections
            // cheap, as HAProxy's on-demand buffers do.
            if http::first_bytes(&stream, &route, &mut stop).await {
                Box::pin(http::serve(stream, peer, route, stop)).await;
            }
        }
    }
}
