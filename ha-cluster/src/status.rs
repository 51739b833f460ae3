//! The cluster's status as crm_simulate (and crm_mon) print it.
//!
//! The node list (online, offline, standby, unclean... nodes) and the full
//! list of resources with where each runs and in which role, groups and
//! clones laid out as Pacemaker lays them out (a clone's plain instances
//! collapsed into `Started: [ ... ]` lists, the rest one per line).
//!
//! `ha-ctl simulate` prints it before the transition summary (the CIB as
//! it is) and after it (the CIB once the transition ran, from
//! [`crate::simulate::apply`]), so both can be diffed with crm_simulate's.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;

use crate::cib::{Cib, Primitive, Resource, Role, base_id, truthy};
use crate::scheduler::current as read;
use crate::scheduler::{
    CloneSet, Current, Histories, Nodes, Transition, Unsupported, failure_timeout, flag, histories,
    nodes,
};

/// What the status shows of one primitive (or clone instance) on the
/// nodes it is active on.
#[derive(Debug, Clone, Default)]
struct Seen {
    /// Where it is active, and what its history there says.
    on: Vec<(String, Current)>,
    /// A probe found its agent missing on a node.
    not_installed: bool,
    /// Its history names it, its configuration does not.
    orphan: bool,
}

/// The status before `transition`, as crm_simulate's `Current cluster
/// status:` block shows it: the `Node List:` and `Full List of Resources:`
/// blocks (each line indented as crm_simulate indents them, separated by
/// an empty line). The nodes the scheduler found unclean show so, and
/// operations in flight show (`Starting`, `(Monitoring)`...).
pub fn current(cib: &Cib, transition: &Transition) -> Result<String, Unsupported> {
    let mut view = View::new(cib, true)?;
    for node in &transition.unclean {
        view.nodes.fence(node, String::new());
    }
    Ok(view.render())
}

/// What crm_simulate prints before `Current cluster status:`: the
/// execution date it uses (if the CIB has one), the maintenance-mode
/// banner, and how many resource instances are disabled or blocked (if
/// any), each as crm_simulate spaces it.
pub fn preamble(cib: &Cib) -> Result<String, Unsupported> {
    let mut out = execution_date(cib).unwrap_or_default();
    if cib.options.maintenance_mode {
        out.push_str(
            "\n              *** Resource management is DISABLED ***\n  \
             The cluster will not attempt to start, stop or recover services\n\n",
        );
    }
    let view = View::new(cib, true)?;
    let primitives = crate::scheduler::flatten(cib)?.primitives;
    let disabled = primitives
        .iter()
        .filter(|p| p.meta.get("target-role").and_then(|r| Role::parse(r)) == Some(Role::Stopped))
        .count();
    let blocked = primitives
        .iter()
        .filter(|p| view.blocked(p, &view.seen(&p.id, Some(p))))
        .count();
    if disabled > 0 || blocked > 0 {
        let _ = write!(
            out,
            "{disabled} of {} resource instances DISABLED and {blocked} BLOCKED from further \
             action due to failure\n\n",
            primitives.len()
        );
    }
    Ok(out)
}

/// `Using the original execution date of: DATE`, as crm_simulate says
/// it when the CIB names the time it was taken at.
pub fn execution_date(cib: &Cib) -> Option<String> {
    let t = cib.execution_date?;
    let (days, secs) = (t.div_euclid(86_400), t.rem_euclid(86_400));
    // Days since 1970-01-01 to a civil date (proleptic Gregorian).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    Some(format!(
        "Using the original execution date of: {year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}Z\n",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    ))
}

/// The status once a transition ran, as crm_simulate's `Revised Cluster
/// Status:` block shows it (same layout as [`current`]), from the CIB
/// [`crate::simulate::apply`] made.
pub fn revised(revised: &Cib) -> Result<String, Unsupported> {
    Ok(View::new(revised, false)?.render())
}

