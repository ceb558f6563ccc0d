#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| unwedge_fuzz::perf_map(data));
