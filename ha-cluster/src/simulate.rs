//! The cluster as it will be once a transition has run.
//!
//! As crm_simulate shows it: every action succeeds, and its result is
//! written into the status section the way the controller records it (an
//! operation in the resource's history on the node, a fenced node down with
//! its history gone). The revised CIB is what `ha-ctl simulate` prints as
//! the revised status, and scheduling it again should find nothing left to
//! do.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::cib::{Cib, Digests, NodeStatus, Operation, Primitive, Resource, base_id, truthy};
use crate::scheduler::{Task, Transition, current, digest};

/// The CIB after every action of `transition` succeeded, in the graph's
/// order.
pub fn apply(cib: &Cib, transition: &Transition) -> Cib {
    let mut out = cib.clone();
    let graph = &transition.graph;
    let order = graph.run_order();
    // Where each migration goes (its migrate_to records the target).
    let targets: HashMap<&str, &str> = graph
        .actions
        .iter()
        .filter(|a| a.task == Task::MigrateFrom)
        .filter_map(|a| Some((a.rsc.as_deref()?, a.node.as_str())))
        .collect();
    let remote: BTreeSet<String> = cib.remote_nodes().into_iter().map(|(n, _)| n).collect();
    let primitives: HashMap<&str, &Primitive> = cib
        .resources
        .iter()
        .flat_map(Resource::primitives)
        .map(|p| (p.id.as_str(), p))
        .collect();
    // The children of anonymous clones (their instances share a history).
    let anonymous_children: BTreeSet<&str> = cib
        .resources
        .iter()
        .filter_map(|r| match r {
            Resource::Clone { child, meta, .. }
                if !truthy(meta.get("globally-unique").map(String::as_str), false) =>
            {
                Some(child.primitives())
            }
            _ => None,
        })
        .flatten()
        .map(|p| p.id.as_str())
        .collect();
    let mut books: BTreeMap<String, Book> = BTreeMap::new();
    for i in order {
        let a = &graph.actions[i];
        match (a.task, &a.rsc) {
            (Task::Fence, _) => {
                // Down, its history and transient attributes gone (the
                // fencer cleared them).
                let state = node_state(&mut out, &a.node, &remote);
                state.in_membership = Some(false);
                state.controller = false;
                state.join = Some("down".into());
                state.expected = Some("down".into());
                state.history.clear();
                state.attributes.clear();
                books.remove(&a.node);
            }
            (Task::Unfence, _) | (_, None) => {}
            (task, Some(rsc)) => {
                let migrate_target = (task == Task::MigrateTo).then(|| {
                    targets
                        .get(rsc.as_str())
                        .copied()
                        .unwrap_or_default()
                        .to_owned()
                });
                let base = base_id(rsc);
                // What starts (or reloads) records the parameters it ran
                // with.
                let digests = matches!(
                    task,
                    Task::Start | Task::Promote | Task::MigrateFrom | Task::Reload
                )
                .then(|| primitives.get(rsc.as_str()).or(primitives.get(base)))
                .flatten()
                .map(|p| Digests {
                    all: digest(&p.params),
                    restart: None,
                    secure: None,
                });
                let anonymous = base != rsc && anonymous_children.contains(base);
                let state = node_state(&mut out, &a.node, &remote);
                let book = books
                    .entry(a.node.clone())
                    .or_insert_with(|| Book::of(state));
                let i = book.history(state, rsc, task, anonymous);
                // What runs records the agent it runs with (a changed one
                // replaces the history).
                if let Some(p) = primitives.get(rsc.as_str()).or(primitives.get(base)) {
                    let id = state.history[i].0.clone();
                    state.agents.insert(id, p.agent.clone());
                }
                let ops = &mut state.history[i].1;
                // A probe finds the resource stopped, a monitor finds it in
                // the role it is in; the rest succeed.
                let (name, interval, rc) = match task {
                    Task::Probe => ("monitor", 0, 7),
                    Task::Monitor { interval_ms } => {
                        let promoted = current(ops, |_| false).promoted;
                        ("monitor", interval_ms, if promoted { 8 } else { 0 })
                    }
                    Task::Start => ("start", 0, 0),
                    Task::Stop => ("stop", 0, 0),
                    Task::Promote => ("promote", 0, 0),
                    Task::Demote => ("demote", 0, 0),
                    Task::MigrateTo => ("migrate_to", 0, 0),
                    Task::MigrateFrom => ("migrate_from", 0, 0),
                    Task::Reload => ("reload-agent", 0, 0),
                    Task::Fence | Task::Unfence => continue,
                };
                book.call_id += 1;
                ops.push(Operation {
                    name: name.into(),
                    interval,
                    call_id: book.call_id,
                    rc,
                    status: 0,
                    changed: cib.now,
                    expected_rc: Some(rc),
                    digests,
                    migrate_target,
                });
            }
        }
    }
    out
}