/// The CIB read as the status shows it.
struct View<'a> {
    cib: &'a Cib,
    nodes: Nodes,
    history: Histories,
    /// The clones, their instances (`rsc:N`) as the history assigned them.
    clones: Vec<CloneSet>,
    /// Orphans not in any clone, in the order the history named them.
    orphans: Vec<String>,
    /// Every orphan (clone instances too).
    orphaned: BTreeSet<String>,
    /// The children of promotable clones.
    promotable: BTreeSet<String>,
    /// Whether operations in flight show.
    pending: bool,
    /// Each node's place in the status section (those it does not list
    /// last): a resource active on several is shown with them in that
    /// order.
    rank: HashMap<String, usize>,
}

impl<'a> View<'a> {
    fn new(cib: &'a Cib, pending: bool) -> Result<Self, Unsupported> {
        let flat = crate::scheduler::flatten(cib)?;
        let mut clones = flat.clones;
        let configured: BTreeSet<&str> = flat.primitives.iter().map(|p| p.id.as_str()).collect();
        let history = histories(cib, &mut clones, &configured);
        let mut nodes = nodes(cib);
        let cluster = nodes.cluster();
        let up = |id: &str| {
            let mut state = None;
            for node in &cluster {
                if let Some(ops) = history.ops.get(&(id.to_owned(), node.clone())) {
                    let c = read(ops, |_| false);
                    if c.running {
                        state = Some(state.unwrap_or(false) || c.failed);
                    }
                }
            }
            state
        };
        nodes.bring_up_remotes(cib, up, |_| false);
        let in_clone: BTreeSet<&str> = clones
            .iter()
            .flat_map(|c| c.instances.iter().flatten().map(String::as_str))
            .collect();
        let orphans = history
            .orphans
            .iter()
            .filter(|o| !in_clone.contains(o.as_str()))
            .cloned()
            .collect();
        // A cluster node that is down with a managed resource still
        // thought active there is unclean (as the scheduler finds it).
        if cib.options.stonith_enabled && !cib.options.maintenance_mode {
            let by_id: HashMap<&str, &Primitive> =
                flat.primitives.iter().map(|p| (p.id.as_str(), p)).collect();
            let lost: BTreeSet<&String> = cluster
                .iter()
                .filter(|n| !nodes.online.contains(*n) && !nodes.maintenance.contains(*n))
                .collect();
            let mut thought_active = Vec::new();
            for ((rsc, node), ops) in &history.ops {
                if !lost.contains(node) {
                    continue;
                }
                let managed = match by_id.get(rsc.as_str()) {
                    Some(p) => managed(cib, p),
                    None => cib.options.stop_orphan_resources,
                };
                if managed && read(ops, |_| false).running {
                    thought_active.push(node.clone());
                }
            }
            for node in thought_active {
                nodes.fence(&node, String::new());
            }
        }
        let rank = nodes
            .names
            .iter()
            .map(|n| {
                let at = cib.status.get(n).map_or(usize::MAX, |s| s.position);
                (n.clone(), at)
            })
            .collect();
        // A remote node only the status section names (no connection, no
        // node entry) is not one the cluster knows.
        let known = cib.remote_nodes();
        nodes.names.retain(|n| {
            !nodes.remote.contains_key(n)
                || known.iter().any(|(k, _)| k == n)
                || cib.nodes.iter().any(|c| &c.name == n)
        });
        let promotable = cib
            .resources
            .iter()
            .filter_map(|r| match r {
                Resource::Clone {
                    child,
                    promotable: true,
                    ..
                } => Some(child.primitives()),
                _ => None,
            })
            .flatten()
            .map(|p| p.id.clone())
            .collect();
        let orphaned = history.orphans.iter().cloned().collect();
        Ok(Self {
            rank,
            cib,
            nodes,
            history,
            clones,
            orphans,
            orphaned,
            promotable,
            pending,
        })
    }

    fn render(&self) -> String {
        let mut out = String::from("  * Node List:\n");
        self.node_list(&mut out);
        out.push_str("\n  * Full List of Resources:\n");
        if self.cib.resources.is_empty() && self.orphans.is_empty() {
            out.push_str("    * No resources\n");
        }
        // Highest priority first, else in configuration order.
        let mut resources: Vec<&Resource> = self.cib.resources.iter().collect();
        resources.sort_by_key(|r| std::cmp::Reverse(priority(r)));
        for r in resources {
            self.resource(r, 4, &mut out);
        }
        for id in &self.orphans {
            if let Some(line) = self.orphan_line(id, 4) {
                out.push_str(&line);
            }
        }
        out
    }

