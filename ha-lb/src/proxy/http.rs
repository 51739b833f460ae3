//! `mode http`: HTTP/1.1 from clients, balanced per request over pooled
//! keep-alive connections to servers.
//!
//! hyper parses and frames both sides. On top of it this module enforces
//! what a proxy must (RFC 9110/9112): exactly one `Host` in HTTP/1.1 requests,
//! hop-by-hop headers not forwarded, `X-Forwarded-For` with `option
//! forwardfor`. hyper itself rejects what it cannot frame safely (differing
//! `Content-Length`s, a `Transfer-Encoding` not ending in chunked, one in an
//! HTTP/1.0 request, bad chunk sizes, malformed heads) with 400, and for a
//! request carrying both `Transfer-Encoding` and `Content-Length` it frames by
//! the former, drops the latter and closes the connection after the
//! response, as HAProxy does: the two lengths never reach a server together.
//!
//! Errors are HAProxy's: 503 when no server can take the request, 502 when a
//! server fails, 504 when it does not answer within `timeout server`, 408 when
//! a client does not finish its request head within `timeout http-request`.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, Request, Response, StatusCode, Uri, Version};
use http_body_util::{Either, Full};
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::watch;

use super::dispatch::{Dispatch, DispatchError};
use super::errors;
use crate::acl::{self, Routing};
use crate::balance::PickKey;
use crate::config::Timeouts;
use crate::server::{InFlight, Server};

/// Biggest request head accepted (HAProxy's default `tune.bufsize` is 16 KiB).
const MAX_HEAD: usize = 16 * 1024;
/// Longest wait for one keep-alive connection to be handed a request.
const READY_TIMEOUT: Duration = Duration::from_secs(5);

/// A backend as HTTP mode uses it.
#[derive(Debug)]
pub(crate) struct HttpBackend {
    pub dispatch: Dispatch,
    pub forwardfor: bool,
    pub server_timeout: Option<Duration>,
}

/// What an HTTP frontend needs to serve a connection.
#[derive(Debug)]
pub(crate) struct HttpRoute {
    pub frontend: String,
    pub routing: Routing,
    pub backends: HashMap<String, Arc<HttpBackend>>,
    pub timeouts: Timeouts,
    pub log: bool,
}

type ResBody = Either<GuardedBody, Full<Bytes>>;

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
        _ = stop.wait_for(|stopping| *stopping) => false,
    }
}

impl HttpRoute {
    /// `timeout http-request`, else `timeout client`.
    fn head_timeout(&self) -> Option<Duration> {
        self.timeouts.http_request.or(self.timeouts.client)
    }
}

