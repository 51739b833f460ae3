//! A pool: a named set of servers (haproxy.cfg's `backend` section), a balancing
//! algorithm over them, and live updates.
//!
//! Servers can be added, removed, re-weighted, drained or put in maintenance
//! while traffic flows. Every change publishes a new immutable snapshot
//! (server list and a balancer rebuilt over the servers that may take new
//! traffic); pickers load the current snapshot without locking. Connections
//! already open keep their server (they hold an `Arc` to it), so nothing in
//! flight is dropped by a change.

use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use ha_core::State;
use tokio::sync::Notify;

use crate::balance::{self, Balancer, Candidate, MAX_WEIGHT, PickKey, ServerId};
use crate::config::{Balance, HashType};
use crate::error::{Error, Result};
use crate::server::{InFlight, Server, ServerSpec, ServerState};

/// How a pool chooses among its servers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Balancing {
    /// The algorithm.
    pub balance: Balance,
    /// How hash-based algorithms map keys.
    pub hash_type: HashType,
    /// Use every backup server at once (`option allbackups`), not only the first.
    pub allbackups: bool,
    /// Seed for algorithms that draw at random.
    pub seed: u64,
}

/// Counts of servers that can take traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usable {
    /// Normal servers that are ready, up and weighted.
    pub active: usize,
    /// Backup servers that are ready, up and weighted.
    pub backup: usize,
}

struct Snapshot {
    servers: Vec<Arc<Server>>,
    balancer: Box<dyn Balancer>,
    usable: Usable,
}

/// A named set of servers with a balancing algorithm.
pub struct Pool {
    name: String,
    balancing: Balancing,
    /// Serialises writers; readers use `snapshot`.
    servers: Mutex<Vec<Arc<Server>>>,
    snapshot: ArcSwap<Snapshot>,
    /// Signalled when a connection to a server with a `maxconn` ends, for
    /// requests queued while every server was full.
    slot_freed: Arc<Notify>,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("name", &self.name)
            .field("balancing", &self.balancing)
            .field("servers", &self.snapshot.load().servers)
            .finish()
    }
}

impl Pool {
    /// An empty set called `name`.
    pub fn new(name: impl Into<String>, balancing: Balancing) -> Self {
        let snapshot = build(&balancing, Vec::new());
        Self {
            name: name.into(),
            balancing,
            servers: Mutex::new(Vec::new()),
            snapshot: ArcSwap::from_pointee(snapshot),
            slot_freed: Arc::new(Notify::new()),
        }
    }

    /// The set's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Adds a server; its name must be new in this set.
    pub fn add(&self, spec: ServerSpec) -> Result<Arc<Server>> {
        check_weight(spec.weight)?;
        let mut servers = self.lock();
        if servers.iter().any(|s| s.name() == spec.name) {
            return Err(Error::ServerExists {
                pool: self.name.clone(),
                server: spec.name,
            });
        }
        let key = balance::stable_hash(spec.name.as_bytes());
        let server = Arc::new(Server::new(spec, key, Arc::clone(&self.slot_freed)));
        servers.push(Arc::clone(&server));
        self.publish(&servers);
        Ok(server)
    }

    /// Removes a server. Connections in flight to it finish normally.
    pub fn remove(&self, name: &str) -> Result<Arc<Server>> {
        let mut servers = self.lock();
        let index = servers
            .iter()
            .position(|s| s.name() == name)
            .ok_or_else(|| self.no_such(name))?;
        let server = servers.remove(index);
        server.keepalive().clear();
        self.publish(&servers);
        Ok(server)
    }

    /// Changes a server's weight (0..=256).
    pub fn set_weight(&self, name: &str, weight: u32) -> Result<()> {
        check_weight(weight)?;
        self.update(name, |s| s.set_weight(weight))
    }

    /// Changes a server's administrative state.
    pub fn set_state(&self, name: &str, state: ServerState) -> Result<()> {
        self.update(name, |s| {
            s.set_state(state);
            if state == ServerState::Maint {
                s.keepalive().clear();
            }
        })
    }

    /// Records a server's health, as its checker found it.
    pub fn set_health(&self, name: &str, health: State) -> Result<()> {
        self.update(name, |s| s.set_health(health))
    }

