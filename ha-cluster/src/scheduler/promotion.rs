//! Promotion: which of a promotable clone's instances become Promoted.
//!
//! As Pacemaker's `pcmk__set_instance_roles` decides: each instance gets a
//! priority (its promotion score, the `master-<rsc>` node attribute that
//! agents set, -1 when unset; plus role-specific locations and
//! colocations), then a sort index (the priority plus the clone's own
//! preference for the node and the pull of resources that want to be with
//! the promoted instance); the best `promoted-max` with both non-negative
//! are promoted, at most `promoted-node-max` per node.

use std::collections::{BTreeMap, BTreeSet};

use super::assign::Assigner;
use super::history::strip;
use super::location_score;
use super::nodes::attribute;
use crate::cib::{Constraint, NoQuorumPolicy, Role};
use crate::score::{INFINITY, Score};

struct Candidate {
    node: String,
    priority: Score,
    sort: Score,
    promoted_now: bool,
    index: usize,
}

impl Assigner<'_> {
    /// The promotion score of instance `lead` on `node` (-1 when unset).
    fn promotion_score(&self, ci: usize, lead: &str, node: &str) -> Score {
        let unset = Score::new(-1);
        let set = &self.clones[ci];
        if self
            .scores
            .get(lead)
            .and_then(|s| s.get(node))
            .is_some_and(|v| v.value() < 0)
        {
            return unset;
        }
        let running_on = |id: &str, n: &str| {
            self.now
                .get(id)
                .is_some_and(|v| v.iter().any(|(x, _)| x == n))
        };
        let known = |id: &str| self.known.iter().any(|(rsc, _)| rsc == id);
        let known_on = |id: &str, n: &str| self.known.contains(&(id.to_owned(), n.to_owned()));
        if !set.unique {
            // Where an instance is active, only it gets the node's score.
            let active_here = set.instances.iter().find(|i| running_on(&i[0], node));
            let eligible = match active_here {
                Some(i) => i[0] == lead,
                None => set.instances.iter().any(|i| known_on(&i[0], node)),
            };
            if !eligible && known(lead) && !running_on(lead, node) && !known_on(lead, node) {
                return unset;
            }
        } else if known(lead) && !running_on(lead, node) && !known_on(lead, node) {
            return unset;
        }
        let name = self.known_as.get(lead).map_or(lead, String::as_str);
        let value = attribute(self.cib, node, &format!("master-{name}")).or_else(|| {
            (!set.unique)
                .then(|| attribute(self.cib, node, &format!("master-{}", strip(lead))))
                .flatten()
        });
        value.and_then(Score::parse).unwrap_or(unset)
    }

    /// The clone's own preference for `node`: its role-less locations.
    fn clone_weight(&self, lead: &str, node: &str) -> Score {
        let mut weight = if self.cib.options.symmetric {
            Score::ZERO
        } else {
            Score::MINUS_INFINITY
        };
        for c in self.index.of(lead) {
            if let Constraint::Location {
                rsc, role: None, ..
            } = c
                && rsc == lead
                && let Some(score) = location_score(self.cib, c, node)
            {
                weight = if !self.cib.options.symmetric && weight == Score::MINUS_INFINITY {
                    score
                } else {
                    weight.add(score)
                };
            }
        }
        weight
    }

    /// Chooses clone `ci`'s promoted instances (after its placement).
    pub fn promote(&mut self, ci: usize) {
        let set = &self.clones[ci];
        let Some((max, node_max)) = set.promotable else {
            return;
        };
        let mut candidates = Vec::new();
        for (index, members) in set.instances.iter().enumerate() {
            let lead = members[0].as_str();
            let Some(node) = self.placed.get(lead).cloned().flatten() else {
                continue;
            };
            let primitive = self.by_id.get(lead).copied();
            let unpromotable = primitive
                .and_then(|p| p.meta.get("target-role"))
                .and_then(|r| Role::parse(r))
                .is_some_and(|r| r < Role::Promoted && r != Role::Started);
            let mut priority = if unpromotable || self.demoted.contains(lead) {
                Score::MINUS_INFINITY
            } else {
                self.promotion_score(ci, lead, &node)
            };
            for c in self.index.of(lead) {
                match c {
                    Constraint::Location {
                        rsc,
                        role: Some(Role::Promoted),
                        ..
                    } if rsc == lead => {
                        if let Some(score) = location_score(self.cib, c, &node) {
                            priority = priority.add(score);
                        }
                    }
                    Constraint::Colocation {
                        rsc,
                        with,
                        score,
                        rsc_role: Some(Role::Promoted),
                        with_role,
                        ..
                    } if rsc == lead => {
                        let Some(targets) = self.targets(with, *with_role) else {
                            continue;
                        };
                        if !targets.contains(&node) {
                            if score.value() >= INFINITY {
                                priority = Score::MINUS_INFINITY;
                            }
                            continue;
                        }
                        let sign = if *with_role == Some(Role::Unpromoted) {
                            -1
                        } else {
                            1
                        };
                        priority = priority.add(Score::new(sign * score.value()));
                    }
                    Constraint::Ticket {
                        rsc,
                        ticket,
                        promoted_only: true,
                        ..
                    } if rsc == lead
                        && !self
                            .cib
                            .tickets
                            .get(ticket)
                            .copied()
                            .unwrap_or_default()
                            .allows() =>
                    {
                        priority = Score::MINUS_INFINITY;
                    }
                    _ => {}
                }
            }
            let sort = priority.add(self.clone_weight(lead, &node));
            let promoted_now = self
                .now
                .get(lead)
                .and_then(|v| v.first())
                .is_some_and(|(_, c)| c.promoted);
            candidates.push(Candidate {
                node,
                priority,
                sort,
                promoted_now,
                index,
            });
        }
        self.pull_promotion(ci, &mut candidates);
        candidates.sort_by(|a, b| {
            b.sort
                .cmp(&a.sort)
                .then(b.promoted_now.cmp(&a.promoted_now))
                .then(a.index.cmp(&b.index))
        });
        let frozen = !self.cib.options.have_quorum
            && self.cib.options.no_quorum_policy == NoQuorumPolicy::Freeze;
        // no-quorum-policy=demote: nothing is promoted without quorum.
        if !self.cib.options.have_quorum
            && self.cib.options.no_quorum_policy == NoQuorumPolicy::Demote
        {
            return;
        }
        let mut count = 0;
        let mut per_node = std::collections::BTreeMap::<String, usize>::new();
        // Instances left as they are stay promoted, and count.
        for members in &self.clones[ci].instances {
            let lead = members[0].as_str();
            let promoted_at = self
                .now
                .get(lead)
                .and_then(|v| v.first())
                // (A failed demote leaves it promoted.)
                .filter(|(_, c)| c.promoted || c.failed_op == Some("demote"))
                .map(|(node, _)| node.clone());
            if self.fixed.contains(lead)
                && let Some(node) = promoted_at
            {
                count += 1;
                *per_node.entry(node).or_default() += 1;
                self.promoted.extend(members.iter().cloned());
            }
        }
        for c in candidates {
            if self
                .fixed
                .contains(self.clones[ci].instances[c.index][0].as_str())
            {
                continue;
            }
            if c.sort.value() < 0 || c.priority.value() < 0 || count >= max {
                continue;
            }
            let here = per_node.entry(c.node.clone()).or_default();
            if *here >= node_max || !self.nodes.available.contains(&c.node) {
                continue;
            }
            if frozen && !c.promoted_now {
                continue;
            }
            *here += 1;
            count += 1;
            self.promoted
                .extend(self.clones[ci].instances[c.index].iter().cloned());
        }
    }
}

