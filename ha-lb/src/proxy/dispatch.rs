//! Getting a connection to a server: pick, queue, connect, retry, redispatch.
//!
//! A connection attempt that fails sends nothing to the server, so it is
//! always safe to try again. Like HAProxy, ha-lb retries `retries` times; with
//! `option redispatch` (ha-lb's default) a retry goes to another server when
//! there is one, and only falls back to waiting a turn-around delay
//! (`min(timeout connect, 1s)`) and retrying the same server when there is
//! not. When every usable server is at its `maxconn`, a request waits for a
//! slot up to `timeout queue`.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use crate::backend::BoxStream;
use crate::balance::PickKey;
use crate::pool::Pool;
use crate::server::{InFlight, Server};

/// How to reach a pool's servers.
#[derive(Debug, Clone)]
pub(crate) struct Dispatch {
    pub pool: Arc<Pool>,
    pub connect_timeout: Option<Duration>,
    /// `timeout queue`, else `timeout connect`: the longest wait for a slot.
    pub queue_timeout: Option<Duration>,
    pub retries: u32,
    pub redispatch: bool,
}

/// Why no connection could be made.
#[derive(Debug)]
pub(crate) enum DispatchError {
    /// No server can take traffic (HAProxy answers 503).
    NoServer,
    /// Every usable server stayed full for the whole queue timeout (503).
    QueueTimeout,
    /// Every attempt failed; the last error is kept (HAProxy answers 503).
    Failed {
        server: Arc<Server>,
        error: io::Error,
    },
}

const MAX_TURNAROUND: Duration = Duration::from_secs(1);

impl Dispatch {
    /// Connects to a server chosen for `key`, avoiding `avoid` (servers that
    /// already failed this request).
    pub async fn connect(
        &self,
        key: &PickKey<'_>,
        avoid: &mut Vec<Arc<Server>>,
    ) -> Result<(InFlight, BoxStream), DispatchError> {
        let slot = self.pick(key, avoid).await?;
        self.connect_from(slot, key, avoid).await
    }

    /// Picks a server for `key` and takes one of its slots, preferring a
    /// server not in `avoid`. When every usable server is full, waits in the
    /// pool's queue up to the queue timeout.
    pub async fn pick(
        &self,
        key: &PickKey<'_>,
        avoid: &[Arc<Server>],
    ) -> Result<InFlight, DispatchError> {
        // The common case: a server has room. No queue bookkeeping.
        if let Some(slot) = self
            .pool
            .pick(key, avoid)
            .or_else(|| self.pool.pick(key, &[]))
        {
            return Ok(slot);
        }
        let mut deadline = None;
        loop {
            let freed = self.pool.slot_freed();
            let mut freed = std::pin::pin!(freed.notified());
            // Registered before looking, so a slot freed in between still wakes us.
            freed.as_mut().enable();
            if let Some(slot) = self
                .pool
                .pick(key, avoid)
                .or_else(|| self.pool.pick(key, &[]))
            {
                return Ok(slot);
            }
            let usable = self.pool.usable();
            if usable.active + usable.backup == 0 {
                return Err(DispatchError::NoServer);
            }
            let deadline = *deadline.get_or_insert_with(|| {
                self.queue_timeout
                    .map(|limit| tokio::time::Instant::now() + limit)
            });
            match deadline {
                Some(at) => {
                    if tokio::time::timeout_at(at, freed).await.is_err() {
                        return Err(DispatchError::QueueTimeout);
                    }
                }
                None => freed.await,
            }
        }
    }

    /// Connects to the server of `slot`, retrying and redispatching as
    /// configured.
    pub async fn connect_from(
        &self,
        mut slot: InFlight,
        key: &PickKey<'_>,
        avoid: &mut Vec<Arc<Server>>,
    ) -> Result<(InFlight, BoxStream), DispatchError> {
        let mut attempts_left = self.retries.saturating_add(1);
        loop {
            let server = Arc::clone(slot.server());
            let attempt = server.backend().connect();
            let result = match self.connect_timeout {
                Some(limit) => tokio::time::timeout(limit, attempt)
                    .await
                    .unwrap_or_else(|_| {
                        Err(io::Error::new(io::ErrorKind::TimedOut, "connect timeout"))
                    }),
                None => attempt.await,
            };
            let error = match result {
                Ok(stream) => return Ok((slot, stream)),
                Err(error) => error,
            };
            drop(slot);
            server.count_connect_error();
            tracing::debug!(backend = %self.pool.name(), server = %server.name(), %error, "connect failed");
            attempts_left -= 1;
            if attempts_left == 0 {
                return Err(DispatchError::Failed { server, error });
            }
            if !avoid.iter().any(|s| Arc::ptr_eq(s, &server)) {
                avoid.push(Arc::clone(&server));
            }
            let other = if self.redispatch {
                self.pool.pick(key, avoid)
            } else {
                None
            };
            slot = match other {
                Some(other) => other,
                None => {
                    let turnaround = self
                        .connect_timeout
                        .map_or(MAX_TURNAROUND, |t| t.min(MAX_TURNAROUND));
                    tokio::time::sleep(turnaround).await;
                    match server.try_begin() {
                        Some(same) if !self.redispatch => same,
                        _ => self.pick(key, &[]).await?,
                    }
                }
            };
        }
    }
}
