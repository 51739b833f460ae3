//! Constraints indexed by the resources they name.
//!
//! Scoring and placing a resource looks at its own constraints only, so
//! large CIBs stay linear rather than quadratic.

use std::collections::BTreeMap;

use crate::cib::Constraint;

/// The constraints by the resource they constrain and by the primary of
/// colocations.
pub(super) struct Index<'a> {
    of: BTreeMap<&'a str, Vec<&'a Constraint>>,
    with: BTreeMap<&'a str, Vec<&'a Constraint>>,
}

impl<'a> Index<'a> {
    /// Indexes `constraints`.
    pub fn new(constraints: &'a [Constraint]) -> Self {
        let mut of: BTreeMap<&str, Vec<&Constraint>> = BTreeMap::new();
        let mut with: BTreeMap<&str, Vec<&Constraint>> = BTreeMap::new();
        for c in constraints {
            match c {
                Constraint::Location { rsc, .. } | Constraint::Ticket { rsc, .. } => {
                    of.entry(rsc).or_default().push(c);
                }
                Constraint::Colocation { rsc, with: w, .. } => {
                    of.entry(rsc).or_default().push(c);
                    with.entry(w).or_default().push(c);
                }
                Constraint::Order { .. } => {}
            }
        }
        Self { of, with }
    }

    /// Locations, tickets and colocations constraining `id`.
    pub fn of(&self, id: &str) -> impl Iterator<Item = &'a Constraint> + '_ {
        self.of.get(id).into_iter().flatten().copied()
    }

    /// Colocations with `id` as the primary.
    pub fn with(&self, id: &str) -> impl Iterator<Item = &'a Constraint> + '_ {
        self.with.get(id).into_iter().flatten().copied()
    }
}
