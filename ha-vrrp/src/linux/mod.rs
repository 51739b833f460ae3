//! The Linux driver: the sockets, addresses and announcements that carry
//! out what the [`Router`](crate::Router) decides.
//!
//! So far: the advertisement socket for IPv4 ([`socket`]), virtual address
//! changes over rtnetlink ([`address`]) and gratuitous ARP ([`arp`]). IPv6
//! (sockets, unsolicited NA) and the tokio task that ties them to a router
//! come next.

pub mod address;
pub mod arp;
pub mod socket;
