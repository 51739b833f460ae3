//! cargo-fuzz target `sbd`: see `bodies/sbd.rs`.
#![no_main]

#[allow(dead_code)]
#[path = "../bodies/mod.rs"]
mod bodies;

libfuzzer_sys::fuzz_target!(|input: &[u8]| bodies::sbd::run(input));