    /// Whether a node's history is read (as the scheduler reads it: a
    /// node that is up, or any with fencing, which can tell).
    fn readable(&self, node: &str) -> bool {
        match self.nodes.remote.get(node) {
            None => self.nodes.online.contains(node) || self.cib.options.stonith_enabled,
            Some(_) => self.nodes.online.contains(node) || self.nodes.is_unclean(node),
        }
    }

    /// What the history says of `id` (a primitive or an instance).
    fn seen(&self, id: &str, p: Option<&Primitive>) -> Seen {
        let mut seen = Seen::default();
        let timeout = p.and_then(failure_timeout);
        // Its histories, in the order the status section lists the nodes.
        let mut histories: Vec<(&String, &Vec<crate::cib::Operation>)> = self
            .history
            .ops
            .range((id.to_owned(), String::new())..)
            .take_while(|((rsc, _), _)| rsc == id)
            .map(|((_, node), ops)| (node, ops))
            .filter(|(node, _)| self.rank.contains_key(node.as_str()))
            .collect();
        histories.sort_by_key(|(node, _)| self.rank.get(node.as_str()).copied());
        for (node, ops) in histories {
            if !self.readable(node) {
                continue;
            }
            let c = read(ops, |op| match (self.cib.now, op.changed, timeout) {
                (Some(now), Some(at), Some(t)) if t > 0 => at.saturating_add(t) <= now,
                _ => false,
            });
            if c.not_installed && !c.running {
                seen.not_installed = true;
            }
            if c.running {
                seen.on.push((node.clone(), c));
            }
        }
        seen.orphan = self.orphaned.contains(id);
        seen
    }

    fn node_list(&self, out: &mut String) {
        let mut names: Vec<&String> = self.nodes.names.iter().collect();
        names.sort_by(|a, b| natural(a, b));
        let (mut online, mut offline) = (Vec::new(), Vec::new());
        let (mut remote_online, mut remote_offline) = (Vec::new(), Vec::new());
        let mut guest_online = Vec::new();
        for name in names {
            let n = &self.nodes;
            let kind = if n.guests.contains_key(name) {
                "GuestNode"
            } else if n.remote.contains_key(name) {
                "RemoteNode"
            } else {
                "Node"
            };
            let up = n.online.contains(name);
            let state = if n.is_unclean(name) {
                Some(
                    if up {
                        "UNCLEAN (online)"
                    } else {
                        "UNCLEAN (offline)"
                    }
                    .to_owned(),
                )
            } else if n.pending.contains(name) {
                Some("pending".to_owned())
            } else if n.standby.contains(name) {
                Some(if !up {
                    "OFFLINE (standby)".to_owned()
                } else if self.active_on(name) {
                    "standby (with active resources)".to_owned()
                } else {
                    "standby".to_owned()
                })
            } else if n.maintenance.contains(name) {
                Some(
                    if up {
                        "maintenance"
                    } else {
                        "OFFLINE (maintenance)"
                    }
                    .to_owned(),
                )
            } else {
                None
            };
            match (state, kind, up) {
                (Some(s), _, _) => {
                    let _ = writeln!(out, "    * {kind} {name}: {s}");
                }
                (None, "Node", true) => online.push(name.as_str()),
                (None, "Node", false) => offline.push(name.as_str()),
                (None, "RemoteNode", true) => remote_online.push(name.as_str()),
                (None, "RemoteNode", false) => remote_offline.push(name.as_str()),
                (None, _, true) => guest_online.push(name.as_str()),
                // A guest that is down is not listed.
                (None, _, false) => {}
            }
        }
        for (label, list) in [
            ("Online", online),
            ("OFFLINE", offline),
            ("RemoteOnline", remote_online),
            ("RemoteOFFLINE", remote_offline),
            ("GuestOnline", guest_online),
        ] {
            if !list.is_empty() {
                let _ = writeln!(out, "    * {label}: [ {} ]", list.join(" "));
            }
        }
    }

    /// Whether any resource is active on `node`.
    fn active_on(&self, node: &str) -> bool {
        self.history
            .ops
            .iter()
            .any(|((_, at), ops)| at == node && read(ops, |_| false).running)
    }

