//! The real Envoy, configured from `envoy/envoy.yaml` with the built filter loaded.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context, Result};

use crate::logs::LogDir;
use crate::paths::{envoy_binary, envoy_template};
use crate::process::Process;

/// The four ports the template needs.
#[derive(Debug, Clone, Copy)]
pub struct EnvoyPorts {
    pub listen: u16,
    pub admin: u16,
    pub broker: u16,
    pub upstream: u16,
}

/// Fills the template's placeholders. Paths and the filter config become JSON string
/// literals (valid double-quoted YAML scalars), so no value can break the YAML.
pub fn render(
    template: &str,
    ports: EnvoyPorts,
    wasm_path: &Path,
    filter_config: &serde_json::Value,
) -> Result<String> {
    let config_text =
        serde_json::to_string(filter_config).context("serialising the filter config")?;
    let replacements = [
        ("@LISTEN_PORT@", ports.listen.to_string()),
        ("@ADMIN_PORT@", ports.admin.to_string()),
        ("@BROKER_PORT@", ports.broker.to_string()),
        ("@UPSTREAM_PORT@", ports.upstream.to_string()),
        ("@WASM_PATH@", json_string(&wasm_path.to_string_lossy())),
        ("@FILTER_CONFIG@", json_string(&config_text)),
    ];
    fill(template, &replacements)
}

/// Replaces each `(placeholder, value)` in `template`; every placeholder must occur and none may
/// be left over. Values are inserted as given (quote strings with [`json_string`]).
pub fn fill(template: &str, replacements: &[(&str, String)]) -> Result<String> {
    let mut out = template.to_string();
    for (placeholder, value) in replacements {
        if !out.contains(placeholder) {
            bail!("the Envoy template has no {placeholder}");
        }
        out = out.replace(placeholder, value);
    }
    if let Some(left) = leftover_placeholder(&out) {
        bail!("the Envoy template has an unknown placeholder {left}");
    }
    Ok(out)
}

/// A JSON string literal (a valid double-quoted YAML scalar).
pub fn json_string(value: &str) -> String {
    serde_json::Value::String(value.to_string()).to_string()
}

/// The first `@UPPER_CASE@` token left in `text`, if any.
fn leftover_placeholder(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut i = 0;
    while let Some(start) = text[i..].find('@').map(|p| p + i) {
        let rest = &bytes[start + 1..];
        let len = rest
            .iter()
            .take_while(|b| b.is_ascii_uppercase() || **b == b'_')
            .count();
        if len > 0 && rest.get(len) == Some(&b'@') {
            return Some(text[start..start + len + 2].to_string());
        }
        i = start + 1;
    }
    None
}

/// A running Envoy; stopped on drop.
#[derive(Debug)]
pub struct Envoy {
    process: Process,
    ports: EnvoyPorts,
    config_path: PathBuf,
}

impl Envoy {
    /// Renders the template into `<dir>/envoy.yaml`, starts Envoy (one worker) and waits
    /// for the admin `/ready`.
    pub fn start(
        logs: &LogDir,
        dir: &Path,
        ports: EnvoyPorts,
        wasm_path: &Path,
        filter_config: &serde_json::Value,
    ) -> Result<Self> {
        Self::start_edited(logs, dir, ports, wasm_path, filter_config, None)
    }

    /// As [`Envoy::start`], with `edit` applied to the template first (e.g. a test that must
    /// reach the filter with what the shipped config's hardening would stop in Envoy).
    pub fn start_edited(
        logs: &LogDir,
        dir: &Path,
        ports: EnvoyPorts,
        wasm_path: &Path,
        filter_config: &serde_json::Value,
        edit: Option<fn(&mut String)>,
    ) -> Result<Self> {
        let template_path = envoy_template();
        let mut template = std::fs::read_to_string(&template_path)
            .with_context(|| format!("reading {}", template_path.display()))?;
        if let Some(edit) = edit {
            edit(&mut template);
        }
        let config = render(&template, ports, wasm_path, filter_config)?;
        Self::start_config(logs, dir, ports, &config)
    }

