//! The frame around every page: document head, stylesheets, the header with the issuer's
//! logo and name, the `<main>` landmark, and the page's headers (no caching, no framing, a
//! strict Content-Security-Policy).
//!
//! Pages are built deep inside handlers that do not carry the config, so a page travels in
//! its response as a [`Page`] extension and [`crate::web::brand_pages`] (a layer that has the
//! [`Branding`]) renders it again with the configured name, logo and theme. The body a page
//! starts with is the same frame with Dex's defaults, so a page is complete without the layer.
//!
//! Class names follow Dex's templates (`theme-body`, `theme-navbar`, `theme-panel`,
//! `theme-heading`, `theme-form-input`, `dex-btn`, `theme-btn--primary`, …) so a Dex theme's
//! `styles.css` in `frontend.dir` styles these pages too.

use axum::body::Body;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::branding::Branding;
use super::escape;

/// One page's own parts; the frame is added by [`Page::render`].
#[derive(Debug, Clone)]
pub struct Page {
    title: String,
    body: String,
    /// Origins images may come from besides the broker (a client's logo).
    image_origins: Vec<String>,
    /// The SAML hand-off posts to the IdP.
    forms_anywhere: bool,
}

impl Page {
    /// `body`: markup whose interpolated values are already escaped.
    pub fn new(title: &str, body: String) -> Self {
        Page {
            title: title.to_string(),
            body,
            image_origins: Vec::new(),
            forms_anywhere: false,
        }
    }

    /// Lets images from `origin` (`https://cdn.example`) into the page's policy.
    pub fn allow_images_from(mut self, origin: String) -> Self {
        self.image_origins.push(origin);
        self
    }

    /// Says explicitly that the page's form may post to another site.
    pub fn allow_forms_anywhere(mut self) -> Self {
        self.forms_anywhere = true;
        self
    }

    /// The complete response, framed with Dex's defaults until the layer brands it.
    pub fn respond(self, status: StatusCode) -> Response {
        let mut response = (status, Body::empty()).into_response();
        self.apply(&Branding::default(), &mut response);
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        headers.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        );
        response.extensions_mut().insert(self);
        response
    }

    /// Replaces `response`'s body and policy with this page framed by `branding`.
    pub fn apply(&self, branding: &Branding, response: &mut Response) {
        *response.body_mut() = Body::from(self.render(branding));
        let headers = response.headers_mut();
        headers.remove(header::CONTENT_LENGTH);
        if let Ok(policy) = HeaderValue::from_str(&self.policy(branding)) {
            headers.insert(header::CONTENT_SECURITY_POLICY, policy);
        }
    }

    /// Styles and images from the broker only (plus the logos' origins); no script at all;
    /// never `unsafe-inline`: the page has no inline style.
    pub fn policy(&self, branding: &Branding) -> String {
        let mut images = vec!["'self'".to_string()];
        for origin in branding.logo_origin.iter().chain(&self.image_origins) {
            // An origin is scheme://host[:port]; anything else would widen the policy.
            if origin.chars().all(|c| {
                c.is_ascii_alphanumeric() || matches!(c, ':' | '/' | '.' | '-' | '[' | ']')
            }) && !images.contains(origin)
            {
                images.push(origin.clone());
            }
        }
        let mut policy = format!(
            "default-src 'none'; style-src 'self'; img-src {}; frame-ancestors 'none'",
            images.join(" ")
        );
        if self.forms_anywhere {
            policy.push_str("; form-action *");
        }
        policy
    }

    pub fn render(&self, b: &Branding) -> String {
        let base = escape(&b.base);
        let name = escape(&b.name);
        format!(
            "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
             <title>{title} · {name}</title>\
             <link rel=\"stylesheet\" href=\"{base}/static/main.css\">\
             <link rel=\"stylesheet\" href=\"{base}/theme/styles.css\">\
             <link rel=\"icon\" href=\"{base}/theme/favicon.png\"></head>\n\
             <body class=\"theme-body\">\
             <header class=\"theme-navbar\"><div class=\"theme-navbar__logo-wrap\">\
             <img class=\"theme-navbar__logo\" src=\"{logo}\" alt=\"\" height=\"32\">\
             <span class=\"theme-navbar__name\">{name}</span></div></header>\n\
             <main class=\"dex-container\"><div class=\"theme-panel\">{body}</div></main>\
             </body></html>\n",
            title = escape(&self.title),
            logo = escape(&b.logo_src),
            body = self.body,
        )
    }
}

/// A complete page with safe headers: no caching, no framing, no scripts.
pub fn html_response(status: StatusCode, title: &str, body: &str) -> Response {
    Page::new(title, body.to_string()).respond(status)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Frontend, Logo};

    #[test]
    fn the_frame_escapes_the_name_and_logo_and_links_the_theme() {
        let f = Frontend {
            issuer_name: "<b>Acme</b> \"SSO\"".into(),
            logo: Logo::Url("https://cdn.example/l.png?a=1&b=2".into()),
            ..Frontend::default()
        };
        let b = Branding::new(&f, "/dex");
        let html = Page::new("Sign in", "<h1>x</h1>".into()).render(&b);
        assert!(html.contains("<html lang=\"en\">"), "{html}");
        assert!(html.contains("<title>Sign in · &lt;b&gt;Acme&lt;/b&gt; &quot;SSO&quot;</title>"));
        assert!(
            html.contains("src=\"https://cdn.example/l.png?a=1&amp;b=2\""),
            "{html}"
        );
        assert!(html.contains("href=\"/dex/static/main.css\""));
        assert!(html.contains("href=\"/dex/theme/styles.css\""));
        assert!(!html.contains("<b>Acme"), "{html}");
        assert!(
            !html.contains("style=") && !html.contains("<style"),
            "no inline style"
        );
    }

    #[test]
    fn the_policy_lets_in_styles_from_self_and_the_logos_origins_only() {
        let f = Frontend {
            logo: Logo::Url("https://cdn.example/l.png".into()),
            ..Frontend::default()
        };
        let b = Branding::new(&f, "");
        let p = Page::new("t", String::new())
            .allow_images_from("https://client.example".into())
            .allow_images_from("https://x.example; script-src *".into())
            .policy(&b);
        assert_eq!(
            p,
            "default-src 'none'; style-src 'self'; img-src 'self' https://cdn.example https://client.example; frame-ancestors 'none'"
        );
        assert!(!p.contains("unsafe-inline"));
    }
}
