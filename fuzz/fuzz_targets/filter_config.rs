//! The filter's configuration parser: any bytes give a config or a keyed error, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = gatehouse_filter::config::Settings::from_json(data);
});
