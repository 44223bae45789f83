//! The project's model of Kong's Wasm host (`host-model/`, binary `gatehouse-host-model`) with
//! the built filter loaded, configured as Kong would be: two workers, `shm_kv gatehouse`,
//! `server_name kong`, the filter in the access phase of one route to the upstream.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result};

use crate::logs::LogDir;
use crate::paths::host_model_binary;
use crate::process::Process;

/// Kong's `server_name` (`:authority` on Kong is `server_name:port`).
pub const SERVER_NAME: &str = "kong";

#[derive(Debug, Clone, Copy)]
pub struct HostModelPorts {
    pub listen: u16,
    /// The model's status listener (`/ready`).
    pub status: u16,
    pub upstream: u16,
}

/// A running model; stopped on drop.
pub struct HostModel {
    process: Process,
    ports: HostModelPorts,
    config_path: PathBuf,
}

impl HostModel {
    /// Writes the filter config to `<dir>/host-model-filter.json`, starts the model and waits
    /// until every worker has started the filter.
    pub fn start(
        logs: &LogDir,
        dir: &Path,
        ports: HostModelPorts,
        wasm_path: &Path,
        filter_config: &serde_json::Value,
    ) -> Result<Self> {
        let config_path = dir.join("host-model-filter.json");
        let text = serde_json::to_string(filter_config).context("serialising the filter config")?;
        std::fs::write(&config_path, text)
            .with_context(|| format!("writing {}", config_path.display()))?;
        let mut cmd = Command::new(host_model_binary()?);
        cmd.arg("--wasm")
            .arg(wasm_path)
            .arg("--config")
            .arg(&config_path)
            .args(["--listen", &format!("127.0.0.1:{}", ports.listen)])
            .args(["--status-listen", &format!("127.0.0.1:{}", ports.status)])
            .args(["--upstream", &format!("127.0.0.1:{}", ports.upstream)])
            .args([
                "--server-name",
                SERVER_NAME,
                "--workers",
                "2",
                "--shm-kv",
                "gatehouse",
            ])
            .current_dir(dir);
        let process = Process::spawn_ready(
            "host-model",
            cmd,
            logs,
            &format!("http://127.0.0.1:{}/ready", ports.status),
            Duration::from_secs(60),
        )?;
        Ok(Self {
            process,
            ports,
            config_path,
        })
    }

    /// The gateway's base URL, e.g. `http://127.0.0.1:8000`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.ports.listen)
    }

    pub fn ports(&self) -> HostModelPorts {
        self.ports
    }

    pub fn config_path(&self) -> &Path {
        &self.config_path
    }

    pub fn process(&mut self) -> &mut Process {
        &mut self.process
    }

    /// The model's log so far (the filter's own log lines included).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.process.log_path()).unwrap_or_default()
    }
}
