//! One `vrrp_instance` running on Linux: the [`Router`] fed by an
//! advertisement socket and a clock, its decisions carried out with
//! rtnetlink (addresses), gratuitous ARP and notify scripts.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Instant;

use tokio::sync::watch;

use super::address::{Addresses, Vip};
use super::arp::ArpSender;
use super::ndisc::NeighborAdvertiser;
use super::socket::{AdvertSocket, GROUP_V4, GROUP_V6, Peers};
use crate::checksum::V3Checksum;
use crate::config::Instance;
use crate::error::{Error, Result};
use crate::notify;
use crate::packet::{Advert, Path, Version};
use crate::router::{Output, Router, State};

/// A running instance's resources.
#[derive(Debug)]
pub struct InstanceDriver {
    instance: Instance,
    router: Router,
    socket: AdvertSocket,
    addresses: Addresses,
    announcer: Announcer,
    index: u32,
    mac: [u8; 6],
    primary: IpAddr,
    vips: Vec<Vip>,
    checksum: V3Checksum,
    /// Notify scripts still running; awaited when stopping.
    scripts: Vec<tokio::task::JoinHandle<()>>,
}

impl InstanceDriver {
    /// Opens the sockets for `instance` on its interface. Must run in a
    /// tokio runtime, in the network namespace the interface is in.
    pub async fn open(instance: Instance, version: Version) -> Result<Self> {
        let os = |what: &str, e: std::io::Error| Error::Config {
            location: instance.location.clone(),
            message: format!("{what} on {}: {e}", instance.interface),
        };
        let index = nix::net::if_::if_nametoindex(instance.interface.as_str())
            .map_err(|e| os("no such interface", e.into()))?;
        let addresses = Addresses::open().map_err(|e| os("cannot open rtnetlink", e))?;
        // One instance carries one family: its addresses' (keepalived's rule).
        let ipv6 = instance
            .virtual_addresses
            .first()
            .is_some_and(|v| v.addr.is_ipv6());
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
        if !(instance.track_scripts.is_empty()
            && instance.track_interfaces.is_empty()
            && instance.track_files.is_empty())
        {
            tracing::warn!(
                instance = %instance.name,
                "track_script/track_interface/track_file are read but not applied yet: priority stays {}",
                instance.priority
            );
        }
        let mac = addresses.mac(index).await?;
        let peers = if instance.unicast_peers.is_empty() {
            Peers::Multicast(primary)
        } else {
            Peers::Unicast(primary)
        };
        let socket = AdvertSocket::open(&instance.interface, peers)
            .map_err(|e| os("cannot open the VRRP socket", e))?;
        let announcer = if ipv6 {
            Announcer::Ndisc(
                NeighborAdvertiser::open(&instance.interface, index)
                    .map_err(|e| os("cannot open the ICMPv6 socket", e))?,
            )
        } else {
            Announcer::Arp(ArpSender::open(index).map_err(|e| os("cannot open the ARP socket", e))?)
        };
        let router = Router::new(instance.router_config(primary, version)?);
        let vips = instance
            .virtual_addresses
            .iter()
            .map(|v| Vip {
                addr: v.addr,
                prefix: v.prefix,
                label: v.label.clone(),
            })
            .collect();
        Ok(Self {
            instance,
            router,
            socket,
            addresses,
            announcer,
            index,
            mac,
            primary,
            vips,
            checksum: V3Checksum::default(),
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
                () = sleep_until(wake) => self.router.handle_timeout(Instant::now()),
                () = until_set(&mut stop) => {
                    self.router.handle_shutdown(Instant::now());
                    self.apply().await;
                    // Let notify_stop (and any script still running) finish;
                    // each is bounded by its own timeout.
                    for script in self.scripts.drain(..) {
                        let _ = script.await;
                    }
                    return Ok(());
                }
            }
            self.apply().await;
        }
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
                    tracing::trace!(instance = %self.instance.name, src = %packet.src, ?why, "advert ignored");
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
                Output::Transmit(advert) => self.transmit(&advert).await,
                Output::AddAddresses(_) => {
                    for vip in &self.vips {
                        if let Err(e) = self.addresses.add(self.index, vip).await {
                            tracing::error!(instance = %self.instance.name, error = %e, "cannot add a virtual address");
                        }
                    }
                }
                Output::RemoveAddresses(_) => {
                    for vip in &self.vips {
                        if let Err(e) = self.addresses.remove(self.index, vip).await {
                            tracing::error!(instance = %self.instance.name, error = %e, "cannot remove a virtual address");
                        }
                    }
                }
                Output::Announce { count } => {
                    let vips: Vec<IpAddr> = self.vips.iter().map(|v| v.addr).collect();
                    match self.announcer.announce(self.mac, &vips, count) {
                        Ok(0) => {}
                        Ok(dropped) => {
                            tracing::debug!(instance = %self.instance.name, dropped, "announcements dropped: device queue full")
                        }
                        Err(e) => {
                            tracing::warn!(instance = %self.instance.name, error = %e, "announcing the virtual addresses failed")
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
                }
            }
        }
    }

    async fn transmit(&self, advert: &Advert) {
        let peers: Vec<IpAddr> = match (self.instance.unicast_peers.is_empty(), self.primary) {
            (true, IpAddr::V4(_)) => vec![IpAddr::V4(GROUP_V4)],
            (true, IpAddr::V6(_)) => vec![IpAddr::V6(GROUP_V6)],
            (false, _) => self.instance.unicast_peers.clone(),
        };
        for dst in peers {
            let path = Path {
                src: self.primary,
                dst,
            };
            match advert.encode(&path, self.checksum) {
                Ok(bytes) => {
                    if let Err(e) = self.socket.send(&bytes, dst).await {
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
        for script in notify::scripts(&self.instance, state, self.router.priority()) {
            let name = self.instance.name.clone();
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

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await,
        None => std::future::pending().await,
    }
}

/// Waits until `flag` is set; the borrow is not held across awaits.
async fn until_set(flag: &mut watch::Receiver<bool>) {
    let _ = flag.wait_for(|set| *set).await;
}
