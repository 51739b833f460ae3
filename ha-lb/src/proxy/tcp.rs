//! `mode tcp`: a byte pipe between the client and a server.
//!
//! Both directions are copied with 64 KiB buffers. When one side finishes
//! sending (half-close), the proxy shuts down writing toward the other side
//! and keeps copying the other direction until it finishes too. Inactivity
//! is bounded by `timeout client` and `timeout server`, or `timeout tunnel`
//! for both when set.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use tokio::net::TcpStream;

use super::dispatch::{Dispatch, DispatchError};
use super::idle::{self, Activity, Idle, Tracked, Watch};
use crate::balance::PickKey;
use crate::config::Timeouts;

const BUFFER: usize = 64 * 1024;

/// What a TCP frontend needs to serve a connection.
#[derive(Debug)]
pub(crate) struct TcpRoute {
    pub frontend: String,
    pub dispatch: Dispatch,
    pub timeouts: Timeouts,
    pub log: bool,
}

/// Proxies one client connection to completion.
pub(crate) async fn serve(client: TcpStream, peer: SocketAddr, route: Arc<TcpRoute>) {
    let accepted = Instant::now();
    let _ = client.set_nodelay(true);
    let key = PickKey {
        src: Some(peer.ip()),
        uri: None,
    };
    let mut avoid = Vec::new();
    let (in_flight, server_stream) = match route.dispatch.connect(&key, &mut avoid).await {
        Ok(ok) => ok,
        Err(DispatchError::QueueTimeout) => {
            tracing::warn!(frontend = %route.frontend, backend = %route.dispatch.backend.name(), client = %peer, "every server stayed full for the queue timeout, connection closed");
            return;
        }
        Err(DispatchError::NoServer) => {
            tracing::warn!(frontend = %route.frontend, backend = %route.dispatch.backend.name(), client = %peer, "no server available, connection closed");
            return;
        }
        Err(DispatchError::Failed { server, error }) => {
            tracing::warn!(frontend = %route.frontend, backend = %route.dispatch.backend.name(), server = %server.name(), client = %peer, %error, "cannot connect to server, connection closed");
            return;
        }
    };
    let client_activity = Activity::default();
    let server_activity = Activity::default();
    let mut client = Tracked::new(client, client_activity.clone());
    let mut server = Tracked::new(server_stream, server_activity.clone());
    let t = &route.timeouts;
    let watches = [
        Watch {
            activity: client_activity,
            timeout: t.tunnel.or(t.client),
            side: Idle::Client,
        },
        Watch {
            activity: server_activity,
            timeout: t.tunnel.or(t.server),
            side: Idle::Server,
        },
    ];
    let copy = tokio::io::copy_bidirectional_with_sizes(&mut client, &mut server, BUFFER, BUFFER);
    let outcome = idle::until_idle(copy, &watches).await;
    if route.log {
        let (up, down, end) = match &outcome {
            Ok(Ok((up, down))) => (*up, *down, "closed".to_owned()),
            Ok(Err(e)) => (0, 0, format!("error: {e}")),
            Err(Idle::Client) => (0, 0, "client timeout".to_owned()),
            Err(Idle::Server) => (0, 0, "server timeout".to_owned()),
        };
        tracing::info!(
            target: "ha_lb::log",
            "{peer} [{}] {}/{} {}ms {up}/{down} {end}",
            route.frontend,
            route.dispatch.backend.name(),
            in_flight.server().name(),
            accepted.elapsed().as_millis(),
        );
    }
}
