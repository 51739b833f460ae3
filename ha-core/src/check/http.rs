//! The HTTP check: HAProxy's `option httpchk` with `http-check expect status`,
//! keepalived's `HTTP_GET`.
//!
//! Each probe opens a fresh connection, sends one HTTP/1.1 request with
//! `Connection: close`, and judges the response status; the body is not read.

use std::net::SocketAddr;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use http::{Method, Request, header};
use http_body_util::Empty;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use super::{CheckError, HealthCheck, StatusMatch};

/// An HTTP probe of one server.
///
/// ```
/// use std::time::Duration;
/// use http::Method;
/// use ha_core::{HttpCheck, StatusMatch};
///
/// let check = HttpCheck::new("127.0.0.1:8080".parse().unwrap(), Duration::from_secs(2))
///     .method(Method::GET)
///     .path("/healthz")
///     .host("www.example.com")
///     .expect(StatusMatch::Exact(200));
/// # let _ = check;
/// ```
#[derive(Debug, Clone)]
pub struct HttpCheck {
    addr: SocketAddr,
    method: Method,
    path: String,
    host: Option<String>,
    expect: StatusMatch,
    timeout: Duration,
}

impl HttpCheck {
    /// `OPTIONS /` to `addr`, healthy on 2xx/3xx: HAProxy's `option httpchk`
    /// with no arguments.
    pub fn new(addr: SocketAddr, timeout: Duration) -> Self {
        Self {
            addr,
            method: Method::OPTIONS,
            path: "/".to_owned(),
            host: None,
            expect: StatusMatch::SuccessOrRedirect,
            timeout,
        }
    }

    /// Sets the request method.
    pub fn method(mut self, method: Method) -> Self {
        self.method = method;
        self
    }

    /// Sets the request path (origin-form, e.g. `/health?full=1`).
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.path = path.into();
        self
    }

    /// Sets the `Host` header; without one, the server address is sent.
    pub fn host(mut self, host: impl Into<String>) -> Self {
        self.host = Some(host.into());
        self
    }

    /// Sets which statuses are healthy.
    pub fn expect(mut self, expect: StatusMatch) -> Self {
        self.expect = expect;
        self
    }

    async fn probe(&self) -> Result<(), CheckError> {
        let stream = TcpStream::connect(self.addr)
            .await
            .map_err(|e| CheckError::Connect(super::io_reason(&e)))?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| CheckError::Protocol(e.to_string()))?;
        // The connection future must be polled for the request to progress;
        // it ends when the response is dropped and the socket closes.
        let connection = tokio::spawn(connection);
        let host = self.host.clone().unwrap_or_else(|| self.addr.to_string());
        let request = Request::builder()
            .method(self.method.clone())
            .uri(&self.path)
            .header(header::HOST, host)
            .header(header::CONNECTION, "close")
            .header(header::USER_AGENT, "ha-rs-check")
            .body(Empty::<Bytes>::new())
            .map_err(|e| CheckError::Protocol(format!("cannot build request: {e}")))?;
        let result = sender.send_request(request).await;
        connection.abort();
        let response = result.map_err(|e| CheckError::Protocol(e.to_string()))?;
        let got = response.status().as_u16();
        if self.expect.matches(got) {
            Ok(())
        } else {
            Err(CheckError::Status {
                got,
                expected: self.expect,
            })
        }
    }
}

#[async_trait]
impl HealthCheck for HttpCheck {
    async fn check(&self) -> Result<(), CheckError> {
        tokio::time::timeout(self.timeout, self.probe())
            .await
            .unwrap_or(Err(CheckError::Timeout(self.timeout)))
    }
}
