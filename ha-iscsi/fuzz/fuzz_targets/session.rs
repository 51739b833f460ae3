//! cargo-fuzz target `session`: see `bodies/session.rs`.
#![no_main]

#[allow(dead_code)]
#[path = "../bodies/mod.rs"]
mod bodies;

libfuzzer_sys::fuzz_target!(|input: &[u8]| bodies::session::run(input));
