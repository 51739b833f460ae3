//! Building a [`Cib`] in code.
//!
//! For services that embed the cluster rather than load Pacemaker XML. The
//! chapter's four `pcs` lines:
//!
//! ```
//! use ha_cluster::{Cib, Primitive, Score, summary};
//!
//! let cib = Cib::builder()
//!     .option("stonith-enabled", "false")
//!     .online_node("node1")
//!     .online_node("node2")
//!     // pcs resource create vip ocf:heartbeat:IPaddr2 ip=... cidr_netmask=24 op monitor interval=30s
//!     .primitive(
//!         Primitive::new("vip", "ocf:heartbeat:IPaddr2")?
//!             .param("ip", "192.168.122.100")
//!             .param("cidr_netmask", "24")
//!             .op("monitor", "30s")?,
//!     )
//!     // pcs resource create haproxy systemd:haproxy op monitor interval=30s
//!     .primitive(Primitive::new("haproxy", "systemd:haproxy")?.op("monitor", "30s")?)
//!     // pcs constraint colocation add haproxy with vip INFINITY
//!     .colocation("haproxy", "vip", Score::INFINITY)
//!     // pcs constraint order vip then haproxy
//!     .order("vip", "haproxy")
//!     .build()?;
//!
//! let transition = ha_cluster::schedule(&cib).unwrap();
//! assert_eq!(
//!     summary::lines(&transition),
//!     [
//!         "  * Start      vip         ( node1 )",
//!         "  * Start      haproxy     ( node1 )",
//!     ]
//! );
//! # Ok::<(), ha_cluster::Error>(())
//! ```

use std::collections::{BTreeMap, BTreeSet};

use crate::cib::{
    Cib, ClusterOptions, Constraint, Node, NodeStatus, OperationConfig, Primitive, Resource,
    pacemaker_ms,
};
use crate::error::{Error, Result};
use crate::score::Score;

fn invalid(id: &str, message: String) -> Error {
    Error::Element {
        location: Default::default(),
        element: "primitive".into(),
        id: id.to_owned(),
        message,
    }
}

impl Primitive {
    /// A primitive running `agent` (`class:provider:type` or
    /// `class:type`, as `pcs resource create` takes it).
    pub fn new(id: &str, agent: &str) -> Result<Self> {
        let parts: Vec<&str> = agent.split(':').collect();
        let class = parts[0];
        let well_formed = match class {
            "ocf" => parts.len() == 3,
            "lsb" | "systemd" | "service" | "stonith" | "heartbeat" | "upstart" | "nagios" => {
                parts.len() == 2
            }
            _ => false,
        };
        if id.is_empty() || !well_formed || parts.iter().any(|p| p.is_empty()) {
            return Err(invalid(id, format!("bad resource agent '{agent}'")));
        }
        Ok(Self {
            id: id.to_owned(),
            agent: agent.to_owned(),
            params: BTreeMap::new(),
            meta: BTreeMap::new(),
            operations: Vec::new(),
            on_fail: BTreeMap::new(),
            utilization: BTreeMap::new(),
        })
    }

    /// Sets an agent parameter (`ip=192.168.122.100`).
    pub fn param(mut self, name: &str, value: &str) -> Self {
        self.params.insert(name.to_owned(), value.to_owned());
        self
    }

    /// Sets a meta attribute (`resource-stickiness`, `migration-threshold`...).
    pub fn meta(mut self, name: &str, value: &str) -> Self {
        self.meta.insert(name.to_owned(), value.to_owned());
        self
    }

    /// Adds an operation (`op monitor interval=30s`).
    pub fn op(mut self, name: &str, interval: &str) -> Result<Self> {
        let interval_ms = pacemaker_ms(interval)
            .ok_or_else(|| invalid(&self.id, format!("bad interval '{interval}'")))?;
        self.operations.push(OperationConfig {
            name: name.to_owned(),
            interval_ms,
            role: None,
            on_fail: None,
        });
        Ok(self)
    }
}

/// Builds a [`Cib`]; [`build`](Self::build) checks it as the XML import
/// does.
#[derive(Debug, Clone, Default)]
pub struct CibBuilder {
    options: BTreeMap<String, String>,
    nodes: Vec<String>,
    online: Vec<String>,
    attributes: Vec<(String, String, String)>,
    resources: Vec<Resource>,
    constraints: Vec<Constraint>,
}

impl Cib {
    /// A builder for a CIB in code.
    pub fn builder() -> CibBuilder {
        CibBuilder::default()
    }
}

