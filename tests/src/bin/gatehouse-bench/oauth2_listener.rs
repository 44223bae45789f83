//! Envoy's native `envoy.filters.http.oauth2` as a benchmark listener: what Envoy Gateway's
//! `SecurityPolicy` OIDC runs. Its own static client at the broker, a real login through it
//! (the harness `Browser`), then every request carries its HMAC-signed cookies.

use anyhow::{bail, Result};
use gatehouse_e2e::Browser;
use serde_json::{json, Value};

pub const CLIENT_ID: &str = "envoy-oauth2";
pub const CLIENT_SECRET: &str = "envoy-oauth2-secret";
pub const CALLBACK_PATH: &str = "/callback";
const TOKEN_SECRET: &str = "envoy-oauth2-token";
const HMAC_SECRET: &str = "envoy-oauth2-hmac";

/// The cookies the filter sets after a login and checks on every request.
const COOKIES: [&str; 5] = [
    "BearerToken",
    "OauthHMAC",
    "OauthExpires",
    "IdToken",
    "RefreshToken",
];

fn callback_url(port: u16) -> String {
    format!("http://127.0.0.1:{port}{CALLBACK_PATH}")
}

/// The `staticClients` entry for the listener on `port`, inserted before
/// `enablePasswordDB` (the standard config's line after its client list).
pub fn add_client(yaml: &mut String, port: u16) -> Result<()> {
    const AFTER_CLIENTS: &str = "enablePasswordDB: true\n";
    if !yaml.contains(AFTER_CLIENTS) {
        bail!("the standard broker config no longer has {AFTER_CLIENTS:?} after its clients");
    }
    let client = format!(
        "- id: {}\n  secret: {}\n  name: Envoy oauth2\n  redirectURIs: [{}]\n{AFTER_CLIENTS}",
        json!(CLIENT_ID),
        json!(CLIENT_SECRET),
        json!(callback_url(port)),
    );
    *yaml = yaml.replacen(AFTER_CLIENTS, &client, 1);
    Ok(())
}

/// The HTTP filter, calling the broker's token endpoint through the `broker` cluster.
pub fn filter(issuer: &str, port: u16) -> Value {
    json!({
        "name": "envoy.filters.http.oauth2",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.oauth2.v3.OAuth2",
            "config": {
                "token_endpoint": {"cluster": "broker", "uri": format!("{issuer}/token"), "timeout": "5s"},
                "authorization_endpoint": format!("{issuer}/auth"),
                "redirect_uri": callback_url(port),
                "redirect_path_matcher": {"path": {"exact": CALLBACK_PATH}},
                "signout_path": {"path": {"exact": "/signout"}},
                "forward_bearer_token": true,
                "auth_scopes": ["openid", "email", "profile", "groups"],
                "credentials": {
                    "client_id": CLIENT_ID,
                    "token_secret": {"name": TOKEN_SECRET},
                    "hmac_secret": {"name": HMAC_SECRET}
                }
            }
        }
    })
}

/// The static secrets the filter names (`static_resources.secrets`).
pub fn secrets() -> Value {
    let secret = |name: &str, value: &str| json!({"name": name, "generic_secret": {"secret": {"inline_string": value}}});
    json!([
        secret(TOKEN_SECRET, CLIENT_SECRET),
        secret(HMAC_SECRET, "bench-hmac-secret-0123456789abcdef")
    ])
}

/// The filter's cookies in the browser's jar after a login, as one `Cookie` header value.
pub fn cookie_header(browser: &Browser) -> Result<String> {
    let parts: Vec<String> = browser
        .jar
        .cookies()
        .iter()
        .filter(|c| COOKIES.contains(&c.name.as_str()))
        .map(|c| format!("{}={}", c.name, c.value))
        .collect();
    let has = |n: &str| parts.iter().any(|p| p.starts_with(&format!("{n}=")));
    if !has("OauthHMAC") || !has("BearerToken") {
        bail!(
            "no oauth2 session cookies after the login: {:?}",
            browser.jar.names()
        );
    }
    Ok(parts.join("; "))
}
