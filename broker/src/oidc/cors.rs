//! CORS for the endpoints Dex opens to browser-based clients (discovery, keys, token, userinfo),
//! with `web.allowedOrigins` / `web.allowedHeaders` and the rules of gorilla/handlers, which
//! Dex uses: an origin not listed gets no CORS headers at all (its preflight an empty 200, its
//! request the plain answer); a listed origin's preflight must name a simple method (400
//! without one, 405 for another) and only allowed headers (403 otherwise).

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::config::{canonical_header, Cors, ALWAYS_ALLOWED_HEADERS};

const SIMPLE_METHODS: &[&str] = &["GET", "HEAD", "POST"];

pub async fn cors(State(cors): State<Arc<Cors>>, request: Request, next: Next) -> Response {
    if cors.origins.is_empty() {
        return next.run(request).await;
    }
    let origin = request
        .headers()
        .get(header::ORIGIN)
        .and_then(|o| o.to_str().ok())
        .map(str::to_string);
    let allowed = origin
        .as_deref()
        .is_some_and(|o| cors.any_origin() || cors.origins.iter().any(|a| a == o));
    let preflight = request.method() == Method::OPTIONS;
    let Some(origin) = origin.filter(|_| allowed) else {
        if preflight {
            return StatusCode::OK.into_response();
        }
        return next.run(request).await;
    };
    let mut response = if preflight {
        match preflight_answer(&cors, request.headers()) {
            Ok(r) => r,
            Err(status) => return status.into_response(),
        }
    } else {
        next.run(request).await
    };
    let headers = response.headers_mut();
    let allow_origin = if cors.any_origin() { "*" } else { &origin };
    if let Ok(v) = HeaderValue::from_str(allow_origin) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
    }
    // The answer depends on Origin: caches must keep one per origin.
    if !cors.any_origin() {
        headers.append(header::VARY, HeaderValue::from_static("Origin"));
    }
    response
}

fn preflight_answer(cors: &Cors, request: &HeaderMap) -> Result<Response, StatusCode> {
    let method = request
        .get(header::ACCESS_CONTROL_REQUEST_METHOD)
        .ok_or(StatusCode::BAD_REQUEST)?
        .to_str()
        .map_err(|_| StatusCode::BAD_REQUEST)?;
    if !SIMPLE_METHODS.contains(&method) {
        return Err(StatusCode::METHOD_NOT_ALLOWED);
    }
    let asked = request
        .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
        .map(|h| h.to_str().map_err(|_| StatusCode::BAD_REQUEST))
        .transpose()?
        .unwrap_or("");
    let mut granted = Vec::new();
    for name in asked.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let name = canonical_header(name);
        if ALWAYS_ALLOWED_HEADERS.contains(&name.as_str()) {
            continue;
        }
        if !cors.headers.contains(&name) {
            return Err(StatusCode::FORBIDDEN);
        }
        granted.push(name);
    }
    let mut response = StatusCode::OK.into_response();
    if !granted.is_empty() {
        let value =
            HeaderValue::from_str(&granted.join(",")).map_err(|_| StatusCode::BAD_REQUEST)?;
        response
            .headers_mut()
            .insert(header::ACCESS_CONTROL_ALLOW_HEADERS, value);
    }
    Ok(response)
}
