//! `mode http`: HTTP/1.1 from clients, balanced per request over reused
//! keep-alive connections to servers.
//!
//! hyper parses and frames both sides; [`message`](super::message) applies
//! the proxy rules. hyper itself rejects what it cannot frame safely
//! (differing `Content-Length`s, a `Transfer-Encoding` not ending in chunked,
//! one in an HTTP/1.0 request, bad chunk sizes, malformed heads) with 400, and
//! for a request carrying both `Transfer-Encoding` and `Content-Length` it
//! frames by the former, drops the latter and closes the connection after
//! the response, as HAProxy does: the two lengths never reach a server
//! together.
//!
//! Errors are HAProxy's: 503 when no server can take the request, 502 when a
//! server fails, 504 when it goes quiet for `timeout server` before
//! answering, 408 when a client does not finish its request head within
//! `timeout http-request` or stalls its body for `timeout client`.
//! Between requests, a keep-alive connection waits for the next one for
//! `timeout http-keep-alive` (else `timeout http-request`, else `timeout
//! client`, as HAProxy documents), then closes quietly; once the first
//! byte of a request arrives, its head has `timeout http-request`.
//! `timeout server` also bounds a server stalling mid-response, and
//! `timeout client` a client that stops reading. Upgrade requests
//! (WebSocket) become tunnels: see [`upgrade`](super::upgrade).

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::request::Parts;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{Either, Full};
use hyper::body::{Body, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::watch;

use super::dispatch::{Dispatch, DispatchError};
use super::errors;
use super::idle::{self, Activity, Idle, Tracked, Watch};
use super::keepalive::Conn;
use super::message;
use super::timed::{self, Stall, TimedBody};
use super::upgrade;
use crate::acl::{self, Routing};
use crate::balance::PickKey;
use crate::config::Timeouts;
use crate::server::{InFlight, Server};

/// Biggest request head accepted (HAProxy's default `tune.bufsize` is 16 KiB).
const MAX_HEAD: usize = 16 * 1024;
/// Idle time after which a reused connection may have been closed by its
/// server under a request; below it, no copy is kept for a replay.
const REPLAY_AFTER_IDLE: Duration = Duration::from_millis(500);
/// Longest wait for a new server connection to accept its first request.
const READY_TIMEOUT: Duration = Duration::from_secs(5);

/// A pool as HTTP mode uses it.
#[derive(Debug)]
pub(crate) struct PoolRoute {
    pub dispatch: Dispatch,
    pub forwardfor: bool,
    pub server_timeout: Option<Duration>,
    /// `timeout tunnel` (frontend's, else the pool's), for upgraded connections.
    pub tunnel_timeout: Option<Duration>,
}

/// What an HTTP frontend needs to serve a connection.
#[derive(Debug)]
pub(crate) struct HttpRoute {
    pub frontend: String,
    pub routing: Routing,
    pub pools: HashMap<String, Arc<PoolRoute>>,
    pub timeouts: Timeouts,
    pub log: bool,
}

impl HttpRoute {
    /// `timeout http-request`, else `timeout client`.
    fn head_timeout(&self) -> Option<Duration> {
        self.timeouts.http_request.or(self.timeouts.client)
    }

    /// `timeout http-keep-alive`, else the head timeout.
    fn keep_alive_timeout(&self) -> Option<Duration> {
        self.timeouts.http_keep_alive.or(self.head_timeout())
    }
}

type ResBody = Either<TimedBody, Full<Bytes>>;

/// Waits until the client sends something. `false` when it closes, stops,
/// or says nothing within the request timeout (then the connection is closed
/// silently, like HAProxy's `option http-ignore-probes`: browsers open
/// connections speculatively).
pub(crate) async fn first_bytes(
    stream: &TcpStream,
    route: &HttpRoute,
    stop: &mut watch::Receiver<bool>,
) -> bool {
    // `readable()` may wake without data; peeking waits for real bytes
    // (or end of file, which is no request at all).
    let mut byte = [0u8; 1];
    let peek = stream.peek(&mut byte);
    let readable = async {
        match route.head_timeout() {
            Some(limit) => tokio::time::timeout(limit, peek)
                .await
                .is_ok_and(|r| r.is_ok_and(|n| n > 0)),
            None => peek.await.is_ok_and(|n| n > 0),
        }
    };
    tokio::select! {
        ready = readable => ready,
        () = crate::listener::until_set(stop) => false,
    }
}

/// Serves one client connection until it closes.
///
/// When `stop` turns true, the connection finishes the request in progress
/// and closes.
pub(crate) async fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    route: Arc<HttpRoute>,
    mut stop: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let state = Arc::new(ClientState::default());
    let io = TokioIo::new(ClientIo {
        stream,
        state: Arc::clone(&state),
        write_stall: Stall::new(route.timeouts.client),
        waits: Waits {
            head: route.head_timeout(),
            keep_alive: route.keep_alive_timeout(),
            started: tokio::time::Instant::now(),
            head_since: None,
            timer: None,
        },
    });
    let service = {
        let route = Arc::clone(&route);
        let state = Arc::clone(&state);
        service_fn(move |req| {
            let route = Arc::clone(&route);
            let state = Arc::clone(&state);
            state.requests.fetch_add(1, Ordering::Relaxed);
            async move {
                let response = handle(req, peer, &route).await;
                if response.status() == StatusCode::SWITCHING_PROTOCOLS {
                    state.upgraded.store(true, Ordering::Relaxed);
                }
                Ok::<_, Infallible>(response.map(|body| Sending { body, state }))
            }
        })
    };
    // The head and keep-alive timeouts are kept by `ClientIo`, not by
    // hyper: hyper's header timeout runs from the moment the connection
    // goes idle, so it cannot tell the wait for a request (keep-alive) from
    // the wait for the rest of its head.
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .max_buf_size(MAX_HEAD.max(8192))
        .keep_alive(true);
    let connection = builder.serve_connection(io, service).with_upgrades();
    tokio::pin!(connection);
    let result = tokio::select! {
        biased;
        result = connection.as_mut() => result,
        () = crate::listener::until_set(&mut stop) => {
            connection.as_mut().graceful_shutdown();
            connection.as_mut().await
        }
    };
    if state.head_timed_out.load(Ordering::Relaxed) {
        // A request head started but did not finish in time: say so, as
        // HAProxy does, instead of vanishing. The page is written when the
        // connection (and the stream inside it) is dropped.
        tracing::debug!(frontend = %route.frontend, client = %peer, "request head timeout, answering 408");
    } else if let Err(error) = result {
        tracing::debug!(frontend = %route.frontend, client = %peer, %error, "client connection ended with an error");
    }
}

