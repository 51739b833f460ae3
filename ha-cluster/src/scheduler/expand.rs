//! The resources as the scheduler places them: primitives.
//!
//! A group becomes its members, each colocated with (INFINITY) and ordered
//! after the one before; a clone becomes numbered instances (`rsc:0`,
//! `rsc:1`...) of its primitive or group. Constraints on a group apply
//! through its members (a location to each, a colocation or order through
//! its first or last); colocations and orders naming a clone keep the
//! clone's id, which the scheduler resolves to the instances.

use std::collections::BTreeMap;

use super::Unsupported;
use crate::cib::{Cib, Constraint, Primitive, Resource};
use crate::score::Score;

/// A clone as the scheduler sees it: numbered instances of its child.
#[derive(Debug, Clone)]
pub(crate) struct CloneSet {
    /// The clone's id.
    pub id: String,
    /// The child's primitive ids (a group's members, in order).
    pub bases: Vec<String>,
    /// The child's primitives (what an instance is made of).
    pub members: Vec<Primitive>,
    /// Each instance's primitive ids (`base:N`), in member order.
    pub instances: Vec<Vec<String>>,
    /// `clone-node-max`: instances per node.
    pub node_max: usize,
    /// `clone-max`: instances (at most), by default one per node.
    pub max: usize,
    /// As many instances as nodes (`clone-max` unset or at least the
    /// node count).
    pub universal: bool,
    /// `globally-unique`: each instance is distinct (history names it).
    pub unique: bool,
    /// `interleave`: orders with another clone bind instance to instance.
    pub interleave: bool,
    /// `clone-min`: instances that must run before what is ordered after.
    pub min: Option<usize>,
    /// Promotable, with at most this many promoted instances
    /// (`promoted-max`) and per node (`promoted-node-max`); None: not
    /// promotable.
    pub promotable: Option<(usize, usize)>,
}

/// What [`flatten`] makes of the CIB's resources.
pub(crate) struct Flat {
    /// Every primitive, in CIB order (instances in instance order).
    pub primitives: Vec<Primitive>,
    /// Constraints on primitives (or on clones, by the clone's id).
    pub constraints: Vec<Constraint>,
    /// The clones.
    pub clones: Vec<CloneSet>,
    /// Groups (not cloned) by id: their members in order. Orders name a
    /// group by its id.
    pub groups: BTreeMap<String, Vec<String>>,
}

/// `rsc` always with `host` and started after it (and stopped before it):
/// a group member after the one before it, a guest's connection after its
/// container, what runs inside a container after the container.
fn inside(id: String, rsc: &str, host: &str, constraints: &mut Vec<Constraint>) {
    constraints.push(Constraint::Colocation {
        id: id.clone(),
        rsc: rsc.to_owned(),
        with: host.to_owned(),
        score: Score::INFINITY,
        rsc_role: None,
        with_role: None,
        node_attribute: None,
    });
    constraints.push(Constraint::Order {
        id,
        first: host.to_owned(),
        then: rsc.to_owned(),
        mandatory: true,
        symmetrical: true,
        first_action: "start".into(),
        then_action: "start".into(),
        require_all: true,
    });
}

fn chain(id: &str, names: &[String], constraints: &mut Vec<Constraint>) {
    for pair in names.windows(2) {
        inside(format!("{id}-chain"), &pair[1], &pair[0], constraints);
    }
}

/// A boolean meta attribute.
pub(crate) fn flag(meta: &BTreeMap<String, String>, key: &str, default: bool) -> bool {
    crate::cib::truthy(meta.get(key).map(String::as_str), default)
}

fn count(meta: &BTreeMap<String, String>, key: &str, default: usize) -> usize {
    meta.get(key)
        .and_then(|v| v.parse::<i64>().ok())
        .map_or(default, |v| v.max(0) as usize)
}

