//! ha-cluster: a Pacemaker + Corosync class cluster manager: membership and quorum, the CIB model, a Pacemaker-faithful scheduler, and the node daemon that executes transitions.
//!
//! **Status: not implemented yet.** This crate is an empty shell that reserves
//! its place in the ha-rs workspace; it exports nothing. The work is tracked
//! in the project's issue #7, and `docs/architecture.md` describes what the
//! crate will hold and how it fits with the others.
