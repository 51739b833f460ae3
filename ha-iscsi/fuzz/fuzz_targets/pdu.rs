//! cargo-fuzz target `pdu`: see `bodies/pdu.rs`.
#![no_main]

#[allow(dead_code)]
#[path = "../bodies/mod.rs"]
mod bodies;

libfuzzer_sys::fuzz_target!(|input: &[u8]| bodies::pdu::run(input));
