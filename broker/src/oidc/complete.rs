//! The end of a browser sign-in: issue a one-time code and send the user back to the client.

use axum::http::StatusCode;
use axum::response::Response;

use super::redirect::{found, to_client};
use super::AppState;
use crate::config::AUTH_CODE_LIFETIME;
use crate::connector::Identity;
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

/// A connector has vouched for `identity`: record it on the auth request, then issue the code
/// (approval skipped) or show the approval page.
pub async fn signed_in(
    app: &AppState,
    request_id: &str,
    client_id: &str,
    connector_id: &str,
    identity: &Identity,
) -> Response {
    match app
        .storage
        .set_auth_request_identity(request_id, connector_id, identity)
        .await
    {
        Ok(true) => {}
        Ok(false) => return expired(),
        Err(e) => return storage_error_page(&e, "saving sign-in"),
    }
    tracing::info!(connector = %connector_id, client = %client_id, "user signed in");
    if app.config.oauth2.skip_approval_screen {
        return issue_code(app, request_id).await;
    }
    let req: String = form_urlencoded::byte_serialize(request_id.as_bytes()).collect();
    found(&app.path(&format!("/approval?req={req}")))
}
