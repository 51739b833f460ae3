//! Keep-alive connections to servers, reused across requests.
//!
//! A connection goes back to its server's pool as soon as its response head
//! has arrived; while its body is still streaming it is busy
//! (`is_ready() == false`) and checkouts pass over it. Closed connections are
//! dropped when met.

use std::collections::VecDeque;
use std::sync::Mutex;

use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;

/// Idle connections kept per server at most; more are closed.
const MAX_IDLE: usize = 256;

/// The reusable connections to one server.
#[derive(Debug, Default)]
pub(crate) struct ConnPool {
    idle: Mutex<VecDeque<SendRequest<Incoming>>>,
}

impl ConnPool {
    /// A connection ready for a request, if one is pooled.
    pub fn checkout(&self) -> Option<SendRequest<Incoming>> {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        for _ in 0..idle.len() {
            let conn = idle.pop_front()?;
            if conn.is_closed() {
                continue;
            }
            if conn.is_ready() {
                return Some(conn);
            }
            idle.push_back(conn);
        }
        None
    }

    /// Returns a connection for reuse.
    pub fn checkin(&self, conn: SendRequest<Incoming>) {
        if conn.is_closed() {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < MAX_IDLE {
            idle.push_back(conn);
        }
    }

    /// Closes every pooled connection (the server left or went down).
    pub fn clear(&self) {
        self.idle.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }
}
