//! Where to send the browser after login or sign-out: a same-origin path, never another site.
//! Browsers read `\` as `/` and drop tabs and newlines inside URLs, so `/\evil`, `/\t/evil`
//! and `//evil` would all leave the site if passed through.

use crate::path::percent_decode;

/// `candidate` if it is a safe same-origin path (with query), else `/`.
pub fn sanitize(candidate: &str) -> String {
    if is_safe(candidate) {
        candidate.to_string()
    } else {
        "/".to_string()
    }
}

pub fn is_safe(candidate: &str) -> bool {
    let raw_ok = candidate.len() <= 2048
        && candidate.starts_with('/')
        && !candidate.starts_with("//")
        && !candidate.contains('\\')
        && !candidate
            .chars()
            .any(|c| c.is_control() || c.is_whitespace());
    // Check the decoded form too, read as a browser would (tabs and newlines dropped,
    // `\` as `/`): `/%2F%2Fevil.example` or `/%09/evil.example` must not turn into
    // `//evil.example` after a later decode by the upstream or a redirect chain.
    raw_ok && {
        let decoded: String = percent_decode(candidate)
            .chars()
            .filter(|c| !c.is_control())
            .map(|c| if c == '\\' { '/' } else { c })
            .collect();
        !decoded.starts_with("//")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_same_origin_paths() {
        for ok in [
            "/",
            "/app",
            "/app/x?y=1&z=%20",
            "/@user",
            "/a@evil.example",
            "/a/b#frag",
        ] {
            assert_eq!(sanitize(ok), ok);
        }
    }

    #[test]
    fn refuses_off_site_patterns() {
        for bad in [
            "//evil.example",
            "/\\evil.example",
            "\\\\evil.example",
            "/%2F%2Fevil.example",
            "/%2f/evil.example",
            "/%5Cevil.example",
            "https:evil.example",
            "https://evil.example",
            "http:/evil.example",
            "evil.example",
            "/\t/evil.example",
            "/\n/evil.example",
            "/%09/evil.example",
            "/%0a/evil.example",
            "@evil.example",
            "//user@evil.example/",
            "",
            " /app",
            "javascript:alert(1)",
        ] {
            assert_eq!(sanitize(bad), "/", "{bad:?}");
        }
    }
}
