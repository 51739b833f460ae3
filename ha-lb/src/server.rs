//! A server as the proxy runs it: a [`Backend`] plus the settings that change
//! at run time (weight, administrative state, health) and its counters.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU32, AtomicU64, Ordering};

use ha_core::State;
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use crate::backend::Backend;
use crate::proxy::keepalive::KeepAlive;

/// The administrative state of a server (HAProxy's `set server ... state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ServerState {
    /// Takes traffic when healthy.
    Ready,
    /// Takes no new traffic; connections in flight finish.
    Drain,
    /// Maintenance: takes no traffic at all.
    Maint,
}

impl ServerState {
    fn to_u8(self) -> u8 {
        match self {
            ServerState::Ready => 0,
            ServerState::Drain => 1,
            ServerState::Maint => 2,
        }
    }

    fn from_u8(v: u8) -> Self {
        match v {
            0 => ServerState::Ready,
            1 => ServerState::Drain,
            _ => ServerState::Maint,
        }
    }
}

impl fmt::Display for ServerState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ServerState::Ready => "ready",
            ServerState::Drain => "drain",
            ServerState::Maint => "maint",
        })
    }
}

/// How to add a server to a running [`Pool`](crate::Pool) with
/// [`Pool::add`](crate::Pool::add). Nothing checks a server added this way;
/// its health is what [`Pool::set_health`](crate::Pool::set_health) last
/// said. Servers of a [`Config`](crate::config::Config) are checked as
/// configured.
#[derive(Debug, Clone)]
pub struct ServerSpec {
    /// Unique within the pool.
    pub name: String,
    /// How to reach it.
    pub backend: Arc<dyn Backend>,
    /// 0..=256; 0 takes no new traffic.
    pub weight: u32,
    /// Only used when no normal server is usable.
    pub backup: bool,
    /// Concurrent connection limit.
    pub maxconn: Option<u32>,
    /// Initial administrative state.
    pub state: ServerState,
    /// Initial health.
    pub health: State,
}

impl ServerSpec {
    /// A ready, healthy server of weight 1.
    pub fn new(name: impl Into<String>, backend: Arc<dyn Backend>) -> Self {
        Self {
            name: name.into(),
            backend,
            weight: 1,
            backup: false,
            maxconn: None,
            state: ServerState::Ready,
            health: State::Up,
        }
    }
}

/// Traffic counters of one server at one moment, from
/// [`Server::counters`]: plain numbers to print, compare or export.
///
/// Its `Display` reads `sessions 12, connect errors 0, response errors 1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ServerCounters {
    /// Connections (TCP) or requests (HTTP) sent to it.
    pub sessions: u64,
    /// Connection attempts that failed.
    pub connect_errors: u64,
    /// Responses it failed to give (reset, timeout, invalid).
    pub response_errors: u64,
}

impl fmt::Display for ServerCounters {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "sessions {}, connect errors {}, response errors {}",
            self.sessions, self.connect_errors, self.response_errors
        )
    }
}

/// The live counters behind [`ServerCounters`], bumped by the proxy.
#[derive(Debug, Default)]
struct Counters {
    sessions: AtomicU64,
    connect_errors: AtomicU64,
    response_errors: AtomicU64,
}

/// A server in a pool.
///
/// Its `Debug` shows what an operator reads in HAProxy's stats: name,
/// backend, state, health, weight, load and counters.
pub struct Server {
    name: String,
    backend: Arc<dyn Backend>,
    backup: bool,
    maxconn: Option<u32>,
    /// Stable hash of the name: the server's place on a hash ring.
    key: u64,
    weight: AtomicU32,
    state: AtomicU8,
    up: AtomicU8,
    load: Arc<AtomicU32>,
    counters: Counters,
    keepalive: KeepAlive,
    slot_freed: Arc<Notify>,
}

impl Server {
    pub(crate) fn new(spec: ServerSpec, key: u64, slot_freed: Arc<Notify>) -> Self {
        Self {
            name: spec.name,
            backend: spec.backend,
            backup: spec.backup,
            maxconn: spec.maxconn,
            key,
            weight: AtomicU32::new(spec.weight),
            state: AtomicU8::new(spec.state.to_u8()),
            up: AtomicU8::new(u8::from(spec.health == State::Up)),
            load: Arc::new(AtomicU32::new(0)),
            counters: Counters::default(),
            keepalive: KeepAlive::default(),
            slot_freed,
        }
    }

    /// The server's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// How to reach it.
    pub fn backend(&self) -> &Arc<dyn Backend> {
        &self.backend
    }

    /// Whether it is a backup server.
    pub fn is_backup(&self) -> bool {
        self.backup
    }

    /// Its connection limit.
    pub fn maxconn(&self) -> Option<u32> {
        self.maxconn
    }

    pub(crate) fn key(&self) -> u64 {
        self.key
    }

    /// Its current weight.
    pub fn weight(&self) -> u32 {
        self.weight.load(Ordering::Relaxed)
    }

