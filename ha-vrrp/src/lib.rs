//! A Keepalived-class VRRP router (RFC 3768 / RFC 9568).
//!
//! The protocol sans IO, keepalived.conf import, and a Linux driver.
//!
//! Two routers on a simulated clock, one advert between them:
//!
//! ```
//! use std::net::IpAddr;
//! use std::time::{Duration, Instant};
//!
//! use ha_vrrp::{Output, Router, RouterConfig, State};
//!
//! fn main() -> Result<(), ha_vrrp::Error> {
//!     let vip: IpAddr = "192.168.122.100".parse().unwrap();
//!     let first: IpAddr = "192.168.122.11".parse().unwrap();
//!     let second: IpAddr = "192.168.122.12".parse().unwrap();
//!     // Virtual router 51 on two hosts; the first has the higher priority.
//!     let mut a = Router::new(RouterConfig::new(51, 150, first, vec![vip]));
//!     let mut b = Router::new(RouterConfig::new(51, 100, second, vec![vip]));
//!
//!     // The clock is whatever the caller says: here, a simulated one.
//!     let start = Instant::now();
//!     a.handle_startup(start);
//!     b.handle_startup(start);
//!     assert_eq!((a.state(), b.state()), (State::Backup, State::Backup));
//!
//!     // Nobody advertises: the higher priority's timer runs out first
//!     // (Master_Down_Interval: 3 x advert_int + a skew that shrinks with
//!     // priority), and it takes over.
//!     let now = a.poll_timeout().unwrap();
//!     assert_eq!(now - start, Duration::from_secs(3) + a.skew());
//!     assert!(now < b.poll_timeout().unwrap());
//!     a.handle_timeout(now);
//!     assert_eq!(a.state(), State::Master);
//!
//!     // Carry out what it asks; its advert, delivered to the other router,
//!     // keeps that one a backup for another Master_Down_Interval.
//!     while let Some(output) = a.poll_output() {
//!         match output {
//!             Output::Transmit(advert) => b.handle_advert(now, first, &advert)?,
//!             Output::AddAddresses(_) | Output::RemoveAddresses(_) => {} // rtnetlink
//!             Output::Announce { .. } => {}     // gratuitous ARP / unsolicited NA
//!             Output::StateChanged { .. } => {} // notify scripts
//!         }
//!     }
//!     assert_eq!(b.state(), State::Backup);
//!     assert_eq!(b.poll_timeout(), Some(now + b.master_down_interval()));
//!     Ok(())
//! }
//! ```
//!
//! [`packet`] encodes and decodes VRRPv2 and VRRPv3 advertisements (IPv4
//! and IPv6, both v3 checksum conventions). [`Router`] is RFC 9568's state
//! machine, sans IO, with keepalived's extras (tracking weights, FAULT, sync
//! groups, `preempt_delay`, gratuitous ARP refresh); an advert it drops is
//! an [`Ignored`] saying why. [`keepalived`] imports keepalived.conf into
//! [`config`]. On Linux, [`linux`] carries the router's decisions out: raw
//! sockets, rtnetlink addresses, gratuitous ARP and NA, `use_vmac`, tracked
//! objects, [`notify`] scripts with script security; [`linux::instance`]
//! runs one `vrrp_instance` (the `ha-vrrpd` binary runs a whole file and
//! reloads it on SIGHUP). Interoperability with keepalived 2.2.7 is tested
//! both ways (v2 with PASS, v3 over IPv4 and IPv6, unicast).
//!
//! The wire format on its own:
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
//!
//! # Features
//!
//! - `tokio` (default): the Linux driver ([`linux`]) and [`notify`]
//!   scripts, on tokio and ha-core's script runner. Without it
//!   (`default-features = false`) the crate is the codec, the [`Router`]
//!   and the keepalived.conf importer, with no runtime and no OS calls.

mod checksum;
pub mod config;
pub mod error;
pub mod keepalived;
#[cfg(all(feature = "tokio", target_os = "linux"))]
pub mod linux;
#[cfg(feature = "tokio")]
pub mod notify;
pub mod packet;
pub mod router;

// The README's example is compiled too.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeExample;

pub use checksum::{PROTOCOL, V3Checksum};
pub use error::{Discard, Error, Ignored, Result};
pub use router::{Output, Router, RouterConfig, State, Track};
