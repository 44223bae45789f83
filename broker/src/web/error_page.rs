use axum::http::StatusCode;
use axum::response::Response;

use super::{escape, html_response};

/// An error shown to the user (never a redirect: used when the client cannot be trusted).
pub fn error_page(status: StatusCode, title: &str, detail: &str) -> Response {
    let body = format!(
        "<h1>{}</h1><p class=\"error\">{}</p><p class=\"muted\">Go back to the application and sign in again.</p>",
        escape(title),
        escape(detail)
    );
    html_response(status, title, &body)
}
