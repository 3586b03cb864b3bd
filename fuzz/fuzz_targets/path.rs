#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| trafik_middleware::fuzz::path(data));
