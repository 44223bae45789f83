//! npm `openid-client` as a client sending the broker grants that need no browser
//! (tests/peers/openid-client/grant.mjs): token exchange through its `genericGrantRequest`,
//! client_credentials through its `clientCredentialsGrant`.

use std::process::Command;

use serde_json::{json, Value};

use crate::paths::repo_root;

/// How the client authenticates at the token endpoint.
#[derive(Debug, Clone, Copy)]
pub enum ClientAuth {
    Basic,
    Post,
    /// A public client: its id only.
    None,
}

/// One request: its name in the answer, the grant, and the parameters (pairs, so one may be
/// sent twice).
pub struct GrantRequest<'a> {
    pub name: &'a str,
    /// `token-exchange` or `client_credentials`.
    pub grant: &'a str,
    pub params: Vec<(&'a str, String)>,
}

/// The answers by name (see grant.mjs); panics when node itself fails.
pub fn run_grants(
    issuer: &str,
    client_id: &str,
    secret: &str,
    auth: ClientAuth,
    requests: &[GrantRequest<'_>],
) -> Value {
    let peer = repo_root().join("tests/peers/openid-client");
    assert!(
        peer.join("node_modules/openid-client").exists(),
        "run `make setup`"
    );
    let list: Vec<Value> = requests
        .iter()
        .map(|r| json!({"name": r.name, "grant": r.grant, "params": r.params}))
        .collect();
    let auth = match auth {
        ClientAuth::Basic => "basic",
        ClientAuth::Post => "post",
        ClientAuth::None => "none",
    };
    let out = Command::new("node")
        .arg("grant.mjs")
        .args(["--issuer", issuer, "--client-id", client_id, "--auth", auth])
        .env("GRANT_CLIENT_SECRET", secret)
        .env("GRANT_REQUESTS", Value::Array(list).to_string())
        .current_dir(peer)
        .output()
        .expect("running node");
    assert!(
        out.status.success(),
        "grant client failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("grant.mjs prints JSON")
}
