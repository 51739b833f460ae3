//! Unsolicited neighbour advertisements: IPv6's gratuitous ARP.
//!
//! RFC 4861 7.2.6: on becoming master the router tells all nodes on the
//! link (ff02::1) that each virtual IPv6 address now lives behind this
//! interface's MAC address, with the Override flag so caches update.

use std::io;
use std::net::{Ipv6Addr, SocketAddrV6};

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

/// All nodes on the link.
const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
const NEIGHBOR_ADVERTISEMENT: u8 = 136;
const OVERRIDE: u8 = 0x20;
const TARGET_LINK_LAYER_ADDRESS: u8 = 2;

/// The ICMPv6 message announcing `target` at `mac`. The checksum is left
/// zero: the kernel computes it for ICMPv6 raw sockets.
pub fn advertisement(mac: [u8; 6], target: Ipv6Addr) -> [u8; 32] {
    let mut m = [0u8; 32];
    m[0] = NEIGHBOR_ADVERTISEMENT;
    // Solicited and Router stay clear: nobody asked, and a VIP is a host
    // address here.
    m[4] = OVERRIDE;
    m[8..24].copy_from_slice(&target.octets());
    // Option: target link-layer address, length 1 (8 bytes).
    m[24] = TARGET_LINK_LAYER_ADDRESS;
    m[25] = 1;
    m[26..32].copy_from_slice(&mac);
    m
}

/// An ICMPv6 socket that sends neighbour advertisements out of one
/// interface.
#[derive(Debug)]
pub struct NeighborAdvertiser {
    socket: Socket,
    index: u32,
}

impl NeighborAdvertiser {
    /// Opens it on `interface` (index `index`). Needs CAP_NET_RAW.
    pub fn open(interface: &str, index: u32) -> io::Result<Self> {
        let socket = Socket::new(Domain::IPV6, Type::RAW, Some(Protocol::ICMPV6))?;
        socket.bind_device(Some(interface.as_bytes()))?;
        // Receivers drop neighbour discovery with any other hop limit.
        socket.set_multicast_hops_v6(255)?;
        socket.set_multicast_if_v6(index)?;
        // Only sends; never block the runtime on a full device queue.
        socket.set_nonblocking(true)?;
        Ok(Self { socket, index })
    }

    /// Sends `count` advertisements for each address in `vips`; returns
    /// how many the device queue had no room for (dropped, like ARP).
    pub fn announce(&self, mac: [u8; 6], vips: &[Ipv6Addr], count: u32) -> io::Result<usize> {
        let to = SockAddr::from(SocketAddrV6::new(ALL_NODES, 0, 0, self.index));
        let mut dropped = 0;
        for _ in 0..count {
            for vip in vips {
                match self.socket.send_to(&advertisement(mac, *vip), &to) {
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => dropped += 1,
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(dropped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_announces_the_target_at_our_mac() {
        let mac = [0x02, 0, 0, 0, 0, 0x01];
        let target: Ipv6Addr = "fd00:199::100".parse().unwrap();
        let m = advertisement(mac, target);
        assert_eq!(m[0], 136, "neighbour advertisement");
        assert_eq!(m[1], 0, "code");
        assert_eq!(m[4], 0x20, "override only");
        assert_eq!(m[8..24], target.octets());
        assert_eq!(m[24..26], [2, 1], "target link-layer address option");
        assert_eq!(m[26..32], mac);
    }
}
