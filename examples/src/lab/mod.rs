//! `ha-lab`: the chapter's "Try This" lab (section 7.10) on one machine.
//!
//! Two web servers answer "Welcome to Web1" / "Welcome to Web2"; `lb` runs
//! ha-lb (the chapter's haproxy.cfg) and a VRRP daemon (its keepalived.conf,
//! priority 150); `web1` runs the backup VRRP daemon (priority 100) and a
//! standby ha-lb. A client requests the VIP while drills break things and
//! measure what it saw. See `docs/lab.md`.
//!
//! The default, unprivileged mode puts everything on loopback ([`Lab`]):
//! the VRRP routers are ha-vrrp's, their adverts carried in UDP between
//! 127.0.0.11 and 127.0.0.12 ([`vrrp`]); holding the VIP means the role's
//! ha-lb listens on 127.0.0.100 ([`role`]). No interface address or ARP
//! entry moves; the output says so. `--netns` builds the lab in network
//! namespaces with the real daemons (`netns`). The drills ([`drill`]) run
//! on either through [`stage::Stage`].

pub mod client;
pub mod drill;
#[cfg(target_os = "linux")]
pub mod netns;
pub mod report;
pub mod role;
pub mod stage;
pub mod vrrp;
pub mod web;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use ha_vrrp::RouterConfig;
use tokio::sync::{mpsc, watch};

use client::Client;
use role::Holding;
use stage::{Daemon, Holder, Stage, Timing};
use vrrp::{Signal, VrrpDaemon};
use web::WebServer;

/// The chapter's haproxy.cfg (section 7.10, step 2).
pub const HAPROXY_CFG: &str = include_str!("../../lab/haproxy.cfg");
/// The chapter's keepalived.conf on `lb`.
pub const KEEPALIVED_LB: &str = include_str!("../../lab/keepalived-lb.conf");
/// The chapter's keepalived.conf on `web1`.
pub const KEEPALIVED_WEB1: &str = include_str!("../../lab/keepalived-web1.conf");

/// The drills' bounds from the chapter's files: the servers' check
/// settings in haproxy.cfg, priorities and advert_int in keepalived.conf.
pub fn chapter_timing() -> Result<Timing, String> {
    let cfg = ha_lb::config::haproxy::parse_str(HAPROXY_CFG, Path::new("haproxy.cfg"))
        .map_err(|e| e.to_string())?
        .config;
    let server = cfg
        .pool("webs")
        .and_then(|b| b.servers.first().cloned())
        .ok_or("haproxy.cfg: no server in backend webs")?;
    let instance = |text: &str, file: &str| {
        ha_vrrp::keepalived::parse_str(text, Path::new(file))
            .map_err(|e| e.to_string())?
            .config
            .instances
            .into_iter()
            .next()
            .ok_or(format!("{file}: no vrrp_instance"))
    };
    let lb = instance(KEEPALIVED_LB, "keepalived-lb.conf")?;
    let web1 = instance(KEEPALIVED_WEB1, "keepalived-web1.conf")?;
    Ok(Timing {
        inter: server.inter,
        fall: server.fall,
        rise: server.rise,
        advert: lb.advert_int,
        web1_priority: web1.priority,
        lb_priority: lb.priority,
    })
}

/// Where everything listens in loopback mode.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    /// The VIP and the frontend port (the chapter's 192.168.122.200:80).
    pub vip: SocketAddr,
    /// web1's web server (192.168.122.101:80).
    pub web1: SocketAddr,
    /// web2's web server (192.168.122.102:80).
    pub web2: SocketAddr,
    /// lb's VRRP endpoint (its primary address).
    pub lb_vrrp: SocketAddr,
    /// web1's VRRP endpoint.
    pub web1_vrrp: SocketAddr,
}

impl Plan {
    /// The lab's ports from `base`: VIP `base`, web1 `base + 1`, web2
    /// `base + 2`, VRRP `base + 32`.
    pub fn new(base: u16) -> Option<Self> {
        let at = |ip: [u8; 4], offset: u16| {
            Some(SocketAddr::new(
                IpAddr::V4(Ipv4Addr::from(ip)),
                base.checked_add(offset)?,
            ))
        };
        Some(Self {
            vip: at([127, 0, 0, 100], 0)?,
            web1: at([127, 0, 0, 1], 1)?,
            web2: at([127, 0, 0, 1], 2)?,
            lb_vrrp: at([127, 0, 0, 11], 32)?,
            web1_vrrp: at([127, 0, 0, 12], 32)?,
        })
    }

