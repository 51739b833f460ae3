//! ha-fence: fencing (STONITH): an IPMI RMCP+ client, a runner for the fence-agents programs, SBD (storage-based death) and fencing topologies.
//!
//! **Status: not implemented yet.** This crate is an empty shell that reserves
//! its place in the ha-rs workspace; it exports nothing. The work is tracked
//! in the project's issue #6, and `docs/architecture.md` describes what the
//! crate will hold and how it fits with the others.
