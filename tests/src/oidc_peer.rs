//! npm `oidc-provider` (tests/peers/oidc-provider) as a real upstream OpenID provider for the
//! broker's `oidc` connector: one client, one account, sign-in without forms, and optionally
//! one claim of its ID tokens changed (re-signed with its own key) for refusal tests.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};

use crate::browser::Browser;
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
    pub fn as_str(self) -> &'static str {
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
    /// The broker's `/callback`, the only redirect URI of the provider's client.
    redirect_uri: String,
    _process: Process,
}

/// A fixed PKCE verifier for the provider (which requires PKCE).
const VERIFIER: &str = "gatehouse-peer-verifier-0123456789-abcdefghij";

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
            redirect_uri: redirect_uri.to_string(),
            _process: process,
        })
    }

    /// Tokens of the provider's client (the broker's connector client) for the account, as an
    /// app sharing that client would hold them: a real code flow with PKCE, the browser
    /// stopped at the redirect to the broker's callback and the code redeemed here, the ID
    /// token tampered with as `tamper` says. The token response's JSON.
    pub fn tokens(&self, scope: &str, tamper: Tamper) -> Result<Value> {
        use sha2::Digest;
        let challenge = URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(VERIFIER.as_bytes()));
        let mut url = url::Url::parse(&format!("{}/auth", self.issuer))?;
        url.query_pairs_mut()
            .append_pair("client_id", CLIENT_ID)
            .append_pair("redirect_uri", &self.redirect_uri)
            .append_pair("response_type", "code")
            .append_pair("scope", scope)
            .append_pair("state", "peer-state")
            .append_pair("nonce", "peer-nonce")
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256");
        let mut browser = Browser::new()?;
        let first = browser.get(url.as_str())?;
        let back = browser.follow_until(first, |p| {
            p.location()
                .is_some_and(|l| l.as_str().starts_with(&self.redirect_uri))
        })?;
        let Some(code) = back.location().and_then(|l| {
            l.query_pairs()
                .find(|(k, _)| k == "code")
                .map(|(_, v)| v.into_owned())
        }) else {
            bail!("the provider sent no code:\n{}", browser.history_text());
        };
        let response = reqwest::blocking::Client::new()
            .post(format!("{}/token", self.issuer))
            .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
            .header("x-gatehouse-tamper", tamper.as_str())
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", self.redirect_uri.as_str()),
                ("code_verifier", VERIFIER),
            ])
            .send()
            .context("the provider's token endpoint")?;
        let status = response.status();
        let body: Value = response.json()?;
        if !status.is_success() {
            bail!("the provider refused the code: {status} {body}");
        }
        Ok(body)
    }
}
