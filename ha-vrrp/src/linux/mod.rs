//! The Linux driver: the sockets, addresses and announcements that carry
//! out what the [`Router`](crate::Router) decides.
//!
//! The advertisement socket for IPv4 ([`socket`]), virtual address changes
//! over rtnetlink ([`address`]), gratuitous ARP ([`arp`]) and the task that
//! runs a router with them ([`instance`]). IPv6 (sockets, unsolicited NA)
//! comes next.

pub mod address;
pub mod arp;
pub mod instance;
pub mod socket;
