//! The filter's proxy-wasm counters as Envoy's `/stats` shows them (`wasmcustom.<name>`).

use anyhow::{Context, Result};

use crate::envoy::Envoy;

/// The sum of every counter whose name ends with `name` (0 when none is defined yet).
pub fn filter_counter(envoy: &Envoy, name: &str) -> Result<u64> {
    let stats = envoy.stats()?;
    let mut total = 0;
    for line in stats.lines() {
        if let Some((key, value)) = line.split_once(": ") {
            if key == name || key.ends_with(&format!(".{name}")) {
                total += value
                    .trim()
                    .parse::<u64>()
                    .with_context(|| format!("stat {key} is not a number: {value}"))?;
            }
        }
    }
    Ok(total)
}
