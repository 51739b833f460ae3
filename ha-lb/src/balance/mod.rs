//! Balancing algorithms: which server gets the next connection or request.
//!
//! One algorithm per file, all behind the [`Balancer`] trait. A balancer is
//! built from the servers that may take new traffic right now (the backend
//! set decides which: ready, healthy, weight above 0, and backups only when
//! no normal server is left) and is rebuilt whenever that set or a weight
//! changes. Picking is the hot path; building is not.
//!
//! Retries and redispatch call [`Balancer::pick`] again with the servers
//! already tried, so every algorithm's fallback order is its own: the next
//! point on the ring for consistent hashing, the next server in turn for
//! round robin.
//!
//! Everything here is pure: no clock, no I/O. Randomness comes from a seeded
//! generator, so a test can replay a run.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicU32;


/// A server's index in its backend's server list.
pub type ServerId = usize;

/// A server that may take new traffic, as a balancer sees it.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// Which server.
    pub id: ServerId,
    /// Its weight, 1..=256 (servers of weight 0 are never candidates).
    pub weight: u32,
    /// A stable identity for hashing, derived from the server's name, so that
    /// a server keeps its place on a hash ring across rebuilds.
    pub key: u64,
    /// Its connection limit, if any. A server whose `load` has reached it is
    /// full and must not be picked.
    pub maxconn: Option<u32>,
    /// Connections in flight to it now, kept by the proxy.
    pub load: Arc<AtomicU32>,
}

/// What a pick may depend on, taken from the connection or request.
#[derive(Debug, Clone, Copy, Default)]
pub struct PickKey<'a> {
    /// The client's address (`balance source`).
    pub src: Option<IpAddr>,
    /// The request path without the query (`balance uri`).
    pub uri: Option<&'a str>,
}

/// A balancing algorithm over a fixed set of candidates.
pub trait Balancer: Send + Sync + fmt::Debug {
    /// Picks a server for new traffic, skipping the servers in `tried` and
    /// servers that are full. `None` when no candidate is left.
    fn pick(&self, key: &PickKey<'_>, tried: &[ServerId]) -> Option<ServerId>;
}
