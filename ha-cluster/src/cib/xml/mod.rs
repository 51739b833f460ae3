//! The import from Pacemaker's CIB XML: [`Cib::from_xml`].
//!
//! Each section of the CIB has its reader: name/value sets and resource
//! defaults ([`attributes`]), resources, constraints (with their resource
//! [`sets`]) and the status section. An element missing something or
//! holding a value Pacemaker would not take is an
//! [`Error::Element`](crate::Error::Element) naming it.

mod attributes;
mod constraints;
mod resources;
mod sets;
mod status;

use std::collections::BTreeMap;

use super::model::{Cib, ClusterOptions, Node, Role};
use super::values::truthy;
use crate::error::Result;
use crate::rule::Subject;
use crate::score::Score;
use crate::xml::{self, Element};
use attributes::{Defaults, Scope, nvpairs, utilization};

impl Cib {
    /// Reads Pacemaker's CIB XML. Rules on the date (in attribute sets)
    /// are judged at the CIB's `execution-date`; without one they do not
    /// hold (see [`Cib::from_xml_at`]).
    pub fn from_xml(text: &str) -> Result<Self> {
        Self::from_xml_at(text, None)
    }

    /// Reads a CIB file (as `crm_simulate -x FILE` does at time `clock`,
    /// see [`Cib::from_xml_at`]); errors about its text name the file and
    /// line.
    pub fn load(path: &std::path::Path, clock: Option<i64>) -> Result<Self> {
        let text = ha_core::config_text::read(path)?;
        Self::from_xml_at(&text, clock).map_err(|e| e.in_file(path))
    }

    /// Reads Pacemaker's CIB XML as crm_simulate does at time `clock`
    /// (seconds since the epoch): the CIB's `execution-date` if it has
    /// one, else `clock`, is when date rules are judged and failures
    /// expire ([`Cib::now`]).
    pub fn from_xml_at(text: &str, clock: Option<i64>) -> Result<Self> {
        let root = xml::parse(text)?;
        if root.name != "cib" {
            return Err(root.error("the root element is not <cib>"));
        }
        let config = root
            .child("configuration")
            .ok_or_else(|| root.error("no <configuration>"))?;
        let execution_date: Option<i64> = root.attr("execution-date").and_then(|v| v.parse().ok());
        let now = execution_date.or(clock);
        let scope = Scope {
            now,
            subject: Subject::default(),
        };
        let mut opts = BTreeMap::new();
        if let Some(c) = config.child("crm_config") {
            opts = nvpairs(c, "cluster_property_set", scope)?;
        }
        let mut options =
            ClusterOptions::from_pairs(&opts, truthy(root.attr("have-quorum"), false))?;
        options.dc = root.attr("dc-uuid").map(str::to_owned);
        let defaults = Defaults {
            element: config.child("rsc_defaults"),
            now,
            stickiness: opts.get("default-resource-stickiness").cloned(),
        };
        let nodes = nodes(config, scope)?;
        let resources = resources::read(config, &defaults)?;
        let constraints = constraints::read(config)?;
        let tickets = status::tickets(&root);
        let status = status::node_states(&root, scope)?;
        Ok(Self {
            options,
            nodes,
            resources,
            constraints,
            status,
            tickets,
            now,
            execution_date,
        })
    }
}

/// The `nodes` section, in CIB order.
fn nodes(config: &Element, scope: Scope<'_>) -> Result<Vec<Node>> {
    let Some(section) = config.child("nodes") else {
        return Ok(Vec::new());
    };
    section
        .children_named("node")
        .map(|e| {
            Ok(Node {
                id: e.id().to_owned(),
                name: e.attr("uname").unwrap_or(e.id()).to_owned(),
                attributes: nvpairs(e, "instance_attributes", scope)?,
                utilization: utilization(e, scope)?,
                remote: e.attr("type") == Some("remote"),
            })
        })
        .collect()
}

/// A score attribute (absent: 0).
fn score_of(e: &Element, attr: &str) -> Result<Score> {
    match e.attr(attr) {
        None => Ok(Score::ZERO),
        Some(text) => Score::parse(text).ok_or_else(|| e.error(format!("bad score '{text}'"))),
    }
}

/// A role attribute; `Started` (or absent) means any role.
fn role_of(e: &Element, attr: &str) -> Result<Option<Role>> {
    match e.attr(attr) {
        None => Ok(None),
        Some(text) => match Role::parse(text) {
            Some(Role::Started) => Ok(None),
            Some(role) => Ok(Some(role)),
            None => Err(e.error(format!("unknown role '{text}'"))),
        },
    }
}

