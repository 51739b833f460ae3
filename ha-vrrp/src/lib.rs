//! ha-vrrp: a Keepalived-class VRRP (RFC 3768 / RFC 9568) router: a sans-IO state machine, the packet codec, keepalived.conf import, and a Linux driver that moves the virtual IP.
//!
//! **Status: not implemented yet.** This crate is an empty shell that reserves
//! its place in the ha-rs workspace; it exports nothing. The work is tracked
//! in the project's issue #4, and `docs/architecture.md` describes what the
//! crate will hold and how it fits with the others.
