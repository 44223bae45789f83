//! `POST /token/introspect` (RFC 7662), for resource servers: a confidential client asks
//! whether a token is active. It authenticates as at `/token`. A token counts as active for
//! the asking client only: an access token whose audience names it (its own, or a peer's
//! minted for it with Dex's cross-client scope), a refresh token issued to it. Everything
//! else — unknown, expired, spent, forged, another client's — is the same `{"active":false}`,
//! so the endpoint tells nobody which tokens exist.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::client_auth::authenticate;
use super::oauth_error::OAuthError;
use super::sessions;
use super::token::{form_body, storage_error};
use super::AppState;
use crate::random::hash_secret;
use crate::storage::{now, UnixTime};
use crate::token::encode_subject;

/// Our tokens are a few KB at most; longer input is not one of them.
const MAX_TOKEN_LEN: usize = 16 * 1024;

pub async fn introspect(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match handle(&app, &headers, &body).await {
        Ok(answer) => {
            let mut response = Json(answer).into_response();
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(e) => e.into_response(),
    }
}

fn inactive() -> Value {
    json!({"active": false})
}

async fn handle(app: &AppState, headers: &HeaderMap, body: &[u8]) -> Result<Value, OAuthError> {
    let form = form_body(headers, body)?;
    let client = authenticate(app, headers, &form).await?;
    // §2.1: the caller must be authorized; a public client proves nothing about itself.
    if client.public {
        return Err(OAuthError::invalid_client(
            "public clients cannot introspect tokens",
        ));
    }
    let token = form
        .get("token")
        .ok_or_else(|| OAuthError::invalid_request("token is missing"))?;
    if token.len() > MAX_TOKEN_LEN {
        return Ok(inactive());
    }
    // The hint only says where to look first (§2.1); both kinds are recognised by shape.
    let answer = if token.matches('.').count() == 2 {
        access_token(app, &client.id, token).await?
    } else {
        refresh_token(app, &client.id, token).await?
    };
    Ok(answer.unwrap_or_else(inactive))
}

async fn access_token(
    app: &AppState,
    client_id: &str,
    token: &str,
) -> Result<Option<Value>, OAuthError> {
    let Ok(claims) = app.minter.verify_access_token(token) else {
        return Ok(None);
    };
    if !(claims.aud.contains(client_id) || claims.issued_to() == Some(client_id)) {
        tracing::info!(client = %client_id, "introspection: access token of another audience");
        return Ok(None);
    }
    // Its sign-in ended (sign-out, revocation, EndSessions): no longer active, though the
    // signature and `exp` still hold.
    if let Some(sid) = &claims.sid {
        if !sessions::is_live(app, sid).await.map_err(storage_error)? {
            tracing::info!(client = %client_id, "introspection: access token of an ended session");
            return Ok(None);
        }
    }
    let user = &claims.user;
    Ok(Some(without_nulls(json!({
        "active": true,
        "token_type": "Bearer",
        "token_use": "access_token",
        "client_id": claims.issued_to().unwrap_or(client_id),
        "sub": user.sub,
        "iss": claims.iss,
        "aud": claims.aud,
        "exp": claims.exp,
        "iat": claims.iat,
        "nbf": claims.iat,
        "username": user.preferred_username,
        // Dex's `ext`: who the token is about, as far as its scopes allowed.
        "ext": {
            "email": user.email,
            "email_verified": user.email_verified,
            "groups": user.groups,
            "name": user.name,
            "preferred_username": user.preferred_username,
            "federated_claims": user.federated_claims,
        },
    }))))
}

/// Claims the token's scopes left out are omitted, not `null` (RFC 7662 §2.2 members are
/// present with a value or absent).
fn without_nulls(mut value: Value) -> Value {
    if let Value::Object(map) = &mut value {
        map.retain(|_, v| !v.is_null());
        for v in map.values_mut() {
            *v = without_nulls(std::mem::take(v));
        }
    }
    value
}

async fn refresh_token(
    app: &AppState,
    client_id: &str,
    token: &str,
) -> Result<Option<Value>, OAuthError> {
    let Some((id, secret)) = token.split_once('.') else {
        return Ok(None);
    };
    let t: UnixTime = now();
    let Some(found) = app
        .storage
        .live_refresh_token(id, &hash_secret(secret), client_id, t)
        .await
        .map_err(storage_error)?
    else {
        return Ok(None);
    };
    let mut answer = json!({
        "active": true,
        "token_use": "refresh_token",
        "client_id": found.client_id,
        "sub": encode_subject(&found.identity.user_id, &found.connector_id),
        "iss": app.config.issuer.url,
        "scope": found.scopes.join(" "),
        "iat": found.last_used,
    });
    if !found.identity.preferred_username.is_empty() {
        answer["username"] = json!(found.identity.preferred_username);
    }
    // No lifetime configured: the token has no `exp` to report.
    if found.expires_at != UnixTime::MAX {
        answer["exp"] = json!(found.expires_at);
    }
    Ok(Some(answer))
}
