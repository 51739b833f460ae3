//! What a portal counts (its connections and what it refused, `accept`
//! failures, commands refused for a connection's byte bound), and the
//! hold each connection it admitted keeps on those counts.

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::admission::{ConnectionCounts, Connections};
use crate::session::PortalOptions;

/// What a portal counts: its connections and what it refused, `accept`
/// failures. A handle: clones see the same counts, while the portal
/// serves.
#[derive(Debug, Clone)]
pub struct PortalStats(Arc<Counters>);

#[derive(Debug)]
struct Counters {
    connections: Mutex<Connections>,
    accept_failures: AtomicU64,
    buffer_full: AtomicU64,
}

impl PortalStats {
    /// Counts an `accept` that failed for lack of resources.
    pub(super) fn note_accept_failure(&self) {
        self.0.accept_failures.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn new(options: &PortalOptions) -> Self {
        Self(Arc::new(Counters {
            connections: Mutex::new(Connections::new(options.connections)),
            accept_failures: AtomicU64::new(0),
            buffer_full: AtomicU64::new(0),
        }))
    }

    pub(super) fn connections_mut(&self) -> std::sync::MutexGuard<'_, Connections> {
        // Plain counts: still consistent after a panic elsewhere.
        self.0.connections.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The connections held and refused.
    pub fn connections(&self) -> ConnectionCounts {
        self.connections_mut().counts()
    }

    /// Times `accept` failed for lack of descriptors or memory.
    pub fn accept_failures(&self) -> u64 {
        self.0.accept_failures.load(Ordering::Relaxed)
    }

    /// Commands refused, or connections closed, because a connection held
    /// the options' `max_buffered` ([`Session::buffer_full`](crate::session::Session::buffer_full)).
    pub fn buffer_full(&self) -> u64 {
        self.0.buffer_full.load(Ordering::Relaxed)
    }
}

/// A connection the portal's limits took, given back when it ends.
#[derive(Debug)]
pub(crate) struct Admitted {
    stats: PortalStats,
    address: IpAddr,
    logged_in: bool,
    /// The session's `buffer_full` count already added to the portal's.
    buffer_full: u64,
}

impl Admitted {
    /// A connection from `address` that `stats`' limits took.
    pub(super) fn new(stats: PortalStats, address: IpAddr) -> Self {
        Self {
            stats,
            address,
            logged_in: false,
            buffer_full: 0,
        }
    }
}

impl Admitted {
    /// The connection logged in: it no longer counts among those logging
    /// in.
    pub(crate) fn handle_logged_in(&mut self) {
        if !self.logged_in {
            self.logged_in = true;
            self.stats.connections_mut().handle_logged_in(self.address);
        }
    }

    /// The session's count of commands refused for its byte bound is now
    /// `count`.
    pub(crate) fn report_buffer_full(&mut self, count: u64) {
        if count > self.buffer_full {
            let new = count - self.buffer_full;
            self.stats.0.buffer_full.fetch_add(new, Ordering::Relaxed);
            self.buffer_full = count;
        }
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        self.stats
            .connections_mut()
            .handle_close(self.address, self.logged_in);
    }
}