    fn resource(&self, r: &Resource, indent: usize, out: &mut String) {
        let pad = " ".repeat(indent);
        match r {
            Resource::Primitive(p) => out.push_str(&self.primitive_line(p, &p.id, &p.id, indent)),
            Resource::Group { id, members, meta } => {
                let _ = writeln!(
                    out,
                    "{pad}* Resource Group: {id}{}:",
                    group_flags(meta, self.cib.options.maintenance_mode)
                );
                for m in members {
                    out.push_str(&self.primitive_line(m, &m.id, &m.id, indent + 2));
                }
            }
            Resource::Clone {
                id,
                child,
                promotable,
                meta,
            } => self.clone_set(id, child, *promotable, meta, indent, out),
            Resource::Bundle { .. } => {}
        }
    }

    /// One primitive's line: `id\t(agent):\t state node (flags)`. `id` is
    /// what its history knows it by, `shown` the name printed.
    fn primitive_line(&self, p: &Primitive, id: &str, shown: &str, indent: usize) -> String {
        let seen = self.seen(id, Some(p));
        self.line(p, &seen, shown, indent)
    }

    fn line(&self, p: &Primitive, seen: &Seen, shown: &str, indent: usize) -> String {
        let pad = " ".repeat(indent);
        let agent = &p.agent;
        let promotable = self.promotable.contains(base_id(&p.id));
        let mut state = String::new();
        if seen.orphan {
            state.push_str(" ORPHANED");
        }
        let failed = seen.on.iter().any(|(_, c)| c.failed) && !ignored(p, seen);
        let role = |c: &Current| {
            if c.promoted {
                Role::Promoted
            } else if promotable {
                Role::Unpromoted
            } else {
                Role::Started
            }
        };
        let shown_role = seen.on.iter().map(|(_, c)| role(c)).max();
        let pending = seen
            .on
            .iter()
            .find_map(|(_, c)| c.pending)
            .filter(|_| self.pending);
        let doing = match pending {
            Some("start") => Some("Starting"),
            Some("stop") => Some("Stopping"),
            Some("migrate") => Some("Migrating"),
            Some("promote") => Some("Promoting"),
            Some("demote") => Some("Demoting"),
            _ => None,
        };
        match shown_role {
            _ if failed => {
                state.push_str(" FAILED");
                if shown_role == Some(Role::Promoted) {
                    state.push_str(" Promoted");
                }
            }
            _ if doing.is_some() => {
                let _ = write!(state, " {}", doing.unwrap_or_default());
            }
            Some(r) => {
                let _ = write!(state, " {r}");
            }
            None => state.push_str(" Stopped"),
        }
        if seen.on.len() == 1 {
            let _ = write!(state, " {}", seen.on[0].0);
        }
        let mut flags: Vec<String> = Vec::new();
        if seen.on.len() == 1
            && self.nodes.is_unclean(&seen.on[0].0)
            && !self.nodes.online.contains(&seen.on[0].0)
        {
            flags.push("UNCLEAN".into());
        }
        if pending == Some("monitor") {
            flags.push("Monitoring".into());
        }
        if let Some(target) = p.meta.get("target-role").and_then(|r| Role::parse(r)) {
            if target == Role::Stopped {
                flags.push("disabled".into());
            } else if promotable && target == Role::Unpromoted {
                flags.push(format!("target-role:{}", p.meta["target-role"]));
            }
        }
        // Pacemaker 2.1.5 says unmanaged of maintenance too.
        if self.blocked(p, seen) {
            flags.push("blocked".into());
        } else if !managed(self.cib, p)
            || seen
                .on
                .iter()
                .any(|(n, _)| self.nodes.maintenance.contains(n))
        {
            flags.push("unmanaged".into());
        }
        if seen.on.iter().any(|(_, c)| c.failed) && ignored(p, seen) {
            flags.push("failure ignored".into());
        }
        if shown_role.is_none() && seen.not_installed {
            state.push_str(" (not installed) ");
        }
        if !flags.is_empty() {
            let _ = write!(state, " ({})", flags.join(", "));
        }
        if seen.on.len() > 1 {
            // In the order the nodes' histories were read, unsorted.
            let on: Vec<&str> = seen.on.iter().map(|(n, _)| n.as_str()).collect();
            let _ = write!(state, " [ {} ]", on.join(" "));
        }
        format!("{pad}* {shown}\t({agent}):\t{state}\n")
    }

