//! The ha-rs example binaries. Each binary in `src/bin/` is a thin shell
//! around the library crates: it reads the classic configuration files and
//! runs the tokio drivers. What the binaries share (logging to syslog,
//! dropping privileges) lives here, and so does the chapter's lab that
//! `ha-lab` runs ([`lab`]).

pub mod lab;
pub mod logging;
pub mod privileges;
