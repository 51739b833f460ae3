//! Assignment: each resource, in dependency order, to its best node.
//!
//! Primaries go before the resources colocated with them; a clone's
//! instances are assigned together, first the healthy running ones to where
//! they run (when that is still their best node, as Pacemaker's
//! pre-allocation does), then the rest.

use std::collections::{BTreeMap, BTreeSet};

use super::expand::CloneSet;
use super::history::Current;
use super::index::Index;
use super::nodes::Nodes;
use crate::cib::{Cib, Constraint, Primitive, Role};
use crate::score::{INFINITY, Score};

/// One step of assignment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Step<'a> {
    /// A primitive.
    One(&'a str),
    /// Every instance of a clone (index into the clones).
    Clone(usize),
}

struct Planner<'a> {
    index: &'a Index<'a>,
    clones: &'a [CloneSet],
    /// Clone index by clone id and by instance member.
    clone_of: BTreeMap<&'a str, usize>,
    seen: BTreeSet<&'a str>,
    seen_clones: BTreeSet<usize>,
    steps: Vec<Step<'a>>,
    /// Each resource's `priority`: primaries are assigned highest first.
    priority: &'a dyn Fn(&str) -> Score,
}

impl<'a> Planner<'a> {
    fn visit(&mut self, id: &'a str) {
        if let Some(&ci) = self.clone_of.get(id) {
            return self.visit_clone(ci);
        }
        if !self.seen.insert(id) {
            return;
        }
        let mut primaries: Vec<&'a str> = self
            .index
            .of(id)
            .filter_map(|c| match c {
                Constraint::Colocation { rsc, with, .. } if rsc == id => Some(with.as_str()),
                _ => None,
            })
            .collect();
        primaries.sort_by_key(|p| std::cmp::Reverse((self.priority)(p)));
        for with in primaries {
            self.visit(with);
        }
        self.steps.push(Step::One(id));
    }

    fn visit_clone(&mut self, ci: usize) {
        if !self.seen_clones.insert(ci) {
            return;
        }
        let set = &self.clones[ci];
        for member in set.instances.iter().flatten() {
            for c in self.index.of(member) {
                if let Constraint::Colocation { rsc, with, .. } = c
                    && rsc == member
                    && self.clone_of.get(with.as_str()) != Some(&ci)
                {
                    self.visit(with);
                }
            }
        }
        self.steps.push(Step::Clone(ci));
    }
}

/// The order of assignment for `ids` (in their order of precedence).
pub(super) fn plan<'a>(
    ids: impl Iterator<Item = &'a str>,
    index: &'a Index<'a>,
    clones: &'a [CloneSet],
    priority: &'a dyn Fn(&str) -> Score,
) -> Vec<Step<'a>> {
    let mut clone_of = BTreeMap::new();
    for (ci, set) in clones.iter().enumerate() {
        clone_of.insert(set.id.as_str(), ci);
        for m in set.instances.iter().flatten() {
            clone_of.insert(m.as_str(), ci);
        }
    }
    let mut planner = Planner {
        index,
        clones,
        clone_of,
        seen: BTreeSet::new(),
        seen_clones: BTreeSet::new(),
        steps: Vec::new(),
        priority,
    };
    for id in ids {
        planner.visit(id);
    }
    planner.steps
}

/// Assignment state.
pub(super) struct Assigner<'a> {
    pub cib: &'a Cib,
    pub nodes: &'a Nodes,
    /// Primitives by id.
    pub by_id: BTreeMap<&'a str, &'a Primitive>,
    /// The constraints by resource.
    pub index: &'a Index<'a>,
    pub clones: &'a [CloneSet],
    /// Each primitive's node scores before colocation.
    pub scores: BTreeMap<&'a str, BTreeMap<String, Score>>,
    /// Where each primitive runs now.
    pub now: &'a BTreeMap<&'a str, Vec<(String, Current)>>,
    /// `placement-strategy`: default, utilization, balanced or minimal.
    pub strategy: &'a str,
    /// The result: each primitive's node (None: nowhere).
    pub placed: BTreeMap<String, Option<String>>,
    /// Resources assigned per node.
    pub load: BTreeMap<String, usize>,
    /// Utilization taken per node.
    pub used: BTreeMap<String, BTreeMap<String, i64>>,
    /// Instances of each clone per node.
    pub instances_on: BTreeMap<(usize, String), usize>,
    /// (primitive, node) pairs with any history (probed or run there).
    pub known: &'a BTreeSet<(String, String)>,
    /// Promotable clones' instances chosen to be Promoted.
    pub promoted: BTreeSet<String>,
    /// The name the nodes last knew an anonymous instance by.
    pub known_as: &'a BTreeMap<String, String>,
    /// Instances demoted for a failure (on-fail=demote): not promoted.
    pub demoted: &'a BTreeSet<String>,
    /// Resources left as they are (unmanaged, or blocked by a failure).
    pub fixed: &'a BTreeSet<String>,
    /// The node scores each primitive was last assigned by (colocations
    /// merged, full nodes and clone limits applied), as crm_simulate's
    /// `--scores` shows them.
    pub shown: BTreeMap<String, BTreeMap<String, Score>>,
}

