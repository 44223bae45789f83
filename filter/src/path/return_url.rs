//! Where to send the browser after login or sign-out: a same-origin path, never another site.
//! Browsers read `\` as `/` and drop tabs and newlines inside URLs, so `/\evil`, `/\t/evil`
//! and `//evil` would all leave the site if passed through; and they resolve dot segments, so
//! `/.//evil` and `/a/..//evil` become `//evil`, another site once re-read as a URL.

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
        // Both readings, with dot segments resolved as a browser does.
        [candidate, decoded.as_str()].iter().all(|form| {
            let path = form.split(['?', '#']).next().unwrap_or_default();
            !path.starts_with("//") && !resolve_dots(path).starts_with("//")
        })
    }
}

/// RFC 3986 §5.2.4 dot-segment removal for an absolute path (empty segments kept).
fn resolve_dots(path: &str) -> String {
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    let last = segments.len().saturating_sub(1);
    let mut out: Vec<&str> = Vec::with_capacity(segments.len());
    for (i, seg) in segments.iter().enumerate() {
        match *seg {
            "." | ".." => {
                if *seg == ".." {
                    out.pop();
                }
                // A final dot segment leaves a trailing slash behind.
                if i == last {
                    out.push("");
                }
            }
            s => out.push(s),
        }
    }
    let mut resolved = String::with_capacity(path.len());
    for s in out {
        resolved.push('/');
        resolved.push_str(s);
    }
    if resolved.is_empty() {
        resolved.push('/');
    }
    resolved
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_dot_segments_like_rfc_3986() {
        for (input, want) in [
            ("/", "/"),
            ("/a/b/../c", "/a/c"),
            ("/a/./b", "/a/b"),
            ("/a/..", "/"),
            ("/a/.", "/a/"),
            ("/../..", "/"),
            ("/.//x", "//x"),
            ("/a/..//x", "//x"),
        ] {
            assert_eq!(resolve_dots(input), want, "{input}");
        }
    }

    #[test]
    fn keeps_same_origin_paths() {
        for ok in [
            "/",
            "/app",
            "/app/x?y=1&z=%20",
            "/@user",
            "/a@evil.example",
            "/a/b#frag",
            "/./app",
            "/a/../b",
            "/a/.",
            "/a/..",
            "/app?rd=//evil.example",
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
            // Dot segments that resolve to `//host`.
            "/.//evil.example",
            "/./\\/evil.example",
            "/..//evil.example",
            "/a/..//evil.example",
            "/a/b/../..//evil.example",
            "/%2e//evil.example",
            "/%2E%2E//evil.example",
            "/.%2F/evil.example",
            "/./%2Fevil.example",
            "/a/%2e%2e/%2Fevil.example",
            "/.%09//evil.example",
            "/x/.././/evil.example?y",
        ] {
            assert_eq!(sanitize(bad), "/", "{bad:?}");
        }
    }
}