/// A node's state, made (never seen) if the status section has none.
fn node_state<'a>(cib: &'a mut Cib, node: &str, remote: &BTreeSet<String>) -> &'a mut NodeStatus {
    let position = cib.status.len();
    cib.status
        .entry(node.to_owned())
        .or_insert_with(|| NodeStatus::unseen(position, remote.contains(node)))
}

/// Where a node's histories are (by resource id, and for anonymous clones
/// by the child's id), and the last call id used there.
struct Book {
    at: HashMap<String, Vec<usize>>,
    call_id: i64,
}

impl Book {
    fn of(state: &NodeStatus) -> Self {
        let mut at: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, (id, _)) in state.history.iter().enumerate() {
            at.entry(id.clone()).or_default().push(i);
            if base_id(id) != id {
                at.entry(base_id(id).to_owned()).or_default().push(i);
            }
        }
        let call_id = state
            .history
            .iter()
            .flat_map(|(_, ops)| ops.iter().map(|o| o.call_id))
            .max()
            .unwrap_or(0)
            .max(0);
        Self { at, call_id }
    }

    /// The history (its index) an action of `rsc` goes into, made if need
    /// be.
    ///
    /// The nodes know an anonymous clone's instances by the child's name
    /// (or any instance's: the numbers are the scheduler's, not the
    /// nodes'): what an instance does goes into the child's history on
    /// that node, the one that runs for what acts on a running instance,
    /// one that does not for what arrives.
    fn history(&mut self, state: &mut NodeStatus, rsc: &str, task: Task, anonymous: bool) -> usize {
        let base = base_id(rsc);
        let arriving = matches!(task, Task::Start | Task::Probe | Task::MigrateFrom);
        let found = if anonymous {
            self.at.get(base).and_then(|at| {
                at.iter().copied().find(|&i| {
                    base_id(&state.history[i].0) == base
                        && current(&state.history[i].1, |_| false).running != arriving
                })
            })
        } else {
            self.at
                .get(rsc)
                .and_then(|at| at.iter().copied().find(|&i| state.history[i].0 == rsc))
        };
        found.unwrap_or_else(|| {
            let id = if anonymous { base } else { rsc };
            state.history.push((id.to_owned(), Vec::new()));
            let i = state.history.len() - 1;
            self.at.entry(id.to_owned()).or_default().push(i);
            i
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture::{CHAPTER, chapter_xml};
    use crate::schedule;

    #[test]
    fn what_ran_is_in_the_history_and_nothing_is_left_to_do() {
        let cib = Cib::from_xml(&chapter_xml(CHAPTER, "")).unwrap();
        let t = schedule(&cib).unwrap();
        assert!(!t.changes.is_empty());
        let revised = apply(&cib, &t);
        // Both started on one node (probes first, then the starts).
        let node = ["node1", "node2"]
            .into_iter()
            .find(|n| {
                revised.status[*n]
                    .history
                    .iter()
                    .any(|(id, ops)| id == "vip" && current(ops, |_| false).running)
            })
            .unwrap();
        let haproxy = &revised.status[node]
            .history
            .iter()
            .find(|(id, _)| id == "haproxy")
            .unwrap()
            .1;
        assert_eq!(haproxy[0].name, "monitor");
        assert_eq!(haproxy[0].rc, 7);
        assert!(current(haproxy, |_| false).running);
        assert!(schedule(&revised).unwrap().changes.is_empty());
    }

    #[test]
    fn a_fenced_node_is_down_with_its_history_gone() {
        let xml = chapter_xml(CHAPTER, "")
            .replace(r#"value="false"/>"#, r#"value="true"/>"#)
            .replace(
                r#"<node_state id="2" uname="node2" in_ccm="true""#,
                r#"<node_state id="2" uname="node2" in_ccm="false""#,
            )
            .replace(
                "</resources>",
                r#"<primitive id="fence" class="stonith" type="fence_ipmilan"/></resources>"#,
            );
        let cib = Cib::from_xml(&xml).unwrap();
        let t = schedule(&cib).unwrap();
        let revised = apply(&cib, &t);
        let node2 = &revised.status["node2"];
        assert_eq!(node2.in_membership, Some(false));
        assert_eq!(node2.expected.as_deref(), Some("down"));
        assert!(node2.history.is_empty());
        assert!(schedule(&revised).unwrap().changes.is_empty());
    }
}
