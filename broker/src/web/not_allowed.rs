use axum::http::StatusCode;
use axum::response::Response;

use super::{escape, html_response};

/// Signed in upstream, but the connector's group allow-list does not include the user.
pub fn not_allowed_page(detail: &str) -> Response {
    let body = format!(
        "<h1 class=\"theme-heading\">Not allowed</h1><p class=\"dex-error-box\">You signed in, but {}.</p><p class=\"dex-subtle-text\">Ask an administrator to add you to an allowed group.</p>",
        escape(detail)
    );
    html_response(StatusCode::FORBIDDEN, "Not allowed", &body)
}
