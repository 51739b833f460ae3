//! ha-cluster: the brain of a Pacemaker-class cluster. Part 1 (issue #7,
//! in progress): the CIB as our own types ([`cib`]), read from Pacemaker's
//! XML including its status section, score arithmetic ([`score`]), and a
//! scheduler ([`scheduler`]) that decides what must start, stop, move or
//! recover, printed as crm_simulate prints it ([`summary`], with the
//! allocation scores in [`allocation`]) and given as a graph of actions to
//! run ([`Graph`]), checked against Pacemaker's own regression cases; the
//! cluster's status as crm_simulate shows it ([`status`]), before a
//! transition and after it ran ([`simulate`]). `docs/architecture.md` says
//! how the crate fits with the others.
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
pub use scheduler::{Action, Change, Graph, Task, Transition, schedule};
pub use score::Score;
