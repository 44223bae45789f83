//! `GET/POST /userinfo` with `Authorization: Bearer <access token>`.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::{sessions, AppState};
use crate::token::UserInfo;

pub async fn userinfo(State(app): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());
    let Some(token) = bearer else {
        return unauthorized(None);
    };
    match app.minter.verify_access_token(token) {
        Ok(claims) => {
            // Its sign-in ended (sign-out, revocation, EndSessions): refused as introspection
            // answers inactive, though the signature and `exp` still hold.
            if let Some(sid) = &claims.sid {
                match sessions::is_live(&app, sid).await {
                    Ok(true) => {}
                    Ok(false) => {
                        tracing::info!("userinfo: access token of an ended session");
                        return unauthorized(Some("the access token's session has ended"));
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "userinfo: session lookup failed");
                        return unavailable();
                    }
                }
            }
            let mut response = Json(UserInfo::from(claims)).into_response();
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(e) => {
            tracing::info!(error = %e, "userinfo: access token refused");
            unauthorized(Some("the access token is invalid or expired"))
        }
    }
}

/// Storage could not say whether the session lives: fail closed, and say it is temporary.
fn unavailable() -> Response {
    let body = serde_json::json!({
        "error": "temporarily_unavailable",
        "error_description": "try again",
    });
    (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
}

/// RFC 6750 §3: no credentials → bare challenge; bad token → `error="invalid_token"`.
fn unauthorized(description: Option<&str>) -> Response {
    let challenge = match description {
        None => "Bearer realm=\"gatehouse\"".to_string(),
        Some(d) => format!(
            "Bearer realm=\"gatehouse\", error=\"invalid_token\", error_description=\"{d}\""
        ),
    };
    let value = HeaderValue::from_str(&challenge).unwrap_or(HeaderValue::from_static("Bearer"));
    let body = serde_json::json!({
        "error": if description.is_some() { "invalid_token" } else { "invalid_request" },
        "error_description": description.unwrap_or("a Bearer access token is required"),
    });
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, value)],
        Json(body),
    )
        .into_response()
}
