//! ha-vrrp: a Keepalived-class VRRP (RFC 3768 / RFC 9568) router.
//!
//! **Status: the pieces are done, the daemon is not.** [`packet`] encodes
//! and decodes VRRPv2 and VRRPv3 advertisements (IPv4 and IPv6, both v3
//! checksum conventions). [`Router`] is RFC 9568's state machine, sans IO,
//! with keepalived's tracking weights, FAULT state and `preempt_delay`,
//! tested on a simulated network. [`keepalived`] imports keepalived.conf
//! into [`config`]. On Linux, [`linux::socket`] sends and receives
//! advertisements (IPv4), [`linux::address`] adds and removes the virtual
//! addresses, [`linux::arp`] sends gratuitous ARP, and
//! [`linux::instance`] runs one `vrrp_instance` with them (the `ha-vrrpd`
//! binary runs them all). [`notify`] maps state changes to keepalived's
//! notify scripts. Still to come: IPv6 sockets and unsolicited NA, unicast
//! source addresses, tracking sources, sync groups and reload.
//!
//! ```
//! use ha_vrrp::packet::{Advert, Auth, Interval, Path, Version};
//! use ha_vrrp::V3Checksum;
//!
//! // The chapter's instance: vrid 51, priority 150, advert_int 1, PASS auth.
//! let advert = Advert {
//!     version: Version::V2,
//!     vrid: 51,
//!     priority: 150,
//!     interval: Interval::from_centis(100).unwrap(),
//!     addresses: vec!["192.168.122.100".parse().unwrap()],
//!     auth: Auth::password("secret123"),
//! };
//! let path = Path { src: "192.168.122.10".parse().unwrap(), dst: "224.0.0.18".parse().unwrap() };
//! let bytes = advert.encode(&path, V3Checksum::default())?;
//! assert_eq!(Advert::decode(&bytes, &path, V3Checksum::default())?, advert);
//! # Ok::<(), ha_vrrp::Error>(())
//! ```

mod checksum;
pub mod config;
pub mod error;
pub mod keepalived;
#[cfg(target_os = "linux")]
pub mod linux;
pub mod notify;
pub mod packet;
pub mod router;

pub use checksum::{PROTOCOL, V3Checksum};
pub use error::{Error, Result};
pub use router::{Ignored, Output, Router, RouterConfig, State, Track};
