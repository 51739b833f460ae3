//! Protocol upgrades through `mode http` (WebSocket and other `Upgrade:`
//! requests), as HAProxy passes them.
//!
//! An upgrade request goes to the server on a connection of its own, with
//! `Connection: upgrade` and its `Upgrade` header kept. If the server
//! answers `101 Switching Protocols`, the client and server connections are
//! joined into a tunnel, bounded by `timeout tunnel` (else `timeout client`
//! and `timeout server`), which holds the server slot until it closes. Any
//! other answer is passed back as an ordinary response.

use std::sync::Arc;
use std::time::Duration;

use http::header::{self, HeaderMap, HeaderValue};
use http::request::Parts;
use http::{Request, Response, StatusCode};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;

use super::dispatch::Dispatch;
use super::idle::{self, Activity, Idle, Tracked, Watch};
use super::message;
use super::timed::TimedBody;
use crate::balance::PickKey;
use crate::server::{InFlight, Server};

/// The `Upgrade` value of a request that asks for one (`Connection:
/// upgrade` and an `Upgrade` header), read before hop-by-hop headers go.
pub(crate) fn requested(headers: &HeaderMap) -> Option<HeaderValue> {
    let asks = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|token| token.trim().eq_ignore_ascii_case("upgrade"));
    if asks {
        headers.get(header::UPGRADE).cloned()
    } else {
        None
    }
}

/// Inactivity limits of a tunnel.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TunnelTimeouts {
    pub client: Option<Duration>,
    pub server: Option<Duration>,
}

/// Why an upgrade could not be forwarded.
pub(crate) enum Failure {
    /// No server could be reached (503).
    Unavailable,
    /// The server failed the request (502).
    Server,
}

/// Sends an upgrade request on a fresh connection to the server of `slot`
/// and, on 101, starts the tunnel.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn forward(
    mut parts: Parts,
    body: TimedBody,
    protocol: HeaderValue,
    dispatch: &Dispatch,
    slot: InFlight,
    key: &PickKey<'_>,
    avoid: &mut Vec<Arc<Server>>,
    timeouts: TunnelTimeouts,
) -> Result<(Response<hyper::body::Incoming>, Arc<Server>), Failure> {
    let client_upgrade = parts.extensions.remove::<OnUpgrade>();
    parts.headers.insert(header::UPGRADE, protocol);
    parts
        .headers
        .insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    let (slot, stream) = dispatch
        .connect_from(slot, key, avoid)
        .await
        .map_err(|_| Failure::Unavailable)?;
    let server = Arc::clone(slot.server());
    let server_activity = Activity::default();
    let (mut sender, connection) = hyper::client::conn::http1::handshake::<_, TimedBody>(
        TokioIo::new(Tracked::new(stream, server_activity.clone())),
    )
    .await
    .map_err(|_| Failure::Server)?;
    tokio::spawn(async move {
        if let Err(e) = connection.with_upgrades().await {
            tracing::debug!(error = %e, "upgraded server connection ended with an error");
        }
    });
    let sent = sender.send_request(Request::from_parts(parts, body));
    let watch = [Watch {
        activity: server_activity,
        timeout: timeouts.server,
        side: Idle::Server,
    }];
    let mut response = match idle::until_idle(sent, &watch).await {
        Ok(Ok(response)) => response,
        _ => return Err(Failure::Server),
    };
    if response.status() != StatusCode::SWITCHING_PROTOCOLS {
        message::strip_hop_by_hop(response.headers_mut());
        return Ok((response, server));
    }
    let server_upgrade = hyper::upgrade::on(&mut response);
    keep_switching_headers(&mut response);
    if let Some(client_upgrade) = client_upgrade {
        tokio::spawn(tunnel(client_upgrade, server_upgrade, slot, timeouts));
    }
    Ok((response, server))
}

/// Copies bytes both ways once both sides have switched protocols.
async fn tunnel(client: OnUpgrade, server: OnUpgrade, _slot: InFlight, timeouts: TunnelTimeouts) {
    let (Ok(client), Ok(server)) = (client.await, server.await) else {
        tracing::debug!("an upgrade did not complete; tunnel not opened");
        return;
    };
    let (client_activity, server_activity) = (Activity::default(), Activity::default());
    let mut client = Tracked::new(TokioIo::new(client), client_activity.clone());
    let mut server = Tracked::new(TokioIo::new(server), server_activity.clone());
    let watches = [
        Watch {
            activity: client_activity,
            timeout: timeouts.client,
            side: Idle::Client,
        },
        Watch {
            activity: server_activity,
            timeout: timeouts.server,
            side: Idle::Server,
        },
    ];
    let copy = tokio::io::copy_bidirectional(&mut client, &mut server);
    if let Err(side) = idle::until_idle(copy, &watches).await {
        tracing::debug!(?side, "tunnel closed after inactivity");
    }
}

/// Strips a 101's hop-by-hop headers but the two the client needs.
fn keep_switching_headers(response: &mut Response<hyper::body::Incoming>) {
    let protocol = response.headers().get(header::UPGRADE).cloned();
    message::strip_hop_by_hop(response.headers_mut());
    if let Some(protocol) = protocol {
        response.headers_mut().insert(header::UPGRADE, protocol);
    }
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
}
