//! Adding and removing the virtual addresses, over rtnetlink.
//!
//! Each address keeps its prefix (so the kernel installs the connected
//! route, as `ip addr add 192.168.122.100/24` does) and an optional label
//! (`eth0:1`, shown by `ip addr` and old `ifconfig`). Both operations are
//! idempotent: adding an address that is there, or removing one that is
//! not, succeeds, so a router can re-assert its state after a restart.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use rtnetlink::packet_route::address::{AddressAttribute, AddressHeaderFlags};
use rtnetlink::{AddressMessageBuilder, Handle};
use tokio::task::JoinHandle;

use crate::error::{Error, Result};

/// A virtual address on an interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vip {
    /// The address.
    pub addr: IpAddr,
    /// Its prefix length.
    pub prefix: u8,
    /// An optional label, which must start with the interface name.
    pub label: Option<String>,
}

/// An rtnetlink connection in the network namespace it was opened in.
#[derive(Debug)]
pub struct Addresses {
    pub(super) handle: Handle,
    connection: JoinHandle<()>,
}

impl Addresses {
    /// Opens the connection; must be called within a tokio runtime.
    pub fn open() -> io::Result<Self> {
        let (connection, handle, _) = rtnetlink::new_connection()?;
        Ok(Self {
            handle,
            connection: tokio::spawn(connection),
        })
    }

    /// Adds `vip` to the interface with index `interface`.
    pub async fn add(&self, interface: u32, vip: &Vip) -> Result<()> {
        let mut request = self.handle.address().add(interface, vip.addr, vip.prefix);
        if let Some(label) = &vip.label {
            request
                .message_mut()
                .attributes
                .push(AddressAttribute::Label(label.clone()));
        }
        if vip.addr.is_ipv6() {
            // As keepalived: the address is the master's the moment it is
            // added; duplicate detection would hold it back a second or more.
            request
                .message_mut()
                .header
                .flags
                .insert(AddressHeaderFlags::Nodad);
        }
        match request.execute().await {
            Ok(()) => Ok(()),
            Err(e) if errno(&e) == Some(nix::errno::Errno::EEXIST) => Ok(()),
            Err(e) => Err(failure("add", vip, &e)),
        }
    }

    /// Removes `vip` from the interface with index `interface`.
    pub async fn remove(&self, interface: u32, vip: &Vip) -> Result<()> {
        let message = match vip.addr {
            IpAddr::V4(a) => AddressMessageBuilder::<Ipv4Addr>::new()
                .index(interface)
                .address(a, vip.prefix)
                .build(),
            IpAddr::V6(a) => AddressMessageBuilder::<Ipv6Addr>::new()
                .index(interface)
                .address(a, vip.prefix)
                .build(),
        };
        match self.handle.address().del(message).execute().await {
            Ok(()) => Ok(()),
            Err(e) if errno(&e) == Some(nix::errno::Errno::EADDRNOTAVAIL) => Ok(()),
            Err(e) => Err(failure("remove", vip, &e)),
        }
    }
}

impl Addresses {
    /// The source of advertisements on the interface with index
    /// `interface`: its primary (first) IPv4 address, or for IPv6 its
    /// link-local address (RFC 9568 5.1.2.1).
    pub async fn primary(&self, interface: u32, ipv6: bool) -> Result<IpAddr> {
        use futures_util::TryStreamExt;
        use rtnetlink::packet_route::address::AddressAttribute as A;
        let fail = |message: String| Error::Address {
            action: "find the primary address of",
            address: format!("interface {interface}"),
            message,
        };
        let mut addresses = self
            .handle
            .address()
            .get()
            .set_link_index_filter(interface)
            .execute();
        while let Some(message) = addresses
            .try_next()
            .await
            .map_err(|e| fail(e.to_string()))?
        {
            for attribute in &message.attributes {
                match attribute {
                    A::Local(IpAddr::V4(a)) | A::Address(IpAddr::V4(a)) if !ipv6 => {
                        return Ok(IpAddr::V4(*a));
                    }
                    A::Address(IpAddr::V6(a)) if ipv6 && a.is_unicast_link_local() => {
                        return Ok(IpAddr::V6(*a));
                    }
                    _ => {}
                }
            }
        }
        Err(fail(if ipv6 {
            "it has no IPv6 link-local address".into()
        } else {
            "it has no IPv4 address".into()
        }))
    }

    /// The MAC address of the interface with index `interface`.
    pub async fn mac(&self, interface: u32) -> Result<[u8; 6]> {
        use futures_util::TryStreamExt;
        use rtnetlink::packet_route::link::LinkAttribute;
        let fail = |message: String| Error::Address {
            action: "read the MAC address of",
            address: format!("interface {interface}"),
            message,
        };
        let mut links = self.handle.link().get().match_index(interface).execute();
        let link = links
            .try_next()
            .await
            .map_err(|e| fail(e.to_string()))?
            .ok_or_else(|| fail("no such interface".into()))?;
        link.attributes
            .iter()
            .find_map(|a| match a {
                LinkAttribute::Address(bytes) => <[u8; 6]>::try_from(bytes.as_slice()).ok(),
                _ => None,
            })
            .ok_or_else(|| fail("it has no Ethernet address".into()))
    }
}

impl Drop for Addresses {
    fn drop(&mut self) {
        self.connection.abort();
    }
}

fn errno(error: &rtnetlink::Error) -> Option<nix::errno::Errno> {
    match error {
        rtnetlink::Error::NetlinkError(message) => {
            Some(nix::errno::Errno::from_raw(-message.raw_code()))
        }
        _ => None,
    }
}

fn failure(action: &'static str, vip: &Vip, error: &rtnetlink::Error) -> Error {
    Error::Address {
        action,
        address: format!("{}/{}", vip.addr, vip.prefix),
        message: error.to_string(),
    }
}
