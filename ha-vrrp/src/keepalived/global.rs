//! `global_defs`: the process-wide settings.

use super::parser::Parser;
use super::tree::Node;
use crate::config::GlobalDefs;
use crate::error::Result;

impl Parser {
    /// Reads a `global_defs` block into `global` (a later block adds to an
    /// earlier one, as in keepalived).
    pub(super) fn global(&mut self, node: &Node, global: &mut GlobalDefs) -> Result<()> {
        self.flag_args_only(node);
        for item in self.block(node)? {
            match item.key() {
                "router_id" => global.router_id = Some(self.one_arg(item, "a name")?.text.clone()),
                "vrrp_version" => global.vrrp_version = Some(self.version_arg(item)?),
                "enable_script_security" => {
                    self.flag(item);
                    global.enable_script_security = true;
                }
                "script_user" => {
                    // `script_user USER [GROUP]`: the group is not modelled.
                    self.no_block(item);
                    let Some(user) = item.args().first() else {
                        return Err(self.error(item.head(), "`script_user` expects a user name"));
                    };
                    if item.args().len() > 1 {
                        self.warn(
                            item.head(),
                            "`script_user` group ignored (the user's group is used)",
                        );
                    }
                    global.script_user = Some(user.text.clone());
                }
                _ => self.unknown(item, "global_defs"),
            }
        }
        Ok(())
    }
}
