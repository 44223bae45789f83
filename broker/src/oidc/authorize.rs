//! `GET /auth`: validate the authorization request, store it, send the user to a connector.
//!
//! Until client_id and redirect_uri are known good, errors are shown as a page and never
//! redirected (no open redirect); after that, client-fixable errors go back to the client.

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::client_address::{throttle_key, ClientAddress};
use super::login_throttle::{with_retry_after, AUTH_REQUESTS_PER_MINUTE};
use super::params::Params;
use super::redirect::{error_to_client, found};
use super::scopes::parse_scopes;
use super::{pkce, AppState};
use crate::config::{GrantType, PkceMethod};
use crate::random::{hash_secret, random_token};
use crate::storage::{now, AuthRequest, PkceChallenge};
use crate::web::{chooser_page, error_page, storage_error_page, throttled_page, ConnectorLink};

/// Longest `state`/`nonce` stored; longer values are refused rather than bloating storage.
const MAX_PARAM_LEN: usize = 1024;

pub async fn authorize(
    State(app): State<Arc<AppState>>,
    client_address: ClientAddress,
    RawQuery(query): RawQuery,
) -> Response {
    let query = query.unwrap_or_default();
    let params = match Params::parse(query.as_bytes()) {
        Ok(p) => p,
        Err(name) => {
            return error_page(
                StatusCode::BAD_REQUEST,
                "Invalid request",
                &format!("Parameter {name:?} was sent more than once."),
            )
        }
    };
    let client = match params.get("client_id") {
        Some(id) => match app.client(id).await {
            Ok(c) => c,
            Err(e) => return storage_error_page(&e, "looking up the client"),
        },
        None => None,
    };
    let Some(client) = client else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "Unknown application",
            "The application that sent you here is not registered (unknown client_id).",
        );
    };
    let Some(redirect_uri) = params
        .get("redirect_uri")
        .filter(|uri| client.redirect_uris.iter().any(|allowed| allowed == uri))
    else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "Invalid redirect",
            "The application asked to return to an address it has not registered (redirect_uri).",
        );
    };
    let state = params.get("state");
    let back =
        |error: &str, description: &str| error_to_client(redirect_uri, error, description, state);

    if !app
        .config
        .oauth2
        .grant_types
        .enabled(GrantType::AuthorizationCode)
    {
        return back(
            "unauthorized_client",
            "the authorization code grant is not enabled (oauth2.grantTypes)",
        );
    }
    if state.is_some_and(|s| s.len() > MAX_PARAM_LEN)
        || params.get("nonce").is_some_and(|n| n.len() > MAX_PARAM_LEN)
    {
        return back("invalid_request", "state or nonce is too long");
    }
    if params.get("request").is_some() {
        return back("request_not_supported", "request objects are not supported");
    }
    if params.get("request_uri").is_some() {
        return back("request_uri_not_supported", "request_uri is not supported");
    }
    if params.get("response_mode").is_some_and(|m| m != "query") {
        return back("invalid_request", "only response_mode=query is supported");
    }
    // There is no browser session at the broker yet, so a silent login can never succeed.
    if params
        .get("prompt")
        .is_some_and(|p| p.split(' ').any(|v| v == "none"))
    {
        return back("login_required", "the user must sign in");
    }
    match params.get("response_type") {
        Some("code") => {}
        Some(_) => {
            return back(
                "unsupported_response_type",
                "only response_type=code is supported",
            )
        }
        None => return back("invalid_request", "response_type is missing"),
    }
    let scopes = match parse_scopes(params.get("scope").unwrap_or("")) {
        Ok(s) if s.iter().any(|x| x == "openid") => s,
        Ok(_) => return back("invalid_scope", "the openid scope is required"),
        Err(e) => return back("invalid_scope", &e),
    };
    match super::scopes::refused_peers(&app, &client.id, &scopes).await {
        Ok(None) => {}
        Ok(Some(refused)) => return back("invalid_scope", &refused),
        Err(e) => return storage_error_page(&e, "looking up a peer client"),
    }
    let pkce = match (
        params.get("code_challenge"),
        params.get("code_challenge_method"),
    ) {
        (None, Some(_)) => {
            return back(
                "invalid_request",
                "code_challenge_method without code_challenge",
            )
        }
        (None, None) => {
            if client.public || app.config.oauth2.pkce_enforce {
                return back(
                    "invalid_request",
                    "PKCE is required: send code_challenge with code_challenge_method=S256",
                );
            }
            None
        }
        (Some(challenge), method) => {
            // RFC 7636 §4.3: a missing method means plain.
            let method = method.unwrap_or("plain");
            let allowed = PkceMethod::parse(method)
                .is_some_and(|m| app.config.oauth2.pkce_methods.contains(&m));
            if !allowed {
                return back(
                    "invalid_request",
                    &format!("code_challenge_method {method:?} is not supported; use S256"),
                );
            }
            if !pkce::well_formed(challenge) {
                return back("invalid_request", "code_challenge is malformed");
            }
            Some(PkceChallenge {
                challenge: challenge.to_string(),
                method: method.to_string(),
            })
        }
    };

    let request = AuthRequest {
        id: random_token(),
        client_id: client.id.clone(),
        redirect_uri: redirect_uri.to_string(),
        scopes,
        state: state.map(str::to_string),
        nonce: params.get("nonce").map(str::to_string),
        pkce,
        connector_id: None,
        identity: None,
        upstream: None,
        browser_binding: None,
        device: None,
        expires_at: now().saturating_add(app.config.expiry.auth_requests.as_secs() as i64),
    };
    // Each /auth stores a row before anyone signed in: bounded per client address.
    if let Some(ip) = client_address.0 {
        let key = format!("auth:{}", hash_secret(&throttle_key(ip)));
        match app
            .storage
            .count_in_window(&key, AUTH_REQUESTS_PER_MINUTE, 60, now())
            .await
        {
            Ok(true) => {}
            Ok(false) => {
                tracing::warn!(
                    "sign-in start refused: too many /auth requests from one client address"
                );
                return with_retry_after(throttled_page(60, None), 60);
            }
            Err(e) => return storage_error_page(&e, "counting auth requests"),
        }
    }
    if let Err(e) = app.storage.create_auth_request(&request).await {
        // Not redirected to the client: the sign-in can simply be retried once storage is back.
        return storage_error_page(&e, "storing auth request");
    }

    let chosen = params.get("connector_id");
    if chosen.is_some_and(|c| app.connectors.get(c).is_none()) {
        return back("invalid_request", "unknown connector_id");
    }
    if chosen.is_some_and(|c| !app.config.connector_serves(c, GrantType::AuthorizationCode)) {
        return back(
            "invalid_request",
            "connector_id does not serve the authorization code grant (its grantTypes)",
        );
    }
    to_connectors(&app, &request.id, chosen, GrantType::AuthorizationCode)
}

