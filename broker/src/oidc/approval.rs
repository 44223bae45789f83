//! `GET/POST /approval`: the user grants (or refuses) the client access. Only the browser that
//! completed the connector login (it holds the request's binding cookie) may see the page or
//! answer it; anyone else learns nothing, not even whether the request exists.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;

use super::browser_binding::{clear_cookie, presented};
use super::complete::{expired, issue_code};
use super::params::Params;
use super::redirect::error_to_client;
use super::AppState;
use crate::storage::{now, AuthRequest};
use crate::web::{approval_page, error_page, storage_error_page};

fn not_this_browser() -> Response {
    error_page(
        StatusCode::FORBIDDEN,
        "Sign-in not found in this browser",
        "This sign-in was not completed in this browser. Start again from the application.",
    )
}

/// The request named by `req`, signed in, whose binding cookie this browser presents.
async fn bound_request(
    app: &AppState,
    headers: &HeaderMap,
    request_id: Option<&str>,
) -> Result<AuthRequest, Response> {
    let Some(id) = request_id else {
        return Err(expired());
    };
    let request = match app.storage.get_auth_request(id, now()).await {
        Ok(Some(r)) => r,
        // Unknown, expired and not-yet-signed-in look the same as a foreign browser's request.
        Ok(None) => return Err(not_this_browser()),
        Err(e) => return Err(storage_error_page(&e, "loading auth request")),
    };
    if request.identity.is_none()
        || !presented(headers, &request.id, request.browser_binding.as_deref())
    {
        tracing::warn!(client = %request.client_id, "approval refused: the browser does not hold the sign-in's binding cookie");
        return Err(not_this_browser());
    }
    Ok(request)
}

pub async fn show(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let Ok(params) = Params::parse(query.unwrap_or_default().as_bytes()) else {
        return expired();
    };
    let request = match bound_request(&app, &headers, params.get("req")).await {
        Ok(r) => r,
        Err(page) => return page,
    };
    let (client_name, logo) = match app.client(&request.client_id).await {
        Ok(Some(c)) => (c.name, c.logo_url),
        Ok(None) => (request.client_id.clone(), None),
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
        logo.as_deref(),
        user,
        &request.scopes,
    )
}

pub async fn submit(State(app): State<Arc<AppState>>, headers: HeaderMap, body: Bytes) -> Response {
    let Ok(form) = Params::parse(&body) else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "Invalid form",
            "A field was sent twice.",
        );
    };
    let checked = match bound_request(&app, &headers, form.get("req")).await {
        Ok(r) => r,
        Err(page) => return page,
    };
    let t = now();
    // Taken atomically: approve or deny happens once. The binding cannot change once set, but
    // the taken row is what the code is made from, so check that it is the one verified.
    let request = match app.storage.take_auth_request(&checked.id, t).await {
        Ok(Some(r)) if r.browser_binding == checked.browser_binding => r,
        Ok(_) => return expired(),
        Err(e) => return storage_error_page(&e, "taking auth request"),
    };
    let mut response = match (
        form.get("approval"),
        request.identity.clone(),
        request.connector_id.clone(),
    ) {
        (Some("approve"), Some(identity), Some(connector_id)) => {
            let id = request.id.clone();
            let mut r = issue_code(&app, request, connector_id, identity, t).await;
            r.headers_mut()
                .append(header::SET_COOKIE, clear_cookie(&app, &id));
            return r;
        }
        (Some("approve"), _, _) => return expired(),
        _ => match request.device.as_deref() {
            Some(device) => super::device::denied(&app, &request, device).await,
            None => error_to_client(
                &request.redirect_uri,
                "access_denied",
                "the user refused access",
                request.state.as_deref(),
            ),
        },
    };
    response
        .headers_mut()
        .append(header::SET_COOKIE, clear_cookie(&app, &request.id));
    response
}
