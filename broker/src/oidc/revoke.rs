//! `POST /token/revoke` (RFC 7009, which Dex lacks): a client ends one of its refresh tokens,
//! and with it every token rotated from the same sign-in (its family). The client authenticates
//! as at `/token`. Unknown, expired, already revoked or other clients' tokens get the same empty
//! 200 (§2.2), so the endpoint tells nobody which tokens exist. Access tokens are signed JWTs
//! that cannot be recalled: presenting one is a no-op with that 200 too, and they expire.
//! Revoking a refresh token ends its sign-in session too (issue 17): gateways drop it.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::client_auth::authenticate;
use super::oauth_error::OAuthError;
use super::refresh_policy::refresh_policy;
use super::sessions;
use super::token::{form_body, storage_error};
use super::AppState;
use crate::random::hash_secret;
use crate::storage::{now, EndCause, RefreshUse, SessionSelector};

pub async fn revoke(State(app): State<Arc<AppState>>, headers: HeaderMap, body: Bytes) -> Response {
    match handle(&app, &headers, &body).await {
        Ok(()) => {
            let mut response = StatusCode::OK.into_response();
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(e) => e.into_response(),
    }
}

async fn handle(app: &AppState, headers: &HeaderMap, body: &[u8]) -> Result<(), OAuthError> {
    let form = form_body(headers, body)?;
    let client = authenticate(app, headers, &form).await?;
    let presented = form
        .get("token")
        .ok_or_else(|| OAuthError::invalid_request("token is missing"))?;
    // §2.1: the hint is only a hint; an unknown value is refused, as the RFC's error list says.
    match form.get("token_type_hint") {
        None | Some("refresh_token") | Some("access_token") => {}
        Some(_) => {
            return Err(OAuthError::unsupported_token_type(
                "token_type_hint must be refresh_token or access_token",
            ))
        }
    }
    let Some((id, secret)) = presented.split_once('.') else {
        return Ok(());
    };
    // Finding the token checks its secret and client like a refresh does; whatever that use
    // changes is removed with the family right after.
    let used = app
        .storage
        .use_refresh_token(
            id,
            &hash_secret(secret),
            &client.id,
            &refresh_policy(app),
            now(),
        )
        .await
        .map_err(storage_error)?;
    let family = match used {
        RefreshUse::Valid(token) => token.family,
        RefreshUse::RecentlyRotated(token) => token.family,
        // Reuse already revoked the family in storage; the rest name no live token.
        RefreshUse::Reused | RefreshUse::Invalid | RefreshUse::Expired => return Ok(()),
    };
    // The family is the sign-in: its session ends with it, at every gateway (issue 17).
    let ended = sessions::end(app, SessionSelector::Family(&family), EndCause::Revoked)
        .await
        .map_err(storage_error)?;
    let revoked = app
        .storage
        .revoke_refresh_family(&family)
        .await
        .map_err(storage_error)?;
    tracing::info!(client = %client.id, revoked, sessions = ended.len(), "refresh token revoked by its client");
    Ok(())
}
