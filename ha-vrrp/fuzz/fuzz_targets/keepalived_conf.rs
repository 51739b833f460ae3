//! cargo-fuzz target `keepalived_conf`: see `bodies/keepalived_conf.rs`.
#![no_main]

#[allow(dead_code)]
#[path = "../bodies/mod.rs"]
mod bodies;

libfuzzer_sys::fuzz_target!(|input: &[u8]| bodies::keepalived_conf::run(input));
