//! Local answers: small HTML pages for browsers, JSON for API clients. Nothing from the
//! request is echoed into them.

/// A response the filter sends itself. Its `set-cookie` headers are in order of need: the
/// first is the one the response depends on (the login cookie of a redirect to the broker,
/// the session's first part after a callback, the session part a sign-out removes), the rest
/// are clean-ups and further chunks. See [`LocalResponse::split_cookies`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalResponse {
    pub status: u32,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

impl LocalResponse {
    pub fn redirect(location: String, cookies: Vec<String>) -> LocalResponse {
        let mut headers = vec![
            ("location", location),
            ("cache-control", "no-store".to_string()),
        ];
        headers.extend(cookies.into_iter().map(|c| ("set-cookie", c)));
        LocalResponse {
            status: 302,
            headers,
            body: String::new(),
        }
    }

    pub fn json(status: u32, body: String) -> LocalResponse {
        LocalResponse {
            status,
            headers: vec![
                ("content-type", "application/json".to_string()),
                ("cache-control", "no-store".to_string()),
            ],
            body,
        }
    }

    pub fn with_cookies(mut self, cookies: Vec<String>) -> LocalResponse {
        self.headers
            .extend(cookies.into_iter().map(|c| ("set-cookie", c)));
        self
    }

    /// The headers to send the response with, holding at most one `set-cookie` (the first),
    /// and the other `Set-Cookie` values, to be *added* to the response once the host passes
    /// it to the filter's response-header callback.
    ///
    /// Kong's host sets a local response's headers one by one in "set" mode, so of several
    /// `set-cookie`s only the last would survive; adding a header in the response-header
    /// callback appends on both hosts, and both run that callback on a filter's own local
    /// response as on an upstream's. Should a host not, only the extra values are lost.
    pub fn split_cookies(self) -> (LocalResponse, Vec<String>) {
        let mut extra = Vec::new();
        let mut kept_one = false;
        let mut headers = Vec::with_capacity(self.headers.len());
        for (k, v) in self.headers {
            if k != "set-cookie" {
                headers.push((k, v));
            } else if !kept_one {
                kept_one = true;
                headers.push((k, v));
            } else {
                extra.push(v);
            }
        }
        (LocalResponse { headers, ..self }, extra)
    }
}

/// Which kind of page a problem gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    /// 401: not signed in (API clients only; browsers are redirected).
    Unauthenticated,
    /// 401: a bearer token was sent but refused (RFC 6750 `invalid_token`).
    InvalidToken,
    /// 403: signed in but not allowed by the rule.
    Forbidden,
    /// 403: the login could not be completed (bad state, refused code, bad token).
    LoginFailed,
    /// 503: the broker or its keys are not available.
    Unavailable,
    /// 400: a malformed request to one of the filter's own paths.
    BadRequest,
}

impl Problem {
    fn parts(self) -> (u32, &'static str, &'static str, &'static str) {
        match self {
            Problem::Unauthenticated => (401, "unauthorized", "Sign-in required", "This resource needs a signed-in user."),
            Problem::InvalidToken => (
                401,
                "invalid_token",
                "Invalid token",
                "The access token is invalid or expired.",
            ),
            Problem::Forbidden => (403, "forbidden", "Access denied", "You are signed in, but your account is not allowed to open this page."),
            Problem::LoginFailed => (403, "login_failed", "Sign-in failed", "The sign-in could not be completed. It may have expired or been opened in another browser. Please try again."),
            Problem::Unavailable => (503, "unavailable", "Sign-in unavailable", "The sign-in service cannot be reached right now. Please try again in a moment."),
            Problem::BadRequest => (400, "bad_request", "Bad request", "The request could not be understood."),
        }
    }

    pub fn response(self, api: bool, realm: &str) -> LocalResponse {
        let (status, code, title, text) = self.parts();
        let mut resp = if api {
            LocalResponse::json(
                status,
                format!(r#"{{"error":"{code}","message":"{text}"}}"#),
            )
        } else {
            LocalResponse {
                status,
                headers: vec![
                    ("content-type", "text/html; charset=utf-8".to_string()),
                    ("cache-control", "no-store".to_string()),
                ],
                body: html(title, text, status == 403 || status == 401),
            }
        };
        if self == Problem::InvalidToken {
            resp.headers.push((
                "www-authenticate",
                format!("Bearer realm=\"{realm}\", error=\"invalid_token\""),
            ));
        } else if status == 401 {
            resp.headers
                .push(("www-authenticate", format!("Bearer realm=\"{realm}\"")));
        }
        if status == 503 {
            resp.headers.push(("retry-after", "5".to_string()));
        }
        resp
    }
}

fn html(title: &str, text: &str, offer_sign_out: bool) -> String {
    let action = if offer_sign_out {
        r#"<p><a href="/oauth2/sign_out">Sign in as someone else</a></p>"#
    } else {
        r#"<p><a href="/">Try again</a></p>"#
    };
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">\
<title>{title}</title><style>body{{font-family:system-ui,sans-serif;background:#f4f5f7;color:#1d2330;display:flex;min-height:90vh;align-items:center;justify-content:center}}\
main{{background:#fff;padding:2rem 2.5rem;border-radius:10px;box-shadow:0 2px 12px #0001;max-width:32rem}}h1{{font-size:1.4rem;margin-top:0}}a{{color:#2456c8}}</style></head>\
<body><main><h1>{title}</h1><p>{text}</p>{action}</main></body></html>"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_local_response_keeps_its_first_cookie_and_defers_the_rest() {
        let r = LocalResponse::redirect("/x".into(), vec!["a=1".into(), "b=;Max-Age=0".into()])
            .with_cookies(vec!["c=;Max-Age=0".into()]);
        let (sent, extra) = r.clone().split_cookies();
        let cookies: Vec<_> = sent
            .headers
            .iter()
            .filter(|(k, _)| *k == "set-cookie")
            .collect();
        assert_eq!(cookies, [&("set-cookie", "a=1".to_string())]);
        assert_eq!(extra, ["b=;Max-Age=0", "c=;Max-Age=0"]);
        assert_eq!(sent.headers.len(), r.headers.len() - 2);
        let (plain, none) = LocalResponse::json(200, "{}".into()).split_cookies();
        assert!(none.is_empty() && plain.headers.len() == 2);
    }

    #[test]
    fn api_gets_json_and_challenge() {
        let r = Problem::Unauthenticated.response(true, "gatehouse");
        assert_eq!(r.status, 401);
        assert!(r
            .headers
            .iter()
            .any(|(k, v)| *k == "www-authenticate" && v.starts_with("Bearer")));
        assert!(serde_json::from_str::<serde_json::Value>(&r.body).is_ok());
        let r = Problem::Forbidden.response(false, "gatehouse");
        assert_eq!(r.status, 403);
        assert!(r.body.starts_with("<!doctype html>"));
    }
}
