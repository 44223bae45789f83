//! `POST /token`: authorization_code (with PKCE), refresh_token (rotating), and — when
//! `oauth2.passwordConnector` is set — the resource-owner password grant.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

use super::client_address::ClientAddress;
use super::client_auth::authenticate;
use super::login_throttle::{self, Refusal};
use super::oauth_error::OAuthError;
use super::params::Params;
use super::scopes::parse_scopes;
use super::{pkce, AppState};
use crate::config::Client;
use crate::connector::{ConnectorError, Identity};
use crate::random::{hash_secret, random_token};
use crate::storage::{now, CodeRedemption, RefreshPolicy, RefreshToken, RefreshUse, UnixTime};
use crate::token::Grant;

#[derive(Serialize)]
struct TokenResponse {
    access_token: String,
    token_type: &'static str,
    expires_in: i64,
    id_token: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
    scope: String,
}

pub async fn token(
    State(app): State<Arc<AppState>>,
    client: ClientAddress,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match handle(&app, client, &headers, &body).await {
        Ok(r) => {
            let mut response = Json(r).into_response();
            let h = response.headers_mut();
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
            response
        }
        Err(e) => e.into_response(),
    }
}

async fn handle(
    app: &AppState,
    address: ClientAddress,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<TokenResponse, OAuthError> {
    let form_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if form_type == Some(false) {
        return Err(OAuthError::invalid_request(
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    let form = Params::parse(body)
        .map_err(|name| OAuthError::invalid_request(format!("parameter {name:?} sent twice")))?;
    let client = authenticate(app, headers, &form).await?;
    let client = &client;
    let (grant_type, issued) = match form.get("grant_type") {
        Some("authorization_code") => (
            "authorization_code",
            authorization_code(app, client, &form).await,
        ),
        Some("refresh_token") => ("refresh_token", refresh_token(app, client, &form).await),
        Some("password") if app.config.oauth2.password_connector.is_some() => {
            ("password", password(app, client, address, &form).await)
        }
        Some(other) => {
            return Err(OAuthError::unsupported_grant_type(format!(
                "grant_type {other:?} is not supported"
            )))
        }
        None => return Err(OAuthError::invalid_request("grant_type is missing")),
    };
    if issued.is_ok() {
        app.metrics.token_issued(grant_type);
    }
    issued
}

async fn authorization_code(
    app: &AppState,
    client: &Client,
    form: &Params,
) -> Result<TokenResponse, OAuthError> {
    let code = form
        .get("code")
        .ok_or_else(|| OAuthError::invalid_request("code is missing"))?;
    let code_hash = hash_secret(code);
    let t = now();
    let redeemed = app
        .storage
        .redeem_auth_code(&code_hash, t)
        .await
        .map_err(storage_error)?;
    let code = match redeemed {
        CodeRedemption::Redeemed(c) => c,
        CodeRedemption::Replayed => {
            // RFC 6749 §4.1.2: a reused code may mean it was stolen; revoke what it produced.
            let revoked = app
                .storage
                .revoke_refresh_family(&code_hash)
                .await
                .map_err(storage_error)?;
            tracing::warn!(client = %client.id, revoked, "authorization code replayed; refresh tokens revoked");
            return Err(OAuthError::invalid_grant("the code was already used"));
        }
        CodeRedemption::Expired => return Err(OAuthError::invalid_grant("the code has expired")),
        CodeRedemption::Unknown => return Err(OAuthError::invalid_grant("the code is invalid")),
    };
    // The code is spent from here on, whatever follows: a wrong verifier cannot be retried.
    if code.client_id != client.id {
        return Err(OAuthError::invalid_grant(
            "the code was issued to another client",
        ));
    }
    if form.get("redirect_uri") != Some(code.redirect_uri.as_str()) {
        return Err(OAuthError::invalid_grant(
            "redirect_uri does not match the authorization request",
        ));
    }
    match (&code.pkce, form.get("code_verifier")) {
        (Some(challenge), Some(verifier)) if pkce::verify(challenge, verifier) => {}
        (Some(_), Some(_)) => {
            return Err(OAuthError::invalid_grant(
                "code_verifier does not match the code_challenge",
            ))
        }
        (Some(_), None) => return Err(OAuthError::invalid_grant("code_verifier is missing")),
        (None, Some(_)) => {
            return Err(OAuthError::invalid_grant(
                "code_verifier sent but no code_challenge was",
            ))
        }
        (None, None) => {}
    }
    let what = Issuance {
        scopes: &code.scopes,
        refresh_scopes: &code.scopes,
        nonce: code.nonce.as_deref(),
        connector_id: &code.connector_id,
        identity: &code.identity,
        origin: RefreshOrigin::New {
            family: code_hash,
            created_at: t,
        },
    };
    issue(app, client, what, t).await
}

async fn refresh_token(
    app: &AppState,
    client: &Client,
    form: &Params,
) -> Result<TokenResponse, OAuthError> {
    let presented = form
        .get("refresh_token")
        .ok_or_else(|| OAuthError::invalid_request("refresh_token is missing"))?;
    let (id, secret) = presented
        .split_once('.')
        .ok_or_else(|| OAuthError::invalid_grant("the refresh token is invalid"))?;
    let policy = refresh_policy(app);
    let t = now();
    let used = app
        .storage
        .use_refresh_token(id, &hash_secret(secret), &client.id, &policy, t)
        .await
        .map_err(storage_error)?;
    let old = match used {
        RefreshUse::Valid(token) => token,
        RefreshUse::Invalid => {
            return Err(OAuthError::invalid_grant("the refresh token is invalid"))
        }
        RefreshUse::Expired => {
            return Err(OAuthError::invalid_grant("the refresh token has expired"))
        }
        RefreshUse::Reused => {
            app.metrics.refresh_token_reused();
            tracing::warn!(client = %client.id, "rotated refresh token reused; its family is revoked");
            return Err(OAuthError::invalid_grant(
                "the refresh token was already used",
            ));
        }
        RefreshUse::RecentlyRotated(token) => {
            // Within reuseInterval: most likely the client's own concurrent refresh, which
            // won. As Dex does, the reuse is allowed: it gets a sibling in the same family.
            tracing::info!(client = %client.id, "refresh token presented again within the reuse interval");
            token
        }
    };
    let scopes = match form.get("scope") {
        None => old.scopes.clone(),
        Some(text) => {
            let asked = parse_scopes(text).map_err(OAuthError::invalid_scope)?;
            if let Some(extra) = asked.iter().find(|s| !old.scopes.contains(s)) {
                return Err(OAuthError::invalid_scope(format!(
                    "scope {extra:?} was not granted originally"
                )));
            }
            asked
        }
    };
    // Ask the connector again, so removed users and changed groups take effect.
    let connector = app
        .connectors
        .get(&old.connector_id)
        .ok_or_else(|| OAuthError::invalid_grant("the connector of this session is gone"))?;
    let identity = match connector.refresh() {
        Some(r) => r
            .refresh(&old.identity)
            .await
            .map_err(refresh_error)?
            .ok_or_else(|| OAuthError::invalid_grant("the user no longer exists"))?,
        None => old.identity.clone(),
    };
    let origin = if policy.rotate {
        RefreshOrigin::New {
            family: old.family.clone(),
            created_at: old.created_at,
        }
    } else {
        RefreshOrigin::Keep(presented.to_string())
    };
    let what = Issuance {
        scopes: &scopes,
        refresh_scopes: &old.scopes,
        nonce: None,
        connector_id: &old.connector_id,
        identity: &identity,
        origin,
    };
    issue(app, client, what, t).await
}

async fn password(
    app: &AppState,
    client: &Client,
    address: ClientAddress,
    form: &Params,
) -> Result<TokenResponse, OAuthError> {
    let connector_id = app
        .config
        .oauth2
        .password_connector
        .as_deref()
        .unwrap_or_default();
    let connector = app
        .connectors
        .get(connector_id)
        .and_then(|c| c.password().map(|p| (c.id().to_string(), p)));
    let Some((connector_id, password_connector)) = connector else {
        return Err(OAuthError::unsupported_grant_type(
            "the password grant is not available",
        ));
    };
    let username = form
        .get("username")
        .ok_or_else(|| OAuthError::invalid_request("username is missing"))?;
    let password = form
        .get("password")
        .ok_or_else(|| OAuthError::invalid_request("password is missing"))?;
    let scopes =
        parse_scopes(form.get("scope").unwrap_or("openid")).map_err(OAuthError::invalid_scope)?;
    if !scopes.iter().any(|s| s == "openid") {
        return Err(OAuthError::invalid_scope("the openid scope is required"));
    }
    // The same throttling as the login form: refused before any bcrypt.
    let attempt = login_throttle::begin(app, &connector_id, username, address.0)
        .await
        .map_err(|refusal| match refusal {
            Refusal::Storage(e) => storage_error(e),
            other => OAuthError::too_many_attempts(other.retry_after()),
        })?;
    let checked = password_connector.login(username, password).await;
    attempt.end(app, login_throttle::outcome(&checked)).await;
    let identity = checked.map_err(|e| match e {
        ConnectorError::Busy => OAuthError::temporarily_unavailable(e.to_string()),
        // The reason (a directory's error) goes to the log, not to the client.
        e => {
            tracing::error!(connector = %connector_id, error = %e, "password grant: the check failed");
            OAuthError::temporarily_unavailable("sign-in is unavailable; try again")
        }
    })?;
    app.metrics.login(&connector_id, identity.is_some());
    let identity =
        identity.ok_or_else(|| OAuthError::invalid_grant("invalid username or password"))?;
    let t = now();
    let what = Issuance {
        scopes: &scopes,
        refresh_scopes: &scopes,
        nonce: None,
        connector_id: &connector_id,
        identity: &identity,
        origin: RefreshOrigin::New {
            family: random_token(),
            created_at: t,
        },
    };
    issue(app, client, what, t).await
}

/// Where the refresh token of a response comes from.
enum RefreshOrigin {
    /// Mint a new one in this family (chain started at `created_at`).
    New {
        family: String,
        created_at: UnixTime,
    },
    /// Rotation is off: hand back the token the client presented.
    Keep(String),
}

/// What one token response is made of.
struct Issuance<'a> {
    /// Scopes of the tokens in this response.
    scopes: &'a [String],
    /// Scopes the refresh token keeps (may be wider than a narrowed refresh request).
    refresh_scopes: &'a [String],
    nonce: Option<&'a str>,
    connector_id: &'a str,
    identity: &'a Identity,
    origin: RefreshOrigin,
}

async fn issue(
    app: &AppState,
    client: &Client,
    what: Issuance<'_>,
    t: UnixTime,
) -> Result<TokenResponse, OAuthError> {
    let grant = Grant {
        client_id: &client.id,
        connector_id: what.connector_id,
        identity: what.identity,
        scopes: what.scopes,
        nonce: what.nonce,
    };
    let tokens = app.minter.issue(&grant, t).map_err(|e| {
        tracing::error!(error = %e, "signing tokens failed");
        OAuthError::server_error()
    })?;
    let wants_refresh = what.refresh_scopes.iter().any(|s| s == "offline_access");
    let refresh_token = match (wants_refresh, what.origin) {
        (false, _) => None,
        (true, RefreshOrigin::Keep(token)) => Some(token),
        (true, RefreshOrigin::New { family, created_at }) => {
            let policy = refresh_policy(app);
            let id = random_token();
            let secret = random_token();
            let record = RefreshToken {
                id: id.clone(),
                secret_hash: hash_secret(&secret),
                family,
                client_id: client.id.clone(),
                scopes: what.refresh_scopes.to_vec(),
                nonce: what.nonce.map(str::to_string),
                connector_id: what.connector_id.to_string(),
                identity: what.identity.clone(),
                created_at,
                last_used: t,
                expires_at: policy.expires_at(created_at, t),
            };
            app.storage
                .create_refresh_token(&record)
                .await
                .map_err(storage_error)?;
            Some(format!("{id}.{secret}"))
        }
    };
    Ok(TokenResponse {
        access_token: tokens.access_token,
        token_type: "Bearer",
        expires_in: tokens.expires_in,
        id_token: tokens.id_token,
        refresh_token,
        scope: what.scopes.join(" "),
    })
}

/// A connector that refuses a refresh ends the session; one that cannot answer is a server error.
fn refresh_error(e: ConnectorError) -> OAuthError {
    match e {
        ConnectorError::NotAllowed(why) => {
            tracing::info!(reason = %why, "refresh refused: user no longer in an allowed group");
            OAuthError::invalid_grant("the user is no longer allowed to sign in")
        }
        ConnectorError::Upstream(why) => {
            tracing::warn!(error = %why, "upstream refused the refresh");
            OAuthError::invalid_grant("the upstream provider refused the refresh")
        }
        ConnectorError::Busy => OAuthError::temporarily_unavailable("try again"),
        ConnectorError::Unavailable(why) => {
            tracing::error!(error = %why, "refresh unavailable: the upstream could not be asked");
            OAuthError::temporarily_unavailable("the upstream provider is unavailable; try again")
        }
        ConnectorError::Internal(why) => {
            tracing::error!(error = %why, "connector refresh failed");
            OAuthError::server_error()
        }
    }
}

fn refresh_policy(app: &AppState) -> RefreshPolicy {
    let r = &app.config.expiry.refresh_tokens;
    RefreshPolicy {
        rotate: !r.disable_rotation,
        idle_secs: r.valid_if_not_used_for.map(|d| d.as_secs() as i64),
        absolute_secs: r.absolute_lifetime.map(|d| d.as_secs() as i64),
        reuse_interval_secs: r.reuse_interval.as_secs() as i64,
    }
}

fn storage_error(e: crate::storage::StorageError) -> OAuthError {
    tracing::error!(error = %e, "storage failed at the token endpoint");
    if e.is_unavailable() {
        OAuthError::temporarily_unavailable("storage is unavailable; try again")
    } else {
        OAuthError::server_error()
    }
}
