//! The CIB (cluster configuration and status) as our own types.
//!
//! Not shaped like the XML: cluster options, nodes, resources, constraints
//! and the status section's facts.
//!
//! The import from
//! Pacemaker's XML is [`Cib::from_xml`]; building one in code is
//! [`CibBuilder`](crate::CibBuilder).

mod model;
mod node_attributes;
mod values;
mod xml;

pub use crate::rule::{Expression, Rule, Subject};
pub use model::{
    Cib, ClusterOptions, Constraint, Digests, LossPolicy, NoQuorumPolicy, Node, NodeStatus,
    Operation, OperationConfig, Primitive, Resource, Role, Ticket, base_id,
};
pub(crate) use values::{pacemaker_ms, truthy};
