//! The README's example, compiled: the chapter's target (a file LUN, no
//! authentication) on a loopback port, and an initiator writing to it and
//! reading back.
//!
//! ```text
//! cargo run -p ha-iscsi --example chapter_target
//! ```

use std::sync::Arc;

use ha_iscsi::backstore::FileBackstore;
use ha_iscsi::initiator::{InitiatorConfig, Session};
use ha_iscsi::login::{Auth, LoginConfig};
use ha_iscsi::scsi::LogicalUnit;
use ha_iscsi::target::Portal;

const IQN: &str = "iqn.2025-09.com.example:storage";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::temp_dir().join("ha-iscsi-chapter-disk1.img");
    let disk = FileBackstore::open(&path, Some(64 << 20), 512)?;
    let config = LoginConfig::single(IQN, Auth::None);
    let mut portal = Portal::bind("127.0.0.1:0".parse()?, config).await?;
    portal.map_lun(IQN, 0, LogicalUnit::new(Arc::new(disk), "disk1"))?;
    let addr = portal.local_addr()?;
    tokio::spawn(portal.serve());

    let node1 = InitiatorConfig::new("iqn.2025-09.com.example:node1");
    let mut session = Session::login(addr, IQN, &node1).await?;
    session.write(0, 0, &[0xab; 512], true).await?;
    assert_eq!(session.read(0, 0, 1).await?, vec![0xab; 512]);
    let (blocks, size) = session.read_capacity(0).await?;
    println!("{IQN} at {addr}: {blocks} blocks of {size} bytes; wrote and read back block 0");
    session.logout().await?;
    std::fs::remove_file(path)?;
    Ok(())
}
