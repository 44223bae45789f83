//! `GET /healthz`: 200 when storage answers, 503 otherwise.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;

use super::AppState;

pub async fn healthz(State(app): State<Arc<AppState>>) -> (StatusCode, &'static str) {
    match app.storage.ping().await {
        Ok(()) => (StatusCode::OK, "ok\n"),
        Err(e) => {
            tracing::warn!(error = %e, "health check: storage unavailable");
            (StatusCode::SERVICE_UNAVAILABLE, "storage unavailable\n")
        }
    }
}
