//! Keep-alive connections to servers, reused across requests.
//!
//! A connection goes back to its server's keep-alive list as soon as its response head
//! has arrived; while its body is still streaming it is busy
//! (`is_ready() == false`) and checkouts pass over it. Closed connections are
//! dropped when met, and so are connections idle for longer than
//! [`MAX_IDLE_AGE`]: servers close idle keep-alive connections after a few
//! seconds (Apache after 5), and a request written just as the server closes
//! is lost.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use hyper::client::conn::http1::SendRequest;
use tokio::time::Instant;

use super::idle::Activity;
use super::timed::TimedBody;

/// Idle connections kept per server at most; more are closed.
const MAX_IDLE: usize = 256;
/// Idle connections older than this are not reused.
pub(crate) const MAX_IDLE_AGE: Duration = Duration::from_secs(4);

/// A client connection to a server and the activity counter of its stream.
#[derive(Debug)]
pub(crate) struct Conn {
    pub sender: SendRequest<TimedBody>,
    pub activity: Activity,
}

#[derive(Debug)]
struct Idle {
    conn: Conn,
    since: Instant,
}

/// The reusable connections to one server.
#[derive(Debug, Default)]
pub(crate) struct KeepAlive {
    idle: Mutex<VecDeque<Idle>>,
}

impl KeepAlive {
    /// A connection ready for a request, if one is kept, and how long it
    /// has been idle.
    pub fn checkout(&self) -> Option<(Conn, Duration)> {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        for _ in 0..idle.len() {
            let entry = idle.pop_front()?;
            let age = now.duration_since(entry.since);
            if entry.conn.sender.is_closed() || age > MAX_IDLE_AGE {
                continue;
            }
            if entry.conn.sender.is_ready() {
                return Some((entry.conn, age));
            }
            idle.push_back(entry);
        }
        None
    }

    /// Returns a connection for reuse.
    pub fn checkin(&self, conn: Conn) {
        if conn.sender.is_closed() {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < MAX_IDLE {
            idle.push_back(Idle {
                conn,
                since: Instant::now(),
            });
        }
    }

    /// Closes every kept connection (the server left or went down).
    pub fn clear(&self) {
        self.idle.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }
}
