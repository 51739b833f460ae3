//! The README's example, compiled: the chapter's stonith device
//! (`fence_ipmilan pcmk_host_list=node1 ...`) as a topology with one IPMI
//! device, asked for node1's status (a reboot would be
//! `topology.fence("node1", Action::Reboot)`).
//!
//! ```text
//! cargo run -p ha-fence --example chapter_stonith -- 127.0.0.1 9623 admin password
//! ```

use std::sync::Arc;

use ha_fence::ipmi::IpmiFencer;
use ha_fence::topology::{Device, DeviceOptions, Topology};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [ip, port, login, password] = args.as_slice() else {
        return Err("usage: chapter_stonith IP PORT LOGIN PASSWORD".into());
    };
    let params: Vec<(String, String)> = [
        ("pcmk_host_list", "node1"),
        ("ipaddr", ip.as_str()),
        ("ipport", port.as_str()),
        ("login", login.as_str()),
        ("passwd", password.as_str()),
        ("lanplus", "1"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let (options, agent_params) = DeviceOptions::from_params(&params)?;
    let fencer = Arc::new(IpmiFencer::from_params(&agent_params)?);
    let mut topology = Topology::default();
    topology.add_device(Device {
        name: "fence_node1".into(),
        fencer: fencer.clone(),
        options,
    });
    println!(
        "node1: {:?}",
        ha_fence::Fencer::status(fencer.as_ref(), "node1").await?
    );
    Ok(())
}
