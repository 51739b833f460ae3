//! Name/value sets and resource defaults, read from the XML.
//!
//! `instance_attributes`, `meta_attributes` and `utilization` read as
//! Pacemaker reads them, and the resource defaults (`rsc_defaults`).

use std::collections::{BTreeMap, BTreeSet};

use super::score_of;
use crate::error::Result;
use crate::rule::{Rule, Subject};
use crate::score::Score;
use crate::xml::Element;

/// What name/value sets are read against: the time their rules are judged
/// at (the CIB's `execution-date`; None: date rules do not hold) and what
/// they are about.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Scope<'a> {
    pub(super) now: Option<i64>,
    pub(super) subject: Subject<'a>,
}

/// An element's name/value sets (`instance_attributes`...) as Pacemaker
/// reads them: by their `score`, highest first; a set whose rule does not
/// hold is skipped; the first value given for a name wins ("#default"
/// leaves it unset).
pub(super) fn nvpairs(
    e: &Element,
    set: &str,
    scope: Scope<'_>,
) -> Result<BTreeMap<String, String>> {
    let mut sets: Vec<(Score, &Element)> = Vec::new();
    for s in e.children_named(set) {
        sets.push((score_of(s, "score")?, s));
    }
    // Stable: sets of equal score keep their order.
    sets.sort_by_key(|s| std::cmp::Reverse(s.0));
    let mut out = BTreeMap::new();
    let mut unset = BTreeSet::new();
    for (_, s) in sets {
        if let Some(r) = s.child("rule")
            && !Rule::from_element(r)?.holds_for(&|_| None, scope.now, scope.subject)
        {
            continue;
        }
        for nv in s.children_named("nvpair") {
            let (Some(n), Some(v)) = (nv.attr("name"), nv.attr("value")) else {
                continue;
            };
            if out.contains_key(n) || unset.contains(n) {
                continue;
            }
            if v.eq_ignore_ascii_case("#default") {
                unset.insert(n.to_owned());
            } else {
                out.insert(n.to_owned(), v.to_owned());
            }
        }
    }
    Ok(out)
}

/// The numeric values of an element's `utilization` sets.
pub(super) fn utilization(e: &Element, scope: Scope<'_>) -> Result<BTreeMap<String, i64>> {
    Ok(nvpairs(e, "utilization", scope)?
        .into_iter()
        .filter_map(|(k, v)| v.parse().ok().map(|n| (k, n)))
        .collect())
}

/// The resource defaults (`rsc_defaults`), whose sets' rules may name the
/// agent they apply to.
pub(super) struct Defaults<'a> {
    pub(super) element: Option<&'a Element>,
    pub(super) now: Option<i64>,
    /// The old cluster option `default-resource-stickiness`.
    pub(super) stickiness: Option<String>,
}

impl Defaults<'_> {
    /// The defaults for a resource of `agent` (None: not a primitive).
    pub(super) fn for_agent(&self, agent: Option<&str>) -> Result<BTreeMap<String, String>> {
        let scope = Scope {
            now: self.now,
            subject: Subject {
                agent,
                operation: None,
            },
        };
        let mut out = match self.element {
            Some(d) => nvpairs(d, "meta_attributes", scope)?,
            None => BTreeMap::new(),
        };
        if let Some(v) = &self.stickiness {
            out.entry("resource-stickiness".into())
                .or_insert_with(|| v.clone());
        }
        Ok(out)
    }
}
