//! The broker's YAML config loader on arbitrary text: a config or an error naming the key,
//! never a panic (YAML anchors, deep nesting, odd scalars, unknown keys included); then each
//! connector's own `config:` block, as `check-config` reads it.
#![no_main]

use gatehouse_broker::config::Config;
use gatehouse_broker::connector::{configure, warnings};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(config) = Config::from_yaml(text) {
        if let Ok(connectors) = configure(&config) {
            let _ = warnings(&connectors);
        }
    }
});
