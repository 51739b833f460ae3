//! A Pacemaker-class cluster planner: the CIB as our own types, and a
//! scheduler that decides what must start, stop, move or recover.
//!
//! A cluster built in code, planned, its transition run, then a node put
//! in standby and the cluster planned again:
//!
//! ```
//! use ha_cluster::{Cib, Primitive, Score, simulate, summary};
//!
//! fn main() -> Result<(), ha_cluster::Error> {
//!     // Two nodes; a virtual IP and the HAProxy that serves on it.
//!     let cib = Cib::builder()
//!         .option("stonith-enabled", "false")
//!         .online_node("node1")
//!         .online_node("node2")
//!         .primitive(
//!             Primitive::new("vip", "ocf:heartbeat:IPaddr2")?
//!                 .param("ip", "192.168.122.100")
//!                 .param("cidr_netmask", "24")
//!                 .op("monitor", "30s")?,
//!         )
//!         .primitive(Primitive::new("haproxy", "systemd:haproxy")?.op("monitor", "30s")?)
//!         // haproxy runs where vip runs, and starts after it.
//!         .colocation("haproxy", "vip", Score::INFINITY)
//!         .order("vip", "haproxy")
//!         .build()?;
//!
//!     let transition = ha_cluster::schedule(&cib)?;
//!     // What changes, as crm_simulate's Transition Summary says it...
//!     println!("{transition}");
//!     assert_eq!(
//!         summary::lines(&transition),
//!         ["  * Start      vip         ( node1 )", "  * Start      haproxy     ( node1 )"]
//!     );
//!     // ...and the actions that carry it out, each after those it waits for:
//!     // probes first, then `vip_start_0 node1`, its monitor, haproxy's start...
//!     println!("{}", transition.graph);
//!
//!     // The actions ran (here simulated: each succeeds and is recorded in the
//!     // status section, as the cluster records it): both run on node1, and
//!     // nothing is left to do.
//!     let mut cib = simulate::apply(&cib, &transition);
//!     assert_eq!(ha_cluster::schedule(&cib)?.to_string(), "Transition Summary:");
//!
//!     // pcs node standby node1: what runs there moves.
//!     cib.set_standby("node1", true)?;
//!     let moves = ha_cluster::schedule(&cib)?;
//!     println!("{moves}");
//!     assert_eq!(
//!         summary::lines(&moves),
//!         [
//!             "  * Move       vip         ( node1 -> node2 )",
//!             "  * Move       haproxy     ( node1 -> node2 )",
//!         ]
//!     );
//!     Ok(())
//! }
//! ```
//!
//! The CIB ([`cib`]) is built in code ([`CibBuilder`]) or read from
//! Pacemaker's XML, status section included ([`Cib::from_xml`]; a document
//! nested deeper than [`xml::MAX_DEPTH`] or holding more than
//! [`xml::MAX_ELEMENTS`] elements is refused); scores
//! add up as Pacemaker's do ([`score`]). The [`scheduler`] is a pure
//! function from a CIB to a [`Transition`]: the changes, printed as
//! crm_simulate prints them ([`summary`], with the allocation scores in
//! [`allocation`]), and the [`Graph`] of actions that carries them out,
//! checked against Pacemaker's own regression cases. The cluster's status
//! prints as crm_simulate shows it ([`status`]), before a transition and
//! after it ran ([`simulate`]). `docs/architecture.md` says how the crate
//! fits with the others.
//!
//! From Pacemaker's XML:
//!
//! ```
//! let cib = ha_cluster::Cib::from_xml(r#"<cib have-quorum="true"><configuration>
//!   <crm_config><cluster_property_set id="o">
//!     <nvpair id="s" name="stonith-enabled" value="false"/></cluster_property_set></crm_config>
//!   <nodes><node id="1" uname="node1"/></nodes>
//!   <resources><primitive id="vip" class="ocf" provider="heartbeat" type="IPaddr2"/></resources>
//!   <constraints/></configuration>
//!   <status><node_state id="1" uname="node1" in_ccm="true" crmd="online" join="member" expected="member"/></status>
//! </cib>"#).unwrap();
//! let transition = ha_cluster::schedule(&cib).unwrap();
//! assert_eq!(ha_cluster::summary::lines(&transition), ["  * Start      vip     ( node1 )"]);
//! ```

// The README's example is compiled too.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeExample;

pub mod allocation;
pub mod builder;
pub mod cib;
pub mod error;
#[cfg(test)]
mod fixture;
pub mod rule;
pub mod scheduler;
pub mod score;
pub mod simulate;
pub mod status;
pub mod summary;
pub mod xml;

pub use builder::CibBuilder;
pub use cib::{Cib, Primitive, Resource};
pub use error::{Error, Result};
pub use scheduler::{Action, Change, Graph, Task, Transition, Unsupported, schedule};
pub use score::Score;
