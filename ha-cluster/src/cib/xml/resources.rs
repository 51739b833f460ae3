//! Resources, read from the XML.
//!
//! `primitive`, `group`, `clone`, `master` and `bundle`, with their
//! templates and inherited meta attributes.

use std::collections::BTreeMap;

use super::attributes::{Defaults, Scope, nvpairs, utilization};
use super::role_of;
use crate::cib::model::{OperationConfig, Primitive, Resource};
use crate::cib::values::{pacemaker_ms, truthy};
use crate::error::Result;
use crate::rule::Subject;
use crate::xml::Element;

/// The `resources` section, in CIB order.
pub(super) fn read(config: &Element, defaults: &Defaults<'_>) -> Result<Vec<Resource>> {
    let mut resources = Vec::new();
    if let Some(r) = config.child("resources") {
        let templates: Templates<'_> = r.children_named("template").map(|t| (t.id(), t)).collect();
        for e in &r.children {
            if let Some(res) = resource(e, &BTreeMap::new(), defaults, &templates)? {
                resources.push(res);
            }
        }
    }
    Ok(resources)
}

/// Resource templates by id (a primitive with `template=` takes its
/// class, provider, type and meta attributes, its own meta on top).
type Templates<'a> = BTreeMap<&'a str, &'a Element>;

/// A primitive, or a group's member, `inherited` the meta attributes of
/// its parents.
fn primitive(
    e: &Element,
    inherited: &BTreeMap<String, String>,
    defaults: &Defaults<'_>,
    templates: &Templates<'_>,
) -> Result<Primitive> {
    let scope = Scope {
        now: defaults.now,
        subject: Subject::default(),
    };
    let template = match e.attr("template") {
        Some(t) => Some(
            *templates
                .get(t)
                .ok_or_else(|| e.error(format!("unknown template '{t}'")))?,
        ),
        None => None,
    };
    let from = |attr: &str| e.attr(attr).or_else(|| template.and_then(|t| t.attr(attr)));
    let class = from("class").ok_or_else(|| e.error("no class"))?;
    let kind = from("type").ok_or_else(|| e.error("no type"))?;
    if !matches!(
        class,
        "ocf" | "lsb" | "systemd" | "service" | "stonith" | "heartbeat" | "upstart" | "nagios"
    ) {
        return Err(e.error(format!("unknown resource class '{class}'")));
    }
    let agent = match from("provider") {
        Some(p) => format!("{class}:{p}:{kind}"),
        None => format!("{class}:{kind}"),
    };
    // Its own meta attributes win over its template's, over its parent's,
    // over the resource defaults.
    let mut meta = defaults.for_agent(Some(&agent))?;
    meta.extend(inherited.clone());
    if let Some(t) = template {
        meta.extend(nvpairs(t, "meta_attributes", scope)?);
    }
    meta.extend(nvpairs(e, "meta_attributes", scope)?);
    let mut on_fail = BTreeMap::new();
    let mut operations = Vec::new();
    for ops in [
        template.and_then(|t| t.child("operations")),
        e.child("operations"),
    ]
    .into_iter()
    .flatten()
    {
        for op in ops.children_named("op") {
            let Some(name) = op.attr("name") else {
                continue;
            };
            if let Some(policy) = op.attr("on-fail") {
                on_fail.insert(name.to_owned(), policy.to_owned());
            }
            let interval = op.attr("interval").unwrap_or("0");
            operations.push(OperationConfig {
                name: name.to_owned(),
                interval_ms: pacemaker_ms(interval)
                    .ok_or_else(|| op.error(format!("bad interval '{interval}'")))?,
                role: role_of(op, "role")?,
                on_fail: op.attr("on-fail").map(str::to_owned),
            });
        }
    }
    let mut params = match template {
        Some(t) => nvpairs(t, "instance_attributes", scope)?,
        None => BTreeMap::new(),
    };
    params.extend(nvpairs(e, "instance_attributes", scope)?);
    let mut needs = match template {
        Some(t) => utilization(t, scope)?,
        None => BTreeMap::new(),
    };
    needs.extend(utilization(e, scope)?);
    Ok(Primitive {
        id: e.id().to_owned(),
        agent,
        params,
        meta,
        operations,
        on_fail,
        utilization: needs,
    })
}

/// A resource from its element (None: not a resource), `parent` the meta
/// attributes it inherits.
fn resource(
    e: &Element,
    parent: &BTreeMap<String, String>,
    defaults: &Defaults<'_>,
    templates: &Templates<'_>,
) -> Result<Option<Resource>> {
    // A member's own meta attributes win over its parent's, which win
    // over the resource defaults.
    let scope = Scope {
        now: defaults.now,
        subject: Subject::default(),
    };
    let own = nvpairs(e, "meta_attributes", scope)?;
    let mut inherited = parent.clone();
    inherited.extend(own);
    let mut meta = defaults.for_agent(None)?;
    meta.extend(inherited.clone());
    Ok(Some(match e.name.as_str() {
        "primitive" => Resource::Primitive(primitive(e, parent, defaults, templates)?),
        "group" => Resource::Group {
            id: e.id().to_owned(),
            members: e
                .children_named("primitive")
                .map(|p| primitive(p, &inherited, defaults, templates))
                .collect::<Result<_>>()?,
            meta,
        },
        "clone" | "master" => {
            let child = e
                .children
                .iter()
                .find_map(|c| resource(c, &inherited, defaults, templates).transpose())
                .transpose()?
                .ok_or_else(|| e.error("a clone without a resource"))?;
            Resource::Clone {
                id: e.id().to_owned(),
                child: Box::new(child),
                promotable: e.name == "master"
                    || truthy(meta.get("promotable").map(String::as_str), false),
                meta,
            }
        }
        "bundle" => Resource::Bundle {
            id: e.id().to_owned(),
        },
        _ => return Ok(None),
    }))
}