    fn update(&self, name: &str, change: impl FnOnce(&Server)) -> Result<()> {
        let servers = self.lock();
        let server = servers
            .iter()
            .find(|s| s.name() == name)
            .ok_or_else(|| self.no_such(name))?;
        change(server);
        self.publish(&servers);
        Ok(())
    }

    /// The server called `name`.
    pub fn server(&self, name: &str) -> Option<Arc<Server>> {
        self.snapshot
            .load()
            .servers
            .iter()
            .find(|s| s.name() == name)
            .cloned()
    }

    /// All servers, in declaration order.
    pub fn servers(&self) -> Vec<Arc<Server>> {
        self.snapshot.load().servers.clone()
    }

    /// Woken when a server slot frees up (see [`Server::maxconn`]).
    pub(crate) fn slot_freed(&self) -> Arc<Notify> {
        Arc::clone(&self.slot_freed)
    }

    /// How many servers can take traffic.
    pub fn usable(&self) -> Usable {
        self.snapshot.load().usable
    }

    /// Picks a server for new traffic, avoiding the servers in `tried`
    /// (earlier attempts of the same request), and takes one of its slots.
    /// `None` when no server can take it now (none usable, or all full).
    pub(crate) fn pick(&self, key: &PickKey<'_>, tried: &[Arc<Server>]) -> Option<InFlight> {
        let snapshot = self.snapshot.load();
        let mut skip: Vec<ServerId> = Vec::new();
        if !tried.is_empty() {
            skip.extend(
                snapshot
                    .servers
                    .iter()
                    .enumerate()
                    .filter(|(_, s)| tried.iter().any(|t| Arc::ptr_eq(s, t)))
                    .map(|(i, _)| i),
            );
        }
        // A server that filled up between the balancer's look and our
        // reservation is skipped and the balancer asked again.
        for _ in 0..=snapshot.servers.len() {
            let id = snapshot.balancer.pick(key, &skip)?;
            if let Some(guard) = snapshot.servers.get(id)?.try_begin() {
                return Some(guard);
            }
            skip.push(id);
        }
        None
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Arc<Server>>> {
        // A panic elsewhere while holding the lock cannot leave the list
        // half-edited (edits are single Vec operations), so keep going.
        self.servers.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn publish(&self, servers: &[Arc<Server>]) {
        self.snapshot
            .store(Arc::new(build(&self.balancing, servers.to_vec())));
        // A server may have become usable: queued requests look again.
        self.slot_freed.notify_waiters();
    }

    fn no_such(&self, name: &str) -> Error {
        Error::NoSuchServer {
            pool: self.name.clone(),
            server: name.to_owned(),
        }
    }
}

fn check_weight(weight: u32) -> Result<()> {
    if weight > MAX_WEIGHT {
        return Err(Error::InvalidWeight(weight));
    }
    Ok(())
}

/// Chooses the servers that may take new traffic and builds the balancer
/// over them: the usable normal servers, or, when none is left, the first
/// usable backup (all of them with `allbackups`), as HAProxy does.
fn build(balancing: &Balancing, servers: Vec<Arc<Server>>) -> Snapshot {
    let candidate = |(id, s): (usize, &Arc<Server>)| Candidate {
        id,
        weight: s.weight(),
        key: s.key(),
        maxconn: s.maxconn(),
        load: Arc::clone(s.load_counter()),
    };
    let usable = Usable {
        active: servers
            .iter()
            .filter(|s| !s.is_backup() && s.is_usable())
            .count(),
        backup: servers
            .iter()
            .filter(|s| s.is_backup() && s.is_usable())
            .count(),
    };
    let chosen: Vec<Candidate> = if usable.active > 0 {
        servers
            .iter()
            .enumerate()
            .filter(|(_, s)| !s.is_backup() && s.is_usable())
            .map(candidate)
            .collect()
    } else {
        let backups = servers
            .iter()
            .enumerate()
            .filter(|(_, s)| s.is_backup() && s.is_usable());
        if balancing.allbackups {
            backups.map(candidate).collect()
        } else {
            backups.take(1).map(candidate).collect()
        }
    };
    let balancer = balance::build(
        balancing.balance,
        balancing.hash_type,
        chosen,
        balancing.seed,
    );
    Snapshot {
        servers,
        balancer,
        usable,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::TcpBackend;
    use crate::config::{Balance, HashType};
    use proptest::prelude::*;

    fn spec(i: usize, weight: u32, backup: bool, state: ServerState, up: bool) -> ServerSpec {
        ServerSpec {
            weight,
            backup,
            state,
            health: if up { State::Up } else { State::Down },
            ..ServerSpec::new(
                format!("s{i}"),
                Arc::new(TcpBackend::new(([127, 0, 0, 1], 1000 + i as u16).into())),
            )
        }
    }

    fn any_state() -> impl Strategy<Value = ServerState> {
        prop_oneof![
            Just(ServerState::Ready),
            Just(ServerState::Drain),
            Just(ServerState::Maint)
        ]
    }

    fn any_balance() -> impl Strategy<Value = Balance> {
        prop_oneof![
            Just(Balance::RoundRobin),
            Just(Balance::StaticRr),
            Just(Balance::LeastConn),
            Just(Balance::First),
            Just(Balance::Source),
            Just(Balance::Uri),
            Just(Balance::Random { draws: 2 }),
        ]
    }

    proptest! {
        /// Down, drained, in-maintenance and weight-0 servers never get new
        /// traffic; backups only when no normal server is usable, and then
        /// only the first one unless `allbackups`.
        #[test]
        fn only_usable_servers_are_picked(
            servers in prop::collection::vec(
                (0u32..4, any::<bool>(), any_state(), any::<bool>()), 1..8),
            balance in any_balance(),
            consistent in any::<bool>(),
            allbackups in any::<bool>(),
            changes in prop::collection::vec((0usize..8, any_state(), any::<bool>()), 0..6),
        ) {
            let pool = Pool::new("b", Balancing {
                balance,
                hash_type: if consistent { HashType::Consistent } else { HashType::MapBased },
                allbackups,
                seed: 7,
            });
            for (i, (w, backup, state, up)) in servers.iter().enumerate() {
                pool.add(spec(i, *w, *backup, *state, *up)).unwrap();
            }
            // Live changes go through the same rules.
            for (i, state, up) in changes {
                let name = format!("s{}", i % servers.len());
                pool.set_state(&name, state).unwrap();
                pool.set_health(&name, if up { State::Up } else { State::Down }).unwrap();
            }
            let all = pool.servers();
            let normal: Vec<_> = all.iter().filter(|s| !s.is_backup() && s.is_usable()).collect();
            let backups: Vec<_> = all.iter().filter(|s| s.is_backup() && s.is_usable()).collect();
            for i in 0..50u32 {
                let ip = std::net::IpAddr::from([10, 0, 0, i as u8]);
                let path = format!("/p{i}");
                let key = PickKey { src: Some(ip), uri: Some(&path) };
                let picked = pool.pick(&key, &[]);
                match picked.as_ref().map(|g| g.server()) {
                    Some(s) => {
                        prop_assert!(s.is_usable(), "{} is not usable", s.name());
                        if normal.is_empty() {
                            prop_assert!(s.is_backup());
                            if !allbackups {
                                prop_assert!(Arc::ptr_eq(s, backups[0]));
                            }
                        } else {
                            prop_assert!(!s.is_backup());
                        }
                    }
                    None => prop_assert!(normal.is_empty() && backups.is_empty()),
                }
            }
        }
    }

    #[test]
    fn weights_and_names_are_checked() {
        let pool = Pool::new("b", Balancing::default());
        pool.add(spec(0, 1, false, ServerState::Ready, true))
            .unwrap();
        assert!(matches!(
            pool.add(spec(0, 1, false, ServerState::Ready, true)),
            Err(Error::ServerExists { .. })
        ));
        assert!(matches!(
            pool.set_weight("s0", 257),
            Err(Error::InvalidWeight(257))
        ));
        assert!(matches!(
            pool.set_weight("nope", 1),
            Err(Error::NoSuchServer { .. })
        ));
        pool.set_weight("s0", 0).unwrap();
        assert!(pool.pick(&PickKey::default(), &[]).is_none());
    }
}