/// Serves one client connection until it closes.
///
/// When `stop` turns true, the connection finishes the request in progress
/// and closes.
pub(crate) async fn serve(
    mut stream: TcpStream,
    peer: SocketAddr,
    route: Arc<HttpRoute>,
    mut stop: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let unanswered = Arc::new(AtomicBool::new(false));
    let io = TokioIo::new(HeadWatch {
        inner: &mut stream,
        unanswered: Arc::clone(&unanswered),
    });
    let head_timeout = route.head_timeout();
    let service = {
        let route = Arc::clone(&route);
        service_fn(move |req| {
            let route = Arc::clone(&route);
            async move { Ok::<_, Infallible>(handle(req, peer, &route).await) }
        })
    };
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(head_timeout)
        .max_buf_size(MAX_HEAD.max(8192))
        .keep_alive(true);
    let result = {
        let connection = builder.serve_connection(io, service);
        tokio::pin!(connection);
        tokio::select! {
            result = connection.as_mut() => result,
            _ = async { let _ = stop.wait_for(|stopping| *stopping).await; } => {
                connection.as_mut().graceful_shutdown();
                connection.await
            }
        }
    };
    if let Err(error) = result {
        if error.is_timeout() && unanswered.load(Ordering::Relaxed) {
            // A request head started but did not finish in time: say so, as
            // HAProxy does, instead of vanishing.
            tracing::debug!(frontend = %route.frontend, client = %peer, "request head timeout, answering 408");
            let _ = stream.write_all(&errors::raw_408()).await;
            let _ = stream.shutdown().await;
        } else {
            tracing::debug!(frontend = %route.frontend, client = %peer, %error, "client connection ended with an error");
        }
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
    {
        tracing::info!(
            target: "ha_lb::log",
            "{peer} [{}] {} {}ms {} \"{method} {uri} {version:?}\"",
            route.frontend,
            served_by.as_deref().unwrap_or("<NOSRV>"),
            started.elapsed().as_millis(),
            response.status().as_u16(),
        );
    }
    response
}

fn error(status: StatusCode) -> Response<ResBody> {
    errors::page(status).map(Either::Right)
}

/// Forwards one request; returns the response and `backend/server` for the log.
async fn forward(
    req: Request<Incoming>,
    peer: SocketAddr,
    route: &HttpRoute,
) -> (Response<ResBody>, Option<String>) {
    if let Err(why) = validate(&req) {
        tracing::debug!(frontend = %route.frontend, client = %peer, why, "bad request");
        return (error(StatusCode::BAD_REQUEST), None);
    }
    let facts = acl::Request {
        src: peer.ip(),
        method: req.method().as_str(),
        path: req.uri().path(),
        headers: req.headers(),
    };
    let Some(backend) = route
        .routing
        .route(&facts)
        .and_then(|name| route.backends.get(name).map(|b| (name, b)))
    else {
        return (error(StatusCode::SERVICE_UNAVAILABLE), None);
    };
    let (backend_name, backend) = backend;
    let mut request = prepare(req, peer, backend.forwardfor);
    let uri = request.uri().clone();
    let key = PickKey {
        src: Some(peer.ip()),
        uri: Some(uri.path()),
    };
    let mut avoid: Vec<Arc<Server>> = Vec::new();
    let mut attempts_left = backend.dispatch.retries.saturating_add(1);
    loop {
        let server = match backend.dispatch.pick(&key, &avoid).await {
            Ok(server) => server,
            Err(_) => return (error(StatusCode::SERVICE_UNAVAILABLE), None),
        };
        let (guard, mut conn) = match server.pool().checkout() {
            Some(conn) => (server.begin(), conn),
            None => match open(&backend.dispatch, server, &key, &mut avoid).await {
                Ok(pair) => pair,
                Err(DispatchError::NoServer | DispatchError::QueueTimeout) => {
                    return (error(StatusCode::SERVICE_UNAVAILABLE), None);
                }
                Err(DispatchError::Failed { server, error: e }) => {
                    tracing::warn!(backend = %backend_name, server = %server.name(), error = %e, "cannot connect to server");
                    let who = format!("{backend_name}/{}", server.name());
                    return (error(StatusCode::SERVICE_UNAVAILABLE), Some(who));
                }
            },
        };
        let server = Arc::clone(guard.server());
        let who = || Some(format!("{backend_name}/{}", server.name()));
        let sent = conn.try_send_request(request);
        let outcome = match backend.server_timeout {
            Some(limit) => match tokio::time::timeout(limit, sent).await {
                Ok(outcome) => outcome,
                Err(_) => {
                    count_response_error(&server);
                    return (error(StatusCode::GATEWAY_TIMEOUT), who());
                }
            },
            None => sent.await,
        };
        match outcome {
            Ok(response) => {
                server.pool().checkin(conn);
                let (mut parts, body) = response.into_parts();
                strip_hop_by_hop(&mut parts.headers);
                let body = GuardedBody {
                    inner: body,
                    _in_flight: guard,
                };
                return (Response::from_parts(parts, Either::Left(body)), who());
            }
            Err(mut failed) => {
                // The request never left: try again elsewhere or later.
                if let Some(unsent) = failed.take_message() {
                    attempts_left -= 1;
                    if attempts_left > 0 {
                        request = unsent;
                        continue;
                    }
                }
                count_response_error(&server);
                tracing::warn!(backend = %backend_name, server = %server.name(), error = %failed.error(), "server failed the request");
                return (error(StatusCode::BAD_GATEWAY), who());
            }
        }
    }
}

fn count_response_error(server: &Server) {
    server
        .counters()
        .response_errors
        .fetch_add(1, Ordering::Relaxed);
}

/// Connects to a server (retrying and redispatching as configured) and
/// starts an HTTP/1.1 client connection on the stream.
async fn open(
    dispatch: &Dispatch,
    server: Arc<Server>,
    key: &PickKey<'_>,
    avoid: &mut Vec<Arc<Server>>,
) -> Result<(InFlight, hyper::client::conn::http1::SendRequest<Incoming>), DispatchError> {
    loop {
        let (guard, stream) = dispatch
            .connect_from(Arc::clone(&server), key, avoid)
            .await?;
        let handshake = hyper::client::conn::http1::Builder::new()
            .handshake::<_, Incoming>(TokioIo::new(stream));
        let (mut sender, connection) = match handshake.await {
            Ok(pair) => pair,
            Err(e) => {
                return Err(DispatchError::Failed {
                    server: Arc::clone(guard.server()),
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
            .is_ok()
        {
            return Ok((guard, sender));
        }
    }
}

/// Parses a health-check method name.
pub(crate) fn method(name: &str) -> Result<Method, String> {
    Method::from_bytes(name.as_bytes()).map_err(|_| format!("invalid HTTP method '{name}'"))
}

/// Rejects what hyper lets through but a proxy must not forward.
fn validate(req: &Request<Incoming>) -> Result<(), &'static str> {
    let hosts = req.headers().get_all(header::HOST).iter().count();
    if hosts > 1 {
        return Err("several Host headers");
    }
    if hosts == 0 && req.version() == Version::HTTP_11 && req.uri().authority().is_none() {
        return Err("HTTP/1.1 request without Host");
    }
    Ok(())
}

/// Turns a client request into the request sent to a server.
fn prepare(req: Request<Incoming>, peer: SocketAddr, forwardfor: bool) -> Request<Incoming> {
    let (mut parts, body) = req.into_parts();
    // Absolute-form targets become origin-form with the authority as Host.
    if let Some(authority) = parts.uri.authority().cloned() {
        if let Ok(value) = HeaderValue::from_str(authority.as_str()) {
            parts.headers.insert(header::HOST, value);
        }
        let path = parts
            .uri
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_owned();
        if let Ok(origin) = path.parse::<Uri>() {
            parts.uri = origin;
        }
    }
    strip_hop_by_hop(&mut parts.headers);
    if forwardfor {
        let ip = peer.ip().to_string();
        if let Ok(value) = HeaderValue::from_str(&ip) {
            parts.headers.append(X_FORWARDED_FOR, value);
        }
    }
    parts.version = Version::HTTP_11;
    Request::from_parts(parts, body)
}

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

/// Removes the headers that describe one hop, not the message (RFC 9110
/// 7.6.1): `Connection` and every header it names, and the fixed list.
fn strip_hop_by_hop(headers: &mut HeaderMap) {
    // Most messages carry none: one pass over the names is cheaper than
    // ten hashed removals.
    if !headers.keys().any(is_hop_by_hop) {
        return;
    }
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in named {
        headers.remove(name);
    }
    for name in [
        header::CONNECTION,
        header::TE,
        header::TRAILER,
        header::TRANSFER_ENCODING,
        header::UPGRADE,
        header::PROXY_AUTHENTICATE,
    ] {
        headers.remove(name);
    }
    headers.remove("keep-alive");
    headers.remove("proxy-connection");
}

fn is_hop_by_hop(name: &HeaderName) -> bool {
    [
        header::CONNECTION,
        header::TE,
        header::TRAILER,
        header::TRANSFER_ENCODING,
        header::UPGRADE,
        header::PROXY_AUTHENTICATE,
    ]
    .contains(name)
        || name.as_str() == "keep-alive"
        || name.as_str() == "proxy-connection"
}

/// A server's response body that counts as load on the server until it has
/// been sent to the client or dropped.
pub(crate) struct GuardedBody {
    inner: Incoming,
    _in_flight: InFlight,
}

impl Body for GuardedBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The client stream as hyper sees it, noting whether request bytes arrived
/// that no response has followed yet: the mark of a request head in
/// progress when hyper's head timeout fires.
struct HeadWatch<'a> {
    inner: &'a mut TcpStream,
    unanswered: Arc<AtomicBool>,
}

impl AsyncRead for HeadWatch<'_> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let poll = Pin::new(&mut *self.inner).poll_read(cx, buf);
        if matches!(poll, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.unanswered.store(true, Ordering::Relaxed);
        }
        poll
    }
}

impl AsyncWrite for HeadWatch<'_> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let poll = Pin::new(&mut *self.inner).poll_write(cx, buf);
        if matches!(poll, Poll::Ready(Ok(n)) if n > 0) {
            self.unanswered.store(false, Ordering::Relaxed);
        }
        poll
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let poll = Pin::new(&mut *self.inner).poll_write_vectored(cx, bufs);
        if matches!(poll, Poll::Ready(Ok(n)) if n > 0) {
            self.unanswered.store(false, Ordering::Relaxed);
        }
        poll
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut *self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut *self.inner).poll_shutdown(cx)
    }
}
