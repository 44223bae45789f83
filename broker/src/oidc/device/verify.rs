//! `GET /device` (the user-code form) and `POST /device/auth/verify_code` (Dex's paths): a
//! live, undecided user code starts an ordinary sign-in whose request remembers the device.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::{user_code, USER_CODE_ATTEMPTS_PER_MINUTE};
use crate::oidc::authorize::to_connectors;
use crate::oidc::client_address::{throttle_key, ClientAddress};
use crate::oidc::login_throttle::with_retry_after;
use crate::oidc::params::Params;
use crate::oidc::AppState;
use crate::random::{hash_secret, random_token};
use crate::storage::{now, AuthRequest};
use crate::web::{device_code_page, storage_error_page, throttled_page};

const UNKNOWN_CODE: &str = "That code is unknown or has expired. Check the device and try again.";

fn form(app: &AppState, status: StatusCode, code: &str, error: Option<&str>) -> Response {
    device_code_page(status, &app.path("/device/auth/verify_code"), code, error)
}

pub async fn page(State(app): State<Arc<AppState>>, RawQuery(query): RawQuery) -> Response {
    let params = Params::parse(query.unwrap_or_default().as_bytes()).ok();
    // Only a well-formed code is echoed into the form.
    let code = params
        .as_ref()
        .and_then(|p| p.get("user_code"))
        .filter(|c| user_code::normalize(c).is_some())
        .unwrap_or("");
    form(&app, StatusCode::OK, code, None)
}

pub async fn verify(
    State(app): State<Arc<AppState>>,
    address: ClientAddress,
    body: Bytes,
) -> Response {
    let typed = Params::parse(&body)
        .ok()
        .and_then(|p| p.get("user_code").map(str::to_string));
    let t = now();
    // Every attempt counts, before the code is looked at: guessing is paced per address.
    if let Some(ip) = address.0 {
        let key = format!("device-user-code:{}", hash_secret(&throttle_key(ip)));
        match app
            .storage
            .count_in_window(&key, USER_CODE_ATTEMPTS_PER_MINUTE, 60, t)
            .await
        {
            Ok(true) => {}
            Ok(false) => {
                tracing::warn!("device user code refused: too many attempts from one address");
                return with_retry_after(throttled_page(60, None), 60);
            }
            Err(e) => return storage_error_page(&e, "counting user-code attempts"),
        }
    }
    let Some(code) = typed.as_deref().and_then(user_code::normalize) else {
        return form(&app, StatusCode::BAD_REQUEST, "", Some(UNKNOWN_CODE));
    };
    let device = match app
        .storage
        .pending_device_request(&hash_secret(&code), t)
        .await
    {
        Ok(Some(d)) => d,
        Ok(None) => return form(&app, StatusCode::BAD_REQUEST, "", Some(UNKNOWN_CODE)),
        Err(e) => return storage_error_page(&e, "looking up the user code"),
    };
    let lifetime = app.config.expiry.auth_requests.as_secs() as i64;
    let request = AuthRequest {
        id: random_token(),
        client_id: device.client_id.clone(),
        // Never redirected to: a device sign-in ends on the broker's own page.
        redirect_uri: app.config.issuer.endpoint("/device/callback"),
        scopes: device.scopes.clone(),
        state: None,
        nonce: None,
        pkce: None,
        connector_id: None,
        identity: None,
        upstream: None,
        browser_binding: None,
        device: Some(device.device_code_hash.clone()),
        expires_at: t.saturating_add(lifetime).min(device.expires_at),
    };
    if let Err(e) = app.storage.create_auth_request(&request).await {
        return storage_error_page(&e, "storing auth request");
    }
    tracing::info!(client = %device.client_id, "device user code accepted; sign-in starts");
    to_connectors(
        &app,
        &request.id,
        None,
        crate::config::GrantType::DeviceCode,
    )
}
