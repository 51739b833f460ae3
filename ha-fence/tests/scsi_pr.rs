//! fence_scsi's fencing over ha-iscsi's initiator, against ha-iscsi's
//! target and against tgt's `tgtd`: both nodes register (one reserves
//! Write Exclusive, Registrants Only) and write; node1 fences node2;
//! node2's writes end in RESERVATION CONFLICT, node1's succeed. On
//! ha-target, node2 then unfences itself through the fencer and writes
//! again (tgtd ties a registration to the session that made it, so there
//! the nodes register on their own sessions). tgtd needs root and the tgt
//! package: skipped with a reason otherwise, required under CI=true.

use std::collections::BTreeMap;
use std::sync::Arc;

use ha_fence::scsi::{Lun, ScsiFencer};
use ha_fence::{Action, Fencer, PowerState};
use ha_iscsi::backstore::MemoryBackstore;
use ha_iscsi::initiator::{InitiatorConfig, Session};
use ha_iscsi::login::{Auth, LoginConfig};
use ha_iscsi::scsi::LogicalUnit;
use ha_iscsi::target::Portal;

// tgt's reference target, as ha-iscsi's tests run it.
#[path = "../../ha-iscsi/tests/support/tgtd.rs"]
mod tgtd;
use tgtd::{have_tgtd, tgtd};

const IQN: &str = "iqn.2025-09.com.example:storage";

fn nodes() -> BTreeMap<String, u32> {
    [("node1".to_owned(), 1), ("node2".to_owned(), 2)].into()
}

fn initiator(node: &str) -> InitiatorConfig {
    InitiatorConfig::new(&format!("iqn.2025-09.com.example:{node}")).with_isid([
        0x80,
        0,
        0,
        0,
        0,
        node.len() as u8 + node.as_bytes()[4],
    ])
}

/// A node's fencer, on sessions of its own (another ISID than the node's
/// data session: a second login with the same ISID would reinstate, and so
/// end, the data session).
fn fencer(node: &str, lun: &Lun) -> ScsiFencer {
    let own = InitiatorConfig::new(&format!("iqn.2025-09.com.example:{node}"));
    ScsiFencer::new(vec![lun.clone()], own, "lab", node, nodes()).unwrap()
}

/// A node's own long-lived session to the LUN, as a kernel initiator
/// keeps one: its registration and its writes go through it.
struct Node {
    session: Session,
    lun: u64,
}

impl Node {
    async fn login(node: &str, lun: &Lun) -> Self {
        let session = Session::login(lun.portal, &lun.target, &initiator(node))
            .await
            .unwrap();
        let mut me = Self {
            session,
            lun: lun.lun,
        };
        me.settle().await;
        me
    }

    /// Clears pending unit attentions (a new nexus, a preemption).
    async fn settle(&mut self) {
        for _ in 0..4 {
            if self.session.test_unit_ready(self.lun).await.unwrap().0 == 0 {
                break;
            }
        }
    }

    /// fence_scsi's unfencing from this session: register, reserve if free.
    async fn register(&mut self, key: u64) {
        let o = self
            .session
            .persistent_reserve_out(self.lun, 6, 0, 0, key, false)
            .await
            .unwrap();
        assert_eq!(o.status, 0);
        let _ = self
            .session
            .persistent_reserve_out(self.lun, 1, 5, key, 0, false)
            .await
            .unwrap();
    }

    /// A WRITE (16) of one block: its status, after unit attentions.
    async fn write(&mut self) -> u8 {
        self.settle().await;
        let mut cdb = [0u8; 16];
        cdb[0] = 0x8a;
        cdb[13] = 1;
        self.session
            .command(self.lun, &cdb, &[0x5a; 512], 0)
            .await
            .unwrap()
            .status
    }
}

/// Fencing with the nodes' registrations on their own sessions (targets
/// such as tgtd tie a registration to the session that made it).
async fn scenario(lun: Lun) {
    let key = |id| ha_fence::scsi::node_key("lab", id);
    let mut io1 = Node::login("node1", &lun).await;
    let mut io2 = Node::login("node2", &lun).await;
    io1.register(key(1)).await;
    io2.register(key(2)).await;
    assert_eq!(io1.write().await, 0);
    assert_eq!(io2.write().await, 0, "a registrant writes");
    let node1 = fencer("node1", &lun);
    assert_eq!(node1.status("node2").await.unwrap(), PowerState::On);
    node1.fence("node2", Action::Off).await.unwrap();
    assert_eq!(
        io2.write().await,
        0x18,
        "node2 is fenced: RESERVATION CONFLICT"
    );
    assert_eq!(io1.write().await, 0, "node1 still writes");
    assert_eq!(node1.status("node2").await.unwrap(), PowerState::Off);
    // Fencing an already fenced node is confirmed at once.
    node1.fence("node2", Action::Off).await.unwrap();
    // Only node2 can let itself back.
    assert!(node1.fence("node2", Action::On).await.is_err());
}

#[tokio::test(flavor = "multi_thread")]
async fn fencing_through_ha_target() {
    let config = LoginConfig::single(IQN, Auth::None);
    let mut portal = Portal::bind("127.0.0.1:0".parse().unwrap(), config)
        .await
        .unwrap();
    let store = Arc::new(MemoryBackstore::new(512, 2048).unwrap());
    portal
        .map_lun(IQN, 0, LogicalUnit::new(store, "disk1"))
        .unwrap();
    let addr = portal.local_addr().unwrap();
    tokio::spawn(portal.serve());
    let lun = Lun {
        portal: addr,
        target: IQN.into(),
        lun: 0,
    };
    scenario(lun.clone()).await;
    // ha-iscsi keys registrations to the I_T nexus (initiator name and
    // ISID), as SAM says: the fencer's own unfencing counts for the node's
    // later sessions.
    let node2 = ScsiFencer::new(
        vec![lun.clone()],
        initiator("node2"),
        "lab",
        "node2",
        nodes(),
    )
    .unwrap();
    node2.fence("node2", Action::On).await.unwrap();
    assert_eq!(
        Node::login("node2", &lun).await.write().await,
        0,
        "unfenced"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn fencing_through_tgtd() {
    if !have_tgtd() {
        return;
    }
    // 1 MiB; control ports apart from ha-iscsi's tests, which may run at
    // the same time.
    let (_tgtd, addr) = tgtd(IQN, 2048, 900 + std::process::id() % 90);
    scenario(Lun {
        portal: addr,
        target: IQN.into(),
        lun: 1,
    })
    .await;
}
