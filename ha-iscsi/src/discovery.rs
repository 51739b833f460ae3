//! SendTargets (RFC 7143 12.3, appendix C): what a discovery session
//! answers, sans IO.

use crate::login::LoginConfig;

/// The answer to `SendTargets=<value>`: `TargetName=` then a
/// `TargetAddress=<portal>,<tag>` per portal, for every target (`All`), or
/// for the one named. Targets whose ACL does not allow `initiator` are not
/// shown, as LIO does.
pub fn send_targets(
    config: &LoginConfig,
    value: &str,
    portals: &[String],
    initiator: &str,
) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for target in &config.targets {
        if value != "All" && value != target.name {
            continue;
        }
        if target
            .allowed
            .as_ref()
            .is_some_and(|allowed| !allowed.iter().any(|a| a == initiator))
        {
            continue;
        }
        out.push(("TargetName".to_owned(), target.name.clone()));
        for portal in portals {
            out.push((
                "TargetAddress".to_owned(),
                format!("{portal},{}", config.portal_group_tag),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::login::{Auth, TargetEntry};
    use crate::negotiation::TargetLimits;

    #[test]
    fn all_targets_the_initiator_may_see_with_their_portals() {
        let target = |name: &str, allowed: Option<Vec<String>>| TargetEntry {
            name: name.into(),
            auth: Auth::None,
            allowed,
            initiator_auth: Vec::new(),
        };
        let config = LoginConfig {
            targets: vec![
                target("iqn.2025-09.com.example:storage", None),
                target(
                    "iqn.2025-09.com.example:private",
                    Some(vec!["iqn.x:other".into()]),
                ),
            ],
            discovery_auth: Auth::None,
            portal_group_tag: 1,
            limits: TargetLimits::default(),
        };
        let portals = vec!["192.168.122.20:3260".to_owned()];
        let answer = send_targets(&config, "All", &portals, "iqn.x:node1");
        assert_eq!(
            answer,
            [
                (
                    "TargetName".into(),
                    "iqn.2025-09.com.example:storage".into()
                ),
                ("TargetAddress".into(), "192.168.122.20:3260,1".into())
            ]
        );
        assert_eq!(
            send_targets(&config, "All", &portals, "iqn.x:other").len(),
            4
        );
        assert!(send_targets(&config, "iqn.none", &portals, "iqn.x:node1").is_empty());
    }
}
