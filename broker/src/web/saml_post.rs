use axum::http::StatusCode;
use axum::response::Response;

use super::escape;
use super::layout::Page;

/// The HTTP-POST binding's hand-off page: a form carrying the AuthnRequest to the IdP. The page
/// runs no script (the CSP forbids it), so the user presses the button.
pub fn saml_post_page(url: &str, saml_request: &str, relay_state: &str) -> Response {
    let body = format!(
        "<h1 class=\"theme-heading\">Continue to sign in</h1>\
         <form method=\"post\" action=\"{}\">\
         <input type=\"hidden\" name=\"SAMLRequest\" value=\"{}\">\
         <input type=\"hidden\" name=\"RelayState\" value=\"{}\">\
         <button type=\"submit\" class=\"dex-btn theme-btn--primary\">Continue</button></form>",
        escape(url),
        escape(saml_request),
        escape(relay_state)
    );
    // The default CSP has no form-action, so posting to the IdP is allowed; say so explicitly.
    Page::new("Continue", body)
        .allow_forms_anywhere()
        .respond(StatusCode::OK)
}
