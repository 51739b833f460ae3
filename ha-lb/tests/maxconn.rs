//! Connection limits: the global and per-frontend `maxconn` hold extra
//! clients in the listen queue and count it, and without a `maxconn` the
//! global limit is computed from the open file limit.

mod support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use ha_lb::config::haproxy;
use ha_lb::{FrontendCounters, LoadBalancer, Running};
use support::{echo_server, start};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn config(global: &str, frontend: &str, echo: SocketAddr) -> String {
    format!(
        "global\n{global}\ndefaults\n  mode tcp\n  timeout connect 5s\n  timeout client 30s\n  \
         timeout server 30s\nlisten echo\n  bind 127.0.0.1:0\n{frontend}\n  server e1 {echo}\n"
    )
}

/// A connection through the proxy that has been accepted and echoes.
async fn echoing(addr: SocketAddr) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    assert_eq!(echo(&mut stream, Duration::from_secs(10)).await, Some(()));
    stream
}

/// Sends a byte and waits up to `limit` for it to come back.
async fn echo(stream: &mut TcpStream, limit: Duration) -> Option<()> {
    stream.write_all(b"x").await.unwrap();
    read_one(stream, limit).await
}

async fn read_one(stream: &mut TcpStream, limit: Duration) -> Option<()> {
    let mut byte = [0u8; 1];
    match tokio::time::timeout(limit, stream.read_exact(&mut byte)).await {
        Ok(Ok(_)) => Some(()),
        _ => None,
    }
}

/// Waits (up to a generous bound) until the counters satisfy `done`.
async fn counters_until(
    running: &Running,
    done: impl Fn(&FrontendCounters) -> bool,
) -> FrontendCounters {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let counters = running.frontend_counters("echo").unwrap();
        if done(&counters) {
            return counters;
        }
        assert!(Instant::now() < deadline, "counters stuck at {counters}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// At the limit, a new client completes its TCP handshake (the kernel
/// queues it) but is not served until a slot frees; then it is.
async fn holds_the_next_client_until_one_leaves(
    running: &Running,
    addr: SocketAddr,
    limit: usize,
    reached: impl Fn(&FrontendCounters) -> u64,
) {
    let mut open = Vec::new();
    for _ in 0..limit {
        open.push(echoing(addr).await);
    }
    // The accept loop found every slot taken: counted, before the next
    // client even arrives.
    counters_until(running, |c| reached(c) >= 1).await;
    let mut waiting = TcpStream::connect(addr).await.unwrap();
    waiting.write_all(b"x").await.unwrap();
    assert_eq!(
        read_one(&mut waiting, Duration::from_millis(300)).await,
        None,
        "served beyond maxconn"
    );
    drop(open.pop());
    assert_eq!(
        read_one(&mut waiting, Duration::from_secs(10)).await,
        Some(()),
        "the queued client is served once a slot frees"
    );
    let counters = counters_until(running, |c| c.connections == limit as u64 + 1).await;
    assert_eq!(counters.connections, limit as u64 + 1);
}

#[tokio::test]
async fn the_global_maxconn_holds_new_clients_in_the_listen_queue_and_counts_it() {
    let echo = echo_server().await;
    let (running, addr) = start(&config("  maxconn 2", "", echo)).await;
    assert_eq!(running.maxconn(), 2);
    holds_the_next_client_until_one_leaves(&running, addr, 2, |c| c.global_maxconn_reached).await;
    assert_eq!(
        running.frontend_counters("echo").unwrap().maxconn_reached,
        0
    );
    running.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn a_frontends_maxconn_holds_its_new_clients_and_counts_it() {
    let echo = echo_server().await;
    let (running, addr) = start(&config("  maxconn 100", "  maxconn 1", echo)).await;
    holds_the_next_client_until_one_leaves(&running, addr, 1, |c| c.maxconn_reached).await;
    assert_eq!(
        running
            .frontend_counters("echo")
            .unwrap()
            .global_maxconn_reached,
        0
    );
    running.shutdown(Duration::from_secs(1)).await;
}

/// Set in the child process that runs with a lowered open file limit.
const LOWERED: &str = "HA_LB_TEST_LOWERED_NOFILE";

#[test]
fn without_maxconn_the_global_limit_follows_the_open_file_limit() {
    if std::env::var_os(LOWERED).is_none() {
        // Lowering the limit would starve the other tests of this process:
        // do it in a child running only this test.
        let status = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "without_maxconn_the_global_limit_follows_the_open_file_limit",
                "--test-threads=1",
            ])
            .env(LOWERED, "1")
            .status()
            .unwrap();
        assert!(status.success(), "the child test failed: {status}");
        return;
    }
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let (_, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
    setrlimit(Resource::RLIMIT_NOFILE, 400, hard).unwrap();
    // Two listeners and one checked server hold three descriptors.
    let text = "defaults\n  mode tcp\n  timeout connect 5s\n  timeout client 30s\n  \
                timeout server 30s\nlisten echo\n  bind 127.0.0.1:0\n  bind 127.0.0.1:0\n  \
                server e1 127.0.0.1:9 check\n";
    let imported = haproxy::parse_str(text, "test.cfg".as_ref()).unwrap();
    assert_eq!(imported.config.global.maxconn, None);
    let lb = LoadBalancer::bind(imported.config).unwrap();
    // (400 - 3 for the configuration - 16 for the process) / 2.
    assert_eq!(lb.maxconn(), 190);
    assert_eq!(lb.maxconn(), ha_lb::maxconn::automatic(400, 3));
    // A configured limit wins over the computed one.
    let text = format!("global\n  maxconn 5000\n{text}");
    let imported = haproxy::parse_str(&text, "test.cfg".as_ref()).unwrap();
    assert_eq!(LoadBalancer::bind(imported.config).unwrap().maxconn(), 5000);
}
