//! Restarting the gateway with another filter config (e.g. a rotated `cookie_secrets`) on the
//! same ports, so the broker's registered redirect URI and the browser's cookies still apply.

use anyhow::{Context, Result};
use serde_json::Value;

use crate::envoy::Envoy;
use crate::logs::LogDir;
use crate::paths::filter_wasm;
use crate::stack::Stack;

impl Stack {
    /// Stops Envoy and starts it again with `filter_config`; the new Envoy logs to
    /// `<logs>/envoy-restart-<n>/`, so the first run's log is kept.
    pub fn restart_envoy(&mut self, filter_config: Value) -> Result<()> {
        let ports = self.envoy.ports();
        self.envoy.process().stop();
        let restarts = std::fs::read_dir(self.logs.dir())
            .with_context(|| format!("listing {}", self.logs.dir().display()))?
            .filter_map(|e| e.ok())
            .filter(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with("envoy-restart-")
            })
            .count();
        let logs = LogDir::at(
            self.logs
                .dir()
                .join(format!("envoy-restart-{}", restarts + 1)),
        )?;
        let wasm = filter_wasm()?;
        let dir = self.dir().to_path_buf();
        self.envoy = Envoy::start(&logs, &dir, ports, &wasm, &filter_config)?;
        self.filter_config = filter_config;
        Ok(())
    }
}
