//! Constraints, read from the XML.
//!
//! `rsc_location`, `rsc_colocation`, `rsc_order` and `rsc_ticket`, with
//! their resource sets, tags and templates expanded.

use std::collections::{BTreeMap, BTreeSet};

use super::sets::{Set, expand_sets};
use super::{role_of, score_of};
use crate::cib::model::{Constraint, LossPolicy};
use crate::cib::values::truthy;
use crate::error::{Error, Result};
use crate::rule::Rule;
use crate::score::Score;
use crate::xml::Element;

/// The `constraints` section, each constraint between two resources (or
/// about one): resource sets, tags and templates expanded; one naming a
/// resource that is not configured is an error.
pub(super) fn read(config: &Element) -> Result<Vec<Constraint>> {
    let aliases = aliases(config);
    let known = resource_ids(config);
    let mut constraints = Vec::new();
    let Some(section) = config.child("constraints") else {
        return Ok(constraints);
    };
    for e in &section.children {
        for con in with_sets(e, &aliases)? {
            for con in expand_aliases(con, &aliases) {
                let refs: Vec<&String> = match &con {
                    Constraint::Location { rsc, .. } | Constraint::Ticket { rsc, .. } => {
                        vec![rsc]
                    }
                    Constraint::Colocation { rsc, with, .. } => vec![rsc, with],
                    Constraint::Order { first, then, .. } => vec![first, then],
                };
                if let Some(r) = refs.iter().find(|r| !known.contains(r.as_str())) {
                    return Err(Error::UnknownResource {
                        location: e.location(),
                        element: e.name.clone(),
                        id: e.id().to_owned(),
                        resource: (*r).clone(),
                    });
                }
                constraints.push(con);
            }
        }
    }
    Ok(constraints)
}

/// Tags and templates: the resources they name or shape.
fn aliases(config: &Element) -> Aliases {
    let mut aliases: Aliases = BTreeMap::new();
    if let Some(tags) = config.child("tags") {
        for t in tags.children_named("tag") {
            aliases.insert(
                t.id().to_owned(),
                t.children_named("obj_ref")
                    .map(|r| r.id().to_owned())
                    .collect(),
            );
        }
    }
    if let Some(r) = config.child("resources") {
        fn shaped(e: &Element, aliases: &mut Aliases) {
            if e.name == "primitive"
                && let Some(t) = e.attr("template")
            {
                aliases
                    .entry(t.to_owned())
                    .or_default()
                    .push(e.id().to_owned());
            }
            for c in &e.children {
                shaped(c, aliases);
            }
        }
        shaped(r, &mut aliases);
    }
    aliases
}

/// Every resource id (group members and clone children too).
fn resource_ids(config: &Element) -> BTreeSet<&str> {
    fn ids<'a>(e: &'a Element, known: &mut BTreeSet<&'a str>) {
        for c in &e.children {
            if matches!(
                c.name.as_str(),
                "primitive" | "group" | "clone" | "master" | "bundle"
            ) {
                known.insert(c.id());
            }
            ids(c, known);
        }
    }
    let mut known = BTreeSet::new();
    if let Some(r) = config.child("resources") {
        ids(r, &mut known);
    }
    known
}

/// Tags and templates by id: the resources they stand for.
type Aliases = BTreeMap<String, Vec<String>>;

/// A constraint naming a tag or template once per resource it stands for.
fn expand_aliases(c: Constraint, aliases: &Aliases) -> Vec<Constraint> {
    let each = |id: &str| {
        aliases
            .get(id)
            .cloned()
            .unwrap_or_else(|| vec![id.to_owned()])
    };
    let mut out = Vec::new();
    match &c {
        Constraint::Location { rsc, .. } | Constraint::Ticket { rsc, .. } => {
            for r in each(rsc) {
                let mut one = c.clone();
                if let Constraint::Location { rsc, .. } | Constraint::Ticket { rsc, .. } = &mut one
                {
                    *rsc = r;
                }
                out.push(one);
            }
        }
        // Two templates or tags cannot be colocated: Pacemaker ignores it.
        Constraint::Colocation { rsc, with, .. }
            if aliases.contains_key(rsc) && aliases.contains_key(with) => {}
        Constraint::Colocation { rsc, with, .. } => {
            for r in each(rsc) {
                for w in each(with) {
                    let mut one = c.clone();
                    if let Constraint::Colocation { rsc, with, .. } = &mut one {
                        *rsc = r.clone();
                        *with = w;
                    }
                    out.push(one);
                }
            }
        }
        Constraint::Order { first, then, .. } => {
            for f in each(first) {
                for t in each(then) {
                    let mut one = c.clone();
                    if let Constraint::Order { first, then, .. } = &mut one {
                        *first = f.clone();
                        *then = t;
                    }
                    out.push(one);
                }
            }
        }
    }
    out
}

