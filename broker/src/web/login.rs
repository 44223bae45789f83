use axum::http::StatusCode;
use axum::response::Response;

use super::{escape, html_response};

pub struct LoginForm<'a> {
    /// Where the form posts to.
    pub action: &'a str,
    pub request_id: &'a str,
    pub prompt: &'a str,
    /// Shown back after a failed attempt (never the password).
    pub login: &'a str,
    pub error: Option<&'a str>,
}

pub fn login_page(status: StatusCode, form: &LoginForm<'_>) -> Response {
    let error = form
        .error
        .map(|e| {
            format!(
                "<p class=\"dex-error-box\" role=\"alert\">{}</p>",
                escape(e)
            )
        })
        .unwrap_or_default();
    let body = format!(
        r#"<h1 class="theme-heading">Sign in</h1>{error}
<form method="post" action="{action}">
<input type="hidden" name="req" value="{req}">
<label for="login" class="theme-form-label">{prompt}</label>
<input type="{kind}" id="login" name="login" value="{login}" class="theme-form-input" autocomplete="username" required{autofocus_login}>
<label for="password" class="theme-form-label">Password</label>
<input type="password" id="password" name="password" class="theme-form-input" autocomplete="current-password" required{autofocus_password}>
<button type="submit" class="dex-btn theme-btn--primary">Sign in</button>
</form>"#,
        action = escape(form.action),
        req = escape(form.request_id),
        prompt = escape(form.prompt),
        login = escape(form.login),
        // A directory's username (uid, sAMAccountName) is no e-mail address: the browser must
        // not insist on one.
        kind = if form.prompt.to_lowercase().contains("email") {
            "email"
        } else {
            "text"
        },
        autofocus_login = if form.login.is_empty() {
            " autofocus"
        } else {
            ""
        },
        autofocus_password = if form.login.is_empty() {
            ""
        } else {
            " autofocus"
        },
    );
    html_response(status, "Sign in", &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn escapes_everything() {
        let r = login_page(
            StatusCode::UNAUTHORIZED,
            &LoginForm {
                action: "/dex/auth/local",
                request_id: "\"><script>",
                prompt: "Email",
                login: "<b>x</b>",
                error: Some("<i>bad</i>"),
            },
        );
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        let body = axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap();
        let body = String::from_utf8(body.to_vec()).unwrap();
        assert!(!body.contains("<script>") && !body.contains("<b>x") && !body.contains("<i>bad"));
        assert!(body.contains("&lt;i&gt;bad"));
    }
}
