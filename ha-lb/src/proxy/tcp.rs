//! `mode tcp`: a byte pipe between the client and a server.
//!
//! The pool is chosen per connection: `use_backend` rules (on `src`, the
//! only fact a TCP connection has) else `default_backend`. Both directions
//! are copied with 64 KiB buffers. When one side finishes sending
//! (half-close), the proxy shuts down writing toward the other side and keeps
//! copying the other direction until it finishes too. Inactivity is bounded
//! by `timeout client` and `timeout server`, or `timeout tunnel` for both
//! when set.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::HeaderMap;
use tokio::net::TcpStream;

use super::dispatch::{Dispatch, DispatchError};
use super::idle::{self, Activity, Idle, Tracked, Watch};
use crate::acl::{self, Routing};
use crate::balance::PickKey;

const BUFFER: usize = 64 * 1024;

/// A pool as TCP mode uses it.
#[derive(Debug)]
pub(crate) struct PoolRoute {
    pub dispatch: Dispatch,
    /// Server-side inactivity limit (`timeout tunnel`, else `timeout server`).
    pub server_idle: Option<Duration>,
}

/// What a TCP frontend needs to serve a connection.
#[derive(Debug)]
pub(crate) struct TcpRoute {
    pub frontend: String,
    pub routing: Routing,
    pub pools: HashMap<String, PoolRoute>,
    /// Client-side inactivity limit (`timeout tunnel`, else `timeout client`).
    pub client_idle: Option<Duration>,
    pub log: bool,
}

/// Proxies one client connection to completion.
pub(crate) async fn serve(client: TcpStream, peer: SocketAddr, route: Arc<TcpRoute>) {
    let accepted = Instant::now();
    let _ = client.set_nodelay(true);
    let no_headers = HeaderMap::new();
    let facts = acl::Request {
        src: peer.ip(),
        method: "",
        path: "",
        headers: &no_headers,
    };
    let Some((pool_name, pool)) = route
        .routing
        .route(&facts)
        .and_then(|name| route.pools.get_key_value(name))
    else {
        tracing::warn!(frontend = %route.frontend, client = %peer, "no pool for this connection, closed");
        return;
    };
    let key = PickKey {
        src: Some(peer.ip()),
        uri: None,
    };
    let mut avoid = Vec::new();
    let (slot, server_stream) = match pool.dispatch.connect(&key, &mut avoid).await {
        Ok(ok) => ok,
        Err(DispatchError::NoServer) => {
            tracing::warn!(frontend = %route.frontend, pool = %pool_name, client = %peer, "no server available, connection closed");
            return;
        }
        Err(DispatchError::QueueTimeout) => {
            tracing::warn!(frontend = %route.frontend, pool = %pool_name, client = %peer, "every server stayed full for the queue timeout, connection closed");
            return;
        }
        Err(DispatchError::Failed { server, error }) => {
            tracing::warn!(frontend = %route.frontend, pool = %pool_name, server = %server.name(), client = %peer, %error, "cannot connect to server, connection closed");
            return;
        }
    };
    let client_activity = Activity::default();
    let server_activity = Activity::default();
    let mut client = Tracked::new(client, client_activity.clone());
    let mut server = Tracked::new(server_stream, server_activity.clone());
    let watches = [
        Watch {
            activity: client_activity,
            timeout: route.client_idle,
            side: Idle::Client,
        },
        Watch {
            activity: server_activity,
            timeout: pool.server_idle,
            side: Idle::Server,
        },
    ];
    let copy = tokio::io::copy_bidirectional_with_sizes(&mut client, &mut server, BUFFER, BUFFER);
    let outcome = idle::until_idle(copy, &watches).await;
    if route.log {
        let end = match &outcome {
            Ok(Ok((up, down))) => format!("{up}/{down} bytes, closed"),
            Ok(Err(e)) => format!("error: {e}"),
            Err(Idle::Client) => "client timeout".to_owned(),
            Err(Idle::Server) => "server timeout".to_owned(),
        };
        tracing::info!(
            target: "ha_lb::log",
            "{peer} [{}] {pool_name}/{} {}ms {end}",
            route.frontend,
            slot.server().name(),
            accepted.elapsed().as_millis(),
        );
    }
}
