//! VRRP between the lab's roles without privileges: ha-vrrp's `Router`, the
//! same state machine `ha-vrrpd` runs, with its adverts (real VRRPv2
//! packets, PASS authentication and all) carried in UDP datagrams between
//! loopback addresses, as unicast peers. No raw socket, no interface
//! address, no ARP: "adding the virtual address" is reported to the role,
//! which starts its ha-lb on the VIP (see `super::role`).
//!
//! The daemon can be stopped (SIGTERM: it resigns with priority 0) or
//! frozen (SIGSTOP: it neither sends nor reads, adverts queue in its socket
//! and its timers wait) and thawed.

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use ha_vrrp::packet::{Advert, Path};
use ha_vrrp::{Output, Router, RouterConfig, State, V3Checksum};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

/// What the lab does to a VRRP daemon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// SIGTERM: resign and exit.
    Term,
    /// SIGSTOP: freeze.
    Stop,
    /// SIGCONT: thaw.
    Cont,
}

/// The daemon's state as the status line shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Status {
    /// VRRP state (`Initialize` once stopped).
    pub state: State,
    /// Priority in force.
    pub priority: u8,
    /// Frozen by [`Signal::Stop`].
    pub frozen: bool,
}

/// A change of the virtual address: `true` when this router took it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VipChange {
    /// Whether the router now holds the address.
    pub hold: bool,
    /// When the router decided.
    pub at: Instant,
}

/// A running daemon.
#[derive(Debug)]
pub struct VrrpDaemon {
    signals: mpsc::UnboundedSender<Signal>,
    status: watch::Receiver<Status>,
    task: JoinHandle<()>,
}

impl VrrpDaemon {
    /// Starts a router with `config` on `local` (UDP), advertising to
    /// `peer`; address changes go to `vip`.
    pub async fn start(
        name: &'static str,
        config: RouterConfig,
        local: SocketAddr,
        peer: SocketAddr,
        vip: mpsc::UnboundedSender<VipChange>,
    ) -> std::io::Result<Self> {
        let socket = UdpSocket::bind(local).await?;
        let (signals, mut signal_rx) = mpsc::unbounded_channel();
        let mut router = Router::new(config);
        let (status_tx, status) = watch::channel(Status {
            state: State::Initialize,
            priority: router.priority(),
            frozen: false,
        });
        let task = tokio::spawn(async move {
            let mut buf = [0u8; 1500];
            let mut frozen = false;
            router.handle_startup(Instant::now());
            let outlets = Outlets {
                name,
                socket: &socket,
                peer,
                vip: &vip,
                status: &status_tx,
            };
            apply(&outlets, &mut router, frozen).await;
            loop {
                if frozen {
                    // Like a stopped process: nothing is read or sent, and
                    // no timer fires, until SIGCONT.
                    match signal_rx.recv().await {
                        Some(Signal::Cont) => frozen = false,
                        Some(Signal::Stop) => continue,
                        Some(Signal::Term) | None => {
                            router.handle_shutdown(Instant::now());
                        }
                    }
                } else {
                    let wake = router.poll_timeout();
                    tokio::select! {
                        received = socket.recv_from(&mut buf) => {
                            if let Ok((n, from)) = received {
                                receive(&mut router, &buf[..n], from, local.ip());
                            }
                        }
                        () = sleep_until(wake) => router.handle_timeout(Instant::now()),
                        signal = signal_rx.recv() => match signal {
                            Some(Signal::Stop) => frozen = true,
                            Some(Signal::Cont) => {}
                            Some(Signal::Term) | None => router.handle_shutdown(Instant::now()),
                        },
                    }
                }
                apply(&outlets, &mut router, frozen).await;
                if router.state() == State::Initialize {
                    return;
                }
            }
        });
        Ok(Self {
            signals,
            status,
            task,
        })
    }

    /// Sends a signal.
    pub fn signal(&self, signal: Signal) {
        let _ = self.signals.send(signal);
    }

    /// The current status.
    pub fn status(&self) -> Status {
        *self.status.borrow()
    }

    /// SIGTERM and waits for the daemon to exit.
    pub async fn stop(self) {
        self.signal(Signal::Term);
        let _ = self.task.await;
    }
}

fn receive(router: &mut Router, bytes: &[u8], from: SocketAddr, local: IpAddr) {
    let path = Path {
        src: from.ip(),
        dst: local,
    };
    match Advert::decode(bytes, &path, V3Checksum::PseudoHeader) {
        Ok(advert) => {
            let _ = router.handle_advert(Instant::now(), from.ip(), &advert);
        }
        Err(e) => tracing::debug!(%from, error = %e, "advert dropped"),
    }
}

/// Where a daemon's decisions go.
struct Outlets<'a> {
    name: &'a str,
    socket: &'a UdpSocket,
    peer: SocketAddr,
    vip: &'a mpsc::UnboundedSender<VipChange>,
    status: &'a watch::Sender<Status>,
}

async fn apply(out: &Outlets<'_>, router: &mut Router, frozen: bool) {
    let Outlets {
        name,
        socket,
        peer,
        vip,
        status,
    } = *out;
    while let Some(output) = router.poll_output() {
        match output {
            Output::Transmit { src, advert } => {
                let path = Path {
                    src,
                    dst: peer.ip(),
                };
                match advert.encode(&path, V3Checksum::PseudoHeader) {
                    Ok(bytes) => {
                        let _ = socket.send_to(&bytes, peer).await;
                    }
                    Err(e) => tracing::error!(error = %e, "cannot encode an advert"),
                }
            }
            Output::AddAddresses(_) => {
                let _ = vip.send(VipChange {
                    hold: true,
                    at: Instant::now(),
                });
            }
            Output::RemoveAddresses(_) => {
                let _ = vip.send(VipChange {
                    hold: false,
                    at: Instant::now(),
                });
            }
            // No ARP in loopback mode: the role's listener is the address.
            Output::Announce { .. } => {}
            Output::StateChanged { from, to } => {
                tracing::info!("({name}) VRRP {from:?} -> {to:?}");
            }
        }
    }
    status.send_replace(Status {
        state: router.state(),
        priority: router.priority(),
        frozen,
    });
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await,
        None => std::future::pending().await,
    }
}
