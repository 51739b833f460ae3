//! The CIB as our own types (not shaped like the XML): cluster options,
//! nodes, resources, constraints and the status section's facts. The
//! import from Pacemaker's XML is [`Cib::from_xml`].

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::score::Score;
use crate::xml::{self, Element};

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
    /// value Pacemaker would not take is an error naming the option.
    pub fn from_pairs(
        pairs: &BTreeMap<String, String>,
        have_quorum: bool,
    ) -> std::result::Result<Self, String> {
        let get = |k: &str| pairs.get(k).map(String::as_str);
        let no_quorum_policy = match get("no-quorum-policy") {
            None | Some("stop") => NoQuorumPolicy::Stop,
            Some("freeze") => NoQuorumPolicy::Freeze,
            Some("ignore") => NoQuorumPolicy::Ignore,
            Some("demote") => NoQuorumPolicy::Demote,
            Some("suicide" | "fence") => NoQuorumPolicy::Suicide,
            Some(other) => {
                return Err(format!(
                    "no-quorum-policy '{other}' is not one of stop, freeze, ignore, demote, suicide"
                ));
            }
        };
        let placement_strategy = get("placement-strategy").unwrap_or("default");
        if !matches!(
            placement_strategy,
            "default" | "utilization" | "balanced" | "minimal"
        ) {
            return Err(format!(
                "placement-strategy '{placement_strategy}' is not one of default, utilization, balanced, minimal"
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
    /// Permanent attributes.
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

pub use crate::rule::{Expression, Rule, Subject};

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
    /// Transient attributes (fail counts...).
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

/// What name/value sets are read against: the time their rules are judged
/// at (the CIB's `execution-date`; None: date rules do not hold) and what
/// they are about.
#[derive(Debug, Clone, Copy, Default)]
struct Scope<'a> {
    now: Option<i64>,
    subject: Subject<'a>,
}

/// An element's name/value sets (`instance_attributes`...) as Pacemaker
/// reads them: by their `score`, highest first; a set whose rule does not
/// hold is skipped; the first value given for a name wins ("#default"
/// leaves it unset).
fn nvpairs(e: &Element, set: &str, scope: Scope<'_>) -> Result<BTreeMap<String, String>> {
    let mut sets: Vec<(Score, &Element)> = Vec::new();
    for s in e.children_named(set) {
        sets.push((score_of(s, "score")?, s));
    }
    // Stable: sets of equal score keep their order.
    sets.sort_by_key(|s| std::cmp::Reverse(s.0));
    let mut out = BTreeMap::new();
    let mut unset = BTreeSet::new();
    for (_, s) in sets {
        if let Some(r) = s.child("rule")
            && !Rule::from_element(r)?.holds_for(&|_| None, scope.now, scope.subject)
        {
            continue;
        }
        for nv in s.children_named("nvpair") {
            let (Some(n), Some(v)) = (nv.attr("name"), nv.attr("value")) else {
                continue;
            };
            if out.contains_key(n) || unset.contains(n) {
                continue;
            }
            if v.eq_ignore_ascii_case("#default") {
                unset.insert(n.to_owned());
            } else {
                out.insert(n.to_owned(), v.to_owned());
            }
        }
    }
    Ok(out)
}

fn utilization(e: &Element, scope: Scope<'_>) -> Result<BTreeMap<String, i64>> {
    Ok(nvpairs(e, "utilization", scope)?
        .into_iter()
        .filter_map(|(k, v)| v.parse().ok().map(|n| (k, n)))
        .collect())
}

/// The resource defaults (`rsc_defaults`), whose sets' rules may name the
/// agent they apply to.
struct Defaults<'a> {
    element: Option<&'a Element>,
    now: Option<i64>,
    /// The old cluster option `default-resource-stickiness`.
    stickiness: Option<String>,
}

impl Defaults<'_> {
    fn for_agent(&self, agent: Option<&str>) -> Result<BTreeMap<String, String>> {
        let scope = Scope {
            now: self.now,
            subject: Subject {
                agent,
                operation: None,
            },
        };
        let mut out = match self.element {
            Some(d) => nvpairs(d, "meta_attributes", scope)?,
            None => BTreeMap::new(),
        };
        if let Some(v) = &self.stickiness {
            out.entry("resource-stickiness".into())
                .or_insert_with(|| v.clone());
        }
        Ok(out)
    }
}

/// A Pacemaker interval (`60`, `60s`, `10min`, `2h`, `500ms`, or ISO 8601
/// `PT1M30S`) in milliseconds.
pub fn duration_ms(text: &str) -> Option<u64> {
    let t = text.trim();
    if let Some(iso) = t.strip_prefix('P').or_else(|| t.strip_prefix('p')) {
        // ISO 8601 (P1DT2H, PT1M30S; Pacemaker also takes P10S).
        let mut total = 0u64;
        let mut number = String::new();
        let mut in_time = false;
        for ch in iso.chars() {
            if ch.is_ascii_digit() {
                number.push(ch);
                continue;
            }
            let unit = ch.to_ascii_uppercase();
            if unit == 'T' {
                in_time = true;
                continue;
            }
            let n: u64 = number.parse().ok()?;
            number.clear();
            total += n * match (unit, in_time) {
                ('Y', false) => 365 * 86_400_000,
                ('M', false) => 30 * 86_400_000,
                ('W', false) => 7 * 86_400_000,
                ('D', false) => 86_400_000,
                ('H', _) => 3_600_000,
                ('M', true) => 60_000,
                ('S', _) => 1_000,
                _ => return None,
            };
        }
        return number.is_empty().then_some(total);
    }
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let n: u64 = t[..split].parse().ok()?;
    let unit = match t[split..].trim() {
        "" | "s" | "sec" => 1_000,
        "ms" | "msec" => 1,
        "us" | "usec" => return Some(n / 1_000),
        "m" | "min" => 60_000,
        "h" | "hr" => 3_600_000,
        _ => return None,
    };
    n.checked_mul(unit)
}

/// A Pacemaker boolean (`true`, `yes`, `on`, `y`, `1` and their opposites,
/// any case); anything else is `default`.
pub(crate) fn truthy(v: Option<&str>, default: bool) -> bool {
    match v.map(str::to_ascii_lowercase).as_deref() {
        Some("true" | "yes" | "1" | "on" | "y") => true,
        Some("false" | "no" | "0" | "off" | "n") => false,
        _ => default,
    }
}

/// Resource templates by id (a primitive with `template=` takes its
/// class, provider, type and meta attributes, its own meta on top).
type Templates<'a> = BTreeMap<&'a str, &'a Element>;

fn primitive(
    e: &Element,
    inherited: &BTreeMap<String, String>,
    defaults: &Defaults<'_>,
    templates: &Templates<'_>,
) -> Result<Primitive> {
    let scope = Scope {
        now: defaults.now,
        subject: Subject::default(),
    };
    let template = match e.attr("template") {
        Some(t) => Some(
            *templates
                .get(t)
                .ok_or_else(|| e.error(format!("unknown template '{t}'")))?,
        ),
        None => None,
    };
    let from = |attr: &str| e.attr(attr).or_else(|| template.and_then(|t| t.attr(attr)));
    let class = from("class").ok_or_else(|| e.error("no class"))?;
    let kind = from("type").ok_or_else(|| e.error("no type"))?;
    if !matches!(
        class,
        "ocf" | "lsb" | "systemd" | "service" | "stonith" | "heartbeat" | "upstart" | "nagios"
    ) {
        return Err(e.error(format!("unknown resource class '{class}'")));
    }
    let agent = match from("provider") {
        Some(p) => format!("{class}:{p}:{kind}"),
        None => format!("{class}:{kind}"),
    };
    // Its own meta attributes win over its template's, over its parent's,
    // over the resource defaults.
    let mut meta = defaults.for_agent(Some(&agent))?;
    meta.extend(inherited.clone());
    if let Some(t) = template {
        meta.extend(nvpairs(t, "meta_attributes", scope)?);
    }
    meta.extend(nvpairs(e, "meta_attributes", scope)?);
    let mut on_fail = BTreeMap::new();
    let mut operations = Vec::new();
    for ops in [
        template.and_then(|t| t.child("operations")),
        e.child("operations"),
    ]
    .into_iter()
    .flatten()
    {
        for op in ops.children_named("op") {
            let Some(name) = op.attr("name") else {
                continue;
            };
            if let Some(policy) = op.attr("on-fail") {
                on_fail.insert(name.to_owned(), policy.to_owned());
            }
            let interval = op.attr("interval").unwrap_or("0");
            operations.push(OperationConfig {
                name: name.to_owned(),
                interval_ms: duration_ms(interval)
                    .ok_or_else(|| op.error(format!("bad interval '{interval}'")))?,
                role: role_of(op, "role")?,
                on_fail: op.attr("on-fail").map(str::to_owned),
            });
        }
    }
    let mut params = match template {
        Some(t) => nvpairs(t, "instance_attributes", scope)?,
        None => BTreeMap::new(),
    };
    params.extend(nvpairs(e, "instance_attributes", scope)?);
    let mut needs = match template {
        Some(t) => utilization(t, scope)?,
        None => BTreeMap::new(),
    };
    needs.extend(utilization(e, scope)?);
    Ok(Primitive {
        id: e.id().to_owned(),
        agent,
        params,
        meta,
        operations,
        on_fail,
        utilization: needs,
    })
}

fn resource(
    e: &Element,
    parent: &BTreeMap<String, String>,
    defaults: &Defaults<'_>,
    templates: &Templates<'_>,
) -> Result<Option<Resource>> {
    // A member's own meta attributes win over its parent's, which win
    // over the resource defaults.
    let scope = Scope {
        now: defaults.now,
        subject: Subject::default(),
    };
    let own = nvpairs(e, "meta_attributes", scope)?;
    let mut inherited = parent.clone();
    inherited.extend(own);
    let mut meta = defaults.for_agent(None)?;
    meta.extend(inherited.clone());
    Ok(Some(match e.name.as_str() {
        "primitive" => Resource::Primitive(primitive(e, parent, defaults, templates)?),
        "group" => Resource::Group {
            id: e.id().to_owned(),
            members: e
                .children_named("primitive")
                .map(|p| primitive(p, &inherited, defaults, templates))
                .collect::<Result<_>>()?,
            meta,
        },
        "clone" | "master" => {
            let child = e
                .children
                .iter()
                .find_map(|c| resource(c, &inherited, defaults, templates).transpose())
                .transpose()?
                .ok_or_else(|| e.error("a clone without a resource"))?;
            Resource::Clone {
                id: e.id().to_owned(),
                child: Box::new(child),
                promotable: e.name == "master"
                    || truthy(meta.get("promotable").map(String::as_str), false),
                meta,
            }
        }
        "bundle" => Resource::Bundle {
            id: e.id().to_owned(),
        },
        _ => return Ok(None),
    }))
}

fn score_of(e: &Element, attr: &str) -> Result<Score> {
    match e.attr(attr) {
        None => Ok(Score::ZERO),
        Some(text) => Score::parse(text).ok_or_else(|| e.error(format!("bad score '{text}'"))),
    }
}

/// A `resource_set` of a constraint.
struct Set {
    id: String,
    require_all: bool,
    ids: Vec<String>,
    sequential: bool,
    role: Option<Role>,
    action: Option<String>,
    score: Option<Score>,
}

impl Set {
    /// The members another set links to: a sequential set's last (or
    /// first) member, every member of a set that is not sequential.
    fn edge(&self, last: bool) -> Vec<&String> {
        if !self.sequential {
            return self.ids.iter().collect();
        }
        if last {
            self.ids.last()
        } else {
            self.ids.first()
        }
        .into_iter()
        .collect()
    }
}

/// A constraint, its resource sets expanded into constraints between
/// resources as Pacemaker unpacks them: within a sequential set each
/// member is ordered after (or colocated with) the one before; between
/// sets, an earlier set's members are ordered before a later set's, and
/// colocated with them (a sequential set through its first member when
/// dependent, its last when primary).
/// Tags and templates by id: the resources they stand for.
type Aliases = BTreeMap<String, Vec<String>>;

/// A constraint naming a tag or template once per resource it stands for.
fn expand_aliases(c: Constraint, aliases: &Aliases) -> Vec<Constraint> {
    let each = |id: &str| {
        aliases
            .get(id)
            .cloned()
            .unwrap_or_else(|| vec![id.to_owned()])
    };
    let mut out = Vec::new();
    match &c {
        Constraint::Location { rsc, .. } | Constraint::Ticket { rsc, .. } => {
            for r in each(rsc) {
                let mut one = c.clone();
                if let Constraint::Location { rsc, .. } | Constraint::Ticket { rsc, .. } = &mut one
                {
                    *rsc = r;
                }
                out.push(one);
            }
        }
        // Two templates or tags cannot be colocated: Pacemaker ignores it.
        Constraint::Colocation { rsc, with, .. }
            if aliases.contains_key(rsc) && aliases.contains_key(with) => {}
        Constraint::Colocation { rsc, with, .. } => {
            for r in each(rsc) {
                for w in each(with) {
                    let mut one = c.clone();
                    if let Constraint::Colocation { rsc, with, .. } = &mut one {
                        *rsc = r.clone();
                        *with = w;
                    }
                    out.push(one);
                }
            }
        }
        Constraint::Order { first, then, .. } => {
            for f in each(first) {
                for t in each(then) {
                    let mut one = c.clone();
                    if let Constraint::Order { first, then, .. } = &mut one {
                        *first = f.clone();
                        *then = t;
                    }
                    out.push(one);
                }
            }
        }
    }
    out
}

fn with_sets(e: &Element, aliases: &Aliases) -> Result<Vec<Constraint>> {
    let sets: Vec<Set> = e
        .children_named("resource_set")
        .map(|s| {
            Ok(Set {
                id: s.id().to_owned(),
                require_all: truthy(s.attr("require-all"), true),
                ids: s
                    .children_named("resource_ref")
                    .flat_map(|r| {
                        aliases
                            .get(r.id())
                            .cloned()
                            .unwrap_or_else(|| vec![r.id().to_owned()])
                    })
                    .collect(),
                sequential: truthy(s.attr("sequential"), true),
                role: role_of(s, "role")?,
                action: s.attr("action").map(str::to_owned),
                score: match s.attr("score") {
                    Some(_) => Some(score_of(s, "score")?),
                    None => None,
                },
            })
        })
        .collect::<Result<_>>()?;
    let templates = constraint(e)?;
    if sets.is_empty() {
        return Ok(templates);
    }
    let mut out = Vec::new();
    for template in templates {
        expand_sets(template, &sets, &mut out);
    }
    Ok(out)
}

/// One constraint over `sets`, as constraints between resources.
fn expand_sets(template: Constraint, sets: &[Set], out: &mut Vec<Constraint>) {
    match template {
        Constraint::Location { .. } | Constraint::Ticket { .. } => {
            for set in sets {
                for id in &set.ids {
                    let mut each = template.clone();
                    match &mut each {
                        Constraint::Location { rsc, role, .. } => {
                            *rsc = id.clone();
                            *role = role.or(set.role);
                        }
                        Constraint::Ticket {
                            rsc, promoted_only, ..
                        } => {
                            *rsc = id.clone();
                            *promoted_only |= set.role == Some(Role::Promoted);
                        }
                        _ => {}
                    }
                    out.push(each);
                }
            }
        }
        Constraint::Colocation {
            ref id,
            score,
            ref node_attribute,
            ..
        } => {
            let pair = |rsc: &str, with: &str, score, r1, r2| Constraint::Colocation {
                id: id.clone(),
                rsc: rsc.to_owned(),
                with: with.to_owned(),
                score,
                rsc_role: r1,
                with_role: r2,
                node_attribute: node_attribute.clone(),
            };
            for set in sets {
                if set.sequential {
                    for w in set.ids.windows(2) {
                        out.push(pair(
                            &w[1],
                            &w[0],
                            set.score.unwrap_or(score),
                            set.role,
                            set.role,
                        ));
                    }
                }
            }
            for w in sets.windows(2) {
                let (dependent, primary) = (&w[0], &w[1]);
                for d in dependent.edge(false) {
                    for p in primary.edge(true) {
                        out.push(pair(d, p, score, dependent.role, primary.role));
                    }
                }
            }
        }
        Constraint::Order {
            ref id,
            mandatory,
            symmetrical,
            ref first_action,
            ..
        } => {
            let pair = |first: &str, then: &str, fa: &str, ta: &str| Constraint::Order {
                id: id.clone(),
                first: first.to_owned(),
                then: then.to_owned(),
                mandatory,
                symmetrical,
                first_action: fa.to_owned(),
                then_action: ta.to_owned(),
                require_all: true,
            };
            let action = |set: &Set| set.action.clone().unwrap_or_else(|| first_action.clone());
            for set in sets {
                if set.sequential {
                    for w in set.ids.windows(2) {
                        out.push(pair(&w[0], &w[1], &action(set), &action(set)));
                    }
                }
            }
            for w in sets.windows(2) {
                let (before, after) = (&w[0], &w[1]);
                for f in before.edge(true) {
                    for t in after.edge(false) {
                        let mut each = pair(f, t, &action(before), &action(after));
                        if !before.require_all
                            && let Constraint::Order {
                                id, require_all, ..
                            } = &mut each
                        {
                            // Pacemaker's pseudo action for the set.
                            *id = format!("one-or-more:{}", before.id);
                            *require_all = false;
                        }
                        out.push(each);
                    }
                }
            }
        }
    }
}

/// A role attribute; `Started` (or absent) means any role.
fn role_of(e: &Element, attr: &str) -> Result<Option<Role>> {
    match e.attr(attr) {
        None => Ok(None),
        Some(text) => match Role::parse(text) {
            Some(Role::Started) => Ok(None),
            Some(role) => Ok(Some(role)),
            None => Err(e.error(format!("unknown role '{text}'"))),
        },
    }
}

fn constraint(e: &Element) -> Result<Vec<Constraint>> {
    let need = |attr: &str| {
        e.attr(attr)
            .map(str::to_owned)
            .ok_or_else(|| e.error(format!("no {attr}")))
    };
    Ok(vec![match e.name.as_str() {
        "rsc_location" => {
            // Sets are expanded by the caller; rsc-pattern is not read yet.
            let sets = e.child("resource_set").is_some();
            if e.attr("rsc").is_none() && !sets {
                return Ok(Vec::new());
            }
            let need = |attr: &str| {
                if sets { Ok(String::new()) } else { need(attr) }
            };
            let exclusive = e.attr("resource-discovery") == Some("exclusive");
            if e.child("rule").is_some() {
                let mut each = Vec::new();
                for r in e.children_named("rule") {
                    each.push(Constraint::Location {
                        id: e.id().to_owned(),
                        rsc: need("rsc")?,
                        node: None,
                        score: score_of(r, "score")?,
                        rule: Some(Rule::from_element(r)?),
                        role: role_of(r, "role")?.or(role_of(e, "role")?),
                        exclusive,
                    });
                }
                return Ok(each);
            }
            Constraint::Location {
                id: e.id().to_owned(),
                rsc: need("rsc")?,
                node: e.attr("node").map(str::to_owned),
                score: score_of(e, "score")?,
                rule: None,
                role: role_of(e, "role")?,
                exclusive,
            }
        }
        "rsc_colocation" => {
            let sets = e.child("resource_set").is_some();
            if e.attr("rsc").is_none() && !sets {
                return Ok(Vec::new());
            }
            Constraint::Colocation {
                id: e.id().to_owned(),
                rsc: e.attr("rsc").unwrap_or_default().to_owned(),
                with: if sets {
                    String::new()
                } else {
                    need("with-rsc")?
                },
                score: score_of(e, "score")?,
                rsc_role: role_of(e, "rsc-role")?,
                with_role: role_of(e, "with-rsc-role")?,
                node_attribute: e
                    .attr("node-attribute")
                    .filter(|a| *a != "#uname")
                    .map(str::to_owned),
            }
        }
        "rsc_ticket" => {
            let sets = e.child("resource_set").is_some();
            if e.attr("rsc").is_none() && !sets {
                return Ok(Vec::new());
            }
            let need = |attr: &str| {
                if sets && attr == "rsc" {
                    Ok(String::new())
                } else {
                    need(attr)
                }
            };
            Constraint::Ticket {
                id: e.id().to_owned(),
                rsc: need("rsc")?,
                ticket: need("ticket")?,
                loss_policy: match e.attr("loss-policy") {
                    None | Some("stop") => LossPolicy::Stop,
                    Some("demote") => LossPolicy::Demote,
                    Some("fence") => LossPolicy::Fence,
                    Some("freeze") => LossPolicy::Freeze,
                    Some(other) => return Err(e.error(format!("unknown loss-policy '{other}'"))),
                },
                promoted_only: matches!(e.attr("rsc-role"), Some("Promoted" | "Master")),
            }
        }
        "rsc_order" => {
            let sets = e.child("resource_set").is_some();
            if e.attr("first").is_none() && !sets {
                return Ok(Vec::new());
            }
            let kind = e.attr("kind");
            let mandatory = match kind {
                // Serialize only keeps the two from running at once.
                Some("Optional" | "Serialize") => false,
                Some(_) => true,
                None => e
                    .attr("score")
                    .and_then(Score::parse)
                    .is_none_or(|s| s.value() > 0),
            };
            Constraint::Order {
                id: e.id().to_owned(),
                first: e.attr("first").unwrap_or_default().to_owned(),
                then: if sets { String::new() } else { need("then")? },
                mandatory,
                symmetrical: truthy(e.attr("symmetrical"), kind != Some("Serialize")),
                first_action: e.attr("first-action").unwrap_or("start").to_owned(),
                then_action: e
                    .attr("then-action")
                    .or(e.attr("first-action"))
                    .unwrap_or("start")
                    .to_owned(),
                require_all: truthy(e.attr("require-all"), true),
            }
        }
        _ => return Ok(Vec::new()),
    }])
}

fn operation(e: &Element) -> Result<Operation> {
    let number = |attr: &str| -> Result<i64> {
        e.attr(attr)
            .unwrap_or("0")
            .parse::<i64>()
            .map_err(|_| e.error(format!("bad {attr}")))
    };
    Ok(Operation {
        name: e
            .attr("operation")
            .ok_or_else(|| e.error("no operation"))?
            .to_owned(),
        interval: number("interval")?.max(0) as u64,
        call_id: number("call-id")?,
        rc: number("rc-code")? as i32,
        status: number("op-status")? as i32,
        expected_rc: e
            .attr("transition-key")
            .and_then(|k| k.split(':').nth(2))
            .and_then(|v| v.parse().ok()),
        changed: e
            .attr("last-rc-change")
            .or_else(|| e.attr("last-run"))
            .and_then(|v| v.parse().ok()),
        migrate_target: e.attr("migrate_target").map(str::to_owned),
        digests: e.attr("op-digest").map(|all| {
            let listed = |names: &str, digest: &str| {
                e.attr(names).zip(e.attr(digest)).map(|(n, d)| {
                    (
                        n.split_whitespace().map(str::to_owned).collect(),
                        d.to_owned(),
                    )
                })
            };
            Digests {
                all: all.to_owned(),
                restart: listed("op-force-restart", "op-restart-digest"),
                secure: listed("op-secure-params", "op-secure-digest"),
            }
        }),
    })
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

    /// Reads Pacemaker's CIB XML. Rules on the date (in attribute sets)
    /// are judged at the CIB's `execution-date`; without one they do not
    /// hold (see [`Cib::from_xml_at`]).
    pub fn from_xml(text: &str) -> Result<Self> {
        Self::from_xml_at(text, None)
    }

    /// Reads Pacemaker's CIB XML as crm_simulate does at time `clock`
    /// (seconds since the epoch): the CIB's `execution-date` if it has
    /// one, else `clock`, is when date rules are judged and failures
    /// expire ([`Cib::now`]).
    pub fn from_xml_at(text: &str, clock: Option<i64>) -> Result<Self> {
        let root = xml::parse(text)?;
        if root.name != "cib" {
            return Err(root.error("the root element is not <cib>"));
        }
        let config = root
            .child("configuration")
            .ok_or_else(|| root.error("no <configuration>"))?;
        let execution_date: Option<i64> = root.attr("execution-date").and_then(|v| v.parse().ok());
        let now = execution_date.or(clock);
        let scope = Scope {
            now,
            subject: Subject::default(),
        };
        let mut opts = BTreeMap::new();
        if let Some(c) = config.child("crm_config") {
            opts = nvpairs(c, "cluster_property_set", scope)?;
        }
        let get = |k: &str| opts.get(k).map(String::as_str);
        let mut options =
            ClusterOptions::from_pairs(&opts, truthy(root.attr("have-quorum"), false)).map_err(
                |message| match config.child("crm_config") {
                    Some(c) => c.error(message),
                    None => root.error(message),
                },
            )?;
        options.dc = root.attr("dc-uuid").map(str::to_owned);
        let defaults = Defaults {
            element: config.child("rsc_defaults"),
            now,
            stickiness: get("default-resource-stickiness").map(str::to_owned),
        };
        let nodes = config
            .child("nodes")
            .map(|n| {
                n.children_named("node")
                    .map(|e| {
                        Ok(Node {
                            id: e.id().to_owned(),
                            name: e.attr("uname").unwrap_or(e.id()).to_owned(),
                            attributes: nvpairs(e, "instance_attributes", scope)?,
                            utilization: utilization(e, scope)?,
                            remote: e.attr("type") == Some("remote"),
                        })
                    })
                    .collect::<Result<Vec<_>>>()
            })
            .transpose()?
            .unwrap_or_default();
        let mut resources = Vec::new();
        if let Some(r) = config.child("resources") {
            let templates: Templates<'_> =
                r.children_named("template").map(|t| (t.id(), t)).collect();
            for e in &r.children {
                if let Some(res) = resource(e, &BTreeMap::new(), &defaults, &templates)? {
                    resources.push(res);
                }
            }
        }
        // Tags and templates stand for the resources they name or shape.
        let mut aliases: Aliases = BTreeMap::new();
        if let Some(tags) = config.child("tags") {
            for t in tags.children_named("tag") {
                aliases.insert(
                    t.id().to_owned(),
                    t.children_named("obj_ref")
                        .map(|r| r.id().to_owned())
                        .collect(),
                );
            }
        }
        if let Some(r) = config.child("resources") {
            fn shaped(e: &Element, aliases: &mut Aliases) {
                if e.name == "primitive"
                    && let Some(t) = e.attr("template")
                {
                    aliases
                        .entry(t.to_owned())
                        .or_default()
                        .push(e.id().to_owned());
                }
                for c in &e.children {
                    shaped(c, aliases);
                }
            }
            shaped(r, &mut aliases);
        }
        // Every resource id (members and clone children too).
        let mut known = std::collections::BTreeSet::new();
        if let Some(r) = config.child("resources") {
            fn ids<'a>(e: &'a Element, known: &mut std::collections::BTreeSet<&'a str>) {
                for c in &e.children {
                    if matches!(
                        c.name.as_str(),
                        "primitive" | "group" | "clone" | "master" | "bundle"
                    ) {
                        known.insert(c.id());
                    }
                    ids(c, known);
                }
            }
            ids(r, &mut known);
        }
        let mut constraints = Vec::new();
        if let Some(c) = config.child("constraints") {
            for e in &c.children {
                for con in with_sets(e, &aliases)? {
                    for con in expand_aliases(con, &aliases) {
                        let refs: Vec<&String> = match &con {
                            Constraint::Location { rsc, .. } | Constraint::Ticket { rsc, .. } => {
                                vec![rsc]
                            }
                            Constraint::Colocation { rsc, with, .. } => vec![rsc, with],
                            Constraint::Order { first, then, .. } => vec![first, then],
                        };
                        if let Some(r) = refs.iter().find(|r| !known.contains(r.as_str())) {
                            return Err(e.error(format!("names an unknown resource '{r}'")));
                        }
                        constraints.push(con);
                    }
                }
            }
        }
        let mut status = BTreeMap::new();
        let mut tickets = BTreeMap::new();
        if let Some(t) = root.child("status").and_then(|s| s.child("tickets")) {
            for ts in t.children_named("ticket_state") {
                tickets.insert(
                    ts.id().to_owned(),
                    Ticket {
                        granted: truthy(ts.attr("granted"), false),
                        standby: truthy(ts.attr("standby"), false),
                    },
                );
            }
        }
        if let Some(s) = root.child("status") {
            for (position, ns) in s.children_named("node_state").enumerate() {
                let name = ns.attr("uname").unwrap_or(ns.id()).to_owned();
                let mut history: Vec<(String, Vec<Operation>)> = Vec::new();
                let mut agents = BTreeMap::new();
                if let Some(lrm) = ns.child("lrm").and_then(|l| l.child("lrm_resources")) {
                    for r in lrm.children_named("lrm_resource") {
                        let agent = [r.attr("class"), r.attr("provider"), r.attr("type")]
                            .into_iter()
                            .flatten()
                            .collect::<Vec<_>>()
                            .join(":");
                        agents.insert(r.id().to_owned(), agent);
                        let ops = r
                            .children_named("lrm_rsc_op")
                            .map(operation)
                            .collect::<Result<Vec<_>>>()?;
                        history.push((r.id().to_owned(), ops));
                    }
                }
                let attributes = match ns.child("transient_attributes") {
                    Some(t) => nvpairs(t, "instance_attributes", scope)?,
                    None => BTreeMap::new(),
                };
                status.insert(
                    name,
                    NodeStatus {
                        in_membership: ns.attr("in_ccm").map(|v| truthy(Some(v), false)),
                        controller: ns.attr("crmd") == Some("online"),
                        join: ns.attr("join").map(str::to_owned),
                        expected: ns.attr("expected").map(str::to_owned),
                        attributes,
                        history,
                        position,
                        remote: truthy(ns.attr("remote_node"), false),
                        agents,
                    },
                );
            }
        }
        Ok(Self {
            options,
            nodes,
            resources,
            constraints,
            status,
            tickets,
            now,
            execution_date,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chapter() -> String {
        crate::fixture::chapter_xml(crate::fixture::CHAPTER, "")
    }

    #[test]
    fn the_chapters_cluster_reads() {
        let cib = Cib::from_xml(&chapter()).unwrap();
        assert!(!cib.options.stonith_enabled && cib.options.have_quorum);
        assert_eq!(cib.resources.len(), 2);
        assert!(
            matches!(&cib.resources[1], Resource::Primitive(p) if p.agent == "systemd:haproxy")
        );
        assert!(
            matches!(&cib.constraints[0], Constraint::Colocation { score, .. } if *score == Score::INFINITY)
        );
        assert!(matches!(
            &cib.constraints[1],
            Constraint::Order {
                mandatory: true,
                symmetrical: true,
                ..
            }
        ));
    }

    #[test]
    fn bad_input_names_the_element() {
        let e =
            Cib::from_xml(&chapter().replace("class=\"systemd\"", "class=\"bogus\"")).unwrap_err();
        assert!(
            e.to_string().contains("<primitive id=\"haproxy\">") && e.to_string().contains("bogus"),
            "{e}"
        );
        let e =
            Cib::from_xml(&chapter().replace("score=\"INFINITY\"", "score=\"lots\"")).unwrap_err();
        assert!(e.to_string().contains("rsc_colocation id=\"c\""), "{e}");
        let e = Cib::from_xml(&chapter().replace("with-rsc=\"vip\"", "with-rsc=\"nosuch\""))
            .unwrap_err();
        assert!(
            e.to_string().contains("rsc_colocation id=\"c\"") && e.to_string().contains("nosuch"),
            "{e}"
        );
        assert!(matches!(
            Cib::from_xml("<cib><configuration>"),
            Err(crate::Error::Xml { .. })
        ));
        assert!(Cib::from_xml("<nodes/>").is_err());
    }

    #[test]
    fn intervals_read_as_pacemaker_writes_them() {
        assert_eq!(duration_ms("60"), Some(60_000));
        assert_eq!(duration_ms("10min"), Some(600_000));
        assert_eq!(duration_ms("500ms"), Some(500));
        assert_eq!(duration_ms("PT1M30S"), Some(90_000));
        assert_eq!(duration_ms("soon"), None);
    }

    #[test]
    fn resource_sets_become_pairs() {
        let cib = Cib::from_xml(&chapter().replace(
            r#"<rsc_order id="o" first="vip" then="haproxy"/>"#,
            r#"<rsc_order id="o"><resource_set id="s"><resource_ref id="vip"/><resource_ref id="haproxy"/></resource_set></rsc_order>"#,
        ))
        .unwrap();
        assert!(cib.constraints.iter().any(|c| matches!(
            c,
            Constraint::Order { first, then, .. } if first == "vip" && then == "haproxy"
        )));
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_text_never_panics(cut in 0usize..900, junk in ".{0,40}") {
            let chapter = chapter();
            let mut text = chapter[..cut.min(chapter.len())].to_owned();
            text.push_str(&junk);
            let _ = Cib::from_xml(&text);
        }
    }
}