impl CibBuilder {
    /// Sets a cluster option (`stonith-enabled`, `no-quorum-policy`...).
    pub fn option(mut self, name: &str, value: &str) -> Self {
        self.options.insert(name.to_owned(), value.to_owned());
        self
    }

    /// Adds a node the cluster has not seen: configured (in the nodes
    /// section) but with no state in the status section, as a node that
    /// has not joined since the cluster started. It runs nothing; with
    /// fencing enabled (`stonith-enabled`, the default) the scheduler
    /// fences it first (Pacemaker's `startup-fencing`). It counts towards
    /// quorum: more than half the nodes must be online.
    pub fn node(mut self, name: &str) -> Self {
        self.nodes.push(name.to_owned());
        self
    }

    /// Adds a node that is up and a full member now (crm_mon's `Online`):
    /// it may run resources.
    pub fn online_node(mut self, name: &str) -> Self {
        self.nodes.push(name.to_owned());
        self.online.push(name.to_owned());
        self
    }

    /// Adds an online node in standby (`pcs node standby NODE`: the
    /// permanent attribute `standby=on`): it runs nothing. On a built
    /// [`Cib`], [`Cib::set_standby`] puts a node in standby or takes it
    /// out.
    pub fn standby_node(self, name: &str) -> Self {
        self.online_node(name).node_attribute(name, "standby", "on")
    }

    /// Sets a permanent node attribute, as `crm_attribute --node NODE
    /// --name NAME --update VALUE` and `pcs node attribute NODE
    /// NAME=VALUE` do (rules and `#health-*` read them, as do `standby`
    /// and `maintenance`). The node is added with [`node`](Self::node),
    /// [`online_node`](Self::online_node) or
    /// [`standby_node`](Self::standby_node), before or after; naming
    /// none is an error of [`build`](Self::build).
    pub fn node_attribute(mut self, node: &str, name: &str, value: &str) -> Self {
        self.attributes
            .push((node.to_owned(), name.to_owned(), value.to_owned()));
        self
    }

    /// Adds a primitive.
    pub fn primitive(mut self, p: Primitive) -> Self {
        self.resources.push(Resource::Primitive(p));
        self
    }

    /// Adds any resource (a group, a clone).
    pub fn resource(mut self, r: Resource) -> Self {
        self.resources.push(r);
        self
    }

    /// `pcs constraint location RSC prefers NODE=SCORE`.
    pub fn location(mut self, rsc: &str, node: &str, score: Score) -> Self {
        let id = format!("location-{rsc}-{node}");
        self.constraints.push(Constraint::Location {
            id,
            rsc: rsc.to_owned(),
            node: Some(node.to_owned()),
            score,
            rule: None,
            role: None,
            exclusive: false,
        });
        self
    }

    /// `pcs constraint colocation add RSC with WITH SCORE`.
    pub fn colocation(mut self, rsc: &str, with: &str, score: Score) -> Self {
        self.constraints.push(Constraint::Colocation {
            id: format!("colocation-{rsc}-{with}"),
            rsc: rsc.to_owned(),
            with: with.to_owned(),
            score,
            rsc_role: None,
            with_role: None,
            node_attribute: None,
        });
        self
    }

    /// `pcs constraint order FIRST then THEN` (mandatory, symmetrical).
    pub fn order(mut self, first: &str, then: &str) -> Self {
        self.constraints.push(Constraint::Order {
            id: format!("order-{first}-{then}"),
            first: first.to_owned(),
            then: then.to_owned(),
            mandatory: true,
            symmetrical: true,
            first_action: "start".into(),
            then_action: "start".into(),
            require_all: true,
        });
        self
    }

