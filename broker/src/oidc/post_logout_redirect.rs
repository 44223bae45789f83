//! Which `post_logout_redirect_uri` a client may send the browser to after sign-out.
//!
//! Two rules, tried in order:
//! 1. **Exact match** with one of the client's `postLogoutRedirectURIs` (a Gatehouse extension
//!    key of `staticClients`; compared byte for byte, as redirect URIs are).
//! 2. **Same-origin fallback**: an `http`/`https` URI whose origin (scheme, host, port) equals
//!    the origin of one of the client's `redirectURIs`, and whose path is a plain absolute path.
//!    The client already receives codes at that origin, so returning there after sign-out gives
//!    an attacker nothing new, and gateways (the filter's `rd`) need not list every page.
//!    "Plain" means: the URI is written exactly as its canonical form (no `\`, no `.`/`..`
//!    segments, no default port spelled out, nothing left for a browser to rewrite), has no
//!    user info and no fragment, its path starts with one `/` (never `//`), and holds no
//!    percent-encoded `.`, `/` or `\`. A query is allowed.
//!
//! Anything else is refused: the end-session endpoint then shows its own signed-out page.

use url::Url;

use crate::config::Client;

/// The URI to redirect to, or None when `uri` is not an allowed target for `client`.
pub fn allowed_target(client: &Client, uri: &str) -> Option<String> {
    if client.post_logout_redirect_uris.iter().any(|r| r == uri) {
        return Some(uri.to_string());
    }
    let parsed = plain_http_url(uri)?;
    let origin = parsed.origin();
    client
        .redirect_uris
        .iter()
        .filter_map(|r| Url::parse(r).ok())
        .any(|r| matches!(r.scheme(), "http" | "https") && r.origin() == origin)
        .then(|| parsed.to_string())
}

fn plain_http_url(uri: &str) -> Option<Url> {
    let parsed = Url::parse(uri).ok()?;
    let plain = matches!(parsed.scheme(), "http" | "https")
        && parsed.as_str() == uri
        && parsed.host().is_some()
        && parsed.username().is_empty()
        && parsed.password().is_none()
        && parsed.fragment().is_none()
        && parsed.path().starts_with('/')
        && !parsed.path().starts_with("//")
        && !has_encoded_separator(parsed.path());
    plain.then_some(parsed)
}

/// `%2e`, `%2f`, `%5c` in any case: a path that decodes into other segments later.
fn has_encoded_separator(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    ["%2e", "%2f", "%5c"].iter().any(|e| lower.contains(e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client() -> Client {
        Client {
            id: "app".into(),
            secret: None,
            name: "App".into(),
            redirect_uris: vec![
                "http://127.0.0.1:8080/oauth2/callback".into(),
                "myapp:/callback".into(),
            ],
            post_logout_redirect_uris: vec!["https://app.example/signed-out?from=sso".into()],
            public: true,
            trusted_peers: Vec::new(),
            logo_url: None,
            backchannel_logout_uri: None,
            client_credentials_groups: Vec::new(),
        }
    }

    #[test]
    fn exact_registered_uri_is_allowed_as_written() {
        let c = client();
        assert_eq!(
            allowed_target(&c, "https://app.example/signed-out?from=sso").as_deref(),
            Some("https://app.example/signed-out?from=sso")
        );
        // Only that exact URI of that origin: no fallback to a registered logout URI's origin.
        assert_eq!(allowed_target(&c, "https://app.example/other"), None);
    }

    #[test]
    fn same_origin_plain_paths_are_allowed() {
        let c = client();
        for ok in [
            "http://127.0.0.1:8080/",
            "http://127.0.0.1:8080/bye",
            "http://127.0.0.1:8080/a/b?x=1&y=%20z",
        ] {
            assert_eq!(allowed_target(&c, ok).as_deref(), Some(ok), "{ok}");
        }
    }

    #[test]
    fn everything_else_is_refused() {
        let c = client();
        for bad in [
            "https://evil.example",
            "https://evil.example/",
            "//evil.example",
            "/bye",
            "http://127.0.0.1:8080//evil.example",
            "http://127.0.0.1:8080@evil.example/",
            "http://user@127.0.0.1:8080/bye",
            "http://127.0.0.1:8081/bye",
            "https://127.0.0.1:8080/bye",
            "http://127.0.0.1:8080",
            "http://127.0.0.1:8080/a/../b",
            "http://127.0.0.1:8080/a/./b",
            "http://127.0.0.1:8080\\evil.example",
            "http://127.0.0.1:8080/%2e%2e/x",
            "http://127.0.0.1:8080/a%2Fb",
            "http://127.0.0.1:8080/a%5cb",
            "http://127.0.0.1:8080/bye#frag",
            "http://127.0.0.1:8080/b ye",
            "HTTP://127.0.0.1:8080/bye",
            "javascript:alert(1)",
            "myapp:/callback",
            "myapp:/other",
            "",
        ] {
            assert_eq!(allowed_target(&c, bad), None, "{bad}");
        }
    }
}