/// A node's promotion score while colocations pull on it: a score, or one
/// that was positive until a contribution would have made it negative
/// (Pacemaker's marker: it ends at 1, unless anything more is added to it,
/// which makes it -INFINITY).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pulled {
    Score(Score),
    Marked,
}

impl Pulled {
    /// Adds `add` as Pacemaker merges positive preferences only.
    fn add(self, add: Score) -> Self {
        let Self::Score(v) = self else {
            return Self::Score(Score::MINUS_INFINITY);
        };
        let new = v.add(add);
        match (new.value() < 0, v.value()) {
            (false, _) => Self::Score(new),
            (true, w) if w > 0 => Self::Marked,
            (true, 0) => self,
            (true, _) => Self::Score(new),
        }
    }
}

impl Assigner<'_> {
    /// What wants to be with the promoted instance pulls the promotion its
    /// way, as Pacemaker merges it into the clone's node scores: each such
    /// resource's scores (times the colocation's share of INFINITY), then
    /// those of what must be with it in turn, so that a ban two
    /// colocations away counts; a pull that leaves no node able to run it
    /// is dropped.
    fn pull_promotion(&self, ci: usize, candidates: &mut [Candidate]) {
        let set = &self.clones[ci];
        let pulls: Vec<(&str, f64)> = self
            .index
            .with(&set.id)
            .filter_map(|c| match c {
                Constraint::Colocation {
                    rsc,
                    with,
                    score,
                    with_role: Some(Role::Promoted),
                    ..
                } if *with == set.id => {
                    Some((rsc.as_str(), score.value() as f64 / INFINITY as f64))
                }
                _ => None,
            })
            .collect();
        if pulls.is_empty() {
            return;
        }
        let lead = set
            .instances
            .first()
            .and_then(|i| i.first())
            .map_or("", String::as_str);
        let mut table: BTreeMap<String, Pulled> = self
            .nodes
            .names
            .iter()
            .map(|n| (n.clone(), Pulled::Score(self.clone_weight(lead, n))))
            .collect();
        for c in candidates.iter() {
            if c.priority.value() >= 0 {
                table.insert(c.node.clone(), Pulled::Score(c.sort));
            }
        }
        for (rsc, factor) in pulls {
            table = self.pull(table, rsc, factor, &mut BTreeSet::new());
        }
        for c in candidates.iter_mut() {
            if c.priority.value() >= 0 {
                c.sort = match table.get(&c.node) {
                    Some(Pulled::Score(v)) => *v,
                    Some(Pulled::Marked) => Score::new(1),
                    None => c.sort,
                };
            }
        }
    }

    /// `rsc`'s pull (times `factor`) on the promotion scores `table`,
    /// then that of what must be with it; `seen` breaks colocation loops
    /// (on the path being followed, as Pacemaker's merging flag does).
    fn pull(
        &self,
        table: BTreeMap<String, Pulled>,
        rsc: &str,
        factor: f64,
        seen: &mut BTreeSet<String>,
    ) -> BTreeMap<String, Pulled> {
        if !seen.insert(rsc.to_owned()) {
            return table;
        }
        let mut work = table.clone();
        let scores = self.scores.get(rsc);
        for (node, w) in work.iter_mut() {
            let theirs = scores
                .and_then(|s| s.get(node))
                .map_or(-INFINITY, |v| v.value());
            if factor < 0.0 && theirs < 0 {
                continue;
            }
            let mut add = (factor * theirs as f64).round() as i64;
            if add == 0 && theirs != 0 {
                add = if factor > 0.0 { 1 } else { -1 };
            }
            *w = w.add(Score::new(add));
        }
        let runnable = work.iter().any(|(node, w)| {
            matches!(w, Pulled::Score(v) if v.value() >= 0) && self.nodes.available.contains(node)
        });
        if runnable {
            for (next, score, _) in self.dependents(rsc) {
                let f = factor * score.value() as f64 / INFINITY as f64;
                work = self.pull(work, next, f, seen);
            }
        }
        seen.remove(rsc);
        if runnable { work } else { table }
    }
}
