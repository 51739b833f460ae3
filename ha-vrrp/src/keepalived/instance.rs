//! `vrrp_instance`: one virtual router.
//!
//! With its `authentication` and `virtual_ipaddress` blocks.

use std::net::IpAddr;
use std::time::Duration;

use super::parser::{Parser, References};
use super::tree::Node;
use crate::config::{InitialState, Instance, Location, VirtualAddress};
use crate::error::Result;
use crate::packet::Auth;

/// An instance with keepalived's defaults, before its block is read.
fn defaults(name: &str, location: Location) -> Instance {
    Instance {
        name: name.to_string(),
        initial_state: None,
        interface: String::new(),
        vrid: 0,
        priority: 100,
        advert_int: Duration::from_secs(1),
        version: None,
        auth: None,
        virtual_addresses: Vec::new(),
        unicast_src_ip: None,
        unicast_peers: Vec::new(),
        nopreempt: false,
        preempt_delay: None,
        accept: None,
        track_interfaces: Vec::new(),
        track_scripts: Vec::new(),
        track_files: Vec::new(),
        notify_master: None,
        notify_backup: None,
        notify_fault: None,
        notify_stop: None,
        notify: None,
        garp_master_delay: Duration::from_secs(5),
        garp_master_repeat: 5,
        garp_master_refresh: None,
        garp_master_refresh_repeat: 1,
        dont_track_primary: false,
        v3_checksum_as_v2: false,
        use_vmac: false,
        location,
    }
}

impl Parser {
    /// A `vrrp_instance NAME { ... }` section; the names it tracks go to
    /// `refs`.
    pub(super) fn instance(&mut self, node: &Node, refs: &mut References) -> Result<Instance> {
        let (name, items) = self.section_name(node)?;
        let mut interface = None;
        let mut vrid = None;
        let mut out = defaults(name, self.loc(node.head()));
        for item in items {
            match item.key() {
                "interface" => {
                    interface = Some(self.one_arg(item, "an interface name")?.text.clone())
                }
                "virtual_router_id" => vrid = Some(self.u8_arg(item, 1, 255)?),
                _ => self.instance_setting(item, &mut out, refs)?,
            }
        }
        let Some(interface) = interface else {
            return Err(self.error(
                node.head(),
                format!("vrrp_instance `{name}` has no `interface` line (required)"),
            ));
        };
        let Some(vrid) = vrid else {
            return Err(self.error(
                node.head(),
                format!(
                    "vrrp_instance `{name}` has no `virtual_router_id` line (required, 1..=255)"
                ),
            ));
        };
        out.interface = interface;
        out.vrid = vrid;
        Ok(out)
    }

    /// One line of a `vrrp_instance` block, other than the required ones.
    fn instance_setting(
        &mut self,
        item: &Node,
        out: &mut Instance,
        refs: &mut References,
    ) -> Result<()> {
        match item.key() {
            "state" => out.initial_state = Some(self.initial_state(item)?),
            "priority" => out.priority = self.u8_arg(item, 1, 255)?,
            "advert_int" => out.advert_int = self.advert_int(item)?,
            "version" => out.version = Some(self.version_arg(item)?),
            "authentication" => out.auth = Some(self.authentication(item)?),
            "virtual_ipaddress" => {
                self.flag_args_only(item);
                for line in self.block(item)? {
                    let address = self.virtual_address(line)?;
                    out.virtual_addresses.push(address);
                }
            }
            "unicast_src_ip" => {
                let token = self.one_arg(item, "an IP address")?;
                out.unicast_src_ip = Some(self.ip("unicast_src_ip", token)?);
            }
            "unicast_peer" => out.unicast_peers = self.unicast_peers(item)?,
            "preempt_delay" => out.preempt_delay = Some(self.duration_arg(item)?),
            "track_interface" => out.track_interfaces = self.tracked(item, None)?,
            "track_script" => out.track_scripts = self.tracked(item, Some(&mut refs.scripts))?,
            "track_file" => out.track_files = self.tracked(item, Some(&mut refs.files))?,
            "notify_master" => out.notify_master = Some(self.command(item)?),
            "notify_backup" => out.notify_backup = Some(self.command(item)?),
            "notify_fault" => out.notify_fault = Some(self.command(item)?),
            "notify_stop" => out.notify_stop = Some(self.command(item)?),
            "notify" => out.notify = Some(self.command(item)?),
            "garp_master_delay" => out.garp_master_delay = self.duration_arg(item)?,
            "garp_master_repeat" => out.garp_master_repeat = self.u32_arg(item, 1)?,
            "garp_master_refresh" => {
                let d = self.duration_arg(item)?;
                out.garp_master_refresh = (!d.is_zero()).then_some(d);
            }
            "garp_master_refresh_repeat" => {
                out.garp_master_refresh_repeat = self.u32_arg(item, 1)?
            }
            "use_vmac" => {
                self.no_block(item);
                if !item.args().is_empty() {
                    self.warn(
                        item.head(),
                        "`use_vmac` interface name ignored (the default name is used)",
                    );
                }
                out.use_vmac = true;
            }
            "nopreempt" | "accept" | "no_accept" | "dont_track_primary" | "v3_checksum_as_v2" => {
                self.flag(item);
                match item.key() {
                    "nopreempt" => out.nopreempt = true,
                    "accept" => out.accept = Some(true),
                    "no_accept" => out.accept = Some(false),
                    "dont_track_primary" => out.dont_track_primary = true,
                    _ => out.v3_checksum_as_v2 = true,
                }
            }
            _ => self.unknown(item, "vrrp_instance"),
        }
        Ok(())
    }

