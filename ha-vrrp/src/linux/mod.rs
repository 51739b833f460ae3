//! The Linux driver: the sockets, addresses and announcements that carry
//! out what the [`Router`](crate::Router) decides.
//!
//! So far: the advertisement socket for IPv4 ([`socket`]) and virtual
//! address changes over rtnetlink ([`address`]). Gratuitous ARP, IPv6 and
//! the tokio task that ties them to a router come next.

pub mod address;
pub mod socket;