    /// Starts Envoy with a config already rendered (other templates); `ports.admin` must be its
    /// admin port and `ports.listen` the gateway listener.
    pub fn start_config(
        logs: &LogDir,
        dir: &Path,
        ports: EnvoyPorts,
        config: &str,
    ) -> Result<Self> {
        let binary = envoy_binary()?;
        let config_path = dir.join("envoy.yaml");
        std::fs::write(&config_path, config)
            .with_context(|| format!("writing {}", config_path.display()))?;
        let mut cmd = Command::new(binary);
        cmd.arg("-c")
            .arg(&config_path)
            .args(["--concurrency", "1", "--disable-hot-restart"])
            .args(["--log-level", "info"])
            // Access-log lines reach the log file within 0.1 s, not Envoy's default 10 s.
            .args(["--file-flush-interval-msec", "100"])
            // Unique per running Envoy, so parallel tests never share a base id.
            .args(["--base-id", &ports.admin.to_string()])
            .current_dir(dir);
        let process = Process::spawn_ready(
            "envoy",
            cmd,
            logs,
            &format!("http://127.0.0.1:{}/ready", ports.admin),
            Duration::from_secs(60),
        )?;
        Ok(Self {
            process,
            ports,
            config_path,
        })
    }

    /// The gateway's base URL, e.g. `http://127.0.0.1:8080`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.ports.listen)
    }

    pub fn admin_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.ports.admin)
    }

    pub fn ports(&self) -> EnvoyPorts {
        self.ports
    }

    pub fn config_path(&self) -> &Path {
        &self.config_path
    }

    pub fn process(&mut self) -> &mut Process {
        &mut self.process
    }

    /// The admin `/stats` text (`name: value` lines).
    pub fn stats(&self) -> Result<String> {
        let url = format!("{}/stats", self.admin_url());
        let response = reqwest::blocking::get(&url).with_context(|| format!("GET {url}"))?;
        let status = response.status();
        if !status.is_success() {
            bail!("GET {url}: {status}");
        }
        response.text().with_context(|| format!("reading {url}"))
    }

    /// One counter or gauge from `/stats`, `None` when Envoy does not have it.
    pub fn stat(&self, name: &str) -> Result<Option<u64>> {
        let stats = self.stats()?;
        for line in stats.lines() {
            if let Some((key, value)) = line.split_once(": ") {
                if key == name {
                    let value = value
                        .trim()
                        .parse()
                        .with_context(|| format!("stat {name} is not a number: {value}"))?;
                    return Ok(Some(value));
                }
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ports() -> EnvoyPorts {
        EnvoyPorts {
            listen: 1,
            admin: 2,
            broker: 3,
            upstream: 4,
        }
    }

    #[test]
    fn the_repo_template_renders_completely() {
        let template = std::fs::read_to_string(envoy_template()).unwrap();
        let config = serde_json::json!({"issuer": "http://127.0.0.1:3/dex", "quote": "a\"b\\c\n'"});
        let out = render(&template, ports(), Path::new("/x y/\"f\".wasm"), &config).unwrap();
        assert!(leftover_placeholder(&out).is_none());
        // The config survives as one JSON string literal that decodes back to the config.
        let line = out
            .lines()
            .find(|l| l.trim_start().starts_with("value: "))
            .unwrap();
        let literal = line.trim_start().trim_start_matches("value: ");
        let text: String = serde_json::from_str(literal).unwrap();
        let back: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back, config);
        assert!(out.contains(r#"filename: "/x y/\"f\".wasm""#));
        assert!(out.contains("port_value: 4 "));
    }

    #[test]
    fn unknown_placeholders_are_refused() {
        let t = "@LISTEN_PORT@ @ADMIN_PORT@ @BROKER_PORT@ @UPSTREAM_PORT@ @WASM_PATH@ @FILTER_CONFIG@ @NEW_ONE@";
        let err = render(t, ports(), Path::new("a"), &serde_json::json!({})).unwrap_err();
        assert!(err.to_string().contains("@NEW_ONE@"), "{err}");
        // `@type` keys of the real template are not placeholders.
        assert!(leftover_placeholder("\"@type\": x@y@").is_none());
    }

    #[test]
    fn missing_placeholders_are_refused() {
        let err = render(
            "@LISTEN_PORT@",
            ports(),
            Path::new("a"),
            &serde_json::json!({}),
        )
        .unwrap_err();
        assert!(err.to_string().contains("@ADMIN_PORT@"), "{err}");
    }
}
