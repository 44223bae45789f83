//! `POST /device/code` (RFC 8628 §3.1–3.2): the device authorization request. The client
//! authenticates as at the token endpoint (public clients send their id alone).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

use super::{user_code, INTERVAL_SECS};
use crate::config::PkceMethod;
use crate::oidc::client_address::{throttle_key, ClientAddress};
use crate::oidc::client_auth::authenticate;
use crate::oidc::login_throttle::AUTH_REQUESTS_PER_MINUTE;
use crate::oidc::oauth_error::OAuthError;
use crate::oidc::params::Params;
use crate::oidc::scopes::{parse_scopes, refused_peers};
use crate::oidc::token::{form_body, storage_error};
use crate::oidc::{pkce, AppState};
use crate::random::{hash_secret, random_token};
use crate::storage::{now, DeviceDecision, DeviceRequest, PkceChallenge, StorageError};

#[derive(Serialize)]
struct DeviceAuthorization {
    device_code: String,
    user_code: String,
    verification_uri: String,
    verification_uri_complete: String,
    expires_in: i64,
    interval: i64,
}

pub async fn device_code(
    State(app): State<Arc<AppState>>,
    address: ClientAddress,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match handle(&app, address, &headers, &body).await {
        Ok(r) => {
            let mut response = Json(r).into_response();
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
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
) -> Result<DeviceAuthorization, OAuthError> {
    let form = form_body(headers, body)?;
    let client = authenticate(app, headers, &form).await?;
    // Dex's default when no scope is sent; an ID token always needs openid.
    let scopes =
        parse_scopes(form.get("scope").unwrap_or("openid")).map_err(OAuthError::invalid_scope)?;
    if !scopes.iter().any(|s| s == "openid") {
        return Err(OAuthError::invalid_scope("the openid scope is required"));
    }
    if let Some(refused) = refused_peers(app, &client.id, &scopes)
        .await
        .map_err(storage_error)?
    {
        return Err(OAuthError::invalid_scope(refused));
    }
    let pkce = challenge(app, &form)?;
    // Each request stores a row before anyone signed in: bounded per client address, as /auth.
    if let Some(ip) = address.0 {
        let key = format!("device:{}", hash_secret(&throttle_key(ip)));
        let admitted = app
            .storage
            .count_in_window(&key, AUTH_REQUESTS_PER_MINUTE, 60, now())
            .await
            .map_err(storage_error)?;
        if !admitted {
            return Err(OAuthError::rate_limited(60));
        }
    }
    let t = now();
    let lifetime = app.config.expiry.device_requests.as_secs() as i64;
    // A user code may collide with a live one (they are short): draw again.
    for _ in 0..5 {
        let device_code = random_token();
        let user_code = user_code::generate();
        let request = DeviceRequest {
            device_code_hash: hash_secret(&device_code),
            user_code_hash: hash_secret(&user_code.replace('-', "")),
            client_id: client.id.clone(),
            scopes: scopes.clone(),
            pkce: pkce.clone(),
            expires_at: t.saturating_add(lifetime),
            interval_secs: INTERVAL_SECS,
            last_poll_ms: t.saturating_mul(1000),
            decision: DeviceDecision::Pending,
        };
        match app.storage.create_device_request(&request).await {
            Ok(()) => {
                tracing::info!(client = %client.id, "device authorization started");
                let verification_uri = app.config.issuer.endpoint("/device");
                let complete = format!(
                    "{verification_uri}?user_code={}",
                    form_urlencoded::byte_serialize(user_code.as_bytes()).collect::<String>()
                );
                return Ok(DeviceAuthorization {
                    device_code,
                    user_code,
                    verification_uri,
                    verification_uri_complete: complete,
                    expires_in: lifetime,
                    interval: INTERVAL_SECS,
                });
            }
            Err(StorageError::AlreadyExists) => continue,
            Err(e) => return Err(storage_error(e)),
        }
    }
    tracing::error!("no free user code after 5 draws");
    Err(OAuthError::server_error())
}

/// An optional PKCE challenge (Dex accepts one here), checked as at /auth.
fn challenge(app: &AppState, form: &Params) -> Result<Option<PkceChallenge>, OAuthError> {
    match (
        form.get("code_challenge"),
        form.get("code_challenge_method"),
    ) {
        (None, None) => Ok(None),
        (None, Some(_)) => Err(OAuthError::invalid_request(
            "code_challenge_method without code_challenge",
        )),
        (Some(challenge), method) => {
            let method = method.unwrap_or("plain");
            let allowed = PkceMethod::parse(method)
                .is_some_and(|m| app.config.oauth2.pkce_methods.contains(&m));
            if !allowed {
                return Err(OAuthError::invalid_request(format!(
                    "code_challenge_method {method:?} is not supported; use S256"
                )));
            }
            if !pkce::well_formed(challenge) {
                return Err(OAuthError::invalid_request("code_challenge is malformed"));
            }
            Ok(Some(PkceChallenge {
                challenge: challenge.to_string(),
                method: method.to_string(),
            }))
        }
    }
}