#[cfg(test)]
mod tests {
    use crate::cib::{Cib, Constraint, Resource};
    use crate::score::Score;

    fn chapter() -> String {
        crate::fixture::chapter_xml(crate::fixture::CHAPTER, "")
    }

    #[test]
    fn the_chapters_cluster_reads() {
        let cib = Cib::from_xml(&chapter()).unwrap();
        assert!(!cib.options.stonith_enabled && cib.options.have_quorum);
        assert_eq!(cib.resources.len(), 2);
        assert!(
            matches!(&cib.resources[1], Resource::Primitive(p) if p.agent == "systemd:haproxy")
        );
        assert!(
            matches!(&cib.constraints[0], Constraint::Colocation { score, .. } if *score == Score::INFINITY)
        );
        assert!(matches!(
            &cib.constraints[1],
            Constraint::Order {
                mandatory: true,
                symmetrical: true,
                ..
            }
        ));
    }

    #[test]
    fn bad_input_names_the_element() {
        let e =
            Cib::from_xml(&chapter().replace("class=\"systemd\"", "class=\"bogus\"")).unwrap_err();
        assert!(
            e.to_string().contains("<primitive id=\"haproxy\">") && e.to_string().contains("bogus"),
            "{e}"
        );
        let e =
            Cib::from_xml(&chapter().replace("score=\"INFINITY\"", "score=\"lots\"")).unwrap_err();
        assert!(e.to_string().contains("rsc_colocation id=\"c\""), "{e}");
        let e = Cib::from_xml(&chapter().replace("with-rsc=\"vip\"", "with-rsc=\"nosuch\""))
            .unwrap_err();
        assert!(
            e.to_string().contains("rsc_colocation id=\"c\"") && e.to_string().contains("nosuch"),
            "{e}"
        );
        assert!(
            matches!(&e, crate::Error::UnknownResource { resource, .. } if resource == "nosuch"),
            "{e:?}"
        );
        assert!(matches!(
            Cib::from_xml("<cib><configuration>"),
            Err(crate::Error::Xml { .. })
        ));
        assert!(Cib::from_xml("<nodes/>").is_err());
    }

    #[test]
    fn errors_name_the_line_and_a_loaded_file() {
        let text = chapter().replace("class=\"systemd\"", "class=\"bogus\"");
        let line = text
            .lines()
            .position(|l| l.contains("bogus"))
            .expect("the changed line") as u32
            + 1;
        let e = Cib::from_xml(&text).unwrap_err();
        assert_eq!(e.location().map(|l| l.line), Some(line), "{e}");
        assert!(e.to_string().starts_with(&format!("line {line}: ")), "{e}");

        let dir = std::env::temp_dir().join(format!("ha-cluster-load-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("cib.xml");
        std::fs::write(&file, &text).unwrap();
        let e = Cib::load(&file, None).unwrap_err();
        assert!(
            e.to_string()
                .starts_with(&format!("{}:{line}: <primitive", file.display())),
            "{e}"
        );
        std::fs::write(&file, b"<cib>\n<configuration \xff/>\n</cib>").unwrap();
        let e = Cib::load(&file, None).unwrap_err();
        assert!(
            e.to_string()
                .contains("cib.xml:2: this line is not valid UTF-8"),
            "{e}"
        );
        assert!(matches!(
            Cib::load(&dir.join("missing.xml"), None),
            Err(crate::Error::Read(ha_core::Error::ReadConfig { .. }))
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn resource_sets_become_pairs() {
        let cib = Cib::from_xml(&chapter().replace(
            r#"<rsc_order id="o" first="vip" then="haproxy"/>"#,
            r#"<rsc_order id="o"><resource_set id="s"><resource_ref id="vip"/><resource_ref id="haproxy"/></resource_set></rsc_order>"#,
        ))
        .unwrap();
        assert!(cib.constraints.iter().any(|c| matches!(
            c,
            Constraint::Order { first, then, .. } if first == "vip" && then == "haproxy"
        )));
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_text_never_panics(cut in 0usize..900, junk in ".{0,40}") {
            let chapter = chapter();
            let mut text = chapter[..cut.min(chapter.len())].to_owned();
            text.push_str(&junk);
            let _ = Cib::from_xml(&text);
        }
    }
}