    /// The chapter's haproxy.cfg with only the addresses changed.
    pub fn haproxy_cfg(&self) -> String {
        HAPROXY_CFG
            .replace("bind *:80", &format!("bind {}", self.vip))
            .replace("192.168.122.101:80", &self.web1.to_string())
            .replace("192.168.122.102:80", &self.web2.to_string())
    }

    /// The chapter's keepalived.conf for a role with only the addresses
    /// changed: the VIP, and unicast peers instead of multicast.
    pub fn keepalived_conf(&self, text: &str, me: SocketAddr, peer: SocketAddr) -> String {
        text.replace("192.168.122.200", &self.vip.ip().to_string())
            .replace(
                "    virtual_ipaddress {",
                &format!(
                    "    unicast_src_ip {}\n    unicast_peer {{\n        {}\n    }}\n    virtual_ipaddress {{",
                    me.ip(),
                    peer.ip()
                ),
            )
    }
}

/// A role that can hold the VIP.
#[derive(Debug)]
pub struct VipRole {
    /// "lb" or "web1".
    pub name: &'static str,
    /// Its VRRP daemon, while running.
    pub vrrp: Option<VrrpDaemon>,
    /// The router settings from its keepalived.conf.
    pub router: RouterConfig,
    /// Its VRRP endpoint and its peer's.
    pub local: SocketAddr,
    peer: SocketAddr,
    changes: mpsc::UnboundedSender<vrrp::VipChange>,
    /// Whether its ha-lb listens on the VIP.
    pub holding: watch::Receiver<Holding>,
}

impl VipRole {
    /// Reads the role's keepalived.conf and starts following VIP changes
    /// with an ha-lb from `lb_config` (its VRRP daemon is not started).
    pub fn new(
        name: &'static str,
        keepalived_conf: &str,
        local: SocketAddr,
        peer: SocketAddr,
        lb_config: ha_lb::config::Config,
        pool: &'static str,
    ) -> Result<Self, String> {
        let file = format!("keepalived-{name}.conf");
        let imported = ha_vrrp::keepalived::parse_str(keepalived_conf, Path::new(&file))
            .map_err(|e| e.to_string())?;
        let instance = imported
            .config
            .instances
            .first()
            .ok_or(format!("{file}: no vrrp_instance"))?;
        let router = instance
            .router_config(local.ip(), ha_vrrp::packet::Version::V2)
            .map_err(|e| e.to_string())?;
        let (changes, rx) = mpsc::unbounded_channel();
        let holding = role::follow(name, lb_config, pool, rx);
        Ok(Self {
            name,
            vrrp: None,
            router,
            local,
            peer,
            changes,
            holding,
        })
    }

    /// Starts (or restarts) the VRRP daemon.
    pub async fn start_vrrp(&mut self) -> std::io::Result<()> {
        if let Some(old) = self.vrrp.take() {
            old.stop().await;
        }
        self.vrrp = Some(
            VrrpDaemon::start(
                self.name,
                self.router.clone(),
                self.local,
                self.peer,
                self.changes.clone(),
            )
            .await?,
        );
        Ok(())
    }

    /// Whether its ha-lb listens on the VIP.
    pub fn holds(&self) -> bool {
        self.holding.borrow().holds
    }
}

/// The whole lab.
#[derive(Debug)]
pub struct Lab {
    /// Addresses.
    pub plan: Plan,
    /// The web servers.
    pub web1: WebServer,
    /// The second web server.
    pub web2: WebServer,
    /// The load balancer role (VRRP master, priority 150).
    pub lb: VipRole,
    /// web1's VRRP backup role (priority 100) with its standby ha-lb.
    pub web1_role: VipRole,
    /// The `server` lines' health-check settings (for the drills' bounds).
    pub check: ha_lb::config::Server,
}

