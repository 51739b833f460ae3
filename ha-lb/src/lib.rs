//! ha-lb: an HAProxy-class TCP and HTTP load balancer, as a library.
//!
//! Words: a *pool* is a named set of servers balanced as one (haproxy.cfg's
//! `backend` section), a *server* is one named member of a pool with its
//! weight, state and health, and a *backend* is only ever how a server is
//! reached ([`Backend`]: a TCP address, an in-process handler).
//!
//! - [`config`]: the configuration model and the haproxy.cfg importer.
//! - [`balance`]: the balancing algorithms (pure).
//! - [`acl`]: routing requests to pools with HAProxy's ACLs (pure).
//! - [`Pool`], [`Server`], [`Backend`]: pools, their servers with their
//!   run-time state (weight, drain/maint, health), changeable while traffic
//!   flows, and how each server is reached.
//! - [`LoadBalancer`]: the tokio driver: listeners, TCP and HTTP proxying,
//!   health checks through ha-core, graceful shutdown.
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
//! // Take web1 out of rotation without dropping its connections:
//! running.pool("webs").unwrap().set_state("web1", ha_lb::ServerState::Drain)?;
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
pub mod pool;
pub mod proxy;
pub mod server;

pub use backend::{Backend, BoxStream, InProcessBackend, TcpBackend};
pub use error::{Error, Result};
pub use ha_core::async_trait;
pub use ha_core::{CheckError, HealthCheck, State};
pub use lb::{LoadBalancer, Running};
pub use pool::{Balancing, Pool, Usable};
pub use server::{Server, ServerCounters, ServerSpec, ServerState};