    /// Whether a clone instance's member is active on one node as
    /// nothing but its role: managed, not failed, nothing in flight, its
    /// node not lost (such instances are listed by role, the rest each on
    /// a line).
    fn plain(&self, s: &Seen, m: &Primitive) -> bool {
        let [(node, c)] = s.on.as_slice() else {
            return false;
        };
        let lost = self.nodes.is_unclean(node) && !self.nodes.online.contains(node);
        let in_flight = self.pending && c.pending.is_some();
        let managed = managed(self.cib, m) && !self.nodes.maintenance.contains(node);
        !c.failed && !in_flight && managed && !lost
    }

    /// A failure the resource was left in (on-fail=block, or a stop that
    /// failed with nobody to fence the node).
    fn blocked(&self, p: &Primitive, seen: &Seen) -> bool {
        seen.on.iter().any(|(_, c)| {
            c.failed
                && (c
                    .failed_op
                    .is_some_and(|op| p.on_fail.get(op).is_some_and(|f| f == "block"))
                    || c.failed_op == Some("stop") && !self.cib.options.stonith_enabled)
        })
    }

    fn orphan_line(&self, id: &str, indent: usize) -> Option<String> {
        let seen = self.seen(id, None);
        if seen.on.is_empty() {
            return None;
        }
        let agent = self
            .cib
            .status
            .values()
            .find_map(|s| s.agents.get(id))
            .cloned();
        // Orphans are left alone unless stop-orphan-resources.
        let mut meta = BTreeMap::new();
        if !self.cib.options.stop_orphan_resources {
            meta.insert("is-managed".to_owned(), "false".to_owned());
        }
        let p = Primitive {
            id: id.to_owned(),
            agent: agent.unwrap_or_default(),
            params: BTreeMap::new(),
            meta,
            operations: Vec::new(),
            on_fail: BTreeMap::new(),
            utilization: BTreeMap::new(),
        };
        Some(self.line(&p, &seen, id, indent))
    }

