//! Promotion: which of a promotable clone's placed instances become
//! Promoted, as Pacemaker's `pcmk__set_instance_roles` decides. Each
//! instance gets a priority (its promotion score, the `master-<rsc>` node
//! attribute that agents set, -1 when unset; plus role-specific locations
//! and colocations), then a sort index (the priority plus the clone's own
//! preference for the node and the pull of resources that want to be with
//! the promoted instance); the best `promoted-max` with both non-negative
//! are promoted, at most `promoted-node-max` per node.

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
            let mut sort = priority.add(self.clone_weight(lead, &node));
            // Resources that want to be with the promoted instance pull it
            // their way (positive preferences only).
            for c in self.index.with(&set.id) {
                if let Constraint::Colocation {
                    rsc,
                    with,
                    score,
                    with_role: Some(Role::Promoted),
                    ..
                } = c
                    && *with == set.id
                {
                    let theirs = self
                        .scores
                        .get(rsc.as_str())
                        .and_then(|s| s.get(&node))
                        .map_or(-INFINITY, |v| v.value());
                    let factor = score.value() as f64 / INFINITY as f64;
                    let add = (factor * theirs as f64).round() as i64;
                    let merged = sort.add(Score::new(add));
                    if merged.value() >= 0 {
                        sort = merged;
                    } else if sort.value() > 0 {
                        sort = Score::new(1);
                    }
                }
            }
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
