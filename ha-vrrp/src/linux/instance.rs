//! One `vrrp_instance` running on Linux.
//!
//! The [`Router`] fed by an advertisement socket, a clock, its tracked
//! objects and its sync group; its decisions carried out with rtnetlink
//! (addresses), gratuitous ARP or unsolicited NA, and notify scripts.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Instant;

use tokio::sync::{broadcast, watch};

use super::address::{Addresses, Vip};
use super::arp::ArpSender;
use super::ndisc::NeighborAdvertiser;
use super::security::ScriptPolicy;
use super::socket::{AdvertSocket, GROUP_V4, GROUP_V6, Peers};
use super::timer::Timer;
use super::track::{Reading, Tracking};
use super::vmac::{self, Vmac};
use crate::checksum::V3Checksum;
use crate::config::{Config, Instance, SyncGroup};
use crate::error::{Error, Result};
use crate::notify;
use crate::packet::{Advert, Path, Version};
use crate::router::{Output, Router, State};

/// A state change of one member of a sync group, made on its own (not
/// one the group forced on it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupEvent {
    /// The member's instance name.
    pub member: String,
    /// The state it entered.
    pub state: State,
}

/// The channel the members of one `vrrp_sync_group` share.
pub type GroupChannel = broadcast::Sender<GroupEvent>;

/// A running instance's resources.
#[derive(Debug)]
pub struct InstanceDriver {
    instance: Instance,
    router: Router,
    socket: AdvertSocket,
    addresses: Addresses,
    /// The interfaces the virtual addresses go on (each VIP's `dev`, else
    /// the instance's interface), with what announces them there.
    links: Vec<Link>,
    /// The macvlan made for `use_vmac`, deleted on stop.
    vmac: Option<Vmac>,
    checksum: V3Checksum,
    tracking: Tracking,
    timer: Timer,
    policy: ScriptPolicy,
    group: Option<Group>,
    /// Notify scripts still running; awaited when stopping.
    scripts: Vec<tokio::task::JoinHandle<()>>,
}

/// Virtual addresses on one interface.
#[derive(Debug)]
struct Link {
    index: u32,
    mac: [u8; 6],
    announcer: Announcer,
    vips: Vec<Vip>,
}

/// This instance's membership of a sync group.
#[derive(Debug)]
struct Group {
    config: SyncGroup,
    channel: GroupChannel,
    events: broadcast::Receiver<GroupEvent>,
    /// Members in FAULT on their own.
    faulted: HashMap<String, bool>,
    /// Set while applying what the group forced, which is not re-published.
    forced: bool,
}

