//! `POST /token`: authorization_code (with PKCE), refresh_token (rotating), the device grant,
//! the resource-owner password grant (with `oauth2.passwordConnector`), token exchange
//! (RFC 8693) and client_credentials, each only when `oauth2.grantTypes` enables it. One file
//! per grant; this one parses the request, picks the grant and issues the response they end in.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

use super::client_address::ClientAddress;
use super::client_auth::authenticate;
use super::oauth_error::OAuthError;
use super::params::Params;
use super::refresh_policy::refresh_policy;
use super::AppState;
use crate::config::{Client, GrantType};
use crate::identity::Identity;
use crate::random::{hash_secret, random_token};
use crate::storage::{RefreshToken, UnixTime};
use crate::token::Grant;

mod client_credentials;
mod code;
mod device;
mod exchange;
mod password;
mod refresh;

use client_credentials::client_credentials;
use code::authorization_code;
use device::device_code;
use exchange::token_exchange;
use password::password;
use refresh::refresh_token;

#[derive(Serialize)]
struct TokenResponse {
    /// For token exchange, the issued token whatever its type (RFC 8693 §2.2.1).
    access_token: String,
    /// `Bearer`, or RFC 8693's `N_A` for an exchanged token that is not an access token.
    token_type: &'static str,
    /// RFC 8693 only.
    #[serde(skip_serializing_if = "Option::is_none")]
    issued_token_type: Option<&'static str>,
    expires_in: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    id_token: Option<String>,
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
    respond(handle(&app, client, &headers, &body, None).await)
}

/// `POST /device/token`: older Dex's polling endpoint, the token endpoint for the device grant only.
pub async fn device_token(
    State(app): State<Arc<AppState>>,
    client: ClientAddress,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    respond(handle(&app, client, &headers, &body, Some(GrantType::DeviceCode)).await)
}

