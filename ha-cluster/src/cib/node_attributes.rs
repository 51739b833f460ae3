//! Setting a node's permanent attributes, as `pcs node standby` and
//! `crm_attribute --node` do.
//!
//! The scheduler reads a node's `standby` and `maintenance` as any node
//! attribute: the transient one if the status section has it, else the
//! permanent one in the nodes section ([`Node::attributes`]). These set
//! the permanent one, as Pacemaker's tools do by default.

use super::model::{Cib, Node};
use crate::error::{Error, Result};

impl Cib {
    /// Puts `node` in standby (`pcs node standby NODE`, `crm node standby
    /// NODE`: the permanent attribute `standby=on`) or takes it out of it
    /// (`pcs node unstandby NODE`: the attribute removed). A node in
    /// standby runs nothing: scheduled again, what runs there moves or
    /// stops. An error if the CIB lists no such node.
    pub fn set_standby(&mut self, node: &str, standby: bool) -> Result<()> {
        self.set_permanent(node, "standby", standby)
    }

    /// Puts `node` in maintenance (`pcs node maintenance NODE`: the
    /// permanent attribute `maintenance=on`) or takes it out of it (`pcs
    /// node unmaintenance NODE`: the attribute removed). The cluster
    /// leaves what runs there alone (no monitors, no stops) and starts
    /// nothing new there. An error if the CIB lists no such node.
    pub fn set_maintenance(&mut self, node: &str, maintenance: bool) -> Result<()> {
        self.set_permanent(node, "maintenance", maintenance)
    }

    fn set_permanent(&mut self, node: &str, name: &str, on: bool) -> Result<()> {
        let Node { attributes, .. } =
            self.nodes
                .iter_mut()
                .find(|n| n.name == node)
                .ok_or_else(|| Error::UnknownNode {
                    node: node.to_owned(),
                })?;
        if on {
            attributes.insert(name.to_owned(), "on".to_owned());
        } else {
            attributes.remove(name);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::fixture::{CHAPTER, chapter_xml};
    use crate::{Change, Cib, Error, schedule, simulate};

    #[test]
    fn standby_moves_what_runs_there_and_unstandby_lets_it_back() {
        let cib = Cib::from_xml(&chapter_xml(CHAPTER, "")).unwrap();
        let mut cib = simulate::apply(&cib, &schedule(&cib).unwrap());
        cib.set_standby("node1", true).unwrap();
        assert_eq!(cib.nodes[0].attributes["standby"], "on");
        let t = schedule(&cib).unwrap();
        for rsc in ["vip", "haproxy"] {
            assert!(
                t.changes.iter().any(|c| matches!(c,
                    Change::Move { rsc: r, from, to, .. }
                        if r == rsc && from == "node1" && to == "node2")),
                "{rsc} moves: {t}"
            );
        }
        let cib = simulate::apply(&cib, &t);
        let mut back = cib.clone();
        back.set_standby("node1", false).unwrap();
        assert!(!back.nodes[0].attributes.contains_key("standby"));
        // Nothing moves back: node2 runs them as well as node1 would.
        assert!(schedule(&back).unwrap().changes.is_empty());
    }

    #[test]
    fn maintenance_leaves_what_runs_there_alone() {
        let cib = Cib::from_xml(&chapter_xml(CHAPTER, "")).unwrap();
        let mut cib = simulate::apply(&cib, &schedule(&cib).unwrap());
        cib.set_maintenance("node1", true).unwrap();
        assert_eq!(cib.nodes[0].attributes["maintenance"], "on");
        cib.set_standby("node1", true).unwrap();
        // In standby too, yet nothing is stopped there.
        let t = schedule(&cib).unwrap();
        assert!(
            !t.changes
                .iter()
                .any(|c| matches!(c, Change::Move { .. } | Change::Stop { .. })),
            "{t}"
        );
        cib.set_maintenance("node1", false).unwrap();
        assert!(!cib.nodes[0].attributes.contains_key("maintenance"));
    }

    #[test]
    fn an_unknown_node_is_an_error_naming_it() {
        let mut cib = Cib::from_xml(&chapter_xml(CHAPTER, "")).unwrap();
        let before = cib.clone();
        let err = cib.set_standby("node9", true).unwrap_err();
        assert!(matches!(&err, Error::UnknownNode { node } if node == "node9"));
        assert_eq!(err.to_string(), "no node named 'node9'");
        assert!(cib.set_maintenance("node9", true).is_err());
        assert_eq!(cib, before);
    }
}
