//! The tokio driver of an RMCP+ [`Session`]: a UDP socket to the BMC,
//! the session's datagrams and deadlines, and the chassis commands
//! fencing needs.

use std::net::SocketAddr;
use std::time::Instant;

use tokio::net::UdpSocket;

use crate::error::{Error, Result};

use super::packet::Response;
use super::session::{Credentials, Event, Seed, Session, Timing};

/// NetFn Chassis and its commands.
const CHASSIS: u8 = 0x00;
const GET_CHASSIS_STATUS: u8 = 0x01;
const CHASSIS_CONTROL: u8 = 0x02;

/// Chassis Control's actions (IPMI 2.0 28.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChassisControl {
    /// Power down (hard off).
    PowerDown = 0,
    /// Power up.
    PowerUp = 1,
    /// Power cycle (off, then on after the BMC's delay).
    PowerCycle = 2,
    /// Hard reset.
    HardReset = 3,
    /// Soft shutdown through ACPI.
    SoftShutdown = 5,
}

/// Random bytes from the kernel.
fn seed() -> Result<Seed> {
    use std::io::Read;
    let mut bytes = [0u8; 20];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|e| Error::Protocol(format!("/dev/urandom: {e}")))?;
    let mut rm = [0u8; 16];
    rm.copy_from_slice(&bytes[4..]);
    Ok(Seed {
        console_session_id: u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]),
        rm,
    })
}

/// A logged-in RMCP+ session with a BMC.
#[derive(Debug)]
pub struct Connection {
    socket: UdpSocket,
    session: Session,
}

impl Connection {
    /// Logs in to the BMC at `addr`.
    pub async fn open(addr: SocketAddr, credentials: Credentials, timing: Timing) -> Result<Self> {
        let local: SocketAddr = if addr.is_ipv4() {
            "0.0.0.0:0".parse().expect("literal")
        } else {
            "[::]:0".parse().expect("literal")
        };
        let unreachable = |e: std::io::Error| Error::Unreachable(format!("{addr}: {e}"));
        let socket = UdpSocket::bind(local).await.map_err(unreachable)?;
        socket.connect(addr).await.map_err(unreachable)?;
        let session = Session::new(credentials, timing, seed()?, Instant::now())?;
        let mut connection = Self { socket, session };
        match connection.drive().await? {
            Event::Established => Ok(connection),
            other => Err(Error::Protocol(format!(
                "unexpected {other:?} during login"
            ))),
        }
    }

    /// Runs the session until its next event.
    async fn drive(&mut self) -> Result<Event> {
        let mut buf = [0u8; 1024];
        loop {
            while let Some(datagram) = self.session.poll_transmit() {
                if let Err(e) = self.socket.send(&datagram).await {
                    return Err(Error::Unreachable(e.to_string()));
                }
            }
            if let Some(event) = self.session.poll_event() {
                return match event {
                    Event::Failed(e) => Err(e),
                    other => Ok(other),
                };
            }
            let deadline = self.session.poll_timeout();
            let wait = async {
                match deadline {
                    Some(d) => tokio::time::sleep_until(d.into()).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                received = self.socket.recv(&mut buf) => match received {
                    Ok(n) => self.session.handle_datagram(&buf[..n], Instant::now()),
                    // ICMP port unreachable: nothing listens there.
                    Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                        return Err(Error::Unreachable(format!("no BMC answers there: {e}")));
                    }
                    Err(e) => return Err(Error::Unreachable(e.to_string())),
                },
                () = wait => self.session.handle_timeout(Instant::now()),
            }
        }
    }

    /// Sends a command and waits for its answer; a non-zero completion
    /// code is an error.
    pub async fn command(&mut self, netfn: u8, cmd: u8, data: &[u8]) -> Result<Response> {
        self.session
            .send_command(netfn, cmd, data, Instant::now())?;
        match self.drive().await? {
            Event::Response(r) if r.completion == 0 => Ok(r),
            Event::Response(r) => Err(Error::Protocol(format!(
                "command {netfn:#04x}/{cmd:#04x} failed with completion code {:#04x}",
                r.completion
            ))),
            other => Err(Error::Protocol(format!("unexpected {other:?}"))),
        }
    }

    /// Whether the chassis is powered (Get Chassis Status).
    pub async fn power_is_on(&mut self) -> Result<bool> {
        let r = self.command(CHASSIS, GET_CHASSIS_STATUS, &[]).await?;
        let state = r
            .data
            .first()
            .ok_or_else(|| Error::Protocol("empty Get Chassis Status answer".into()))?;
        Ok(state & 0x01 != 0)
    }

    /// Chassis Control.
    pub async fn chassis_control(&mut self, action: ChassisControl) -> Result<()> {
        self.command(CHASSIS, CHASSIS_CONTROL, &[action as u8])
            .await
            .map(drop)
    }

    /// Closes the session (Close Session).
    pub async fn close(mut self) -> Result<()> {
        self.session.close(Instant::now());
        match self.drive().await? {
            Event::Closed => Ok(()),
            other => Err(Error::Protocol(format!("unexpected {other:?} closing"))),
        }
    }
}