async fn handle(req: Request<Incoming>, peer: SocketAddr, route: &HttpRoute) -> Response<ResBody> {
    if !route.log {
        return forward(req, peer, route).await.0;
    }
    let started = Instant::now();
    let method = req.method().clone();
    let uri = req.uri().clone();
    let version = req.version();
    let (response, served_by) = forward(req, peer, route).await;
    tracing::info!(
        target: "ha_lb::log",
        "{peer} [{}] {} {}ms {} \"{method} {uri} {version:?}\"",
        route.frontend,
        served_by.as_deref().unwrap_or("<NOSRV>"),
        started.elapsed().as_millis(),
        response.status().as_u16(),
    );
    response
}

fn error(status: StatusCode) -> Response<ResBody> {
    errors::page(status).map(Either::Right)
}

/// Methods whose requests may be sent twice (RFC 9110 9.2.2).
fn idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE | Method::PUT | Method::DELETE
    )
}

/// Forwards one request; returns the response and `pool/server` for the log.
async fn forward(
    req: Request<Incoming>,
    peer: SocketAddr,
    route: &HttpRoute,
) -> (Response<ResBody>, Option<String>) {
    let (mut parts, body) = req.into_parts();
    if let Err(why) = message::validate(&parts) {
        tracing::debug!(frontend = %route.frontend, client = %peer, why, "bad request");
        return (error(StatusCode::BAD_REQUEST), None);
    }
    message::normalize_target(&mut parts);
    let facts = acl::Request {
        src: peer.ip(),
        method: parts.method.as_str(),
        path: parts.uri.path(),
        headers: &parts.headers,
    };
    let Some((pool_name, pool)) = route
        .routing
        .route(&facts)
        .and_then(|name| route.pools.get_key_value(name))
    else {
        return (error(StatusCode::SERVICE_UNAVAILABLE), None);
    };
    let upgrade = upgrade::requested(&parts.headers);
    message::to_server(&mut parts, peer.ip(), pool.forwardfor);
    let uri = parts.uri.clone();
    let key = PickKey {
        src: Some(peer.ip()),
        uri: Some(uri.path()),
    };
    if let Some(protocol) = upgrade {
        let mut avoid = Vec::new();
        let Ok(slot) = pool.dispatch.pick(&key, &avoid).await else {
            return (error(StatusCode::SERVICE_UNAVAILABLE), None);
        };
        let timeouts = upgrade::TunnelTimeouts {
            client: pool.tunnel_timeout.or(route.timeouts.client),
            server: pool.tunnel_timeout.or(pool.server_timeout),
        };
        let body = TimedBody::new(body, route.timeouts.client, None);
        let sent = upgrade::forward(
            parts,
            body,
            protocol,
            &pool.dispatch,
            slot,
            &key,
            &mut avoid,
            timeouts,
        );
        return match sent.await {
            Ok((response, server)) => (
                response.map(|b| Either::Left(TimedBody::new(b, pool.server_timeout, None))),
                Some(format!("{pool_name}/{}", server.name())),
            ),
            Err(upgrade::Failure::Unavailable) => (error(StatusCode::SERVICE_UNAVAILABLE), None),
            Err(upgrade::Failure::Server) => (error(StatusCode::BAD_GATEWAY), None),
        };
    }
    // A bodiless idempotent request can be sent again if a reused
    // connection turns out to have been closed by the server under it.
    let replayable = idempotent(&parts.method) && body.is_end_stream();
    let mut request = Some(Request::from_parts(
        parts,
        TimedBody::new(body, route.timeouts.client, None),
    ));
    let mut avoid: Vec<Arc<Server>> = Vec::new();
    let mut attempts_left = pool.dispatch.retries.saturating_add(1);
    loop {
        let slot = match pool.dispatch.pick(&key, &avoid).await {
            Ok(slot) => slot,
            Err(_) => return (error(StatusCode::SERVICE_UNAVAILABLE), None),
        };
        let kept = slot.server().keepalive().checkout();
        // A connection idle for a while may be closed by the server just as
        // the request goes out; one used a moment ago will not be.
        let risky = kept
            .as_ref()
            .is_some_and(|(_, idle)| *idle >= REPLAY_AFTER_IDLE);
        let (slot, mut conn) = match kept {
            Some((conn, _)) => (slot, conn),
            None => match open(&pool.dispatch, slot, &key, &mut avoid).await {
                Ok(pair) => pair,
                Err(DispatchError::NoServer | DispatchError::QueueTimeout) => {
                    return (error(StatusCode::SERVICE_UNAVAILABLE), None);
                }
                Err(DispatchError::Failed { server, error: e }) => {
                    tracing::warn!(pool = %pool_name, server = %server.name(), error = %e, "cannot connect to server");
                    let who = format!("{pool_name}/{}", server.name());
                    return (error(StatusCode::SERVICE_UNAVAILABLE), Some(who));
                }
            },
        };
        let server = Arc::clone(slot.server());
        let who = || Some(format!("{pool_name}/{}", server.name()));
        let sending = request.take().expect("a request is ready for each attempt");
        let replay = (replayable && risky).then(|| head_copy(&sending));
        let sent = conn.sender.try_send_request(sending);
        // `timeout server` counts the server's silence, not the whole wait:
        // a long upload keeps the connection busy and is not cut.
        let watch = [Watch {
            activity: conn.activity.clone(),
            timeout: pool.server_timeout,
            side: Idle::Server,
        }];
        let outcome = match idle::until_idle(sent, &watch).await {
            Ok(outcome) => outcome,
            Err(_) => {
                count_response_error(&server);
                return (error(StatusCode::GATEWAY_TIMEOUT), who());
            }
        };
        match outcome {
            Ok(response) => {
                server.keepalive().checkin(conn);
                let (mut parts, body) = response.into_parts();
                message::strip_hop_by_hop(&mut parts.headers);
                let body = TimedBody::new(body, pool.server_timeout, Some(slot));
                return (Response::from_parts(parts, Either::Left(body)), who());
            }
            Err(mut failed) => {
                if timed::is_idle(failed.error()) {
                    // The client stopped sending its body.
                    return (error(StatusCode::REQUEST_TIMEOUT), who());
                }
                // Sent nowhere, or sent on a reused connection the server
                // had closed without answering: safe to try again.
                let again = failed
                    .take_message()
                    .or_else(|| replay.map(|head| Request::from_parts(head, TimedBody::empty())));
                if !avoid.iter().any(|s| Arc::ptr_eq(s, &server)) {
                    avoid.push(Arc::clone(&server));
                }
                attempts_left -= 1;
                if let Some(again) = again {
                    if attempts_left > 0 {
                        request = Some(again);
                        continue;
                    }
                    // Nothing was ever answered: the server could not be used.
                    return (error(StatusCode::SERVICE_UNAVAILABLE), who());
                }
                count_response_error(&server);
                tracing::warn!(pool = %pool_name, server = %server.name(), error = %failed.error(), "server failed the request");
                return (error(StatusCode::BAD_GATEWAY), who());
            }
        }
    }
}

