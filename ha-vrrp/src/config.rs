//! The typed VRRP daemon configuration.
//!
//! As read from keepalived.conf by [`crate::keepalived`].
//!
//! Every item keeps the [`Location`] it was read from, so later checks (and
//! the daemon's logs) can point at `file:line`.

use std::net::IpAddr;
use std::time::Duration;

use crate::packet::{Auth, Version};

pub use ha_core::Location;

/// A whole VRRP daemon configuration.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Config {
    /// Process-wide settings (`global_defs`).
    pub global: GlobalDefs,
    /// Health scripts instances may track (`vrrp_script`), in file order.
    pub scripts: Vec<VrrpScript>,
    /// Virtual routers (`vrrp_instance`), in file order.
    pub instances: Vec<Instance>,
    /// Instances that change state together (`vrrp_sync_group`).
    pub sync_groups: Vec<SyncGroup>,
    /// Files instances may track (`vrrp_track_file`), in file order.
    pub track_files: Vec<VrrpTrackFile>,
}

impl Config {
    /// The checks start-up makes that need no interface, for each instance
    /// ([`Instance::check`]: its `advert_int` against its VRRP version, one
    /// address family). A configuration check (`keepalived -t`) runs these;
    /// start-up runs them again per instance when it opens it.
    pub fn check(&self) -> crate::error::Result<()> {
        let version = self.global.vrrp_version.unwrap_or(Version::V2);
        for instance in &self.instances {
            instance.check(version)?;
        }
        Ok(())
    }

    /// The start-up check that needs this machine's interfaces: every
    /// instance's `interface`, and every `dev` a `virtual_ipaddress` names,
    /// must be among `existing` (the interface names present, e.g. from
    /// `/sys/class/net`). Start-up refuses an instance whose interface or
    /// address device is missing, and keepalived's configuration test
    /// reports a missing interface; a configuration check (`ha-vrrpd -t`)
    /// therefore runs this too. `track_interface` names are not checked:
    /// a tracked interface that is missing reads as down, as one that goes
    /// away later does.
    pub fn check_interfaces<S: AsRef<str>>(&self, existing: &[S]) -> crate::error::Result<()> {
        let exists = |name: &str| existing.iter().any(|e| e.as_ref() == name);
        for instance in &self.instances {
            let missing = std::iter::once(instance.interface.as_str())
                .chain(
                    instance
                        .virtual_addresses
                        .iter()
                        .filter_map(|v| v.dev.as_deref()),
                )
                .find(|name| !exists(name));
            if let Some(name) = missing {
                return Err(crate::error::Error::Config {
                    location: instance.location.clone(),
                    message: format!(
                        "interface {name} for vrrp_instance {} does not exist on this machine",
                        instance.name
                    ),
                });
            }
        }
        Ok(())
    }

    /// The instance called `name`.
    pub fn instance(&self, name: &str) -> Option<&Instance> {
        self.instances.iter().find(|i| i.name == name)
    }

    /// The script called `name`.
    pub fn script(&self, name: &str) -> Option<&VrrpScript> {
        self.scripts.iter().find(|s| s.name == name)
    }

    /// The track file called `name`.
    pub fn track_file(&self, name: &str) -> Option<&VrrpTrackFile> {
        self.track_files.iter().find(|f| f.name == name)
    }

    /// The sync group `instance` belongs to, if any.
    pub fn sync_group_of(&self, instance: &str) -> Option<&SyncGroup> {
        self.sync_groups
            .iter()
            .find(|g| g.members.iter().any(|m| m == instance))
    }

