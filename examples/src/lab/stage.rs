//! What the drills need from a lab, whichever way it is built: on loopback
//! ([`super::Lab`]) or in network namespaces ([`super::netns::NetnsLab`]).
//!
//! Queries read snapshots kept current by the lab's own watchers, so a
//! drill can poll them every few milliseconds; actions are async.

use std::net::SocketAddr;
use std::time::Duration;

use async_trait::async_trait;

use super::client::Client;
use super::vrrp::Signal;

/// Who holds the VIP.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Holder {
    /// The load balancer.
    pub lb: bool,
    /// web1 (the VRRP backup).
    pub web1: bool,
}

impl Holder {
    /// lb holds the VIP and web1 does not: the lab at rest.
    pub fn lb_alone(self) -> bool {
        self.lb && !self.web1
    }

    /// For the status line.
    pub fn word(self) -> &'static str {
        match (self.lb, self.web1) {
            (true, true) => "lb+web1",
            (true, false) => "lb",
            (false, true) => "web1",
            (false, false) => "nobody",
        }
    }
}

/// The state of lb's VRRP daemon, as far as the drills are concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Daemon {
    /// Running.
    Running,
    /// Stopped by SIGSTOP.
    Frozen,
    /// Not running (SIGTERM, or never started).
    Stopped,
}

/// The settings the drills' bounds come from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timing {
    /// The servers' check interval (`inter`).
    pub inter: Duration,
    /// `fall`.
    pub fall: u32,
    /// `rise`.
    pub rise: u32,
    /// `advert_int`.
    pub advert: Duration,
    /// web1's priority.
    pub web1_priority: u8,
    /// lb's priority.
    pub lb_priority: u8,
}

impl Timing {
    fn skew(priority: u8) -> Duration {
        Duration::from_secs(1) * (256 - u32::from(priority)) / 256
    }

    /// web1's Skew_Time (VRRPv2: (256 - priority) / 256 s).
    pub fn web1_skew(&self) -> Duration {
        Self::skew(self.web1_priority)
    }

    /// web1's Master_Down_Interval: 3 x advert_int + skew.
    pub fn web1_master_down(&self) -> Duration {
        self.advert * 3 + self.web1_skew()
    }

    /// lb's Master_Down_Interval.
    pub fn lb_master_down(&self) -> Duration {
        self.advert * 3 + Self::skew(self.lb_priority)
    }
}

/// A lab the drills can run on.
#[async_trait]
pub trait Stage: Send + Sync {
    /// The VIP and port clients request.
    fn vip(&self) -> SocketAddr;
    /// One request to the VIP from the client's host.
    async fn get(&self) -> Result<String, String>;
    /// A client requesting the VIP continuously from the client's host.
    fn client(&self, pause: Duration) -> Client;
    /// Starts (`true`) or stops web1's web server.
    async fn set_web1(&mut self, run: bool) -> Result<(), String>;
    /// Whether web1's web server runs.
    fn web1_running(&self) -> bool;
    /// Whether web1's own web server answers on the VIP when web1 holds it
    /// (the chapter's network), rather than a standby load balancer.
    fn web1_serves_vip(&self) -> bool;
    /// Signals lb's VRRP daemon; `Term` returns once it has exited.
    async fn signal_lb(&mut self, signal: Signal) -> Result<(), String>;
    /// Starts lb's VRRP daemon (again).
    async fn start_lb(&mut self) -> Result<(), String>;
    /// lb's VRRP daemon.
    fn lb_daemon(&self) -> Daemon;
    /// Who holds the VIP now.
    fn holder(&self) -> Holder;
    /// Whether lb's load balancer has `server` up (`None`: not running).
    fn lb_sees_up(&self, server: &str) -> Option<bool>;
    /// The settings behind the bounds.
    fn timing(&self) -> Timing;
    /// One line of status.
    fn status_line(&self) -> String;
}
