//! ha-lb: an HAProxy-class TCP and HTTP load balancer: balancing algorithms, ACLs, haproxy.cfg import, and a tokio/hyper proxy driver.
//!
//! **Status: not implemented yet.** This crate is an empty shell that reserves
//! its place in the ha-rs workspace; it exports nothing. The work is tracked
//! in the project's issue #3, and `docs/architecture.md` describes what the
//! crate will hold and how it fits with the others.
