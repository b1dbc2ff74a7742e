#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| rasstatic_fuzz::pool::run(data));