    /// The CIB, with its options read as Pacemaker reads them; an option
    /// with a bad value, a duplicate id, a constraint naming an unknown
    /// resource or an attribute of an unknown node is an error naming it.
    pub fn build(self) -> Result<Cib> {
        if let Some((node, ..)) = self
            .attributes
            .iter()
            .find(|(n, ..)| !self.nodes.contains(n))
        {
            return Err(Error::UnknownNode { node: node.clone() });
        }
        // Quorum: more than half the nodes are up.
        let quorate = self.online.len() * 2 > self.nodes.len();
        let options = ClusterOptions::from_pairs(&self.options, quorate)?;
        let mut ids = BTreeSet::new();
        for r in &self.resources {
            let mut all = vec![r.id().to_owned()];
            match r {
                Resource::Group { members, .. } => all.extend(members.iter().map(|m| m.id.clone())),
                Resource::Clone { child, .. } => all.push(child.id().to_owned()),
                _ => {}
            }
            for id in all {
                if !ids.insert(id.clone()) {
                    return Err(Error::DuplicateId { id });
                }
            }
        }
        for c in &self.constraints {
            let (id, refs) = match c {
                Constraint::Location { id, rsc, .. } | Constraint::Ticket { id, rsc, .. } => {
                    (id, vec![rsc])
                }
                Constraint::Colocation { id, rsc, with, .. } => (id, vec![rsc, with]),
                Constraint::Order {
                    id, first, then, ..
                } => (id, vec![first, then]),
            };
            if let Some(r) = refs.iter().find(|r| !ids.contains(r.as_str())) {
                return Err(Error::UnknownResource {
                    location: Default::default(),
                    element: "constraint".into(),
                    id: id.clone(),
                    resource: (*r).clone(),
                });
            }
        }
        let status = self
            .online
            .iter()
            .enumerate()
            .map(|(position, name)| {
                (
                    name.clone(),
                    NodeStatus {
                        in_membership: Some(true),
                        controller: true,
                        join: Some("member".into()),
                        expected: Some("member".into()),
                        attributes: BTreeMap::new(),
                        history: Vec::new(),
                        position,
                        remote: false,
                        agents: BTreeMap::new(),
                    },
                )
            })
            .collect();
        Ok(Cib {
            options,
            nodes: self
                .nodes
                .iter()
                .map(|name| Node {
                    id: name.clone(),
                    name: name.clone(),
                    attributes: self
                        .attributes
                        .iter()
                        .filter(|(n, ..)| n == name)
                        .map(|(_, k, v)| (k.clone(), v.clone()))
                        .collect(),
                    utilization: BTreeMap::new(),
                    remote: false,
                })
                .collect(),
            resources: self.resources,
            constraints: self.constraints,
            status,
            tickets: BTreeMap::new(),
            now: None,
            execution_date: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_agents_intervals_and_references_are_refused() {
        assert!(Primitive::new("x", "ocf:IPaddr2").is_err());
        assert!(Primitive::new("x", "bogus:thing").is_err());
        assert!(
            Primitive::new("x", "systemd:nginx")
                .unwrap()
                .op("monitor", "soon")
                .is_err()
        );
        let e = Cib::builder()
            .primitive(Primitive::new("vip", "ocf:heartbeat:IPaddr2").unwrap())
            .order("vip", "nosuch")
            .build()
            .unwrap_err();
        assert!(e.to_string().contains("nosuch"), "{e}");
        let e = Cib::builder()
            .option("no-quorum-policy", "panic")
            .build()
            .unwrap_err();
        assert!(e.to_string().contains("no-quorum-policy"), "{e}");
        let e = Cib::builder()
            .online_node("node1")
            .node_attribute("node2", "rack", "a")
            .build()
            .unwrap_err();
        assert!(
            matches!(&e, Error::UnknownNode { node } if node == "node2"),
            "{e}"
        );
    }

    #[test]
    fn standby_nodes_and_node_attributes_are_permanent_attributes() {
        let cib = Cib::builder()
            .option("stonith-enabled", "false")
            .node_attribute("node1", "rack", "a")
            .online_node("node1")
            .standby_node("node2")
            .node_attribute("node2", "rack", "b")
            .build()
            .unwrap();
        assert_eq!(
            cib.nodes[0].attributes,
            BTreeMap::from([("rack".to_owned(), "a".to_owned())])
        );
        assert_eq!(
            cib.nodes[1].attributes,
            BTreeMap::from([
                ("rack".to_owned(), "b".to_owned()),
                ("standby".to_owned(), "on".to_owned())
            ])
        );
        assert!(cib.status.contains_key("node2"), "online");
        assert!(cib.status["node2"].attributes.is_empty(), "not transient");
    }

    #[test]
    fn a_standby_node_takes_nothing() {
        let cib = Cib::builder()
            .option("stonith-enabled", "false")
            .standby_node("node1")
            .online_node("node2")
            .primitive(Primitive::new("vip", "ocf:heartbeat:IPaddr2").unwrap())
            .build()
            .unwrap();
        let t = crate::schedule(&cib).unwrap();
        assert_eq!(
            crate::summary::lines(&t),
            ["  * Start      vip     ( node2 )"]
        );
    }
}
