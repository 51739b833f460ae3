//! The tokio driver of an RMCP+ [`Session`] over UDP.
//!
//! [`Connection`] carries the session's datagrams to the BMC, keeps its
//! deadlines, and offers the chassis commands fencing needs.

use std::net::SocketAddr;
use std::time::Instant;

use tokio::net::UdpSocket;

use crate::error::{Error, Operation, ProtocolError, Result};

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

/// The session's randomness, from the operating system.
fn seed() -> Result<Seed> {
    let bytes: [u8; 20] = ha_core::random::bytes().map_err(Error::Entropy)?;
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
    addr: SocketAddr,
}

impl Connection {
    /// Logs in to the BMC at `addr`.
    pub async fn open(addr: SocketAddr, credentials: Credentials, timing: Timing) -> Result<Self> {
        let local: SocketAddr = if addr.is_ipv4() {
            "0.0.0.0:0".parse().expect("literal")
        } else {
            "[::]:0".parse().expect("literal")
        };
        let socket = UdpSocket::bind(local)
            .await
            .map_err(|e| Error::io(Operation::Bind, addr, e))?;
        socket
            .connect(addr)
            .await
            .map_err(|e| Error::io(Operation::Connect, addr, e))?;
        let session = Session::new(credentials, timing, seed()?, Instant::now())?;
        let mut connection = Self {
            socket,
            session,
            addr,
        };
        match connection.drive().await? {
            Event::Established => Ok(connection),
            _ => Err(ProtocolError::OutOfTurn("an answer during the login").into()),
        }
    }

    /// Runs the session until its next event.
    async fn drive(&mut self) -> Result<Event> {
        let mut buf = [0u8; 1024];
        loop {
            while let Some(datagram) = self.session.poll_transmit() {
                if let Err(e) = self.socket.send(&datagram).await {
                    return Err(Error::io(Operation::Send, self.addr, e));
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
                    Ok(n) => self.session.handle_datagram(Instant::now(), &buf[..n]),
                    // ICMP port unreachable (ConnectionRefused): nothing
                    // listens there.
                    Err(e) => return Err(Error::io(Operation::Receive, self.addr, e)),
                },
                () = wait => self.session.handle_timeout(Instant::now()),
            }
        }
    }

    /// Sends a command and waits for its answer; a non-zero completion
    /// code is an error.
    pub async fn command(&mut self, netfn: u8, cmd: u8, data: &[u8]) -> Result<Response> {
        self.session
            .send_command(Instant::now(), netfn, cmd, data)?;
        match self.drive().await? {
            Event::Response(r) if r.completion == 0 => Ok(r),
            Event::Response(r) => Err(ProtocolError::CompletionCode {
                netfn,
                cmd,
                code: r.completion,
            }
            .into()),
            _ => Err(ProtocolError::OutOfTurn("an event instead of the command's answer").into()),
        }
    }

    /// Whether the chassis is powered (Get Chassis Status).
    pub async fn power_is_on(&mut self) -> Result<bool> {
        let r = self.command(CHASSIS, GET_CHASSIS_STATUS, &[]).await?;
        let state = r
            .data
            .first()
            .ok_or(ProtocolError::EmptyAnswer("Get Chassis Status"))?;
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
            _ => Err(ProtocolError::OutOfTurn("an answer to Close Session").into()),
        }
    }
}
