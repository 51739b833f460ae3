//! A Keepalived-class VRRP router (RFC 3768 / RFC 9568).
//!
//! The protocol sans IO, keepalived.conf import, and a Linux driver.
//!
//! Two routers on a simulated clock and a simulated network. After every
//! `handle_*` call (startup included) the driver drains
//! [`Router::poll_output`] and carries out each [`Output`] in order:
//!
//! ```
//! use std::net::IpAddr;
//! use std::time::{Duration, Instant};
//!
//! use ha_vrrp::{Output, Router, RouterConfig, State};
//!
//! fn main() {
//!     let vip: IpAddr = "192.168.122.100".parse().unwrap();
//!     let host = |ip: &str| ip.parse::<IpAddr>().unwrap();
//!     // Virtual router 51 on two hosts; the first has the higher priority.
//!     let mut routers = [
//!         Router::new(RouterConfig::new(51, 150, host("192.168.122.11"), vec![vip])),
//!         Router::new(RouterConfig::new(51, 100, host("192.168.122.12"), vec![vip])),
//!     ];
//!     // The clock is whatever the caller says: here, a simulated one.
//!     let start = Instant::now();
//!     let mut now = start;
//!     routers.iter_mut().for_each(|r| r.handle_startup(now));
//!     let mut changes = Vec::new();
//!     while now < start + Duration::from_secs(10) {
//!         // After every input, carry out all the routers ask for.
//!         for i in 0..2 {
//!             while let Some(output) = routers[i].poll_output() {
//!                 match output {
//!                     // The network: the other router receives it.
//!                     Output::Transmit { src, advert } => {
//!                         if let Err(why) = routers[1 - i].handle_advert(now, src, &advert) {
//!                             println!("router {} ignored an advert: {why}", 1 - i);
//!                         }
//!                     }
//!                     Output::AddAddresses(_) | Output::RemoveAddresses(_) => {} // rtnetlink
//!                     Output::Announce { .. } => {} // gratuitous ARP / unsolicited NA
//!                     Output::StateChanged { to, .. } => changes.push((i, to, now - start)),
//!                 }
//!             }
//!         }
//!         // Sleep until the next timer, and fire it.
//!         let (at, i) = (0..2)
//!             .filter_map(|i| Some((routers[i].poll_timeout()?, i)))
//!             .min()
//!             .unwrap();
//!         now = at;
//!         routers[i].handle_timeout(now);
//!     }
//!     // Both start as backups; nobody advertises, so the higher priority's
//!     // timer (Master_Down_Interval: 3 x advert_int + a skew that shrinks
//!     // with priority) runs out first and it takes over. Its adverts keep the
//!     // other a backup.
//!     let master_down = Duration::from_secs(3) + routers[0].skew();
//!     assert_eq!(
//!         changes,
//!         [
//!             (0, State::Backup, Duration::ZERO),
//!             (1, State::Backup, Duration::ZERO),
//!             (0, State::Master, master_down),
//!         ]
//!     );
//!     assert_eq!((routers[0].state(), routers[1].state()), (State::Master, State::Backup));
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

// The crate docs name the driver's modules, which exist only with the
// `tokio` feature; without it those names stay plain text.
#![cfg_attr(not(feature = "tokio"), allow(rustdoc::broken_intra_doc_links))]

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
