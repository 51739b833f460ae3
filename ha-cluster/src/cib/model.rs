//! The CIB's types.
//!
//! Cluster options, nodes, resources, constraints and what the status
//! section records.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::values::truthy;
use crate::error::{Error, Result};
use crate::rule::Rule;
use crate::score::Score;

/// What happens without quorum (`no-quorum-policy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum NoQuorumPolicy {
    /// Stop every resource (the default).
    Stop,
    /// Keep running what runs; start nothing.
    Freeze,
    /// Carry on.
    Ignore,
    /// Demote promoted instances.
    Demote,
    /// Fence every node.
    Suicide,
}

/// Cluster-wide options (`crm_config`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterOptions {
    /// `symmetric-cluster`: resources may run anywhere unless told not to.
    pub symmetric: bool,
    /// `stonith-enabled`.
    pub stonith_enabled: bool,
    /// `no-quorum-policy`.
    pub no_quorum_policy: NoQuorumPolicy,
    /// The CIB's `have-quorum`.
    pub have_quorum: bool,
    /// `start-failure-is-fatal`: applied where failures are recorded (a
    /// failed start's fail count becomes INFINITY); the scheduler reads
    /// fail counts.
    pub start_failure_is_fatal: bool,
    /// `maintenance-mode`.
    pub maintenance_mode: bool,
    /// `stop-all-resources`.
    pub stop_all_resources: bool,
    /// `stop-orphan-resources`: stop resources no longer configured.
    pub stop_orphan_resources: bool,
    /// `placement-strategy`: default, utilization, balanced, minimal.
    pub placement_strategy: String,
    /// `cluster-name` (rules see it as `#cluster-name`).
    pub cluster_name: Option<String>,
    /// The DC's node id (the CIB's `dc-uuid`; rules see `#is_dc`).
    pub dc: Option<String>,
    /// The node health options (`node-health-strategy`,
    /// `node-health-red`...), as given.
    #[serde(default)]
    pub health: BTreeMap<String, String>,
}

impl ClusterOptions {
    /// Reads `crm_config` name/value pairs, with Pacemaker's defaults; a
    /// value Pacemaker would not take is [`Error::InvalidOption`].
    pub fn from_pairs(pairs: &BTreeMap<String, String>, have_quorum: bool) -> Result<Self> {
        let get = |k: &str| pairs.get(k).map(String::as_str);
        let invalid = |name: &str, value: &str, expected: &'static str| Error::InvalidOption {
            name: name.to_owned(),
            value: value.to_owned(),
            expected,
        };
        let no_quorum_policy = match get("no-quorum-policy") {
            None | Some("stop") => NoQuorumPolicy::Stop,
            Some("freeze") => NoQuorumPolicy::Freeze,
            Some("ignore") => NoQuorumPolicy::Ignore,
            Some("demote") => NoQuorumPolicy::Demote,
            Some("suicide" | "fence") => NoQuorumPolicy::Suicide,
            Some(other) => {
                return Err(invalid(
                    "no-quorum-policy",
                    other,
                    "stop, freeze, ignore, demote, suicide",
                ));
            }
        };
        let placement_strategy = get("placement-strategy").unwrap_or("default");
        if !matches!(
            placement_strategy,
            "default" | "utilization" | "balanced" | "minimal"
        ) {
            return Err(invalid(
                "placement-strategy",
                placement_strategy,
                "default, utilization, balanced, minimal",
            ));
        }
        Ok(Self {
            symmetric: truthy(get("symmetric-cluster"), true),
            stonith_enabled: truthy(get("stonith-enabled"), true),
            no_quorum_policy,
            have_quorum,
            start_failure_is_fatal: truthy(get("start-failure-is-fatal"), true),
            maintenance_mode: truthy(get("maintenance-mode"), false),
            stop_all_resources: truthy(get("stop-all-resources"), false),
            stop_orphan_resources: truthy(get("stop-orphan-resources"), true),
            placement_strategy: placement_strategy.to_owned(),
            cluster_name: get("cluster-name").map(str::to_owned),
            dc: None,
            health: pairs
                .iter()
                .filter(|(k, _)| k.starts_with("node-health-"))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        })
    }
}

