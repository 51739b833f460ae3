//! The TCP connect check: HAProxy's plain `check`, keepalived's `TCP_CHECK`.

use std::net::SocketAddr;
use std::time::Duration;

use async_trait::async_trait;
use tokio::net::TcpStream;

use super::{CheckError, HealthCheck};

/// Healthy when a TCP connection to `addr` completes within `timeout`.
/// The connection is closed at once.
#[derive(Debug, Clone)]
pub struct TcpCheck {
    addr: SocketAddr,
    timeout: Duration,
}

impl TcpCheck {
    /// A check of `addr` that gives up after `timeout`.
    pub fn new(addr: SocketAddr, timeout: Duration) -> Self {
        Self { addr, timeout }
    }

    /// The address probed.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

#[async_trait]
impl HealthCheck for TcpCheck {
    async fn check(&self) -> Result<(), CheckError> {
        match tokio::time::timeout(self.timeout, TcpStream::connect(self.addr)).await {
            Ok(Ok(_stream)) => Ok(()),
            Ok(Err(e)) => Err(CheckError::Connect(super::io_reason(&e))),
            Err(_) => Err(CheckError::Timeout(self.timeout)),
        }
    }
}
