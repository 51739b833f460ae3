//! The agents' parameters: arbitrary text read as fence-agents' stdin
//! (`key=value` lines, `#` comments), then through fence_ipmilan's
//! parameters ([`IpmiOptions`], [`IpmiFencer`]) and the `pcmk_*` device
//! options ([`DeviceOptions`]). It must never panic.

use std::net::IpAddr;

use ha_fence::ipmi::{IpmiFencer, IpmiOptions};
use ha_fence::topology::DeviceOptions;

/// The input as the text on an agent's stdin.
pub fn run(input: &[u8]) {
    let text = String::from_utf8_lossy(input);
    let mut params = ha_fence::params::parse(&text);
    // A host name would be looked up in DNS: only addresses are fuzzed.
    for (key, value) in &mut params {
        if matches!(key.as_str(), "ip" | "ipaddr")
            && value.trim_matches(['[', ']']).parse::<IpAddr>().is_err()
        {
            *value = "192.0.2.1".into();
        }
    }
    let _ = IpmiOptions::from_params(&params);
    let _ = IpmiFencer::from_params(&params);
    if let Ok((options, _rest)) = DeviceOptions::from_params(&params) {
        let _ = options.host_check();
        for host in ["node1", "node2", ""] {
            let _ = options.plug(host);
            let _ = options.lists(host);
            let _ = options.listed_by(host, &["1".into(), "node1".into()]);
        }
        let _ = options.delay(u64::from_le_bytes([input.len() as u8; 8]));
    }
}
