//! The scheduler, a pure function from a [`Cib`] to a [`Transition`]:
//! where each resource should run given the scores (location, stickiness,
//! colocation, failures, node availability) and what must change.
//!
//! **So far** (issue #7, part 1 in progress): primitives with location
//! constraints (node scores and rules on node attributes and `#uname`),
//! stickiness, mandatory and advisory colocation, mandatory ordering
//! (restarts after a required start, stops after an unrunnable one),
//! failures (recovery, migration-threshold, start-failure-is-fatal),
//! standby and offline nodes, fencing of nodes that left the membership,
//! and no-quorum-policy. Groups, clones, promotable clones, bundles,
//! resource sets, tickets, migration and utilization are reported as
//! unsupported.

use std::collections::{BTreeMap, BTreeSet};

use crate::cib::{Cib, Constraint, Expression, NoQuorumPolicy, Primitive, Resource};
use crate::score::Score;

/// A decision, as crm_simulate's Transition Summary states it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Fence a node.
    Fence {
        /// The node.
        node: String,
        /// Why.
        reason: String,
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
    },
    /// Move between nodes.
    Move {
        /// Resource.
        rsc: String,
        /// From.
        from: String,
        /// To.
        to: String,
    },
    /// Recover a failed resource (same or another node).
    Recover {
        /// Resource.
        rsc: String,
        /// Where it failed.
        from: String,
        /// Where it will run.
        to: String,
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
    /// Stop and start again on the same node.
    Restart {
        /// Resource.
        rsc: String,
        /// Node.
        node: String,
        /// Why.
        reason: Option<String>,
    },
}

/// What the scheduler decided.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Transition {
    /// The changes, in the order crm_simulate lists them.
    pub changes: Vec<Change>,
}

/// A CIB using something the scheduler does not handle yet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not supported yet: {0}")]
pub struct Unsupported(pub String);

/// What a resource's history on a node says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Current {
    running: bool,
    failed: bool,
    failed_start: bool,
    /// The agent is not installed there (a probe said so): it cannot run.
    not_installed: bool,
    /// The operation that failed last.
    failed_op: Option<&'static str>,
    /// Every operation that failed in the history (for on-fail).
    failures: Vec<&'static str>,
}

/// Reads a resource's operation history on one node.
fn current(ops: &[crate::cib::Operation]) -> Current {
    let mut ops: Vec<_> = ops
        .iter()
        .filter(|o| o.status != -1 || o.call_id >= 0)
        .collect();
    ops.sort_by_key(|o| o.call_id);
    let mut c = Current::default();
    for op in ops {
        let ok = op.status == 0;
        let name: &'static str = match op.name.as_str() {
            "start" => "start",
            "stop" => "stop",
            "monitor" => "monitor",
            "promote" => "promote",
            "demote" => "demote",
            _ => "other",
        };
        let was_failed = c.failed;
        match op.name.as_str() {
            "start" | "migrate_from" => {
                c.running = true;
                c.failed = !(ok && op.rc == 0);
                c.failed_start = c.failed;
            }
            "stop" => {
                if ok && op.rc == 0 {
                    c = Current::default();
                } else {
                    c.failed = true;
                }
            }
            "monitor" => match (ok, op.rc) {
                (true, 0) => {
                    c.running = true;
                    if op.interval == 0 {
                        c.failed = false;
                    }
                }
                (true, 7) => {
                    c.running = false;
                    c.failed = false;
                    if op.interval > 0 {
                        // A recurring monitor finding it stopped: a failure.
                        c.failures.push("monitor");
                    }
                }
                (true, 5) if op.interval == 0 => {
                    c.running = false;
                    c.failed = false;
                    c.not_installed = true;
                }
                (true, 8) => c.running = true,
                _ => {
                    // A failed probe or monitor: running, in need of
                    // recovery (unless it says not running).
                    c.running = true;
                    c.failed = true;
                }
            },
            "promote" | "demote" => {
                c.running = true;
                if !(ok && op.rc == 0) {
                    c.failed = true;
                }
            }
            _ => {}
        }
        if c.failed && !was_failed {
            c.failed_op = Some(name);
            c.failures.push(name);
        } else if !c.failed {
            c.failed_op = None;
        }
    }
    c
}