impl<'a> Assigner<'a> {
    /// The nodes `id` is assigned to: a clone's instances' (their last
    /// members'; of a promotable clone, those in `role`), a primitive's
    /// one; None if not assigned yet, or if a role is asked of a resource
    /// without roles (such a colocation does not apply).
    pub fn targets(&self, id: &str, role: Option<Role>) -> Option<Vec<String>> {
        if let Some(set) = self.clones.iter().find(|c| c.id == id) {
            let role = role.filter(|_| set.promotable.is_some());
            return Some(
                set.instances
                    .iter()
                    .filter(|i| match role {
                        Some(Role::Promoted) => self.promoted.contains(&i[0]),
                        Some(_) => !self.promoted.contains(&i[0]),
                        None => true,
                    })
                    // A failed instance left where it is (blocked) is no
                    // place to be with.
                    .filter(|i| {
                        !(self.fixed.contains(&i[0])
                            && self
                                .now
                                .get(i[0].as_str())
                                .is_some_and(|v| v.iter().any(|(_, c)| c.failed)))
                    })
                    .filter_map(|i| self.placed.get(i.last()?).cloned().flatten())
                    .collect(),
            );
        }
        if role.is_some() {
            return None;
        }
        self.placed.get(id).map(|n| n.iter().cloned().collect())
    }

    /// Which node has more room left (placement-strategy=balanced): the
    /// one with more capacities larger than the other's.
    fn compare_capacity(&self, a: &str, b: &str) -> std::cmp::Ordering {
        let left = |node: &str| -> BTreeMap<String, i64> {
            let mut room = self
                .cib
                .nodes
                .iter()
                .find(|x| x.name == node)
                .map(|x| x.utilization.clone())
                .unwrap_or_default();
            for (k, used) in self.used.get(node).into_iter().flatten() {
                if let Some(v) = room.get_mut(k) {
                    *v -= used;
                }
            }
            room
        };
        let (ra, rb) = (left(a), left(b));
        let mut result = 0i32;
        for (k, va) in &ra {
            let vb = rb.get(k).copied().unwrap_or(0);
            result += (*va > vb) as i32 - (*va < vb) as i32;
        }
        for (k, vb) in &rb {
            if !ra.contains_key(k) && *vb > 0 {
                result -= 1;
            }
        }
        result.cmp(&0)
    }

    /// `id` and every resource tied to it by mandatory colocations, either
    /// way, transitively, as Pacemaker gathers them for utilization: a
    /// clone instance's member has its clone's colocations, another clone's
    /// instance counts as that clone, and from a clone what is not cloned
    /// is not followed.
    fn colocated(&self, id: &str) -> Vec<String> {
        // The clone an instance's member belongs to.
        let owner: BTreeMap<&str, &str> = self
            .clones
            .iter()
            .flat_map(|c| {
                c.instances
                    .iter()
                    .flatten()
                    .map(move |m| (m.as_str(), c.id.as_str()))
            })
            .collect();
        let clone_of = |r: &str| owner.get(r).map(|c| (*c).to_owned());
        let is_clone = |r: &str| self.clones.iter().any(|c| c.id == r);
        let mut seen = vec![id.to_owned()];
        let mut next = 0;
        while next < seen.len() {
            let at = seen[next].clone();
            next += 1;
            let mut names = vec![at.clone()];
            names.extend(clone_of(&at));
            for name in &names {
                for c in self.index.of(name).chain(self.index.with(name)) {
                    let Constraint::Colocation {
                        rsc, with, score, ..
                    } = c
                    else {
                        continue;
                    };
                    if score.value() < INFINITY {
                        continue;
                    }
                    let other = if with == name {
                        // From a clone, Pacemaker does not follow what is
                        // not cloned (it cannot know which instance that
                        // will be with).
                        if is_clone(&at) && clone_of(rsc).is_none() {
                            continue;
                        }
                        rsc
                    } else if rsc == name {
                        with
                    } else {
                        continue;
                    };
                    // Another clone's instance stands for its clone.
                    let other = match clone_of(other) {
                        Some(clone) if clone_of(&at).as_ref() != Some(&clone) => clone,
                        _ => other.clone(),
                    };
                    if !seen.contains(&other) {
                        seen.push(other);
                    }
                }
            }
        }
        seen
    }

