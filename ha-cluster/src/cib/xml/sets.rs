//! Resource sets in constraints, expanded into pairs of resources.
//!
//! A constraint's `resource_set`s become constraints between two resources,
//! as Pacemaker unpacks them.

use crate::cib::model::{Constraint, Role};
use crate::score::Score;

/// A `resource_set` of a constraint.
pub(super) struct Set {
    pub(super) id: String,
    pub(super) require_all: bool,
    pub(super) ids: Vec<String>,
    pub(super) sequential: bool,
    pub(super) role: Option<Role>,
    pub(super) action: Option<String>,
    pub(super) score: Option<Score>,
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

/// One constraint over `sets`, as constraints between resources.
pub(super) fn expand_sets(template: Constraint, sets: &[Set], out: &mut Vec<Constraint>) {
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
