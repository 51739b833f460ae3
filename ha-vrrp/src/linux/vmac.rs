//! keepalived's `use_vmac`: the virtual addresses on a macvlan.
//!
//! The macvlan interface (`vrrp.<VRID>`) carries the VRRP virtual MAC
//! (00-00-5E-00-01-VRID for IPv4, 00-00-5E-00-02-VRID for IPv6, RFC 9568
//! 7.3), so after a failover the neighbours' caches stay right: only the
//! switch relearns which port the MAC is behind, from the new master's
//! gratuitous ARP or NA (sent from the virtual MAC).
//!
//! Adverts keep leaving from the base interface (keepalived's
//! `vmac_xmit_base`). The interface is made on start and deleted on stop;
//! one left behind by a crash is replaced. As keepalived does, ARP on both
//! interfaces answers only for addresses configured on the interface asked
//! (`arp_ignore=1`), so the base interface never answers for a VIP with its
//! own MAC, nor names a VIP as the sender of its own ARP requests
//! (`arp_announce=2`); an IPv4 instance's macvlan has IPv6 off, so a backup's idle
//! macvlan never sends anything from the shared MAC.

use rtnetlink::LinkMacVlan;
use rtnetlink::packet_route::link::MacVlanMode;

use super::address::Addresses;
use crate::error::{Error, Result};

/// The VRRP virtual MAC of `vrid`.
pub fn virtual_mac(vrid: u8, ipv6: bool) -> [u8; 6] {
    [0x00, 0x00, 0x5e, 0x00, if ipv6 { 0x02 } else { 0x01 }, vrid]
}

/// keepalived's name for the macvlan of `vrid`.
pub fn name(vrid: u8) -> String {
    format!("vrrp.{vrid}")
}

/// A macvlan interface this process made.
#[derive(Debug)]
pub struct Vmac {
    /// Its name.
    pub name: String,
    /// Its index.
    pub index: u32,
}

impl Vmac {
    /// Makes `name` on the interface `base` (index `base_index`) with
    /// `mac`, and brings it up.
    pub async fn create(
        addresses: &Addresses,
        base: &str,
        base_index: u32,
        name: &str,
        mac: [u8; 6],
        ipv6: bool,
    ) -> Result<Self> {
        let fail = |message: String| Error::Address {
            action: "create the macvlan",
            address: name.to_owned(),
            message,
        };
        if let Ok(stale) = nix::net::if_::if_nametoindex(name) {
            tracing::info!(interface = name, "replacing a macvlan left behind");
            addresses
                .handle
                .link()
                .del(stale)
                .execute()
                .await
                .map_err(|e| fail(e.to_string()))?;
        }
        let message = LinkMacVlan::new(name, base_index, MacVlanMode::Private)
            .address(mac.to_vec())
            .build();
        addresses
            .handle
            .link()
            .add(message)
            .execute()
            .await
            .map_err(|e| fail(e.to_string()))?;
        let index = nix::net::if_::if_nametoindex(name).map_err(|e| fail(e.to_string()))?;
        let vmac = Self {
            name: name.to_owned(),
            index,
        };
        // Before it comes up: no IPv6 link-local address sent from the
        // shared MAC by an IPv4 instance.
        if ipv6 {
            sysctl(name, "ipv6", "addr_gen_mode", "1")?;
        } else {
            sysctl(name, "ipv6", "disable_ipv6", "1")?;
        }
        sysctl(name, "ipv4", "arp_ignore", "1")?;
        sysctl(base, "ipv4", "arp_ignore", "1")?;
        // ARP requests the base interface sends for traffic from a VIP must
        // not name the VIP as sender, or neighbours learn it at the base
        // MAC.
        sysctl(base, "ipv4", "arp_announce", "2")?;
        let up = rtnetlink::LinkUnspec::new_with_index(index).up().build();
        addresses
            .handle
            .link()
            .set(up)
            .execute()
            .await
            .map_err(|e| fail(e.to_string()))?;
        Ok(vmac)
    }

    /// Deletes the interface (and so the addresses on it).
    pub async fn delete(self, addresses: &Addresses) -> Result<()> {
        addresses
            .handle
            .link()
            .del(self.index)
            .execute()
            .await
            .map_err(|e| Error::Address {
                action: "delete the macvlan",
                address: self.name.clone(),
                message: e.to_string(),
            })
    }
}

/// Sets `net.<family>.conf.<interface>.<key>` in this network namespace.
fn sysctl(interface: &str, family: &str, key: &str, value: &str) -> Result<()> {
    let path = format!("/proc/sys/net/{family}/conf/{interface}/{key}");
    std::fs::write(&path, value).map_err(|e| Error::Address {
        action: "configure",
        address: interface.to_owned(),
        message: format!("{path}: {e}"),
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn virtual_macs_follow_rfc_9568() {
        assert_eq!(super::virtual_mac(51, false), [0, 0, 0x5e, 0, 1, 51]);
        assert_eq!(super::virtual_mac(7, true), [0, 0, 0x5e, 0, 2, 7]);
        assert_eq!(super::name(51), "vrrp.51");
    }
}
