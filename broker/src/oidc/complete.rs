//! The end of a browser sign-in, one path for every connector (password form, upstream
//! OIDC/Microsoft callback, SAML POST): either the code is issued in the very response that
//! completes the login, or the request is bound to that browser and the approval page follows.

use axum::http::{header, StatusCode};
use axum::response::Response;

use super::browser_binding::Binding;
use super::redirect::{found, to_client};
use super::AppState;
use crate::config::{GrantType, AUTH_CODE_LIFETIME};
use crate::identity::Identity;
use crate::random::{hash_secret, random_token};
use crate::storage::{now, AuthCode, AuthRequest, UnixTime};
use crate::web::{error_page, storage_error_page};

/// A connector has vouched for `identity` on auth request `request_id`.
pub struct SignIn<'a> {
    pub request_id: &'a str,
    pub connector_id: &'a str,
    pub identity: &'a Identity,
    /// Set for redirect connectors: the request's upstream login must name this connector.
    pub via_upstream: bool,
}

/// Finishes a sign-in. With `skipApprovalScreen` the request is taken (removed, atomically) and
/// the code made from it in this response: no identity is ever stored on a live request, so
/// nothing can be advanced by anyone else in between. Otherwise the identity is recorded once,
/// with the hash of a secret this response hands to the browser as a cookie, and `/approval`
/// requires that cookie.
pub async fn finish_sign_in(app: &AppState, sign_in: SignIn<'_>) -> Response {
    let SignIn {
        request_id,
        connector_id,
        identity,
        via_upstream,
    } = sign_in;
    let t = now();
    if app.config.oauth2.skip_approval_screen {
        let request = match app.storage.take_auth_request(request_id, t).await {
            Ok(Some(r)) => r,
            Ok(None) => return expired(),
            Err(e) => return storage_error_page(&e, "taking auth request"),
        };
        let upstream_ok = !via_upstream
            || request
                .upstream
                .as_ref()
                .is_some_and(|u| u.connector_id == connector_id);
        if request.identity.is_some() || !upstream_ok {
            return expired();
        }
        tracing::info!(connector = %connector_id, client = %request.client_id, "user signed in");
        return issue_code(app, request, connector_id.to_string(), identity.clone(), t).await;
    }
    let binding = Binding::generate();
    let request = match app.storage.get_auth_request(request_id, t).await {
        Ok(Some(r)) => r,
        Ok(None) => return expired(),
        Err(e) => return storage_error_page(&e, "loading auth request"),
    };
    match app
        .storage
        .set_auth_request_identity(request_id, connector_id, identity, &binding.hash)
        .await
    {
        Ok(true) => {}
        // Gone, or someone signed in on it already: the first sign-in stands.
        Ok(false) => return expired(),
        Err(e) => return storage_error_page(&e, "saving sign-in"),
    }
    tracing::info!(connector = %connector_id, client = %request.client_id, "user signed in");
    let req: String = form_urlencoded::byte_serialize(request_id.as_bytes()).collect();
    let mut response = found(&app.path(&format!("/approval?req={req}")));
    response.headers_mut().append(
        header::SET_COOKIE,
        binding.set_cookie(app, request_id, request.expires_at.saturating_sub(t)),
    );
    response
}

/// The grant a browser sign-in serves: the device's, or the code flow's.
pub fn browser_grant(request: &AuthRequest) -> GrantType {
    if request.device.is_some() {
        GrantType::DeviceCode
    } else {
        GrantType::AuthorizationCode
    }
}

/// The page refusing a sign-in through a connector whose `grantTypes` leave out this
/// request's grant; None when it serves it.
pub fn refused_by_connector(
    app: &AppState,
    connector_id: &str,
    request: &AuthRequest,
) -> Option<Response> {
    let grant = browser_grant(request);
    if app.config.connector_serves(connector_id, grant) {
        return None;
    }
    tracing::warn!(connector = %connector_id, grant = grant.as_str(), "sign-in refused: the connector does not serve this grant (grantTypes)");
    Some(error_page(
        StatusCode::BAD_REQUEST,
        "Not available",
        "This way of signing in is not available for this kind of sign-in.",
    ))
}

/// Turns a finished (taken) request into a one-time code and redirects the browser with it
/// (or, for a device's request, approves the device).
pub async fn issue_code(
    app: &AppState,
    request: AuthRequest,
    connector_id: String,
    identity: Identity,
    t: UnixTime,
) -> Response {
    // The last guard for connectors' grantTypes (the chooser and /auth/{connector} check
    // first): nothing is issued through a connector for a grant it does not serve.
    if let Some(page) = refused_by_connector(app, &connector_id, &request) {
        return page;
    }
    // A device's sign-in ends in its decision, not in a code for a redirect.
    if let Some(device) = request.device.clone() {
        return super::device::approved(app, &request, &device, connector_id, identity).await;
    }
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
