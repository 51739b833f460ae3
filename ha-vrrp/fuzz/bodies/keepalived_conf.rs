//! keepalived.conf: arbitrary text through the importer, and what it
//! accepts through the checks start-up makes and into each instance's
//! router settings. It must never panic.

use std::net::IpAddr;
use std::path::Path;

use ha_vrrp::keepalived;
use ha_vrrp::packet::Version;

/// The input as the text of one keepalived.conf (`include`s are not
/// followed: no file is read).
pub fn run(input: &[u8]) {
    let text = String::from_utf8_lossy(input);
    let Ok(imported) = keepalived::parse_str(&text, Path::new("keepalived.conf")) else {
        return;
    };
    let config = imported.config;
    let _ = config.check();
    let v4: IpAddr = "192.0.2.11".parse().expect("an address");
    let v6: IpAddr = "fe80::11".parse().expect("an address");
    for instance in &config.instances {
        let _ = config.tracks(instance);
        let _ = config.sync_group_of(&instance.name);
        for primary in [v4, v6] {
            for version in [Version::V2, Version::V3] {
                if let Ok(settings) = instance.router_config(primary, version) {
                    let mut router = ha_vrrp::Router::new(settings);
                    router.handle_startup(std::time::Instant::now());
                    while router.poll_output().is_some() {}
                }
            }
        }
    }
}
