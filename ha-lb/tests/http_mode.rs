//! `mode http` against real servers: balancing, header handling, errors,
//! bad input and run-time changes.

mod support;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use ha_lb::ServerState;
use http::{HeaderMap, Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use support::{Web, get, raw, start};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

fn two_servers(web1: &Web, web2: &Web, extra: &str) -> String {
    format!(
        "defaults\n  mode http\n  timeout connect 1s\n  timeout client 5s\n  timeout server 5s\n{extra}\n\
         frontend web\n  bind 127.0.0.1:0\n  default_backend webs\n\
         backend webs\n  balance roundrobin\n  server web1 {}\n  server web2 {}\n",
        web1.addr, web2.addr
    )
}

#[tokio::test]
async fn requests_alternate_between_servers() {
    let (web1, web2) = (
        Web::start("Welcome to Web1").await,
        Web::start("Welcome to Web2").await,
    );
    let (running, addr) = start(&two_servers(&web1, &web2, "")).await;
    let bodies = support::bodies(addr, 4).await;
    assert_eq!(
        bodies,
        [
            "Welcome to Web1",
            "Welcome to Web2",
            "Welcome to Web1",
            "Welcome to Web2"
        ]
    );
    running.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn drained_and_maintenance_servers_get_no_new_requests() {
    let (web1, web2) = (
        Web::start("Welcome to Web1").await,
        Web::start("Welcome to Web2").await,
    );
    let (running, addr) = start(&two_servers(&web1, &web2, "")).await;
    let webs = running.pool("webs").unwrap();
    webs.set_state("web1", ServerState::Drain).unwrap();
    for _ in 0..4 {
        assert_eq!(get(addr).await.unwrap().1, "Welcome to Web2");
    }
    webs.set_state("web2", ServerState::Maint).unwrap();
    let (status, body) = get(addr).await.unwrap();
    assert_eq!(status, 503);
    assert!(body.contains("No server is available"), "{body}");
    webs.set_state("web1", ServerState::Ready).unwrap();
    assert_eq!(get(addr).await.unwrap().1, "Welcome to Web1");
    running.shutdown(Duration::from_secs(1)).await;
}

/// What a recording server saw of one request.
#[derive(Debug, Clone)]
struct Seen {
    headers: HeaderMap,
    /// The body, or why it could not be read whole.
    body: Result<Bytes, String>,
}

/// A server that records every request and can be told to answer slowly.
async fn recorder(delay: Duration) -> (SocketAddr, Arc<Mutex<Vec<Seen>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let log = Arc::clone(&log);
            tokio::spawn(async move {
                let service = service_fn(move |req: Request<hyper::body::Incoming>| {
                    let log = Arc::clone(&log);
                    async move {
                        let headers = req.headers().clone();
                        let body = req
                            .into_body()
                            .collect()
                            .await
                            .map(|b| b.to_bytes())
                            .map_err(|e| e.to_string());
                        log.lock().unwrap().push(Seen { headers, body });
                        tokio::time::sleep(delay).await;
                        let mut res = Response::new(Full::new(Bytes::from_static(b"ok")));
                        res.headers_mut()
                            .insert("connection", "keep-alive, x-hop".parse().unwrap());
                        res.headers_mut().insert("x-hop", "secret".parse().unwrap());
                        Ok::<_, Infallible>(res)
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (addr, seen)
}

fn one_server(server: SocketAddr, extra: &str) -> String {
    format!(
        "defaults\n  mode http\n  timeout connect 1s\n  timeout client 5s\n  timeout server 5s\n{extra}\n\
         frontend web\n  bind 127.0.0.1:0\n  default_backend app\n\
         backend app\n  server s1 {server}\n"
    )
}

#[tokio::test]
async fn headers_are_forwarded_as_a_proxy_must() {
    let (server, seen) = recorder(Duration::ZERO).await;
    let (running, addr) = start(&one_server(server, "  option forwardfor")).await;
    let response = raw(
        addr,
        b"GET /x HTTP/1.1\r\nHost: www.example.com\r\nConnection: close, x-secret\r\nX-Secret: 1\r\nKeep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\nTE: trailers\r\nX-Kept: yes\r\n\r\n",
        Duration::from_secs(2),
    )
    .await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    // The server's hop-by-hop headers are not passed back either.
    assert!(
        !response.to_ascii_lowercase().contains("x-hop"),
        "{response}"
    );
    let seen = seen.lock().unwrap()[0].clone();
    let h = &seen.headers;
    assert_eq!(h["host"], "www.example.com");
    assert_eq!(h["x-forwarded-for"], "127.0.0.1");
    assert_eq!(h["x-kept"], "yes");
    for gone in ["x-secret", "keep-alive", "proxy-connection", "te"] {
        assert!(!h.contains_key(gone), "{gone} was forwarded: {h:?}");
    }
    running.shutdown(Duration::from_secs(1)).await;
}

/// A server that records the raw bytes of everything it receives and
/// answers each request head with a small response.
async fn raw_recorder() -> (SocketAddr, Arc<Mutex<Vec<u8>>>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let bytes = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&bytes);
    tokio::spawn(async move {
        loop {
            let (mut stream, _) = listener.accept().await.unwrap();
            let log = Arc::clone(&log);
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let mut pending = Vec::new();
                while let Ok(n) = stream.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    log.lock().unwrap().extend_from_slice(&buf[..n]);
                    pending.extend_from_slice(&buf[..n]);
                    // Answer once a head and the empty chunked body are in.
                    if pending.windows(5).any(|w| w == b"0\r\n\r\n") {
                        pending.clear();
                        let _ = stream
                            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                            .await;
                    }
                }
            });
        }
    });
    (addr, bytes)
}

#[tokio::test]
async fn a_request_with_both_lengths_never_reaches_the_server_with_both() {
    let (server, bytes) = raw_recorder().await;
    let (running, addr) = start(&one_server(server, "")).await;
    let response = raw(
        addr,
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n",
        Duration::from_secs(2),
    )
    .await;
    // Framed by Transfer-Encoding; the connection closes after the response,
    // so the trailing bytes are never read as a second request.
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert_eq!(response.matches("HTTP/1.1").count(), 1, "{response}");
    let received = String::from_utf8(bytes.lock().unwrap().clone())
        .unwrap()
        .to_ascii_lowercase();
    assert!(received.starts_with("post / http/1.1\r\n"), "{received}");
    assert!(!received.contains("content-length"), "{received}");
    assert!(!received.contains("/smuggled"), "{received}");
    assert_eq!(received.matches("post ").count(), 1, "{received}");
    running.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn bad_requests_get_400_and_the_proxy_keeps_serving() {
    let (server, seen) = recorder(Duration::ZERO).await;
    let (running, addr) = start(&one_server(server, "")).await;
    let vectors: &[(&str, &[u8])] = &[
        ("garbage request line", b"HELLO\r\n\r\n"),
        ("bad version", b"GET / HTTP/9.9\r\nHost: a\r\n\r\n"),
        (
            "space before colon",
            b"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n",
        ),
        (
            "obsolete line folding",
            b"GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n c\r\n\r\n",
        ),
        (
            "differing content lengths",
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
        ),
        (
            "signed content length",
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n",
        ),
        (
            "transfer-encoding not ending in chunked",
            b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n",
        ),
        (
            "transfer-encoding in HTTP/1.0",
            b"POST / HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        ),
        ("missing Host", b"GET / HTTP/1.1\r\n\r\n"),
        (
            "two Host headers",
            b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        ),
        (
            "NUL in a header value",
            b"GET / HTTP/1.1\r\nHost: a\r\nX-A: b\0c\r\n\r\n",
        ),
    ];
    for (what, bytes) in vectors {
        let response = raw(addr, bytes, Duration::from_secs(2)).await;
        assert!(response.starts_with("HTTP/1.1 400"), "{what}: {response:?}");
    }
    assert!(
        seen.lock().unwrap().is_empty(),
        "a bad request reached the server"
    );
    // Bad chunk size: the head was fine, so the request may start, but the
    // body is cut and no complete request reaches the server.
    let response = raw(
        addr,
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
        Duration::from_secs(2),
    )
    .await;
    assert!(!response.starts_with("HTTP/1.1 200"), "{response:?}");
    // What reached the server (if anything) is a cut body, never "hello".
    assert!(
        seen.lock()
            .unwrap()
            .iter()
            .all(|s| s.body.as_ref().is_err()),
        "a complete body reached the server"
    );
    // Oversized head.
    let mut big = b"GET / HTTP/1.1\r\nHost: a\r\n".to_vec();
    for i in 0..2000 {
        big.extend_from_slice(format!("X-Filler-{i}: {}\r\n", "y".repeat(40)).as_bytes());
    }
    big.extend_from_slice(b"\r\n");
    let response = raw(addr, &big, Duration::from_secs(2)).await;
    assert!(
        response.starts_with("HTTP/1.1 431") || response.starts_with("HTTP/1.1 400"),
        "{response:?}"
    );
    // Still serving.
    assert_eq!(get(addr).await.unwrap(), (200, "ok".to_owned()));
    running.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn a_slow_request_head_gets_408_while_others_are_served() {
    let (server, _seen) = recorder(Duration::ZERO).await;
    let (running, addr) = start(&one_server(server, "  timeout http-request 500ms")).await;
    // The slow head is on its way before the other request starts.
    let mut slow = TcpStream::connect(addr).await.unwrap();
    slow.write_all(b"GET / HTTP/1.1\r\nHost: a\r\nX-Slow")
        .await
        .unwrap();
    assert_eq!(get(addr).await.unwrap(), (200, "ok".to_owned()));
    let (response, _) = until_closed(&mut slow, Duration::from_secs(10)).await;
    assert!(response.starts_with("HTTP/1.1 408"), "{response:?}");
    running.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn a_server_that_does_not_answer_in_time_gets_504() {
    let (server, _seen) = recorder(Duration::from_secs(5)).await;
    let (running, addr) = start(&one_server(server, "  timeout server 300ms")).await;
    let (status, body) = get(addr).await.unwrap();
    assert_eq!(status, 504);
    assert!(body.contains("Gateway Time-out"), "{body}");
    running.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn a_server_that_breaks_gets_502() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (mut stream, _) = listener.accept().await.unwrap();
            use tokio::io::AsyncWriteExt;
            let _ = stream.write_all(b"HTTP/1.1 2OO NOT OK\r\n\r\n").await;
        }
    });
    let (running, addr) = start(&one_server(server, "")).await;
    let (status, body) = get(addr).await.unwrap();
    assert_eq!(status, 502);
    assert!(body.contains("Bad Gateway"), "{body}");
    running.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn graceful_shutdown_finishes_requests_in_flight() {
    let (server, _seen) = recorder(Duration::from_millis(500)).await;
    let (running, addr) = start(&one_server(server, "")).await;
    let (server, seen) = (server, _seen);
    let in_flight = tokio::spawn(async move { get(addr).await });
    // Shut down once the request has reached the server.
    let deadline = Instant::now() + Duration::from_secs(10);
    while seen.lock().unwrap().is_empty() {
        assert!(
            Instant::now() < deadline,
            "the request never reached the server"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let _ = server;
    let drained = running.shutdown(Duration::from_secs(5)).await;
    assert_eq!(in_flight.await.unwrap().unwrap(), (200, "ok".to_owned()));
    assert!(drained);
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "still accepting"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_queue_for_a_full_server_until_timeout_queue() {
    let (server, seen, peak) = counting(Duration::from_millis(300)).await;
    let config = format!(
        "defaults\n  mode http\n  timeout connect 1s\n  timeout client 5s\n  timeout server 5s\n  timeout queue 2s\n\
         frontend web\n  bind 127.0.0.1:0\n  default_backend app\n\
         backend app\n  server s1 {server} maxconn 1\n"
    );
    let (running, addr) = start(&config).await;
    // Three at once on a server that takes one at a time, 300 ms each:
    // all fit in the 2 s queue timeout, one after the other (the last
    // waits 600 ms: room for a busy machine).
    let started = std::time::Instant::now();
    let requests: Vec<_> = (0..3).map(|_| tokio::spawn(get(addr))).collect();
    for r in requests {
        assert_eq!(r.await.unwrap().unwrap(), (200, "ok".to_owned()));
    }
    assert!(
        started.elapsed() >= Duration::from_millis(850),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(seen.load(std::sync::atomic::Ordering::SeqCst), 3);
    // Ten at once: the last ones would wait 2.1 s and more, and get 503.
    let requests: Vec<_> = (0..10).map(|_| tokio::spawn(get(addr))).collect();
    let mut statuses = Vec::new();
    for r in requests {
        statuses.push(r.await.unwrap().unwrap().0);
    }
    statuses.sort();
    assert!(
        statuses.contains(&200) && statuses.contains(&503),
        "{statuses:?}"
    );
    // maxconn 1 held under two worker threads.
    assert_eq!(peak.load(std::sync::atomic::Ordering::SeqCst), 1);
    running.shutdown(Duration::from_secs(1)).await;
}

type Counter = Arc<std::sync::atomic::AtomicUsize>;

/// A server that counts requests and the most it ever handled at once.
async fn counting(delay: Duration) -> (SocketAddr, Counter, Counter) {
    use std::sync::atomic::Ordering;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (total, peak, now) = (Counter::default(), Counter::default(), Counter::default());
    let counters = (Arc::clone(&total), Arc::clone(&peak), now);
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let counters = counters.clone();
            tokio::spawn(async move {
                let service = service_fn(move |_req: Request<hyper::body::Incoming>| {
                    let (total, peak, now) = counters.clone();
                    async move {
                        let current = now.fetch_add(1, Ordering::SeqCst) + 1;
                        peak.fetch_max(current, Ordering::SeqCst);
                        tokio::time::sleep(delay).await;
                        now.fetch_sub(1, Ordering::SeqCst);
                        total.fetch_add(1, Ordering::SeqCst);
                        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"ok"))))
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (addr, total, peak)
}

#[tokio::test]
async fn an_in_process_server_added_at_run_time_takes_traffic() {
    use ha_lb::{InProcessBackend, ServerSpec};
    let web1 = Web::start("Welcome to Web1").await;
    let (running, addr) = start(&format!(
        "defaults\n  mode http\n  timeout connect 1s\n  timeout client 5s\n  timeout server 5s\n\
         frontend web\n  bind 127.0.0.1:0\n  default_backend webs\n\
         backend webs\n  server web1 {}\n",
        web1.addr
    ))
    .await;
    let handler: ha_lb::backend::Handler = Arc::new(|stream| {
        tokio::spawn(async move {
            let service = service_fn(|_req: Request<hyper::body::Incoming>| async {
                Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"in-process"))))
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    });
    let webs = running.pool("webs").unwrap();
    webs.add(ServerSpec::new(
        "local",
        Arc::new(InProcessBackend::new(handler)),
    ))
    .unwrap();
    let mut bodies = support::bodies(addr, 4).await;
    bodies.sort();
    assert_eq!(
        bodies,
        [
            "Welcome to Web1",
            "Welcome to Web1",
            "in-process",
            "in-process"
        ]
    );
    webs.remove("web1").unwrap();
    for _ in 0..3 {
        assert_eq!(get(addr).await.unwrap().1, "in-process");
    }
    assert!(webs.remove("web1").is_err());
    running.shutdown(Duration::from_secs(1)).await;
}

/// A server whose `/health` answers the status the test sets; other paths 200.
async fn health_controlled() -> (SocketAddr, Arc<std::sync::atomic::AtomicU16>) {
    use std::sync::atomic::{AtomicU16, Ordering};
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let status = Arc::new(AtomicU16::new(200));
    let shared = Arc::clone(&status);
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let status = Arc::clone(&shared);
            tokio::spawn(async move {
                let service = service_fn(move |req: Request<hyper::body::Incoming>| {
                    let code = if req.uri().path() == "/health" {
                        status.load(Ordering::SeqCst)
                    } else {
                        200
                    };
                    async move {
                        let mut res = Response::new(Full::new(Bytes::from_static(b"app")));
                        *res.status_mut() = http::StatusCode::from_u16(code).unwrap();
                        Ok::<_, Infallible>(res)
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (addr, status)
}

#[tokio::test]
async fn httpchk_takes_a_server_out_on_a_bad_status_and_back() {
    use std::sync::atomic::Ordering;
    let (server, health) = health_controlled().await;
    let config = format!(
        "defaults\n  mode http\n  timeout connect 1s\n  timeout client 5s\n  timeout server 5s\n\
         frontend web\n  bind 127.0.0.1:0\n  default_backend app\n\
         backend app\n  option httpchk GET /health\n  http-check expect status 200\n\
         server s1 {server} check inter 100ms rise 2 fall 2\n"
    );
    let (running, addr) = start(&config).await;
    let app = running.pool("app").unwrap();
    let wait_for = |state: ha_core::State| {
        let app = Arc::clone(&app);
        async move {
            // Two checks 100 ms apart; ten seconds for a busy machine.
            for _ in 0..500 {
                if app.server("s1").unwrap().health() == state {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            panic!("s1 never became {state}");
        }
    };
    assert_eq!(get(addr).await.unwrap(), (200, "app".to_owned()));
    health.store(503, Ordering::SeqCst);
    wait_for(ha_core::State::Down).await;
    assert_eq!(get(addr).await.unwrap().0, 503);
    health.store(200, Ordering::SeqCst);
    wait_for(ha_core::State::Up).await;
    assert_eq!(get(addr).await.unwrap(), (200, "app".to_owned()));
    running.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn an_absolute_form_target_is_routed_by_its_own_host() {
    let (public, _) = recorder(Duration::ZERO).await;
    let (admin, admin_seen) = recorder(Duration::ZERO).await;
    let config = format!(
        "defaults\n  mode http\n  timeout connect 1s\n  timeout client 5s\n  timeout server 5s\n\
         frontend web\n  bind 127.0.0.1:0\n  acl is_admin hdr(host) -i admin.internal\n\
         use_backend admin if is_admin\n  default_backend public\n\
         backend public\n  server p {public}\nbackend admin\n  server a {admin}\n"
    );
    let (running, addr) = start(&config).await;
    let response = raw(
        addr,
        b"GET http://admin.internal/secret HTTP/1.1\r\nHost: public.example.com\r\nConnection: close\r\n\r\n",
        Duration::from_secs(2),
    )
    .await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    // The rules saw the Host the server sees.
    let seen = admin_seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].headers["host"], "admin.internal");
    running.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn a_server_stalling_mid_body_is_cut_after_timeout_server() {
    use tokio::io::AsyncWriteExt;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut buf = [0u8; 1024];
        let _ = tokio::io::AsyncReadExt::read(&mut stream, &mut buf).await;
        let _ = stream
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nfirst part")
            .await;
        tokio::time::sleep(Duration::from_secs(30)).await;
    });
    let (running, addr) = start(&one_server(server, "  timeout server 300ms")).await;
    let started = std::time::Instant::now();
    let response = raw(
        addr,
        b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
        Duration::from_secs(5),
    )
    .await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.ends_with("first part"), "{response}");
    // raw() returned because the proxy closed, not because it gave up waiting.
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    running.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn a_client_stalling_its_upload_gets_408_after_timeout_client() {
    let (server, seen) = recorder(Duration::ZERO).await;
    let (running, addr) = start(&format!(
        "defaults\n  mode http\n  timeout connect 1s\n  timeout client 300ms\n  timeout server 5s\n\
         frontend web\n  bind 127.0.0.1:0\n  default_backend app\nbackend app\n  server s1 {server}\n"
    ))
    .await;
    let response = raw(
        addr,
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc",
        Duration::from_secs(3),
    )
    .await;
    assert!(response.starts_with("HTTP/1.1 408"), "{response:?}");
    assert!(seen.lock().unwrap().iter().all(|s| s.body.is_err()));
    running.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn websocket_style_upgrades_become_tunnels() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // A server that switches to an echo protocol on `Upgrade: echo`.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            tokio::spawn(async move {
                let service = service_fn(|mut req: Request<hyper::body::Incoming>| async move {
                    assert_eq!(req.headers()["upgrade"], "echo");
                    let upgrade = hyper::upgrade::on(&mut req);
                    tokio::spawn(async move {
                        let mut io = TokioIo::new(upgrade.await.unwrap());
                        let mut buf = [0u8; 64];
                        loop {
                            let n = io.read(&mut buf).await.unwrap_or(0);
                            if n == 0 || io.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                        }
                    });
                    let mut res = Response::new(Full::new(Bytes::new()));
                    *res.status_mut() = http::StatusCode::SWITCHING_PROTOCOLS;
                    res.headers_mut().insert("upgrade", "echo".parse().unwrap());
                    res.headers_mut()
                        .insert("connection", "upgrade".parse().unwrap());
                    Ok::<_, Infallible>(res)
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .with_upgrades()
                    .await;
            });
        }
    });
    let (running, addr) = start(&one_server(server, "  timeout tunnel 10s")).await;
    let mut client = tokio::net::TcpStream::connect(addr).await.unwrap();
    client
        .write_all(b"GET /chat HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
        .await
        .unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        client.read_exact(&mut byte).await.unwrap();
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).unwrap().to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 101"), "{head}");
    assert!(head.contains("upgrade: echo"), "{head}");
    for message in [&b"ping"[..], b"a longer message"] {
        client.write_all(message).await.unwrap();
        let mut back = vec![0u8; message.len()];
        tokio::time::timeout(Duration::from_secs(2), client.read_exact(&mut back))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(back, message);
    }
    running.shutdown(Duration::from_secs(1)).await;
}

/// Reads until the proxy closes the connection (read returns 0, or the
/// connection is reset), at most `limit`; returns what was read and how
/// long the wait was.
async fn until_closed(stream: &mut TcpStream, limit: Duration) -> (String, Duration) {
    let started = Instant::now();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = limit.saturating_sub(started.elapsed());
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
            Err(_) => panic!(
                "still open after {limit:?}; read {:?}",
                String::from_utf8_lossy(&out)
            ),
        }
    }
    (
        String::from_utf8_lossy(&out).into_owned(),
        started.elapsed(),
    )
}

/// Sends one keep-alive GET and reads its whole response (the recorder
/// answers `ok`, two bytes).
async fn keep_alive_get(stream: &mut TcpStream) {
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        .await
        .unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while !(out.windows(4).any(|w| w == b"\r\n\r\n") && out.ends_with(b"ok")) {
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf))
            .await
            .expect("a response in time")
            .unwrap();
        assert!(n > 0, "closed before the response: {out:?}");
        out.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&out);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(!text.contains("onnection: close"), "{text}");
}

/// After a response, an idle keep-alive connection is closed (quietly)
/// once `timeout` has passed without a new request, and not before.
async fn closes_when_idle_for(extra: &str, timeout: Duration) {
    let (server, _seen) = recorder(Duration::ZERO).await;
    let (running, addr) = start(&format!(
        "defaults\n  mode http\n  timeout connect 1s\n  timeout server 5s\n{extra}\n\
         frontend web\n  bind 127.0.0.1:0\n  default_backend app\n\
         backend app\n  server s1 {server}\n"
    ))
    .await;
    let mut client = TcpStream::connect(addr).await.unwrap();
    keep_alive_get(&mut client).await;
    keep_alive_get(&mut client).await;
    let (rest, idle) = until_closed(&mut client, Duration::from_secs(20)).await;
    assert_eq!(rest, "", "closed without a word between requests");
    // The proxy's wait began as it finished the response, a moment before
    // this client had read it all.
    assert!(idle >= timeout.mul_f32(0.8), "closed after {idle:?}");
    running.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn an_idle_keep_alive_connection_closes_after_timeout_http_keep_alive() {
    // Far below the other client timeouts, which would close it after 30 s.
    closes_when_idle_for(
        "  timeout client 30s\n  timeout http-request 30s\n  timeout http-keep-alive 500ms",
        Duration::from_millis(500),
    )
    .await;
}

#[tokio::test]
async fn without_http_keep_alive_the_idle_wait_is_timeout_http_request_then_client() {
    closes_when_idle_for(
        "  timeout client 30s\n  timeout http-request 500ms",
        Duration::from_millis(500),
    )
    .await;
    closes_when_idle_for("  timeout client 500ms", Duration::from_millis(500)).await;
}

#[tokio::test]
async fn a_keep_alive_longer_than_http_request_lets_a_late_request_in() {
    let (server, _seen) = recorder(Duration::ZERO).await;
    let (running, addr) = start(&one_server(
        server,
        "  timeout http-request 300ms\n  timeout http-keep-alive 10s",
    ))
    .await;
    let mut client = TcpStream::connect(addr).await.unwrap();
    keep_alive_get(&mut client).await;
    // Idle for longer than `timeout http-request`, within the keep-alive:
    // the wait being tested, not a synchronisation.
    tokio::time::sleep(Duration::from_millis(900)).await;
    keep_alive_get(&mut client).await;
    // Then a head that stalls gets `timeout http-request`, not the
    // keep-alive's 10 s, and a 408.
    client
        .write_all(b"GET / HTTP/1.1\r\nHost: a\r\n")
        .await
        .unwrap();
    let (response, took) = until_closed(&mut client, Duration::from_secs(8)).await;
    assert!(response.starts_with("HTTP/1.1 408"), "{response:?}");
    assert!(took >= Duration::from_millis(300), "{took:?}");
    running.shutdown(Duration::from_secs(1)).await;
}