    /// What `instance` tracks, in the order the router's
    /// [`tracks`](crate::router::RouterConfig::tracks) take: its own
    /// interface first (weight 0, as keepalived does unless
    /// `dont_track_primary`), then `track_interface`, `track_script` and
    /// `track_file` entries, each with its effective weight (the entry's
    /// `weight`, else the tracked object's own, else 0). Names the importer
    /// resolved; an unknown one is skipped.
    pub fn tracks(&self, instance: &Instance) -> Vec<(crate::router::Track, TrackSource)> {
        let track = |name: &str, weight: i32| crate::router::Track {
            name: name.to_owned(),
            weight,
        };
        let mut out = Vec::new();
        if !instance.dont_track_primary {
            out.push((
                track(&instance.interface, 0),
                TrackSource::Interface(instance.interface.clone()),
            ));
        }
        for t in &instance.track_interfaces {
            out.push((
                track(&t.name, t.weight.unwrap_or(0)),
                TrackSource::Interface(t.name.clone()),
            ));
        }
        for t in &instance.track_scripts {
            if let Some(script) = self.script(&t.name) {
                out.push((
                    track(&t.name, t.weight.unwrap_or(script.weight)),
                    TrackSource::Script(script.clone()),
                ));
            }
        }
        for t in &instance.track_files {
            if let Some(file) = self.track_file(&t.name) {
                out.push((
                    track(&t.name, t.weight.unwrap_or(file.weight)),
                    TrackSource::File(file.clone()),
                ));
            }
        }
        out
    }
}

/// Where a tracked object's state comes from; the driver watches it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrackSource {
    /// An interface: up while it is administratively up and has a carrier.
    Interface(String),
    /// A `vrrp_script`: up while it exits 0 (with its rise and fall).
    Script(VrrpScript),
    /// A `vrrp_track_file`: the number written in it.
    File(VrrpTrackFile),
}

/// A file whose number adjusts the priority (`vrrp_track_file NAME { ... }`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VrrpTrackFile {
    /// The name `track_file` refers to.
    pub name: String,
    /// `file`: the path.
    pub file: std::path::PathBuf,
    /// `weight` (-254..=254, default 1): multiplies the number.
    pub weight: i32,
    /// `init_file [VALUE] [overwrite]`: create the file holding VALUE
    /// (default 0) at start-up if it is missing, or always with `overwrite`.
    pub init: Option<InitFile>,
    /// Where the block starts.
    pub location: Location,
}

/// `init_file` of a [`VrrpTrackFile`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InitFile {
    /// The number written.
    pub value: i64,
    /// Write it even if the file exists.
    pub overwrite: bool,
}

/// Process-wide settings (`global_defs`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GlobalDefs {
    /// `router_id`: this node's name in notifications.
    pub router_id: Option<String>,
    /// `vrrp_version`: the default protocol version of the instances.
    pub vrrp_version: Option<Version>,
    /// `enable_script_security`: refuse scripts writable by non-root users.
    pub enable_script_security: bool,
    /// `script_user`: the user scripts run as.
    pub script_user: Option<String>,
}

/// A health script (`vrrp_script NAME { ... }`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VrrpScript {
    /// The name `track_script` refers to.
    pub name: String,
    /// The command line (`script`), unquoted.
    pub script: String,
    /// How often it runs (`interval`, default 1 s).
    pub interval: Duration,
    /// How long a run may take before it counts as failed (`timeout`).
    pub timeout: Option<Duration>,
    /// Priority change while the script succeeds (positive) or fails
    /// (negative); -253..=253, default 0 (failure means FAULT).
    pub weight: i32,
    /// Successes needed to count as up (default 1).
    pub rise: u32,
    /// Failures needed to count as down (default 1).
    pub fall: u32,
    /// Where the block starts.
    pub location: Location,
}

/// The state an instance asks for at start-up (`state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InitialState {
    /// `state MASTER`.
    Master,
    /// `state BACKUP`.
    Backup,
}

/// An address the virtual router owns (a `virtual_ipaddress` line).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct VirtualAddress {
    /// The address.
    pub addr: IpAddr,
    /// The prefix length (32 or 128 when not given).
    pub prefix: u8,
    /// `dev IFACE`: the interface to add it to, if not the instance's.
    pub dev: Option<String>,
    /// `label LABEL`: the IPv4 address label (`eth0:1`).
    pub label: Option<String>,
}

/// Something an instance tracks (an interface, a script or a file), with
/// an optional weight overriding the tracked object's own.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Tracked {
    /// The interface, `vrrp_script` or `vrrp_track_file` name.
    pub name: String,
    /// `weight N` (-253..=253).
    pub weight: Option<i32>,
}

