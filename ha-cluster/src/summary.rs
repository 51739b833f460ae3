//! crm_simulate's `Transition Summary:` lines, byte for byte: the change
//! padded to 8, the resource to a width that grows as crm_simulate's does
//! (from 5, to a longer id plus 2), the details right-aligned to the
//! longest, then the reason.

use crate::scheduler::{Change, Transition};

/// The summary lines (without the heading), as crm_simulate prints them.
pub fn lines(transition: &Transition) -> Vec<String> {
    // crm_simulate formats the list twice with the same static widths; the
    // second, printed pass sees the widths the first left.
    let mut rsc_width = 5usize;
    let mut detail_width = 5usize;
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
            Change::Stop { rsc, node, reason } => {
                Some(("Stop", rsc.as_str(), node.clone(), reason.clone()))
            }
            Change::Move { rsc, from, to } => {
                Some(("Move", rsc.as_str(), format!("{from} -> {to}"), None))
            }
            Change::Recover { rsc, from, to } if from == to => {
                Some(("Recover", rsc.as_str(), from.clone(), None))
            }
            Change::Recover { rsc, from, to } => {
                Some(("Recover", rsc.as_str(), format!("{from} -> {to}"), None))
            }
            Change::Restart { rsc, node, reason } => {
                Some(("Restart", rsc.as_str(), node.clone(), reason.clone()))
            }
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
            Change::Fence { node, reason } => Some(format!("  * Fence (reboot) {node} '{reason}'")),
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
                },
            ],
        };
        assert_eq!(
            lines(&t),
            [
                "  * Start      rsc2    (          node1 )",
                "  * Move       rsc4    ( node1 -> node2 )",
            ]
        );
    }
}
