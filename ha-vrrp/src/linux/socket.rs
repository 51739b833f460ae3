//! The raw IP socket (protocol 112) advertisements travel on.
//!
//! Sent with TTL/hop limit 255 (RFC 9568 5.1.1.3) and TOS/traffic class
//! 0xc0 (network control, as keepalived does), to 224.0.0.18 or ff02::12 on
//! the interface, or to unicast peers. A raw IPv4 socket receives the IP
//! header with each packet, so the TTL the router must check and the
//! addresses come from there; a raw IPv6 socket does not, so the hop limit
//! and the destination come as control messages (`IPV6_RECVHOPLIMIT`,
//! `IPV6_RECVPKTINFO`). Multicast loopback is off: a router never hears
//! itself.

use std::io::{self, IoSliceMut, Read};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::AsRawFd;

use nix::sys::socket::{ControlMessageOwned, MsgFlags, SockaddrIn6, setsockopt, sockopt};
use socket2::{Domain, InterfaceIndexOrAddress, Protocol, SockAddr, Socket, Type};
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

use crate::checksum::PROTOCOL;

/// VRRP's IPv4 multicast group.
pub const GROUP_V4: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
/// VRRP's IPv6 multicast group.
pub const GROUP_V6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12);
/// Network-control precedence, as keepalived sends.
const TOS: u32 = 0xc0;

/// How advertisements reach the other routers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peers {
    /// To the VRRP group on the link (the RFC's way), from this address:
    /// the interface's primary IPv4 or link-local IPv6 address.
    Multicast(IpAddr),
    /// To each `unicast_peer`, from this address (keepalived's
    /// `unicast_src_ip`), for networks without multicast.
    Unicast(IpAddr),
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
    /// The interface index: the scope of link-local IPv6 destinations.
    index: u32,
    ipv6: bool,
    /// Reused for every packet: receiving allocates nothing.
    buf: Box<[u8; 2048]>,
}

impl AdvertSocket {
    /// Opens the socket on `interface`, of the family of the source address
    /// in `peers`: joined to the VRRP group for [`Peers::Multicast`]. For
    /// unicast and IPv6 the socket is bound to the source address, so the
    /// kernel sends from it (the v3 checksum covers it) and, for unicast,
    /// delivers only packets sent to it. Needs CAP_NET_RAW. Must be called within a tokio
    /// runtime.
    pub fn open(interface: &str, peers: Peers) -> io::Result<Self> {
        let index = nix::net::if_::if_nametoindex(interface).map_err(io::Error::from)?;
        let (Peers::Multicast(source) | Peers::Unicast(source)) = peers;
        let domain = if source.is_ipv4() {
            Domain::IPV4
        } else {
            Domain::IPV6
        };
        let socket = Socket::new(domain, Type::RAW, Some(Protocol::from(i32::from(PROTOCOL))))?;
        socket.bind_device(Some(interface.as_bytes()))?;
        match source {
            IpAddr::V4(source) => {
                socket.set_ttl_v4(255)?;
                socket.set_multicast_ttl_v4(255)?;
                socket.set_tos_v4(TOS)?;
                socket.set_multicast_loop_v4(false)?;
                match peers {
                    // Not bound: a raw IPv4 socket bound to an address only
                    // receives packets sent to it, never the group's. The
                    // kernel sends from the primary address.
                    Peers::Multicast(_) => {
                        let interface = InterfaceIndexOrAddress::Index(index);
                        socket.join_multicast_v4_n(&GROUP_V4, &interface)?;
                    }
                    Peers::Unicast(_) => {
                        socket.bind(&SockAddr::from(SocketAddrV4::new(source, 0)))?;
                    }
                }
            }
            IpAddr::V6(source) => {
                socket.set_unicast_hops_v6(255)?;
                socket.set_multicast_hops_v6(255)?;
                socket.set_tclass_v6(TOS)?;
                socket.set_multicast_loop_v6(false)?;
                socket.set_multicast_if_v6(index)?;
                setsockopt(&socket, sockopt::Ipv6RecvHopLimit, &true)?;
                setsockopt(&socket, sockopt::Ipv6RecvPacketInfo, &true)?;
                if let Peers::Multicast(_) = peers {
                    socket.join_multicast_v6(&GROUP_V6, index)?;
                }
                let scope = if source.is_unicast_link_local() {
                    index
                } else {
                    0
                };
                socket.bind(&SockAddr::from(SocketAddrV6::new(source, 0, 0, scope)))?;
            }
        }
        socket.set_nonblocking(true)?;
        Ok(Self {
            socket: register(socket)?,
            index,
            ipv6: source.is_ipv6(),
            buf: Box::new([0; 2048]),
        })
    }

