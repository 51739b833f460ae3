//! The transition as a graph of actions and their orderings.
//!
//! The actions carry out the scheduler's decisions (fencing, probes, stops,
//! demotes, migrations, starts, promotes, recurring monitors); an executor
//! may run an action once every action ordered before it is done.
//!
//! They print as Pacemaker names them in its transition graphs (the
//! `crm_simulate -D` dot file): an [`Action`] as `vip_start_0 node1`,
//! `vip_monitor_10000 node1` or `stonith 'reboot' node1`; a [`Task`] as the
//! operation the agent runs (`start`, `monitor`, `reload-agent`...); a
//! [`Graph`] as its actions in an order that keeps every ordering, one a
//! line, numbered, each with the numbers of those it waits for.
//!
//! The orderings are those Pacemaker's graph has: each resource's own
//! sequence (demote, stop, start, promote, monitor), probes before a
//! resource starts anywhere, fencing before what ran on the fenced node
//! starts elsewhere (its stop there is implied by the fencing), and the
//! order constraints: `first` before `then` for the actions they name,
//! inverted for stops when symmetrical, instance to instance when a clone
//! interleaves; optional orders apply when both actions are scheduled.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use super::Change;
use super::expand::CloneSet;
use crate::cib::{Constraint, Primitive, Role};

/// What an action does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Task {
    /// Fence (reboot) the node.
    Fence,
    /// Unfence the node (give it access to shared storage) before what
    /// needs that starts there.
    Unfence,
    /// Find out whether the resource runs on the node (a monitor of 0).
    Probe,
    /// Demote the resource (Promoted to Unpromoted).
    Demote,
    /// Stop the resource.
    Stop,
    /// Live migration, first half (on the source).
    MigrateTo,
    /// Live migration, second half (on the target).
    MigrateFrom,
    /// Start the resource.
    Start,
    /// Promote the resource (Unpromoted to Promoted).
    Promote,
    /// Have the agent reload changed parameters (`reload-agent`).
    Reload,
    /// A recurring monitor, every `interval_ms`.
    Monitor {
        /// Its interval in milliseconds.
        interval_ms: u64,
    },
}

impl Task {
    /// The action named by an order constraint's `first-action` or
    /// `then-action`.
    fn named(name: &str) -> Option<Self> {
        match name {
            "start" => Some(Self::Start),
            "stop" => Some(Self::Stop),
            "promote" => Some(Self::Promote),
            "demote" => Some(Self::Demote),
            _ => None,
        }
    }

    /// What undoes it (a symmetrical order's other direction).
    fn inverse(self) -> Option<Self> {
        match self {
            Self::Start => Some(Self::Stop),
            Self::Stop => Some(Self::Start),
            Self::Promote => Some(Self::Demote),
            Self::Demote => Some(Self::Promote),
            _ => None,
        }
    }
}

impl Task {
    /// The operation's interval in milliseconds: a recurring monitor's, 0
    /// for everything else (a probe is a monitor of 0).
    pub fn interval_ms(self) -> u64 {
        match self {
            Self::Monitor { interval_ms } => interval_ms,
            _ => 0,
        }
    }
}

/// The operation as the agent (or, for fencing, the fence device) is
/// asked to run it: `start`, `stop`, `promote`, `demote`, `migrate_to`,
/// `migrate_from`, `reload-agent`, `monitor` (a probe and a recurring
/// monitor alike), `reboot` (fencing) and `on` (unfencing).
impl fmt::Display for Task {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Fence => "reboot",
            Self::Unfence => "on",
            Self::Probe | Self::Monitor { .. } => "monitor",
            Self::Demote => "demote",
            Self::Stop => "stop",
            Self::MigrateTo => "migrate_to",
            Self::MigrateFrom => "migrate_from",
            Self::Start => "start",
            Self::Promote => "promote",
            Self::Reload => "reload-agent",
        })
    }
}

/// One action of the transition.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Action {
    /// What it does.
    pub task: Task,
    /// The resource (None for fencing).
    pub rsc: Option<String>,
    /// Where.
    pub node: String,
}

/// Pacemaker's name for the action in its transition graphs: the
/// operation key (resource, operation, interval) and the node, as
/// `vip_start_0 node1` or `vip_monitor_10000 node1`; fencing as
/// `stonith 'reboot' node1` (unfencing: `'on'`).
impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.rsc, self.task) {
            (Some(rsc), task) => write!(f, "{rsc}_{task}_{} {}", task.interval_ms(), self.node),
            (None, task) => write!(f, "stonith '{task}' {}", self.node),
        }
    }
}