    pub(crate) fn set_weight(&self, weight: u32) {
        self.weight.store(weight, Ordering::Relaxed);
    }

    /// Its administrative state.
    pub fn state(&self) -> ServerState {
        ServerState::from_u8(self.state.load(Ordering::Relaxed))
    }

    pub(crate) fn set_state(&self, state: ServerState) {
        self.state.store(state.to_u8(), Ordering::Relaxed);
    }

    /// Its health as last checked.
    pub fn health(&self) -> State {
        if self.up.load(Ordering::Relaxed) == 1 {
            State::Up
        } else {
            State::Down
        }
    }

    pub(crate) fn set_health(&self, health: State) {
        self.up
            .store(u8::from(health == State::Up), Ordering::Relaxed);
    }

    /// Whether it may take new traffic now (ready, healthy, weight above 0).
    pub fn is_usable(&self) -> bool {
        self.state() == ServerState::Ready && self.health() == State::Up && self.weight() > 0
    }

    /// Connections in flight to it.
    pub fn load(&self) -> u32 {
        self.load.load(Ordering::Relaxed)
    }

    pub(crate) fn load_counter(&self) -> &Arc<AtomicU32> {
        &self.load
    }

    /// Takes one of the server's slots until the returned guard is dropped;
    /// `None` when it is at its `maxconn`. The check and the increment are
    /// one atomic step, so concurrent pickers cannot overshoot the limit.
    pub(crate) fn try_begin(self: &Arc<Self>) -> Option<InFlight> {
        let mut load = self.load.load(Ordering::Relaxed);
        loop {
            if self.maxconn.is_some_and(|max| load >= max) {
                return None;
            }
            match self.load.compare_exchange_weak(
                load,
                load + 1,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => break,
                Err(now) => load = now,
            }
        }
        self.counters.sessions.fetch_add(1, Ordering::Relaxed);
        Some(InFlight(Arc::clone(self)))
    }

    /// Its traffic counters as they are now (a copy: read it again for
    /// newer numbers).
    pub fn counters(&self) -> ServerCounters {
        ServerCounters {
            sessions: self.counters.sessions.load(Ordering::Relaxed),
            connect_errors: self.counters.connect_errors.load(Ordering::Relaxed),
            response_errors: self.counters.response_errors.load(Ordering::Relaxed),
        }
    }

    /// Counts a connection attempt to it that failed.
    pub(crate) fn count_connect_error(&self) {
        self.counters.connect_errors.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a response it failed to give.
    pub(crate) fn count_response_error(&self) {
        self.counters
            .response_errors
            .fetch_add(1, Ordering::Relaxed);
    }

    /// Its idle keep-alive connections (HTTP mode).
    pub(crate) fn keepalive(&self) -> &KeepAlive {
        &self.keepalive
    }
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Server");
        d.field("name", &self.name)
            .field("backend", &format_args!("{}", self.backend.describe()))
            .field("state", &self.state())
            .field("health", &self.health())
            .field("weight", &self.weight());
        if self.backup {
            d.field("backup", &true);
        }
        if let Some(maxconn) = self.maxconn {
            d.field("maxconn", &maxconn);
        }
        d.field("load", &self.load())
            .field("counters", &self.counters())
            .finish()
    }
}

/// One connection or request in flight to a server; lowers the server's
/// load when dropped, so leastconn and maxconn see it end however it ends.
#[derive(Debug)]
pub(crate) struct InFlight(Arc<Server>);

impl InFlight {
    pub(crate) fn server(&self) -> &Arc<Server> {
        &self.0
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.load.fetch_sub(1, Ordering::AcqRel);
        if self.0.maxconn.is_some() {
            self.0.slot_freed.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::TcpBackend;

    #[test]
    fn debug_shows_what_an_operator_reads_and_counters_are_plain_numbers() {
        let mut spec = ServerSpec::new(
            "web1",
            Arc::new(TcpBackend::new(([127, 0, 0, 1], 8080).into())),
        );
        spec.weight = 3;
        spec.state = ServerState::Drain;
        let server = Arc::new(Server::new(spec, 0, Arc::new(Notify::new())));
        let slot = server.try_begin().expect("no maxconn");
        server.count_connect_error();
        let counters = server.counters();
        assert_eq!(
            counters,
            ServerCounters {
                sessions: 1,
                connect_errors: 1,
                response_errors: 0
            }
        );
        assert_eq!(
            counters.to_string(),
            "sessions 1, connect errors 1, response errors 0"
        );
        assert_eq!(
            format!("{server:?}"),
            "Server { name: \"web1\", backend: 127.0.0.1:8080, state: Drain, health: Up, \
             weight: 3, load: 1, counters: ServerCounters { sessions: 1, connect_errors: 1, \
             response_errors: 0 } }"
        );
        drop(slot);
        assert_eq!(server.load(), 0);
    }
}
