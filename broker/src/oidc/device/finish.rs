//! The end of a device sign-in: the user's decision is recorded on the device request (once)
//! and the browser gets a page instead of a redirect.

use axum::http::StatusCode;
use axum::response::Response;

use crate::identity::Identity;
use crate::oidc::AppState;
use crate::storage::{now, AuthRequest, DeviceDecision};
use crate::web::{device_approved_page, device_denied_page, error_page, storage_error_page};

fn gone() -> Response {
    error_page(
        StatusCode::BAD_REQUEST,
        "Device request expired",
        "This device request has expired or was already answered. Start again on the device.",
    )
}

pub async fn approved(
    app: &AppState,
    request: &AuthRequest,
    device: &str,
    connector_id: String,
    identity: Identity,
) -> Response {
    let decision = DeviceDecision::Approved {
        connector_id,
        identity,
    };
    match app
        .storage
        .decide_device_request(device, &decision, now())
        .await
    {
        Ok(true) => {}
        Ok(false) => return gone(),
        Err(e) => return storage_error_page(&e, "approving the device"),
    }
    tracing::info!(client = %request.client_id, "device approved");
    let name = match app.client(&request.client_id).await {
        Ok(Some(c)) if !c.name.is_empty() => c.name,
        _ => request.client_id.clone(),
    };
    device_approved_page(&name)
}

pub async fn denied(app: &AppState, request: &AuthRequest, device: &str) -> Response {
    match app
        .storage
        .decide_device_request(device, &DeviceDecision::Denied, now())
        .await
    {
        Ok(true) => {}
        Ok(false) => return gone(),
        Err(e) => return storage_error_page(&e, "refusing the device"),
    }
    tracing::info!(client = %request.client_id, "device refused by the user");
    device_denied_page()
}
