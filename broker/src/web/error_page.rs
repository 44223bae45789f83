use axum::http::StatusCode;
use axum::response::Response;

use super::{escape, html_response};

/// An error shown to the user (never a redirect: used when the client cannot be trusted).
pub fn error_page(status: StatusCode, title: &str, detail: &str) -> Response {
    let body = format!(
        "<h1 class=\"theme-heading\">{}</h1><p class=\"dex-error-box\">{}</p><p class=\"dex-subtle-text\">Go back to the application and sign in again.</p>",
        escape(title),
        escape(detail)
    );
    html_response(status, title, &body)
}

/// The page for a storage failure: 503, so load balancers and users retry (the database may be
/// restarting); the cause goes to the log, not the page.
pub fn storage_error_page(e: &crate::storage::StorageError, doing: &str) -> Response {
    tracing::error!(error = %e, "{doing} failed");
    if e.is_unavailable() {
        error_page(
            StatusCode::SERVICE_UNAVAILABLE,
            "Temporarily unavailable",
            "Please try again in a moment.",
        )
    } else {
        error_page(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Something went wrong",
            "Please try again.",
        )
    }
}
