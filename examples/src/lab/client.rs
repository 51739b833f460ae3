//! The lab's client: `curl http://VIP/` in a loop, a new connection per
//! request, recording every answer so each drill can count what it saw.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One request's outcome.
#[derive(Debug, Clone)]
pub struct Sample {
    /// When it was sent.
    pub started: Instant,
    /// When it finished.
    pub at: Instant,
    /// The page, or why there was none.
    pub result: Result<String, String>,
}

/// Fetches `http://addr/` once (HTTP/1.1, `Connection: close`), with a
/// one-second limit, like `curl -m 1`.
pub async fn get(addr: SocketAddr) -> Result<String, String> {
    let exchange = async {
        let mut stream = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("connect: {e}"))?;
        let request = format!(
            "GET / HTTP/1.1\r\nHost: {}\r\nUser-Agent: ha-lab\r\nConnection: close\r\n\r\n",
            addr.ip()
        );
        stream
            .write_all(request.as_bytes())
            .await
            .map_err(|e| format!("send: {e}"))?;
        let mut response = Vec::new();
        stream
            .read_to_end(&mut response)
            .await
            .map_err(|e| format!("receive: {e}"))?;
        let text = String::from_utf8_lossy(&response);
        let (head, body) = text
            .split_once("\r\n\r\n")
            .ok_or("an incomplete response")?;
        let status = head.split_whitespace().nth(1).unwrap_or("?");
        if status != "200" {
            return Err(format!("HTTP {status}"));
        }
        Ok(body.trim().to_owned())
    };
    match tokio::time::timeout(Duration::from_secs(1), exchange).await {
        Ok(result) => result,
        Err(_) => Err("timed out after 1 s".into()),
    }
}

/// A client sending requests continuously, one at a time, `pause` apart.
#[derive(Debug)]
pub struct Client {
    samples: Arc<Mutex<Vec<Sample>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Client {
    /// Starts requesting `addr` on `runtime` (whose threads decide the
    /// network namespace the client's connections come from).
    pub fn start(runtime: &tokio::runtime::Handle, addr: SocketAddr, pause: Duration) -> Self {
        let samples: Arc<Mutex<Vec<Sample>>> = Arc::default();
        let record = samples.clone();
        let task = runtime.spawn(async move {
            loop {
                let started = Instant::now();
                let result = get(addr).await;
                let failed = result.is_err();
                record.lock().expect("not poisoned").push(Sample {
                    started,
                    at: Instant::now(),
                    result,
                });
                // A refused connection returns at once: do not spin.
                tokio::time::sleep(if failed {
                    pause.max(Duration::from_millis(5))
                } else {
                    pause
                })
                .await;
            }
        });
        Self { samples, task }
    }

    /// Everything recorded since `since`.
    pub fn since(&self, since: Instant) -> Vec<Sample> {
        self.samples
            .lock()
            .expect("not poisoned")
            .iter()
            .filter(|s| s.started >= since)
            .cloned()
            .collect()
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What a drill's client saw.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Tally {
    /// Requests sent.
    pub sent: usize,
    /// Requests that failed.
    pub failed: usize,
    /// The longest time without a successful answer.
    pub longest_gap: Duration,
}

/// Counts `samples`, the gap measured from `start`.
pub fn tally(samples: &[Sample], start: Instant) -> Tally {
    let mut last_ok = start;
    let mut tally = Tally::default();
    for s in samples {
        tally.sent += 1;
        match &s.result {
            Ok(_) => {
                tally.longest_gap = tally.longest_gap.max(s.at - last_ok);
                last_ok = s.at;
            }
            Err(_) => tally.failed += 1,
        }
    }
    if let Some(last) = samples.last() {
        tally.longest_gap = tally.longest_gap.max(last.at - last_ok);
    }
    tally
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tally_counts_failures_and_the_longest_gap() {
        let t0 = Instant::now();
        let at = |ms| t0 + Duration::from_millis(ms);
        let ok = |ms| Sample {
            started: at(ms),
            at: at(ms),
            result: Ok("Welcome to Web1".into()),
        };
        let err = |ms| Sample {
            started: at(ms),
            at: at(ms),
            result: Err("connect: refused".into()),
        };
        let t = tally(&[ok(10), err(20), err(30), ok(500), ok(510)], t0);
        assert_eq!(t.sent, 5);
        assert_eq!(t.failed, 2);
        assert_eq!(t.longest_gap, Duration::from_millis(490));
    }
}
