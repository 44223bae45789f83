//! The real broker binary, run with a Dex-style YAML config, and the standard test config.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result};

use crate::logs::LogDir;
use crate::paths::broker_binary;
use crate::process::Process;
use yaml_quoted as q;

/// bcrypt (cost 10) of `password`, the test users' password.
pub const PASSWORD_HASH: &str = "$2b$10$2JCEFfcwTOlPbS5onIAjpOKuP6vATCqL8bQaYyJAntSOQBidqxYfC";

/// The filter's client at the broker (a `staticClients` entry).
pub const CLIENT_ID: &str = "gatehouse";
pub const CLIENT_SECRET: &str = "gatehouse-secret";

/// A user of the local password connector.
#[derive(Debug, Clone, Copy)]
pub struct TestUser {
    pub email: &'static str,
    pub password: &'static str,
    pub username: &'static str,
    pub user_id: &'static str,
    pub groups: &'static [&'static str],
}

/// The demo user (the brief's contract).
pub const ADMIN: TestUser = TestUser {
    email: "admin@example.com",
    password: "password",
    username: "admin",
    user_id: "08a8684b-db88-4b73-90a9-3cd1661f5466",
    groups: &["admins", "developers"],
};

/// A second user outside the `admins` group, for group rules.
pub const BOB: TestUser = TestUser {
    email: "bob@example.com",
    password: "password",
    username: "bob",
    user_id: "5c8a9a4e-7d0b-4f0e-9a51-2b8f3c1d6e77",
    groups: &["contractors"],
};

/// What `Broker::start` needs: where it listens, its issuer and its YAML.
#[derive(Debug, Clone)]
pub struct BrokerConfig {
    pub port: u16,
    pub issuer: String,
    pub yaml: String,
}

impl BrokerConfig {
    /// Replaces the `storage:` block (SQLite in the standard config) with `storage_yaml`.
    pub fn set_storage(&mut self, storage_yaml: &str) -> Result<()> {
        let start = self
            .yaml
            .find("storage:\n")
            .context("the broker config has no storage block")?;
        let end = self.yaml[start..]
            .find("web:\n")
            .map(|i| start + i)
            .context("the broker config has no web block after storage")?;
        self.yaml.replace_range(start..end, storage_yaml);
        Ok(())
    }

    /// Replaces `from` with `to` everywhere; fails when `from` does not occur.
    pub fn replace(&mut self, from: &str, to: &str) -> Result<()> {
        if !self.yaml.contains(from) {
            anyhow::bail!("the broker config does not contain {from:?}");
        }
        self.yaml = self.yaml.replace(from, to);
        Ok(())
    }

    /// The standard config: issuer `http://127.0.0.1:{port}/dex`, SQLite in `dir`, the
    /// `gatehouse` client redirecting to Envoy on `envoy_port`, users ADMIN and BOB.
    pub fn standard(port: u16, envoy_port: u16, dir: &Path) -> Self {
        let issuer = issuer_for(port);
        let redirect = format!("http://127.0.0.1:{envoy_port}/oauth2/callback");
        let sqlite = dir.join("broker.sqlite");
        let mut yaml = String::new();
        yaml.push_str(&format!("issuer: {}\n", q(&issuer)));
        yaml.push_str("storage:\n  type: sqlite3\n  config:\n");
        yaml.push_str(&format!("    file: {}\n", q(&sqlite.to_string_lossy())));
        yaml.push_str(&format!(
            "web:\n  http: {}\n",
            q(&format!("127.0.0.1:{port}"))
        ));
        yaml.push_str("oauth2:\n  skipApprovalScreen: true\n");
        yaml.push_str("staticClients:\n");
        yaml.push_str(&format!("- id: {}\n", q(CLIENT_ID)));
        yaml.push_str(&format!("  secret: {}\n", q(CLIENT_SECRET)));
        yaml.push_str("  name: Gatehouse\n");
        yaml.push_str(&format!("  redirectURIs: [{}]\n", q(&redirect)));
        yaml.push_str("enablePasswordDB: true\n");
        yaml.push_str("staticPasswords:\n");
        append_users(&mut yaml, &[ADMIN, BOB]);
        Self { port, issuer, yaml }
    }
}

/// The issuer of a broker on `port`: `http://127.0.0.1:{port}/dex`.
pub fn issuer_for(port: u16) -> String {
    format!("http://127.0.0.1:{port}/dex")
}

/// A YAML double-quoted scalar (JSON string syntax is valid YAML).
pub fn yaml_quoted(value: &str) -> String {
    serde_json::Value::String(value.to_string()).to_string()
}

/// A running `gatehouse-broker serve <dir>/broker.yaml`.
#[derive(Debug)]
pub struct Broker {
    process: Process,
    port: u16,
    issuer: String,
    config_path: PathBuf,
}

impl Broker {
    /// Writes `config.yaml` to `<dir>/broker.yaml`, starts the broker and waits for
    /// `{issuer}/healthz`.
    pub fn start(logs: &LogDir, dir: &Path, config: &BrokerConfig) -> Result<Self> {
        Self::start_named(logs, dir, config, "broker", &[])
    }

    /// [`Broker::start`] with a log/config name (`<name>.log`, `<name>.yaml`, for several
    /// brokers in one test) and extra environment variables.
    pub fn start_named(
        logs: &LogDir,
        dir: &Path,
        config: &BrokerConfig,
        name: &str,
        env: &[(String, String)],
    ) -> Result<Self> {
        let binary = broker_binary()?;
        let config_path = dir.join(format!("{name}.yaml"));
        std::fs::write(&config_path, &config.yaml)
            .with_context(|| format!("writing {}", config_path.display()))?;
        let mut cmd = Command::new(binary);
        cmd.arg("serve").arg(&config_path).current_dir(dir);
        for (key, value) in env {
            cmd.env(key, value);
        }
        let process = Process::spawn_ready(
            name,
            cmd,
            logs,
            &format!("{}/healthz", config.issuer),
            Duration::from_secs(30),
        )?;
        Ok(Self {
            process,
            port: config.port,
            issuer: config.issuer.clone(),
            config_path,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    pub fn config_path(&self) -> &Path {
        &self.config_path
    }

    pub fn process(&mut self) -> &mut Process {
        &mut self.process
    }
}

/// Appends `users` to `staticPasswords` (the standard YAML ends with that list).
pub fn append_users(yaml: &mut String, users: &[TestUser]) {
    for user in users {
        yaml.push_str(&format!("- email: {}\n", q(user.email)));
        yaml.push_str(&format!("  hash: {}\n", q(PASSWORD_HASH)));
        yaml.push_str(&format!("  username: {}\n", q(user.username)));
        yaml.push_str(&format!("  userID: {}\n", q(user.user_id)));
        let groups: Vec<String> = user.groups.iter().map(|g| q(g)).collect();
        yaml.push_str(&format!("  groups: [{}]\n", groups.join(", ")));
    }
}
