//! `GET/POST /auth/{connector}`: the password form of a connector.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::client_address::ClientAddress;
use super::complete::{expired, finish_sign_in, refused_by_connector, SignIn};
use super::login_throttle;
use super::params::Params;
use super::AppState;
use crate::connector::{ConnectorError, PasswordConnector};
use crate::storage::{now, AuthRequest};
use crate::web::{error_page, login_page, storage_error_page, LoginForm};

/// Resolves the connector and its pending auth request, or the page explaining why not.
async fn lookup<'a>(
    app: &'a AppState,
    connector_id: &str,
    request_id: Option<&str>,
) -> Result<(&'a dyn PasswordConnector, AuthRequest), Response> {
    let Some(connector) = app.connectors.get(connector_id) else {
        return Err(error_page(
            StatusCode::NOT_FOUND,
            "Unknown connector",
            "There is no such way to sign in.",
        ));
    };
    let Some(password) = connector.password() else {
        return Err(error_page(
            StatusCode::NOT_FOUND,
            "Unsupported",
            "This connector has no password form.",
        ));
    };
    let request = pending(app, request_id).await?;
    if let Some(page) = refused_by_connector(app, connector_id, &request) {
        return Err(page);
    }
    Ok((password, request))
}

/// The pending auth request named by `req`, or the page explaining why there is none.
async fn pending(app: &AppState, request_id: Option<&str>) -> Result<AuthRequest, Response> {
    let Some(request_id) = request_id else {
        return Err(expired());
    };
    match app.storage.get_auth_request(request_id, now()).await {
        Ok(Some(r)) => Ok(r),
        Ok(None) => Err(expired()),
        Err(e) => Err(storage_error_page(&e, "loading auth request")),
    }
}

pub async fn show(
    State(app): State<Arc<AppState>>,
    Path(connector_id): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let params = match Params::parse(query.unwrap_or_default().as_bytes()) {
        Ok(p) => p,
        Err(_) => return expired(),
    };
    if let Some(connector) = app.connectors.get(&connector_id) {
        if let Some(saml) = connector.saml() {
            return match pending(&app, params.get("req")).await {
                Ok(request) => match refused_by_connector(&app, &connector_id, &request) {
                    Some(page) => page,
                    None => super::saml::start(&app, saml, &request).await,
                },
                Err(page) => page,
            };
        }
        if connector.redirect().is_some() {
            return super::upstream::start(&app, connector.as_ref(), params.get("req")).await;
        }
    }
    let (password, request) = match lookup(&app, &connector_id, params.get("req")).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let action = app.path(&format!("/auth/{connector_id}"));
    login_page(
        StatusCode::OK,
        &LoginForm {
            action: &action,
            request_id: &request.id,
            prompt: password.prompt(),
            login: "",
            error: None,
        },
    )
}

pub async fn submit(
    State(app): State<Arc<AppState>>,
    Path(connector_id): Path<String>,
    client: ClientAddress,
    body: Bytes,
) -> Response {
    let Ok(form) = Params::parse(&body) else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "Invalid form",
            "A field was sent twice.",
        );
    };
    let (password_connector, request) = match lookup(&app, &connector_id, form.get("req")).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    if request.identity.is_some() {
        // One sign-in per request: whoever signed in first stands.
        return expired();
    }
    let login = form.get("login").unwrap_or("");
    let action = app.path(&format!("/auth/{connector_id}"));
    let form_again = |status: StatusCode, error: &str| {
        login_page(
            status,
            &LoginForm {
                action: &action,
                request_id: &request.id,
                prompt: password_connector.prompt(),
                login,
                error: Some(error),
            },
        )
    };
    // Before any bcrypt: a throttled or concurrent attempt is refused at no cost.
    let attempt = match login_throttle::begin(&app, &connector_id, login, client.0).await {
        Ok(a) => a,
        Err(refusal) => return refusal.page(),
    };
    let checked = password_connector
        .login(login, form.get("password").unwrap_or(""))
        .await;
    attempt.end(&app, login_throttle::outcome(&checked)).await;
    let identity = match checked {
        Ok(Some(identity)) => {
            app.metrics.login(&connector_id, true);
            identity
        }
        Ok(None) => {
            app.metrics.login(&connector_id, false);
            tracing::info!(connector = %connector_id, "sign-in refused: invalid credentials");
            // "Invalid email address or password." for the password DB, "Invalid username or
            // password." for a directory asking for a username.
            let error = format!(
                "Invalid {} or password.",
                password_connector.prompt().to_lowercase()
            );
            return form_again(StatusCode::UNAUTHORIZED, &error);
        }
        Err(ConnectorError::Busy) => {
            return form_again(
                StatusCode::SERVICE_UNAVAILABLE,
                "Too many sign-ins right now. Please try again.",
            )
        }
        Err(ConnectorError::Unavailable(why)) => {
            tracing::error!(connector = %connector_id, error = %why, "sign-in unavailable");
            return form_again(
                StatusCode::SERVICE_UNAVAILABLE,
                "Sign-in is unavailable right now. Please try again later.",
            );
        }
        Err(e) => {
            tracing::error!(error = %e, "password check failed");
            return form_again(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong. Please try again.",
            );
        }
    };
    finish_sign_in(
        &app,
        SignIn {
            request_id: &request.id,
            connector_id: &connector_id,
            identity: &identity,
            via_upstream: false,
        },
    )
    .await
}