/// A virtual router (`vrrp_instance NAME { ... }`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    /// The instance name.
    pub name: String,
    /// `state MASTER|BACKUP`, as written; the router decides what it means.
    pub initial_state: Option<InitialState>,
    /// `interface`: where adverts are sent and received (required).
    pub interface: String,
    /// `virtual_router_id` (1..=255, required).
    pub vrid: u8,
    /// `priority` (1..=255, default 100).
    pub priority: u8,
    /// `advert_int` (default 1 s).
    pub advert_int: Duration,
    /// `version`: overrides the global `vrrp_version`.
    pub version: Option<Version>,
    /// `authentication { auth_type PASS auth_pass ... }` (VRRPv2 only).
    pub auth: Option<Auth>,
    /// `virtual_ipaddress { ... }`.
    pub virtual_addresses: Vec<VirtualAddress>,
    /// `unicast_src_ip`: the source of unicast adverts.
    pub unicast_src_ip: Option<IpAddr>,
    /// `unicast_peer { ... }`: send adverts to these instead of multicast.
    pub unicast_peers: Vec<IpAddr>,
    /// `nopreempt`: a higher priority backup does not take over.
    pub nopreempt: bool,
    /// `preempt_delay`: wait this long after start-up before preempting.
    pub preempt_delay: Option<Duration>,
    /// `accept` (`Some(true)`) / `no_accept` (`Some(false)`): whether a
    /// master accepts packets to the virtual addresses it does not own.
    pub accept: Option<bool>,
    /// `track_interface { ... }`.
    pub track_interfaces: Vec<Tracked>,
    /// `track_script { ... }`: names of `vrrp_script`s.
    pub track_scripts: Vec<Tracked>,
    /// `track_file { ... }`.
    pub track_files: Vec<Tracked>,
    /// `notify_master`: command line run on becoming master.
    pub notify_master: Option<String>,
    /// `notify_backup`: command line run on becoming backup.
    pub notify_backup: Option<String>,
    /// `notify_fault`: command line run on entering FAULT.
    pub notify_fault: Option<String>,
    /// `notify_stop`: command line run when the instance stops.
    pub notify_stop: Option<String>,
    /// `notify`: command line run on every change, with arguments
    /// `INSTANCE NAME STATE PRIORITY` appended.
    pub notify: Option<String>,
    /// `garp_master_delay`: delay of the second burst of gratuitous ARPs
    /// (default 5 s).
    pub garp_master_delay: Duration,
    /// `garp_master_repeat`: gratuitous ARPs per burst (default 5).
    pub garp_master_repeat: u32,
    /// `garp_master_refresh`: repeat gratuitous ARPs this often while master
    /// (`None`, the default, or 0 in the file: never).
    pub garp_master_refresh: Option<Duration>,
    /// `garp_master_refresh_repeat`: gratuitous ARPs per refresh (default 1).
    pub garp_master_refresh_repeat: u32,
    /// `dont_track_primary`: the instance's own interface going down does
    /// not put it in FAULT.
    pub dont_track_primary: bool,
    /// `v3_checksum_as_v2`: VRRPv3 over IPv4 checksums without the IPv4
    /// pseudo-header, as Cisco and some other routers compute them.
    pub v3_checksum_as_v2: bool,
    /// `use_vmac`: put the virtual MAC on a macvlan interface.
    pub use_vmac: bool,
    /// Where the block starts.
    pub location: Location,
}

/// Instances that change state together (`vrrp_sync_group NAME { ... }`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncGroup {
    /// The group name.
    pub name: String,
    /// `group { ... }`: instance names.
    pub members: Vec<String>,
    /// `notify_master`: command line run when the group becomes master.
    pub notify_master: Option<String>,
    /// `notify_backup`: command line run when the group becomes backup.
    pub notify_backup: Option<String>,
    /// `notify_fault`: command line run when the group enters FAULT.
    pub notify_fault: Option<String>,
    /// Where the block starts.
    pub location: Location,
}