impl InstanceDriver {
    /// Opens the sockets and starts the watchers for `instance` (one of
    /// `config`'s) on its interface; `group` is its sync group's channel,
    /// if it is in one. Must run in a tokio runtime, in the network
    /// namespace the interface is in.
    pub async fn open(
        instance: Instance,
        config: &Config,
        policy: &ScriptPolicy,
        group: Option<GroupChannel>,
    ) -> Result<Self> {
        let os = |what: &str, interface: &str, e: std::io::Error| Error::Config {
            location: instance.location.clone(),
            message: format!("{what} on {interface}: {e}"),
        };
        let index = nix::net::if_::if_nametoindex(instance.interface.as_str())
            .map_err(|e| os("no such interface", &instance.interface, e.into()))?;
        let addresses =
            Addresses::open().map_err(|e| os("cannot open rtnetlink", &instance.interface, e))?;
        let ipv6 = instance.ipv6();
        // unicast_src_ip only means something with unicast peers: multicast
        // adverts leave from the interface's primary (IPv4) or link-local
        // (IPv6) address.
        let primary = match (instance.unicast_src_ip, instance.unicast_peers.is_empty()) {
            (Some(ip), false) => ip,
            (Some(ip), true) => {
                tracing::warn!(instance = %instance.name, %ip, "unicast_src_ip ignored: no unicast_peer");
                addresses.primary(index, ipv6).await?
            }
            (None, _) => addresses.primary(index, ipv6).await?,
        };
        let peers = if instance.unicast_peers.is_empty() {
            Peers::Multicast(primary)
        } else {
            Peers::Unicast(primary)
        };
        let socket = AdvertSocket::open(&instance.interface, peers)
            .map_err(|e| os("cannot open the VRRP socket", &instance.interface, e))?;

        let vmac = if instance.use_vmac {
            let name = vmac::name(instance.vrid);
            let mac = vmac::virtual_mac(instance.vrid, ipv6);
            Some(Vmac::create(&addresses, &instance.interface, index, &name, mac, ipv6).await?)
        } else {
            None
        };
        // VIPs without a `dev` go on the macvlan with use_vmac.
        let home = vmac
            .as_ref()
            .map_or(instance.interface.as_str(), |v| &v.name);
        let mut links: Vec<Link> = Vec::new();
        for v in &instance.virtual_addresses {
            let dev = v.dev.as_deref().unwrap_or(home);
            let index = nix::net::if_::if_nametoindex(dev)
                .map_err(|e| os("no such interface", dev, e.into()))?;
            let vip = Vip {
                addr: v.addr,
                prefix: v.prefix,
                label: v.label.clone(),
            };
            if let Some(link) = links.iter_mut().find(|l| l.index == index) {
                link.vips.push(vip);
                continue;
            }
            let announcer = if ipv6 {
                Announcer::Ndisc(
                    NeighborAdvertiser::open(dev, index)
                        .map_err(|e| os("cannot open the ICMPv6 socket", dev, e))?,
                )
            } else {
                Announcer::Arp(
                    ArpSender::open(index).map_err(|e| os("cannot open the ARP socket", dev, e))?,
                )
            };
            links.push(Link {
                index,
                mac: addresses.mac(index).await?,
                announcer,
                vips: vec![vip],
            });
        }

        let version = config.global.vrrp_version.unwrap_or(Version::V2);
        let mut router_config = instance.router_config(primary, version)?;
        let (tracks, sources): (Vec<_>, Vec<_>) = config.tracks(&instance).into_iter().unzip();
        router_config.tracks = tracks;
        let tracking = Tracking::start(&sources, policy)?;
        let checksum = if instance.v3_checksum_as_v2 {
            V3Checksum::MessageOnly
        } else {
            V3Checksum::PseudoHeader
        };
        let group = match (config.sync_group_of(&instance.name), group) {
            (Some(sync), Some(channel)) => Some(Group {
                config: sync.clone(),
                events: channel.subscribe(),
                channel,
                faulted: HashMap::new(),
                forced: false,
            }),
            _ => None,
        };
        let timer = Timer::new().map_err(|e| os("cannot create a timer", "timerfd", e))?;
        Ok(Self {
            instance,
            router: Router::new(router_config),
            socket,
            addresses,
            links,
            vmac,
            checksum,
            tracking,
            timer,
            policy: policy.clone(),
            group,
            scripts: Vec::new(),
        })
    }

    /// Runs until `stop` turns true; then resigns (priority 0), removes the
    /// addresses and runs `notify_stop`.
    pub async fn run(mut self, mut stop: watch::Receiver<bool>) -> Result<()> {
        self.router.handle_startup(Instant::now());
        self.apply().await;
        loop {
            let wake = self.router.poll_timeout();
            tokio::select! {
                received = self.socket.recv() => match received {
                    Ok(packet) => self.receive(packet),
                    Err(e) => tracing::warn!(instance = %self.instance.name, error = %e, "receive failed"),
                },
                fired = self.timer.wait_until(wake) => match fired {
                    Ok(()) => self.router.handle_timeout(Instant::now()),
                    Err(e) => {
                        // Never spin: fall back to tokio's timer once.
                        tracing::warn!(instance = %self.instance.name, error = %e, "timer failed");
                        if let Some(at) = wake {
                            tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await;
                        }
                        self.router.handle_timeout(Instant::now());
                    }
                },
                (track, reading) = self.tracking.next() => {
                    let now = Instant::now();
                    match reading {
                        Reading::Up(up) => self.router.handle_track(now, track, up),
                        Reading::Value(value) => self.router.handle_track_value(now, track, value),
                    }
                }
                event = next_event(&mut self.group) => self.follow(event),
                () = until_set(&mut stop) => {
                    self.router.handle_shutdown(Instant::now());
                    self.apply().await;
                    // Let notify_stop (and any script still running) finish;
                    // each is bounded by its own timeout.
                    for script in self.scripts.drain(..) {
                        let _ = script.await;
                    }
                    if let Some(vmac) = self.vmac.take() {
                        vmac.delete(&self.addresses).await?;
                    }
                    return Ok(());
                }
            }
            self.apply().await;
        }
    }