/// Sends the browser on with a stored request: to the connector asked for, to the only one,
/// or to the chooser — among the connectors that serve `grant` (their `grantTypes`).
pub(super) fn to_connectors(
    app: &AppState,
    request_id: &str,
    chosen: Option<&str>,
    grant: GrantType,
) -> Response {
    let login_url = |connector_id: &str| {
        let req: String = form_urlencoded::byte_serialize(request_id.as_bytes()).collect();
        app.path(&format!("/auth/{connector_id}?req={req}"))
    };
    if let Some(c) = chosen.and_then(|id| app.connectors.get(id)) {
        return found(&login_url(c.id()));
    }
    let serving: Vec<_> = app
        .connectors
        .all()
        .iter()
        .filter(|c| app.config.connector_serves(c.id(), grant))
        .collect();
    match serving.as_slice() {
        [] => error_page(
            StatusCode::BAD_REQUEST,
            "Not available",
            "No way of signing in is available for this kind of sign-in.",
        ),
        [only] if !app.config.oauth2.always_show_login_screen => found(&login_url(only.id())),
        list => chooser_page(
            &list
                .iter()
                .map(|c| ConnectorLink {
                    name: c.name().to_string(),
                    href: login_url(c.id()),
                })
                .collect::<Vec<_>>(),
        ),
    }
}
