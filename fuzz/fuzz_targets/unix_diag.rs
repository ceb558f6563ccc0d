#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| unwedge_fuzz::unix_diag(data));
