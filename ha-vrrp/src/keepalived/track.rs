//! What instances track: scripts, files and interfaces.
//!
//! `vrrp_script` and `vrrp_track_file` sections, and the `track_interface`
//! / `track_script` / `track_file` blocks naming them.

use std::path::PathBuf;
use std::time::Duration;

use super::parser::{Parser, Reference};
use super::tree::Node;
use crate::config::{InitFile, Tracked, VrrpScript, VrrpTrackFile};
use crate::error::Result;

impl Parser {
    /// A `vrrp_script NAME { ... }` section.
    pub(super) fn script(&mut self, node: &Node) -> Result<VrrpScript> {
        let (name, items) = self.section_name(node)?;
        let mut script = None;
        let mut out = VrrpScript {
            name: name.to_string(),
            script: String::new(),
            interval: Duration::from_secs(1),
            timeout: None,
            weight: 0,
            rise: 1,
            fall: 1,
            location: self.loc(node.head()),
        };
        for item in items {
            match item.key() {
                "script" => script = Some(self.command(item)?),
                "interval" => out.interval = self.nonzero_duration(item)?,
                "timeout" => out.timeout = Some(self.nonzero_duration(item)?),
                "weight" => out.weight = self.weight_arg(item, 253)?,
                "rise" => out.rise = self.u32_arg(item, 1)?,
                "fall" => out.fall = self.u32_arg(item, 1)?,
                _ => self.unknown(item, "vrrp_script"),
            }
        }
        let Some(script) = script else {
            return Err(self.error(
                node.head(),
                format!("vrrp_script `{name}` has no `script` line"),
            ));
        };
        out.script = script;
        Ok(out)
    }

    /// A `vrrp_track_file NAME { ... }` section.
    pub(super) fn track_file(&mut self, node: &Node) -> Result<VrrpTrackFile> {
        let (name, items) = self.section_name(node)?;
        let mut file = None;
        let mut out = VrrpTrackFile {
            name: name.to_string(),
            file: PathBuf::new(),
            weight: 1,
            init: None,
            location: self.loc(node.head()),
        };
        for item in items {
            match item.key() {
                "file" => file = Some(PathBuf::from(&self.one_arg(item, "a path")?.text)),
                "weight" => out.weight = self.weight_arg(item, 254)?,
                "init_file" => out.init = Some(self.init_file(item)?),
                _ => self.unknown(item, "vrrp_track_file"),
            }
        }
        let Some(file) = file else {
            return Err(self.error(
                node.head(),
                format!("vrrp_track_file `{name}` has no `file` line"),
            ));
        };
        out.file = file;
        Ok(out)
    }

    /// `init_file [VALUE] [overwrite]`.
    fn init_file(&mut self, node: &Node) -> Result<InitFile> {
        self.no_block(node);
        let mut init = InitFile {
            value: 0,
            overwrite: false,
        };
        for token in node.args() {
            if token.text == "overwrite" {
                init.overwrite = true;
            } else {
                init.value = self.integer("init_file", token, i64::MIN, i64::MAX)?;
            }
        }
        Ok(init)
    }

    /// A `track_*` block: `NAME [weight N]` per line; the names go to `refs`
    /// when they must name a section.
    pub(super) fn tracked(
        &mut self,
        node: &Node,
        mut refs: Option<&mut Vec<Reference>>,
    ) -> Result<Vec<Tracked>> {
        self.flag_args_only(node);
        let mut out = Vec::new();
        for line in self.block(node)? {
            self.no_block(line);
            let name = line.head().text.clone();
            let weight = match line.args() {
                [] => None,
                [w, n, rest @ ..] if w.text == "weight" => {
                    if !rest.is_empty() {
                        self.warn(w, "extra words after `weight N` ignored");
                    }
                    Some(i32::try_from(self.integer("weight", n, -253, 253)?).unwrap_or(0))
                }
                [w, ..] => {
                    return Err(self.error(
                        w,
                        format!(
                            "`{}` lines expect NAME [weight N], got `{}`",
                            node.key(),
                            w.text
                        ),
                    ));
                }
            };
            if let Some(refs) = refs.as_deref_mut() {
                refs.push(Reference {
                    name: name.clone(),
                    location: self.loc(line.head()),
                });
            }
            out.push(Tracked { name, weight });
        }
        Ok(out)
    }
}
