//! ha-vrrp: a Keepalived-class VRRP (RFC 3768 / RFC 9568) router.
//!
//! [`packet`] encodes and decodes VRRPv2 and VRRPv3 advertisements (IPv4
//! and IPv6, both v3 checksum conventions). [`Router`] is RFC 9568's state
//! machine, sans IO, with keepalived's extras (tracking weights, FAULT, sync
//! groups, `preempt_delay`, gratuitous ARP refresh), tested on a simulated
//! network. [`keepalived`] imports keepalived.conf into [`config`]. On
//! Linux, [`linux`] carries the router's decisions out: raw sockets,
//! rtnetlink addresses, gratuitous ARP and NA, `use_vmac`, tracked objects,
//! notify scripts with script security; [`linux::instance`] runs one
//! `vrrp_instance` (the `ha-vrrpd` binary runs a whole file and reloads it
//! on SIGHUP). Interoperability with keepalived 2.2.7 is tested both ways
//! (v2 with PASS, v3 over IPv4 and IPv6, unicast).
//!
//! Embedding the state machine: feed it time and adverts, carry out what it
//! asks.
//!
//! ```
//! use std::time::{Duration, Instant};
//! use ha_vrrp::{Output, Router, RouterConfig, State};
//!
//! let primary = "192.168.122.11".parse().unwrap();
//! let vip = "192.168.122.100".parse().unwrap();
//! let mut router = Router::new(RouterConfig::new(51, 100, primary, vec![vip]));
//! let start = Instant::now();
//! router.handle_startup(start);
//! assert_eq!(router.state(), State::Backup);
//! // Nobody advertises: after Master_Down_Interval (3 x 1 s + skew) it takes over.
//! let wake = router.poll_timeout().unwrap();
//! assert_eq!(wake - start, Duration::from_secs(3) + router.skew());
//! router.handle_timeout(wake);
//! assert_eq!(router.state(), State::Master);
//! let mut sent = 0;
//! while let Some(output) = router.poll_output() {
//!     match output {
//!         Output::Transmit(_advert) => sent += 1, // encode and send it
//!         Output::AddAddresses(_) | Output::RemoveAddresses(_) => {} // rtnetlink
//!         Output::Announce { .. } => {}     // gratuitous ARP / unsolicited NA
//!         Output::StateChanged { .. } => {} // notify scripts
//!     }
//! }
//! assert_eq!(sent, 1);
//! ```
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

pub use checksum::{PROTOCOL, V3Checksum};
pub use error::{Discard, Error, Ignored, Result};
pub use router::{Output, Router, RouterConfig, State, Track};
