//! The scheduler: a pure function from a [`Cib`] to a [`Transition`].
//!
//! It decides where each resource should run given the scores (location,
//! stickiness, colocation, failures, node availability) and what must
//! change.
//!
//! It handles primitives, groups, clones (anonymous and unique; clone-max,
//! clone-node-max, clone-min, interleave) and promotable clones (promotion
//! scores, promoted-max and promoted-node-max), with locations (node
//! scores, rules on node attributes, dates and `#uname`, score-attribute),
//! stickiness, mandatory and advisory colocation with Pacemaker's score
//! merging, roles, orders (restarts after a required start, stops after an
//! unrunnable one, one or more, asymmetrical), node-attribute colocation,
//! resource sets, tags and templates, tickets, failures (recovery,
//! migration-threshold, failure-timeout, on-fail including demote and
//! block, hard and fatal errors, failed stops and migrations), orphans,
//! multiply active resources, live migration, node states as Pacemaker
//! reads them (fencing of unclean nodes, unfencing), Pacemaker Remote and
//! guest nodes (connections, resets, containers), node health, standby,
//! maintenance, no-quorum-policy (stop, freeze, demote, ignore), the
//! utilization placement strategies, and definition changes (parameter
//! digests: restart or reload). Bundles are [`Unsupported`].
//!
//! The decisions come as crm_simulate's summary states them ([`Change`])
//! and as the graph of actions that carries them out ([`Graph`]: probes,
//! fencing, stops, starts, promotions, migrations, reloads, monitors, and
//! their orderings), for the executor to run.

mod assign;
mod definition;
mod expand;
mod graph;
mod history;
mod index;
mod nodes;
mod promotion;

use std::collections::{BTreeMap, BTreeSet};

use crate::cib::{Cib, Constraint, LossPolicy, NoQuorumPolicy, Primitive, Role};
use crate::score::Score;
use assign::{Assigner, Step};
use definition::Definition;
pub(crate) use definition::digest;
use expand::Flat;
pub(crate) use expand::{CloneSet, flag, flatten};
pub use graph::{Action, Graph, Task};
use history::strip;
pub(crate) use history::{Current, Histories, current, histories};
use nodes::attribute;
pub(crate) use nodes::{Nodes, nodes};

/// A decision, as crm_simulate's Transition Summary states it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Fence a node.
    Fence {
        /// The node.
        node: String,
        /// Why.
        reason: String,
        /// For a guest node, the container recovered to reset it.
        container: Option<String>,
        /// Unfencing (`on`: the node is given access to shared storage)
        /// rather than a reboot.
        unfence: bool,
    },
    /// Start on a node.
    Start {
        /// Resource.
        rsc: String,
        /// Node.
        node: String,
    },
    /// Stop on a node.
    Stop {
        /// Resource.
        rsc: String,
        /// Node.
        node: String,
        /// Why, if Pacemaker says.
        reason: Option<String>,
        /// The role it stops from (a promotable clone's instance).
        role: Option<Role>,
    },
    /// Move between nodes.
    Move {
        /// Resource.
        rsc: String,
        /// From.
        from: String,
        /// To.
        to: String,
        /// Its role before and after (a promotable clone's instance).
        roles: Option<(Role, Role)>,
        /// Why, when it is not the plain move (a migration that could not
        /// be).
        reason: Option<String>,
    },
    /// Recover a failed resource (same or another node).
    Recover {
        /// Resource.
        rsc: String,
        /// Where it failed.
        from: String,
        /// Where it will run.
        to: String,
        /// Its role before and after (a promotable clone's instance).
        roles: Option<(Role, Role)>,
    },
    /// Live-migrate between nodes (`allow-migrate`).
    Migrate {
        /// Resource.
        rsc: String,
        /// From.
        from: String,
        /// To.
        to: String,
    },
    /// Promote an instance (starting it first if stopped).
    Promote {
        /// Resource.
        rsc: String,
        /// Node.
        node: String,
        /// Its role now: Stopped or Unpromoted.
        from: Role,
    },
    /// Demote an instance.
    Demote {
        /// Resource.
        rsc: String,
        /// Node.
        node: String,
    },
    /// A start that cannot happen, listed with why.
    Blocked {
        /// Resource.
        rsc: String,
        /// The node it would start on.
        node: String,
        /// Why it may not.
        reason: String,
    },
    /// Reload changed parameters without a restart (the agent's reload).
    Reload {
        /// Resource.
        rsc: String,
        /// Node.
        node: String,
    },
    /// Stop and start again on the same node.
    Restart {
        /// Resource.
        rsc: String,
        /// Node.
        node: String,
        /// Why.
        reason: Option<String>,
        /// Its role (a promotable clone's instance).
        role: Option<Role>,
    },
}

/// What the scheduler decided.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Transition {
    /// The changes, in the order crm_simulate lists them.
    pub changes: Vec<Change>,
    /// The actions that carry them out, with their orderings.
    pub graph: Graph,
    /// The node scores each primitive was assigned by, by primitive and
    /// node (crm_simulate's allocation scores).
    pub scores: BTreeMap<String, BTreeMap<String, Score>>,
    /// The nodes found unclean in the status (lost, or with resources
    /// thought active while down), as the current status shows them.
    pub unclean: Vec<String>,
}

/// A CIB using something the scheduler does not handle.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Unsupported {
    /// A bundle (containers).
    #[error("not supported yet: bundles")]
    Bundles,
    /// A clone of a clone, or of a bundle.
    #[error("not supported yet: clones of clones or bundles")]
    NestedClone,
    /// A `placement-strategy` other than default, utilization, balanced
    /// and minimal.
    #[error("not supported yet: placement-strategy {0}")]
    PlacementStrategy(String),
    /// A constraint naming a resource the scheduler does not place.
    #[error("not supported yet: constraints on resources not scheduled yet")]
    ConstraintOnUnscheduled,
}

/// A location constraint's score on `node` (its node's, or its rule's,
/// which may come from a node attribute), if it covers the node.
fn location_score(cib: &Cib, c: &Constraint, node: &str) -> Option<Score> {
    let Constraint::Location {
        node: target,
        rule,
        score,
        ..
    } = c
    else {
        return None;
    };
    match (target, rule) {
        (Some(target), _) => (target == node).then_some(*score),
        (None, Some(rule)) => {
            let attribute = |name: &str| attribute(cib, node, name).map(str::to_owned);
            rule.holds(&attribute, cib.now)
                .then(|| rule.score(*score, &attribute))
        }
        (None, None) => None,
    }
}

/// `failure-timeout` in seconds (0 or unset: failures never expire).
pub(crate) fn failure_timeout(p: &Primitive) -> Option<i64> {
    let ms = crate::cib::pacemaker_ms(p.meta.get("failure-timeout")?)?;
    (ms > 0).then_some(ms.div_ceil(1000) as i64)
}

fn meta_score(p: &Primitive, key: &str, default: Score) -> Score {
    p.meta
        .get(key)
        .and_then(|v| Score::parse(v))
        .unwrap_or(default)
}