    /// Sends one VRRP message to `dst`, without waiting: a datagram the
    /// socket buffer has no room for is reported as `WouldBlock` and is lost
    /// like any lost advert (the protocol tolerates losing two in a row).
    pub fn send(&self, payload: &[u8], dst: IpAddr) -> io::Result<()> {
        let to = match dst {
            IpAddr::V4(dst) => SockAddr::from(SocketAddrV4::new(dst, 0)),
            IpAddr::V6(dst) => {
                let scope = if dst.is_multicast() || dst.is_unicast_link_local() {
                    self.index
                } else {
                    0
                };
                SockAddr::from(SocketAddr::V6(SocketAddrV6::new(dst, 0, 0, scope)))
            }
        };
        self.socket.get_ref().send_to(payload, &to).map(|_| ())
    }

    /// Receives the next VRRP packet. Packets that are not well-formed
    /// (or lack the control messages IPv6 needs) are skipped.
    pub async fn recv(&mut self) -> io::Result<Received> {
        let buf = &mut self.buf[..];
        loop {
            let mut ready = self.socket.readable().await?;
            let received = if self.ipv6 {
                match ready.try_io(|s| recv_ipv6(s.get_ref(), buf)) {
                    Ok(result) => result?,
                    Err(_would_block) => continue,
                }
            } else {
                match ready.try_io(|s| s.get_ref().read(buf)) {
                    Ok(result) => parse_ipv4(&buf[..result?]),
                    Err(_would_block) => continue,
                }
            };
            if let Some(received) = received {
                return Ok(received);
            }
        }
    }
}

/// One datagram from a raw IPv6 socket, with the hop limit and destination
/// from its control messages.
fn recv_ipv6(socket: &Socket, buf: &mut [u8]) -> io::Result<Option<Received>> {
    let mut control = nix::cmsg_space!(libc::in6_pktinfo, libc::c_int);
    let mut iov = [IoSliceMut::new(buf)];
    let message = nix::sys::socket::recvmsg::<SockaddrIn6>(
        socket.as_raw_fd(),
        &mut iov,
        Some(&mut control),
        MsgFlags::empty(),
    )
    .map_err(io::Error::from)?;
    let (mut ttl, mut dst) = (None, None);
    for cmsg in message.cmsgs().map_err(io::Error::from)? {
        match cmsg {
            ControlMessageOwned::Ipv6HopLimit(hops) => ttl = u8::try_from(hops).ok(),
            ControlMessageOwned::Ipv6PacketInfo(info) => {
                dst = Some(Ipv6Addr::from(info.ipi6_addr.s6_addr));
            }
            _ => {}
        }
    }
    let (Some(src), Some(ttl), Some(dst)) = (message.address, ttl, dst) else {
        return Ok(None);
    };
    let len = message.bytes;
    Ok(Some(Received {
        src: IpAddr::V6(src.ip()),
        dst: IpAddr::V6(dst),
        ttl,
        payload: buf[..len].to_vec(),
    }))
}

/// Hands a descriptor-owning value to tokio's reactor, for readability
/// only: sends never wait (see [`AdvertSocket::send`]), so wake-ups for
/// writability would be wasted.
#[allow(unsafe_code)]
pub(super) fn register<T: OwnsFd>(owner: T) -> io::Result<AsyncFd<T>> {
    // SAFETY: an `OwnsFd` owns its descriptor: it stays open and the same
    // until the value is dropped, which only happens when the `AsyncFd` that
    // owns it is dropped; `as_raw_fd` always returns that descriptor.
    unsafe { AsyncFd::register_with_interest(owner, Interest::READABLE) }
        .map_err(|e| e.into_parts().1)
}

/// A value that owns the descriptor `as_raw_fd` returns, for its whole life
/// (the condition [`register`] relies on).
pub(super) trait OwnsFd: AsRawFd {}

impl OwnsFd for Socket {}

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