    /// What `id` and the unplaced resources that must go where it goes
    /// need of each utilization attribute: each unplaced primitive's, and
    /// for a clone one instance's unless one of its instances is counted
    /// already or it is placed.
    fn colocated_need(&self, id: &str) -> BTreeMap<String, i64> {
        let together = self.colocated(id);
        let mut need: BTreeMap<String, i64> = BTreeMap::new();
        let mut add = |u: &BTreeMap<String, i64>| {
            for (k, v) in u {
                *need.entry(k.clone()).or_default() += v;
            }
        };
        for other in &together {
            if let Some(p) = self.by_id.get(other.as_str()) {
                if other == id || !self.placed.contains_key(other.as_str()) {
                    add(&p.utilization);
                }
            } else if let Some(set) = self.clones.iter().find(|c| &c.id == other) {
                let counted = together
                    .iter()
                    .any(|t| set.instances.iter().flatten().any(|m| m == t));
                let placed = set
                    .instances
                    .iter()
                    .flatten()
                    .all(|m| self.placed.contains_key(m.as_str()));
                if !counted && !placed {
                    for m in &set.members {
                        add(&m.utilization);
                    }
                }
            }
        }
        need
    }

    /// The resources colocated with `id` (outside clones), with the score
    /// and the node attribute that says what together means.
    pub(super) fn dependents<'b>(
        &'b self,
        id: &'b str,
    ) -> impl Iterator<Item = (&'a str, Score, Option<&'a str>)> + 'b {
        self.index.with(id).filter_map(move |c| match c {
            Constraint::Colocation {
                rsc,
                with,
                score,
                node_attribute,
                ..
            } if with == id && !self.in_clone(rsc) => {
                Some((rsc.as_str(), *score, node_attribute.as_deref()))
            }
            _ => None,
        })
    }

    /// Applies `id`'s colocations with primaries already placed to its
    /// node scores `s`: a mandatory one bans the nodes that are not (or,
    /// against, that are) with the primary; an advisory one (unless
    /// `mandatory_only`) adds its score where it is. A primary not placed
    /// yet (a colocation loop) does not constrain; one placed nowhere does.
    /// (A colocation of a role of `id` weighs its promotion instead.)
    fn follow_primaries(&self, id: &str, s: &mut BTreeMap<String, Score>, mandatory_only: bool) {
        for c in self.index.of(id) {
            let Constraint::Colocation {
                rsc,
                with,
                score,
                rsc_role: None,
                with_role,
                node_attribute,
                ..
            } = c
            else {
                continue;
            };
            let mandatory = score.value().abs() >= INFINITY;
            if rsc != id || (mandatory_only && !mandatory) {
                continue;
            }
            let Some(targets) = self.targets(with, *with_role) else {
                continue;
            };
            for (node, v) in s.iter_mut() {
                let here = targets
                    .iter()
                    .any(|t| self.together(t, node, node_attribute.as_deref()));
                if mandatory {
                    if here != (score.value() > 0) {
                        *v = Score::MINUS_INFINITY;
                    }
                } else if here {
                    *v = v.add(*score);
                }
            }
        }
    }

    /// Whether nodes `a` and `b` count as together: the same node, or
    /// (with `attribute`) the same value of that node attribute.
    fn together(&self, a: &str, b: &str, attribute: Option<&str>) -> bool {
        match attribute {
            None => a == b,
            Some(name) => {
                let x = super::nodes::attribute(self.cib, a, name);
                x.is_some() && x == super::nodes::attribute(self.cib, b, name)
            }
        }
    }

    fn in_clone(&self, id: &str) -> bool {
        self.clones
            .iter()
            .any(|c| c.id == id || c.instances.iter().flatten().any(|m| m == id))
    }

    /// Adds a dependent's node scores (times `factor`, the colocation's
    /// share of INFINITY) to a primary's, then those of the dependent's own
    /// dependents; a contribution that would leave no node able to run the
    /// primary is dropped (Pacemaker's merge with rollback).
    fn merge(
        &self,
        work: BTreeMap<String, Score>,
        dependent: &str,
        factor: f64,
        attribute: Option<&str>,
        merging: &mut BTreeSet<String>,
    ) -> BTreeMap<String, Score> {
        if !merging.insert(dependent.to_owned()) {
            return work;
        }
        // The dependent's own scores, narrowed by where the primaries it
        // must (or must not) be with are already placed.
        let mut own = self.scores.get(dependent).cloned();
        if let Some(own) = own.as_mut() {
            self.follow_primaries(dependent, own, true);
        }
        let theirs = own.as_ref();
        let mut merged = work.clone();
        for (node, v) in merged.iter_mut() {
            // By node attribute: the best of the dependent's nodes that
            // count as together with this one.
            let score = if !self.nodes.available.contains(node) {
                -INFINITY
            } else if attribute.is_some() {
                theirs
                    .into_iter()
                    .flatten()
                    .filter(|(m, _)| self.together(m, node, attribute))
                    .map(|(_, s)| s.value())
                    .max()
                    .unwrap_or(-INFINITY)
            } else {
                theirs
                    .and_then(|t| t.get(node))
                    .copied()
                    .unwrap_or(Score::MINUS_INFINITY)
                    .value()
            };
            if factor < 0.0 && score < 0 {
                continue;
            }
            let scaled = factor * score as f64;
            let mut weight = scaled.round() as i64;
            if weight == 0 && score != 0 {
                weight = if factor > 0.0 { 1 } else { -1 };
            }
            *v = v.add(Score::new(weight));
        }
        let runnable = merged
            .iter()
            .any(|(node, v)| v.value() >= 0 && self.nodes.available.contains(node));
        if !runnable {
            merging.remove(dependent);
            return work;
        }
        let sign = if factor < 0.0 { -1.0 } else { 1.0 };
        for (rsc, score, attribute) in self.dependents(dependent) {
            merged = self.merge(
                merged,
                rsc,
                sign * score.value() as f64 / INFINITY as f64,
                attribute,
                merging,
            );
        }
        merging.remove(dependent);
        merged
    }

    /// Assigns `id` to its best node. With `prefer`, only there (else it
    /// stays unassigned for a later try); `cap` limits a clone lead's
    /// instances per node.
    pub fn place(
        &mut self,
        id: &str,
        prefer: Option<&str>,
        cap: Option<(usize, usize)>,
    ) -> Option<String> {
        let mut s = self.scores.get(id).cloned().unwrap_or_default();
        self.follow_primaries(id, &mut s, false);
        // The resources colocated with this one pull it their way.
        if !self.in_clone(id) {
            for (rsc, score, attribute) in self.dependents(id) {
                let mut merging = BTreeSet::new();
                let factor = score.value() as f64 / INFINITY as f64;
                s = self.merge(s, rsc, factor, attribute, &mut merging);
            }
        }
        let primitive = self.by_id.get(id).copied();
        // placement-strategy=utilization: only nodes with room, for it
        // and the unplaced resources that must go where it goes if some
        // node has room for them all (Pacemaker's colocated utilization).
        if self.strategy != "default"
            && let Some(p) = primitive
        {
            let need = self.colocated_need(id);
            let room = |node: &str, need: &BTreeMap<String, i64>| {
                let capacity = self
                    .cib
                    .nodes
                    .iter()
                    .find(|x| x.name == node)
                    .map(|x| &x.utilization);
                let used = self.used.get(node);
                need.iter().all(|(k, want)| {
                    let have = capacity.and_then(|c| c.get(k)).copied().unwrap_or(0);
                    let taken = used.and_then(|u| u.get(k)).copied().unwrap_or(0);
                    have - taken >= *want
                })
            };
            let together = s
                .iter()
                .any(|(node, v)| v.value() >= 0 && room(node, &need));
            let need = if together {
                need
            } else {
                p.utilization.clone()
            };
            for (node, v) in s.iter_mut() {
                if !room(node, &need) {
                    *v = Score::MINUS_INFINITY;
                }
            }
        }
        if let Some((ci, limit)) = cap {
            for (node, v) in s.iter_mut() {
                if self
                    .instances_on
                    .get(&(ci, node.clone()))
                    .is_some_and(|&k| k >= limit)
                {
                    *v = Score::MINUS_INFINITY;
                }
            }
        }
        self.shown.insert(id.to_owned(), s.clone());
        // The healthy current node, preferred after score and load.
        let current_node = self
            .now
            .get(id)
            .and_then(|v| v.first())
            .filter(|(_, c)| !c.failed)
            .map(|(node, _)| node.clone());
        let load = &self.load;
        let minimal = self.strategy == "minimal";
        let balanced = self.strategy == "balanced";
        let best = self
            .nodes
            .names
            .iter()
            .filter_map(|node| s.get(node).map(|v| (node, *v)))
            .filter(|(_, v)| v.value() >= 0)
            .max_by(|(a, va), (b, vb)| {
                let ties = || {
                    if minimal {
                        return std::cmp::Ordering::Equal;
                    }
                    let roomier = if balanced {
                        self.compare_capacity(a, b)
                    } else {
                        std::cmp::Ordering::Equal
                    };
                    roomier
                        .then_with(|| load.get(*b).unwrap_or(&0).cmp(load.get(*a).unwrap_or(&0)))
                        .then_with(|| {
                            let here = |x: &String| current_node.as_ref() == Some(x);
                            here(a).cmp(&here(b))
                        })
                };
                va.cmp(vb).then_with(ties).then_with(|| b.cmp(a))
            })
            .map(|(node, v)| (node.clone(), v));
        // Where it runs wins among the best nodes when they score above 0
        // (Pacemaker spares the move before it weighs the load), except
        // for a unique clone's instances, which spread.
        let unique = || {
            self.clones
                .iter()
                .any(|c| c.unique && c.instances.iter().flatten().any(|m| m == id))
        };
        let best = match (best, current_node) {
            (Some((_, v)), Some(here))
                if v.value() > 0 && s.get(&here).is_some_and(|w| *w == v) && !unique() =>
            {
                Some(here)
            }
            (best, _) => best.map(|(node, _)| node),
        };
        if let Some(want) = prefer
            && best.as_deref() != Some(want)
        {
            return None;
        }
        if let Some(node) = &best {
            *self.load.entry(node.clone()).or_default() += 1;
            if let Some(p) = primitive {
                let u = self.used.entry(node.clone()).or_default();
                for (k, need) in &p.utilization {
                    *u.entry(k.clone()).or_default() += need;
                }
            }
            if let Some((ci, _)) = cap {
                *self.instances_on.entry((ci, node.clone())).or_default() += 1;
            }
        }
        self.placed.insert(id.to_owned(), best.clone());
        best
    }

    /// Assigns a clone's instances: the healthy running ones where they
    /// run if that is still best (at most an even share per node), then
    /// the rest, at most `clone-node-max` per node.
    pub fn place_clone(&mut self, ci: usize) {
        let set = &self.clones[ci];
        let available = self.nodes.available.len().max(1);
        let even = (set.instances.len() / available).max(1);
        let mut later = Vec::new();
        let mut rest = Vec::new();
        for (i, members) in set.instances.iter().enumerate() {
            let running = self
                .now
                .get(members[0].as_str())
                .and_then(|v| v.first())
                .filter(|(_, c)| !c.failed)
                .map(|(node, _)| node.clone());
            match running {
                Some(node) => {
                    let limit = even.min(set.node_max);
                    if self
                        .place(&members[0], Some(&node), Some((ci, limit)))
                        .is_some()
                    {
                        for m in &members[1..] {
                            self.place(m, None, None);
                        }
                    } else {
                        later.push(i);
                    }
                }
                None => rest.push(i),
            }
        }
        for i in later.into_iter().chain(rest) {
            let members = &set.instances[i];
            self.place(&members[0], None, Some((ci, set.node_max)));
            for m in &members[1..] {
                self.place(m, None, None);
            }
        }
        self.promote(ci);
    }
}
