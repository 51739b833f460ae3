//! [`ScsiFencer`]: fencing by SCSI-3 persistent reservations, as fence_scsi does.
//!
//! It runs over ha-iscsi's initiator. Each node has a key (the first four
//! hex digits of MD5(cluster name) and its node id, four digits:
//! `a1b20001`). Unfencing a node (`on`, run by that node) registers its key
//! and takes a Write Exclusive, Registrants Only reservation if there is
//! none; fencing a victim (`off`) preempts and aborts its key, so its
//! writes end in RESERVATION CONFLICT, and is confirmed by reading the keys
//! back. A target without PREEMPT AND ABORT (tgtd) gets PREEMPT.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use ha_core::async_trait;
use ha_iscsi::initiator::{InitiatorConfig, Session};
use md5::{Digest, Md5};

use crate::error::{Error, Result};
use crate::fencer::{Action, Fencer, PowerState};
use crate::metadata::{Metadata, Parameter, ParameterType};

/// PERSISTENT RESERVE OUT service actions and the reservation type used.
const REGISTER_AND_IGNORE: u8 = 6;
const RESERVE: u8 = 1;
const PREEMPT: u8 = 4;
const PREEMPT_AND_ABORT: u8 = 5;
const WRITE_EXCLUSIVE_REGISTRANTS_ONLY: u8 = 5;
const RESERVATION_CONFLICT: u8 = 0x18;

/// One LUN under the reservations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lun {
    /// The target portal.
    pub portal: SocketAddr,
    /// The target's name.
    pub target: String,
    /// The LUN.
    pub lun: u64,
}

impl Lun {
    /// From `iscsi://HOST:PORT/IQN/LUN` (as libiscsi writes them).
    pub fn parse(url: &str) -> Result<Self> {
        let bad = || Error::BadParameter(format!("'{url}': expected iscsi://HOST:PORT/IQN/LUN"));
        let rest = url.strip_prefix("iscsi://").ok_or_else(bad)?;
        let mut parts = rest.splitn(3, '/');
        let (host, target, lun) = (
            parts.next().ok_or_else(bad)?,
            parts.next().ok_or_else(bad)?,
            parts.next().ok_or_else(bad)?,
        );
        let portal = if host.contains(':') {
            host.parse().map_err(|_| bad())?
        } else {
            format!("{host}:3260").parse().map_err(|_| bad())?
        };
        Ok(Self {
            portal,
            target: target.to_owned(),
            lun: lun.parse().map_err(|_| bad())?,
        })
    }
}

/// fence_scsi's key for a node: MD5(cluster name)'s first four hex
/// digits, then the node id as four decimal digits, read as hex.
pub fn node_key(cluster: &str, node_id: u32) -> u64 {
    let digest = Md5::digest(cluster.as_bytes());
    let hex: String = digest.iter().take(2).map(|b| format!("{b:02x}")).collect();
    u64::from_str_radix(&format!("{hex}{node_id:04}"), 16).unwrap_or(0)
}

/// A fencing device over persistent reservations.
#[derive(Debug, Clone)]
pub struct ScsiFencer {
    luns: Vec<Lun>,
    /// This node's initiator (its I_T nexus holds its registration).
    initiator: InitiatorConfig,
    cluster: String,
    /// This node's name.
    local: String,
    /// Node names to node ids.
    nodes: BTreeMap<String, u32>,
}

impl ScsiFencer {
    /// Fences on `luns` from the node `local` (which logs in as
    /// `initiator`), in cluster `cluster` whose `nodes` have these ids.
    ///
    /// Registrations belong to an I_T nexus. Unfencing (`on`) registers
    /// for `initiator`'s nexus, so give it the ISID of the node's own data
    /// session where the target keys registrations by initiator port, as
    /// SAM says and ha-iscsi and LIO do (without an ISID, a stable one is
    /// derived from the node's name). Fencing (`off`) works from any
    /// session of the node: where the target ties registrations to the
    /// session that made them (tgtd), the node's key is registered on the
    /// fencing session first.
    pub fn new(
        luns: Vec<Lun>,
        initiator: InitiatorConfig,
        cluster: &str,
        local: &str,
        nodes: BTreeMap<String, u32>,
    ) -> Result<Self> {
        if luns.is_empty() {
            return Err(Error::BadParameter("devices: at least one LUN".into()));
        }
        if !nodes.contains_key(local) {
            return Err(Error::BadParameter(format!(
                "this node ({local}) has no node id"
            )));
        }
        if nodes.values().any(|id| *id > 9999) {
            return Err(Error::BadParameter(
                "node ids are at most 9999 (four digits in the key)".into(),
            ));
        }
        let mut initiator = initiator;
        if initiator.isid.is_none() {
            let digest = Md5::digest(local.as_bytes());
            // ISID type "random" with 22 bits from the name.
            initiator.isid = Some([0x80 | (digest[0] & 0x3f), digest[1], digest[2], 0, 0, 1]);
        }
        Ok(Self {
            luns,
            initiator,
            cluster: cluster.to_owned(),
            local: local.to_owned(),
            nodes,
        })
    }

