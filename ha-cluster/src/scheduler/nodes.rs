//! Which nodes may run resources and which must be fenced.

use std::collections::BTreeSet;

use crate::cib::{Cib, Expression};

/// The nodes as placement sees them.
pub(super) struct Nodes {
    /// Node names in CIB order.
    pub names: Vec<String>,
    /// Those that may run resources.
    pub available: BTreeSet<String>,
    /// Those to fence, with why.
    pub unclean: Vec<(String, String)>,
}

/// Reads the nodes' states.
pub(super) fn nodes(cib: &Cib) -> Nodes {
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

/// Whether a rule's expression holds on `node`.
pub(super) fn holds(cib: &Cib, node: &str, e: &Expression) -> bool {
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