/// How many instances of a clone of `members` to make. Pacemaker makes
/// `max` (clone-max); so does this up to [`ALWAYS_MADE`]. Beyond that, no
/// more than `placeable` (nodes × clone-node-max) can run, the others
/// staying stopped: making only those, plus one for each history the
/// status holds of the clone (each may take an instance of its own) and
/// up to the highest instance number it names, gives every placement,
/// history and orphan number Pacemaker gives (only a unique clone's
/// never-run instances, each just "Stopped", are not listed), while a
/// clone-max of 4294967295 costs no more than the cluster it runs on.
/// Never more than [`MAX_CLONE_INSTANCES`].
fn instances(cib: &Cib, members: &[Primitive], max: usize, placeable: usize) -> usize {
    let mut histories = 0usize;
    let mut named = 0usize;
    for state in cib.status.values() {
        for (id, _) in &state.history {
            let base = crate::cib::base_id(id);
            if members.iter().any(|m| m.id == base) {
                histories += 1;
                if let Some(n) = id
                    .rsplit_once(':')
                    .and_then(|(_, n)| n.parse::<usize>().ok())
                {
                    named = named.max(n.saturating_add(1));
                }
            }
        }
    }
    let bound = placeable
        .saturating_add(histories)
        .max(named)
        .clamp(ALWAYS_MADE, MAX_CLONE_INSTANCES);
    max.min(bound)
}

/// Up to this clone-max every instance is made, as Pacemaker makes them:
/// a unique clone's never-run instances each show in the status and the
/// allocation scores.
const ALWAYS_MADE: usize = 1_000;

/// The most instances a clone is given, whatever clone-max and
/// clone-node-max (both huge) or the status (an instance number near
/// 2³²) say: as many as the 10,000-primitive benchmark cluster has
/// primitives, beyond any cluster's nodes × a sane clone-node-max, and
/// what the scheduler still handles in seconds.
const MAX_CLONE_INSTANCES: usize = 10_000;