/// The actions and their orderings.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Graph {
    /// The actions, each once.
    pub actions: Vec<Action>,
    /// `(a, b)`: action `a` must be done before `b` starts (indexes into
    /// `actions`).
    pub edges: BTreeSet<(usize, usize)>,
    /// Each resource's actions (indexes), so building stays near linear.
    by_rsc: BTreeMap<String, Vec<usize>>,
}

impl Graph {
    /// The order to run the actions in: [`Graph::order`], or, when the
    /// orderings form a loop (the transition cannot finish), the order
    /// they were scheduled in.
    pub fn run_order(&self) -> Vec<usize> {
        self.order()
            .unwrap_or_else(|| (0..self.actions.len()).collect())
    }

    /// The index of an action, if scheduled.
    pub fn find(&self, task: Task, rsc: Option<&str>, node: &str) -> Option<usize> {
        let matches = |&i: &usize| {
            let a = &self.actions[i];
            a.task == task && a.rsc.as_deref() == rsc && a.node == node
        };
        // Node actions (fencing) are kept under the empty name.
        self.by_rsc
            .get(rsc.unwrap_or(""))?
            .iter()
            .copied()
            .find(|i| matches(i))
    }

    /// `rsc`'s actions of `task`.
    fn of(&self, rsc: &str, task: impl Fn(Task) -> bool) -> Vec<usize> {
        self.by_rsc
            .get(rsc)
            .into_iter()
            .flatten()
            .copied()
            .filter(|&i| task(self.actions[i].task))
            .collect()
    }

    /// What must be done before action `i` (a scan of the edges).
    pub fn before(&self, i: usize) -> impl Iterator<Item = usize> + '_ {
        self.edges
            .iter()
            .filter(move |(_, b)| *b == i)
            .map(|(a, _)| *a)
    }

    /// An order to run the actions in that keeps every edge (ties go by
    /// index); None if the orderings form a loop, which no executor could
    /// finish.
    pub fn order(&self) -> Option<Vec<usize>> {
        let mut waiting: Vec<usize> = vec![0; self.actions.len()];
        let mut after: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        for &(a, b) in &self.edges {
            waiting[b] += 1;
            after.entry(a).or_default().push(b);
        }
        let mut ready: BTreeSet<usize> = (0..self.actions.len())
            .filter(|&i| waiting[i] == 0)
            .collect();
        let mut out = Vec::with_capacity(self.actions.len());
        while let Some(i) = ready.pop_first() {
            out.push(i);
            for &b in after.get(&i).into_iter().flatten() {
                waiting[b] -= 1;
                if waiting[b] == 0 {
                    ready.insert(b);
                }
            }
        }
        (out.len() == self.actions.len()).then_some(out)
    }

    fn add(&mut self, task: Task, rsc: Option<&str>, node: &str) -> usize {
        match self.find(task, rsc, node) {
            Some(i) => i,
            None => self.push(task, rsc, node),
        }
    }

    /// Adds an action known to be new (probes: one per resource and node).
    fn push(&mut self, task: Task, rsc: Option<&str>, node: &str) -> usize {
        self.actions.push(Action {
            task,
            rsc: rsc.map(str::to_owned),
            node: node.to_owned(),
        });
        let i = self.actions.len() - 1;
        self.by_rsc
            .entry(rsc.unwrap_or("").to_owned())
            .or_default()
            .push(i);
        i
    }

    fn edge(&mut self, a: usize, b: usize) {
        if a != b {
            self.edges.insert((a, b));
        }
    }

    /// Adds `rsc`'s steps in sequence; returns their indexes.
    fn sequence(&mut self, rsc: &str, steps: &[(Task, &str)]) -> Vec<usize> {
        let ids: Vec<usize> = steps
            .iter()
            .map(|(task, node)| self.add(*task, Some(rsc), node))
            .collect();
        for pair in ids.windows(2) {
            self.edge(pair[0], pair[1]);
        }
        ids
    }
}

/// What the graph is built from.
pub(super) struct Inputs<'a> {
    pub changes: &'a [Change],
    pub primitives: &'a [&'a Primitive],
    pub constraints: &'a [Constraint],
    pub groups: &'a BTreeMap<String, Vec<String>>,
    pub clones: &'a [CloneSet],
    /// Nodes being fenced.
    pub fenced: BTreeSet<&'a str>,
    /// (resource, node) pairs to probe.
    pub probes: Vec<(&'a str, &'a str)>,
    /// (resource, node): copies of a multiply active resource to stop
    /// besides what its change names.
    pub copies: &'a [(String, String)],
    /// Resources that stay where they run, unchanged: their role there,
    /// and the recurring monitors (intervals) their history has already.
    pub staying: Vec<(&'a str, &'a str, Role, BTreeSet<u64>)>,
}

