//! Gratuitous ARP for the virtual IPv4 addresses.
//!
//! Telling the LAN that the virtual IPv4 addresses now live behind this
//! interface's MAC address, as keepalived does on becoming master ("who-has
//! VIP tell VIP", broadcast from the interface's MAC).

use std::io;
use std::net::Ipv4Addr;

use socket2::{Domain, Protocol, SockAddr, SockAddrStorage, Socket, Type};

const ETH_P_ARP: u16 = 0x0806;
const BROADCAST: [u8; 6] = [0xff; 6];

/// The 42-byte Ethernet frame of a gratuitous ARP request for `vip`.
pub fn frame(mac: [u8; 6], vip: Ipv4Addr) -> [u8; 42] {
    let mut f = [0u8; 42];
    f[0..6].copy_from_slice(&BROADCAST);
    f[6..12].copy_from_slice(&mac);
    f[12..14].copy_from_slice(&ETH_P_ARP.to_be_bytes());
    // Ethernet, IPv4, 6-byte and 4-byte addresses, request.
    f[14..22].copy_from_slice(&[0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x01]);
    f[22..28].copy_from_slice(&mac);
    f[28..32].copy_from_slice(&vip.octets());
    // Target hardware address left zero; target protocol address = the VIP.
    f[38..42].copy_from_slice(&vip.octets());
    f
}

/// A packet socket that sends ARP frames out of one interface.
#[derive(Debug)]
pub struct ArpSender {
    socket: Socket,
}

impl ArpSender {
    /// Opens it on the interface with index `interface`. Needs CAP_NET_RAW.
    pub fn open(interface: u32) -> io::Result<Self> {
        // Protocol 0: the socket only sends, so it should receive nothing.
        let socket = Socket::new(Domain::PACKET, Type::RAW, Some(Protocol::from(0)))?;
        socket.bind(&link_address(interface))?;
        // Never block the runtime: a full device queue drops the frame.
        socket.set_nonblocking(true)?;
        Ok(Self { socket })
    }

    /// Sends `count` gratuitous ARPs for each address in `vips`. Frames the
    /// device queue has no room for are dropped (and counted in the result),
    /// as a busy switch would drop them: the next burst repeats them.
    pub fn announce(&self, mac: [u8; 6], vips: &[Ipv4Addr], count: u32) -> io::Result<usize> {
        let mut dropped = 0;
        for _ in 0..count {
            for vip in vips {
                match self.socket.send(&frame(mac, *vip)) {
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => dropped += 1,
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(dropped)
    }
}

/// The `sockaddr_ll` that binds a packet socket to an interface for ARP.
#[allow(unsafe_code)]
fn link_address(interface: u32) -> SockAddr {
    let mut storage = SockAddrStorage::zeroed();
    // SAFETY: `sockaddr_ll` is one of the platform's `sockaddr_*` types, and
    // `SockAddrStorage` is large enough for it (`view_as` asserts so).
    let ll = unsafe { storage.view_as::<libc::sockaddr_ll>() };
    ll.sll_family = libc::AF_PACKET as u16;
    ll.sll_protocol = ETH_P_ARP.to_be();
    ll.sll_ifindex = interface as i32;
    ll.sll_halen = 6;
    ll.sll_addr[..6].copy_from_slice(&BROADCAST);
    let len = std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
    // SAFETY: the storage holds an initialised `sockaddr_ll` of `len` bytes.
    unsafe { SockAddr::new(storage, len) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_frame_says_who_has_vip_tell_vip() {
        let mac = [0x02, 0, 0, 0, 0, 0x01];
        let f = frame(mac, Ipv4Addr::new(192, 168, 122, 100));
        assert_eq!(f[0..6], [0xff; 6]);
        assert_eq!(f[6..12], mac);
        assert_eq!(f[12..14], [0x08, 0x06]);
        assert_eq!(f[20..22], [0x00, 0x01], "a request");
        assert_eq!(f[22..28], mac, "sender MAC");
        assert_eq!(f[28..32], [192, 168, 122, 100], "sender IP = VIP");
        assert_eq!(f[32..38], [0; 6]);
        assert_eq!(f[38..42], [192, 168, 122, 100], "target IP = VIP");
    }
}