    /// Applies another member's own state change to this router.
    fn follow(&mut self, event: GroupEvent) {
        let Some(group) = &mut self.group else { return };
        if event.member == self.instance.name {
            return;
        }
        group
            .faulted
            .insert(event.member.clone(), event.state == State::Fault);
        let any_faulted = group.faulted.values().any(|f| *f);
        group.forced = true;
        self.router
            .handle_group(Instant::now(), event.state, any_faulted);
    }

    fn receive(&mut self, packet: super::socket::Received) {
        if !self.instance.unicast_peers.is_empty()
            && !self.instance.unicast_peers.contains(&packet.src)
        {
            tracing::debug!(instance = %self.instance.name, src = %packet.src, "advert dropped: not from a unicast_peer");
            return;
        }
        if packet.ttl != 255 {
            tracing::debug!(instance = %self.instance.name, src = %packet.src, ttl = packet.ttl, "advert dropped: TTL is not 255");
            return;
        }
        let path = Path {
            src: packet.src,
            dst: packet.dst,
        };
        match Advert::decode(&packet.payload, &path, self.checksum) {
            Ok(advert) => {
                if let Err(why) = self
                    .router
                    .handle_advert(Instant::now(), packet.src, &advert)
                {
                    tracing::trace!(instance = %self.instance.name, src = %packet.src, reason = %why, "advert ignored");
                }
            }
            Err(e) => {
                tracing::debug!(instance = %self.instance.name, src = %packet.src, error = %e, "advert dropped")
            }
        }
    }

    async fn apply(&mut self) {
        while let Some(output) = self.router.poll_output() {
            match output {
                Output::Transmit { src, advert } => self.transmit(src, &advert),
                Output::AddAddresses(_) => {
                    for link in &self.links {
                        for vip in &link.vips {
                            if let Err(e) = self.addresses.add(link.index, vip).await {
                                tracing::error!(instance = %self.instance.name, error = %e, "cannot add a virtual address");
                            }
                        }
                    }
                }
                Output::RemoveAddresses(_) => {
                    for link in &self.links {
                        for vip in &link.vips {
                            if let Err(e) = self.addresses.remove(link.index, vip).await {
                                tracing::error!(instance = %self.instance.name, error = %e, "cannot remove a virtual address");
                            }
                        }
                    }
                }
                Output::Announce { count } => {
                    for link in &self.links {
                        let vips: Vec<IpAddr> = link.vips.iter().map(|v| v.addr).collect();
                        match link.announcer.announce(link.mac, &vips, count) {
                            Ok(0) => {}
                            Ok(dropped) => {
                                tracing::debug!(instance = %self.instance.name, dropped, "announcements dropped: device queue full")
                            }
                            Err(e) => {
                                tracing::warn!(instance = %self.instance.name, error = %e, "announcing the virtual addresses failed")
                            }
                        }
                    }
                }
                Output::StateChanged { from, to } => {
                    tracing::info!(
                        "({}) Entering {} STATE (was {})",
                        self.instance.name,
                        notify::state_word(to),
                        notify::state_word(from)
                    );
                    self.notify(to);
                    self.publish(to);
                }
            }
        }
        if let Some(group) = &mut self.group {
            group.forced = false;
        }
    }

    /// Tells the other members of the sync group about a change this
    /// router made on its own.
    fn publish(&mut self, state: State) {
        let Some(group) = &mut self.group else { return };
        if group.forced || state == State::Initialize {
            return;
        }
        let _ = group.channel.send(GroupEvent {
            member: self.instance.name.clone(),
            state,
        });
    }

