//! Whether a running resource's definition changed since it started.
//!
//! The digests its start (or promote, or migration) recorded of the
//! parameters it ran with are compared with those of the parameters
//! configured now. A changed parameter that needs a restart restarts it;
//! others are reloaded (when the agent said which need a restart); a change
//! of private parameters alone (passwords, kept out of the CIB's copy)
//! changes nothing.
//!
//! Pacemaker's digest is the MD5 of the parameters as one XML element,
//! attributes sorted: ` <parameters a="1" b="2"/>` and a newline.

use std::collections::BTreeMap;

use md5::{Digest, Md5};

use crate::cib::{Digests, Operation};

/// What a definition change asks of a running resource.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Definition {
    /// Nothing changed (or nothing is known).
    #[default]
    Same,
    /// Only parameters the agent can reload changed.
    Reload,
    /// A parameter changed that needs a restart.
    Restart,
    /// The agent itself changed (class, provider or type): its history
    /// is dropped and it starts again.
    Agent,
}

/// Pacemaker's digest of `params`.
pub(crate) fn digest<'a>(params: impl IntoIterator<Item = (&'a String, &'a String)>) -> String {
    let sorted: BTreeMap<&String, &String> = params.into_iter().collect();
    let mut text = String::from(" <parameters");
    for (name, value) in sorted {
        text.push(' ');
        text.push_str(name);
        text.push_str("=\"");
        for c in value.chars() {
            match c {
                '&' => text.push_str("&amp;"),
                '<' => text.push_str("&lt;"),
                '>' => text.push_str("&gt;"),
                '"' => text.push_str("&quot;"),
                c => text.push(c),
            }
        }
        text.push('"');
    }
    text.push_str("/>\n");
    Md5::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// What one recorded operation says of `params`.
fn compare(d: &Digests, params: &BTreeMap<String, String>) -> Definition {
    if let Some((names, recorded)) = &d.restart
        && digest(params.iter().filter(|(k, _)| names.contains(k))) != *recorded
    {
        return Definition::Restart;
    }
    if digest(params) == d.all {
        return Definition::Same;
    }
    // Private parameters (and the fencing controller's own `pcmk_*` ones)
    // are left out of the secure digest.
    if let Some((private, recorded)) = &d.secure
        && digest(
            params
                .iter()
                .filter(|(k, _)| !private.contains(k) && !k.starts_with("pcmk_")),
        ) == *recorded
    {
        return Definition::Same;
    }
    if d.restart.is_some() {
        Definition::Reload
    } else {
        Definition::Restart
    }
}

/// Whether the last failed operation in `ops` ran with other parameters
/// than `params`: its failure (and fail count) is then cleared, since the
/// changed definition may well work.
pub(super) fn failure_outdated(ops: &[Operation], params: &BTreeMap<String, String>) -> bool {
    ops.iter()
        .filter(|o| o.call_id >= 0 && !(o.status == 0 && matches!(o.rc, 0 | 7 | 8)))
        .max_by_key(|o| o.call_id)
        // (A recurring operation's digest covers its timeout too.)
        .filter(|o| o.interval == 0)
        .and_then(|o| o.digests.as_ref())
        .is_some_and(|d| compare(d, params) != Definition::Same)
}

/// What the operations since the resource last started say of `params`:
/// its start (or the probe that found it running, or its reload),
/// promotions and migrations (recurring monitors are only rescheduled).
pub(super) fn definition(ops: &[Operation], params: &BTreeMap<String, String>) -> Definition {
    let mut ops: Vec<&Operation> = ops.iter().filter(|o| o.call_id >= 0).collect();
    ops.sort_by_key(|o| o.call_id);
    // A probe that found it running counts as its start.
    let since = ops
        .iter()
        .rposition(|o| {
            matches!(
                (o.name.as_str(), o.interval, o.rc),
                ("start" | "migrate_from" | "reload-agent", _, 0) | ("monitor", 0, 0 | 8)
            )
        })
        .unwrap_or(0);
    ops[since..]
        .iter()
        .filter(|o| o.interval == 0)
        .filter(|o| {
            matches!(
                o.name.as_str(),
                "start" | "promote" | "migrate_from" | "reload-agent" | "monitor"
            )
        })
        .filter_map(|o| o.digests.as_ref())
        .map(|d| compare(d, params))
        .max()
        .unwrap_or(Definition::Same)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn digests_are_pacemakers() {
        // Both from Pacemaker's own regression CIBs: no parameters, and
        // the one parameter `dummy` (restart digest of params-4).
        assert_eq!(digest(&params(&[])), "f2317cad3d54cec5d7d7aa7d0bf35cf8");
        assert_eq!(
            digest(&params(&[("b", "2"), ("a", "1")])),
            digest(&params(&[("a", "1"), ("b", "2")]))
        );
    }

    fn start(d: Digests) -> Operation {
        Operation {
            name: "start".into(),
            interval: 0,
            call_id: 1,
            rc: 0,
            status: 0,
            changed: None,
            expected_rc: None,
            digests: Some(d),
            migrate_target: None,
        }
    }

    #[test]
    fn a_changed_parameter_restarts_or_reloads() {
        let before = params(&[("ip", "10.0.0.1"), ("nic", "eth0")]);
        let all = digest(&before);
        let same = start(Digests {
            all: all.clone(),
            restart: None,
            secure: None,
        });
        assert_eq!(
            definition(std::slice::from_ref(&same), &before),
            Definition::Same
        );
        let after = params(&[("ip", "10.0.0.2"), ("nic", "eth0")]);
        assert_eq!(definition(&[same], &after), Definition::Restart);
        // `ip` needs a restart, `nic` can be reloaded.
        let restart = Some((
            vec!["ip".to_owned()],
            digest(&params(&[("ip", "10.0.0.1")])),
        ));
        let op = start(Digests {
            all: all.clone(),
            restart: restart.clone(),
            secure: None,
        });
        let reloadable = params(&[("ip", "10.0.0.1"), ("nic", "eth1")]);
        assert_eq!(
            definition(std::slice::from_ref(&op), &reloadable),
            Definition::Reload
        );
        assert_eq!(definition(&[op], &after), Definition::Restart);
        // A new password alone changes nothing.
        let secure = Some((vec!["passwd".to_owned()], digest(&before)));
        let with_password = |p: &str| {
            let mut x = before.clone();
            x.insert("passwd".into(), p.into());
            x
        };
        let op = start(Digests {
            all: digest(&with_password("old")),
            restart: None,
            secure,
        });
        assert_eq!(definition(&[op], &with_password("new")), Definition::Same);
    }
}
