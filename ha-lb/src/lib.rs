//! ha-lb: an HAProxy-class TCP and HTTP load balancer, as a library.
//!
//! Round robin over a server on the network and one inside this process,
//! both health-checked:
//!
//! ```no_run
//! use std::convert::Infallible;
//! use std::time::Duration;
//!
//! use bytes::Bytes;
//! use ha_lb::config::{Balance, Config, Defaults, Mode, Server, Timeouts};
//! use ha_lb::{InProcessBackend, LoadBalancer, ServerState};
//! use http_body_util::Full;
//! use hyper::service::service_fn;
//! use hyper::{Request, Response};
//! use hyper_util::rt::TokioIo;
//!
//! # #[tokio::main]
//! # async fn main() -> Result<(), ha_lb::Error> {
//! // A server inside this process: each connection the balancer opens to
//! // it is an in-memory pipe, served here by hyper.
//! let local = InProcessBackend::from_fn(|stream| {
//!     tokio::spawn(async move {
//!         let hello = service_fn(|_req: Request<hyper::body::Incoming>| async {
//!             Ok::<_, Infallible>(Response::new(Full::new(Bytes::from("hello from inside\n"))))
//!         });
//!         let _ = hyper::server::conn::http1::Builder::new()
//!             .serve_connection(TokioIo::new(stream), hello)
//!             .await;
//!     });
//! });
//!
//! // haproxy.cfg's `defaults` section: what every frontend and pool
//! // below starts from.
//! let timeouts = Timeouts::new()
//!     .connect(Duration::from_secs(5))
//!     .client(Duration::from_secs(30))
//!     .server(Duration::from_secs(30));
//! let defaults = Defaults::new(Mode::Http, timeouts);
//! let config = Config::builder()
//!     .frontend(
//!         defaults
//!             .frontend("web")
//!             .bind("127.0.0.1:8080".parse().unwrap())
//!             .default_pool("webs"),
//!     )
//!     .pool(
//!         defaults
//!             .pool("webs")
//!             .balance(Balance::RoundRobin)
//!             .server(Server::at("web1", "127.0.0.1:8081".parse().unwrap()).check())
//!             .server(Server::with_backend("local", local).check()),
//!     )
//!     .build();
//!
//! let running = LoadBalancer::bind(config)?.start().await?;
//! // Take web1 out of rotation without dropping its connections:
//! let webs = running.pool("webs").expect("configured above");
//! webs.set_state("web1", ServerState::Drain)?;
//! tokio::signal::ctrl_c().await?;
//! running.shutdown(Duration::from_secs(10)).await;
//! # Ok(())
//! # }
//! ```
//!
//! Words: a *pool* is a named set of servers balanced as one (haproxy.cfg's
//! `backend` section), a *server* is one member of a pool with its weight,
//! state and health, and a *backend* is only ever how a server is reached
//! ([`Backend`]: a TCP address, an in-process handler, your own type).
//!
//! - [`config`]: the configuration: built in code ([`Config::builder`](config::Config::builder))
//!   or imported from haproxy.cfg ([`config::haproxy`]).
//! - [`balance`]: the balancing algorithms (pure).
//! - [`acl`]: routing requests to pools with HAProxy's ACLs (pure).
//! - [`Pool`], [`Server`], [`Backend`]: pools, their servers with their
//!   run-time state (weight, drain/maint, health), changeable while traffic
//!   flows, and how each server is reached.
//! - [`LoadBalancer`]: the tokio driver: listeners, TCP and HTTP proxying,
//!   health checks through ha-core ([`HealthCheck`]), graceful shutdown,
//!   connection limits counted per frontend ([`FrontendCounters`]).
//! - [`maxconn`]: the process-wide connection limit when the configuration
//!   sets none, computed from the open file limit as HAProxy does.
//!
//! The same from haproxy.cfg:
//!
//! ```no_run
//! # #[tokio::main]
//! # async fn main() -> Result<(), ha_lb::Error> {
//! use std::time::Duration;
//! use ha_lb::{config::haproxy, LoadBalancer};
//!
//! let text = "
//! frontend web
//!     mode http
//!     bind 127.0.0.1:8080
//!     default_backend webs
//! backend webs
//!     mode http
//!     balance roundrobin
//!     server web1 127.0.0.1:8081 check
//!     server web2 127.0.0.1:8082 check
//! ";
//! let imported = haproxy::parse_str(text, "inline.cfg".as_ref())?;
//! let running = LoadBalancer::bind(imported.config)?.start().await?;
//! tokio::signal::ctrl_c().await?;
//! running.shutdown(Duration::from_secs(10)).await;
//! # Ok(())
//! # }
//! ```

pub mod acl;
pub mod backend;
pub mod balance;
pub mod config;
pub mod error;
mod health;
pub mod lb;
mod listener;
pub mod maxconn;
pub mod pool;
pub mod proxy;
pub mod server;

pub use backend::{Backend, BoxStream, InProcessBackend, TcpBackend};
pub use error::{Error, Result};
pub use ha_core::async_trait;
pub use ha_core::{CheckError, HealthCheck, State};
pub use lb::{LoadBalancer, Running};
pub use listener::FrontendCounters;
pub use pool::{Balancing, Pool, Usable};
pub use server::{Server, ServerCounters, ServerSpec, ServerState};
