//! The status section, read from the XML.
//!
//! Node states with their resource histories, and ticket states.

use std::collections::BTreeMap;

use super::attributes::{Scope, nvpairs};
use crate::cib::model::{Digests, NodeStatus, Operation, Ticket};
use crate::cib::values::truthy;
use crate::error::Result;
use crate::xml::Element;

/// The ticket states (`status/tickets/ticket_state`), by ticket id.
pub(super) fn tickets(root: &Element) -> BTreeMap<String, Ticket> {
    let mut tickets = BTreeMap::new();
    if let Some(t) = root.child("status").and_then(|s| s.child("tickets")) {
        for ts in t.children_named("ticket_state") {
            tickets.insert(
                ts.id().to_owned(),
                Ticket {
                    granted: truthy(ts.attr("granted"), false),
                    standby: truthy(ts.attr("standby"), false),
                },
            );
        }
    }
    tickets
}

/// The node states (`status/node_state`), by node name.
pub(super) fn node_states(
    root: &Element,
    scope: Scope<'_>,
) -> Result<BTreeMap<String, NodeStatus>> {
    let mut status = BTreeMap::new();
    let Some(s) = root.child("status") else {
        return Ok(status);
    };
    for (position, ns) in s.children_named("node_state").enumerate() {
        let name = ns.attr("uname").unwrap_or(ns.id()).to_owned();
        let (history, agents) = histories(ns)?;
        let attributes = match ns.child("transient_attributes") {
            Some(t) => nvpairs(t, "instance_attributes", scope)?,
            None => BTreeMap::new(),
        };
        status.insert(
            name,
            NodeStatus {
                in_membership: ns.attr("in_ccm").map(|v| truthy(Some(v), false)),
                controller: ns.attr("crmd") == Some("online"),
                join: ns.attr("join").map(str::to_owned),
                expected: ns.attr("expected").map(str::to_owned),
                attributes,
                history,
                position,
                remote: truthy(ns.attr("remote_node"), false),
                agents,
            },
        );
    }
    Ok(status)
}

/// A resource's operations on a node, by resource id in the CIB's order.
type Histories = Vec<(String, Vec<Operation>)>;

/// A node state's resource histories, and the agent each names.
fn histories(ns: &Element) -> Result<(Histories, BTreeMap<String, String>)> {
    let mut history = Vec::new();
    let mut agents = BTreeMap::new();
    if let Some(lrm) = ns.child("lrm").and_then(|l| l.child("lrm_resources")) {
        for r in lrm.children_named("lrm_resource") {
            let agent = [r.attr("class"), r.attr("provider"), r.attr("type")]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(":");
            agents.insert(r.id().to_owned(), agent);
            let ops = r
                .children_named("lrm_rsc_op")
                .map(operation)
                .collect::<Result<Vec<_>>>()?;
            history.push((r.id().to_owned(), ops));
        }
    }
    Ok((history, agents))
}

/// One `lrm_rsc_op`: an operation in a resource's history.
fn operation(e: &Element) -> Result<Operation> {
    let number = |attr: &str| -> Result<i64> {
        e.attr(attr)
            .unwrap_or("0")
            .parse::<i64>()
            .map_err(|_| e.error(format!("bad {attr}")))
    };
    Ok(Operation {
        name: e
            .attr("operation")
            .ok_or_else(|| e.error("no operation"))?
            .to_owned(),
        interval: number("interval")?.max(0) as u64,
        call_id: number("call-id")?,
        rc: number("rc-code")? as i32,
        status: number("op-status")? as i32,
        expected_rc: e
            .attr("transition-key")
            .and_then(|k| k.split(':').nth(2))
            .and_then(|v| v.parse().ok()),
        changed: e
            .attr("last-rc-change")
            .or_else(|| e.attr("last-run"))
            .and_then(|v| v.parse().ok()),
        migrate_target: e.attr("migrate_target").map(str::to_owned),
        digests: e.attr("op-digest").map(|all| {
            let listed = |names: &str, digest: &str| {
                e.attr(names).zip(e.attr(digest)).map(|(n, d)| {
                    (
                        n.split_whitespace().map(str::to_owned).collect(),
                        d.to_owned(),
                    )
                })
            };
            Digests {
                all: all.to_owned(),
                restart: listed("op-force-restart", "op-restart-digest"),
                secure: listed("op-secure-params", "op-secure-digest"),
            }
        }),
    })
}