/// A copy of a request head, for sending the request again.
fn head_copy(request: &Request<TimedBody>) -> Parts {
    let mut copy = Request::new(());
    *copy.method_mut() = request.method().clone();
    *copy.uri_mut() = request.uri().clone();
    *copy.version_mut() = request.version();
    *copy.headers_mut() = request.headers().clone();
    copy.into_parts().0
}

fn count_response_error(server: &Server) {
    server.count_response_error();
}

/// Connects to a server (retrying and redispatching as configured) and
/// starts an HTTP/1.1 client connection on the stream.
async fn open(
    dispatch: &Dispatch,
    mut slot: InFlight,
    key: &PickKey<'_>,
    avoid: &mut Vec<Arc<Server>>,
) -> Result<(InFlight, Conn), DispatchError> {
    loop {
        let (connected, stream) = dispatch.connect_from(slot, key, avoid).await?;
        let activity = Activity::default();
        let handshake = hyper::client::conn::http1::Builder::new()
            .handshake::<_, TimedBody>(TokioIo::new(Tracked::new(stream, activity.clone())));
        let (mut sender, connection) = match handshake.await {
            Ok(pair) => pair,
            Err(e) => {
                return Err(DispatchError::Failed {
                    server: Arc::clone(connected.server()),
                    error: std::io::Error::other(e),
                });
            }
        };
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "server connection ended with an error");
            }
        });
        if tokio::time::timeout(READY_TIMEOUT, sender.ready())
            .await
            .is_ok_and(|r| r.is_ok())
        {
            return Ok((connected, Conn { sender, activity }));
        }
        slot = connected;
    }
}

