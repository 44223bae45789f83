//! Tokens straight from the broker's token endpoint (password grant), for bearer-token
//! tests: the broker must run with `broker_yaml::enable_password_grant`.

use anyhow::{bail, Context, Result};
use base64::Engine;

use crate::broker::TestUser;

/// The tokens of one token response (secrets: no Debug).
pub struct Tokens {
    pub access_token: String,
    pub id_token: String,
    /// Only with the `offline_access` scope.
    pub refresh_token: Option<String>,
}

/// `grant_type=password` for `user` at `{issuer}/token`, as client `client_id`.
pub fn password_grant(
    issuer: &str,
    client_id: &str,
    client_secret: &str,
    user: &TestUser,
) -> Result<Tokens> {
    password_grant_for(
        issuer,
        (client_id, client_secret),
        user,
        "openid email profile groups",
    )
}

/// [`password_grant`] with `offline_access` too: the tokens of one sign-in session, its
/// refresh token included.
pub fn offline_password_grant(
    issuer: &str,
    client_id: &str,
    client_secret: &str,
    user: &TestUser,
) -> Result<Tokens> {
    password_grant_for(
        issuer,
        (client_id, client_secret),
        user,
        "openid email profile groups offline_access",
    )
}

/// RFC 7009 revocation of a refresh token at `{issuer}/token/revoke`: the broker ends the
/// token's sign-in session (what the filter's sign-out does).
pub fn revoke_refresh_token(
    issuer: &str,
    client_id: &str,
    client_secret: &str,
    token: &str,
) -> Result<()> {
    let url = format!("{issuer}/token/revoke");
    let response = reqwest::blocking::Client::new()
        .post(&url)
        .basic_auth(client_id, Some(client_secret))
        .form(&[("token", token), ("token_type_hint", "refresh_token")])
        .send()
        .with_context(|| format!("POST {url}"))?;
    if !response.status().is_success() {
        bail!("POST {url}: {}", response.status());
    }
    Ok(())
}

fn password_grant_for(
    issuer: &str,
    (client_id, client_secret): (&str, &str),
    user: &TestUser,
    scope: &str,
) -> Result<Tokens> {
    let basic = base64::engine::general_purpose::STANDARD.encode(format!(
        "{}:{}",
        form_encode(client_id),
        form_encode(client_secret)
    ));
    let body = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", "password")
        .append_pair("username", user.email)
        .append_pair("password", user.password)
        .append_pair("scope", scope)
        .finish();
    let url = format!("{issuer}/token");
    let response = reqwest::blocking::Client::new()
        .post(&url)
        .header("authorization", format!("Basic {basic}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .with_context(|| format!("POST {url}"))?;
    let status = response.status();
    let text = response.text().context("reading the token response")?;
    if !status.is_success() {
        bail!("POST {url}: {status}: {text}");
    }
    let json: serde_json::Value =
        serde_json::from_str(&text).context("the token response is not JSON")?;
    let field = |name: &str| {
        json[name]
            .as_str()
            .map(str::to_string)
            .with_context(|| format!("the token response has no {name}"))
    };
    Ok(Tokens {
        access_token: field("access_token")?,
        id_token: field("id_token")?,
        refresh_token: json["refresh_token"].as_str().map(str::to_string),
    })
}

fn form_encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// The decoded payload of a JWT (no signature check: for assertions about claims).
pub fn jwt_claims(token: &str) -> Result<serde_json::Value> {
    let payload = token
        .split('.')
        .nth(1)
        .context("not a JWT: no payload part")?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .context("the JWT payload is not base64url")?;
    serde_json::from_slice(&bytes).context("the JWT payload is not JSON")
}
