//! The Linux driver: the sockets, addresses and announcements that carry
//! out what the [`Router`](crate::Router) decides.
//!
//! So far: the advertisement socket for IPv4 ([`socket`]). Netlink address
//! management, gratuitous ARP and the tokio task that ties them to a router
//! come next.

pub mod socket;