    /// `state MASTER|BACKUP`.
    fn initial_state(&mut self, item: &Node) -> Result<InitialState> {
        let token = self.one_arg(item, "MASTER or BACKUP")?;
        match token.text.as_str() {
            "MASTER" => Ok(InitialState::Master),
            "BACKUP" => Ok(InitialState::Backup),
            other => Err(self.error(
                token,
                format!("`state` expects MASTER or BACKUP, got `{other}`"),
            )),
        }
    }

    /// `advert_int`: keepalived's range, 0.01 s (the packet's unit) to
    /// 255 s (VRRPv2's one-byte field).
    fn advert_int(&mut self, item: &Node) -> Result<Duration> {
        let d = self.duration_arg(item)?;
        if d < Duration::from_millis(10) || d > Duration::from_secs(255) {
            return Err(self.error(
                item.head(),
                "`advert_int` expects a duration above 0: from 0.01 s to 255 s",
            ));
        }
        Ok(d)
    }

    /// A `unicast_peer { ADDRESS ... }` block, one address a line.
    fn unicast_peers(&mut self, item: &Node) -> Result<Vec<IpAddr>> {
        self.flag_args_only(item);
        let mut peers = Vec::new();
        for line in self.block(item)? {
            self.no_block(line);
            peers.push(self.ip("unicast_peer", line.head())?);
            if !line.args().is_empty() {
                self.warn(
                    line.head(),
                    "unicast_peer options (min_ttl, max_ttl) ignored",
                );
            }
        }
        Ok(peers)
    }

    /// An `authentication { auth_type PASS  auth_pass ... }` block.
    fn authentication(&mut self, node: &Node) -> Result<Auth> {
        self.flag_args_only(node);
        let mut pass = None;
        let mut seen_type = false;
        for item in self.block(node)? {
            match item.key() {
                "auth_type" => {
                    let token = self.one_arg(item, "PASS")?;
                    match token.text.as_str() {
                        "PASS" => seen_type = true,
                        "AH" => {
                            return Err(
                                self.error(token, "`auth_type AH` is not supported: expected PASS")
                            );
                        }
                        other => {
                            return Err(self
                                .error(token, format!("`auth_type` expects PASS, got `{other}`")));
                        }
                    }
                }
                "auth_pass" => pass = Some(self.one_arg(item, "a password")?),
                _ => self.unknown(item, "authentication"),
            }
        }
        if !seen_type {
            return Err(self.error(
                node.head(),
                "`authentication` block has no `auth_type PASS` line",
            ));
        }
        let Some(pass) = pass else {
            return Err(self.error(
                node.head(),
                "`authentication` block has no `auth_pass` line",
            ));
        };
        // The password itself stays out of the message: warnings go to
        // logs other people read.
        if pass.text.len() > 8 {
            self.warn(pass, "`auth_pass` truncated to 8 characters");
        }
        Ok(Auth::password(&pass.text))
    }