/// A cluster node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Node {
    /// Its id.
    pub id: String,
    /// Its name (`uname`).
    pub name: String,
    /// Permanent attributes (the `nodes` section's `instance_attributes`):
    /// kept until removed, across restarts, as `crm_attribute --node N
    /// --name X --update V` (lifetime `forever`) and `pcs node attribute`
    /// set them; `standby` and `maintenance` are among them (see
    /// [`Cib::set_standby`]). A transient attribute of the same name
    /// ([`NodeStatus::attributes`]) takes precedence.
    pub attributes: BTreeMap<String, String>,
    /// Capacities (`utilization`), by name.
    pub utilization: BTreeMap<String, i64>,
    /// A Pacemaker Remote node (`type="remote"`).
    #[serde(default)]
    pub remote: bool,
}

/// A primitive resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Primitive {
    /// Its id.
    pub id: String,
    /// `class:provider:type` as crm_simulate prints it.
    pub agent: String,
    /// The agent's parameters (`instance_attributes`).
    pub params: BTreeMap<String, String>,
    /// Meta attributes (resource defaults merged in).
    pub meta: BTreeMap<String, String>,
    /// Its configured operations (monitors with their intervals...).
    pub operations: Vec<OperationConfig>,
    /// `on-fail` of its operations, by operation name.
    pub on_fail: BTreeMap<String, String>,
    /// What it needs (`utilization`), by name.
    pub utilization: BTreeMap<String, i64>,
}

/// A configured operation (`op monitor interval=30s`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperationConfig {
    /// `monitor`, `start`, `stop`...
    pub name: String,
    /// Its interval in milliseconds (0: not recurring).
    pub interval_ms: u64,
    /// Only in this role (a promotable clone's monitors).
    pub role: Option<Role>,
    /// `on-fail`, if set.
    pub on_fail: Option<String>,
}

/// A resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Resource {
    /// One service.
    Primitive(Primitive),
    /// Members started in order, on one node.
    Group {
        /// Its id.
        id: String,
        /// The members.
        members: Vec<Primitive>,
        /// The group's own meta attributes (with those it inherits);
        /// its members inherit them.
        #[serde(default)]
        meta: BTreeMap<String, String>,
    },
    /// Copies on several nodes (and `promotable`: with roles).
    Clone {
        /// Its id.
        id: String,
        /// What is cloned.
        child: Box<Resource>,
        /// Promotable.
        promotable: bool,
        /// The clone's own meta attributes (`clone-max`, `interleave`...);
        /// its child inherits them.
        meta: BTreeMap<String, String>,
    },
    /// A bundle (containers): read, not scheduled yet.
    Bundle {
        /// Its id.
        id: String,
    },
}

impl Resource {
    /// Its id.
    pub fn id(&self) -> &str {
        match self {
            Self::Primitive(p) => &p.id,
            Self::Group { id, .. } | Self::Clone { id, .. } | Self::Bundle { id } => id,
        }
    }

    /// Its primitives, in configuration order (a group's members, a
    /// clone's child).
    pub fn primitives(&self) -> Vec<&Primitive> {
        match self {
            Self::Primitive(p) => vec![p],
            Self::Group { members, .. } => members.iter().collect(),
            Self::Clone { child, .. } => child.primitives(),
            Self::Bundle { .. } => Vec::new(),
        }
    }
}

/// The resource a clone instance's id names (`rsc:2` is `rsc`); other ids
/// as they are.
pub fn base_id(id: &str) -> &str {
    match id.rsplit_once(':') {
        Some((base, n)) if n.parse::<u32>().is_ok() => base,
        _ => id,
    }
}

/// A resource's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Role {
    /// Not running.
    Stopped,
    /// Running (a resource without roles).
    Started,
    /// Running, not promoted (a promotable clone's instance).
    Unpromoted,
    /// Promoted.
    Promoted,
}

impl Role {
    /// Reads a role name (the old `Master`/`Slave` too).
    pub fn parse(text: &str) -> Option<Self> {
        // Pacemaker takes any case (`target-role=stopped`).
        Some(match text.to_ascii_lowercase().as_str() {
            "stopped" => Self::Stopped,
            "started" => Self::Started,
            "unpromoted" | "slave" => Self::Unpromoted,
            "promoted" | "master" => Self::Promoted,
            _ => return None,
        })
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Stopped => "Stopped",
            Self::Started => "Started",
            Self::Unpromoted => "Unpromoted",
            Self::Promoted => "Promoted",
        })
    }
}