/// Builds the graph of `inputs.changes`.
pub(super) fn build(inputs: &Inputs) -> Graph {
    let mut g = Graph::default();
    let by_id: BTreeMap<&str, &Primitive> = inputs
        .primitives
        .iter()
        .map(|p| (p.id.as_str(), *p))
        .collect();
    for node in &inputs.fenced {
        g.add(Task::Fence, None, node);
    }
    // Where each resource leaves (to order fencing before its start).
    let mut left: Vec<(&str, &str)> = Vec::new();
    for change in inputs.changes {
        let monitors = |g: &mut Graph, rsc: &str, node: &str, role: Role, after: usize| {
            for interval_ms in recurring(by_id.get(rsc).copied(), role) {
                let m = g.add(Task::Monitor { interval_ms }, Some(rsc), node);
                g.edge(after, m);
            }
        };
        // A stop on a node being fenced is done by the fencing.
        fn stop_on<'s>(fenced: &BTreeSet<&str>, from: &'s str) -> Option<&'s str> {
            (!fenced.contains(from)).then_some(from)
        }
        match change {
            Change::Fence {
                node,
                unfence: false,
                ..
            } => {
                g.add(Task::Fence, None, node);
            }
            Change::Fence { node, .. } => {
                g.add(Task::Unfence, None, node);
            }
            Change::Start { rsc, node } => {
                let s = g.add(Task::Start, Some(rsc), node);
                monitors(&mut g, rsc, node, start_role(by_id.get(rsc.as_str())), s);
            }
            Change::Stop { reason, .. }
                if reason.as_ref().is_some_and(|r| r.ends_with("(blocked)")) => {}
            Change::Stop {
                rsc, node, role, ..
            } => {
                left.push((rsc, node));
                let mut steps = Vec::new();
                if let Some(from) = stop_on(&inputs.fenced, node) {
                    if *role == Some(Role::Promoted) {
                        steps.push((Task::Demote, from));
                    }
                    steps.push((Task::Stop, from));
                }
                g.sequence(rsc, &steps);
            }
            Change::Move {
                rsc,
                from,
                to,
                roles,
                ..
            }
            | Change::Recover {
                rsc,
                from,
                to,
                roles,
            } => {
                left.push((rsc, from));
                let (was, next) = roles.unwrap_or((Role::Started, Role::Started));
                let mut steps = Vec::new();
                if let Some(from) = stop_on(&inputs.fenced, from) {
                    if was == Role::Promoted {
                        steps.push((Task::Demote, from));
                    }
                    steps.push((Task::Stop, from));
                }
                steps.push((Task::Start, to.as_str()));
                if next == Role::Promoted {
                    steps.push((Task::Promote, to.as_str()));
                }
                let ids = g.sequence(rsc, &steps);
                monitors(&mut g, rsc, to, next, ids[ids.len() - 1]);
            }
            Change::Restart {
                rsc, node, role, ..
            } => {
                left.push((rsc, node));
                let role = role.unwrap_or(Role::Started);
                let mut steps = Vec::new();
                if role == Role::Promoted {
                    steps.push((Task::Demote, node.as_str()));
                }
                steps.extend([(Task::Stop, node.as_str()), (Task::Start, node.as_str())]);
                if role == Role::Promoted {
                    steps.push((Task::Promote, node.as_str()));
                }
                let ids = g.sequence(rsc, &steps);
                monitors(&mut g, rsc, node, role, ids[ids.len() - 1]);
            }
            Change::Migrate { rsc, from, to } => {
                left.push((rsc, from));
                let ids = g.sequence(
                    rsc,
                    &[
                        (Task::MigrateTo, from.as_str()),
                        (Task::MigrateFrom, to.as_str()),
                        (Task::Stop, from.as_str()),
                    ],
                );
                monitors(&mut g, rsc, to, Role::Started, ids[1]);
            }
            Change::Promote { rsc, node, from } => {
                let mut steps = Vec::new();
                if *from == Role::Stopped {
                    steps.push((Task::Start, node.as_str()));
                }
                steps.push((Task::Promote, node.as_str()));
                let ids = g.sequence(rsc, &steps);
                monitors(&mut g, rsc, node, Role::Promoted, ids[ids.len() - 1]);
            }
            Change::Demote { rsc, node } => {
                let d = g.add(Task::Demote, Some(rsc), node);
                monitors(&mut g, rsc, node, Role::Unpromoted, d);
            }
            Change::Reload { rsc, node } => {
                g.add(Task::Reload, Some(rsc), node);
            }
            Change::Blocked { .. } => {}
        }
    }
    // A resource that stays gets the recurring monitors of its role that
    // are not running yet (newly configured, or never started there).
    for (rsc, node, role, known) in &inputs.staying {
        for interval_ms in recurring(by_id.get(rsc).copied(), *role) {
            if !known.contains(&interval_ms) {
                g.add(Task::Monitor { interval_ms }, Some(rsc), node);
            }
        }
    }
    // Every copy of a multiply active resource stops before it starts
    // again.
    for (rsc, node) in inputs.copies {
        let targets = arrivals(&g, rsc);
        let stop = g.add(Task::Stop, Some(rsc), node);
        left.push((rsc, node));
        for i in targets {
            g.edge(stop, i);
        }
    }
    // Probes come first: nothing starts before its state is known. An
    // anonymous clone is probed once per node, by one instance name, for
    // every instance (any may be the one to start there).
    let mut arriving: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    // An anonymous clone's member: its clone and place in an instance.
    let member_of: BTreeMap<&str, (&CloneSet, usize)> = inputs
        .clones
        .iter()
        .filter(|c| !c.unique)
        .flat_map(|c| {
            c.instances
                .iter()
                .flat_map(move |i| i.iter().enumerate().map(move |(k, m)| (m.as_str(), (c, k))))
        })
        .collect();
    for &(rsc, node) in &inputs.probes {
        let targets = arriving
            .entry(rsc)
            .or_insert_with(|| match member_of.get(rsc) {
                Some((set, k)) => set
                    .instances
                    .iter()
                    .filter_map(|i| i.get(*k))
                    .flat_map(|s| arrivals(&g, s))
                    .collect(),
                None => arrivals(&g, rsc),
            })
            .clone();
        let p = g.push(Task::Probe, Some(rsc), node);
        for i in targets {
            g.edge(p, i);
        }
    }
    // Unfencing before anything is probed or started on the node.
    let unfenced: Vec<(usize, String)> = g
        .actions
        .iter()
        .enumerate()
        .filter(|(_, a)| a.task == Task::Unfence)
        .map(|(i, a)| (i, a.node.clone()))
        .collect();
    for (u, node) in unfenced {
        let on_node: Vec<usize> = g
            .actions
            .iter()
            .enumerate()
            .filter(|(_, a)| {
                a.node == node
                    && matches!(
                        a.task,
                        Task::Probe | Task::Start | Task::MigrateFrom | Task::Promote
                    )
            })
            .map(|(i, _)| i)
            .collect();
        for i in on_node {
            g.edge(u, i);
        }
    }
    // Fencing before what ran on the fenced node arrives elsewhere.
    for (rsc, from) in left {
        if let Some(f) = g.find(Task::Fence, None, from) {
            for i in arrivals(&g, rsc) {
                g.edge(f, i);
            }
        }
    }
    orders(&mut g, inputs);
    g
}

