//! `GET /keys`: the public keys tokens are verified with.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::AppState;

pub async fn jwks(State(app): State<Arc<AppState>>) -> Response {
    let mut response = Json(app.keys.current().jwks()).into_response();
    // Short caching: relying parties refetch soon enough to see a rotated key.
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("max-age=60"),
    );
    response
}