impl Instance {
    /// `advert_int` as the packets carry it, for this instance's version
    /// (`version` applies when the instance names none): whole seconds in
    /// VRRPv2, at most 40.95 s in VRRPv3. [`Instance::router_config`] and
    /// [`Config::check`] both refuse an interval here.
    pub fn interval(&self, version: Version) -> crate::error::Result<crate::packet::Interval> {
        let version = self.version.unwrap_or(version);
        crate::packet::Interval::from_duration(self.advert_int)
            .filter(|i| match version {
                Version::V2 => i.centis() % 100 == 0,
                Version::V3 => i.centis() <= crate::packet::Interval::MAX_V3_CENTIS,
            })
            .ok_or_else(|| crate::error::Error::Config {
                location: self.location.clone(),
                message: format!(
                    "advert_int {:?} cannot be sent with VRRP version {}: expected whole seconds \
                     (v2) or at most 40.95 s (v3)",
                    self.advert_int,
                    if version == Version::V2 { 2 } else { 3 }
                ),
            })
    }

    /// Whether the instance speaks IPv6: its source address's family with
    /// unicast peers and `unicast_src_ip`, else its first virtual
    /// address's (keepalived's rule: one instance carries one family).
    pub fn ipv6(&self) -> bool {
        match (self.unicast_src_ip, self.unicast_peers.is_empty()) {
            (Some(ip), false) => ip.is_ipv6(),
            _ => self
                .virtual_addresses
                .first()
                .is_some_and(|v| v.addr.is_ipv6()),
        }
    }

    /// Checks what needs no interface, as start-up does first: the
    /// interval ([`Instance::interval`]), one family ([`Instance::ipv6`])
    /// for every virtual address and peer, and IPv6 only with VRRPv3.
    /// `version` applies when the instance names none.
    pub fn check(&self, version: Version) -> crate::error::Result<crate::packet::Interval> {
        let interval = self.interval(version)?;
        let fail = |message: String| crate::error::Error::Config {
            location: self.location.clone(),
            message,
        };
        let ipv6 = self.ipv6();
        let family = if ipv6 { "IPv6" } else { "IPv4" };
        if let Some(v) = self
            .virtual_addresses
            .iter()
            .find(|v| v.addr.is_ipv6() != ipv6)
        {
            return Err(fail(format!(
                "virtual address {} is not of the instance's family ({family}): \
                 one instance carries one family",
                v.addr
            )));
        }
        if let Some(peer) = self.unicast_peers.iter().find(|p| p.is_ipv6() != ipv6) {
            return Err(fail(format!(
                "unicast_peer {peer} is not of the instance's family ({family})"
            )));
        }
        if ipv6 && self.version.unwrap_or(version) == Version::V2 {
            return Err(fail(
                "VRRPv2 carries IPv4 only: set `vrrp_version 3` (or `version 3`) for IPv6".into(),
            ));
        }
        Ok(interval)
    }