/// The actions by which `rsc` arrives somewhere (start, migrate_from).
fn arrivals(g: &Graph, rsc: &str) -> Vec<usize> {
    g.of(rsc, |t| matches!(t, Task::Start | Task::MigrateFrom))
}

/// The role a started resource runs in: Unpromoted for a promotable
/// clone's instance (its monitors are the Unpromoted role's).
fn start_role(p: Option<&&Primitive>) -> Role {
    match p {
        Some(p) if p.operations.iter().any(|o| o.role.is_some()) => Role::Unpromoted,
        _ => Role::Started,
    }
}

/// The recurring monitors `p` runs in `role`: those for that role, and
/// role-less ones outside the Promoted role.
fn recurring(p: Option<&Primitive>, role: Role) -> Vec<u64> {
    let Some(p) = p else {
        return Vec::new();
    };
    p.operations
        .iter()
        .filter(|o| o.name == "monitor" && o.interval_ms > 0)
        .filter(|o| match o.role {
            Some(r) => r == role || (r == Role::Started && role == Role::Unpromoted),
            None => role != Role::Promoted,
        })
        .map(|o| o.interval_ms)
        .collect()
}

/// Edges for the order constraints between actions both scheduled.
fn orders(g: &mut Graph, inputs: &Inputs) {
    let members = |id: &str| -> Vec<String> {
        if let Some(set) = inputs.clones.iter().find(|c| c.id == id) {
            return set.instances.iter().flatten().cloned().collect();
        }
        inputs
            .groups
            .get(id)
            .cloned()
            .unwrap_or_else(|| vec![id.to_owned()])
    };
    let interleaved = |first: &str, then: &str| {
        let clone = |id: &str| inputs.clones.iter().find(|c| c.id == id);
        clone(first).is_some() && clone(then).is_some_and(|c| c.interleave)
    };
    for c in inputs.constraints {
        let Constraint::Order {
            first,
            then,
            symmetrical,
            first_action,
            then_action,
            ..
        } = c
        else {
            continue;
        };
        let (Some(f_task), Some(t_task)) = (Task::named(first_action), Task::named(then_action))
        else {
            continue;
        };
        let same_node = interleaved(first, then);
        let firsts = members(first);
        let thens = members(then);
        let mut pairs = vec![(f_task, &firsts, t_task, &thens)];
        if *symmetrical && let (Some(fi), Some(ti)) = (f_task.inverse(), t_task.inverse()) {
            pairs.push((ti, &thens, fi, &firsts));
        }
        for (a_task, a_rscs, b_task, b_rscs) in pairs {
            let pick = |task: Task, rscs: &Vec<String>| -> Vec<usize> {
                rscs.iter().flat_map(|r| g.of(r, |t| t == task)).collect()
            };
            let before = pick(a_task, a_rscs);
            let after = pick(b_task, b_rscs);
            for &a in &before {
                for &b in &after {
                    if !same_node || g.actions[a].node == g.actions[b].node {
                        g.edge(a, b);
                    }
                }
            }
        }
    }
}

