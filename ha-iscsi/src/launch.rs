//! Turns a [`Config`] into running parts: opens the backstores, makes
//! their logical units, and binds one [`Portal`] per listening address
//! with the targets, LUNs, node ACLs and authentication of the portal
//! groups that listen there.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use crate::backstore::{BlockTarget, FileBackstore, FileOptions, MemoryBackstore};
use crate::config::{Config, Credentials, PortalGroup, Storage};
use crate::login::{Auth, LoginConfig, TargetEntry};
use crate::negotiation::TargetLimits;
use crate::scsi::LogicalUnit;
use crate::target::Portal;
use crate::{Error, Result};

/// What [`launch`] built.
pub struct Launched {
    /// Bound portals, ready to serve.
    pub portals: Vec<Portal>,
    /// The backstores by name (to flush them on stop).
    pub backstores: Vec<(String, Arc<dyn BlockTarget>)>,
}

impl std::fmt::Debug for Launched {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.backstores.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("Launched")
            .field("portals", &self.portals)
            .field("backstores", &names)
            .finish()
    }
}

fn chap(credentials: Option<&Credentials>, mutual: Option<&Credentials>) -> Auth {
    Auth::Chap {
        users: credentials
            .map(|c| vec![(c.user.clone(), c.secret.as_bytes().to_vec())])
            .unwrap_or_default(),
        mutual: mutual.map(|c| (c.user.clone(), c.secret.as_bytes().to_vec())),
    }
}

/// How `group` admits initiators.
fn entry(iqn: &str, group: &PortalGroup) -> TargetEntry {
    let auth = if group.authentication {
        chap(group.chap.as_ref(), group.mutual_chap.as_ref())
    } else {
        Auth::None
    };
    let initiator_auth = if group.authentication {
        group
            .acls
            .iter()
            .filter(|a| a.chap.is_some())
            .map(|a| {
                (
                    a.initiator.clone(),
                    chap(a.chap.as_ref(), a.mutual_chap.as_ref()),
                )
            })
            .collect()
    } else {
        Vec::new()
    };
    TargetEntry {
        name: iqn.to_owned(),
        auth,
        allowed: (!group.generate_node_acls)
            .then(|| group.acls.iter().map(|a| a.initiator.clone()).collect()),
        initiator_auth,
    }
}

/// Opens every backstore of `config` and binds its portals. With
/// `state_dir`, each unit keeps its persistent reservations in
/// `STATE_DIR/NAME.pr`.
pub async fn launch(config: &Config, state_dir: Option<&Path>) -> Result<Launched> {
    let mut units = HashMap::new();
    let mut backstores = Vec::new();
    for b in &config.backstores {
        let options = FileOptions {
            direct: b.direct,
            write_through: b.write_through,
        };
        let store: Arc<dyn BlockTarget> = match &b.storage {
            Storage::Fileio { path, size } => Arc::new(FileBackstore::open_with(
                path,
                *size,
                b.block_size,
                options,
            )?),
            Storage::Block { path } => {
                Arc::new(FileBackstore::open_with(path, None, b.block_size, options)?)
            }
            Storage::Ramdisk { size } => Arc::new(
                MemoryBackstore::new(b.block_size, size / u64::from(b.block_size))
                    .map_err(|e| Error::Config(format!("ramdisk '{}': {e}", b.name)))?,
            ),
        };
        let mut unit = LogicalUnit::new(store.clone(), &b.name).read_only(b.read_only);
        if let Some(dir) = state_dir {
            unit = unit.with_reservation_file(dir.join(format!("{}.pr", b.name)))?;
        }
        units.insert(b.name.clone(), unit);
        backstores.push((b.name.clone(), store));
    }
    // Portal groups by the address they listen on.
    let mut by_address: BTreeMap<SocketAddr, Vec<(&str, &PortalGroup)>> = BTreeMap::new();
    for t in &config.targets {
        for g in &t.portal_groups {
            for addr in &g.portals {
                by_address.entry(*addr).or_default().push((&t.iqn, g));
            }
        }
    }
    let discovery_auth = match &config.discovery_chap {
        Some(c) => chap(Some(c), None),
        None => Auth::None,
    };
    let mut portals = Vec::new();
    for (addr, groups) in by_address {
        let tag = groups[0].1.tag;
        if let Some((iqn, g)) = groups.iter().find(|(_, g)| g.tag != tag) {
            return Err(Error::Config(format!(
                "{iqn} tpg{} and another group (tpg{tag}) share the portal {addr}",
                g.tag
            )));
        }
        let login = LoginConfig {
            targets: groups.iter().map(|(iqn, g)| entry(iqn, g)).collect(),
            discovery_auth: discovery_auth.clone(),
            portal_group_tag: tag,
            limits: TargetLimits::default(),
        };
        let mut portal = Portal::bind(addr, login).await?;
        for (iqn, g) in &groups {
            for (lun, name) in &g.luns {
                // Config validation guarantees the name exists.
                if let Some(unit) = units.get(name) {
                    portal.map_lun(*iqn, *lun, unit.clone())?;
                }
            }
            portal
                .set_demo_write_protect(*iqn, g.generate_node_acls && g.demo_mode_write_protect)?;
            for acl in &g.acls {
                for m in &acl.mapped_luns {
                    portal.map_acl_lun(*iqn, &acl.initiator, m.lun, m.tpg_lun, m.write_protect)?;
                }
            }
        }
        portals.push(portal);
    }
    Ok(Launched {
        portals,
        backstores,
    })
}