/// A constraint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Constraint {
    /// A resource's preference for nodes.
    Location {
        /// Its id.
        id: String,
        /// The resource.
        rsc: String,
        /// A node and its score, or a rule.
        node: Option<String>,
        /// The score (for a node or a rule).
        score: Score,
        /// A rule (a location with several rules is one constraint per
        /// rule, each with its score).
        rule: Option<Rule>,
        /// Only for this role (a promotable clone's `Promoted`).
        role: Option<Role>,
        /// `resource-discovery="exclusive"`: the resource runs only where
        /// such a constraint of its covers the node.
        #[serde(default)]
        exclusive: bool,
    },
    /// `rsc` placed relative to `with`.
    Colocation {
        /// Its id.
        id: String,
        /// The dependent.
        rsc: String,
        /// The primary.
        with: String,
        /// Score (±INFINITY: mandatory).
        score: Score,
        /// The dependent's role it applies to (`rsc-role`).
        rsc_role: Option<Role>,
        /// The primary's role it applies to (`with-rsc-role`).
        with_role: Option<Role>,
        /// Together means on nodes with the same value of this node
        /// attribute (`node-attribute`; None: the same node).
        #[serde(default)]
        node_attribute: Option<String>,
    },
    /// `first` before `then`.
    Order {
        /// Its id.
        id: String,
        /// First resource.
        first: String,
        /// Then resource.
        then: String,
        /// Mandatory (score > 0 or kind Mandatory) vs optional.
        mandatory: bool,
        /// Stopping goes in reverse too.
        symmetrical: bool,
        /// The first's action (`start`, `promote`, `demote`, `stop`).
        first_action: String,
        /// The then's action.
        then_action: String,
        /// False: `then` needs only one of the firsts ordered before it
        /// under this id (a set with `require-all=false`).
        require_all: bool,
    },
    /// `rsc` may run only while `ticket` is granted (`rsc_ticket`).
    Ticket {
        /// Its id.
        id: String,
        /// The resource.
        rsc: String,
        /// The ticket.
        ticket: String,
        /// What losing the ticket does to a running resource.
        loss_policy: LossPolicy,
        /// Only the promoted role needs the ticket.
        promoted_only: bool,
    },
}

/// What losing a ticket does (`loss-policy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LossPolicy {
    /// Stop the resource (the default).
    Stop,
    /// Demote a promoted resource (others stop).
    Demote,
    /// Fence the nodes it runs on.
    Fence,
    /// Leave it as it is.
    Freeze,
}

/// A ticket's state (`ticket_state`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ticket {
    /// Granted to this site.
    pub granted: bool,
    /// In standby: resources needing it stop.
    pub standby: bool,
}

impl Ticket {
    /// Whether what depends on this ticket may run (granted, not standby).
    pub fn allows(self) -> bool {
        self.granted && !self.standby
    }
}

/// One operation in a resource's history on a node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Operation {
    /// `start`, `stop`, `monitor`, `promote`...
    pub name: String,
    /// Recurring interval (ms); 0 for one-shot (a probe is a monitor of 0).
    pub interval: u64,
    /// Its call id (the order it ran in).
    pub call_id: i64,
    /// The agent's return code.
    pub rc: i32,
    /// Execution status (0 done, -1 pending, others errors).
    pub status: i32,
    /// When its result last changed (`last-rc-change`, seconds since the
    /// epoch): failures expire `failure-timeout` after it.
    pub changed: Option<i64>,
    /// The return code the cluster expected (from `transition-key`), when
    /// recorded: a monitor for the Stopped role expects 7.
    pub expected_rc: Option<i32>,
    /// The digests of the parameters it ran with, when recorded.
    pub digests: Option<Digests>,
    /// A migration's target node (`migrate_target`).
    #[serde(default)]
    pub migrate_target: Option<String>,
}

/// What an operation recorded of the parameters it ran with: digests of
/// all of them, of those whose change needs a restart (the rest can be
/// reloaded), and of all but the private ones.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Digests {
    /// Of every parameter (`op-digest`).
    pub all: String,
    /// The parameters a change of which needs a restart
    /// (`op-force-restart`), and their digest (`op-restart-digest`).
    pub restart: Option<(Vec<String>, String)>,
    /// The private parameters (`op-secure-params`), and the digest of the
    /// others (`op-secure-digest`).
    pub secure: Option<(Vec<String>, String)>,
}

