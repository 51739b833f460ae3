//! The README's first example, compiled: a Fencer of your own (a
//! switched PDU) fencing a node through a topology.
//!
//! ```text
//! cargo run -p ha-fence --example custom_fencer
//! ```

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use ha_fence::topology::{Device, DeviceOptions, Fenced, Topology};
use ha_fence::{Action, Fencer, PowerState, Result, async_trait};

/// A switched PDU, one outlet per node (kept in memory here; a real one
/// would be driven over its network interface).
#[derive(Default)]
struct Pdu {
    outlets: Mutex<BTreeMap<String, PowerState>>,
}

#[async_trait]
impl Fencer for Pdu {
    // A real PDU switches the outlet, then reads it back: Ok means the
    // state is confirmed.
    async fn fence(&self, outlet: &str, action: Action) -> Result<()> {
        let state = match action {
            Action::Off => PowerState::Off,
            Action::On | Action::Reboot => PowerState::On,
        };
        let mut outlets = self.outlets.lock().expect("not poisoned");
        outlets.insert(outlet.to_owned(), state);
        Ok(())
    }

    async fn status(&self, outlet: &str) -> Result<PowerState> {
        let outlets = self.outlets.lock().expect("not poisoned");
        Ok(outlets.get(outlet).copied().unwrap_or(PowerState::On))
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    let pdu = Arc::new(Pdu::default());
    let mut topology = Topology::default();
    // pcmk_host_map="node1:1;node2:2"
    topology.add_device(Device {
        name: "pdu".into(),
        fencer: pdu.clone(),
        options: DeviceOptions::builder()
            .plug("node1", "1")
            .plug("node2", "2")
            .build(),
    });
    topology.add_level("node2", 1, &["pdu"])?;

    // Returns once the PDU has confirmed outlet 2 off.
    let fenced = topology.fence("node2", Action::Off).await?;
    assert_eq!(
        fenced,
        Fenced {
            level: 1,
            devices: vec!["pdu".into()]
        }
    );
    assert_eq!(pdu.status("2").await?, PowerState::Off);
    Ok(())
}
