//! What a target serves, as data: backstores, targets with their portal
//! groups (portals, LUNs, node ACLs, authentication), and how to build the
//! running [`Portal`](crate::target::Portal)s from it.
//!
//! [`Config`] is the crate's own serde type (JSON); [`Config::from_targetcli`]
//! reads targetcli's `saveconfig.json` (the fileio, ramdisk and block
//! backstores, iSCSI targets, TPG attributes `authentication`,
//! `generate_node_acls` and `demo_mode_write_protect`, portals, LUNs, node
//! ACLs with CHAP and mutual CHAP credentials and mapped LUNs), so a
//! target built with targetcli, like the chapter's, runs unchanged. Errors
//! name the file and line.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// A configuration error, with where it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {message}")]
pub struct ConfigError {
    /// The file.
    pub file: String,
    /// Its line (1-based).
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// Where a LUN's blocks live.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Storage {
    /// A file (created sparse at `size` bytes if absent).
    Fileio {
        /// The file.
        path: PathBuf,
        /// Its size in bytes when it is created.
        size: Option<u64>,
    },
    /// Memory.
    Ramdisk {
        /// Bytes.
        size: u64,
    },
    /// A block device.
    Block {
        /// The device node.
        path: PathBuf,
    },
}

/// A named backstore.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Backstore {
    /// Its name (the LUN's identity derives from it).
    pub name: String,
    /// Its storage.
    pub storage: Storage,
    /// Logical block size.
    #[serde(default = "default_block_size")]
    pub block_size: u32,
    /// Refuse writes.
    #[serde(default)]
    pub read_only: bool,
    /// Make every write stable before answering it (targetcli's
    /// `write_back=false`).
    #[serde(default)]
    pub write_through: bool,
    /// Bypass the page cache (`O_DIRECT`) for file and block storage.
    #[serde(default)]
    pub direct: bool,
}

fn default_block_size() -> u32 {
    512
}

/// CHAP credentials.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credentials {
    /// User name.
    pub user: String,
    /// Secret.
    pub secret: String,
}

/// A LUN mapped for one initiator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MappedLun {
    /// The LUN the initiator sees.
    pub lun: u64,
    /// The portal group's LUN behind it.
    pub tpg_lun: u64,
    /// Write-protected for this initiator.
    #[serde(default)]
    pub write_protect: bool,
}

/// A node ACL: one initiator's access.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Acl {
    /// The initiator's IQN.
    pub initiator: String,
    /// Its CHAP credentials (used when authentication is on).
    #[serde(default)]
    pub chap: Option<Credentials>,
    /// The target's credentials for mutual CHAP with this initiator.
    #[serde(default)]
    pub mutual_chap: Option<Credentials>,
    /// Its LUNs; empty: every LUN of the portal group.
    #[serde(default)]
    pub mapped_luns: Vec<MappedLun>,
}

/// A target portal group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortalGroup {
    /// Its tag.
    pub tag: u16,
    /// Where it listens.
    pub portals: Vec<SocketAddr>,
    /// LUN number to backstore name.
    pub luns: BTreeMap<u64, String>,
    /// CHAP required (targetcli's `authentication`).
    #[serde(default)]
    pub authentication: bool,
    /// Any initiator may log in (targetcli's `generate_node_acls`, demo
    /// mode); otherwise only those with an ACL.
    #[serde(default = "yes")]
    pub generate_node_acls: bool,
    /// In demo mode, LUNs are write-protected.
    #[serde(default)]
    pub demo_mode_write_protect: bool,
    /// Credentials for initiators without their own (demo mode with
    /// authentication).
    #[serde(default)]
    pub chap: Option<Credentials>,
    /// The target's credentials for mutual CHAP in that case.
    #[serde(default)]
    pub mutual_chap: Option<Credentials>,
    /// Node ACLs.
    #[serde(default)]
    pub acls: Vec<Acl>,
}

fn yes() -> bool {
    true
}

