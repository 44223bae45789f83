//! SAML endpoints: the start of a login (`GET /auth/{id}` for a SAML connector), the Assertion
//! Consumer Service (`POST /callback`) and the SP metadata (`GET /saml/{id}/metadata`).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::complete::{expired, finish_sign_in, SignIn};
use super::params::Params;
use super::redirect::found;
use super::AppState;
use crate::connector::saml::{SamlLoginError, SamlStart};
use crate::connector::SamlConnector;
use crate::storage::{now, AuthRequest, SamlRequest};
use crate::web::{error_page, saml_post_page, storage_error_page};

/// Room for the largest response the validator accepts after base64 (a third more) and form
/// encoding (`+`, `/`, `=` take three bytes each), so an oversized response reaches the
/// validator and is refused with a log line rather than cut off by the HTTP layer.
pub const MAX_CALLBACK_BODY_BYTES: usize = 1024 * 1024;

/// How long the IdP may take (the user typing a password there included).
const SAML_REQUEST_LIFETIME_SECS: i64 = 10 * 60;

fn oops() -> Response {
    error_page(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Something went wrong",
        "Please try again.",
    )
}

/// Stores a new AuthnRequest for `request` and sends the browser to the IdP.
pub async fn start(app: &AppState, connector: &SamlConnector, request: &AuthRequest) -> Response {
    let t = now();
    let (id, how) = match connector.start(t) {
        Ok(started) => started,
        Err(e) => {
            tracing::error!(connector = %connector_id(connector), error = %e, "SAML login could not start");
            return oops();
        }
    };
    let record = SamlRequest {
        id,
        auth_request_id: request.id.clone(),
        connector_id: connector_id(connector),
        expires_at: t
            .saturating_add(SAML_REQUEST_LIFETIME_SECS)
            .min(request.expires_at),
        answered: false,
    };
    if let Err(e) = app.storage.create_saml_request(&record).await {
        return storage_error_page(&e, "storing SAML request");
    }
    match how {
        SamlStart::Redirect(url) => found(&url),
        SamlStart::Post {
            url,
            saml_request,
            relay_state,
        } => saml_post_page(&url, &saml_request, &relay_state),
    }
}

fn connector_id(c: &SamlConnector) -> String {
    crate::connector::Connector::id(c).to_string()
}

fn refused() -> Response {
    error_page(
        StatusCode::FORBIDDEN,
        "Sign-in refused",
        "The identity provider's answer could not be accepted.",
    )
}

/// `POST /callback`: `SAMLResponse` + `RelayState` from the IdP's auto-submitted form.
pub async fn callback(State(app): State<Arc<AppState>>, body: Bytes) -> Response {
    let Ok(form) = Params::parse(&body) else {
        tracing::warn!("SAML response refused: a form field was sent twice");
        return refused();
    };
    let (Some(posted), Some(relay_state)) = (form.get("SAMLResponse"), form.get("RelayState"))
    else {
        tracing::warn!("SAML response refused: SAMLResponse or RelayState missing (IdP-initiated logins are not supported)");
        return refused();
    };
    let t = now();
    let pending = match app.storage.get_saml_request(relay_state, t).await {
        Ok(Some(r)) => r,
        Ok(None) => {
            tracing::warn!(
                "SAML response refused: RelayState names no pending request (unknown or expired)"
            );
            return expired();
        }
        Err(e) => return storage_error_page(&e, "loading SAML request"),
    };
    let Some(connector) = app
        .connectors
        .get(&pending.connector_id)
        .cloned()
        .filter(|c| c.saml().is_some())
    else {
        tracing::warn!(connector = %pending.connector_id, "SAML response refused: connector is gone");
        return refused();
    };
    let posted = posted.to_string();
    let request_id = pending.id.clone();
    // Signature checks cost milliseconds of CPU: keep them off the async workers.
    let outcome = tokio::task::spawn_blocking(move || match connector.saml() {
        Some(saml) => saml.finish(&posted, &request_id, t),
        None => Err(SamlLoginError::Request("not a SAML connector".into())),
    })
    .await;
    let login = match outcome {
        Ok(Ok(login)) => login,
        Ok(Err(e)) => {
            app.metrics.login(&pending.connector_id, false);
            tracing::warn!(connector = %pending.connector_id, reason = %e, "SAML response refused");
            return refused();
        }
        Err(e) => {
            tracing::error!(error = %e, "SAML validation task failed");
            return oops();
        }
    };
    match app
        .storage
        .remember_saml_assertion(&login.assertion_id, login.assertion_expires_at)
        .await
    {
        Ok(true) => {}
        Ok(false) => {
            tracing::warn!(connector = %pending.connector_id, "SAML response refused: assertion replayed (its ID was seen before)");
            return refused();
        }
        Err(e) => return storage_error_page(&e, "SAML replay cache"),
    }
    match app.storage.answer_saml_request(&pending.id, t).await {
        Ok(true) => {}
        Ok(false) => {
            tracing::warn!(connector = %pending.connector_id, "SAML response refused: its request was already answered (InResponseTo reused)");
            return refused();
        }
        Err(e) => return storage_error_page(&e, "taking SAML request"),
    }
    app.metrics.login(&pending.connector_id, true);
    finish_sign_in(
        &app,
        SignIn {
            request_id: &pending.auth_request_id,
            connector_id: &pending.connector_id,
            identity: &login.identity,
            via_upstream: false,
        },
    )
    .await
}

/// `GET /saml/{connector}/metadata`: the SP metadata for the IdP's administrators.
pub async fn metadata(State(app): State<Arc<AppState>>, Path(id): Path<String>) -> Response {
    let Some(saml) = app.connectors.get(&id).and_then(|c| c.saml()) else {
        return error_page(
            StatusCode::NOT_FOUND,
            "Unknown connector",
            "There is no SAML connector with this id.",
        );
    };
    let mut response = (StatusCode::OK, saml.metadata()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/samlmetadata+xml"),
    );
    response
}
