#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| trafik_config::fuzz::bolt(data));
