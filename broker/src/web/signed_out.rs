use axum::http::StatusCode;
use axum::response::Response;

use super::html_response;

/// Shown after sign-out when there is no (allowed) place to send the browser back to.
pub fn signed_out_page() -> Response {
    html_response(
        StatusCode::OK,
        "Signed out",
        "<h1 class=\"theme-heading\">You are signed out</h1><p>You can close this window, or go back to the application to sign in again.</p>",
    )
}