fn respond(result: Result<TokenResponse, OAuthError>) -> Response {
    match result {
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

/// A form-encoded body (a missing Content-Type is tolerated), each parameter at most once.
pub(super) fn form_body(headers: &HeaderMap, body: &[u8]) -> Result<Params, OAuthError> {
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
    Params::parse(body)
        .map_err(|name| OAuthError::invalid_request(format!("parameter {name:?} sent twice")))
}

async fn handle(
    app: &AppState,
    address: ClientAddress,
    headers: &HeaderMap,
    body: &[u8],
    only: Option<GrantType>,
) -> Result<TokenResponse, OAuthError> {
    let form = form_body(headers, body)?;
    let client = authenticate(app, headers, &form).await?;
    let client = &client;
    let grants = &app.config.oauth2.grant_types;
    let requested = match form.get("grant_type") {
        Some(name) => GrantType::named(name)
            .filter(|g| grants.enabled(*g) && only.is_none_or(|o| o == *g))
            .ok_or_else(|| {
                OAuthError::unsupported_grant_type(format!("grant_type {name:?} is not supported"))
            })?,
        None => return Err(OAuthError::invalid_request("grant_type is missing")),
    };
    let issued = match requested {
        GrantType::AuthorizationCode => authorization_code(app, client, &form).await,
        GrantType::RefreshToken => refresh_token(app, client, &form).await,
        GrantType::Password => password(app, client, address, &form).await,
        GrantType::DeviceCode => device_code(app, client, &form).await,
        GrantType::TokenExchange => token_exchange(app, client, &form).await,
        GrantType::ClientCredentials => client_credentials(app, client, &form).await,
    };
    // A grant's flow writes (a redeemed code, a session, a refresh token) reach the disk before
    // the client hears of them: `issue` syncs an answer with tokens, this a refusal (a spent
    // code stays spent).
    if issued.is_err() {
        app.storage.sync().await.map_err(storage_error)?;
    }
    let grant_type = requested.as_str();
    if issued.is_ok() {
        app.metrics.token_issued(grant_type);
    }
    issued
}

/// Where the refresh token of a response comes from.
enum RefreshOrigin<'a> {
    /// Mint a new one in this family (chain started at `created_at`).
    New {
        family: String,
        created_at: UnixTime,
    },
    /// Rotation is off: hand back the token the client presented.
    Keep(String),
    /// Spend the presented token (`id`, `secret_hash`), found live as `old`, and store its
    /// successor in the same atomic step ([`crate::storage::Storage::rotate_refresh_token`]).
    Rotate {
        id: &'a str,
        secret_hash: &'a str,
        old: &'a RefreshToken,
    },
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
    origin: RefreshOrigin<'a>,
    /// The sign-in session (`None` only for refresh tokens from before sessions existed).
    sid: Option<&'a str>,
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
        sid: what.sid,
    };
    // No refresh token the refresh grant could not take back (off, or not served by the
    // connector: its grantTypes).
    let wants_refresh = what.refresh_scopes.iter().any(|s| s == "offline_access")
        && app
            .config
            .oauth2
            .grant_types
            .enabled(GrantType::RefreshToken)
        && app
            .config
            .connector_serves(what.connector_id, GrantType::RefreshToken);
    let refresh_token = match (wants_refresh, &what.origin) {
        (false, RefreshOrigin::Rotate { .. }) => {
            // The refresh grant takes this path only for tokens that can be given back.
            tracing::error!("a rotation without a successor");
            return Err(OAuthError::server_error());
        }
        (false, _) => None,
        (true, RefreshOrigin::Keep(token)) => Some(token.clone()),
        (true, RefreshOrigin::New { family, created_at }) => {
            let (record, token) = successor(app, client, &what, family.clone(), *created_at, t);
            app.storage
                .create_refresh_token(&record)
                .await
                .map_err(storage_error)?;
            if let Some(sid) = what.sid {
                app.storage
                    .extend_session(sid, record.expires_at)
                    .await
                    .map_err(storage_error)?;
            }
            Some(token)
        }
        (
            true,
            RefreshOrigin::Rotate {
                id,
                secret_hash,
                old,
            },
        ) => {
            let (record, token) =
                successor(app, client, &what, old.family.clone(), old.created_at, t);
            let used = app
                .storage
                .rotate_refresh_token(
                    id,
                    secret_hash,
                    &client.id,
                    &refresh_policy(app),
                    t,
                    &record,
                )
                .await
                .map_err(storage_error)?;
            refresh::accepted(app, client, used)?;
            Some(token)
        }
    };
    // The writes are done: their sync (SQLite's group commit) runs while the tokens are signed.
    let (synced, tokens) = tokio::join!(app.storage.sync(), async { app.minter.issue(&grant, t) });
    synced.map_err(storage_error)?;
    let tokens = tokens.map_err(|e| {
        tracing::error!(error = %e, "signing tokens failed");
        OAuthError::server_error()
    })?;
    Ok(TokenResponse {
        access_token: tokens.access_token,
        token_type: "Bearer",
        issued_token_type: None,
        expires_in: tokens.expires_in,
        id_token: Some(tokens.id_token),
        refresh_token,
        scope: what.scopes.join(" "),
    })
}

/// A new refresh token in `family` for this issuance: its record and what the client gets.
fn successor(
    app: &AppState,
    client: &Client,
    what: &Issuance<'_>,
    family: String,
    created_at: UnixTime,
    t: UnixTime,
) -> (RefreshToken, String) {
    let id = random_token();
    let secret = random_token();
    let record = RefreshToken {
        id: id.clone(),
        secret_hash: hash_secret(&secret),
        family,
        sid: what.sid.map(str::to_string),
        client_id: client.id.clone(),
        scopes: what.refresh_scopes.to_vec(),
        nonce: what.nonce.map(str::to_string),
        connector_id: what.connector_id.to_string(),
        identity: what.identity.clone(),
        created_at,
        last_used: t,
        expires_at: refresh_policy(app).expires_at(created_at, t),
    };
    (record, format!("{id}.{secret}"))
}

pub(super) fn storage_error(e: crate::storage::StorageError) -> OAuthError {
    tracing::error!(error = %e, "storage failed at the token endpoint");
    if e.is_unavailable() {
        OAuthError::temporarily_unavailable("storage is unavailable; try again")
    } else {
        OAuthError::server_error()
    }
}
