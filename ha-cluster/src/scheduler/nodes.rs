//! Which nodes may run resources and which must be fenced.

use std::collections::{BTreeMap, BTreeSet};

use crate::cib::Cib;
use crate::score::Score;

/// The nodes as placement sees them.
pub(crate) struct Nodes {
    /// Node names in CIB order.
    pub names: Vec<String>,
    /// Those that may run resources.
    pub available: BTreeSet<String>,
    /// Those that are up (their resource history is read).
    pub online: BTreeSet<String>,
    /// Those in need of fencing, with why (fenced only where it can be).
    pub unclean: Vec<(String, String)>,
    /// Those in maintenance: what runs there is left alone, nothing new
    /// goes there.
    pub maintenance: BTreeSet<String>,
    /// Pacemaker Remote nodes, each with its connection resource (an
    /// `ocf:pacemaker:remote` primitive named after the node).
    pub remote: BTreeMap<String, String>,
    /// Guest nodes (remote nodes in a container), with the container.
    pub guests: BTreeMap<String, String>,
    /// Those joining (up, not yet members).
    pub pending: BTreeSet<String>,
    /// Those in standby (`standby` attribute).
    pub standby: BTreeSet<String>,
}

impl Nodes {
    /// Marks `node` unclean (the first reason stays): nothing may run
    /// there any more.
    pub fn fence(&mut self, node: &str, reason: String) {
        if !self.unclean.iter().any(|(n, _)| n == node) {
            self.unclean.push((node.to_owned(), reason));
        }
        if !self.guest_reset(node) {
            self.available.remove(node);
        }
    }

    /// Whether `node` is a guest node (reset by recovering its container,
    /// it comes back in the same transition).
    fn guest_reset(&self, node: &str) -> bool {
        self.guests.contains_key(node)
    }

    /// Whether `node` is unclean.
    pub fn is_unclean(&self, node: &str) -> bool {
        self.unclean.iter().any(|(n, _)| n == node)
    }

    /// The cluster nodes (not remote or guest nodes), in CIB order.
    pub fn cluster(&self) -> Vec<String> {
        self.names
            .iter()
            .filter(|x| !self.remote.contains_key(*x))
            .cloned()
            .collect()
    }
}

/// Reads the nodes' states as Pacemaker does (`determine_online_status`):
/// which are online, which may run resources, which are unclean and why.
pub(crate) fn nodes(cib: &Cib) -> Nodes {
    // Remote nodes: those of the connections configured, and those the
    // CIB lists as remote (without a connection, they stay down).
    let defined = cib.remote_nodes();
    let remote: BTreeMap<String, String> = defined
        .iter()
        .map(|(name, _)| name)
        .chain(cib.nodes.iter().filter(|n| n.remote).map(|n| &n.name))
        .chain(
            cib.status
                .iter()
                .filter(|(_, s)| s.remote)
                .map(|(name, _)| name),
        )
        .map(|name| (name.clone(), name.clone()))
        .collect();
    let mut names: Vec<String> = cib
        .nodes
        .iter()
        .map(|n| n.name.clone())
        .filter(|n| !remote.contains_key(n))
        .collect();
    let cluster = names.clone();
    names.extend(remote.keys().cloned());
    let guests = defined
        .iter()
        .filter_map(|(name, container)| Some((name.clone(), container.clone()?)))
        .collect();
    let mut out = Nodes {
        names,
        available: BTreeSet::new(),
        online: BTreeSet::new(),
        unclean: Vec::new(),
        maintenance: BTreeSet::new(),
        remote,
        guests,
        pending: BTreeSet::new(),
        standby: BTreeSet::new(),
    };
    let names = cluster;
    let fencing = cib.options.stonith_enabled;
    let truthy = |v: &str| matches!(v.to_ascii_lowercase().as_str(), "on" | "true" | "yes" | "1");
    for name in &names {
        if attribute(cib, name, "maintenance").is_some_and(truthy) {
            out.maintenance.insert(name.clone());
        }
        let Some(s) = cib.status.get(name) else {
            // Never seen: unclean until fenced (startup-fencing).
            if fencing {
                out.fence(name, "node is unclean".into());
            }
            continue;
        };
        let attr = |k: &str| attribute(cib, name, k);
        let shutdown = s.attributes.get("shutdown").is_some_and(|v| v != "0");
        let expected_up = !shutdown && s.expected.as_deref() == Some("member");
        let terminate = s.attributes.get("terminate").is_some_and(|t| {
            matches!(t.to_ascii_lowercase().as_str(), "true" | "yes" | "on" | "1")
                || t.chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_digit() && c != '0')
        });
        let in_cluster = s.in_membership == Some(true);
        let join = s.join.as_deref().unwrap_or("");
        let mut pending = false;
        let mut online;
        if !fencing {
            online = false;
            if !in_cluster {
            } else if s.controller {
                online = join == "member";
            } else if expected_up {
                out.fence(name, "peer is unexpectedly down".into());
            }
        } else {
            online = in_cluster;
            let expected = s.expected.as_deref().unwrap_or("down");
            if shutdown {
                online = s.controller;
            } else if s.in_membership.is_none() {
                out.fence(name, "peer has not been seen by the cluster".into());
            } else if join == "banned" {
                out.fence(name, "peer failed Pacemaker membership criteria".into());
            } else if !terminate && expected == "down" {
                pending = in_cluster || s.controller;
            } else if terminate && join == "down" && !in_cluster && !s.controller {
                // Just shot.
                online = false;
            } else if !in_cluster {
                out.fence(name, "peer is no longer part of the cluster".into());
            } else if !s.controller {
                out.fence(name, "peer process is no longer available".into());
            } else if terminate {
                out.fence(name, "termination was requested".into());
            } else if join == "member" {
            } else if join == "pending" || join == "down" {
                pending = true;
            } else {
                out.fence(name, "peer was in an unknown state".into());
            }
        }
        let standby = attr("standby").is_some_and(truthy);
        if standby {
            out.standby.insert(name.clone());
        }
        if pending {
            out.pending.insert(name.clone());
        }
        if online {
            out.online.insert(name.clone());
            if !shutdown
                && !pending
                && !standby
                && !out.is_unclean(name)
                && !out.maintenance.contains(name)
            {
                out.available.insert(name.clone());
            }
        }
    }
    out
}