/// Expands `cib`'s resources.
pub(crate) fn flatten(cib: &Cib) -> Result<Flat, Unsupported> {
    let mut primitives = Vec::new();
    let mut constraints = Vec::new();
    let mut clones = Vec::new();
    // Group id to its members.
    let mut members_of: BTreeMap<String, Vec<String>> = BTreeMap::new();
    // A clone's child (and the child's members) to the clone's id.
    let mut clone_of: BTreeMap<String, String> = BTreeMap::new();
    let remote = cib.remote_nodes();
    let node_count = cib
        .nodes
        .iter()
        .map(|n| &n.name)
        .chain(cib.status.keys())
        .chain(remote.iter().map(|(name, _)| name))
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    // A guest's connection: an implicit resource with its container,
    // started after it.
    let guest_connection = |p: &Primitive, constraints: &mut Vec<Constraint>| {
        let guest = p.meta.get("remote-node")?;
        inside(format!("{guest}-in-{}", p.id), guest, &p.id, constraints);
        Some(Primitive {
            id: guest.clone(),
            agent: "ocf:pacemaker:remote".into(),
            params: BTreeMap::new(),
            meta: BTreeMap::new(),
            operations: Vec::new(),
            on_fail: BTreeMap::new(),
            utilization: BTreeMap::new(),
        })
    };
    // A resource with a `container` runs inside it: with it, after it
    // (unless the container is a guest node's, where it runs on the guest).
    let filler = |p: &Primitive, constraints: &mut Vec<Constraint>| {
        let Some(container) = p.meta.get("container") else {
            return;
        };
        if remote.iter().any(|(_, c)| c.as_ref() == Some(container)) {
            return;
        }
        inside(
            format!("{}-in-{container}", p.id),
            &p.id,
            container,
            constraints,
        );
    };
    let mut connections = Vec::new();
    for r in &cib.resources {
        match r {
            Resource::Primitive(p) => {
                primitives.push(p.clone());
                connections.extend(guest_connection(p, &mut constraints));
                filler(p, &mut constraints);
            }
            Resource::Group { id, members, .. } => {
                if members.is_empty() {
                    continue;
                }
                let names: Vec<String> = members.iter().map(|m| m.id.clone()).collect();
                chain(id, &names, &mut constraints);
                primitives.extend(members.iter().cloned());
                for m in members {
                    connections.extend(guest_connection(m, &mut constraints));
                    filler(m, &mut constraints);
                }
                members_of.insert(id.clone(), names);
            }
            Resource::Clone {
                id,
                child,
                meta,
                promotable,
            } => {
                let (child_id, members) = match child.as_ref() {
                    Resource::Primitive(p) => (p.id.clone(), vec![p.clone()]),
                    Resource::Group { id, members, .. } => (id.clone(), members.clone()),
                    _ => return Err(Unsupported::NestedClone),
                };
                if members.is_empty() {
                    continue;
                }
                let max = count(meta, "clone-max", node_count);
                let node_max = count(meta, "clone-node-max", 1);
                let made = instances(cib, &members, max, node_count.saturating_mul(node_max));
                let mut set = CloneSet {
                    id: id.clone(),
                    bases: members.iter().map(|m| m.id.clone()).collect(),
                    members: members.clone(),
                    instances: Vec::new(),
                    node_max,
                    max,
                    universal: max >= node_count,
                    unique: flag(meta, "globally-unique", false),
                    interleave: flag(meta, "interleave", false),
                    min: meta.get("clone-min").and_then(|v| v.parse().ok()),
                    promotable: promotable.then(|| {
                        let max = meta
                            .get("promoted-max")
                            .or_else(|| meta.get("master-max"))
                            .and_then(|v| v.parse::<i64>().ok())
                            .map_or(1, |v| v.max(0) as usize);
                        let node_max = meta
                            .get("promoted-node-max")
                            .or_else(|| meta.get("master-node-max"))
                            .and_then(|v| v.parse::<i64>().ok())
                            .map_or(1, |v| v.max(0) as usize);
                        (max, node_max)
                    }),
                };
                for base in set.bases.iter().chain([&child_id]) {
                    clone_of.insert(base.clone(), id.clone());
                }
                for i in 0..made {
                    let names: Vec<String> =
                        members.iter().map(|m| format!("{}:{i}", m.id)).collect();
                    for (m, name) in members.iter().zip(&names) {
                        let mut p = m.clone();
                        p.id = name.clone();
                        // Clone instances are a little sticky by default.
                        p.meta
                            .entry("resource-stickiness".into())
                            .or_insert_with(|| "1".into());
                        primitives.push(p);
                    }
                    chain(&format!("{child_id}:{i}"), &names, &mut constraints);
                    set.instances.push(names);
                }
                clones.push(set);
            }
            Resource::Bundle { .. } => return Err(Unsupported::Bundles),
        }
    }
    primitives.extend(connections);
    let clone_id = |id: &str| clone_of.get(id).cloned().unwrap_or_else(|| id.to_owned());
    let first = |id: &str| members_of.get(id).map_or(clone_id(id), |m| m[0].clone());
    let last = |id: &str| {
        members_of
            .get(id)
            .map_or(clone_id(id), |m| m[m.len() - 1].clone())
    };
    // Every primitive a constraint on `id` applies to.
    let every = |id: &str| -> Vec<String> {
        match clones.iter().find(|s| s.id == clone_id(id)) {
            Some(set) => set.instances.iter().flatten().cloned().collect(),
            None => members_of
                .get(id)
                .cloned()
                .unwrap_or_else(|| vec![id.to_owned()]),
        }
    };
    for c in &cib.constraints {
        match c {
            Constraint::Ticket {
                id,
                rsc,
                ticket,
                loss_policy,
                promoted_only,
            } => {
                for member in every(rsc) {
                    constraints.push(Constraint::Ticket {
                        id: id.clone(),
                        rsc: member,
                        ticket: ticket.clone(),
                        loss_policy: *loss_policy,
                        promoted_only: *promoted_only,
                    });
                }
            }
            Constraint::Location { rsc, .. } => {
                // A group's first member takes its scores; the others,
                // which follow it, only the permission (score 0), as
                // Pacemaker applies a location to a colocated group.
                let followers: std::collections::BTreeSet<String> = members_of
                    .get(rsc)
                    .map(|m| m[1..].iter().cloned().collect())
                    .unwrap_or_default();
                for member in every(rsc) {
                    let mut each = c.clone();
                    if let Constraint::Location {
                        rsc, score, rule, ..
                    } = &mut each
                    {
                        if followers.contains(&member) {
                            *score = Score::ZERO;
                            if let Some(rule) = rule {
                                rule.score_attribute = None;
                            }
                        }
                        *rsc = member;
                    }
                    constraints.push(each);
                }
            }
            Constraint::Colocation { rsc, with, .. } => {
                let with = last(with);
                // A clone's instances each with the primary.
                let dependents = match clones.iter().find(|s| s.id == clone_id(rsc)) {
                    Some(set) => set.instances.iter().map(|i| i[0].clone()).collect(),
                    None => vec![first(rsc)],
                };
                for dependent in dependents {
                    let mut each = c.clone();
                    if let Constraint::Colocation {
                        rsc, with: primary, ..
                    } = &mut each
                    {
                        *rsc = dependent;
                        *primary = with.clone();
                    }
                    constraints.push(each);
                }
            }
            Constraint::Order { first: f, then, .. } => {
                let mut each = c.clone();
                if let Constraint::Order {
                    first: f2,
                    then: t2,
                    ..
                } = &mut each
                {
                    // Groups and clones stay named: the scheduler knows
                    // them as wholes ("group running").
                    *f2 = clone_id(f);
                    *t2 = clone_id(then);
                }
                constraints.push(each);
            }
        }
    }
    Ok(Flat {
        primitives,
        constraints,
        clones,
        groups: members_of,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A two-node cluster, both online, with a clone of `Dummy` whose meta attributes are
    /// `meta`.
    fn clone_cib(meta: &str) -> Cib {
        Cib::from_xml(&format!(
            r#"<cib have-quorum="1"><configuration>
<crm_config><cluster_property_set id="o">
<nvpair id="o-s" name="stonith-enabled" value="false"/>
</cluster_property_set></crm_config>
<nodes><node id="1" uname="node1"/><node id="2" uname="node2"/></nodes>
<resources><clone id="c"><meta_attributes id="c-m">{meta}</meta_attributes>
<primitive id="d" class="ocf" provider="pacemaker" type="Dummy"/></clone></resources>
<constraints/></configuration><status>
<node_state id="1" uname="node1" in_ccm="true" crmd="online" join="member" expected="member"/>
<node_state id="2" uname="node2" in_ccm="true" crmd="online" join="member" expected="member"/>
</status></cib>"#
        ))
        .unwrap()
    }

    fn nvpair(name: &str, value: &str) -> String {
        format!(r#"<nvpair id="c-{name}" name="{name}" value="{value}"/>"#)
    }

    #[test]
    fn a_huge_clone_max_makes_only_the_instances_that_can_run() {
        let huge = "4294967295";
        let c = clone_cib(&nvpair("clone-max", huge));
        let started = std::time::Instant::now();
        let flat = flatten(&c).unwrap();
        assert_eq!(flat.clones[0].max, 4_294_967_295);
        // Two nodes, one instance each, and the always-made ones.
        assert_eq!(flat.clones[0].instances.len(), ALWAYS_MADE);
        let t = crate::schedule(&c).unwrap();
        // One start on each node, as with clone-max unset.
        let starts: Vec<_> = t.changes.iter().map(|c| format!("{c:?}")).collect();
        assert_eq!(starts.len(), 2, "{starts:?}");
        // clone-node-max as huge: bounded all the same.
        let c = clone_cib(&(nvpair("clone-max", huge) + &nvpair("clone-node-max", huge)));
        let flat = flatten(&c).unwrap();
        assert_eq!(flat.clones[0].instances.len(), MAX_CLONE_INSTANCES);
        let t = crate::schedule(&c).unwrap();
        assert_eq!(t.changes.len(), MAX_CLONE_INSTANCES);
        assert!(started.elapsed() < std::time::Duration::from_secs(60));
    }

    #[test]
    fn a_clone_max_within_reach_makes_every_instance() {
        let c = clone_cib(&nvpair("clone-max", "5"));
        assert_eq!(flatten(&c).unwrap().clones[0].instances.len(), 5);
        let c = clone_cib(&nvpair("clone-max", "2000"));
        // Beyond what always is made: no more than those, as two nodes
        // with one instance each cannot run more.
        assert_eq!(flatten(&c).unwrap().clones[0].instances.len(), ALWAYS_MADE);
        assert_eq!(instances(&c, &[], 2000, 1500), 1500);
        assert_eq!(instances(&c, &[], 2000, 5000), 2000);
    }
}
