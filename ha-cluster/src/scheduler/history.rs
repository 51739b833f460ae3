//! What the status section says of each resource on each node.

use std::collections::{BTreeMap, BTreeSet};

use super::definition::Definition;
use super::expand::CloneSet;
pub(super) use crate::cib::base_id as strip;
use crate::cib::{Cib, Operation};

/// What a resource's history on a node says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Current {
    pub running: bool,
    /// Running in the promoted role.
    pub promoted: bool,
    pub failed: bool,
    pub failed_start: bool,
    /// The agent is not installed there (a probe said so): it cannot run.
    pub not_installed: bool,
    /// A hard error there (bad parameters, missing privileges, missing
    /// feature or agent): it may not run there again.
    pub hard: bool,
    /// A fatal error (not configured): it may not run anywhere.
    pub fatal: bool,
    /// The operation that failed last.
    pub failed_op: Option<&'static str>,
    /// Every operation that failed in the history (for on-fail).
    pub failures: Vec<&'static str>,
    /// Whether its parameters changed since it started.
    pub definition: Definition,
    /// Left behind on the target of a failed migration: restarted.
    pub dangling: bool,
    /// The operation in flight (not a probe), if any.
    pub pending: Option<&'static str>,
}

/// Reads a resource's operation history on one node.
///
/// A failure that `expired` says has expired (failure-timeout) is ignored.
pub(crate) fn current(ops: &[Operation], expired: impl Fn(&Operation) -> bool) -> Current {
    // Pending operations (not yet run: call-id -1) come last.
    let mut ops: Vec<_> = ops.iter().collect();
    // Equal call ids (an operation and its failure record) go by when
    // their result changed.
    ops.sort_by_key(|o| (o.status == -1 && o.call_id < 0, o.call_id, o.changed));
    let mut c = Current::default();
    for op in ops {
        // Degraded results count as their healthy equivalents (OCF 190:
        // running, 191: running promoted), as Pacemaker maps them.
        let healthy;
        let op = match op.rc {
            190 | 191 => {
                healthy = Operation {
                    rc: if op.rc == 190 { 0 } else { 8 },
                    ..op.clone()
                };
                &healthy
            }
            _ => op,
        };
        if op.status == -1 {
            c.pending = match (op.name.as_str(), op.interval) {
                ("start", _) => Some("start"),
                ("stop", _) => Some("stop"),
                ("promote", _) => Some("promote"),
                ("demote", _) => Some("demote"),
                ("migrate_to" | "migrate_from", _) => Some("migrate"),
                ("monitor", i) if i > 0 => Some("monitor"),
                _ => c.pending,
            };
            // In flight: a start or promote under way counts as done (so
            // it is stopped if need be); others change nothing yet.
            match op.name.as_str() {
                "start" | "migrate_from" => c.running = true,
                "promote" => {
                    c.running = true;
                    c.promoted = true;
                }
                _ => {}
            }
            continue;
        }
        // An error status is judged again by the return code, as
        // Pacemaker does (a probe erroring with "not running" is a probe).
        let ok = op.status == 0 || op.status == 4;
        let wanted = match op.name.as_str() {
            "monitor" => {
                matches!(op.rc, 0 | 8)
                    || (op.rc == 7 && (op.interval == 0 || op.expected_rc == Some(7)))
            }
            _ => op.rc == 0,
        };
        if !(ok && wanted) && expired(op) {
            continue;
        }
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
            // A start that finds it not running leaves it stopped.
            "start" if ok && op.rc == 7 => {
                c = Current::default();
            }
            "start" | "migrate_from" => {
                c.running = true;
                c.promoted = false;
                c.failed = !(ok && op.rc == 0);
                // start-failure-is-fatal is about starts, not migrations.
                c.failed_start = c.failed && op.name == "start";
            }
            "stop" => {
                // An agent that is not installed runs nothing.
                if ok && op.rc == 0 || op.rc == 5 {
                    c = Current::default();
                } else {
                    // A failed stop leaves it active, state unknown.
                    c.running = true;
                    c.failed = true;
                }
            }
            "monitor" => match (ok, op.rc) {
                (true, 0) => {
                    c.running = true;
                    c.promoted = false;
                    if op.interval == 0 {
                        c.failed = false;
                    } else if op.expected_rc == Some(7) {
                        // A Stopped-role monitor finding it running where it
                        // should not be: a failure.
                        c.failed = true;
                    }
                }
                (true, 7) if op.interval > 0 && op.expected_rc != Some(7) => {
                    // A recurring monitor finding it stopped: a failure,
                    // recovered where it was.
                    c.running = true;
                    c.failed = true;
                }
                (true, 7) => {
                    c.running = false;
                    c.failed = false;
                }
                // A probe finding the agent not installed (by its return
                // code or the execution status): not running, cannot run.
                (_, 5) if op.interval == 0 => {
                    c.running = false;
                    c.failed = false;
                    c.not_installed = true;
                }
                _ if op.interval == 0 && op.status == 7 => {
                    c.running = false;
                    c.failed = false;
                    c.not_installed = true;
                }
                (true, 8) => {
                    c.running = true;
                    c.promoted = true;
                }
                (_, 9) => {
                    // Failed while promoted.
                    c.running = true;
                    c.promoted = true;
                    c.failed = true;
                }
                _ => {
                    // A failed probe or monitor: running, in need of
                    // recovery (unless it says not running).
                    c.running = true;
                    c.failed = true;
                }
            },
            "promote" | "demote" => {
                c.running = true;
                // A failed promote leaves it promoted; a failed demote is
                // taken as unpromoted (it is stopped in recovery anyway).
                c.promoted = op.name == "promote";
                if !(ok && op.rc == 0) {
                    c.failed = true;
                }
            }
            // Any other operation (an agent's own) that fails on a
            // running resource needs its recovery.
            _ => {
                if c.running && !(ok && op.rc == 0) {
                    c.failed = true;
                }
            }
        }
        if !(ok && wanted) {
            match (op.status, op.rc) {
                (6, _) | (_, 6) => c.fatal = true,
                // A recurring monitor's "unimplemented" is a plain failure.
                (_, 3) if op.interval > 0 => {}
                (5 | 7, _) | (_, 2..=5) => c.hard = true,
                _ => {}
            }
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

/// Each primitive's history, by (primitive, node), and the orphans: histories
/// of resources no longer configured (or of clone instances beyond
/// clone-max), which become instances or primitives of their own so they
/// can be stopped.
pub(crate) struct Histories {
    /// Operations by (primitive, node).
    pub ops: BTreeMap<(String, String), Vec<Operation>>,
    /// Orphaned primitives (a new clone instance's members among them).
    pub orphans: Vec<String>,
    /// The name the nodes last knew an anonymous instance by (`rsc:3` may
    /// be known as `rsc:1`): promotion scores are set under it.
    pub known_as: BTreeMap<String, String>,
}

/// Reads every node's history. An anonymous clone's history names the
/// child, not an instance: Pacemaker hands the entries out node by node in
/// status order (online nodes first), each to the instance already active
/// on that node, else to the first instance not active anywhere, else to a
/// new orphan instance; so does this.
pub(crate) fn histories(
    cib: &Cib,
    clones: &mut [CloneSet],
    configured: &BTreeSet<&str>,
) -> Histories {
    let mut out: BTreeMap<(String, String), Vec<Operation>> = BTreeMap::new();
    let mut orphans = Vec::new();
    let mut known_as = BTreeMap::new();
    let mut states: Vec<_> = cib.status.iter().collect();
    // With fencing, every cluster node's history is read in the first
    // pass (what ran on a lost node matters); remote nodes' after.
    // Remote and guest nodes come after: first those whose connection
    // (and container) run, then the rest.
    let fencing = cib.options.stonith_enabled;
    let remote = cib.remote_nodes();
    let runs = |id: &str| {
        cib.status.values().filter(|s| !s.remote).any(|s| {
            s.history.iter().any(|(rsc, ops)| {
                rsc == id && {
                    let c = current(ops, |_| false);
                    c.running && !c.failed
                }
            })
        })
    };
    states.sort_by_key(|(name, s)| {
        let class = match remote.iter().find(|(node, _)| node == *name) {
            Some((node, container)) if runs(node) && container.as_deref().is_none_or(runs) => 1,
            Some(_) => 2,
            None if s.remote => 2,
            None if fencing || (s.in_membership == Some(true) && s.controller) => 0,
            None => 2,
        };
        (class, s.position)
    });
    for (node, state) in states {
        for (id, ops) in &state.history {
            let base = strip(id);
            let anonymous = clones
                .iter_mut()
                .find(|c| !c.unique && c.bases.iter().any(|b| b == base));
            let Some(set) = anonymous else {
                if !configured.contains(id.as_str()) && !orphans.contains(id) {
                    orphans.push(id.clone());
                }
                out.entry((id.clone(), node.clone()))
                    .or_default()
                    .extend(ops.iter().cloned());
                continue;
            };
            let member = set.bases.iter().position(|b| b == base).unwrap_or(0);
            let active = |set: &CloneSet, i: usize, on: Option<&str>| {
                set.instances[i].iter().any(|m| {
                    out.iter().any(|((rsc, n), ops)| {
                        rsc == m && on.is_none_or(|on| on == n) && current(ops, |_| false).running
                    })
                })
            };
            // An instance active here whose place for this member is free
            // (a cloned group's members go together); a second active
            // history of the same member on one node is an orphan.
            let taken = |i: usize| {
                out.get(&(set.instances[i][member].clone(), node.clone()))
                    .is_some_and(|ops| current(ops, |_| false).running)
            };
            let here: Vec<usize> = (0..set.instances.len())
                .filter(|&i| active(set, i, Some(node)))
                .collect();
            // An instance that needs no fencing (requires quorum or
            // nothing), active on a node that is down or unclean, is not
            // given an instance number a clean node could use: it is an
            // orphan (unless the clone runs on every node).
            let lost = {
                let requires = set.members[member].meta.get("requires").map(String::as_str);
                let fencing_needed = match requires {
                    Some(r) => r == "fencing" || r == "unfencing",
                    None => fencing && !set.members[member].agent.starts_with("stonith:"),
                };
                let up = state.in_membership == Some(true)
                    && state.controller
                    && state.join.as_deref() == Some("member");
                !fencing_needed
                    && !up
                    && !state.remote
                    && !remote.iter().any(|(n, _)| n == node)
                    && !set.universal
                    && current(ops, |_| false).running
            };
            let chosen = if lost {
                None
            } else if here.is_empty() {
                (0..set.instances.len()).find(|&i| !active(set, i, None))
            } else {
                here.into_iter().find(|&i| !taken(i))
            };
            let i = match chosen {
                Some(i) => i,
                None => {
                    let k = set.instances.len();
                    let names: Vec<String> = set.bases.iter().map(|b| format!("{b}:{k}")).collect();
                    orphans.extend(names.iter().cloned());
                    set.instances.push(names);
                    k
                }
            };
            known_as.insert(set.instances[i][member].clone(), id.clone());
            // Several entries for one instance on a node (histories kept
            // under old instance names): each is read on its own, so a
            // stopped one does not hide a running one.
            let entry = out
                .entry((set.instances[i][member].clone(), node.clone()))
                .or_default();
            let was = !entry.is_empty() && current(entry, |_| false).running;
            let is = current(ops, |_| false).running;
            match (was, is) {
                (true, false) => {}
                (false, true) if !entry.is_empty() => *entry = ops.clone(),
                _ => entry.extend(ops.iter().cloned()),
            }
        }
    }
    Histories {
        ops: out,
        orphans,
        known_as,
    }
}