impl Lab {
    /// Builds the lab from the chapter's files (nothing started).
    pub fn new(plan: Plan) -> Result<Self, String> {
        let cfg = plan.haproxy_cfg();
        let imported = ha_lb::config::haproxy::parse_str(&cfg, Path::new("haproxy.cfg"))
            .map_err(|e| e.to_string())?;
        for w in &imported.warnings {
            tracing::debug!("haproxy.cfg: {w}");
        }
        let config = imported.config;
        let check = config
            .pool("webs")
            .and_then(|b| b.servers.first().cloned())
            .ok_or("haproxy.cfg: no server in backend webs")?;
        let lb = VipRole::new(
            "lb",
            &plan.keepalived_conf(KEEPALIVED_LB, plan.lb_vrrp, plan.web1_vrrp),
            plan.lb_vrrp,
            plan.web1_vrrp,
            config.clone(),
            "webs",
        )?;
        let web1_role = VipRole::new(
            "web1",
            &plan.keepalived_conf(KEEPALIVED_WEB1, plan.web1_vrrp, plan.lb_vrrp),
            plan.web1_vrrp,
            plan.lb_vrrp,
            config,
            "webs",
        )?;
        Ok(Self {
            plan,
            web1: WebServer::new(plan.web1, "Welcome to Web1"),
            web2: WebServer::new(plan.web2, "Welcome to Web2"),
            lb,
            web1_role,
            check,
        })
    }

    /// The health of web1 and web2 as the VIP holder's ha-lb sees them.
    pub fn servers(&self) -> Vec<(String, bool)> {
        let holding = if self.lb.holds() {
            self.lb.holding.borrow().clone()
        } else {
            self.web1_role.holding.borrow().clone()
        };
        holding
            .pool
            .map(|set| {
                set.servers()
                    .iter()
                    .map(|s| (s.name().to_owned(), s.health() == ha_core::State::Up))
                    .collect()
            })
            .unwrap_or_default()
    }
}

#[async_trait::async_trait]
impl Stage for Lab {
    fn vip(&self) -> SocketAddr {
        self.plan.vip
    }

    async fn get(&self) -> Result<String, String> {
        client::get(self.plan.vip).await
    }

    fn client(&self, pause: Duration) -> Client {
        Client::start(&tokio::runtime::Handle::current(), self.plan.vip, pause)
    }

    async fn set_web1(&mut self, run: bool) -> Result<(), String> {
        if run {
            self.web1.start().await.map_err(|e| e.to_string())
        } else {
            self.web1.stop().await;
            Ok(())
        }
    }

    fn web1_running(&self) -> bool {
        self.web1.is_running()
    }

    fn web1_serves_vip(&self) -> bool {
        false
    }

    async fn signal_lb(&mut self, signal: Signal) -> Result<(), String> {
        match signal {
            Signal::Term => {
                if let Some(v) = self.lb.vrrp.take() {
                    v.stop().await;
                }
            }
            Signal::Stop | Signal::Cont => {
                if let Some(v) = &self.lb.vrrp {
                    v.signal(signal);
                }
            }
        }
        Ok(())
    }

    async fn start_lb(&mut self) -> Result<(), String> {
        self.lb.start_vrrp().await.map_err(|e| e.to_string())
    }

    fn lb_daemon(&self) -> Daemon {
        match self.lb.vrrp.as_ref().map(VrrpDaemon::status) {
            None => Daemon::Stopped,
            Some(s) if s.frozen => Daemon::Frozen,
            Some(s) if s.state == ha_vrrp::State::Initialize => Daemon::Stopped,
            Some(_) => Daemon::Running,
        }
    }

    fn holder(&self) -> Holder {
        Holder {
            lb: self.lb.holds(),
            web1: self.web1_role.holds(),
        }
    }

    fn lb_sees_up(&self, server: &str) -> Option<bool> {
        let set = self.lb.holding.borrow().pool.clone()?;
        Some(set.server(server)?.health() == ha_core::State::Up)
    }

    fn timing(&self) -> Timing {
        Timing {
            inter: self.check.inter,
            fall: self.check.fall,
            rise: self.check.rise,
            advert: self.lb.router.interval.duration(),
            web1_priority: self.web1_role.router.priority,
            lb_priority: self.lb.router.priority,
        }
    }

    fn status_line(&self) -> String {
        let servers: Vec<String> = self
            .servers()
            .iter()
            .map(|(name, up)| format!("{name} {}", if *up { "UP" } else { "DOWN" }))
            .collect();
        format!(
            "lb: {} | web1: {} | VIP on {} | {}",
            report::vrrp_word(self.lb.vrrp.as_ref().map(VrrpDaemon::status)),
            report::vrrp_word(self.web1_role.vrrp.as_ref().map(VrrpDaemon::status)),
            self.holder().word(),
            if servers.is_empty() {
                "no ha-lb on the VIP".into()
            } else {
                servers.join(", ")
            },
        )
    }
}
