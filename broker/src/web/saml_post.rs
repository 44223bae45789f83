use axum::http::StatusCode;
use axum::response::Response;

use super::{escape, html_response};

/// The HTTP-POST binding's hand-off page: a form carrying the AuthnRequest to the IdP. The page
/// runs no script (the CSP forbids it), so the user presses the button.
pub fn saml_post_page(url: &str, saml_request: &str, relay_state: &str) -> Response {
    let body = format!(
        "<h1>Continue to sign in</h1>\
         <form method=\"post\" action=\"{}\">\
         <input type=\"hidden\" name=\"SAMLRequest\" value=\"{}\">\
         <input type=\"hidden\" name=\"RelayState\" value=\"{}\">\
         <button type=\"submit\">Continue</button></form>",
        escape(url),
        escape(saml_request),
        escape(relay_state)
    );
    let mut response = html_response(StatusCode::OK, "Continue", &body);
    // The default CSP has no form-action, so posting to the IdP is allowed; say so explicitly.
    response.headers_mut().insert(
        axum::http::header::CONTENT_SECURITY_POLICY,
        axum::http::HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; form-action *",
        ),
    );
    response
}
