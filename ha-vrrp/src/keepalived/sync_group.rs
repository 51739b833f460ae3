//! `vrrp_sync_group`: instances that change state together.

use super::parser::{Parser, Reference};
use super::tree::Node;
use crate::config::SyncGroup;
use crate::error::Result;

impl Parser {
    /// A `vrrp_sync_group NAME { group { ... } ... }` section; its members'
    /// names go to `member_refs`, checked once all instances are read.
    pub(super) fn sync_group(
        &mut self,
        node: &Node,
        member_refs: &mut Vec<Reference>,
    ) -> Result<SyncGroup> {
        let (name, items) = self.section_name(node)?;
        let mut out = SyncGroup {
            name: name.to_string(),
            members: Vec::new(),
            notify_master: None,
            notify_backup: None,
            notify_fault: None,
            location: self.loc(node.head()),
        };
        for item in items {
            match item.key() {
                "group" => {
                    self.flag_args_only(item);
                    for line in self.block(item)? {
                        self.no_block(line);
                        for word in &line.words {
                            member_refs.push(Reference {
                                name: word.text.clone(),
                                location: self.loc(word),
                            });
                            out.members.push(word.text.clone());
                        }
                    }
                }
                "notify_master" => out.notify_master = Some(self.command(item)?),
                "notify_backup" => out.notify_backup = Some(self.command(item)?),
                "notify_fault" => out.notify_fault = Some(self.command(item)?),
                _ => self.unknown(item, "vrrp_sync_group"),
            }
        }
        Ok(out)
    }
}