    /// One `virtual_ipaddress` line: `ADDRESS[/PREFIX] [dev IFACE] [label
    /// LABEL]`.
    fn virtual_address(&mut self, line: &Node) -> Result<VirtualAddress> {
        self.no_block(line);
        let head = line.head();
        let (addr_text, prefix_text) = match head.text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (head.text.as_str(), None),
        };
        let addr: IpAddr = addr_text.parse().map_err(|_| {
            self.error(
                head,
                format!("virtual_ipaddress expects ADDRESS[/PREFIX] [dev IFACE] [label LABEL], got `{}`", head.text),
            )
        })?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix_text {
            None => max,
            Some(p) => p.parse::<u8>().ok().filter(|&p| p <= max).ok_or_else(|| {
                self.error(
                    head,
                    format!("virtual_ipaddress prefix must be 0..={max}, got `{p}`"),
                )
            })?,
        };
        let mut out = VirtualAddress {
            addr,
            prefix,
            dev: None,
            label: None,
        };
        let mut args = line.args().iter();
        while let Some(word) = args.next() {
            match word.text.as_str() {
                "dev" | "label" => {
                    let Some(value) = args.next() else {
                        return Err(
                            self.error(word, format!("`{}` expects a name after it", word.text))
                        );
                    };
                    if word.text == "dev" {
                        out.dev = Some(value.text.clone());
                    } else {
                        out.label = Some(value.text.clone());
                    }
                }
                other => {
                    let other = other.to_string();
                    self.warn(word, format!("virtual_ipaddress option `{other}` ignored"));
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::keepalived::parse_str;
    use crate::packet::Auth;

    #[test]
    fn long_password_is_truncated_with_a_warning() {
        let text = "vrrp_instance A {\ninterface eth0\nvirtual_router_id 7\nauthentication {\nauth_type PASS\nauth_pass secret123\n}\n}";
        let imported = parse_str(text, Path::new("k.conf")).unwrap();
        assert_eq!(
            imported.config.instances[0].auth,
            Some(Auth::Password(*b"secret12"))
        );
        assert_eq!(
            imported.warnings[0].to_string(),
            "k.conf:6: `auth_pass` truncated to 8 characters"
        );
        assert!(!imported.warnings[0].to_string().contains("secret"));
    }

    #[test]
    fn config_check_refuses_an_interval_the_version_cannot_carry() {
        let text = "vrrp_instance A {\ninterface eth0\nvirtual_router_id 7\nadvert_int 0.5\n}";
        let config = parse_str(text, Path::new("k.conf")).unwrap().config;
        let e = config.check().unwrap_err();
        assert!(
            e.to_string()
                .starts_with("k.conf:1: advert_int 500ms cannot be sent with VRRP version 2"),
            "{e}"
        );
        let primary = "192.0.2.1".parse().unwrap();
        let startup = config.instances[0]
            .router_config(primary, crate::packet::Version::V2)
            .unwrap_err();
        assert_eq!(startup.to_string(), e.to_string());
        let v3 = format!("global_defs {{\nvrrp_version 3\n}}\n{text}");
        let config = parse_str(&v3, Path::new("k.conf")).unwrap().config;
        config.check().unwrap();
        assert_eq!(
            config.instances[0]
                .interval(crate::packet::Version::V3)
                .unwrap()
                .centis(),
            50
        );
    }

    #[test]
    fn config_check_refuses_mixed_families_and_ipv6_over_vrrpv2() {
        let text = "vrrp_instance A {\ninterface eth0\nvirtual_router_id 7\nvirtual_ipaddress {\n192.0.2.10\n2001:db8::10\n}\n}";
        let config = parse_str(text, Path::new("k.conf")).unwrap().config;
        let e = config.check().unwrap_err();
        assert!(
            e.to_string().starts_with(
                "k.conf:1: virtual address 2001:db8::10 is not of the instance's family (IPv4)"
            ),
            "{e}"
        );
        let v6 = text.replace("192.0.2.10\n", "");
        let config = parse_str(&v6, Path::new("k.conf")).unwrap().config;
        assert!(config.instances[0].ipv6());
        let e = config.check().unwrap_err();
        assert!(e.to_string().contains("VRRPv2 carries IPv4 only"), "{e}");
        let v3 = format!("global_defs {{\nvrrp_version 3\n}}\n{v6}");
        parse_str(&v3, Path::new("k.conf"))
            .unwrap()
            .config
            .check()
            .unwrap();
    }

    #[test]
    fn advert_int_below_a_centisecond_is_refused_at_its_line() {
        let text = "vrrp_instance A {\ninterface eth0\nvirtual_router_id 7\nadvert_int 0.001\n}";
        let e = parse_str(text, Path::new("k.conf")).unwrap_err();
        assert!(e.to_string().starts_with("k.conf:4: `advert_int`"), "{e}");
        let text = text.replace("0.001", "0.01");
        let imported = parse_str(&text, Path::new("k.conf")).unwrap();
        assert_eq!(
            imported.config.instances[0].advert_int,
            std::time::Duration::from_millis(10)
        );
    }
}