    fn key(&self, node: &str) -> Result<u64> {
        let id = self
            .nodes
            .get(node)
            .ok_or_else(|| Error::BadParameter(format!("{node} has no node id")))?;
        Ok(node_key(&self.cluster, *id))
    }

    async fn session(&self, lun: &Lun) -> Result<Session> {
        let mut s = Session::login(lun.portal, &lun.target, &self.initiator)
            .await
            .map_err(iscsi)?;
        // Clear the unit attentions a new nexus or a preemption left.
        for _ in 0..4 {
            if s.test_unit_ready(lun.lun).await.map_err(iscsi)?.0 == 0 {
                break;
            }
        }
        Ok(s)
    }

    async fn keys(&self, s: &mut Session, lun: &Lun) -> Result<Vec<u64>> {
        s.read_keys(lun.lun).await.map_err(iscsi)
    }

    /// Registers this node's key and reserves, if nobody has.
    async fn unfence(&self, lun: &Lun) -> Result<()> {
        let key = self.key(&self.local)?;
        let mut s = self.session(lun).await?;
        let o = s
            .persistent_reserve_out(lun.lun, REGISTER_AND_IGNORE, 0, 0, key, false)
            .await
            .map_err(iscsi)?;
        if o.status != 0 {
            return Err(Error::NotConfirmed(format!(
                "register on {}: status {:#04x}",
                lun.target, o.status
            )));
        }
        let reservation = s.persistent_reserve_in(lun.lun, 1).await.map_err(iscsi)?;
        let reserved = reservation.get(4..8).is_some_and(|len| len != [0, 0, 0, 0]);
        if !reserved {
            let o = s
                .persistent_reserve_out(
                    lun.lun,
                    RESERVE,
                    WRITE_EXCLUSIVE_REGISTRANTS_ONLY,
                    key,
                    0,
                    false,
                )
                .await
                .map_err(iscsi)?;
            // Another node may have reserved in the meantime: fine.
            if o.status != 0 && o.status != RESERVATION_CONFLICT {
                return Err(Error::NotConfirmed(format!(
                    "reserve on {}: status {:#04x}",
                    lun.target, o.status
                )));
            }
        }
        let keys = self.keys(&mut s, lun).await?;
        let _ = s.logout().await;
        if keys.contains(&key) {
            Ok(())
        } else {
            Err(Error::NotConfirmed(format!(
                "{}'s key is not registered on {}",
                self.local, lun.target
            )))
        }
    }

    /// PREEMPT AND ABORT `theirs` with `ours`, or PREEMPT where the target
    /// refuses the former (tgtd); the status.
    async fn preempt(&self, s: &mut Session, lun: &Lun, ours: u64, theirs: u64) -> Result<u8> {
        let kind = WRITE_EXCLUSIVE_REGISTRANTS_ONLY;
        let o = s
            .persistent_reserve_out(lun.lun, PREEMPT_AND_ABORT, kind, ours, theirs, false)
            .await
            .map_err(iscsi)?;
        if o.status == 2 && o.sense.is_some_and(|s| s.key == 0x05) {
            let o = s
                .persistent_reserve_out(lun.lun, PREEMPT, kind, ours, theirs, false)
                .await
                .map_err(iscsi)?;
            return Ok(o.status);
        }
        Ok(o.status)
    }

    /// Preempts `victim`'s key and checks it is gone.
    async fn fence_off(&self, lun: &Lun, victim: &str) -> Result<()> {
        let (ours, theirs) = (self.key(&self.local)?, self.key(victim)?);
        if ours == theirs {
            return Err(Error::BadParameter(
                "a node cannot fence itself through reservations".into(),
            ));
        }
        let mut s = self.session(lun).await?;
        if !self.keys(&mut s, lun).await?.contains(&ours) {
            // Only a registrant may preempt.
            s.persistent_reserve_out(lun.lun, REGISTER_AND_IGNORE, 0, 0, ours, false)
                .await
                .map_err(iscsi)?;
        }
        if self.keys(&mut s, lun).await?.contains(&theirs) {
            let mut status = self.preempt(&mut s, lun, ours, theirs).await?;
            if status == RESERVATION_CONFLICT {
                // Our key is registered, but not for this session (targets
                // such as tgtd tie a registration to its session).
                s.persistent_reserve_out(lun.lun, REGISTER_AND_IGNORE, 0, 0, ours, false)
                    .await
                    .map_err(iscsi)?;
                status = self.preempt(&mut s, lun, ours, theirs).await?;
            }
            if status != 0 {
                return Err(Error::NotConfirmed(format!(
                    "preempt on {}: status {status:#04x}",
                    lun.target
                )));
            }
        }
        let keys = self.keys(&mut s, lun).await?;
        let _ = s.logout().await;
        if keys.contains(&theirs) {
            return Err(Error::NotConfirmed(format!(
                "{victim}'s key is still registered on {}",
                lun.target
            )));
        }
        Ok(())
    }
}

