//! The telemetry listener (`telemetry.http`), as in Dex: `/metrics` for Prometheus and the
//! health checks, kept off the public listener so metrics need not be exposed with the provider.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::oidc::AppState;

pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(ready))
        .route("/healthz/ready", get(ready))
        .route("/healthz/live", get(live))
        .with_state(state)
}

async fn metrics(State(app): State<Arc<AppState>>) -> Response {
    match app.metrics.render() {
        Ok(text) => {
            let mut response = text.into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(crate::metrics::CONTENT_TYPE),
            );
            response
        }
        Err(e) => {
            tracing::error!(error = %e, "rendering metrics failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// Ready when storage answers (as the provider's own `/healthz`).
async fn ready(State(app): State<Arc<AppState>>) -> (StatusCode, &'static str) {
    match app.storage.ping().await {
        Ok(()) => (StatusCode::OK, "ok\n"),
        Err(e) => {
            tracing::warn!(error = %e, "health check: storage unavailable");
            (StatusCode::SERVICE_UNAVAILABLE, "storage unavailable\n")
        }
    }
}

/// Alive as long as the process answers.
async fn live() -> &'static str {
    "ok\n"
}