struct Nodes {
    /// Node names in CIB order.
    names: Vec<String>,
    /// Those that may run resources.
    available: BTreeSet<String>,
    /// Those to fence, with why.
    unclean: Vec<(String, String)>,
}

fn nodes(cib: &Cib) -> Nodes {
    let mut names: Vec<String> = cib.nodes.iter().map(|n| n.name.clone()).collect();
    for n in cib.status.keys() {
        if !names.contains(n) {
            names.push(n.clone());
        }
    }
    let mut available = BTreeSet::new();
    let mut unclean = Vec::new();
    for name in &names {
        let permanent = cib
            .nodes
            .iter()
            .find(|n| &n.name == name)
            .map(|n| &n.attributes);
        let status = cib.status.get(name);
        let shutting_down = status
            .and_then(|s| s.attributes.get("shutdown"))
            .is_some_and(|v| v != "0");
        let standby = shutting_down
            || permanent
                .and_then(|a| a.get("standby"))
                .or_else(|| status.and_then(|s| s.attributes.get("standby")))
                .is_some_and(|v| v == "on" || v == "true");
        match status {
            Some(s) if s.in_membership && s.controller && s.join == "member" && !standby => {
                available.insert(name.clone());
            }
            Some(s)
                if !s.in_membership && s.expected == "member" && cib.options.stonith_enabled =>
            {
                unclean.push((name.clone(), "peer is no longer part of the cluster".into()));
            }
            _ => {}
        }
    }
    Nodes {
        names,
        available,
        unclean,
    }
}

fn attribute<'a>(cib: &'a Cib, node: &'a str, name: &str) -> Option<&'a str> {
    if name == "#uname" {
        return Some(node);
    }
    cib.nodes
        .iter()
        .find(|n| n.name == node)
        .and_then(|n| n.attributes.get(name))
        .or_else(|| cib.status.get(node).and_then(|s| s.attributes.get(name)))
        .map(String::as_str)
}

fn holds(cib: &Cib, node: &str, e: &Expression) -> bool {
    let value = attribute(cib, node, &e.attribute);
    let want = e.value.as_deref();
    let cmp = |f: fn(std::cmp::Ordering) -> bool| match (value, want) {
        (Some(a), Some(b)) => match (a.parse::<f64>(), b.parse::<f64>()) {
            (Ok(x), Ok(y)) => x.partial_cmp(&y).is_some_and(f),
            _ => f(a.cmp(b)),
        },
        _ => false,
    };
    match e.operation.as_str() {
        "defined" => value.is_some(),
        "not_defined" => value.is_none(),
        "ne" => value != want,
        "lt" => cmp(|o| o.is_lt()),
        "gt" => cmp(|o| o.is_gt()),
        "lte" => cmp(|o| o.is_le()),
        "gte" => cmp(|o| o.is_ge()),
        _ => value.is_some() && value == want,
    }
}

fn meta_score(p: &Primitive, key: &str, default: Score) -> Score {
    p.meta
        .get(key)
        .and_then(|v| Score::parse(v))
        .unwrap_or(default)
}

/// Groups by their lead member: the members in order.
type Groups = BTreeMap<String, Vec<String>>;