/// A node's state in the status section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeStatus {
    /// `in_ccm`: in the membership (None: never seen by it).
    pub in_membership: Option<bool>,
    /// `crmd`: its controller runs.
    pub controller: bool,
    /// `join`: member, pending, down, nack.
    pub join: Option<String>,
    /// `expected`: member or down.
    pub expected: Option<String>,
    /// Transient attributes (the status section's
    /// `transient_attributes`: fail counts, `shutdown`, what `attrd_updater`
    /// and `crm_attribute --lifetime reboot` set): gone when the node
    /// leaves the cluster or is fenced. They take precedence over the
    /// permanent [`Node::attributes`] of the same name.
    pub attributes: BTreeMap<String, String>,
    /// Resource histories (resource id, operations) in the CIB's order.
    pub history: Vec<(String, Vec<Operation>)>,
    /// Its place in the status section (histories are read in that order).
    pub position: usize,
    /// The state of a Pacemaker Remote node (`remote_node="true"`).
    #[serde(default)]
    pub remote: bool,
    /// The agent (`class:provider:type`) each history names, for
    /// resources no longer configured.
    #[serde(default)]
    pub agents: BTreeMap<String, String>,
}

impl NodeStatus {
    /// The state of a node the cluster has not seen yet, `position`th in
    /// the status section.
    pub fn unseen(position: usize, remote: bool) -> Self {
        Self {
            in_membership: None,
            controller: false,
            join: None,
            expected: None,
            attributes: BTreeMap::new(),
            history: Vec::new(),
            position,
            remote,
            agents: BTreeMap::new(),
        }
    }
}

/// The whole CIB.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cib {
    /// Cluster options.
    pub options: ClusterOptions,
    /// Nodes, in CIB order.
    pub nodes: Vec<Node>,
    /// Resources, in CIB order.
    pub resources: Vec<Resource>,
    /// Constraints.
    pub constraints: Vec<Constraint>,
    /// Node states by node name.
    pub status: BTreeMap<String, NodeStatus>,
    /// Ticket states by ticket id (a ticket not listed is not granted).
    pub tickets: BTreeMap<String, Ticket>,
    /// The time the scheduler runs at (seconds since the epoch; the XML's
    /// `execution-date`); None: failures never expire.
    pub now: Option<i64>,
    /// The XML's own `execution-date`, if it has one (crm_simulate says
    /// it uses it).
    #[serde(default)]
    pub execution_date: Option<i64>,
}

impl Cib {
    /// The Pacemaker Remote nodes its resources define, in resource order:
    /// (node, connection resource, container). A connection primitive
    /// (`ocf:pacemaker:remote`) names its node; a primitive with the meta
    /// attribute `remote-node` is a guest's container, the guest's
    /// connection an implicit resource named after the guest.
    pub fn remote_nodes(&self) -> Vec<(String, Option<String>)> {
        let mut out = Vec::new();
        let mut visit = |p: &Primitive| {
            if p.agent == "ocf:pacemaker:remote" {
                out.push((p.id.clone(), None));
            } else if let Some(guest) = p.meta.get("remote-node") {
                out.push((guest.clone(), Some(p.id.clone())));
            }
        };
        for r in &self.resources {
            match r {
                Resource::Primitive(p) => visit(p),
                Resource::Group { members, .. } => members.iter().for_each(&mut visit),
                _ => {}
            }
        }
        out
    }

    /// The configured primitive `id` names (a clone instance `rsc:2`
    /// names its child `rsc`).
    pub fn primitive(&self, id: &str) -> Option<&Primitive> {
        let base = base_id(id);
        self.resources
            .iter()
            .flat_map(Resource::primitives)
            .find(|p| p.id == id || p.id == base)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_option_value_names_the_option() {
        let pairs = BTreeMap::from([("no-quorum-policy".to_owned(), "panic".to_owned())]);
        let err = ClusterOptions::from_pairs(&pairs, true).unwrap_err();
        assert!(
            matches!(&err, Error::InvalidOption { name, value, .. } if name == "no-quorum-policy" && value == "panic"),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            "cluster option no-quorum-policy 'panic' is not one of stop, freeze, ignore, demote, suicide"
        );
        let options = ClusterOptions::from_pairs(&BTreeMap::new(), true).unwrap();
        assert_eq!(options.no_quorum_policy, NoQuorumPolicy::Stop);
        assert!(options.symmetric && options.stonith_enabled);
    }
}