/// Parses a health-check method name.
pub(crate) fn method(name: &str) -> Result<Method, String> {
    Method::from_bytes(name.as_bytes()).map_err(|_| format!("invalid HTTP method '{name}'"))
}

/// The client stream as hyper sees it. It keeps the waits for a request
/// (`timeout http-keep-alive` between requests, `timeout http-request` for
/// a head once its first byte arrived), gives up on a client that stops
/// reading for `timeout client`, and, when a head timed out, answers 408 as
/// it is dropped (hyper has given the connection up by then).
struct ClientIo {
    stream: TcpStream,
    state: Arc<ClientState>,
    write_stall: Stall,
    waits: Waits,
}

/// What [`serve`], its service and the [`ClientIo`] inside hyper share.
#[derive(Debug, Default)]
struct ClientState {
    /// Requests whose head hyper has read (the service was called).
    requests: AtomicU64,
    /// Responses hyper is done with (their body was dropped).
    responses: AtomicU64,
    /// When the last response was done: the connection is idle since.
    idle_since: Mutex<Option<tokio::time::Instant>>,
    /// The connection became a tunnel: no more requests, no waits.
    upgraded: AtomicBool,
    /// A request head timed out: answer 408 on drop.
    head_timed_out: AtomicBool,
}

/// A response body that tells the connection when hyper is done with it.
struct Sending {
    body: ResBody,
    state: Arc<ClientState>,
}

impl Drop for Sending {
    fn drop(&mut self) {
        *self
            .state
            .idle_since
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(tokio::time::Instant::now());
        self.state.responses.fetch_add(1, Ordering::Relaxed);
    }
}

impl Body for Sending {
    type Data = Bytes;
    type Error = <ResBody as Body>::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Bytes>, Self::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.body.size_hint()
    }
}

/// The client's waits for a request.
struct Waits {
    /// `timeout http-request` (else `client`): for a head, from its first byte.
    head: Option<Duration>,
    /// `timeout http-keep-alive` (else the head's): for the next request.
    keep_alive: Option<Duration>,
    /// When the connection was handed to hyper.
    started: tokio::time::Instant,
    /// A head is arriving: the request count it will be, and since when.
    head_since: Option<(u64, tokio::time::Instant)>,
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
}

