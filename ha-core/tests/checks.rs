//! The built-in checks against real servers on loopback.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use ha_core::{CheckError, CommandCheck, HealthCheck, HttpCheck, Script, StatusMatch, TcpCheck};
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

const SHORT: Duration = Duration::from_millis(300);

/// A port on loopback with nothing listening.
async fn closed_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap()
}

#[tokio::test]
async fn tcp_check_passes_when_something_listens() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let check = TcpCheck::new(listener.local_addr().unwrap(), SHORT);
    assert_eq!(check.check().await, Ok(()));
}

#[tokio::test]
async fn tcp_check_reports_refused_connections() {
    let check = TcpCheck::new(closed_port().await, SHORT);
    let err = check.check().await.unwrap_err();
    assert_eq!(err, CheckError::Connect("Connection refused".into()));
    assert_eq!(
        err.to_string(),
        r#"Layer4 connection problem, info: "Connection refused""#
    );
}

#[tokio::test]
async fn tcp_check_times_out_when_syns_go_unanswered() {
    // A listener whose accept queue is full drops new SYNs, so connects hang:
    // the loopback way to get a server that does not answer.
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket
        .bind(&"127.0.0.1:0".parse::<SocketAddr>().unwrap().into())
        .unwrap();
    socket.listen(0).unwrap();
    let addr = socket.local_addr().unwrap().as_socket().unwrap();
    let mut held = Vec::new();
    for _ in 0..16 {
        match tokio::time::timeout(Duration::from_millis(200), TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => held.push(stream),
            Ok(Err(e)) => panic!("unexpected connect error: {e}"),
            Err(_) => break,
        }
    }
    let check = TcpCheck::new(addr, SHORT);
    assert_eq!(check.check().await, Err(CheckError::Timeout(SHORT)));
    drop(socket);
}

/// What the test HTTP server saw of one request.
#[derive(Debug)]
struct Seen {
    method: Method,
    path: String,
    host: Option<String>,
}

/// An HTTP server answering `/status/N` with status N and `/slow` after 10 s.
async fn http_server() -> (SocketAddr, mpsc::UnboundedReceiver<Seen>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let tx = tx.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req: Request<hyper::body::Incoming>| {
                    let tx = tx.clone();
                    async move {
                        let path = req.uri().path().to_owned();
                        let _ = tx.send(Seen {
                            method: req.method().clone(),
                            path: path.clone(),
                            host: req
                                .headers()
                                .get(http::header::HOST)
                                .map(|h| h.to_str().unwrap().to_owned()),
                        });
                        if path == "/slow" {
                            tokio::time::sleep(Duration::from_secs(10)).await;
                        }
                        let status = path
                            .strip_prefix("/status/")
                            .and_then(|s| s.parse().ok())
                            .unwrap_or(200);
                        let mut response = Response::new(Full::new(Bytes::from_static(b"hi")));
                        *response.status_mut() = StatusCode::from_u16(status).unwrap();
                        Ok::<_, Infallible>(response)
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (addr, rx)
}

#[tokio::test]
async fn http_check_sends_method_path_and_host() {
    let (addr, mut seen) = http_server().await;
    let check = HttpCheck::new(addr, SHORT)
        .method(Method::GET)
        .path("/status/200")
        .host("www.example.com")
        .expect(StatusMatch::Exact(200));
    assert_eq!(check.check().await, Ok(()));
    let seen = seen.recv().await.unwrap();
    assert_eq!(seen.method, Method::GET);
    assert_eq!(seen.path, "/status/200");
    assert_eq!(seen.host.as_deref(), Some("www.example.com"));
}

#[tokio::test]
async fn http_check_defaults_to_options_and_the_address_as_host() {
    let (addr, mut seen) = http_server().await;
    let check = HttpCheck::new(addr, SHORT);
    assert_eq!(check.check().await, Ok(()));
    let seen = seen.recv().await.unwrap();
    assert_eq!(seen.method, Method::OPTIONS);
    assert_eq!(seen.path, "/");
    assert_eq!(seen.host, Some(addr.to_string()));
}

#[tokio::test]
async fn http_check_judges_the_status() {
    let (addr, _seen) = http_server().await;
    let probe = |path: &str, expect| HttpCheck::new(addr, SHORT).path(path).expect(expect);

    let err = probe("/status/503", StatusMatch::SuccessOrRedirect)
        .check()
        .await
        .unwrap_err();
    assert_eq!(
        err,
        CheckError::Status {
            got: 503,
            expected: StatusMatch::SuccessOrRedirect
        }
    );
    assert_eq!(
        err.to_string(),
        "Layer7 wrong status, code: 503, expected: 2xx or 3xx"
    );
    assert_eq!(
        probe("/status/302", StatusMatch::SuccessOrRedirect)
            .check()
            .await,
        Ok(())
    );
    assert!(
        probe("/status/204", StatusMatch::Exact(200))
            .check()
            .await
            .is_err()
    );
    assert_eq!(
        probe("/status/404", StatusMatch::Range(400, 404))
            .check()
            .await,
        Ok(())
    );
    assert!(
        probe("/status/405", StatusMatch::Range(400, 404))
            .check()
            .await
            .is_err()
    );
}

#[tokio::test]
async fn http_check_times_out_on_a_slow_server() {
    let (addr, _seen) = http_server().await;
    let check = HttpCheck::new(addr, SHORT).path("/slow");
    assert_eq!(check.check().await, Err(CheckError::Timeout(SHORT)));
}

#[tokio::test]
async fn http_check_reports_refused_connections() {
    let check = HttpCheck::new(closed_port().await, SHORT);
    assert!(matches!(check.check().await, Err(CheckError::Connect(_))));
}

#[tokio::test]
async fn http_check_rejects_a_server_that_does_not_speak_http() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        use tokio::io::AsyncWriteExt;
        let (mut stream, _) = listener.accept().await.unwrap();
        stream.write_all(b"SSH-2.0-OpenSSH_9.2\r\n").await.unwrap();
    });
    let check = HttpCheck::new(addr, SHORT);
    assert!(matches!(check.check().await, Err(CheckError::Protocol(_))));
}

#[tokio::test]
async fn command_check_uses_the_exit_status() {
    assert_eq!(CommandCheck::new(Script::new("true")).check().await, Ok(()));
    let err = CommandCheck::new(Script::shell("echo broken >&2; exit 3"))
        .check()
        .await
        .unwrap_err();
    assert_eq!(
        err,
        CheckError::Exit {
            code: Some(3),
            signal: None,
            stderr: "broken".into()
        }
    );
    assert_eq!(
        err.to_string(),
        r#"external check error, code: 3, info: "broken""#
    );
}

#[tokio::test]
async fn command_check_kills_a_probe_that_runs_too_long() {
    let check = CommandCheck::new(Script::new("sleep").arg("30").timeout(SHORT));
    let started = std::time::Instant::now();
    assert_eq!(check.check().await, Err(CheckError::Timeout(SHORT)));
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn command_check_reports_a_missing_program() {
    let err = CommandCheck::new(Script::new("/nonexistent/ha-rs-check"))
        .check()
        .await
        .unwrap_err();
    assert!(
        matches!(err, CheckError::Spawn(ref m) if m.contains("/nonexistent/ha-rs-check")),
        "{err}"
    );
}
