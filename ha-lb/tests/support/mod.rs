//! Test servers and clients shared by ha-lb's integration tests (and the
//! `ha-lb` binary's tests in the examples crate).
#![allow(dead_code)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

/// A web server answering every request with a fixed text, which can be
/// killed (listener and every open connection) and started again on the
/// same port.
pub struct Web {
    pub addr: SocketAddr,
    text: &'static str,
    pub hits: Arc<AtomicU64>,
    tasks: Option<tokio::task::JoinHandle<()>>,
}

impl Web {
    pub async fn start(text: &'static str) -> Self {
        Self::start_on("127.0.0.1:0".parse().unwrap(), text, Arc::default()).await
    }

    async fn start_on(addr: SocketAddr, text: &'static str, hits: Arc<AtomicU64>) -> Self {
        let socket =
            socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        socket.set_reuse_address(true).unwrap();
        socket.set_nonblocking(true).unwrap();
        socket.bind(&addr.into()).unwrap();
        socket.listen(1024).unwrap();
        let listener = TcpListener::from_std(socket.into()).unwrap();
        let addr = listener.local_addr().unwrap();
        let counter = Arc::clone(&hits);
        let tasks = tokio::spawn(async move {
            // Connections live in this set, so aborting the task kills them all.
            let mut connections = JoinSet::new();
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                let hits = Arc::clone(&counter);
                connections.spawn(async move {
                    let service = service_fn(move |req: Request<hyper::body::Incoming>| {
                        let hits = Arc::clone(&hits);
                        async move {
                            let _ = req.into_body().collect().await;
                            hits.fetch_add(1, Ordering::SeqCst);
                            Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(
                                text.as_bytes(),
                            ))))
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self {
            addr,
            text,
            hits,
            tasks: Some(tasks),
        }
    }

    /// Stops listening and drops every connection, like a killed process.
    pub async fn kill(&mut self) {
        if let Some(tasks) = self.tasks.take() {
            tasks.abort();
            let _ = tasks.await;
        }
    }

    /// Starts again on the same address.
    pub async fn restart(&mut self) {
        self.kill().await;
        let (addr, text, hits) = (self.addr, self.text, Arc::clone(&self.hits));
        *self = Self::start_on(addr, text, hits).await;
    }
}

impl Drop for Web {
    fn drop(&mut self) {
        if let Some(tasks) = self.tasks.take() {
            tasks.abort();
        }
    }
}

/// A free port on loopback (bound and released; fine for tests).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until something accepts connections on `addr`.
pub async fn wait_listening(addr: SocketAddr) {
    for _ in 0..500 {
        if TcpStream::connect(addr).await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("nothing listens on {addr}");
}

/// One GET on a new connection (as curl does); the body as text.
pub async fn get(addr: SocketAddr) -> Result<(u16, String), String> {
    let stream = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    request(&mut sender, addr).await
}

/// The bodies of `n` GETs, each on a new connection.
pub async fn bodies(addr: SocketAddr, n: usize) -> Vec<String> {
    let mut bodies = Vec::with_capacity(n);
    for _ in 0..n {
        bodies.push(get(addr).await.unwrap().1);
    }
    bodies
}

/// One GET on an existing client connection.
pub async fn request(
    sender: &mut hyper::client::conn::http1::SendRequest<http_body_util::Empty<Bytes>>,
    addr: SocketAddr,
) -> Result<(u16, String), String> {
    let req = Request::get("/")
        .header("host", addr.to_string())
        .body(http_body_util::Empty::new())
        .unwrap();
    let res = sender.send_request(req).await.map_err(|e| e.to_string())?;
    let status = res.status().as_u16();
    let body = res
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

/// Sends raw bytes and returns everything read until the server closes or
/// `wait` passes without data.
pub async fn raw(addr: SocketAddr, bytes: &[u8], wait: Duration) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(bytes).await.unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(wait, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => break,
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Whether a privileged or peer-dependent test may skip: no under CI=true,
/// where a missing prerequisite is a failure.
pub fn skip(reason: &str) -> bool {
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("required under CI: {reason}");
    }
    eprintln!("SKIPPED: {reason}");
    true
}

/// A balancer started from haproxy.cfg text, and its first frontend's
/// address.
pub async fn start(config: &str) -> (ha_lb::Running, SocketAddr) {
    let imported = ha_lb::config::haproxy::parse_str(config, "test.cfg".as_ref()).unwrap();
    let running = ha_lb::LoadBalancer::bind(imported.config)
        .unwrap()
        .start()
        .await
        .unwrap();
    let addr = running.local_addrs()[0].1;
    (running, addr)
}

/// A TCP server echoing each connection until the client half-closes,
/// then closing its side.
pub async fn echo_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (mut stream, _) = listener.accept().await.unwrap();
            tokio::spawn(async move {
                let (mut r, mut w) = stream.split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
                let _ = w.shutdown().await;
            });
        }
    });
    addr
}