    fn clone_set(
        &self,
        id: &str,
        child: &Resource,
        promotable: bool,
        meta: &BTreeMap<String, String>,
        indent: usize,
        out: &mut String,
    ) {
        let pad = " ".repeat(indent);
        let unique = truthy(meta.get("globally-unique").map(String::as_str), false);
        let mut kinds = Vec::new();
        if promotable {
            kinds.push("promotable");
        }
        if unique {
            kinds.push("unique");
        }
        let disabled = meta
            .get("target-role")
            .and_then(|r| Role::parse(r))
            .is_some_and(|r| r == Role::Stopped);
        if self.cib.options.maintenance_mode
            || flag(meta, "maintenance", false)
            || !truthy(meta.get("is-managed").map(String::as_str), true)
        {
            kinds.push("unmanaged");
        }
        if disabled {
            kinds.push("disabled");
        }
        let kinds = if kinds.is_empty() {
            String::new()
        } else {
            format!(" ({})", kinds.join(", "))
        };
        let _ = writeln!(out, "{pad}* Clone Set: {id} [{}]{kinds}:", child.id());
        let members = child.primitives();
        let Some(set) = self.clones.iter().find(|c| c.id == id) else {
            return;
        };
        let instances = &set.instances;
        let (mut promoted, mut unpromoted, mut started) = (Vec::new(), Vec::new(), Vec::new());
        let mut running_on: BTreeSet<String> = BTreeSet::new();
        let inner = " ".repeat(indent + 2);
        for names in instances {
            let seen: Vec<Seen> = members
                .iter()
                .zip(names)
                .map(|(m, name)| self.seen(name, Some(m)))
                .collect();
            let active = seen.iter().filter(|s| !s.on.is_empty()).count();
            let orphan = seen.iter().any(|s| s.orphan);
            for s in &seen {
                running_on.extend(s.on.iter().map(|(n, _)| n.clone()));
            }
            if active == 0 && (!unique || orphan) {
                continue;
            }
            // An instance fully active on one node, managed and not
            // failed, goes into its role's list.
            let nodes: BTreeSet<&str> = seen
                .iter()
                .flat_map(|s| s.on.iter().map(|(n, _)| n.as_str()))
                .collect();
            let plain = !unique
                && !orphan
                && active == members.len()
                && nodes.len() == 1
                && seen.iter().zip(&members).all(|(s, m)| self.plain(s, m));
            if plain {
                let node = nodes.into_iter().next().unwrap_or_default().to_owned();
                let role = seen.iter().any(|s| s.on[0].1.promoted);
                match (promotable, role) {
                    (true, true) => promoted.push(node),
                    (true, false) => unpromoted.push(node),
                    _ => started.push(node),
                }
                continue;
            }
            let shown = |name: &str| {
                if unique {
                    name.to_owned()
                } else {
                    base_id(name).to_owned()
                }
            };
            if let Resource::Group { id: group, .. } = child {
                let suffix = names
                    .first()
                    .and_then(|n| n.rsplit_once(':'))
                    .map_or("", |(_, k)| k);
                let _ = writeln!(out, "{inner}* Resource Group: {group}:{suffix}:");
                for ((m, name), s) in members.iter().zip(names).zip(&seen) {
                    out.push_str(&self.line(m, s, &shown(name), indent + 4));
                }
            } else if let (Some(m), Some(name), Some(s)) =
                (members.first(), names.first(), seen.first())
            {
                out.push_str(&self.line(m, s, &shown(name), indent + 2));
            }
        }
        let (promoted_count, unpromoted_count, started_count) =
            (promoted.len(), unpromoted.len(), started.len());
        for (label, mut list) in [
            ("Promoted", promoted),
            ("Unpromoted", unpromoted),
            ("Started", started),
        ] {
            if !list.is_empty() {
                list.sort_by(|a, b| natural(a, b));
                let _ = writeln!(out, "{inner}* {label}: [ {} ]", list.join(" "));
            }
        }
        if unique {
            return;
        }
        // The nodes it may run on where no instance runs, by why, while
        // fewer instances than clone-max show in the lists above.
        let listed = promoted_count + unpromoted_count + started_count;
        let max = set.max;
        if listed >= max {
            return;
        }
        let mut names: Vec<&String> = self.nodes.names.iter().collect();
        names.sort_by(|a, b| natural(a, b));
        // Any instance's history on a node.
        let known = |node: &str| {
            instances.iter().flatten().any(|i| {
                self.history
                    .ops
                    .contains_key(&(i.to_owned(), node.to_owned()))
            })
        };
        let not_installed = |node: &str| {
            instances.iter().flatten().any(|i| {
                self.history
                    .ops
                    .get(&(i.to_owned(), node.to_owned()))
                    .is_some_and(|ops| read(ops, |_| false).not_installed)
            })
        };
        let mut stopped: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for node in names {
            // Without a symmetric cluster, the nodes it has a history on.
            if running_on.contains(node) || !self.cib.options.symmetric && !known(node) {
                continue;
            }
            let state = if not_installed(node) {
                "Stopped (not installed)"
            } else if disabled
                || members.first().is_some_and(|m| {
                    m.meta.get("target-role").and_then(|r| Role::parse(r)) == Some(Role::Stopped)
                })
            {
                "Stopped (disabled)"
            } else {
                "Stopped"
            };
            stopped.entry(state).or_default().push(node);
        }
        for (state, list) in stopped {
            let _ = writeln!(out, "{inner}* {state}: [ {} ]", list.join(" "));
        }
    }
}

/// A group's flags, from its meta attributes.
fn group_flags(meta: &BTreeMap<String, String>, maintenance: bool) -> String {
    let disabled = meta.get("target-role").and_then(|r| Role::parse(r)) == Some(Role::Stopped);
    let unmanaged = maintenance
        || flag(meta, "maintenance", false)
        || !truthy(meta.get("is-managed").map(String::as_str), true);
    match (disabled, unmanaged) {
        (true, true) => " (unmanaged, disabled)".into(),
        (true, false) => " (disabled)".into(),
        (false, true) => " (unmanaged)".into(),
        (false, false) => String::new(),
    }
}

