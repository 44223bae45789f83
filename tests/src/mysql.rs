//! MariaDB / MySQL for tests: the server on `127.0.0.1:3306` (user `root`, no password; or
//! `GATEHOUSE_MYSQL_URL`, a `mysql://` URL of any database on another server). Every test gets
//! its own database ([`TestDatabase`]: created with the `mariadb` client, dropped afterwards),
//! so tests never see each other's rows.

use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{anyhow, bail, Context, Result};
use url::Url;

static COUNTER: AtomicU64 = AtomicU64::new(0);

fn server_url() -> Result<Url> {
    let text = std::env::var("GATEHOUSE_MYSQL_URL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".to_string());
    Url::parse(&text).context("GATEHOUSE_MYSQL_URL is not a URL")
}

/// Runs `sql` with the `mariadb` command-line client against the server of `url`.
fn admin(url: &Url, sql: &str) -> Result<()> {
    let mut cmd = Command::new("mariadb");
    cmd.arg("--protocol=TCP")
        .arg(format!("--host={}", url.host_str().unwrap_or("127.0.0.1")))
        .arg(format!("--port={}", url.port().unwrap_or(3306)))
        .arg(format!("--user={}", url.username()))
        .args(["--batch", "-e", sql]);
    if let Some(password) = url.password() {
        // The client reads it from the environment, never from the command line.
        cmd.env("MYSQL_PWD", password);
    }
    let out = cmd
        .output()
        .context("running the mariadb client (apt install mariadb-client)")?;
    if !out.status.success() {
        bail!(
            "mariadb {sql:?}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// A database of its own for one test, dropped afterwards.
#[derive(Debug)]
pub struct TestDatabase {
    name: String,
    url: Url,
}

impl TestDatabase {
    /// A fresh database on the shared server (`127.0.0.1:3306` or `GATEHOUSE_MYSQL_URL`).
    pub fn create() -> Result<Self> {
        Self::create_on(&server_url()?)
    }

    /// A fresh database on the server of `server` (e.g. a [`crate::mariadb_server`] one).
    pub fn create_on(server: &Url) -> Result<Self> {
        let server = server.clone();
        let mut random = [0u8; 4];
        getrandom::getrandom(&mut random).map_err(|e| anyhow!("random: {e}"))?;
        let name = format!(
            "gatehouse_test_{}_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed),
            u32::from_le_bytes(random)
        );
        admin(&server, &format!("CREATE DATABASE {name}"))?;
        let mut url = server;
        url.set_path(&format!("/{name}"));
        url.set_query(Some("ssl-mode=disabled"));
        Ok(Self { name, url })
    }

    /// `mysql://…/<name>?ssl-mode=disabled`, with credentials.
    pub fn url(&self) -> &Url {
        &self.url
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Host, port and user, for Dex's separate config keys.
    pub fn host(&self) -> String {
        self.url.host_str().unwrap_or("127.0.0.1").to_string()
    }

    pub fn port(&self) -> u16 {
        self.url.port().unwrap_or(3306)
    }

    pub fn user(&self) -> String {
        self.url.username().to_string()
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Err(e) = admin(&self.url, &format!("DROP DATABASE IF EXISTS {}", self.name)) {
            eprintln!("dropping test database {}: {e:#}", self.name);
        }
    }
}
