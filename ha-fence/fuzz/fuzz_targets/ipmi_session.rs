//! cargo-fuzz target `ipmi_session`: see `bodies/ipmi_session.rs`.
#![no_main]

#[allow(dead_code)]
#[path = "../bodies/mod.rs"]
mod bodies;

libfuzzer_sys::fuzz_target!(|input: &[u8]| bodies::ipmi_session::run(input));
