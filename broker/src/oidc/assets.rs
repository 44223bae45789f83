//! `{issuer}/static/*` and `{issuer}/theme/*` (Dex's paths): the pages' stylesheets, logo and
//! favicon (`crate::web::asset_response`). Files may come from disk (`frontend.dir`), so they
//! are read off the async threads.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::AppState;
use crate::web::{asset_response, Area};

pub async fn static_file(
    State(app): State<Arc<AppState>>,
    Path(path): Path<String>,
    headers: HeaderMap,
) -> Response {
    serve(app, Area::Static, path, headers).await
}

pub async fn theme_file(
    State(app): State<Arc<AppState>>,
    Path(path): Path<String>,
    headers: HeaderMap,
) -> Response {
    serve(app, Area::Theme, path, headers).await
}

async fn serve(app: Arc<AppState>, area: Area, path: String, headers: HeaderMap) -> Response {
    tokio::task::spawn_blocking(move || asset_response(&app.config.frontend, area, &path, &headers))
        .await
        .unwrap_or_else(|e| {
            tracing::error!(error = %e, "serving a static file failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        })
}