/// The initiator's errors in the kinds a fencing decision needs apart.
fn iscsi(e: ha_iscsi::Error) -> Error {
    match e {
        ha_iscsi::Error::LoginRefused { .. } => Error::LoginRefused(e.to_string()),
        ha_iscsi::Error::Connection(_) => Error::Unreachable(e.to_string()),
        other => Error::Iscsi(other),
    }
}

#[async_trait]
impl Fencer for ScsiFencer {
    async fn fence(&self, target: &str, action: Action) -> Result<()> {
        match action {
            Action::Off => {
                for lun in &self.luns {
                    self.fence_off(lun, target).await?;
                }
                Ok(())
            }
            Action::On if target == self.local => {
                for lun in &self.luns {
                    self.unfence(lun).await?;
                }
                Ok(())
            }
            Action::On => Err(Error::BadParameter(format!(
                "unfencing registers a node's own key: run it on {target}"
            ))),
            Action::Reboot => Err(Error::BadParameter(
                "reservations cut a node off; they cannot reboot it (use off, then on from the node)".into(),
            )),
        }
    }

    async fn status(&self, target: &str) -> Result<PowerState> {
        let key = self.key(target)?;
        let lun = &self.luns[0];
        let mut s = self.session(lun).await?;
        let keys = self.keys(&mut s, lun).await?;
        let _ = s.logout().await;
        Ok(if keys.contains(&key) {
            PowerState::On
        } else {
            PowerState::Off
        })
    }

    async fn list(&self) -> Result<Vec<String>> {
        Ok(self.nodes.keys().cloned().collect())
    }

    async fn monitor(&self) -> Result<()> {
        for lun in &self.luns {
            let s = self.session(lun).await?;
            let _ = s.logout().await;
        }
        Ok(())
    }

    fn metadata(&self) -> Metadata {
        let p = |name: &str, required: bool, description: &str| Parameter {
            name: name.into(),
            aliases: Vec::new(),
            kind: ParameterType::String,
            default: None,
            required,
            description: description.into(),
        };
        Metadata {
            name: "fence_scsi".into(),
            description: "Fence agent for SCSI persistent reservations over iSCSI (ha-fence)"
                .into(),
            parameters: vec![
                p(
                    "devices",
                    true,
                    "LUNs, comma-separated iscsi://HOST:PORT/IQN/LUN",
                ),
                p(
                    "cluster_name",
                    true,
                    "The cluster's name (the keys' first half)",
                ),
                p("nodename", true, "This node's name"),
                p("node_ids", true, "Node ids, NAME:ID;NAME:ID"),
            ],
            actions: ["on", "off", "status", "list", "monitor", "metadata"]
                .map(String::from)
                .to_vec(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_fence_scsis() {
        // The top half is MD5's first two bytes; the node id is read as hex.
        let digest = Md5::digest(b"mycluster");
        let prefix = u64::from(digest[0]) << 8 | u64::from(digest[1]);
        assert_eq!(node_key("mycluster", 2) >> 16, prefix);
        assert_eq!(node_key("mycluster", 2) & 0xffff, 0x0002);
        assert_eq!(
            node_key("mycluster", 12) & 0xffff,
            0x0012,
            "decimal digits read as hex"
        );
        assert_ne!(node_key("a", 1), node_key("b", 1));
    }

    #[test]
    fn lun_urls() {
        let l = Lun::parse("iscsi://127.0.0.1:3261/iqn.2025-09.com.example:storage/0").unwrap();
        assert_eq!(
            (l.portal.port(), l.target.as_str(), l.lun),
            (3261, "iqn.2025-09.com.example:storage", 0)
        );
        assert_eq!(
            Lun::parse("iscsi://10.0.0.1/iqn.x:y/3")
                .unwrap()
                .portal
                .port(),
            3260
        );
        for bad in [
            "/dev/sdb",
            "iscsi://h/iqn",
            "iscsi://127.0.0.1:3260/iqn.x:y/zero",
        ] {
            assert!(Lun::parse(bad).is_err(), "{bad}");
        }
    }
}
