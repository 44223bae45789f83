//! Sign-in through a redirect connector (Entra ID, any OIDC provider): `/auth/{connector}`
//! sends the browser upstream, `GET /callback` comes back with a code.
//!
//! The upstream `state` is the auth request id (as Dex does); the connector's per-login
//! secrets (PKCE verifier, nonce) are stored with that request, never sent to the browser.

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::complete::{expired, finish_sign_in, refused_by_connector, SignIn};
use super::params::Params;
use super::redirect::found;
use super::AppState;
use crate::connector::{Connector, ConnectorError, Scopes};
use crate::storage::{now, UpstreamLogin};
use crate::web::{error_page, not_allowed_page};

fn internal() -> Response {
    error_page(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Something went wrong",
        "Please try again.",
    )
}

/// `GET /auth/{connector}?req=…` for a redirect connector: off to the upstream provider.
pub async fn start(
    app: &AppState,
    connector: &dyn Connector,
    request_id: Option<&str>,
) -> Response {
    let Some(redirect) = connector.redirect() else {
        return internal();
    };
    let Some(request_id) = request_id else {
        return expired();
    };
    let request = match app.storage.get_auth_request(request_id, now()).await {
        Ok(Some(r)) => r,
        Ok(None) => return expired(),
        Err(e) => {
            tracing::error!(error = %e, "loading auth request failed");
            return internal();
        }
    };
    if let Some(page) = refused_by_connector(app, connector.id(), &request) {
        return page;
    }
    let login = match redirect
        .login(Scopes::from_list(&request.scopes), &request.id)
        .await
    {
        Ok(l) => l,
        Err(e) => return failure_page(connector.id(), &e),
    };
    let upstream = UpstreamLogin {
        connector_id: connector.id().to_string(),
        data: login.data,
    };
    match app
        .storage
        .set_auth_request_upstream(&request.id, &upstream)
        .await
    {
        Ok(true) => found(&login.url),
        Ok(false) => expired(),
        Err(e) => {
            tracing::error!(error = %e, "saving upstream login failed");
            internal()
        }
    }
}

/// `GET /callback?code=…&state=…` (or `?error=…`) from the upstream provider.
pub async fn callback(State(app): State<Arc<AppState>>, RawQuery(query): RawQuery) -> Response {
    let Ok(params) = Params::parse(query.unwrap_or_default().as_bytes()) else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "Invalid request",
            "A parameter was sent twice.",
        );
    };
    let Some(state) = params.get("state") else {
        return expired();
    };
    let request = match app.storage.get_auth_request(state, now()).await {
        Ok(Some(r)) => r,
        Ok(None) => return expired(),
        Err(e) => {
            tracing::error!(error = %e, "loading auth request failed");
            return internal();
        }
    };
    // One callback per login: a second one must not replace who signed in.
    let (Some(upstream), None) = (request.upstream.as_ref(), request.identity.as_ref()) else {
        return expired();
    };
    let Some(connector) = app.connectors.get(&upstream.connector_id).cloned() else {
        return expired();
    };
    let Some(redirect) = connector.redirect() else {
        return expired();
    };
    if let Some(error) = params.get("error") {
        // RFC 6749 §4.1.2.1: the provider refused (user cancelled, consent missing, …).
        let description = params.get("error_description").unwrap_or("");
        let description: String = description.chars().take(300).collect();
        tracing::info!(connector = %connector.id(), error, "upstream refused the sign-in");
        return error_page(
            StatusCode::BAD_REQUEST,
            "Sign-in failed",
            &format!(
                "{} refused the sign-in: {error} {description}",
                connector.name()
            ),
        );
    }
    let Some(code) = params.get("code") else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "Sign-in failed",
            "The provider sent no code.",
        );
    };
    let identity = match redirect
        .callback(Scopes::from_list(&request.scopes), &upstream.data, code)
        .await
    {
        Ok(identity) => identity,
        Err(e) => {
            app.metrics.login(connector.id(), false);
            return failure_page(connector.id(), &e);
        }
    };
    app.metrics.login(connector.id(), true);
    finish_sign_in(
        &app,
        SignIn {
            request_id: &request.id,
            connector_id: connector.id(),
            identity: &identity,
            via_upstream: true,
        },
    )
    .await
}

fn failure_page(connector_id: &str, e: &ConnectorError) -> Response {
    match e {
        ConnectorError::NotAllowed(why) => {
            tracing::info!(connector = %connector_id, "sign-in refused: not in an allowed group");
            not_allowed_page(why)
        }
        ConnectorError::Upstream(why) => {
            tracing::warn!(connector = %connector_id, error = %why, "upstream sign-in failed");
            error_page(StatusCode::BAD_GATEWAY, "Sign-in failed", why)
        }
        ConnectorError::Busy => error_page(
            StatusCode::SERVICE_UNAVAILABLE,
            "Busy",
            "Too many sign-ins right now. Please try again.",
        ),
        ConnectorError::Unavailable(why) => {
            tracing::error!(connector = %connector_id, error = %why, "upstream unavailable");
            error_page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Sign-in unavailable",
                "Sign-in is unavailable right now. Please try again later.",
            )
        }
        ConnectorError::Internal(why) => {
            tracing::error!(connector = %connector_id, error = %why, "connector failed");
            internal()
        }
    }
}