/// Why reading stopped waiting.
enum Expired {
    /// No request came in time: close quietly.
    KeepAlive,
    /// A head did not finish in time: 408.
    Head,
}

impl Waits {
    /// Notes request bytes read while no request is in progress.
    fn bytes_read(&mut self, state: &ClientState) {
        let requests = state.requests.load(Ordering::Relaxed);
        if requests != state.responses.load(Ordering::Relaxed) {
            return;
        }
        if self.head_since.is_none_or(|(count, _)| count != requests) {
            self.head_since = Some((requests, tokio::time::Instant::now()));
        }
    }

    /// The deadline of the current wait, if the connection is waiting for
    /// a request (not serving one, not a tunnel).
    fn deadline(&self, state: &ClientState) -> Option<(tokio::time::Instant, Expired)> {
        if state.upgraded.load(Ordering::Relaxed) {
            return None;
        }
        let requests = state.requests.load(Ordering::Relaxed);
        if requests != state.responses.load(Ordering::Relaxed) {
            // A request is in progress: its body and its response have
            // their own timeouts.
            return None;
        }
        match self.head_since {
            Some((count, since)) if count == requests => Some((since + self.head?, Expired::Head)),
            _ if requests == 0 => Some((self.started + self.head?, Expired::Head)),
            _ => {
                let idle = state.idle_since.lock().unwrap_or_else(|p| p.into_inner());
                Some(((*idle)? + self.keep_alive?, Expired::KeepAlive))
            }
        }
    }

    /// Polls the current wait's timer.
    fn poll_expired(&mut self, cx: &mut Context<'_>, state: &ClientState) -> Poll<Expired> {
        let Some((deadline, why)) = self.deadline(state) else {
            return Poll::Pending;
        };
        let timer = self
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        // The deadline moves later with every request; the timer is moved
        // only when it fires early, not per request (each move re-files it
        // in the runtime's timer wheel, a cost on every keep-alive request).
        if timer.deadline() > deadline {
            timer.as_mut().reset(deadline);
        }
        if timer.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        if tokio::time::Instant::now() >= deadline {
            return Poll::Ready(why);
        }
        timer.as_mut().reset(deadline);
        timer.as_mut().poll(cx).map(|()| why)
    }
}

impl Drop for ClientIo {
    fn drop(&mut self) {
        if self.state.head_timed_out.load(Ordering::Relaxed) {
            // A short page on an idle socket: one non-blocking write fits.
            let _ = self.stream.try_write(&errors::raw_408());
            let _ = socket2::SockRef::from(&self.stream).shutdown(std::net::Shutdown::Write);
        }
    }
}

impl ClientIo {
    fn after_write(
        &mut self,
        cx: &mut Context<'_>,
        poll: Poll<std::io::Result<usize>>,
    ) -> Poll<std::io::Result<usize>> {
        match poll {
            Poll::Ready(Ok(n)) => {
                self.write_stall.progress();
                Poll::Ready(Ok(n))
            }
            Poll::Pending => match self.write_stall.poll_waiting(cx) {
                Poll::Ready(_) => Poll::Ready(Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "client stopped reading",
                ))),
                Poll::Pending => Poll::Pending,
            },
            other => other,
        }
    }
}

impl AsyncRead for ClientIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let this = &mut *self;
        match Pin::new(&mut this.stream).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    this.waits.bytes_read(&this.state);
                }
                Poll::Ready(Ok(()))
            }
            Poll::Pending => match this.waits.poll_expired(cx, &this.state) {
                Poll::Pending => Poll::Pending,
                // Nothing came: end of input, which hyper takes, between
                // requests, as the client leaving.
                Poll::Ready(Expired::KeepAlive) => Poll::Ready(Ok(())),
                Poll::Ready(Expired::Head) => {
                    this.state.head_timed_out.store(true, Ordering::Relaxed);
                    Poll::Ready(Err(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "request head timeout",
                    )))
                }
            },
            other => other,
        }
    }
}

impl AsyncWrite for ClientIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let poll = Pin::new(&mut self.stream).poll_write(cx, buf);
        self.after_write(cx, poll)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let poll = Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
        self.after_write(cx, poll)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        // hyper flushes at the end of every pass over the connection, the
        // one that finished a response included, but reads again only when
        // bytes arrive: the wait for the next request is armed here, so its
        // timer wakes the connection (and the read that then ends it).
        if this.waits.poll_expired(cx, &this.state).is_ready() {
            cx.waker().wake_by_ref();
        }
        Pin::new(&mut this.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}
