//! The lab's web servers: `web1` and `web2` answer every request with
//! "Welcome to Web1" / "Welcome to Web2", as the chapter's Apache pages do.
//! Stopping one closes its port and every open connection, like
//! `systemctl stop httpd`.

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::JoinSet;

/// A running web server.
#[derive(Debug)]
pub struct WebServer {
    addr: SocketAddr,
    page: &'static str,
    serving: Option<tokio::task::JoinHandle<()>>,
}

impl WebServer {
    /// A server for `page` on `addr`, not started.
    pub fn new(addr: SocketAddr, page: &'static str) -> Self {
        Self {
            addr,
            page,
            serving: None,
        }
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Whether it is serving.
    pub fn is_running(&self) -> bool {
        self.serving.is_some()
    }

    /// Binds and serves (`systemctl start httpd`).
    pub async fn start(&mut self) -> std::io::Result<()> {
        if self.serving.is_some() {
            return Ok(());
        }
        let listener = bind(self.addr)?;
        let page = self.page;
        self.serving = Some(tokio::spawn(async move {
            // Owned here, so stopping (aborting this task) drops every
            // connection with the listener.
            let mut connections = JoinSet::new();
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                connections.spawn(async move {
                    let service =
                        service_fn(move |_request: Request<hyper::body::Incoming>| async move {
                            let mut response =
                                Response::new(Full::new(Bytes::from(format!("{page}\n"))));
                            response
                                .headers_mut()
                                .insert("content-type", "text/html".parse().expect("valid"));
                            Ok::<_, Infallible>(response)
                        });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
                while connections.try_join_next().is_some() {}
            }
        }));
        Ok(())
    }

    /// Closes the port and every connection (`systemctl stop httpd`).
    pub async fn stop(&mut self) {
        if let Some(task) = self.serving.take() {
            task.abort();
            let _ = task.await;
        }
    }
}

/// A listener that can be re-bound at once after a stop.
fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}
