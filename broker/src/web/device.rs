//! The device flow's pages: enter the code shown on the device, and the outcome.

use axum::http::StatusCode;
use axum::response::Response;

use super::{escape, html_response};

/// The user-code form (`/device`), pre-filled from `?user_code=`, with an error after a
/// wrong or expired code.
pub fn device_code_page(
    status: StatusCode,
    action: &str,
    code: &str,
    error: Option<&str>,
) -> Response {
    let error = error
        .map(|e| {
            format!(
                "<p class=\"dex-error-box\" role=\"alert\">{}</p>",
                escape(e)
            )
        })
        .unwrap_or_default();
    let body = format!(
        r#"<h1 class="theme-heading">Connect a device</h1>{error}
<p id="user_code_hint">Enter the code the device shows you.</p>
<form method="post" action="{action}">
<label for="user_code" class="theme-form-label">Code</label>
<input type="text" id="user_code" name="user_code" value="{code}" class="theme-form-input theme-user-code" aria-describedby="user_code_hint" autocomplete="off" autocapitalize="characters" spellcheck="false" maxlength="32" required autofocus>
<button type="submit" class="dex-btn theme-btn--primary">Continue</button>
</form>"#,
        action = escape(action),
        code = escape(code),
    );
    html_response(status, "Connect a device", &body)
}

/// After the user approved: the device receives its tokens on its next poll.
pub fn device_approved_page(client_name: &str) -> Response {
    let body = format!(
        "<h1 class=\"theme-heading\">Device connected</h1><p><strong>{}</strong> is now signed in. You can close this \
         window and return to your device.</p>",
        escape(client_name)
    );
    html_response(StatusCode::OK, "Device connected", &body)
}

/// After the user refused: the device is told `access_denied`.
pub fn device_denied_page() -> Response {
    html_response(
        StatusCode::OK,
        "Device not connected",
        "<h1 class=\"theme-heading\">Device not connected</h1><p>You refused access. The device will not be signed in.</p>",
    )
}
