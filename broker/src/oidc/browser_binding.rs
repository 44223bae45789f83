//! Ties a signed-in auth request to the browser that completed the connector login, so the
//! request id alone (which the attacker's own browser was sent to) cannot view, approve or deny
//! someone else's sign-in — the class of Dex's CVE-2022-39222.
//!
//! The response that completes the login (the password form's POST, the upstream's GET
//! `/callback`, the SAML POST to `/callback`) sets an HttpOnly cookie holding a fresh secret;
//! the request stores only its SHA-256. A cookie rather than a secret in the URL: it never shows
//! in Referer headers, proxy logs or history, and it is set by the very response that ends every
//! connector's login — SameSite only limits when a cookie is sent, not when it is set, so the
//! cross-site SAML POST works too. The approval page is reached by a top-level GET and posts to
//! itself, so `SameSite=Lax` is sent on both. One cookie per request, so two sign-ins in two tabs
//! do not overwrite each other's.

use axum::http::{header, HeaderMap, HeaderValue};
use subtle::ConstantTimeEq;

use super::AppState;
use crate::random::{hash_secret, random_token};

const COOKIE_PREFIX: &str = "gatehouse_approval_";

/// A fresh binding: the secret goes to the browser, the hash to storage.
pub struct Binding {
    secret: String,
    pub hash: String,
}

impl Binding {
    /// A fresh secret for one browser, and the hash storage keeps.
    pub fn generate() -> Self {
        let secret = random_token();
        let hash = hash_secret(&secret);
        Binding { secret, hash }
    }

    /// The `Set-Cookie` that hands the secret to the browser completing the login.
    pub fn set_cookie(&self, app: &AppState, request_id: &str, max_age_secs: i64) -> HeaderValue {
        cookie(app, request_id, &self.secret, max_age_secs.max(1))
    }
}

/// Expires the request's cookie (once the request is finished either way).
pub fn clear_cookie(app: &AppState, request_id: &str) -> HeaderValue {
    cookie(app, request_id, "", 0)
}

/// Named after the request (a hash of its id, so the name reveals nothing usable).
fn cookie_name(request_id: &str) -> String {
    let digest = hash_secret(request_id);
    format!("{COOKIE_PREFIX}{}", &digest[..22])
}

fn cookie(app: &AppState, request_id: &str, value: &str, max_age_secs: i64) -> HeaderValue {
    let secure = if app.config.issuer.url.starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    let text = format!(
        "{}={value}; Path={}; Max-Age={max_age_secs}; HttpOnly; SameSite=Lax{secure}",
        cookie_name(request_id),
        app.path("/approval"),
    );
    // Only base64url characters and the issuer path (a valid URL path) go in.
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static("x=; Max-Age=0"))
}

/// True when the request's cookie is present and its secret hashes to `stored_hash`
/// (compared in constant time). No stored hash (not signed in yet) never matches.
pub fn presented(headers: &HeaderMap, request_id: &str, stored_hash: Option<&str>) -> bool {
    let Some(stored_hash) = stored_hash else {
        return false;
    };
    let name = cookie_name(request_id);
    let mut matched = false;
    for value in headers.get_all(header::COOKIE) {
        let Ok(text) = value.to_str() else { continue };
        for pair in text.split(';') {
            let Some((k, v)) = pair.trim().split_once('=') else {
                continue;
            };
            if k == name {
                let ok: bool = hash_secret(v)
                    .as_bytes()
                    .ct_eq(stored_hash.as_bytes())
                    .into();
                matched |= ok;
            }
        }
    }
    matched
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(cookie: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_str(cookie).unwrap());
        h
    }

    #[test]
    fn only_the_secret_of_this_request_matches() {
        let b = Binding::generate();
        let name = cookie_name("req-1");
        let right = headers(&format!("other=1; {name}={}", b.secret));
        assert!(presented(&right, "req-1", Some(&b.hash)));
        assert!(
            !presented(&right, "req-2", Some(&b.hash)),
            "another request"
        );
        assert!(!presented(&right, "req-1", None), "not signed in");
        let wrong = headers(&format!("{name}=guess"));
        assert!(!presented(&wrong, "req-1", Some(&b.hash)));
        assert!(!presented(&HeaderMap::new(), "req-1", Some(&b.hash)));
        // The stored value is the hash: presenting the hash itself is not the secret.
        let hash = headers(&format!("{name}={}", b.hash));
        assert!(!presented(&hash, "req-1", Some(&b.hash)));
    }
}
