//! ha-lb: an HAProxy-class TCP and HTTP load balancer, as a library.
//!
//! - [`config`]: the configuration model and the haproxy.cfg importer.
//! - [`balance`]: the balancing algorithms (pure).
//! - [`acl`]: routing requests to backends with HAProxy's ACLs (pure).
//! - [`Backend`], [`BackendSet`], [`Server`]: servers and their run-time
//!   state (weight, drain/maint, health), changeable while traffic flows.
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
//! running.backend("webs").unwrap().set_state("web1", ha_lb::ServerState::Drain)?;
//! tokio::signal::ctrl_c().await?;
//! running.shutdown(Duration::from_secs(10)).await;
//! # Ok(())
//! # }
//! ```

pub mod acl;
pub mod backend;
pub mod backend_set;
pub mod balance;
pub mod config;
pub mod error;
mod health;
pub mod lb;
mod listener;
pub mod proxy;
pub mod server;

pub use backend::{Backend, BoxStream, InProcessBackend, TcpBackend};
pub use backend_set::{BackendSet, Balancing, Usable};
pub use error::{Error, Result};
pub use lb::{LoadBalancer, Running};
pub use server::{Server, ServerCounters, ServerSpec, ServerState};