/// The resources as primitives and the constraints among them: a group
/// becomes its members, each colocated with (INFINITY) and ordered after
/// the one before; constraints on a group apply to its members (a
/// location to each, a colocation or order through its first or last).
fn flatten(cib: &Cib) -> Result<(Vec<Primitive>, Vec<Constraint>, Groups), Unsupported> {
    let mut primitives = Vec::new();
    let mut constraints = Vec::new();
    let mut groups: Groups = BTreeMap::new();
    // Group id to (first member, last member, all members).
    let mut members_of: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for r in &cib.resources {
        match r {
            Resource::Primitive(p) => primitives.push(p.clone()),
            Resource::Group { id, members } => {
                if members.is_empty() {
                    continue;
                }
                let names: Vec<String> = members.iter().map(|m| m.id.clone()).collect();
                for pair in names.windows(2) {
                    constraints.push(Constraint::Colocation {
                        id: format!("{id}-colocation"),
                        rsc: pair[1].clone(),
                        with: pair[0].clone(),
                        score: Score::INFINITY,
                    });
                    constraints.push(Constraint::Order {
                        id: format!("{id}-order"),
                        first: pair[0].clone(),
                        then: pair[1].clone(),
                        mandatory: true,
                        symmetrical: true,
                    });
                }
                primitives.extend(members.iter().cloned());
                groups.insert(names[0].clone(), names.clone());
                members_of.insert(id.as_str(), names);
            }
            Resource::Clone {
                promotable: true, ..
            } => return Err(Unsupported("promotable clones".into())),
            Resource::Clone { .. } => return Err(Unsupported("clones".into())),
            Resource::Bundle { .. } => return Err(Unsupported("bundles".into())),
        }
    }
    let first = |id: &str| members_of.get(id).map_or(id.to_owned(), |m| m[0].clone());
    let last = |id: &str| {
        members_of
            .get(id)
            .map_or(id.to_owned(), |m| m[m.len() - 1].clone())
    };
    for c in &cib.constraints {
        match c {
            Constraint::Location {
                id,
                rsc,
                node,
                score,
                rule,
            } => {
                for member in members_of
                    .get(rsc.as_str())
                    .cloned()
                    .unwrap_or_else(|| vec![rsc.clone()])
                {
                    constraints.push(Constraint::Location {
                        id: id.clone(),
                        rsc: member,
                        node: node.clone(),
                        score: *score,
                        rule: rule.clone(),
                    });
                }
            }
            Constraint::Colocation {
                id,
                rsc,
                with,
                score,
            } => constraints.push(Constraint::Colocation {
                id: id.clone(),
                rsc: first(rsc),
                with: last(with),
                score: *score,
            }),
            Constraint::Order {
                id,
                first: f,
                then,
                mandatory,
                symmetrical,
            } => constraints.push(Constraint::Order {
                id: id.clone(),
                first: last(f),
                then: first(then),
                mandatory: *mandatory,
                symmetrical: *symmetrical,
            }),
        }
    }
    Ok((primitives, constraints, groups))
}

