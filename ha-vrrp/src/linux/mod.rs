//! The Linux driver.
//!
//! The sockets, addresses and announcements that carry out what the
//! [`Router`](crate::Router) decides.
//!
//! The advertisement socket for IPv4 and IPv6 ([`socket`]), virtual
//! address changes over rtnetlink ([`address`]), gratuitous ARP ([`arp`]),
//! unsolicited neighbour advertisements ([`ndisc`]), the watchers of
//! tracked objects ([`track`]), script security ([`security`]), the
//! `use_vmac` macvlan ([`vmac`]), a microsecond timer ([`timer`]) and the
//! task that runs a router with them ([`instance`]).

pub mod address;
pub mod arp;
pub mod instance;
pub mod ndisc;
pub mod security;
pub mod socket;
pub mod timer;
pub mod track;
pub mod vmac;