impl Nodes {
    /// Brings up the remote nodes whose connection runs (`up` says, by
    /// connection id: None not running, Some(failed)), and lets those take
    /// resources whose connection does not stop (`stopping`: shutting
    /// down, nothing new goes there).
    pub fn bring_up_remotes(
        &mut self,
        cib: &Cib,
        up: impl Fn(&str) -> Option<bool>,
        stopping: impl Fn(&str) -> bool,
    ) {
        let remote = self.remote.clone();
        for (name, connection) in &remote {
            let truthy = |v: &str| crate::cib::truthy(Some(v), false);
            if attribute(cib, name, "maintenance").is_some_and(truthy) {
                self.maintenance.insert(name.clone());
            }
            // Up now: its history counts.
            if up(connection) == Some(false) {
                self.online.insert(name.clone());
            }
            // It may take resources unless its connection stops (or,
            // assigned nowhere, takes it down: see the assignment).
            let standby = attribute(cib, name, "standby").is_some_and(truthy);
            if standby {
                self.standby.insert(name.clone());
            }
            if !standby && !stopping(connection) && !self.maintenance.contains(name) {
                self.available.insert(name.clone());
            }
        }
    }
}

/// A node attribute (transient, else permanent), or one Pacemaker
/// defines: `#uname` (the name), `#id`, `#kind`, `#is_dc`,
/// `#cluster-name`.
pub(super) fn attribute<'a>(cib: &'a Cib, node: &'a str, name: &str) -> Option<&'a str> {
    let id = || {
        cib.nodes
            .iter()
            .find(|n| n.name == node)
            .map(|n| n.id.as_str())
    };
    match name {
        "#uname" => return Some(node),
        "#id" => return id(),
        "#kind" => {
            let defined = cib.remote_nodes();
            let kind = match defined.iter().find(|(name, _)| name == node) {
                Some((_, Some(_))) => "container",
                Some((_, None)) => "remote",
                None if cib.nodes.iter().any(|n| n.name == node && n.remote)
                    || cib.status.get(node).is_some_and(|s| s.remote) =>
                {
                    "remote"
                }
                None => "cluster",
            };
            return Some(kind);
        }
        "#is_dc" => {
            let dc = cib.options.dc.is_some() && cib.options.dc.as_deref() == id();
            return Some(if dc { "true" } else { "false" });
        }
        "#cluster-name" => return cib.options.cluster_name.as_deref(),
        _ => {}
    }
    // Transient attributes (the status section) win over permanent ones.
    cib.status
        .get(node)
        .and_then(|s| s.attributes.get(name))
        .or_else(|| {
            cib.nodes
                .iter()
                .find(|n| n.name == node)
                .and_then(|n| n.attributes.get(name))
        })
        .map(String::as_str)
}

/// Each node's health score under `node-health-strategy` (nodes whose
/// score is 0 left out): the sum of its `#health-*` attributes, `red`,
/// `yellow` and `green` scored by the strategy (migrate-on-red: red bans;
/// only-green: anything not green bans; progressive and custom: the
/// `node-health-*` options, from `node-health-base`).
pub(super) fn health(cib: &Cib, names: &[String]) -> BTreeMap<String, Score> {
    let option = |name: &str| cib.options.health.get(name).and_then(|v| Score::parse(v));
    let strategy = cib
        .options
        .health
        .get("node-health-strategy")
        .map_or("none", String::as_str);
    let (red, yellow, green, base) = match strategy {
        "migrate-on-red" => (Score::MINUS_INFINITY, Score::ZERO, Score::ZERO, Score::ZERO),
        "only-green" => (
            Score::MINUS_INFINITY,
            Score::MINUS_INFINITY,
            Score::ZERO,
            Score::ZERO,
        ),
        "progressive" | "custom" => (
            option("node-health-red").unwrap_or(Score::MINUS_INFINITY),
            option("node-health-yellow").unwrap_or(Score::ZERO),
            option("node-health-green").unwrap_or(Score::ZERO),
            if strategy == "progressive" {
                option("node-health-base").unwrap_or(Score::ZERO)
            } else {
                Score::ZERO
            },
        ),
        _ => return BTreeMap::new(),
    };
    let mut out = BTreeMap::new();
    for node in names {
        let mut attrs: BTreeMap<&str, &str> = BTreeMap::new();
        for n in cib.nodes.iter().filter(|n| &n.name == node) {
            for (k, v) in &n.attributes {
                attrs.insert(k, v);
            }
        }
        if let Some(s) = cib.status.get(node) {
            for (k, v) in &s.attributes {
                attrs.insert(k, v);
            }
        }
        let mut total = base;
        for (_, v) in attrs.iter().filter(|(k, _)| k.starts_with("#health")) {
            total = total.add(match v.to_ascii_lowercase().as_str() {
                "red" => red,
                "yellow" => yellow,
                "green" => green,
                other => Score::parse(other).unwrap_or(Score::ZERO),
            });
        }
        if total != Score::ZERO {
            out.insert(node.clone(), total);
        }
    }
    out
}
