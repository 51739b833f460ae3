//! The ha-rs example binaries. Each binary in `src/bin/` is a thin shell
//! around the library crates: it reads the classic configuration files and
//! runs the tokio drivers. No logic lives here that a library user would
//! need.