/// Whether the cluster manages `p` (not unmanaged, not in maintenance).
fn managed(cib: &Cib, p: &Primitive) -> bool {
    !cib.options.maintenance_mode
        && truthy(p.meta.get("is-managed").map(String::as_str), true)
        && !flag(&p.meta, "maintenance", false)
}

/// Whether the resource's failure is ignored (`on-fail=ignore` for the
/// operation that failed).
fn ignored(p: &Primitive, seen: &Seen) -> bool {
    seen.on.iter().any(|(_, c)| {
        c.failed
            && c.failed_op
                .is_some_and(|op| p.on_fail.get(op).is_some_and(|f| f == "ignore"))
    })
}

/// Node names as Pacemaker sorts them: ignoring case, digit runs by
/// value (`node2` before `node10`).
fn natural(a: &str, b: &str) -> Ordering {
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    loop {
        match (a.first(), b.first()) {
            (None, None) => return Ordering::Equal,
            (None, _) => return Ordering::Less,
            (_, None) => return Ordering::Greater,
            (Some(x), Some(y)) if x.is_ascii_digit() && y.is_ascii_digit() => {
                let da = a.iter().take_while(|c| c.is_ascii_digit()).count();
                let db = b.iter().take_while(|c| c.is_ascii_digit()).count();
                let va = std::str::from_utf8(&a[..da]).unwrap_or("0");
                let vb = std::str::from_utf8(&b[..db]).unwrap_or("0");
                let va = va.trim_start_matches('0');
                let vb = vb.trim_start_matches('0');
                let o = va.len().cmp(&vb.len()).then(va.cmp(vb));
                if o != Ordering::Equal {
                    return o;
                }
                a = &a[da..];
                b = &b[db..];
            }
            (Some(x), Some(y)) => {
                let o = x.to_ascii_lowercase().cmp(&y.to_ascii_lowercase());
                if o != Ordering::Equal {
                    return o;
                }
                a = &a[1..];
                b = &b[1..];
            }
        }
    }
}

/// A resource's `priority` meta attribute (a group's or clone's own).
fn priority(r: &Resource) -> i64 {
    let meta = match r {
        Resource::Clone { meta, .. } | Resource::Group { meta, .. } => Some(meta),
        Resource::Primitive(p) => Some(&p.meta),
        Resource::Bundle { .. } => None,
    };
    meta.and_then(|m| m.get("priority"))
        .and_then(|v| crate::score::Score::parse(v))
        .map_or(0, crate::score::Score::value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture::{CHAPTER, chapter_xml};
    use crate::{schedule, simulate};

    #[test]
    fn the_chapter_before_and_after_its_first_transition() {
        let cib = Cib::from_xml(&chapter_xml(CHAPTER, "")).unwrap();
        let t = schedule(&cib).unwrap();
        assert_eq!(
            current(&cib, &t).unwrap(),
            "  * Node List:\n    * Online: [ node1 node2 ]\n\n  * Full List of Resources:\n    \
             * vip\t(ocf:heartbeat:IPaddr2):\t Stopped\n    \
             * haproxy\t(systemd:haproxy):\t Stopped\n"
        );
        let after = revised(&simulate::apply(&cib, &t)).unwrap();
        assert!(after.contains("* vip\t(ocf:heartbeat:IPaddr2):\t Started node"));
        assert!(after.contains("* haproxy\t(systemd:haproxy):\t Started node"));
    }

    #[test]
    fn the_execution_date_is_said_in_utc() {
        let mut cib = Cib::from_xml(&chapter_xml(CHAPTER, "")).unwrap();
        assert_eq!(execution_date(&cib), None);
        cib.execution_date = Some(1_648_835_858);
        assert_eq!(
            execution_date(&cib).unwrap(),
            "Using the original execution date of: 2022-04-01 17:57:38Z\n"
        );
        cib.execution_date = Some(951_782_400);
        assert!(
            execution_date(&cib)
                .unwrap()
                .contains("2000-02-29 00:00:00Z")
        );
    }

    #[test]
    fn node_names_sort_as_pacemaker_sorts_them() {
        let mut names = vec!["node10", "Node2", "node1", "alpha", "node02b"];
        names.sort_by(|a, b| natural(a, b));
        assert_eq!(names, ["alpha", "node1", "Node2", "node02b", "node10"]);
    }
}