    fn transmit(&self, src: IpAddr, advert: &Advert) {
        let peers: Vec<IpAddr> = match (self.instance.unicast_peers.is_empty(), src) {
            (true, IpAddr::V4(_)) => vec![IpAddr::V4(GROUP_V4)],
            (true, IpAddr::V6(_)) => vec![IpAddr::V6(GROUP_V6)],
            (false, _) => self.instance.unicast_peers.clone(),
        };
        for dst in peers {
            let path = Path { src, dst };
            match advert.encode(&path, self.checksum) {
                Ok(bytes) => {
                    if let Err(e) = self.socket.send(&bytes, dst) {
                        tracing::warn!(instance = %self.instance.name, %dst, error = %e, "cannot send an advert");
                    }
                }
                Err(e) => {
                    tracing::error!(instance = %self.instance.name, error = %e, "cannot encode an advert")
                }
            }
        }
    }

    fn notify(&mut self, state: State) {
        self.scripts.retain(|s| !s.is_finished());
        let mut scripts = notify::scripts(&self.instance, state, self.router.priority());
        // The group's own scripts run once, from its first member (all
        // members move together).
        if let Some(group) = &self.group
            && group.config.members.first() == Some(&self.instance.name)
        {
            let line = match state {
                State::Master => group.config.notify_master.as_deref(),
                State::Backup => group.config.notify_backup.as_deref(),
                State::Fault => group.config.notify_fault.as_deref(),
                State::Initialize => None,
            };
            scripts.extend(line.and_then(notify::command));
        }
        for script in scripts {
            let name = self.instance.name.clone();
            let script = match self.policy.apply(script) {
                Ok(script) => script,
                Err(why) => {
                    tracing::error!(instance = %name, "{why}");
                    continue;
                }
            };
            // Scripts run on their own: a slow one never delays adverts.
            self.scripts.push(tokio::spawn(async move {
                match script.run().await {
                    Ok(out) if out.status.success() => {}
                    Ok(out) => {
                        tracing::warn!(instance = %name, program = ?script.program(), status = ?out.status, stderr = %out.stderr_tail(), "notify script failed")
                    }
                    Err(e) => {
                        tracing::warn!(instance = %name, error = %e, "notify script could not run")
                    }
                }
            }));
        }
    }

    /// The router's current state.
    pub fn state(&self) -> State {
        self.router.state()
    }
}

/// Gratuitous ARP for IPv4 instances, unsolicited NA for IPv6 ones.
#[derive(Debug)]
enum Announcer {
    Arp(ArpSender),
    Ndisc(NeighborAdvertiser),
}

impl Announcer {
    /// Announces the addresses of the announcer's family `count` times;
    /// returns how many messages were dropped.
    fn announce(&self, mac: [u8; 6], vips: &[IpAddr], count: u32) -> std::io::Result<usize> {
        match self {
            Announcer::Arp(arp) => {
                let v4: Vec<Ipv4Addr> = vips
                    .iter()
                    .filter_map(|v| match v {
                        IpAddr::V4(a) => Some(*a),
                        IpAddr::V6(_) => None,
                    })
                    .collect();
                arp.announce(mac, &v4, count)
            }
            Announcer::Ndisc(ndisc) => {
                let v6: Vec<Ipv6Addr> = vips
                    .iter()
                    .filter_map(|v| match v {
                        IpAddr::V6(a) => Some(*a),
                        IpAddr::V4(_) => None,
                    })
                    .collect();
                ndisc.announce(mac, &v6, count)
            }
        }
    }
}

/// The next event from the sync group; pending forever outside one. A
/// lagging receiver skips to the newest events.
async fn next_event(group: &mut Option<Group>) -> GroupEvent {
    let Some(group) = group else {
        return std::future::pending().await;
    };
    loop {
        match group.events.recv().await {
            Ok(event) => return event,
            Err(broadcast::error::RecvError::Lagged(_)) => continue,
            Err(broadcast::error::RecvError::Closed) => return std::future::pending().await,
        }
    }
}

/// Waits until `flag` is set; the borrow is not held across awaits.
async fn until_set(flag: &mut watch::Receiver<bool>) {
    let _ = flag.wait_for(|set| *set).await;
}
