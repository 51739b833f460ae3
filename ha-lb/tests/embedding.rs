//! A load balancer built in code: the builder, in-process servers, and
//! health checks given in code or made through a server's backend.

mod support;

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;

use ha_lb::config::{Balance, Config, Frontend, Mode, Pool, Server, Timeouts};
use ha_lb::{
    Backend, BoxStream, CheckError, HealthCheck, InProcessBackend, LoadBalancer, Running, State,
    async_trait,
};
use http::{Request, Response};
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use support::{Web, get};

/// A server in this process answering every request with `text`.
fn in_process(text: &'static str) -> InProcessBackend {
    InProcessBackend::from_fn(move |stream| {
        tokio::spawn(async move {
            let service = service_fn(move |_req: Request<hyper::body::Incoming>| async move {
                Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(
                    text.as_bytes(),
                ))))
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    })
}

/// A check whose verdict the test sets.
struct Switch(Arc<AtomicBool>);

#[async_trait]
impl HealthCheck for Switch {
    async fn check(&self) -> Result<(), CheckError> {
        if self.0.load(Ordering::SeqCst) {
            Ok(())
        } else {
            Err(CheckError::Protocol("switched off".into()))
        }
    }
}

/// A backend that cannot connect.
#[derive(Debug)]
struct Unreachable;

#[async_trait]
impl Backend for Unreachable {
    async fn connect(&self) -> io::Result<BoxStream> {
        Err(io::Error::new(
            io::ErrorKind::ConnectionRefused,
            "nobody home",
        ))
    }

    fn address(&self) -> Option<SocketAddr> {
        None
    }
}

fn timeouts() -> Timeouts {
    Timeouts::new()
        .connect(Duration::from_secs(1))
        .client(Duration::from_secs(5))
        .server(Duration::from_secs(5))
}

async fn start(pool: Pool) -> (Running, SocketAddr) {
    let config = Config::builder()
        .frontend(
            Frontend::new("web")
                .mode(Mode::Http)
                .bind("127.0.0.1:0".parse().unwrap())
                .timeouts(timeouts())
                .default_pool(pool.name.clone()),
        )
        .pool(pool)
        .build();
    let running = LoadBalancer::bind(config).unwrap().start().await.unwrap();
    let addr = running.local_addrs()[0].1;
    (running, addr)
}

async fn wait_health(running: &Running, server: &str, want: State) {
    let pool = running.pool("webs").unwrap();
    for _ in 0..200 {
        if pool.server(server).unwrap().health() == want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{server} never became {want:?}");
}

#[tokio::test]
async fn round_robin_over_a_network_and_an_in_process_server_with_a_check_given_in_code() {
    let web1 = Web::start("Welcome to Web1").await;
    let healthy = Arc::new(AtomicBool::new(true));
    let (running, addr) = start(
        Pool::new("webs")
            .mode(Mode::Http)
            .balance(Balance::RoundRobin)
            .timeouts(timeouts())
            .server(Server::at("web1", web1.addr))
            .server(
                Server::with_backend("local", in_process("in-process"))
                    .health_check(Switch(Arc::clone(&healthy)))
                    .inter(Duration::from_millis(50))
                    .rise(1)
                    .fall(1),
            ),
    )
    .await;
    assert_eq!(
        support::bodies(addr, 4).await,
        [
            "Welcome to Web1",
            "in-process",
            "Welcome to Web1",
            "in-process"
        ]
    );

    healthy.store(false, Ordering::SeqCst);
    wait_health(&running, "local", State::Down).await;
    for _ in 0..3 {
        assert_eq!(get(addr).await.unwrap().1, "Welcome to Web1");
    }

    healthy.store(true, Ordering::SeqCst);
    wait_health(&running, "local", State::Up).await;
    let bodies = support::bodies(addr, 2).await;
    assert!(bodies.contains(&"in-process".to_owned()), "{bodies:?}");
    running.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn a_server_without_an_address_is_checked_through_its_backend() {
    let (running, addr) = start(
        Pool::new("webs")
            .mode(Mode::Http)
            .timeouts(timeouts())
            .server(
                Server::with_backend("local", in_process("in-process"))
                    .check()
                    .inter(Duration::from_millis(50))
                    .fall(1),
            )
            .server(
                Server::with_backend("broken", Unreachable)
                    .check()
                    .inter(Duration::from_millis(50))
                    .fall(1),
            ),
    )
    .await;
    wait_health(&running, "broken", State::Down).await;
    let pool = running.pool("webs").unwrap();
    assert_eq!(pool.server("local").unwrap().health(), State::Up);
    for _ in 0..3 {
        assert_eq!(get(addr).await.unwrap().1, "in-process");
    }
    running.shutdown(Duration::from_secs(1)).await;
}

#[test]
fn a_frontend_naming_a_missing_pool_is_a_typed_error() {
    let config = Config::builder()
        .frontend(
            Frontend::new("web")
                .bind("127.0.0.1:0".parse().unwrap())
                .default_pool("nowhere"),
        )
        .build();
    let error = LoadBalancer::check(&config).unwrap_err();
    assert!(
        matches!(&error, ha_lb::Error::UnknownPool { frontend, pool, .. } if frontend == "web" && pool == "nowhere"),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "frontend 'web' uses unknown pool 'nowhere'"
    );
}

#[test]
fn a_configuration_holding_code_still_compares_and_clones() {
    let pool = Pool::new("webs").server(Server::with_backend("local", in_process("x")));
    let copy = pool.clone();
    assert_eq!(pool, copy);
    let other = Pool::new("webs").server(Server::with_backend("local", in_process("x")));
    assert_ne!(pool, other, "different backends");
}

#[test]
fn an_http_frontend_cannot_use_a_tcp_pool() {
    let config = Config::builder()
        .frontend(
            Frontend::new("web")
                .mode(Mode::Http)
                .bind("127.0.0.1:0".parse().unwrap())
                .default_pool("webs"),
        )
        .pool(Pool::new("webs").server(Server::at("web1", "127.0.0.1:9".parse().unwrap())))
        .build();
    let error = LoadBalancer::check(&config).unwrap_err();
    assert!(
        matches!(&error, ha_lb::Error::ModeMismatch { frontend, pool, .. } if frontend == "web" && pool == "webs"),
        "{error:?}"
    );
    let message = "frontend 'web' is in http mode and cannot use pool 'webs', which is in tcp mode";
    assert_eq!(error.to_string(), message);
    assert_eq!(
        format!("{error:?}"),
        message,
        "no empty location for a configuration built in code"
    );
}

#[test]
fn acls_and_rules_built_in_code_route_requests() {
    use ha_lb::acl::{Request, Routing};
    use ha_lb::config::{Acl, Condition, Criterion};
    let frontend = Frontend::new("web")
        .mode(Mode::Http)
        .acl(Acl::new("is_api", Criterion::PathBeg, ["/api/"]))
        .acl(Acl::new("internal", Criterion::Src, ["10.0.0.0/8"]))
        .acl(Acl::new("post", Criterion::Method, ["post"]).ignore_case())
        .use_pool(
            "admin",
            Condition::all(["is_api", "internal"]).or_all(["post"]),
        )
        .use_pool("public", Condition::all(["!is_api"]))
        .use_pool("closed", Condition::all(["internal"]).unless())
        .default_pool("api");
    let routing = Routing::compile(&frontend).unwrap();
    let headers = http::HeaderMap::new();
    let route = |src: &str, method: &str, path: &str| {
        routing
            .route(&Request {
                src: src.parse().unwrap(),
                method,
                path,
                headers: &headers,
            })
            .map(str::to_owned)
    };
    assert_eq!(route("10.1.2.3", "GET", "/api/x").as_deref(), Some("admin"));
    assert_eq!(
        route("192.0.2.1", "POST", "/api/x").as_deref(),
        Some("admin")
    );
    assert_eq!(
        route("192.0.2.1", "GET", "/index.html").as_deref(),
        Some("public")
    );
    assert_eq!(
        route("192.0.2.1", "GET", "/api/x").as_deref(),
        Some("closed")
    );
    assert_eq!(route("10.1.2.3", "GET", "/").as_deref(), Some("public"));
}
