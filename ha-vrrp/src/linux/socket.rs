//! The raw IP socket (protocol 112) advertisements travel on, for IPv4.
//!
//! Sent with TTL 255 (RFC 9568 5.1.1.3) and TOS 0xc0 (network control, as
//! keepalived does), to 224.0.0.18 on the interface or to a unicast peer.
//! A raw IPv4 socket receives the IP header with each packet, so the TTL the
//! router must check and the source and destination addresses come from
//! there; no control messages are needed. Multicast loopback is off: a
//! router never hears itself.

use std::io::{self, Read};
use std::net::{IpAddr, Ipv4Addr, SocketAddrV4};

use socket2::{Domain, InterfaceIndexOrAddress, Protocol, SockAddr, Socket, Type};
use tokio::io::unix::AsyncFd;

use crate::checksum::PROTOCOL;

/// VRRP's IPv4 multicast group.
pub const GROUP_V4: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
/// Network-control precedence, as keepalived sends.
const TOS: u32 = 0xc0;

/// How advertisements reach the other routers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peers {
    /// To the VRRP group on the link (the RFC's way).
    Multicast,
    /// To each `unicast_peer`, from this address (keepalived's
    /// `unicast_src_ip`), for networks without multicast.
    Unicast(Ipv4Addr),
}

/// An advertisement as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// The sender.
    pub src: IpAddr,
    /// The destination (the group, or this host for unicast).
    pub dst: IpAddr,
    /// The IP TTL / hop limit: anything but 255 must be dropped.
    pub ttl: u8,
    /// The VRRP message.
    pub payload: Vec<u8>,
}

/// A raw VRRP socket bound to one interface.
#[derive(Debug)]
pub struct AdvertSocket {
    socket: AsyncFd<Socket>,
}

impl AdvertSocket {
    /// Opens the socket on `interface`: joined to 224.0.0.18 for
    /// [`Peers::Multicast`]; bound to the source address for
    /// [`Peers::Unicast`], which also makes the kernel deliver only packets
    /// sent to that address. Needs CAP_NET_RAW. Must be called within a
    /// tokio runtime.
    pub fn ipv4(interface: &str, peers: Peers) -> io::Result<Self> {
        let socket = Socket::new(
            Domain::IPV4,
            Type::RAW,
            Some(Protocol::from(i32::from(PROTOCOL))),
        )?;
        socket.bind_device(Some(interface.as_bytes()))?;
        socket.set_ttl_v4(255)?;
        socket.set_multicast_ttl_v4(255)?;
        socket.set_tos_v4(TOS)?;
        socket.set_multicast_loop_v4(false)?;
        match peers {
            Peers::Multicast => {
                let index = nix::net::if_::if_nametoindex(interface).map_err(io::Error::from)?;
                let interface = InterfaceIndexOrAddress::Index(index);
                // Sent multicast leaves through the bound device.
                socket.join_multicast_v4_n(&GROUP_V4, &interface)?;
            }
            Peers::Unicast(source) => socket.bind(&SockAddr::from(SocketAddrV4::new(source, 0)))?,
        }
        socket.set_nonblocking(true)?;
        Ok(Self {
            socket: register(socket)?,
        })
    }

    /// Sends one VRRP message to `dst`.
    pub async fn send(&self, payload: &[u8], dst: Ipv4Addr) -> io::Result<()> {
        let to = SockAddr::from(SocketAddrV4::new(dst, 0));
        loop {
            let mut ready = self.socket.writable().await?;
            match ready.try_io(|s| s.get_ref().send_to(payload, &to)) {
                Ok(result) => return result.map(|_| ()),
                Err(_would_block) => continue,
            }
        }
    }

    /// Receives the next VRRP packet. Packets that are not well-formed IPv4
    /// carrying protocol 112 are skipped.
    pub async fn recv(&self) -> io::Result<Received> {
        let mut buf = vec![0u8; 2048];
        loop {
            let mut ready = self.socket.readable().await?;
            let n = match ready.try_io(|s| s.get_ref().read(&mut buf)) {
                Ok(result) => result?,
                Err(_would_block) => continue,
            };
            if let Some(received) = parse_ipv4(&buf[..n]) {
                return Ok(received);
            }
        }
    }
}

/// Hands the socket to tokio's reactor.
#[allow(unsafe_code)]
fn register(socket: Socket) -> io::Result<AsyncFd<Socket>> {
    // SAFETY: `Socket` owns its descriptor: it stays open and the same until
    // the socket is dropped, which only happens when the `AsyncFd` that owns
    // it is dropped; `as_raw_fd` always returns that descriptor.
    unsafe { AsyncFd::register(socket) }.map_err(|e| e.into_parts().1)
}

/// Splits an IPv4 packet into the facts the router needs and the payload.
fn parse_ipv4(packet: &[u8]) -> Option<Received> {
    let first = *packet.first()?;
    if first >> 4 != 4 {
        return None;
    }
    let header = usize::from(first & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([*packet.get(2)?, *packet.get(3)?]));
    if header < 20 || total < header || packet.len() < total || packet[9] != PROTOCOL {
        return None;
    }
    let addr = |at: usize| {
        IpAddr::V4(Ipv4Addr::new(
            packet[at],
            packet[at + 1],
            packet[at + 2],
            packet[at + 3],
        ))
    };
    Some(Received {
        src: addr(12),
        dst: addr(16),
        ttl: packet[8],
        payload: packet[header..total].to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn an_ipv4_header_gives_ttl_and_addresses() {
        let mut packet = vec![
            0x45, 0xc0, 0, 24, 0, 0, 0, 0, 255, 112, 0, 0, 10, 0, 0, 1, 224, 0, 0, 18,
        ];
        packet.extend_from_slice(&[1, 2, 3, 4]);
        let r = parse_ipv4(&packet).unwrap();
        assert_eq!(r.ttl, 255);
        assert_eq!(r.src, IpAddr::from([10, 0, 0, 1]));
        assert_eq!(r.dst, IpAddr::from([224, 0, 0, 18]));
        assert_eq!(r.payload, [1, 2, 3, 4]);
        packet[9] = 6;
        assert!(parse_ipv4(&packet).is_none());
    }

    proptest! {
        #[test]
        fn arbitrary_packets_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..100)) {
            let _ = parse_ipv4(&bytes);
        }
    }
}