/// The actions in an order that keeps every ordering ([`Graph::run_order`]),
/// one a line, numbered, each followed by the numbers of the actions it
/// waits for: `  2. vip_start_0 node1 (after 1)`. When the orderings form
/// a loop, a first line says so and the actions come in the order they
/// were scheduled.
impl fmt::Display for Graph {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let order = self.order();
        if order.is_none() {
            writeln!(
                f,
                "the orderings form a loop: this transition cannot finish"
            )?;
        }
        let order = order.unwrap_or_else(|| (0..self.actions.len()).collect());
        let mut number = vec![0; self.actions.len()];
        for (k, &i) in order.iter().enumerate() {
            number[i] = k + 1;
        }
        for (k, &i) in order.iter().enumerate() {
            if k > 0 {
                writeln!(f)?;
            }
            write!(f, "{:>3}. {}", number[i], self.actions[i])?;
            let mut after: Vec<usize> = self.before(i).map(|b| number[b]).collect();
            after.sort_unstable();
            if let Some((first, rest)) = after.split_first() {
                write!(f, " (after {first}")?;
                for n in rest {
                    write!(f, ", {n}")?;
                }
                write!(f, ")")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Cib, Score, schedule};

    fn chapter(builder: crate::CibBuilder) -> Cib {
        builder
            .option("stonith-enabled", "false")
            .online_node("node1")
            .online_node("node2")
            .primitive(
                Primitive::new("vip", "ocf:heartbeat:IPaddr2")
                    .unwrap()
                    .op("monitor", "30s")
                    .unwrap(),
            )
            .primitive(
                Primitive::new("haproxy", "systemd:haproxy")
                    .unwrap()
                    .op("monitor", "30s")
                    .unwrap(),
            )
            .colocation("haproxy", "vip", Score::INFINITY)
            .order("vip", "haproxy")
            .build()
            .unwrap()
    }

    #[test]
    fn actions_print_as_pacemaker_names_them() {
        let transition = schedule(&chapter(Cib::builder())).unwrap();
        let g = &transition.graph;
        let start = g.find(Task::Start, Some("vip"), "node1").unwrap();
        assert_eq!(g.actions[start].to_string(), "vip_start_0 node1");
        let monitor = g
            .find(
                Task::Monitor {
                    interval_ms: 30_000,
                },
                Some("vip"),
                "node1",
            )
            .unwrap();
        assert_eq!(g.actions[monitor].to_string(), "vip_monitor_30000 node1");
        let probe = g.find(Task::Probe, Some("haproxy"), "node2").unwrap();
        assert_eq!(g.actions[probe].to_string(), "haproxy_monitor_0 node2");
        let fence = Action {
            task: Task::Fence,
            rsc: None,
            node: "node2".into(),
        };
        assert_eq!(fence.to_string(), "stonith 'reboot' node2");
        assert_eq!(Task::Reload.to_string(), "reload-agent");
        assert_eq!(
            g.to_string(),
            "  1. vip_monitor_0 node1
  2. haproxy_monitor_0 node1
  3. vip_monitor_0 node2
  4. vip_start_0 node1 (after 1, 3)
  5. vip_monitor_30000 node1 (after 4)
  6. haproxy_monitor_0 node2
  7. haproxy_start_0 node1 (after 2, 4, 6)
  8. haproxy_monitor_30000 node1 (after 7)"
        );
    }

    fn position(g: &Graph, order: &[usize], task: Task, rsc: &str, node: &str) -> usize {
        let i = g
            .find(task, Some(rsc), node)
            .unwrap_or_else(|| panic!("{task:?} {rsc} on {node} scheduled"));
        order.iter().position(|&x| x == i).unwrap()
    }

    #[test]
    fn the_chapters_cluster_probes_then_starts_in_order_then_monitors() {
        let t = schedule(&chapter(Cib::builder())).unwrap();
        let g = &t.graph;
        let order = g.order().expect("no loop");
        let at = |task, rsc| position(g, &order, task, rsc, "node1");
        // Nothing is known of either resource: both are probed on both nodes.
        for rsc in ["vip", "haproxy"] {
            for node in ["node1", "node2"] {
                assert!(
                    g.find(Task::Probe, Some(rsc), node).is_some(),
                    "{rsc} probed on {node}"
                );
            }
        }
        assert!(at(Task::Probe, "haproxy") < at(Task::Start, "haproxy"));
        assert!(at(Task::Probe, "vip") < at(Task::Start, "vip"));
        assert!(at(Task::Start, "vip") < at(Task::Start, "haproxy"));
        let monitor = Task::Monitor {
            interval_ms: 30_000,
        };
        assert!(at(Task::Start, "haproxy") < at(monitor, "haproxy"));
        assert!(
            g.before(g.find(monitor, Some("vip"), "node1").unwrap())
                .any(|i| i == g.find(Task::Start, Some("vip"), "node1").unwrap())
        );
        assert_eq!(g.actions.len(), 4 + 2 + 2, "4 probes, 2 starts, 2 monitors");
    }

    #[test]
    fn moving_stops_in_reverse_order_before_starting_elsewhere() {
        // Both run on node1, which goes into standby.
        let ran = |rsc: &str, class: &str| {
            format!(
                r#"<lrm_resource id="{rsc}" {class}><lrm_rsc_op id="{rsc}_last_0" operation="start" call-id="1" rc-code="0" op-status="0" interval="0"/></lrm_resource>"#
            )
        };
        let mut cib = super::super::tests::cib(
            super::super::tests::CHAPTER,
            &format!(
                r#"<lrm id="1"><lrm_resources>{}{}</lrm_resources></lrm>"#,
                ran("vip", r#"class="ocf" provider="heartbeat" type="IPaddr2""#),
                ran("haproxy", r#"class="systemd" type="haproxy""#),
            ),
        );
        cib.nodes[0]
            .attributes
            .insert("standby".into(), "on".into());
        let t = schedule(&cib).unwrap();
        let g = &t.graph;
        let order = g.order().expect("no loop");
        let at = |task, rsc, node| position(g, &order, task, rsc, node);
        assert!(at(Task::Stop, "haproxy", "node1") < at(Task::Stop, "vip", "node1"));
        assert!(at(Task::Stop, "vip", "node1") < at(Task::Start, "vip", "node2"));
        assert!(at(Task::Start, "vip", "node2") < at(Task::Start, "haproxy", "node2"));
        assert!(
            g.find(Task::Probe, Some("vip"), "node1").is_none(),
            "known there"
        );
        assert!(
            g.find(Task::Probe, Some("vip"), "node2").is_some(),
            "unknown there"
        );
    }

    #[test]
    fn a_loop_of_orders_is_reported_not_hidden() {
        let mut g = Graph::default();
        let a = g.add(Task::Start, Some("a"), "n");
        let b = g.add(Task::Start, Some("b"), "n");
        g.edge(a, b);
        assert_eq!(g.order(), Some(vec![a, b]));
        g.edge(b, a);
        assert_eq!(g.order(), None);
    }
}