/// A constraint, its resource sets expanded into constraints between
/// resources as Pacemaker unpacks them: within a sequential set each
/// member is ordered after (or colocated with) the one before; between
/// sets, an earlier set's members are ordered before a later set's, and
/// colocated with them (a sequential set through its first member when
/// dependent, its last when primary).
fn with_sets(e: &Element, aliases: &Aliases) -> Result<Vec<Constraint>> {
    let sets: Vec<Set> = e
        .children_named("resource_set")
        .map(|s| {
            Ok(Set {
                id: s.id().to_owned(),
                require_all: truthy(s.attr("require-all"), true),
                ids: s
                    .children_named("resource_ref")
                    .flat_map(|r| {
                        aliases
                            .get(r.id())
                            .cloned()
                            .unwrap_or_else(|| vec![r.id().to_owned()])
                    })
                    .collect(),
                sequential: truthy(s.attr("sequential"), true),
                role: role_of(s, "role")?,
                action: s.attr("action").map(str::to_owned),
                score: match s.attr("score") {
                    Some(_) => Some(score_of(s, "score")?),
                    None => None,
                },
            })
        })
        .collect::<Result<_>>()?;
    let templates = constraint(e)?;
    if sets.is_empty() {
        return Ok(templates);
    }
    let mut out = Vec::new();
    for template in templates {
        expand_sets(template, &sets, &mut out);
    }
    Ok(out)
}

/// A constraint element as one constraint (or one per rule of a
/// location), its resource sets still to expand (their members left
/// empty); nothing for an element that is not a constraint, or one that
/// names no resource.
fn constraint(e: &Element) -> Result<Vec<Constraint>> {
    // Sets are expanded by the caller; rsc-pattern is not read.
    let sets = e.child("resource_set").is_some();
    let first = if e.name == "rsc_order" {
        "first"
    } else {
        "rsc"
    };
    if e.attr(first).is_none() && !sets {
        return Ok(Vec::new());
    }
    Ok(match e.name.as_str() {
        "rsc_location" => location(e, sets)?,
        "rsc_colocation" => vec![colocation(e, sets)?],
        "rsc_ticket" => vec![ticket(e, sets)?],
        "rsc_order" => vec![order(e, sets)?],
        _ => Vec::new(),
    })
}

/// A required attribute.
fn need(e: &Element, attr: &str) -> Result<String> {
    e.attr(attr)
        .map(str::to_owned)
        .ok_or_else(|| e.error(format!("no {attr}")))
}

/// `rsc_location`: one constraint for a node, or one per rule.
fn location(e: &Element, sets: bool) -> Result<Vec<Constraint>> {
    let rsc = || {
        if sets {
            Ok(String::new())
        } else {
            need(e, "rsc")
        }
    };
    let exclusive = e.attr("resource-discovery") == Some("exclusive");
    if e.child("rule").is_some() {
        let mut each = Vec::new();
        for r in e.children_named("rule") {
            each.push(Constraint::Location {
                id: e.id().to_owned(),
                rsc: rsc()?,
                node: None,
                score: score_of(r, "score")?,
                rule: Some(Rule::from_element(r)?),
                role: role_of(r, "role")?.or(role_of(e, "role")?),
                exclusive,
            });
        }
        return Ok(each);
    }
    Ok(vec![Constraint::Location {
        id: e.id().to_owned(),
        rsc: rsc()?,
        node: e.attr("node").map(str::to_owned),
        score: score_of(e, "score")?,
        rule: None,
        role: role_of(e, "role")?,
        exclusive,
    }])
}

/// `rsc_colocation`.
fn colocation(e: &Element, sets: bool) -> Result<Constraint> {
    Ok(Constraint::Colocation {
        id: e.id().to_owned(),
        rsc: e.attr("rsc").unwrap_or_default().to_owned(),
        with: if sets {
            String::new()
        } else {
            need(e, "with-rsc")?
        },
        score: score_of(e, "score")?,
        rsc_role: role_of(e, "rsc-role")?,
        with_role: role_of(e, "with-rsc-role")?,
        node_attribute: e
            .attr("node-attribute")
            .filter(|a| *a != "#uname")
            .map(str::to_owned),
    })
}

/// `rsc_ticket`.
fn ticket(e: &Element, sets: bool) -> Result<Constraint> {
    Ok(Constraint::Ticket {
        id: e.id().to_owned(),
        rsc: if sets { String::new() } else { need(e, "rsc")? },
        ticket: need(e, "ticket")?,
        loss_policy: match e.attr("loss-policy") {
            None | Some("stop") => LossPolicy::Stop,
            Some("demote") => LossPolicy::Demote,
            Some("fence") => LossPolicy::Fence,
            Some("freeze") => LossPolicy::Freeze,
            Some(other) => return Err(e.error(format!("unknown loss-policy '{other}'"))),
        },
        promoted_only: matches!(e.attr("rsc-role"), Some("Promoted" | "Master")),
    })
}

/// `rsc_order`.
fn order(e: &Element, sets: bool) -> Result<Constraint> {
    let kind = e.attr("kind");
    let mandatory = match kind {
        // Serialize only keeps the two from running at once.
        Some("Optional" | "Serialize") => false,
        Some(_) => true,
        None => e
            .attr("score")
            .and_then(Score::parse)
            .is_none_or(|s| s.value() > 0),
    };
    Ok(Constraint::Order {
        id: e.id().to_owned(),
        first: e.attr("first").unwrap_or_default().to_owned(),
        then: if sets {
            String::new()
        } else {
            need(e, "then")?
        },
        mandatory,
        symmetrical: truthy(e.attr("symmetrical"), kind != Some("Serialize")),
        first_action: e.attr("first-action").unwrap_or("start").to_owned(),
        then_action: e
            .attr("then-action")
            .or(e.attr("first-action"))
            .unwrap_or("start")
            .to_owned(),
        require_all: truthy(e.attr("require-all"), true),
    })
}