/// A target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    /// Its IQN.
    pub iqn: String,
    /// Its portal groups.
    pub portal_groups: Vec<PortalGroup>,
}

/// Everything a target process serves.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Config {
    /// The backstores.
    pub backstores: Vec<Backstore>,
    /// The targets.
    pub targets: Vec<Target>,
    /// Credentials discovery sessions must give (none: open discovery).
    #[serde(default)]
    pub discovery_chap: Option<Credentials>,
}

/// The line of the first occurrence of `needle` in `text` (1 if absent).
fn line_of(text: &str, needle: &str) -> usize {
    text.find(needle)
        .map_or(1, |at| text[..at].matches('\n').count() + 1)
}

fn json_error(file: &Path, e: &serde_json::Error) -> ConfigError {
    ConfigError {
        file: file.display().to_string(),
        line: e.line().max(1),
        message: e.to_string(),
    }
}

impl Config {
    /// Reads the crate's own JSON form.
    pub fn from_json(text: &str, file: &Path) -> Result<Self, ConfigError> {
        let config: Self = serde_json::from_str(text).map_err(|e| json_error(file, &e))?;
        config.validate(text, file)?;
        Ok(config)
    }

    /// Reads `path`: targetcli's saveconfig.json if it looks like one
    /// (`storage_objects`), else the crate's own form.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: path.display().to_string(),
            line: 1,
            message: e.to_string(),
        })?;
        if text.contains("\"storage_objects\"") {
            Self::from_targetcli(&text, path)
        } else {
            Self::from_json(&text, path)
        }
    }

    /// Checks references and values; errors point at the offending text.
    fn validate(&self, text: &str, file: &Path) -> Result<(), ConfigError> {
        let err = |needle: &str, message: String| ConfigError {
            file: file.display().to_string(),
            line: line_of(text, needle),
            message,
        };
        let mut names = std::collections::HashSet::new();
        for b in &self.backstores {
            if !names.insert(b.name.as_str()) {
                return Err(err(
                    &b.name,
                    format!("backstore '{}' defined twice", b.name),
                ));
            }
            if !crate::backstore::BLOCK_SIZES.contains(&b.block_size) {
                return Err(err(
                    &b.name,
                    format!(
                        "backstore '{}': block size {} is not 512, 1024, 2048 or 4096",
                        b.name, b.block_size
                    ),
                ));
            }
        }
        for t in &self.targets {
            if !crate::name::is_valid(&t.iqn) {
                return Err(err(
                    &t.iqn,
                    format!("'{}' is not an iSCSI name (iqn., eui., naa.)", t.iqn),
                ));
            }
            for g in &t.portal_groups {
                for name in g.luns.values() {
                    if !names.contains(name.as_str()) {
                        return Err(err(
                            name,
                            format!("LUN of {} uses unknown backstore '{name}'", t.iqn),
                        ));
                    }
                }
                for acl in &g.acls {
                    if !crate::name::is_valid(&acl.initiator) {
                        return Err(err(
                            &acl.initiator,
                            format!(
                                "ACL '{}' is not an iSCSI name (iqn., eui., naa.)",
                                acl.initiator
                            ),
                        ));
                    }
                    for m in &acl.mapped_luns {
                        if !g.luns.contains_key(&m.tpg_lun) {
                            return Err(err(
                                &acl.initiator,
                                format!(
                                    "ACL {} maps LUN {} that tpg{} does not have",
                                    acl.initiator, m.tpg_lun, g.tag
                                ),
                            ));
                        }
                    }
                }
                if g.authentication
                    && g.generate_node_acls
                    && g.chap.is_none()
                    && g.acls.iter().all(|a| a.chap.is_none())
                {
                    return Err(err(
                        &t.iqn,
                        format!(
                            "{} tpg{}: authentication is on but no CHAP credentials are set",
                            t.iqn, g.tag
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Reads targetcli's saveconfig.json.
    pub fn from_targetcli(text: &str, file: &Path) -> Result<Self, ConfigError> {
        let saved: saved::SaveConfig =
            serde_json::from_str(text).map_err(|e| json_error(file, &e))?;
        let err = |needle: &str, message: String| ConfigError {
            file: file.display().to_string(),
            line: line_of(text, needle),
            message,
        };
        let mut config = Config::default();
        for so in &saved.storage_objects {
            let storage = match so.plugin.as_str() {
                "fileio" => Storage::Fileio {
                    path: so
                        .dev
                        .clone()
                        .ok_or_else(|| err(&so.name, format!("fileio '{}' has no dev", so.name)))?,
                    size: so.size,
                },
                "ramdisk" | "rd_mcp" => Storage::Ramdisk {
                    size: so.size.ok_or_else(|| {
                        err(&so.name, format!("ramdisk '{}' has no size", so.name))
                    })?,
                },
                "block" | "iblock" => Storage::Block {
                    path: so
                        .dev
                        .clone()
                        .ok_or_else(|| err(&so.name, format!("block '{}' has no dev", so.name)))?,
                },
                other => {
                    return Err(err(
                        &so.name,
                        format!(
                            "backstore plugin '{other}' is not supported (fileio, ramdisk, block)"
                        ),
                    ));
                }
            };
            config.backstores.push(Backstore {
                name: so.name.clone(),
                storage,
                block_size: so.attributes.block_size.unwrap_or(512),
                read_only: so.readonly.unwrap_or(false),
                // targetcli's fileio with write_back off is write-through.
                write_through: so.plugin == "fileio" && so.write_back == Some(false),
                direct: false,
            });
        }
        for t in saved.targets.iter() {
            if t.fabric != "iscsi" {
                return Err(err(
                    &t.wwn,
                    format!("fabric '{}' is not supported (iscsi)", t.fabric),
                ));
            }
            let mut groups = Vec::new();
            for tpg in t.tpgs.iter().filter(|g| g.enable.unwrap_or(true)) {
                let mut luns = BTreeMap::new();
                for lun in &tpg.luns {
                    // "/backstores/fileio/disk1" (or without the prefix).
                    let name = lun
                        .storage_object
                        .rsplit('/')
                        .next()
                        .unwrap_or_default()
                        .to_owned();
                    luns.insert(lun.index, name);
                }
                let mut portals = Vec::new();
                for p in &tpg.portals {
                    let ip: std::net::IpAddr =
                        p.ip_address.trim_matches(['[', ']']).parse().map_err(|_| {
                            err(
                                &p.ip_address,
                                format!("portal address '{}' is not an IP address", p.ip_address),
                            )
                        })?;
                    portals.push(SocketAddr::new(ip, p.port));
                }
                let attr = |key: &str| tpg.attributes.get(key).and_then(serde_json::Value::as_u64);
                let credentials =
                    |user: &Option<String>, secret: &Option<String>| match (user, secret) {
                        (Some(u), Some(s)) if !u.is_empty() && !s.is_empty() => Some(Credentials {
                            user: u.clone(),
                            secret: s.clone(),
                        }),
                        _ => None,
                    };
                let acls = tpg
                    .node_acls
                    .iter()
                    .map(|a| Acl {
                        initiator: a.node_wwn.clone(),
                        chap: credentials(&a.chap_userid, &a.chap_password),
                        mutual_chap: credentials(&a.chap_mutual_userid, &a.chap_mutual_password),
                        mapped_luns: a
                            .mapped_luns
                            .iter()
                            .map(|m| MappedLun {
                                lun: m.index,
                                tpg_lun: m.tpg_lun,
                                write_protect: m.write_protect.unwrap_or(false),
                            })
                            .collect(),
                    })
                    .collect();
                groups.push(PortalGroup {
                    tag: tpg.tag,
                    portals,
                    luns,
                    authentication: attr("authentication").unwrap_or(0) != 0,
                    generate_node_acls: attr("generate_node_acls").unwrap_or(0) != 0,
                    demo_mode_write_protect: attr("demo_mode_write_protect").unwrap_or(1) != 0,
                    chap: credentials(&tpg.chap_userid, &tpg.chap_password),
                    mutual_chap: credentials(&tpg.chap_mutual_userid, &tpg.chap_mutual_password),
                    acls,
                });
            }
            config.targets.push(Target {
                iqn: t.wwn.clone(),
                portal_groups: groups,
            });
        }
        config.discovery_chap = saved.discovery_auth.and_then(|d| {
            if d.enable.unwrap_or(false) {
                credentials_of(d.userid, d.password)
            } else {
                None
            }
        });
        config.validate(text, file)?;
        Ok(config)
    }
}

fn credentials_of(user: Option<String>, secret: Option<String>) -> Option<Credentials> {
    match (user, secret) {
        (Some(user), Some(secret)) if !user.is_empty() && !secret.is_empty() => {
            Some(Credentials { user, secret })
        }
        _ => None,
    }
}

/// The parts of targetcli's saveconfig.json that are read (unknown fields
/// are ignored, as targetcli's own restore does for attributes it lacks).
mod saved {
    use std::collections::HashMap;
    use std::path::PathBuf;

    use serde::Deserialize;

    #[derive(Deserialize)]
    pub struct SaveConfig {
        #[serde(default)]
        pub storage_objects: Vec<StorageObject>,
        #[serde(default)]
        pub targets: Vec<Target>,
        #[serde(default)]
        pub discovery_auth: Option<DiscoveryAuth>,
    }

    #[derive(Deserialize)]
    pub struct DiscoveryAuth {
        pub enable: Option<bool>,
        pub userid: Option<String>,
        pub password: Option<String>,
    }

    #[derive(Deserialize)]
    pub struct StorageObject {
        pub name: String,
        pub plugin: String,
        pub dev: Option<PathBuf>,
        pub size: Option<u64>,
        pub readonly: Option<bool>,
        pub write_back: Option<bool>,
        #[serde(default)]
        pub attributes: Attributes,
    }

    #[derive(Deserialize, Default)]
    pub struct Attributes {
        pub block_size: Option<u32>,
    }

    #[derive(Deserialize)]
    pub struct Target {
        pub fabric: String,
        pub wwn: String,
        #[serde(default)]
        pub tpgs: Vec<Tpg>,
    }

    #[derive(Deserialize)]
    pub struct Tpg {
        pub tag: u16,
        pub enable: Option<bool>,
        #[serde(default)]
        pub attributes: HashMap<String, serde_json::Value>,
        #[serde(default)]
        pub luns: Vec<Lun>,
        #[serde(default)]
        pub node_acls: Vec<NodeAcl>,
        #[serde(default)]
        pub portals: Vec<Portal>,
        pub chap_userid: Option<String>,
        pub chap_password: Option<String>,
        pub chap_mutual_userid: Option<String>,
        pub chap_mutual_password: Option<String>,
    }

    #[derive(Deserialize)]
    pub struct Lun {
        pub index: u64,
        pub storage_object: String,
    }

    #[derive(Deserialize)]
    pub struct NodeAcl {
        pub node_wwn: String,
        pub chap_userid: Option<String>,
        pub chap_password: Option<String>,
        pub chap_mutual_userid: Option<String>,
        pub chap_mutual_password: Option<String>,
        #[serde(default)]
        pub mapped_luns: Vec<MappedLun>,
    }

    #[derive(Deserialize)]
    pub struct MappedLun {
        pub index: u64,
        pub tpg_lun: u64,
        pub write_protect: Option<bool>,
    }

    #[derive(Deserialize)]
    pub struct Portal {
        pub ip_address: String,
        pub port: u16,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHAPTER: &str = include_str!("../../examples/lab/saveconfig.json");

    fn file() -> &'static Path {
        Path::new("saveconfig.json")
    }

    #[test]
    fn the_chapters_target_imports() {
        let c = Config::from_targetcli(CHAPTER, file()).unwrap();
        assert_eq!(c.backstores.len(), 1);
        assert_eq!(
            c.backstores[0].storage,
            Storage::Fileio {
                path: "/var/lib/iscsi/disk1.img".into(),
                size: Some(1 << 30)
            }
        );
        let g = &c.targets[0].portal_groups[0];
        assert_eq!(c.targets[0].iqn, "iqn.2025-09.com.example:storage");
        assert_eq!(g.portals, vec!["0.0.0.0:3260".parse().unwrap()]);
        assert_eq!(g.luns.get(&0).map(String::as_str), Some("disk1"));
        assert!(!g.authentication && g.generate_node_acls && !g.demo_mode_write_protect);
        assert!(!c.backstores[0].write_through, "write_back is on");
        let through = CHAPTER.replace("\"write_back\": true", "\"write_back\": false");
        assert!(Config::from_targetcli(&through, file()).unwrap().backstores[0].write_through);
        // The crate's own form round-trips.
        let own = serde_json::to_string_pretty(&c).unwrap();
        assert_eq!(Config::from_json(&own, file()).unwrap(), c);
    }

    #[test]
    fn acls_with_chap_and_mapped_luns_import() {
        let text = CHAPTER.replace(
            "\"node_acls\": []",
            r#""node_acls": [{"node_wwn": "iqn.2025-09.com.example:node1",
                "chap_userid": "node1", "chap_password": "secretsecret12",
                "chap_mutual_userid": "target", "chap_mutual_password": "targetsecret12",
                "mapped_luns": [{"index": 0, "tpg_lun": 0, "write_protect": true}]}]"#,
        );
        let c = Config::from_targetcli(&text, file()).unwrap();
        let acl = &c.targets[0].portal_groups[0].acls[0];
        assert_eq!(acl.chap.as_ref().map(|c| c.user.as_str()), Some("node1"));
        assert_eq!(
            acl.mutual_chap.as_ref().map(|c| c.user.as_str()),
            Some("target")
        );
        assert!(acl.mapped_luns[0].write_protect);
    }

    #[test]
    fn errors_name_the_line() {
        let cases = [
            (
                CHAPTER.replace("/backstores/fileio/disk1", "/backstores/fileio/disk9"),
                "unknown backstore 'disk9'",
            ),
            (CHAPTER.replace("\"fileio\"", "\"pscsi\""), "plugin 'pscsi'"),
            (CHAPTER.replace("0.0.0.0", "somewhere"), "not an IP address"),
            (
                CHAPTER.replace("\"port\": 3260", "\"port\": 99999"),
                "invalid value",
            ),
            (
                CHAPTER.replace("iqn.2025-09.com.example:storage", "storage"),
                "not an iSCSI name",
            ),
            (
                CHAPTER.replace("iqn.2025-09.com.example:storage", "iqn.2025-13.com.example"),
                "not an iSCSI name",
            ),
            (
                CHAPTER.replace(
                    "\"node_acls\": []",
                    r#""node_acls": [{"node_wwn": "iqn.2025-09.com.example:no de",
                        "mapped_luns": []}]"#,
                ),
                "ACL 'iqn.2025-09.com.example:no de' is not an iSCSI name",
            ),
            (
                CHAPTER.replace("\"block_size\": 512", "\"block_size\": 1000"),
                "block size 1000",
            ),
        ];
        for (text, message) in cases {
            let e = Config::from_targetcli(&text, file()).unwrap_err();
            assert!(e.message.contains(message), "{e}");
            assert!(e.line > 1, "{e}");
            assert!(e.to_string().starts_with("saveconfig.json:"), "{e}");
        }
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_text_never_panics(text in ".{0,400}", cut in 0usize..2000) {
            let _ = Config::from_targetcli(&text, file());
            let _ = Config::from_json(&text, file());
            let prefix = &CHAPTER[..cut.min(CHAPTER.len())];
            let _ = Config::from_targetcli(prefix, file());
        }
    }
}
