//! npm `oidc-provider` (tests/peers/oidc-provider) as a real upstream OpenID provider for the
//! broker's `oidc` connector: one client, one account, sign-in without forms, and optionally
//! one claim of its ID tokens changed (re-signed with its own key) for refusal tests.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result};
use serde_json::{json, Value};

use crate::logs::LogDir;
use crate::paths::repo_root;
use crate::ports::free_port;
use crate::process::Process;

pub const CLIENT_ID: &str = "gatehouse-broker";
pub const CLIENT_SECRET: &str = "oidc-peer-secret";

/// How the provider misbehaves (one claim of its ID tokens).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tamper {
    None,
    Issuer,
    Audience,
    Nonce,
    Expired,
}

impl Tamper {
    fn as_str(self) -> &'static str {
        match self {
            Tamper::None => "none",
            Tamper::Issuer => "issuer",
            Tamper::Audience => "audience",
            Tamper::Nonce => "nonce",
            Tamper::Expired => "expired",
        }
    }
}

pub struct OidcPeer {
    pub issuer: String,
    _process: Process,
}

fn peer_dir() -> PathBuf {
    repo_root().join("tests/peers/oidc-provider")
}

impl OidcPeer {
    /// Starts the provider; `account` is the claims of the user who signs in.
    pub fn start(
        logs: &LogDir,
        redirect_uri: &str,
        account: Value,
        tamper: Tamper,
        conform_id_token_claims: bool,
    ) -> Result<Self> {
        let dir = peer_dir();
        if !dir.join("node_modules/oidc-provider").exists() {
            anyhow::bail!(
                "{} has no node_modules: run `make setup` (npm ci there)",
                dir.display()
            );
        }
        let port = free_port()?;
        let options = json!({
            "redirect_uri": redirect_uri,
            "account": account,
            "tamper": tamper.as_str(),
            "conform_id_token_claims": conform_id_token_claims,
        });
        let mut cmd = Command::new("node");
        cmd.arg("server.mjs")
            .arg(port.to_string())
            .arg(options.to_string())
            .current_dir(&dir);
        let mut process = Process::spawn("oidc-provider", cmd, logs).context("starting node")?;
        let issuer = format!("http://127.0.0.1:{port}");
        // Generous: a suite starts one Node per test at once (module import + an RSA key each),
        // and on 2 loaded cores the last one listened after more than 30 s.
        process.wait_http_ready(
            &format!("{issuer}/.well-known/openid-configuration"),
            Duration::from_secs(90),
        )?;
        Ok(OidcPeer {
            issuer,
            _process: process,
        })
    }
}
