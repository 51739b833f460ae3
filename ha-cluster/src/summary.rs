//! crm_simulate's `Transition Summary:` lines, byte for byte.
//!
//! The change padded to 8, the resource to a width that grows as
//! crm_simulate's does (from 5, to a longer id plus 2), the details
//! right-aligned to the longest, then the reason.

use std::fmt;

use crate::cib::Role;
use crate::scheduler::{Change, Transition};

/// The Transition Summary as crm_simulate prints it: the heading
/// `Transition Summary:`, then one line per change (see [`lines`]); when
/// nothing changes, the heading alone, as crm_simulate leaves it. No
/// newline after the last line.
impl fmt::Display for Transition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Transition Summary:")?;
        for line in lines(self) {
            write!(f, "\n{line}")?;
        }
        Ok(())
    }
}

/// The summary lines (without the heading), as crm_simulate prints them.
pub fn lines(transition: &Transition) -> Vec<String> {
    // crm_simulate formats the list twice with the same static widths; the
    // second, printed pass sees the widths the first left.
    let mut rsc_width = 5usize;
    let mut detail_width = 5usize;
    // The details as Pacemaker's rsc_action_item words them: roles only
    // for a promotable clone's instances.
    let moving = |from: &str, to: &str, roles: &Option<(Role, Role)>| match roles {
        None => format!("{from} -> {to}"),
        Some((r, n)) if r == n => format!("{from} -> {to} {r}"),
        Some((r, n)) => format!("{r} {from} -> {n} {to}"),
    };
    let items: Vec<(&str, &str, String, Option<String>)> = transition
        .changes
        .iter()
        .filter_map(|c| match c {
            Change::Start { rsc, node } => Some(("Start", rsc.as_str(), node.clone(), None)),
            Change::Blocked { rsc, node, reason } => Some((
                "Start",
                rsc.as_str(),
                node.clone(),
                Some(format!("{reason} (blocked)")),
            )),
            Change::Stop {
                rsc,
                node,
                reason,
                role,
            } => Some((
                "Stop",
                rsc.as_str(),
                match role {
                    Some(r) => format!("{r} {node}"),
                    None => node.clone(),
                },
                reason.clone(),
            )),
            Change::Move {
                rsc,
                from,
                to,
                roles,
                reason,
            } => Some((
                "Move",
                rsc.as_str(),
                moving(from, to, roles),
                reason.clone(),
            )),
            Change::Recover {
                rsc,
                from,
                to,
                roles,
            } if from == to => Some((
                "Recover",
                rsc.as_str(),
                match roles {
                    None => from.clone(),
                    Some((r, n)) if r == n => format!("{r} {from}"),
                    Some((r, n)) => format!("{r} -> {n} {from}"),
                },
                None,
            )),
            Change::Recover {
                rsc,
                from,
                to,
                roles,
            } => Some(("Recover", rsc.as_str(), moving(from, to, roles), None)),
            Change::Migrate { rsc, from, to } => {
                Some(("Migrate", rsc.as_str(), format!("{from} -> {to}"), None))
            }
            Change::Promote { rsc, node, from } => Some((
                "Promote",
                rsc.as_str(),
                format!("{from} -> {} {node}", Role::Promoted),
                None,
            )),
            Change::Demote { rsc, node } => Some((
                "Demote",
                rsc.as_str(),
                format!("{} -> {} {node}", Role::Promoted, Role::Unpromoted),
                None,
            )),
            Change::Restart {
                rsc,
                node,
                reason,
                role,
            } => Some((
                "Restart",
                rsc.as_str(),
                match role {
                    Some(r) => format!("{r} {node}"),
                    None => node.clone(),
                },
                reason.clone(),
            )),
            Change::Reload { rsc, node } => Some(("Reload", rsc.as_str(), node.clone(), None)),
            Change::Fence { .. } => None,
        })
        .collect();
    for (_, rsc, details, _) in &items {
        if rsc.len() > rsc_width {
            rsc_width = rsc.len() + 2;
        }
        detail_width = detail_width.max(details.len());
    }
    let mut out: Vec<String> = transition
        .changes
        .iter()
        .filter_map(|c| match c {
            Change::Fence {
                node,
                reason,
                container,
                unfence,
            } => {
                let action = if *unfence { "on" } else { "reboot" };
                Some(match container {
                    Some(c) => format!("  * Fence ({action}) {node} (resource: {c}) '{reason}'"),
                    None => format!("  * Fence ({action}) {node} '{reason}'"),
                })
            }
            _ => None,
        })
        .collect();
    for (change, rsc, details, reason) in items {
        let reason = reason.map(|r| format!("  due to {r}")).unwrap_or_default();
        out.push(format!(
            "  * {change:<8}   {rsc:<rsc_width$}   ( {details:>detail_width$} ){reason}"
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths_follow_crm_simulate() {
        let t = Transition {
            changes: vec![
                Change::Start {
                    rsc: "rsc2".into(),
                    node: "node1".into(),
                },
                Change::Move {
                    rsc: "rsc4".into(),
                    from: "node1".into(),
                    to: "node2".into(),
                    roles: None,
                    reason: None,
                },
            ],
            ..Default::default()
        };
        assert_eq!(
            lines(&t),
            [
                "  * Start      rsc2    (          node1 )",
                "  * Move       rsc4    ( node1 -> node2 )",
            ]
        );
        assert_eq!(
            t.to_string(),
            "Transition Summary:\n  * Start      rsc2    (          node1 )\n  * Move       rsc4    ( node1 -> node2 )"
        );
    }

    #[test]
    fn nothing_to_do_displays_the_heading_alone() {
        let t = Transition::default();
        assert!(lines(&t).is_empty());
        assert_eq!(t.to_string(), "Transition Summary:");
    }
}