    /// The router settings this instance describes. `primary` is the
    /// advertisement source (`unicast_src_ip`, else the interface's primary
    /// address); `version` applies when the instance names none.
    pub fn router_config(
        &self,
        primary: IpAddr,
        version: Version,
    ) -> crate::error::Result<crate::router::RouterConfig> {
        let fail = |message: String| crate::error::Error::Config {
            location: self.location.clone(),
            message,
        };
        let interval = self.check(version)?;
        let version = self.version.unwrap_or(version);
        if let Some(v) = self
            .virtual_addresses
            .iter()
            .find(|v| v.addr.is_ipv4() != primary.is_ipv4())
        {
            return Err(fail(format!(
                "virtual address {} is not of the family of the source address {primary}: \
                 one instance carries one family",
                v.addr
            )));
        }
        if version == Version::V2 && primary.is_ipv6() {
            return Err(fail(
                "VRRPv2 carries IPv4 only: set `vrrp_version 3` (or `version 3`) for IPv6".into(),
            ));
        }
        if let Some(peer) = self
            .unicast_peers
            .iter()
            .find(|p| p.is_ipv4() != primary.is_ipv4())
        {
            return Err(fail(format!(
                "unicast_peer {peer} is not of the family of the source address {primary}"
            )));
        }
        let mut config = crate::router::RouterConfig::new(
            self.vrid,
            self.priority,
            primary,
            self.virtual_addresses.iter().map(|v| v.addr).collect(),
        );
        config.version = version;
        config.interval = interval;
        config.preempt = !self.nopreempt;
        config.preempt_delay = self.preempt_delay;
        config.auth = self.auth.unwrap_or_default();
        config.garp_repeat = self.garp_master_repeat;
        // keepalived: a delay of 0 means no second burst.
        config.garp_delay = (!self.garp_master_delay.is_zero()).then_some(self.garp_master_delay);
        config.garp_refresh = self.garp_master_refresh;
        config.garp_refresh_repeat = self.garp_master_refresh_repeat;
        // keepalived without vrrp_strict accepts; the RFC's v3 default
        // (no_accept) applies only when asked for.
        config.accept = self.accept.unwrap_or(true);
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use crate::keepalived;

    fn instance(extra: &str) -> super::Instance {
        let text = format!(
            "vrrp_instance VI_1 {{\n interface eth0\n virtual_router_id 51\n{extra}\n\
             virtual_ipaddress {{\n 192.168.122.100/24\n }}\n}}\n"
        );
        keepalived::parse_str(&text, "k.conf".as_ref())
            .unwrap()
            .config
            .instances[0]
            .clone()
    }

    #[test]
    fn every_interface_and_address_device_must_exist() {
        let text = "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n\
                    virtual_ipaddress {\n 192.168.122.100/24\n 192.168.123.100/24 dev eth1\n }\n\
                    track_interface {\n eth7\n }\n}\n";
        let config = keepalived::parse_str(text, "k.conf".as_ref())
            .unwrap()
            .config;
        assert!(config.check_interfaces(&["lo", "eth0", "eth1"]).is_ok());
        let err = config.check_interfaces(&["lo", "eth1"]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "k.conf:1: interface eth0 for vrrp_instance VI_1 does not exist on this machine"
        );
        let err = config.check_interfaces(&["eth0"]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "k.conf:1: interface eth1 for vrrp_instance VI_1 does not exist on this machine"
        );
    }

    #[test]
    fn intervals_must_fit_the_version() {
        let src = "192.168.122.10".parse().unwrap();
        let v2 = super::Version::V2;
        let v3 = super::Version::V3;
        assert!(instance(" advert_int 1.5").router_config(src, v2).is_err());
        assert!(instance(" advert_int 1.5").router_config(src, v3).is_ok());
        assert!(instance(" advert_int 60").router_config(src, v3).is_err());
        assert!(instance(" advert_int 60").router_config(src, v2).is_ok());
    }

    #[test]
    fn addresses_must_match_the_source_family() {
        let err = instance("")
            .router_config("fe80::1".parse().unwrap(), super::Version::V3)
            .unwrap_err();
        assert!(err.to_string().contains("family"), "{err}");
    }

    #[test]
    fn ipv6_needs_version_3_and_peers_of_its_family() {
        let src = "fe80::1".parse().unwrap();
        let v6 = |extra: &str| {
            let mut i = instance(extra);
            i.virtual_addresses[0].addr = "fd00::100".parse().unwrap();
            i
        };
        let err = v6("").router_config(src, super::Version::V2).unwrap_err();
        assert!(err.to_string().contains("vrrp_version 3"), "{err}");
        assert!(v6("").router_config(src, super::Version::V3).is_ok());
        let err = v6(" unicast_peer {\n 10.0.0.2\n }")
            .router_config(src, super::Version::V3)
            .unwrap_err();
        assert!(err.to_string().contains("unicast_peer"), "{err}");
    }

    #[test]
    fn a_zero_garp_delay_means_no_second_burst() {
        let src = "192.168.122.10".parse().unwrap();
        let config = instance(" garp_master_delay 0")
            .router_config(src, super::Version::V2)
            .unwrap();
        assert_eq!(config.garp_delay, None);
    }
}
