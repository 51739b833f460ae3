//! The README's example: round robin over a server on the network and one
//! inside this process, both health-checked.

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use ha_lb::config::{Balance, Config, Defaults, Mode, Server, Timeouts};
use ha_lb::{InProcessBackend, LoadBalancer, ServerState};
use http_body_util::Full;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

#[tokio::main]
async fn main() -> Result<(), ha_lb::Error> {
    // A server inside this process: each connection the balancer opens to
    // it is an in-memory pipe, served here by hyper.
    let local = InProcessBackend::from_fn(|stream| {
        tokio::spawn(async move {
            let hello = service_fn(|_req: Request<hyper::body::Incoming>| async {
                Ok::<_, Infallible>(Response::new(Full::new(Bytes::from("hello from inside\n"))))
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), hello)
                .await;
        });
    });

    // haproxy.cfg's `defaults` section: what every frontend and pool
    // below starts from.
    let timeouts = Timeouts::new()
        .connect(Duration::from_secs(5))
        .client(Duration::from_secs(30))
        .server(Duration::from_secs(30));
    let defaults = Defaults::new(Mode::Http, timeouts);
    let config = Config::builder()
        .frontend(
            defaults
                .frontend("web")
                .bind("127.0.0.1:8080".parse().unwrap())
                .default_pool("webs"),
        )
        .pool(
            defaults
                .pool("webs")
                .balance(Balance::RoundRobin)
                .server(Server::at("web1", "127.0.0.1:8081".parse().unwrap()).check())
                .server(Server::with_backend("local", local).check()),
        )
        .build();

    let running = LoadBalancer::bind(config)?.start().await?;
    // Take web1 out of rotation without dropping its connections:
    let webs = running.pool("webs").expect("configured above");
    webs.set_state("web1", ServerState::Drain)?;
    tokio::signal::ctrl_c().await?;
    running.shutdown(Duration::from_secs(10)).await;
    Ok(())
}
