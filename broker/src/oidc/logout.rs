//! `GET/POST /logout`: the end-session endpoint (OpenID Connect RP-Initiated Logout 1.0).
//!
//! Parameters: `id_token_hint` (one of our ID tokens; expired is fine, forged is refused),
//! `client_id` (must equal the hint's `aud` when both are sent), `post_logout_redirect_uri`
//! (followed only with a verified hint, and only when [`allowed_target`] says the client may
//! go there), `state` (echoed on that redirect). Otherwise the browser gets a signed-out page.
//! A verified hint's `sid` session ends, at the broker and (through the revocation feed) at
//! every gateway.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::params::Params;
use super::post_logout_redirect::allowed_target;
use super::redirect::{found, to_client};
use super::sessions;
use super::AppState;
use crate::storage::{EndCause, SessionSelector};
use crate::token::{verify_id_token_hint, Claims};
use crate::web::{error_page, signed_out_page, storage_error_page};

pub async fn get(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    end_session(&app, &headers, query.unwrap_or_default().as_bytes()).await
}

pub async fn post(State(app): State<Arc<AppState>>, headers: HeaderMap, body: Bytes) -> Response {
    end_session(&app, &headers, &body).await
}

fn refused(detail: &str) -> Response {
    error_page(StatusCode::BAD_REQUEST, "Sign-out request refused", detail)
}

async fn end_session(app: &AppState, headers: &HeaderMap, input: &[u8]) -> Response {
    let Ok(params) = Params::parse(input) else {
        return refused("A parameter was sent twice.");
    };
    let hint = match params.get("id_token_hint") {
        None => None,
        Some(token) => {
            match verify_id_token_hint(&app.keys.current(), &app.config.issuer.url, token) {
                Ok(claims) => Some(claims),
                Err(e) => {
                    tracing::warn!(error = %e, "sign-out refused: id_token_hint does not verify");
                    return refused(
                        "The sign-out request carried a token this server cannot verify.",
                    );
                }
            }
        }
    };
    let asked_client = params.get("client_id");
    if let (Some(claims), Some(id)) = (&hint, asked_client) {
        if claims.issued_to() != Some(id) {
            tracing::warn!(client = ?id, "sign-out refused: client_id is not the hint's audience");
            return refused("client_id does not match the token's audience.");
        }
    }
    let client = match asked_client.or(hint.as_ref().and_then(Claims::issued_to)) {
        Some(id) => match app.client(id).await {
            Ok(c) => c,
            Err(e) => return storage_error_page(&e, "looking up the client"),
        },
        None => None,
    };
    if asked_client.is_some() && client.is_none() {
        return refused("Unknown client.");
    }
    let client = client.as_ref();
    let client_label = client.map_or("-", |c| c.id.as_str());

    // Spec §3: without a verified hint the OP must not redirect (nothing confirms who asks).
    let asked_target = params.get("post_logout_redirect_uri");
    let target = match (&hint, client, asked_target) {
        (Some(_), Some(client), Some(uri)) => allowed_target(client, uri),
        _ => None,
    };
    let response = match (&target, asked_target) {
        (Some(uri), _) => match params.get("state") {
            Some(state) => to_client(uri, &[("state", state)]),
            // As registered: no empty `?` appended.
            None => found(uri),
        },
        (None, Some(_)) => {
            tracing::warn!(
                client = %client_label,
                verified_hint = hint.is_some(),
                "post_logout_redirect_uri not allowed; showing the signed-out page"
            );
            signed_out_page()
        }
        (None, None) => signed_out_page(),
    };
    tracing::info!(
        client = %client_label,
        verified_hint = hint.is_some(),
        redirected = target.is_some(),
        "signed out"
    );
    app.metrics.sign_out(target.is_some());
    // A verified hint names the session to end (issue 17): every gateway drops it. Without
    // one nothing confirms who asks, so nothing ends.
    if let Some(sid) = hint.as_ref().and_then(|c| c.sid.as_deref()) {
        if let Err(e) = sessions::end(app, SessionSelector::Sid(sid), EndCause::SignOut).await {
            return storage_error_page(&e, "ending the session");
        }
    }
    end_login_session(app, headers, response)
}

/// The hook every completed sign-out passes through, redirect or page.
///
/// The broker keeps no login session of its own yet: every `/auth` asks the connector again,
/// so there is nothing to end here. When a login-session cookie is added, this is where it must
/// be cleared (a `Set-Cookie` that expires it on `response`) and its server-side record deleted.
/// A sign-out without a verified `id_token_hint` should then ask the user to confirm first
/// (spec §2), so that a third-party page cannot sign people out.
fn end_login_session(_app: &AppState, _request: &HeaderMap, response: Response) -> Response {
    response
}