/// Schedules `cib`.
pub fn schedule(cib: &Cib) -> Result<Transition, Unsupported> {
    let Flat {
        primitives: mut owned,
        constraints,
        mut clones,
        groups,
    } = flatten(cib)?;
    // What the nodes ran, and the orphans: resources no longer configured
    // get a primitive of their own, to be stopped (stop-orphan-resources)
    // or left alone.
    let configured: BTreeSet<String> = owned.iter().map(|p| p.id.clone()).collect();
    let history = histories(
        cib,
        &mut clones,
        &configured.iter().map(String::as_str).collect(),
    );
    for id in &history.orphans {
        let base = strip(id);
        // An instance beyond what its clone allows is stopped whatever
        // stop-orphan-resources says (that is for resources no longer
        // configured).
        let instance = clones
            .iter()
            .flat_map(|c| &c.members)
            .find(|m| m.id == base);
        let mut p = instance.cloned().unwrap_or_else(|| Primitive {
            id: String::new(),
            agent: String::new(),
            params: BTreeMap::new(),
            operations: Vec::new(),
            meta: BTreeMap::new(),
            on_fail: BTreeMap::new(),
            utilization: BTreeMap::new(),
        });
        p.id = id.clone();
        if instance.is_none() && !cib.options.stop_orphan_resources {
            p.meta.insert("is-managed".into(), "false".into());
        }
        owned.push(p);
    }
    let orphans: BTreeSet<&str> = history.orphans.iter().map(String::as_str).collect();
    let known: BTreeSet<(String, String)> = history.ops.keys().cloned().collect();
    let clones = clones;
    let primitives: Vec<&Primitive> = owned.iter().collect();
    let strategy = cib.options.placement_strategy.as_str();
    if !matches!(strategy, "default" | "utilization" | "balanced" | "minimal") {
        return Err(Unsupported::PlacementStrategy(
            cib.options.placement_strategy.clone(),
        ));
    }
    let ids: BTreeSet<&str> = primitives
        .iter()
        .map(|p| p.id.as_str())
        .chain(clones.iter().map(|c| c.id.as_str()))
        .chain(groups.keys().map(String::as_str))
        .collect();
    // Anonymous clone instances share the child's fail counts.
    let anonymous: BTreeSet<&str> = clones
        .iter()
        .filter(|c| !c.unique)
        .flat_map(|c| c.instances.iter().flatten().map(String::as_str))
        .collect();
    for c in &constraints {
        let refs: Vec<&str> = match c {
            Constraint::Location { rsc, .. } | Constraint::Ticket { rsc, .. } => vec![rsc],
            Constraint::Colocation { rsc, with, .. } => vec![rsc, with],
            Constraint::Order { first, then, .. } => vec![first, then],
        };
        if refs.iter().any(|r| !ids.contains(r)) {
            return Err(Unsupported::ConstraintOnUnscheduled);
        }
    }
    let index = index::Index::new(&constraints);
    let mut n = nodes(cib);
    let fencing = cib.options.stonith_enabled;
    let managed = |p: &Primitive| {
        !cib.options.maintenance_mode
            && flag(&p.meta, "is-managed", true)
            && !flag(&p.meta, "maintenance", false)
    };
    // Without quorum, no-quorum-policy=stop stops everything; =demote
    // stops all but promotable clones, which are demoted instead.
    let demoting =
        !cib.options.have_quorum && cib.options.no_quorum_policy == NoQuorumPolicy::Demote;
    let quorum_stop = demoting
        || !cib.options.have_quorum && cib.options.no_quorum_policy == NoQuorumPolicy::Stop;
    let promotable_ids: BTreeSet<&str> = clones
        .iter()
        .filter(|c| c.promotable.is_some())
        .flat_map(|c| c.instances.iter().flatten().map(String::as_str))
        .collect();
    let frozen = !cib.options.have_quorum && cib.options.no_quorum_policy == NoQuorumPolicy::Freeze;
    let fencing_missing =
        cib.options.stonith_enabled && !primitives.iter().any(|p| p.agent.starts_with("stonith:"));

    // Where each resource runs now, and its failures.
    let mut now: BTreeMap<&str, Vec<(String, Current)>> = BTreeMap::new();
    let mut not_installed: BTreeSet<(&str, String)> = BTreeSet::new();
    let mut stopped_by_failure: BTreeSet<&str> = BTreeSet::new();
    let mut fatal: BTreeSet<&str> = BTreeSet::new();
    // Remote nodes are up while their connection runs.
    let cluster_nodes = n.cluster();
    // Where a resource runs on the cluster nodes, and whether it failed.
    let on_cluster = |id: &str| -> Option<(&String, bool)> {
        let p = primitives.iter().find(|p| p.id == id)?;
        let mut state: Option<(&String, bool)> = None;
        for node in &cluster_nodes {
            if let Some(ops) = history.ops.get(&(id.to_owned(), node.clone())) {
                let timeout = failure_timeout(p);
                let c = current(ops, |op| match (cib.now, op.changed, timeout) {
                    (Some(now), Some(at), Some(t)) => at.saturating_add(t) <= now,
                    _ => false,
                });
                if c.running {
                    state = Some((node, state.is_some_and(|(_, f)| f) || c.failed));
                }
            }
        }
        state
    };
    let connection_state = |id: &str| on_cluster(id).map(|(_, failed)| failed);
    // A connection that is not configured (an orphan) does not stay.
    let connection_stopping = |id: &str| {
        orphans.contains(id)
            || !primitives.iter().any(|p| p.id == id)
            || primitives.iter().any(|p| {
                p.id == id
                    && (cib.options.stop_all_resources
                        || p.meta.get("target-role").and_then(|r| Role::parse(r))
                            == Some(Role::Stopped))
            })
    };
    n.bring_up_remotes(cib, connection_state, connection_stopping);
    // A remote connection that failed (with no reconnect interval to wait
    // out) leaves the remote node in an unknown state: it is fenced.
    for (node, connection) in n.remote.clone() {
        let waits = primitives
            .iter()
            .any(|p| p.id == connection && p.meta.contains_key("reconnect_interval"));
        // (One that never started leaves nothing behind.)
        let failed_start = cluster_nodes.iter().any(|h| {
            history
                .ops
                .get(&(connection.clone(), h.clone()))
                .is_some_and(|ops| current(ops, |_| false).failed_start)
        });
        if !n.guests.contains_key(&node)
            && connection_state(&connection) == Some(true)
            && !waits
            && !failed_start
        {
            n.fence(&node, "remote connection is unrecoverable".into());
        }
    }
    // A guest whose container failed, or whose host is lost, is reset: its
    // container is recovered, and what ran on it recovers with it.
    let mut reset_guests: BTreeMap<String, String> = BTreeMap::new();
    for (guest, container) in n.guests.clone() {
        let reset = match on_cluster(&container) {
            Some((host, failed)) => failed || n.is_unclean(host),
            // Its connection up without it: the container was lost.
            None => on_cluster(&guest).is_some(),
        };
        if reset {
            n.fence(&guest, "guest is unclean".into());
            reset_guests.insert(guest, container);
        }
    }
    for p in &primitives {
        for node in &n.names.clone() {
            // Whose history counts: a node that is up; one that is down
            // where fencing can tell; a remote node being reset or fenced,
            // or whose configured connection may come back (a guest only
            // while up).
            let readable = match n.remote.get(node) {
                None => n.online.contains(node) || fencing,
                Some(connection) => {
                    n.online.contains(node)
                        || reset_guests.contains_key(node)
                        || n.is_unclean(node)
                        || !n.guests.contains_key(node)
                            && !orphans.contains(connection.as_str())
                            && primitives.iter().any(|p| &p.id == connection)
                }
            };
            if !readable {
                continue;
            }
            if let Some(ops) = history.ops.get(&(p.id.clone(), node.clone())) {
                let timeout = failure_timeout(p);
                let mut c = current(ops, |op| match (cib.now, op.changed, timeout) {
                    (Some(now), Some(at), Some(t)) => at.saturating_add(t) <= now,
                    _ => false,
                });
                if c.running {
                    c.definition = definition::definition(ops, &p.params);
                    // The agent the node ran it with, if recorded.
                    let ran = cib
                        .status
                        .get(node)
                        .and_then(|s| s.agents.get(&p.id).or_else(|| s.agents.get(strip(&p.id))));
                    if ran.is_some_and(|a| a != &p.agent) {
                        c.definition = Definition::Agent;
                    }
                }
                if c.failures
                    .iter()
                    .any(|op| p.on_fail.get(*op).is_some_and(|f| f == "stop"))
                {
                    stopped_by_failure.insert(p.id.as_str());
                }
                if c.fatal {
                    fatal.insert(p.id.as_str());
                }
                if c.not_installed || c.hard {
                    not_installed.insert((p.id.as_str(), node.clone()));
                }
                // (A remote node waits for its connection: see below.)
                if c.running
                    && !n.online.contains(node)
                    && !n.is_unclean(node)
                    && !n.maintenance.contains(node)
                    && !n.remote.contains_key(node)
                    && managed(p)
                {
                    n.fence(node, format!("{} is thought to be active there", p.id));
                }
                if c.running && reset_guests.contains_key(node) {
                    // What ran on a guest being reset starts again.
                    c.failed = true;
                } else if c.running
                    && n.is_unclean(node)
                    && !n.guests.values().any(|container| container == &p.id)
                {
                    // Fencing ends whatever failed there (a guest's
                    // container that failed is recovered: its guest is
                    // reset).
                    c.failed = false;
                    c.failed_start = false;
                }
                if c.running {
                    now.entry(p.id.as_str())
                        .or_default()
                        .push((node.clone(), c));
                }
            }
        }
    }
    // A failed migration may have left the resource running on its target
    // too (unless the target has news since): it is restarted there.
    for ((rsc, source), ops) in &history.ops {
        if !ops.iter().any(|o| o.name == "migrate_to" && o.rc != 0)
            || !cluster_nodes.contains(source)
        {
            continue;
        }
        let Some(p) = primitives.iter().find(|p| &p.id == rsc) else {
            continue;
        };
        {
            let Some(failed) = ops
                .iter()
                .filter(|o| o.name == "migrate_to" && o.rc != 0 && o.call_id >= 0)
                .max_by_key(|o| o.call_id)
            else {
                continue;
            };
            let Some(target) = failed.migrate_target.as_ref() else {
                continue;
            };
            let Some(there) = history.ops.get(&(p.id.clone(), target.clone())) else {
                continue;
            };
            let newer = there
                .iter()
                .any(|o| o.changed.zip(failed.changed).is_some_and(|(a, b)| a > b));
            let known = now
                .get(p.id.as_str())
                .is_some_and(|v| v.iter().any(|(at, _)| at == target));
            if !newer && !known && n.online.contains(target) {
                now.entry(p.id.as_str()).or_default().push((
                    target.clone(),
                    Current {
                        running: true,
                        dangling: true,
                        ..Current::default()
                    },
                ));
            }
        }
    }
    // A guest whose host turned out to be lost (a resource thought active
    // there) is reset too; what ran on it recovers.
    for (guest, container) in n.guests.clone() {
        if reset_guests.contains_key(&guest) {
            continue;
        }
        let Some((host, _)) = on_cluster(&container) else {
            continue;
        };
        if !n.is_unclean(host) {
            continue;
        }
        n.fence(&guest, "guest is unclean".into());
        for p in &primitives {
            let entries = now.entry(p.id.as_str()).or_default();
            if let Some((_, c)) = entries.iter_mut().find(|(at, _)| at == &guest) {
                // Read already (the guest was up).
                c.failed = true;
            } else if let Some(ops) = history.ops.get(&(p.id.clone(), guest.clone())) {
                let mut c = current(ops, |_| false);
                if c.running {
                    c.failed = true;
                    entries.push((guest.clone(), c));
                }
            }
            if entries.is_empty() {
                now.remove(p.id.as_str());
            }
        }
        reset_guests.insert(guest, container);
    }
    // The container of a reset guest that ran resources is recovered.
    for (guest, container) in &reset_guests {
        let ran = now
            .iter()
            .any(|(id, v)| *id != container.as_str() && v.iter().any(|(at, _)| at == guest));
        if ran && let Some(v) = now.get_mut(container.as_str()) {
            for (_, c) in v.iter_mut() {
                c.failed = true;
            }
        }
    }
    // on-fail: ignore (as if healthy), block (leave it alone), stop (and
    // keep it stopped); restart is what recovery does anyway.
    let mut blocked: BTreeSet<&str> = BTreeSet::new();
    let mut demoted: BTreeSet<String> = BTreeSet::new();
    // Failures ignored (on-fail=ignore): migration-threshold does not apply.
    let mut failure_ignored: BTreeSet<&str> = BTreeSet::new();
    // Containers restarted for what failed inside them.
    let mut container_restarts: BTreeSet<String> = BTreeSet::new();
    for p in &primitives {
        for (node, c) in now.get_mut(p.id.as_str()).into_iter().flatten() {
            let Some(op) = c.failed_op.filter(|_| c.failed) else {
                continue;
            };
            // A failed stop leaves the resource in an unknown state: the
            // node is fenced, or without fencing the resource is blocked.
            // What runs in a container fails by restarting the container.
            let filler = p
                .meta
                .get("container")
                .filter(|c| !n.guests.values().any(|g| g == *c));
            let default = match op {
                _ if filler.is_some() => Some("restart-container"),
                "stop" if fencing => Some("fence"),
                "stop" => Some("block"),
                _ => None,
            };
            match p.on_fail.get(op).map(String::as_str).or(default) {
                Some("restart-container") if filler.is_some() => {
                    container_restarts.extend(filler.cloned());
                    if op == "stop" {
                        // Stopped with the container.
                        c.running = false;
                        c.failed = false;
                    }
                }
                Some("fence") if fencing => n.fence(node, format!("{} failed there", p.id)),
                Some("ignore") if !c.hard => {
                    c.failed = false;
                    c.failed_start = false;
                    failure_ignored.insert(p.id.as_str());
                }
                Some("block") => {
                    blocked.insert(p.id.as_str());
                }
                Some("stop") => {
                    stopped_by_failure.insert(p.id.as_str());
                }
                // A promoted instance that fails is demoted, not recovered.
                Some("demote") if c.promoted && !c.hard => {
                    c.failed = false;
                    demoted.insert(p.id.clone());
                }
                _ => {}
            }
        }
    }
    for v in now.values_mut() {
        v.retain(|(_, c)| c.running);
    }
    now.retain(|_, v| !v.is_empty());
    // The nodes found unclean in reading the status (the status shows
    // them so; those fenced for what is decided below are not).
    let mut unclean: Vec<String> = n.unclean.iter().map(|(node, _)| node.clone()).collect();
    // Tickets (per primitive, as Pacemaker applies them to each child):
    // without its ticket a resource may not run; one running when the
    // ticket is lost meets the loss-policy. A ticket for the promoted role
    // only keeps instances from promotion (see promotion.rs), unless its
    // loss-policy is stop; its fence and freeze touch promoted instances.
    let mut ticket_banned: BTreeSet<&str> = BTreeSet::new();
    for c in &constraints {
        let Constraint::Ticket {
            rsc,
            ticket,
            loss_policy,
            promoted_only,
            ..
        } = c
        else {
            continue;
        };
        let state = cib.tickets.get(ticket).copied().unwrap_or_default();
        if state.allows() {
            continue;
        }
        let current = now.get(rsc.as_str()).map_or(&[][..], Vec::as_slice);
        let in_role = !*promoted_only || current.iter().any(|(_, c)| c.promoted);
        if !state.granted && !current.is_empty() {
            match loss_policy {
                LossPolicy::Stop => {
                    ticket_banned.insert(rsc.as_str());
                }
                LossPolicy::Demote => {
                    if !*promoted_only {
                        ticket_banned.insert(rsc.as_str());
                    }
                }
                LossPolicy::Fence if in_role => {
                    for (node, _) in current {
                        n.fence(node, "deadman ticket was lost".into());
                    }
                    ticket_banned.insert(rsc.as_str());
                }
                LossPolicy::Freeze if in_role => {
                    blocked.insert(rsc.as_str());
                }
                LossPolicy::Fence | LossPolicy::Freeze => {}
            }
        } else if !*promoted_only || *loss_policy == LossPolicy::Stop {
            ticket_banned.insert(rsc.as_str());
        }
    }
    // Without quorum (no-quorum-policy=stop) resources are placed as
    // usual, but may not start, and stop where they run.
    let mut quorum_held: BTreeSet<&str> = BTreeSet::new();
    let health = nodes::health(cib, &n.names);
    // Scores.
    let mut scores: BTreeMap<&str, BTreeMap<String, Score>> = BTreeMap::new();
    // The scores on nodes that cannot run resources, as they would be.
    let mut unavailable: BTreeMap<String, BTreeMap<String, Score>> = BTreeMap::new();
    for p in &primitives {
        let mut s: BTreeMap<String, Score> = n
            .names
            .iter()
            .map(|node| {
                (
                    node.clone(),
                    // A guest's connection goes wherever its container
                    // does, even in an opt-in cluster.
                    if cib.options.symmetric || n.guests.contains_key(&p.id) {
                        Score::ZERO
                    } else {
                        Score::MINUS_INFINITY
                    },
                )
            })
            .collect();
        for c in index.of(&p.id) {
            // Role-specific locations weigh promotion, not placement.
            if let Constraint::Location {
                rsc, role: None, ..
            } = c
            {
                if rsc != &p.id {
                    continue;
                }
                for (name, value) in s.iter_mut() {
                    if let Some(score) = location_score(cib, c, name) {
                        // Opt-in clusters: a location is the permission.
                        if !cib.options.symmetric
                            && *value == Score::MINUS_INFINITY
                            && score != Score::MINUS_INFINITY
                        {
                            *value = score;
                        } else {
                            *value = value.add(score);
                        }
                    }
                }
            }
        }
        // Node health weighs on every resource (a bad one not on those
        // allowed on unhealthy nodes).
        let unhealthy_ok = flag(&p.meta, "allow-unhealthy-nodes", false);
        for (node, h) in &health {
            if let Some(v) = s.get_mut(node)
                && !(unhealthy_ok && h.value() < 0)
            {
                *v = v.add(*h);
            }
        }
        // Exclusive discovery: only the nodes such a location covers.
        let exclusive: Vec<&Constraint> = index
            .of(&p.id)
            .filter(
                |c| matches!(c, Constraint::Location { rsc, exclusive: true, .. } if rsc == &p.id),
            )
            .collect();
        if !exclusive.is_empty() {
            for (name, value) in s.iter_mut() {
                if !exclusive
                    .iter()
                    .any(|c| location_score(cib, c, name).is_some())
                {
                    *value = Score::MINUS_INFINITY;
                }
            }
        }
        let stickiness = meta_score(p, "resource-stickiness", Score::ZERO);
        let threshold = meta_score(p, "migration-threshold", Score::INFINITY);
        for (node, c) in now.get(p.id.as_str()).into_iter().flatten() {
            if !c.failed
                && let Some(v) = s.get_mut(node)
            {
                *v = v.add(stickiness);
            }
        }
        for node in &n.names {
            let status = cib.status.get(node);
            let mut failcount = Score::ZERO;
            let outdated = history
                .ops
                .get(&(p.id.clone(), node.clone()))
                .is_some_and(|ops| definition::failure_outdated(ops, &p.params));
            if let Some(st) = status.filter(|_| !outdated) {
                for (k, v) in &st.attributes {
                    let name = k.strip_prefix("fail-count-").unwrap_or_default();
                    let name = name.split('#').next().unwrap_or_default();
                    // A container's failures include those of what runs
                    // inside it.
                    let matches = if anonymous.contains(p.id.as_str()) {
                        strip(name) == strip(&p.id)
                    } else {
                        name == p.id
                            || primitives
                                .iter()
                                .any(|f| f.id == name && f.meta.get("container") == Some(&p.id))
                    };
                    // A fail count expires with its last failure.
                    let last = k
                        .strip_prefix("fail-count-")
                        .and_then(|rest| st.attributes.get(&format!("last-failure-{rest}")))
                        .and_then(|t| t.parse::<i64>().ok());
                    let expired = match (cib.now, last, failure_timeout(p)) {
                        (Some(now), Some(at), Some(t)) => at.saturating_add(t) <= now,
                        _ => false,
                    };
                    if matches && !expired {
                        failcount = failcount.add(Score::parse(v).unwrap_or(Score::ZERO));
                    }
                }
            }
            // (start-failure-is-fatal acts where failures are recorded: a
            // failed start's fail count is set to INFINITY, as Pacemaker's
            // controller does; the scheduler reads fail counts.)
            let banned = (threshold.value() > 0
                && failcount.value() >= threshold.value()
                && !failure_ignored.contains(p.id.as_str()))
                // (An anonymous clone's agent missing on a node is missing
                // for every instance.)
                || not_installed.iter().any(|(id, at)| {
                    at == node
                        && (*id == p.id
                            || anonymous.contains(p.id.as_str()) && strip(id) == strip(&p.id))
                });
            if banned || !n.available.contains(node) {
                // Pacemaker keeps a node that cannot run resources out of
                // the choice, not out of the scores it shows.
                if !banned && let Some(v) = s.get(node) {
                    unavailable
                        .entry(p.id.clone())
                        .or_default()
                        .insert(node.clone(), *v);
                }
                s.insert(node.clone(), Score::MINUS_INFINITY);
            }
        }
        // Fencing devices need quorum too, unless "requires" is "nothing".
        let needs_quorum = p.meta.get("requires").is_none_or(|r| r != "nothing");
        if quorum_stop && needs_quorum && !(demoting && promotable_ids.contains(p.id.as_str())) {
            quorum_held.insert(p.id.as_str());
        }
        if p.meta.get("target-role").and_then(|r| Role::parse(r)) == Some(Role::Stopped)
            || cib.options.stop_all_resources
            || stopped_by_failure.contains(p.id.as_str())
            || ticket_banned.contains(p.id.as_str())
            || fatal.contains(p.id.as_str())
            || orphans.contains(p.id.as_str())
        {
            for v in s.values_mut() {
                *v = Score::MINUS_INFINITY;
            }
            unavailable.remove(&p.id);
        }
        // Connections to remote nodes, guests' containers and fencing
        // devices run on cluster nodes.
        if p.agent == "ocf:pacemaker:remote"
            || n.remote.contains_key(&p.id)
            || p.meta.contains_key("remote-node")
            || p.agent.starts_with("stonith:")
        {
            for (node, v) in s.iter_mut() {
                if n.remote.contains_key(node) {
                    *v = Score::MINUS_INFINITY;
                }
            }
        }
        // An unmanaged (or blocked) resource stays where it is: stopped, it
        // starts nowhere.
        if !managed(p) || blocked.contains(p.id.as_str()) {
            let here: Vec<&String> = now
                .get(p.id.as_str())
                .into_iter()
                .flatten()
                .map(|(node, _)| node)
                .collect();
            for (node, v) in s.iter_mut() {
                if !here.contains(&node) {
                    *v = Score::MINUS_INFINITY;
                }
            }
        }
        scores.insert(p.id.as_str(), s);
    }
    // Assignment: primaries before their dependents, else by priority
    // and CIB order; a clone's instances together.
    let mut by_priority = primitives.clone();
    by_priority.sort_by_key(|p| std::cmp::Reverse(meta_score(p, "priority", Score::ZERO)));
    if strategy != "default" {
        // With utilization, resources go in order of their preference:
        // the score where they run, then their scores node by node.
        let score = |p: &Primitive, node: &str| {
            scores
                .get(p.id.as_str())
                .and_then(|s| s.get(node))
                .copied()
                .unwrap_or(Score::MINUS_INFINITY)
        };
        let here = |p: &Primitive| {
            now.get(p.id.as_str())
                .and_then(|v| v.first())
                .map_or(Score::MINUS_INFINITY, |(node, _)| score(p, node))
        };
        let mut node_order = n.names.clone();
        node_order.sort();
        by_priority.sort_by(|a, b| {
            meta_score(b, "priority", Score::ZERO)
                .cmp(&meta_score(a, "priority", Score::ZERO))
                .then_with(|| here(b).cmp(&here(a)))
                .then_with(|| {
                    node_order
                        .iter()
                        .map(|node| score(b, node).cmp(&score(a, node)))
                        .find(|o| o.is_ne())
                        .unwrap_or(std::cmp::Ordering::Equal)
                })
        });
    }
    // Remote connections first: where they go decides which remote nodes
    // stay up.
    by_priority.sort_by_key(|p| !n.remote.contains_key(&p.id));
    let priority_of = |id: &str| {
        primitives
            .iter()
            .find(|p| p.id == id)
            .map_or(Score::ZERO, |p| meta_score(p, "priority", Score::ZERO))
    };
    let fixed: BTreeSet<String> = primitives
        .iter()
        .filter(|p| !managed(p) || blocked.contains(p.id.as_str()))
        .map(|p| p.id.clone())
        .collect();
    let steps = assign::plan(
        by_priority.iter().map(|p| p.id.as_str()),
        &index,
        &clones,
        &priority_of,
    );
    let mut assigner = Assigner {
        cib,
        nodes: &n,
        by_id: primitives.iter().map(|p| (p.id.as_str(), *p)).collect(),
        index: &index,
        clones: &clones,
        scores,
        now: &now,
        strategy,
        placed: BTreeMap::new(),
        load: BTreeMap::new(),
        used: BTreeMap::new(),
        instances_on: BTreeMap::new(),
        known: &known,
        promoted: BTreeSet::new(),
        known_as: &history.known_as,
        demoted: &demoted,
        fixed: &fixed,
        shown: BTreeMap::new(),
    };
    // A remote node whose connection goes nowhere is down for the rest
    // (Pacemaker's remote_connection_assigned).
    let connections_done = steps
        .iter()
        .rposition(|s| matches!(s, Step::One(id) if n.remote.values().any(|c| c == id)));
    for (k, step) in steps.into_iter().enumerate() {
        match step {
            Step::One(id) => {
                assigner.place(id, None, None);
            }
            Step::Clone(ci) => assigner.place_clone(ci),
        }
        if Some(k) == connections_done {
            for (node, connection) in &n.remote {
                if assigner.placed.get(connection).cloned().flatten().is_none() {
                    for s in assigner.scores.values_mut() {
                        if let Some(v) = s.get_mut(node) {
                            *v = Score::MINUS_INFINITY;
                        }
                    }
                }
            }
        }
    }
    let placed = assigner.placed;
    let promoted = assigner.promoted;
    let mut shown = assigner.shown;
    for (rsc, nodes) in unavailable {
        let Some(table) = shown.get_mut(&rsc) else {
            continue;
        };
        for (node, v) in nodes {
            if let Some(x) = table.get_mut(&node)
                && *x == Score::MINUS_INFINITY
            {
                *x = v;
            }
        }
    }
    // A remote node whose connection is down and can go nowhere, with
    // resources active there, is fenced.
    for (node, connection) in n.remote.clone() {
        if n.guests.contains_key(&node)
            || on_cluster(&connection).is_some()
            || placed.get(connection.as_str()).cloned().flatten().is_some()
            || n.is_unclean(&node)
        {
            continue;
        }
        let active = primitives.iter().find(|p| {
            now.get(p.id.as_str())
                .is_some_and(|v| v.iter().any(|(at, _)| at == &node))
        });
        if let Some(p) = active {
            n.fence(
                &node,
                format!(
                    "{} is active there (fencing will be revoked if remote connection can be re-established elsewhere)",
                    p.id
                ),
            );
            // (Pacemaker finds this in reading the status: it shows.)
            unclean.push(node.clone());
        }
    }
    // A connection whose host is lost and that can go nowhere else cannot
    // be recovered: a remote node with resources active is fenced.
    for (node, connection) in n.remote.clone() {
        let Some((host, _)) = on_cluster(&connection) else {
            continue;
        };
        let active_there = now.values().any(|v| v.iter().any(|(at, _)| at == &node));
        if !n.guests.contains_key(&node)
            && n.is_unclean(host)
            && placed.get(connection.as_str()).cloned().flatten().is_none()
            && active_there
        {
            n.fence(
                &node,
                "resources are active but connection is unrecoverable".into(),
            );
        }
    }
    let promotable_instances: BTreeSet<&str> = clones
        .iter()
        .filter(|c| c.promotable.is_some())
        .flat_map(|c| c.instances.iter().flatten().map(String::as_str))
        .collect();
    // Fencing where it can be done: with a device, and with quorum (or
    // no-quorum-policy=ignore, or the node still in our membership).
    let can_fence = |node: &str| {
        // A guest is reset by recovering its container.
        reset_guests.contains_key(node)
            || fencing
                && !fencing_missing
                && (cib.options.have_quorum
                    || cib.options.no_quorum_policy == NoQuorumPolicy::Ignore
                    || n.online.contains(node))
    };
    let mut changes: Vec<Change> = n
        .unclean
        .iter()
        .filter(|(node, _)| can_fence(node))
        .map(|(node, reason)| Change::Fence {
            node: node.clone(),
            reason: reason.clone(),
            container: reset_guests.get(node).cloned(),
            unfence: false,
        })
        .collect();
    // Unfencing: with a device that provides it, a node not yet unfenced
    // is unfenced before such a device is probed there.
    let unfencing: Vec<&str> = primitives
        .iter()
        .filter(|p| {
            p.agent.starts_with("stonith:")
                && p.meta.get("provides").is_some_and(|v| v == "unfencing")
        })
        .map(|p| p.id.as_str())
        .collect();
    if fencing && !unfencing.is_empty() {
        for node in cluster_nodes.iter().filter(|x| n.online.contains(*x)) {
            if attribute(cib, node, "#node-unfenced").is_some() {
                continue;
            }
            let probed = unfencing
                .iter()
                .find(|id| !known.contains(&((**id).to_owned(), node.clone())));
            if let Some(device) = probed {
                changes.push(Change::Fence {
                    node: node.clone(),
                    reason: format!("required by {device} monitor"),
                    container: None,
                    unfence: true,
                });
            }
        }
    }
    // A stop on an unclean node nobody may fence cannot be done (nor
    // assumed done).
    let blocked_on = |node: &str| {
        if n.is_unclean(node) && !can_fence(node) {
            " (blocked)"
        } else {
            ""
        }
    };
    // Changes, resource by resource in CIB order.
    let starts_blocked = frozen || fencing_missing;
    let mut actions: BTreeMap<&str, Change> = BTreeMap::new();
    // Further lines for a resource (stops on each node it is active on).
    let mut extra: Vec<Change> = Vec::new();
    // The copies of a resource active on several nodes that its change
    // (a restart, recovery or move) does not name: stopped too, before it
    // starts again (the summary does not list them; the graph has them).
    let mut copies: Vec<(String, String)> = Vec::new();
    for p in &primitives {
        let id = p.id.as_str();
        let mut here = now.get(id).cloned().unwrap_or_default();
        // A copy on a node being fenced is stopped by the fencing: with
        // one copy left elsewhere, it is not active on several nodes.
        if here.len() > 1 {
            let live: Vec<(String, Current)> = here
                .iter()
                .filter(|(node, _)| !(n.is_unclean(node) && can_fence(node)))
                .cloned()
                .collect();
            if live.len() == 1 {
                here = live;
            }
        }
        let mut target = placed.get(id).cloned().flatten();
        if !managed(p)
            || blocked.contains(id)
            || here.iter().any(|(node, _)| n.maintenance.contains(node))
        {
            continue;
        }
        if starts_blocked && here.is_empty() {
            // Shown, but blocked: crm_simulate lists the start it may not do.
            if frozen && let Some(to) = target.take() {
                actions.insert(
                    id,
                    Change::Blocked {
                        rsc: id.into(),
                        node: to,
                        reason: "quorum freeze".into(),
                    },
                );
            }
            continue;
        }
        if quorum_held.contains(id) {
            let change = match (here.first(), target) {
                (None, Some(to)) => Some(Change::Blocked {
                    rsc: id.into(),
                    node: to,
                    reason: "no quorum".into(),
                }),
                (Some((from, c)), _) => Some(Change::Stop {
                    rsc: id.into(),
                    node: from.clone(),
                    reason: Some(format!("no quorum{}", blocked_on(from))),
                    role: promotable_instances.contains(id).then_some(if c.promoted {
                        Role::Promoted
                    } else {
                        Role::Unpromoted
                    }),
                }),
                (None, None) => None,
            };
            if let Some(change) = change {
                actions.insert(id, change);
            }
            continue;
        }
        // A promotable instance's roles: running is Unpromoted unless
        // promoted; where it goes, Promoted if chosen.
        let promotable = promotable_instances.contains(id);
        // Remote connections migrate unless told not to, so a remote node
        // keeps its resources while its connection moves (a guest's goes
        // with its container).
        let migratable = flag(
            &p.meta,
            "allow-migrate",
            n.remote.contains_key(id) && !n.guests.contains_key(id),
        ) && !clones
            .iter()
            .any(|c| c.instances.iter().flatten().any(|m| m == id));
        let role_now = |c: &Current| match (promotable, c.promoted) {
            (false, _) => Role::Started,
            (true, true) => Role::Promoted,
            (true, false) => Role::Unpromoted,
        };
        let role_next = if !promotable {
            Role::Started
        } else if promoted.contains(id) {
            Role::Promoted
        } else {
            Role::Unpromoted
        };
        // Active on several nodes (multiple-active=stop_start): stopped
        // everywhere, started again where it belongs.
        if here.len() > 1 {
            if p.meta.get("multiple-active").is_some_and(|v| v == "block") {
                continue;
            }
            if let Some(to) = &target {
                let named = if here.iter().any(|(node, _)| node == to) {
                    to
                } else {
                    &here[0].0
                };
                copies.extend(
                    here.iter()
                        .filter(|(node, _)| node != named)
                        .map(|(node, _)| (id.to_owned(), node.clone())),
                );
            }
            match &target {
                None => {
                    for (from, c) in &here {
                        extra.push(Change::Stop {
                            rsc: id.into(),
                            node: from.clone(),
                            reason: Some("node availability".into()),
                            role: promotable.then(|| role_now(c)),
                        });
                    }
                }
                // A failed copy makes it a recovery.
                Some(to)
                    if here.iter().any(|(node, _)| node == to)
                        && here.iter().any(|(_, c)| c.failed) =>
                {
                    actions.insert(
                        id,
                        Change::Recover {
                            rsc: id.into(),
                            from: to.clone(),
                            to: to.clone(),
                            roles: None,
                        },
                    );
                }
                // stop_unexpected keeps it where it belongs, wherever that
                // is among the nodes it runs on.
                Some(to)
                    if to == &here[0].0
                        || p.meta
                            .get("multiple-active")
                            .is_some_and(|v| v == "stop_unexpected")
                            && here.iter().any(|(node, _)| node == to) =>
                {
                    actions.insert(
                        id,
                        Change::Restart {
                            rsc: id.into(),
                            node: to.clone(),
                            reason: None,
                            role: None,
                        },
                    );
                }
                Some(to) => {
                    actions.insert(
                        id,
                        Change::Move {
                            rsc: id.into(),
                            from: here[0].0.clone(),
                            to: to.clone(),
                            roles: None,
                            reason: None,
                        },
                    );
                }
            }
            continue;
        }
        let change = match (here.first(), &target) {
            (None, Some(to)) if role_next == Role::Promoted => Some(Change::Promote {
                rsc: id.into(),
                node: to.clone(),
                from: Role::Stopped,
            }),
            (None, Some(to)) => Some(Change::Start {
                rsc: id.into(),
                node: to.clone(),
            }),
            (Some((from, c)), None) => Some(Change::Stop {
                rsc: id.into(),
                node: from.clone(),
                // On an unclean node nobody may fence, the stop cannot be
                // done (nor assumed done).
                reason: Some(format!("node availability{}", blocked_on(from))),
                role: promotable.then(|| role_now(c)),
            }),
            (Some((from, c)), Some(to)) if from == to => {
                let now_role = role_now(c);
                if c.failed {
                    Some(Change::Recover {
                        rsc: id.into(),
                        from: from.clone(),
                        to: to.clone(),
                        roles: promotable.then_some((now_role, role_next)),
                    })
                } else if now_role == Role::Promoted && role_next != Role::Promoted {
                    Some(Change::Demote {
                        rsc: id.into(),
                        node: from.clone(),
                    })
                } else if now_role != Role::Promoted && role_next == Role::Promoted {
                    Some(Change::Promote {
                        rsc: id.into(),
                        node: from.clone(),
                        from: now_role,
                    })
                } else if c.dangling {
                    Some(Change::Restart {
                        rsc: id.into(),
                        node: from.clone(),
                        reason: None,
                        role: None,
                    })
                } else {
                    match c.definition {
                        Definition::Same => None,
                        Definition::Reload => Some(Change::Reload {
                            rsc: id.into(),
                            node: from.clone(),
                        }),
                        Definition::Restart => Some(Change::Restart {
                            rsc: id.into(),
                            node: from.clone(),
                            reason: Some("resource definition change".into()),
                            role: promotable.then_some(now_role),
                        }),
                        Definition::Agent => Some(Change::Restart {
                            rsc: id.into(),
                            node: from.clone(),
                            reason: None,
                            role: promotable.then_some(now_role),
                        }),
                    }
                }
            }
            (Some((from, c)), Some(to)) => {
                let roles = promotable.then_some((role_now(c), role_next));
                Some(if c.failed {
                    Change::Recover {
                        rsc: id.into(),
                        from: from.clone(),
                        to: to.clone(),
                        roles,
                    }
                } else if migratable && n.online.contains(from) && !n.is_unclean(from) {
                    Change::Migrate {
                        rsc: id.into(),
                        from: from.clone(),
                        to: to.clone(),
                    }
                } else {
                    Change::Move {
                        rsc: id.into(),
                        from: from.clone(),
                        to: to.clone(),
                        roles,
                        reason: None,
                    }
                })
            }
            (None, None) => None,
        };
        if let Some(change) = change {
            actions.insert(id, change);
        }
    }
    // Mandatory ordering: a required start restarts what follows; an
    // unrunnable start stops it. A clone starts when any instance does and
    // is unrunnable when none can run; with interleave, an instance of a
    // clone depends only on the other clone's instance on its node.
    let clone_named = |id: &str| clones.iter().find(|c| c.id == id);
    // A running promotable instance's role, for the lines that show it.
    let role_of = |id: &str| {
        promotable_instances.contains(id).then(|| {
            match now.get(id).and_then(|v| v.first()).map(|(_, c)| c.promoted) {
                Some(true) => Role::Promoted,
                _ => Role::Unpromoted,
            }
        })
    };
    let node_of = |id: &str| {
        placed.get(id).cloned().flatten().or_else(|| {
            now.get(id)
                .and_then(|v| v.first())
                .map(|(node, _)| node.clone())
        })
    };
    // Active resources whose stop cannot happen: blocked, or unmanaged.
    let by_id: BTreeMap<&str, &Primitive> =
        primitives.iter().map(|p| (p.id.as_str(), *p)).collect();
    let stuck = |id: &str| {
        now.contains_key(id) && (blocked.contains(id) || by_id.get(id).is_some_and(|p| !managed(p)))
    };
    // What runs on a guest node comes after its container.
    let mut constraints = constraints.clone();
    for p in &primitives {
        let nodes_of = now
            .get(p.id.as_str())
            .into_iter()
            .flatten()
            .map(|(node, _)| node.clone())
            .chain(placed.get(p.id.as_str()).cloned().flatten());
        let firsts: BTreeSet<&String> = nodes_of.filter_map(|node| n.guests.get(&node)).collect();
        for first in firsts {
            constraints.push(Constraint::Order {
                id: format!("{first}-then-{}", p.id),
                first: first.clone(),
                then: p.id.clone(),
                mandatory: true,
                symmetrical: true,
                first_action: "start".into(),
                then_action: "start".into(),
                require_all: true,
            });
        }
    }
    let constraints = constraints;
    // A container restarted for what failed inside it.
    for container in &container_restarts {
        if actions.contains_key(container.as_str()) {
            continue;
        }
        let Some((node, _)) = now.get(container.as_str()).and_then(|v| v.first()) else {
            continue;
        };
        if placed.get(container.as_str()).cloned().flatten().as_ref() == Some(node) {
            let id = primitives
                .iter()
                .find(|p| &p.id == container)
                .map(|p| p.id.as_str());
            if let Some(id) = id {
                actions.insert(
                    id,
                    Change::Restart {
                        rsc: id.into(),
                        node: node.clone(),
                        reason: None,
                        role: None,
                    },
                );
            }
        }
    }
    // Interleaved instances kept inactive (their first is not beside them).
    let mut inactive: BTreeSet<String> = BTreeSet::new();
    // Until nothing changes: a stop or restart may itself be a first.
    for _ in 0..16 {
        let before = actions.clone();
        for c in &constraints {
            let Constraint::Order {
                id: order_id,
                first,
                then,
                mandatory: true,
                symmetrical,
                require_all,
                ..
            } = c
            else {
                continue;
            };
            let thens: Vec<&str> = match (clone_named(then), groups.get(then.as_str())) {
                (Some(set), _) => set.instances.iter().map(|i| i[0].as_str()).collect(),
                (None, Some(members)) => vec![members[0].as_str()],
                (None, None) => vec![then.as_str()],
            };
            let what = if clone_named(first).is_some() || groups.contains_key(first.as_str()) {
                " running"
            } else {
                " start"
            };
            let then_clone = clone_named(then);
            let c_then = then;
            // One or more (require-all=false, or clone-min on a first clone):
            // then may run once enough of the firsts can; firsts starting do
            // not restart it.
            let one_or_more = match clone_named(first) {
                Some(f) if !require_all || f.min.is_some() => {
                    Some((f.min.unwrap_or(1), format!("clone-one-or-more:{order_id}")))
                }
                Some(_) => None,
                None => (!require_all).then(|| (1, order_id.clone())),
            };
            let interleaved = clone_named(first).is_some()
                && then_clone.is_some_and(|t| t.interleave)
                && one_or_more.is_none();
            for then in thens {
                let firsts: Vec<&str> = match (clone_named(first), then_clone) {
                    (Some(f), Some(_)) if interleaved => {
                        let node = node_of(then);
                        f.instances
                            .iter()
                            .filter_map(|i| i.last())
                            .filter(|l| node.is_some() && node_of(l) == node)
                            .map(String::as_str)
                            .collect()
                    }
                    (Some(f), _) => f
                        .instances
                        .iter()
                        .filter_map(|i| i.last())
                        .map(String::as_str)
                        .collect(),
                    (None, _) if !require_all => constraints
                        .iter()
                        .filter_map(|o| match o {
                            Constraint::Order {
                                id, first, then: t, ..
                            } if id == order_id && t == c_then => Some(first.as_str()),
                            _ => None,
                        })
                        .collect(),
                    (None, _) => match groups.get(first.as_str()) {
                        Some(members) => vec![members[members.len() - 1].as_str()],
                        None => vec![first.as_str()],
                    },
                };
                // One or more is named by its pseudo action; an
                // interleaved first by the instance beside the then.
                let (first, what) = match &one_or_more {
                    None if interleaved && firsts.len() == 1 => (firsts[0], " start"),
                    None => (first.as_str(), what),
                    Some((_, name)) => (name.as_str(), ""),
                };
                // (A clone gaining instances does not restart what runs
                // after it: only instances that stop and start again do.)
                let clone_first = clone_named(first).is_some();
                let first_starts = one_or_more.is_none()
                    && firsts.iter().any(|f| match actions.get(f) {
                        Some(Change::Start { .. }) => !clone_first,
                        Some(
                            Change::Move { .. }
                            | Change::Migrate { .. }
                            | Change::Recover { .. }
                            | Change::Restart { .. },
                        ) => true,
                        _ => false,
                    });
                let runnable = firsts
                    .iter()
                    .filter(|f| {
                        // A blocked resource starts nowhere.
                        // (A first made to stop, or shown blocked, will
                        // not be running.)
                        placed.get(**f).cloned().flatten().is_some()
                            && !blocked.contains(**f)
                            && !inactive.contains(**f)
                            && !matches!(
                                actions.get(**f),
                                Some(Change::Blocked { .. } | Change::Stop { .. })
                            )
                    })
                    .count();
                let first_unrunnable = match &one_or_more {
                    Some((min, _)) => runnable < *min,
                    None => runnable == 0,
                };
                let then_running = now
                    .get(then)
                    .and_then(|v| v.first())
                    .map(|(node, _)| node.clone());
                // A first that was running and stops takes a symmetrical
                // then down with it; one that cannot start leaves a then that
                // needs starting (or recovering, or moving) stopped.
                let first_was_running =
                    one_or_more.is_none() && firsts.iter().any(|f| now.contains_key(f));
                // A then cannot migrate while a first it needs moves: its
                // migration would have to wait for that first's stop. (An
                // order to a group binds the group's pseudo-actions, which
                // leave its members free to migrate.)
                let first_moves = !groups.contains_key(c_then.as_str())
                    && firsts.iter().any(|f| {
                        matches!(
                            actions.get(f),
                            Some(
                                Change::Move { .. }
                                    | Change::Recover { .. }
                                    | Change::Restart { .. }
                            )
                        )
                    });
                if *symmetrical
                    && first_moves
                    && let Some(Change::Migrate { rsc, from, to }) = actions.get(then)
                {
                    let moved = Change::Move {
                        rsc: rsc.clone(),
                        from: from.clone(),
                        to: to.clone(),
                        roles: None,
                        reason: Some(format!("unrunnable {first} stop")),
                    };
                    actions.insert(then, moved);
                    continue;
                }
                match (then_running, actions.get(then)) {
                    (Some(_), None) if stuck(then) => {}
                    (Some(node), None) if first_unrunnable && *symmetrical => {
                        // A clone that cannot run for reasons of its own is
                        // "unrunnable"; one stopped by what it follows, or a
                        // primitive that was running, is "required".
                        let chained = firsts.iter().any(|f| {
                            matches!(actions.get(f), Some(Change::Stop { reason: Some(r), .. })
                                if r.starts_with("required ") || r.starts_with("unrunnable "))
                        });
                        let why = if first_was_running && (what != " running" || chained) {
                            "required"
                        } else {
                            "unrunnable"
                        };
                        // A group's second member, when the first stops
                        // for a required order (not one that cannot run),
                        // goes with the first's stop (Pacemaker reaches it
                        // through the stop ordering first).
                        let second = |f: &str, t: &str| {
                            groups
                                .values()
                                .chain(clones.iter().flat_map(|c| &c.instances))
                                .any(|m| m.len() > 1 && m[0] == f && m[1] == t)
                        };
                        let what = match actions.get(first) {
                            Some(Change::Stop {
                                reason: Some(r), ..
                            }) if second(first, then)
                                && r.starts_with("required ")
                                && r.ends_with(" running") =>
                            {
                                " stop"
                            }
                            _ => what,
                        };
                        actions.insert(
                            then,
                            Change::Stop {
                                rsc: then.to_owned(),
                                node,
                                reason: Some(format!("{why} {first}{what}")),
                                role: role_of(then),
                            },
                        );
                    }
                    (
                        Some(node),
                        Some(Change::Recover { .. } | Change::Move { .. } | Change::Migrate { .. }),
                    ) if first_unrunnable => {
                        actions.insert(
                            then,
                            Change::Stop {
                                rsc: then.to_owned(),
                                node,
                                reason: Some(format!("unrunnable {first}{what}")),
                                role: role_of(then),
                            },
                        );
                    }
                    (Some(node), None | Some(Change::Reload { .. })) if first_starts => {
                        actions.insert(
                            then,
                            Change::Restart {
                                rsc: then.to_owned(),
                                node,
                                reason: Some(format!("required {first}{what}")),
                                role: role_of(then),
                            },
                        );
                    }
                    (None, Some(Change::Start { .. }))
                        if first_unrunnable
                            && interleaved
                            && firsts.iter().all(|f| inactive.contains(*f)) =>
                    {
                        // No (active) instance of the first clone beside it:
                        // the instance is kept inactive, not shown.
                        actions.remove(then);
                        inactive.insert(then.to_owned());
                    }
                    (None, Some(Change::Start { node, .. })) if first_unrunnable => {
                        // Shown, but blocked.
                        let node = node.clone();
                        actions.insert(
                            then,
                            Change::Blocked {
                                rsc: then.to_owned(),
                                node,
                                reason: format!("unrunnable {first}{what}"),
                            },
                        );
                    }
                    _ => {}
                }
            }
        }
        if actions == before {
            break;
        }
    }
    // A stop that must wait for one that cannot happen (a blocked or
    // unmanaged resource staying active) is blocked too, and in turn
    // holds up what must stop after it.
    let mut held: BTreeSet<String> = now
        .keys()
        .filter(|id| stuck(id))
        .map(|id| (*id).to_owned())
        .collect();
    loop {
        let before = held.len();
        for c in &constraints {
            let Constraint::Order {
                first,
                then,
                mandatory: true,
                symmetrical,
                first_action,
                then_action,
                ..
            } = c
            else {
                continue;
            };
            let (waits_for, stopping) = match (first_action.as_str(), then_action.as_str()) {
                ("stop", "stop") => (first, then),
                ("start", "start") if *symmetrical => (then, first),
                _ => continue,
            };
            if !held.contains(waits_for.as_str()) {
                continue;
            }
            match actions.get_mut(stopping.as_str()) {
                Some(Change::Stop {
                    reason: Some(reason),
                    ..
                }) if !reason.ends_with("(blocked)") => {
                    reason.push_str(" (blocked)");
                    held.insert(stopping.clone());
                }
                // A move or recovery cannot leave where it is: it stays,
                // and what would start after its stop does not.
                Some(
                    Change::Move { rsc, from, .. }
                    | Change::Recover { rsc, from, .. }
                    | Change::Restart {
                        rsc, node: from, ..
                    },
                ) => {
                    let stuck_here = Change::Stop {
                        rsc: rsc.clone(),
                        node: from.clone(),
                        reason: Some(format!("unrunnable {waits_for} stop (blocked)")),
                        role: None,
                    };
                    actions.insert(stopping.as_str(), stuck_here);
                    held.insert(stopping.clone());
                }
                _ => {}
            }
        }
        if held.len() == before {
            break;
        }
    }
    // Listed as Pacemaker lists them: highest priority first, else in
    // configuration order (the widths of the summary's columns follow).
    let mut listing = primitives.clone();
    listing.sort_by_key(|p| std::cmp::Reverse(meta_score(p, "priority", Score::ZERO)));
    for p in &listing {
        if let Some(change) = actions.remove(p.id.as_str()) {
            changes.push(change);
        }
    }
    changes.extend(extra);
    // Probes: each primitive where nothing is known of it on an online
    // node not being fenced (an anonymous clone: one instance per node).
    let mut probes = Vec::new();
    let mut known_by_node: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (rsc, node) in &known {
        known_by_node
            .entry(node.as_str())
            .or_default()
            .insert(rsc.as_str());
    }
    let clone_of_instance: BTreeMap<&str, &expand::CloneSet> = clones
        .iter()
        .flat_map(|c| c.instances.iter().flatten().map(move |m| (m.as_str(), c)))
        .collect();
    for node in n
        .names
        .iter()
        .filter(|x| n.online.contains(*x) && !n.maintenance.contains(*x) && !n.is_unclean(x))
    {
        let known_here = known_by_node.get(node.as_str());
        let known_on = |id: &str| known_here.is_some_and(|k| k.contains(id));
        for p in &primitives {
            let id = p.id.as_str();
            let set = clone_of_instance.get(id).copied();
            let unknown = match set {
                Some(set) if !set.unique => {
                    let slot = set.instances.iter().position(|i| i.iter().any(|m| m == id));
                    slot == Some(0)
                        && !set
                            .instances
                            .iter()
                            .any(|i| i.iter().any(|m| strip(m) == strip(id) && known_on(m)))
                }
                _ => !known_on(id),
            };
            if unknown && !orphans.contains(id) {
                probes.push((id, node.as_str()));
            }
        }
    }
    // What stays where it runs, unchanged (its missing recurring monitors
    // are scheduled).
    let changed: BTreeSet<&str> = changes
        .iter()
        .filter_map(|c| match c {
            Change::Fence { .. } => None,
            Change::Start { rsc, .. }
            | Change::Stop { rsc, .. }
            | Change::Move { rsc, .. }
            | Change::Recover { rsc, .. }
            | Change::Restart { rsc, .. }
            | Change::Migrate { rsc, .. }
            | Change::Promote { rsc, .. }
            | Change::Demote { rsc, .. }
            | Change::Reload { rsc, .. }
            | Change::Blocked { rsc, .. } => Some(rsc.as_str()),
        })
        .chain(copies.iter().map(|(rsc, _)| rsc.as_str()))
        .collect();
    let staying = primitives
        .iter()
        .filter(|p| !changed.contains(p.id.as_str()) && managed(p))
        .filter_map(|p| {
            let [(node, c)] = now.get(p.id.as_str())?.as_slice() else {
                return None;
            };
            if c.failed
                || !n.available.contains(node)
                || n.is_unclean(node)
                || n.maintenance.contains(node)
            {
                return None;
            }
            let role = if c.promoted {
                Role::Promoted
            } else if promotable_ids.contains(p.id.as_str()) {
                Role::Unpromoted
            } else {
                Role::Started
            };
            let known = history
                .ops
                .get(&(p.id.clone(), node.clone()))
                .into_iter()
                .flatten()
                .filter(|o| o.name == "monitor" && o.interval > 0)
                .map(|o| o.interval)
                .collect();
            Some((p.id.as_str(), node.as_str(), role, known))
        })
        .collect();
    let graph = graph::build(&graph::Inputs {
        changes: &changes,
        primitives: &primitives,
        constraints: &constraints,
        groups: &groups,
        clones: &clones,
        fenced: n
            .unclean
            .iter()
            .map(|(node, _)| node.as_str())
            .filter(|node| can_fence(node))
            .collect(),
        probes,
        copies: &copies,
        staying,
    });
    Ok(Transition {
        changes,
        graph,
        scores: shown,
        unclean,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cib::Resource;

    pub(super) use crate::fixture::CHAPTER;

    /// The chapter's cluster with `constraints` and node1's `status`.
    pub(super) fn cib(constraints: &str, status: &str) -> Cib {
        Cib::from_xml(&crate::fixture::chapter_xml(constraints, status)).unwrap()
    }

    #[test]
    fn rules_nest_as_deep_as_the_reader_allows_and_no_deeper() {
        // cib, configuration, constraints and rsc_location above the
        // rules, the expression below them.
        let nested = |rules: usize| {
            let open: String = (0..rules)
                .map(|i| format!(r#"<rule id="r{i}" score="INFINITY">"#))
                .collect();
            format!(
                r##"<rsc_location id="l" rsc="vip">{open}<expression id="e" attribute="#uname" operation="eq" value="node2"/>{}</rsc_location>"##,
                "</rule>".repeat(rules)
            )
        };
        let deepest = crate::xml::MAX_DEPTH - 5;
        let c = cib(&nested(deepest), "");
        let t = schedule(&c).unwrap();
        assert!(
            t.changes.contains(&Change::Start {
                rsc: "vip".into(),
                node: "node2".into()
            }),
            "{t:?}"
        );
        let err =
            Cib::from_xml(&crate::fixture::chapter_xml(&nested(deepest + 1), "")).unwrap_err();
        assert!(
            matches!(&err, crate::Error::Xml { message, .. } if message.contains("nested")),
            "{err}"
        );
    }

    #[test]
    fn the_chapters_cluster_starts_together_and_deterministically() {
        let c = cib(CHAPTER, "");
        let t = schedule(&c).unwrap();
        assert_eq!(
            t.changes,
            [
                Change::Start {
                    rsc: "vip".into(),
                    node: "node1".into()
                },
                Change::Start {
                    rsc: "haproxy".into(),
                    node: "node1".into()
                },
            ]
        );
        assert_eq!(schedule(&c).unwrap(), t, "deterministic");
    }

    #[test]
    fn minus_infinity_keeps_a_resource_off_a_node_and_colocation_follows() {
        let c = cib(
            &format!(r#"{CHAPTER}<rsc_location id="l" rsc="vip" node="node1" score="-INFINITY"/>"#),
            "",
        );
        let t = schedule(&c).unwrap();
        assert!(
            t.changes
                .iter()
                .all(|ch| matches!(ch, Change::Start { node, .. } if node == "node2")),
            "{t:?}"
        );
    }

    #[test]
    fn a_clone_runs_once_per_node_and_what_follows_it_waits() {
        let mut c = cib("", "");
        c.constraints.push(Constraint::Order {
            id: "o".into(),
            first: "web-clone".into(),
            then: "vip".into(),
            mandatory: true,
            symmetrical: true,
            first_action: "start".into(),
            then_action: "start".into(),
            require_all: true,
        });
        c.constraints.push(Constraint::Colocation {
            id: "c".into(),
            rsc: "vip".into(),
            with: "web-clone".into(),
            score: Score::INFINITY,
            rsc_role: None,
            with_role: None,
            node_attribute: None,
        });
        c.resources.insert(
            0,
            Resource::Clone {
                id: "web-clone".into(),
                child: Box::new(Resource::Primitive(Primitive {
                    id: "web".into(),
                    agent: "systemd:nginx".into(),
                    params: BTreeMap::new(),
                    operations: Vec::new(),
                    meta: BTreeMap::new(),
                    on_fail: BTreeMap::new(),
                    utilization: BTreeMap::new(),
                })),
                promotable: false,
                meta: [("clone-max".to_owned(), "3".to_owned())].into(),
            },
        );
        let t = schedule(&c).unwrap();
        let starts: Vec<(String, String)> = t
            .changes
            .iter()
            .filter_map(|ch| match ch {
                Change::Start { rsc, node } => Some((rsc.clone(), node.clone())),
                _ => None,
            })
            .collect();
        // Three instances, two nodes, one per node: the third stays down.
        assert!(starts.contains(&("web:0".into(), "node1".into())), "{t:?}");
        assert!(starts.contains(&("web:1".into(), "node2".into())), "{t:?}");
        assert!(!starts.iter().any(|(r, _)| r == "web:2"), "{t:?}");
        assert!(starts.iter().any(|(r, _)| r == "vip"), "{t:?}");
        // With no node for the clone, the dependent cannot start either.
        c.constraints.push(Constraint::Location {
            id: "ban".into(),
            rsc: "web-clone".into(),
            node: None,
            score: Score::MINUS_INFINITY,
            rule: Some(crate::cib::Rule {
                or: false,
                conditions: vec![],
                score_attribute: None,
            }),
            role: None,
            exclusive: false,
        });
        let t = schedule(&c).unwrap();
        assert!(
            t.changes
                .iter()
                .all(|ch| matches!(ch, Change::Start { rsc, .. } if rsc == "haproxy")),
            "{t:?}"
        );
    }

    #[test]
    fn a_resource_runs_only_with_its_ticket() {
        let mut c = cib(
            r#"<rsc_ticket id="t" rsc="vip" ticket="site-a" loss-policy="fence"/>"#,
            "",
        );
        let starts_vip = |c: &Cib| {
            schedule(c)
                .unwrap()
                .changes
                .iter()
                .any(|ch| matches!(ch, Change::Start { rsc, .. } if rsc == "vip"))
        };
        assert!(!starts_vip(&c), "no ticket, no start");
        c.tickets.insert(
            "site-a".into(),
            crate::cib::Ticket {
                granted: true,
                standby: false,
            },
        );
        assert!(starts_vip(&c));
    }

    proptest::proptest! {
        /// Whatever parses, schedules without a panic: Pacemaker's cases
        /// cut short or with a node's history and constraints mangled.
        #[test]
        fn any_cib_that_reads_schedules(
            case in proptest::sample::select(vec!["group1", "clone-max-zero", "promoted-13", "ticket-clone-1", "one-or-more-1", "inc6"]),
            cut in 0.0f64..1.0,
            junk in "[<>/a-z\\\" =:0-9-]{0,30}",
        ) {
            let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
            let text = std::fs::read_to_string(root.join(format!("tests/pacemaker-scheduler/xml/{case}.xml"))).unwrap();
            let at = (text.len() as f64 * cut) as usize;
            let at = (0..=at).rev().find(|i| text.is_char_boundary(*i)).unwrap_or(0);
            let mangled = format!("{}{junk}{}", &text[..at], &text[at..]);
            if let Ok(cib) = Cib::from_xml(&mangled) {
                let _ = schedule(&cib);
            }
        }
    }

    fn starts(t: &Transition) -> Vec<(String, String)> {
        t.changes
            .iter()
            .filter_map(|ch| match ch {
                Change::Start { rsc, node } => Some((rsc.clone(), node.clone())),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn colocation_by_node_attribute_means_the_same_value_not_the_same_node() {
        let constraints = r#"<rsc_location id="l1" rsc="vip" node="node1" score="100"/>
            <rsc_location id="l2" rsc="haproxy" node="node2" score="50"/>"#;
        let with = |attribute: &str| {
            let mut c = cib(
                &format!(
                    r#"{constraints}<rsc_colocation id="c" rsc="haproxy" with-rsc="vip" score="INFINITY"{attribute}/>"#
                ),
                "",
            );
            for n in &mut c.nodes {
                n.attributes.insert("site".into(), "a".into());
            }
            starts(&schedule(&c).unwrap())
        };
        // Same node: haproxy follows vip to node1.
        assert!(with("").contains(&("haproxy".into(), "node1".into())));
        // Same site: both nodes are in site a, so haproxy keeps its own
        // preference for node2.
        assert!(with(r#" node-attribute="site""#).contains(&("haproxy".into(), "node2".into())));
    }

    #[test]
    fn a_red_node_takes_nothing_under_migrate_on_red() {
        let mut c = cib(
            r#"<rsc_location id="l" rsc="vip" node="node2" score="50"/>"#,
            "",
        );
        c.options
            .health
            .insert("node-health-strategy".into(), "migrate-on-red".into());
        c.nodes[1]
            .attributes
            .insert("#health-disk".into(), "red".into());
        assert!(starts(&schedule(&c).unwrap()).contains(&("vip".into(), "node1".into())));
        // Green again: the preference wins.
        c.nodes[1]
            .attributes
            .insert("#health-disk".into(), "green".into());
        assert!(starts(&schedule(&c).unwrap()).contains(&("vip".into(), "node2".into())));
    }

    #[test]
    fn stickiness_outweighs_a_weaker_preference() {
        let running = r#"<lrm id="1"><lrm_resources><lrm_resource id="vip" class="ocf" provider="heartbeat" type="IPaddr2">
            <lrm_rsc_op id="a" operation="start" interval="0" op-status="0" rc-code="0" call-id="1"/>
            </lrm_resource></lrm_resources></lrm>"#;
        let mut c = cib(
            r#"<rsc_location id="l" rsc="vip" node="node2" score="50"/>"#,
            running,
        );
        if let Resource::Primitive(p) = &mut c.resources[0] {
            p.meta.insert("resource-stickiness".into(), "100".into());
        }
        let t = schedule(&c).unwrap();
        assert!(
            !t.changes.iter().any(|ch| matches!(ch, Change::Move { .. })),
            "{t:?}"
        );
    }
}
