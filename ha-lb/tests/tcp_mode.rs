//! `mode tcp` against a real echo server: integrity, half-close, retries.

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use support::{echo_server, start};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[tokio::test]
async fn a_hundred_megabytes_come_back_intact_and_half_close_works() {
    let echo = echo_server().await;
    let (running, addr) = start(&format!(
        "defaults\n  mode tcp\n  timeout connect 5s\n  timeout client 30s\n  timeout server 30s\n\
         listen echo\n  bind 127.0.0.1:0\n  server e1 {echo}\n"
    ))
    .await;
    const TOTAL: usize = 100 * 1024 * 1024;
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut r, mut w) = stream.into_split();
    let writer = tokio::spawn(async move {
        let mut block = vec![0u8; 64 * 1024];
        let mut sum = 0u64;
        let mut sent = 0usize;
        let mut x = 0x1234_5678_u32;
        while sent < TOTAL {
            for b in block.iter_mut() {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                *b = x as u8;
            }
            w.write_all(&block).await.unwrap();
            sum = block
                .iter()
                .fold(sum, |s, &b| s.wrapping_mul(31).wrapping_add(u64::from(b)));
            sent += block.len();
        }
        // Half-close: the echo server sees EOF, finishes echoing, closes.
        w.shutdown().await.unwrap();
        sum
    });
    let mut received = 0usize;
    let mut sum = 0u64;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = r.read(&mut buf).await.unwrap();
        if n == 0 {
            break;
        }
        sum = buf[..n]
            .iter()
            .fold(sum, |s, &b| s.wrapping_mul(31).wrapping_add(u64::from(b)));
        received += n;
    }
    assert_eq!(received, TOTAL);
    assert_eq!(sum, writer.await.unwrap());
    running.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn a_refused_connection_is_redispatched_to_a_live_server() {
    let echo = echo_server().await;
    let dead = support::free_port();
    let (running, addr) = start(&format!(
        "defaults\n  mode tcp\n  timeout connect 1s\n  option redispatch\n\
         listen echo\n  bind 127.0.0.1:0\n  balance roundrobin\n  server dead 127.0.0.1:{dead}\n  server live {echo}\n"
    ))
    .await;
    for _ in 0..4 {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.write_all(b"ping").await.unwrap();
        stream.shutdown().await.unwrap();
        let mut back = Vec::new();
        tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut back))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(back, b"ping");
    }
    running.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn an_idle_client_is_cut_after_timeout_client() {
    let echo = echo_server().await;
    let (running, addr) = start(&format!(
        "defaults\n  mode tcp\n  timeout client 300ms\n  timeout server 30s\n\
         listen echo\n  bind 127.0.0.1:0\n  server e1 {echo}\n"
    ))
    .await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(b"x").await.unwrap();
    let mut buf = [0u8; 1];
    stream.read_exact(&mut buf).await.unwrap();
    let started = std::time::Instant::now();
    let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf))
        .await
        .expect("the proxy should close an idle connection")
        .expect("a clean close, not a reset");
    assert_eq!(n, 0);
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(250), "{waited:?}");
    running.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn use_backend_routes_connections_by_source_address() {
    // Two echo servers that prefix what they send back, to tell them apart.
    async fn tagged(tag: &'static [u8]) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            loop {
                let (mut stream, _) = listener.accept().await.unwrap();
                let _ = stream.write_all(tag).await;
                let _ = stream.shutdown().await;
            }
        });
        addr
    }
    let (local, other) = (tagged(b"local").await, tagged(b"other").await);
    let (running, addr) = start(&format!(
        "defaults\n  mode tcp\n  timeout connect 1s\n\
         frontend f\n  bind 127.0.0.1:0\n  acl from_lo src 127.0.0.0/8\n  use_backend lo if from_lo\n  default_backend rest\n\
         backend lo\n  server l {local}\nbackend rest\n  server o {other}\n"
    ))
    .await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let mut got = Vec::new();
    stream.read_to_end(&mut got).await.unwrap();
    assert_eq!(got, b"local");
    running.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn shutdown_drops_tunnels_that_outlive_the_grace_period() {
    let echo = echo_server().await;
    let (running, addr) = start(&format!(
        "defaults\n  mode tcp\n  timeout client 30s\n  timeout server 30s\n\
         listen echo\n  bind 127.0.0.1:0\n  server e1 {echo}\n"
    ))
    .await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(b"x").await.unwrap();
    let mut one = [0u8; 1];
    stream.read_exact(&mut one).await.unwrap();
    let drained = running.shutdown(Duration::from_millis(200)).await;
    assert!(!drained);
    let n = tokio::time::timeout(Duration::from_secs(2), stream.read(&mut one))
        .await
        .expect("the tunnel should be closed after the grace period")
        .unwrap_or(0);
    assert_eq!(n, 0);
}

#[tokio::test]
async fn global_maxconn_holds_new_clients_in_the_backlog() {
    let echo = echo_server().await;
    let (running, addr) = start(&format!(
        "global\n  maxconn 1\ndefaults\n  mode tcp\n  timeout connect 1s\n\
         listen echo\n  bind 127.0.0.1:0\n  server e1 {echo}\n"
    ))
    .await;
    let mut first = TcpStream::connect(addr).await.unwrap();
    first.write_all(b"1").await.unwrap();
    let mut one = [0u8; 1];
    first.read_exact(&mut one).await.unwrap();
    // The second client's connect completes in the kernel's backlog, but
    // ha-lb does not serve it while the first holds the only slot.
    let mut second = TcpStream::connect(addr).await.unwrap();
    second.write_all(b"2").await.unwrap();
    let waited =
        tokio::time::timeout(Duration::from_millis(300), second.read_exact(&mut one)).await;
    assert!(waited.is_err(), "served beyond maxconn");
    drop(first);
    tokio::time::timeout(Duration::from_secs(2), second.read_exact(&mut one))
        .await
        .expect("served once the slot is free")
        .unwrap();
    assert_eq!(&one, b"2");
    running.shutdown(Duration::from_secs(1)).await;
}