/// Schedules `cib`.
pub fn schedule(cib: &Cib) -> Result<Transition, Unsupported> {
    let (owned, constraints, groups) = flatten(cib)?;
    let primitives: Vec<&Primitive> = owned.iter().collect();
    let by_capacity = cib.options.placement_strategy == "utilization";
    if !matches!(
        cib.options.placement_strategy.as_str(),
        "default" | "utilization"
    ) {
        return Err(Unsupported(format!(
            "placement-strategy {}",
            cib.options.placement_strategy
        )));
    }
    if primitives
        .iter()
        .any(|p| p.meta.get("allow-migrate").is_some_and(|v| v == "true"))
    {
        return Err(Unsupported("live migration".into()));
    }
    let ids: BTreeSet<&str> = primitives.iter().map(|p| p.id.as_str()).collect();
    for c in &constraints {
        let refs: Vec<&str> = match c {
            Constraint::Location { rsc, .. } => vec![rsc],
            Constraint::Colocation { rsc, with, .. } => vec![rsc, with],
            Constraint::Order { first, then, .. } => vec![first, then],
        };
        if refs.iter().any(|r| !ids.contains(r)) {
            return Err(Unsupported(
                "constraints on resources not scheduled yet".into(),
            ));
        }
    }
    let n = nodes(cib);
    let mut changes: Vec<Change> = n
        .unclean
        .iter()
        .map(|(node, reason)| Change::Fence {
            node: node.clone(),
            reason: reason.clone(),
        })
        .collect();
    let quorum_stop =
        !cib.options.have_quorum && cib.options.no_quorum_policy == NoQuorumPolicy::Stop;
    let frozen = !cib.options.have_quorum && cib.options.no_quorum_policy == NoQuorumPolicy::Freeze;
    let fencing_missing =
        cib.options.stonith_enabled && !primitives.iter().any(|p| p.agent.starts_with("stonith:"));

    // Where each resource runs now, and its failures.
    let mut now: BTreeMap<&str, Vec<(String, Current)>> = BTreeMap::new();
    let mut not_installed: BTreeSet<(&str, String)> = BTreeSet::new();
    let mut stopped_by_failure: BTreeSet<&str> = BTreeSet::new();
    for p in &primitives {
        for node in &n.names {
            if let Some(ops) = cib.status.get(node).and_then(|s| s.history.get(&p.id)) {
                let c = current(ops);
                if c.failures
                    .iter()
                    .any(|op| p.on_fail.get(*op).is_some_and(|f| f == "stop"))
                {
                    stopped_by_failure.insert(p.id.as_str());
                }
                if c.not_installed {
                    not_installed.insert((p.id.as_str(), node.clone()));
                }
                if c.running {
                    now.entry(p.id.as_str())
                        .or_default()
                        .push((node.clone(), c));
                }
            }
        }
    }
    // on-fail: ignore (as if healthy), block (leave it alone), stop (and
    // keep it stopped); restart is what recovery does anyway.
    let mut blocked: BTreeSet<&str> = BTreeSet::new();
    for p in &primitives {
        for (_, c) in now.get_mut(p.id.as_str()).into_iter().flatten() {
            let Some(op) = c.failed_op.filter(|_| c.failed) else {
                continue;
            };
            match p.on_fail.get(op).map(String::as_str) {
                Some("ignore") => {
                    c.failed = false;
                    c.failed_start = false;
                }
                Some("block") => {
                    blocked.insert(p.id.as_str());
                }
                Some("stop") => {
                    stopped_by_failure.insert(p.id.as_str());
                }
                _ => {}
            }
        }
    }
    // Scores.
    let mut scores: BTreeMap<&str, BTreeMap<String, Score>> = BTreeMap::new();
    for p in &primitives {
        let mut s: BTreeMap<String, Score> = n
            .names
            .iter()
            .map(|node| {
                (
                    node.clone(),
                    if cib.options.symmetric {
                        Score::ZERO
                    } else {
                        Score::MINUS_INFINITY
                    },
                )
            })
            .collect();
        for c in &constraints {
            if let Constraint::Location {
                rsc,
                node,
                score,
                rule,
                ..
            } = c
            {
                if rsc != &p.id {
                    continue;
                }
                for (name, value) in s.iter_mut() {
                    let applies = match (node, rule) {
                        (Some(target), _) => target == name,
                        (None, Some((or, exprs))) => {
                            if *or {
                                exprs.iter().any(|e| holds(cib, name, e))
                            } else {
                                exprs.iter().all(|e| holds(cib, name, e))
                            }
                        }
                        (None, None) => false,
                    };
                    if applies {
                        // Opt-in clusters: a location is the permission.
                        if !cib.options.symmetric
                            && *value == Score::MINUS_INFINITY
                            && *score != Score::MINUS_INFINITY
                        {
                            *value = *score;
                        } else {
                            *value = value.add(*score);
                        }
                    }
                }
            }
        }
        let stickiness = meta_score(p, "resource-stickiness", Score::ZERO);
        let threshold = meta_score(p, "migration-threshold", Score::INFINITY);
        // A group moves as one: its lead carries every member's stickiness.
        for member in groups.get(p.id.as_str()).into_iter().flatten().skip(1) {
            let Some(m) = primitives.iter().find(|q| &q.id == member) else {
                continue;
            };
            let sticky = meta_score(m, "resource-stickiness", Score::ZERO);
            for (node, c) in now.get(m.id.as_str()).into_iter().flatten() {
                if !c.failed
                    && let Some(v) = s.get_mut(node)
                {
                    *v = v.add(sticky);
                }
            }
        }
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
            if let Some(st) = status {
                for (k, v) in &st.attributes {
                    let name = k.strip_prefix("fail-count-").unwrap_or_default();
                    if name == p.id || name.split('#').next() == Some(p.id.as_str()) {
                        failcount = failcount.add(Score::parse(v).unwrap_or(Score::ZERO));
                    }
                }
            }
            let failed_start = now
                .get(p.id.as_str())
                .into_iter()
                .flatten()
                .any(|(nd, c)| nd == node && c.failed_start);
            if failed_start && cib.options.start_failure_is_fatal {
                failcount = Score::INFINITY;
            }
            let banned = (threshold.value() > 0 && failcount.value() >= threshold.value())
                || not_installed.contains(&(p.id.as_str(), node.clone()));
            if banned || !n.available.contains(node) {
                s.insert(node.clone(), Score::MINUS_INFINITY);
            }
        }
        if p.meta.get("target-role").is_some_and(|r| r == "Stopped")
            || quorum_stop
            || cib.options.stop_all_resources
            || stopped_by_failure.contains(p.id.as_str())
        {
            for v in s.values_mut() {
                *v = Score::MINUS_INFINITY;
            }
        }
        scores.insert(p.id.as_str(), s);
    }
    // Assignment: primaries before their dependents, else CIB order.
    let mut order: Vec<&str> = Vec::new();
    fn visit<'a>(
        id: &'a str,
        constraints: &'a [Constraint],
        order: &mut Vec<&'a str>,
        seen: &mut BTreeSet<&'a str>,
    ) {
        if !seen.insert(id) {
            return;
        }
        for c in constraints {
            if let Constraint::Colocation { rsc, with, .. } = c
                && rsc == id
            {
                visit(with, constraints, order, seen);
            }
        }
        order.push(id);
    }
    let mut seen = BTreeSet::new();
    // Higher priority first (stable: CIB order among equals).
    let mut by_priority = primitives.clone();
    by_priority.sort_by_key(|p| std::cmp::Reverse(meta_score(p, "priority", Score::ZERO)));
    for p in &by_priority {
        visit(&p.id, &constraints, &mut order, &mut seen);
    }
    let mut placed: BTreeMap<&str, Option<String>> = BTreeMap::new();
    let mut load: BTreeMap<String, usize> = BTreeMap::new();
    let mut used: BTreeMap<String, BTreeMap<String, i64>> = BTreeMap::new();
    for id in &order {
        let mut s = scores.get(id).cloned().unwrap_or_default();
        for c in &constraints {
            if let Constraint::Colocation {
                rsc, with, score, ..
            } = c
                && rsc == id
            {
                // A primary not assigned yet (a colocation loop) does not
                // constrain; one assigned nowhere does.
                let Some(target) = placed.get(with.as_str()).cloned() else {
                    continue;
                };
                for (node, v) in s.iter_mut() {
                    let here = target.as_deref() == Some(node.as_str());
                    if score.value() >= crate::score::INFINITY {
                        if !here {
                            *v = Score::MINUS_INFINITY;
                        }
                    } else if score.value() <= -crate::score::INFINITY {
                        if here {
                            *v = Score::MINUS_INFINITY;
                        }
                    } else if here {
                        *v = v.add(*score);
                    }
                }
            }
        }
        // placement-strategy=utilization: only nodes with room.
        if by_capacity && let Some(p) = primitives.iter().find(|q| q.id == *id) {
            for (node, v) in s.iter_mut() {
                let capacity = cib
                    .nodes
                    .iter()
                    .find(|x| &x.name == node)
                    .map(|x| &x.utilization);
                let used = used.get(node);
                let fits = p.utilization.iter().all(|(k, need)| {
                    let have = capacity.and_then(|c| c.get(k)).copied().unwrap_or(0);
                    let taken = used
                        .and_then(|u: &BTreeMap<String, i64>| u.get(k))
                        .copied()
                        .unwrap_or(0);
                    have - taken >= *need
                });
                if !fits {
                    *v = Score::MINUS_INFINITY;
                }
            }
        }
        // The healthy current node, preferred after score and load.
        let current_node = now
            .get(id)
            .and_then(|v| v.first())
            .filter(|(_, c)| !c.failed)
            .map(|(node, _)| node.clone());
        let best = n
            .names
            .iter()
            .filter_map(|node| s.get(node).map(|v| (node, *v)))
            .filter(|(_, v)| v.value() >= 0)
            .max_by(|(a, va), (b, vb)| {
                va.cmp(vb)
                    .then_with(|| load.get(*b).unwrap_or(&0).cmp(load.get(*a).unwrap_or(&0)))
                    .then_with(|| {
                        let here = |x: &String| current_node.as_ref() == Some(x);
                        here(a).cmp(&here(b))
                    })
                    .then_with(|| {
                        let (ia, ib) = (
                            n.names.iter().position(|x| x == *a),
                            n.names.iter().position(|x| x == *b),
                        );
                        ib.cmp(&ia)
                    })
            })
            .map(|(node, _)| node.clone());
        if let Some(node) = &best {
            *load.entry(node.clone()).or_default() += 1;
            if let Some(p) = primitives.iter().find(|q| q.id == *id) {
                let u = used.entry(node.clone()).or_default();
                for (k, need) in &p.utilization {
                    *u.entry(k.clone()).or_default() += need;
                }
            }
        }
        placed.insert(id, best);
    }
    // Changes, resource by resource in CIB order.
    let starts_blocked = frozen || fencing_missing;
    let mut actions: BTreeMap<&str, Change> = BTreeMap::new();
    for p in &primitives {
        let id = p.id.as_str();
        let here = now.get(id).cloned().unwrap_or_default();
        let mut target = placed.get(id).cloned().flatten();
        if p.meta.get("is-managed").is_some_and(|v| v == "false")
            || cib.options.maintenance_mode
            || blocked.contains(id)
        {
            continue;
        }
        let fenced: BTreeSet<&str> = n.unclean.iter().map(|(node, _)| node.as_str()).collect();
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
        let change = match (here.first(), &target) {
            (None, Some(to)) => Some(Change::Start {
                rsc: id.into(),
                node: to.clone(),
            }),
            (Some((from, _)), None) => {
                if fenced.contains(from.as_str()) {
                    None
                } else {
                    Some(Change::Stop {
                        rsc: id.into(),
                        node: from.clone(),
                        reason: Some(
                            if quorum_stop {
                                "no quorum"
                            } else {
                                "node availability"
                            }
                            .to_owned(),
                        ),
                    })
                }
            }
            (Some((from, c)), Some(to)) if from == to => c.failed.then(|| Change::Recover {
                rsc: id.into(),
                from: from.clone(),
                to: to.clone(),
            }),
            (Some((from, c)), Some(to)) => Some(if c.failed {
                Change::Recover {
                    rsc: id.into(),
                    from: from.clone(),
                    to: to.clone(),
                }
            } else {
                Change::Move {
                    rsc: id.into(),
                    from: from.clone(),
                    to: to.clone(),
                }
            }),
            (None, None) => None,
        };
        if let Some(change) = change {
            actions.insert(id, change);
        }
    }
    // Mandatory ordering: a required start restarts what follows; an
    // unrunnable start stops it.
    for c in &constraints {
        if let Constraint::Order {
            first,
            then,
            mandatory: true,
            ..
        } = c
        {
            let first_starts = matches!(
                actions.get(first.as_str()),
                Some(Change::Start { .. } | Change::Move { .. } | Change::Recover { .. })
            );
            let first_unrunnable = placed.get(first.as_str()).cloned().flatten().is_none();
            let then_running = now
                .get(then.as_str())
                .and_then(|v| v.first())
                .map(|(node, _)| node.clone());
            match (then_running, actions.get(then.as_str())) {
                (Some(node), None) if first_unrunnable => {
                    actions.insert(
                        then.as_str(),
                        Change::Stop {
                            rsc: then.clone(),
                            node,
                            reason: Some(format!("unrunnable {first} start")),
                        },
                    );
                }
                (Some(node), None) if first_starts => {
                    actions.insert(
                        then.as_str(),
                        Change::Restart {
                            rsc: then.clone(),
                            node,
                            reason: Some(format!("required {first} start")),
                        },
                    );
                }
                (None, Some(Change::Start { .. })) if first_unrunnable => {
                    actions.remove(then.as_str());
                }
                _ => {}
            }
        }
    }
    for p in &primitives {
        if let Some(change) = actions.remove(p.id.as_str()) {
            changes.push(change);
        }
    }
    Ok(Transition { changes })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cib(constraints: &str, status: &str) -> Cib {
        Cib::from_xml(&format!(
            r#"<cib have-quorum="true"><configuration>
  <crm_config><cluster_property_set id="o"><nvpair id="s" name="stonith-enabled" value="false"/></cluster_property_set></crm_config>
  <nodes><node id="1" uname="node1"/><node id="2" uname="node2"/></nodes>
  <resources>
    <primitive id="vip" class="ocf" provider="heartbeat" type="IPaddr2"/>
    <primitive id="haproxy" class="systemd" type="haproxy"/>
  </resources>
  <constraints>{constraints}</constraints>
</configuration><status>
  <node_state id="1" uname="node1" in_ccm="true" crmd="online" join="member" expected="member">{status}</node_state>
  <node_state id="2" uname="node2" in_ccm="true" crmd="online" join="member" expected="member"/>
</status></cib>"#
        ))
        .unwrap()
    }

    const CHAPTER: &str = r#"<rsc_colocation id="c" rsc="haproxy" with-rsc="vip" score="INFINITY"/>
        <rsc_order id="o" first="vip" then="haproxy"/>"#;

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
