//! cargo-fuzz target `haproxy_cfg`: see `bodies/haproxy_cfg.rs`.
#![no_main]

#[allow(dead_code)]
#[path = "../bodies/mod.rs"]
mod bodies;

libfuzzer_sys::fuzz_target!(|input: &[u8]| bodies::haproxy_cfg::run(input));
