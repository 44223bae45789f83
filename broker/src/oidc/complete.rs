//! The end of a browser sign-in: issue a one-time code and send the user back to the client.

use axum::http::StatusCode;
use axum::response::Response;

use super::redirect::to_client;
use super::AppState;
use crate::config::AUTH_CODE_LIFETIME;
use crate::random::{hash_secret, random_token};
use crate::storage::{now, AuthCode};
use crate::web::{error_page, storage_error_page};

/// Takes the (signed-in) auth request, so it completes at most once, and redirects with a code.
pub async fn issue_code(app: &AppState, request_id: &str) -> Response {
    let t = now();
    let request = match app.storage.take_auth_request(request_id, t).await {
        Ok(Some(r)) => r,
        Ok(None) => return expired(),
        Err(e) => return storage_error_page(&e, "taking auth request"),
    };
    let (Some(identity), Some(connector_id)) = (request.identity, request.connector_id) else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "Not signed in",
            "Sign in before granting access.",
        );
    };
    let code = random_token();
    let record = AuthCode {
        code_hash: hash_secret(&code),
        client_id: request.client_id,
        redirect_uri: request.redirect_uri.clone(),
        scopes: request.scopes,
        nonce: request.nonce,
        pkce: request.pkce,
        connector_id,
        identity,
        expires_at: t.saturating_add(AUTH_CODE_LIFETIME.as_secs() as i64),
    };
    if let Err(e) = app.storage.create_auth_code(&record).await {
        return storage_error_page(&e, "storing auth code");
    }
    let mut params = vec![("code", code.as_str())];
    if let Some(s) = request.state.as_deref() {
        params.push(("state", s));
    }
    to_client(&request.redirect_uri, &params)
}

pub fn expired() -> Response {
    error_page(
        StatusCode::BAD_REQUEST,
        "Sign-in expired",
        "This sign-in is unknown or has expired.",
    )
}
