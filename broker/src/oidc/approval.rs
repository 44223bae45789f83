//! `GET/POST /approval`: the user grants (or refuses) the client access.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::complete::{expired, issue_code};
use super::params::Params;
use super::redirect::error_to_client;
use super::AppState;
use crate::storage::{now, AuthRequest};
use crate::web::{approval_page, error_page, storage_error_page};

async fn signed_in_request(
    app: &AppState,
    request_id: Option<&str>,
) -> Result<AuthRequest, Response> {
    let Some(id) = request_id else {
        return Err(expired());
    };
    match app.storage.get_auth_request(id, now()).await {
        Ok(Some(r)) if r.identity.is_some() => Ok(r),
        Ok(Some(_)) => Err(error_page(
            StatusCode::BAD_REQUEST,
            "Not signed in",
            "Sign in before granting access.",
        )),
        Ok(None) => Err(expired()),
        Err(e) => Err(storage_error_page(&e, "loading auth request")),
    }
}

pub async fn show(State(app): State<Arc<AppState>>, RawQuery(query): RawQuery) -> Response {
    let Ok(params) = Params::parse(query.unwrap_or_default().as_bytes()) else {
        return expired();
    };
    let request = match signed_in_request(&app, params.get("req")).await {
        Ok(r) => r,
        Err(page) => return page,
    };
    let client_name = match app.client(&request.client_id).await {
        Ok(Some(c)) => c.name,
        Ok(None) => request.client_id.clone(),
        Err(e) => return storage_error_page(&e, "looking up the client"),
    };
    let user = request
        .identity
        .as_ref()
        .map(|i| i.email.as_str())
        .unwrap_or("");
    approval_page(
        &app.path("/approval"),
        &request.id,
        &client_name,
        user,
        &request.scopes,
    )
}

pub async fn submit(State(app): State<Arc<AppState>>, body: Bytes) -> Response {
    let Ok(form) = Params::parse(&body) else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "Invalid form",
            "A field was sent twice.",
        );
    };
    let request = match signed_in_request(&app, form.get("req")).await {
        Ok(r) => r,
        Err(page) => return page,
    };
    match form.get("approval") {
        Some("approve") => issue_code(&app, &request.id).await,
        _ => {
            // Refused: the request is finished either way.
            if let Err(e) = app.storage.take_auth_request(&request.id, now()).await {
                tracing::warn!(error = %e, "dropping refused auth request failed");
            }
            error_to_client(
                &request.redirect_uri,
                "access_denied",
                "the user refused access",
                request.state.as_deref(),
            )
        }
    }
}
