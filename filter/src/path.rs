//! Request-path normalisation for rule matching, so that encodings and dot-segments cannot
//! be used to slip past a route rule (`/public/..%2Fadmin`, `//admin`, `/./admin`).

/// The path part of a `:path` (query and fragment removed), percent-decoded once,
/// backslashes read as slashes, repeated slashes merged and dot-segments resolved.
/// `None` when the path is not absolute.
pub fn normalize_path(raw: &str) -> Option<String> {
    let end = raw.find(['?', '#']).unwrap_or(raw.len());
    let raw = &raw[..end];
    if !raw.starts_with('/') {
        return None;
    }
    let decoded = percent_decode(raw);
    let mut segments: Vec<&str> = Vec::new();
    for seg in decoded.split(['/', '\\']) {
        match seg {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    let mut out = String::with_capacity(decoded.len());
    for s in &segments {
        out.push('/');
        out.push_str(s);
    }
    // A trailing slash is kept: "/api/" and "/api" can be different resources upstream.
    if out.is_empty() || (decoded.ends_with(['/', '\\']) || decoded.ends_with("/.")) {
        out.push('/');
    }
    Some(out)
}

/// Decodes `%XX` escapes once; malformed escapes stay as written. Bytes that do not form
/// UTF-8 are replaced, which can only make a path match fewer rules, never more.
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_tricks() {
        let cases = [
            ("/", "/"),
            ("/a/b", "/a/b"),
            ("/a/b/", "/a/b/"),
            ("//admin", "/admin"),
            ("/./admin", "/admin"),
            ("/public/../admin", "/admin"),
            ("/public/..%2Fadmin", "/admin"),
            ("/public/%2e%2e/admin", "/admin"),
            ("/public\\..\\admin", "/admin"),
            ("/../../admin", "/admin"),
            ("/admin?x=/public", "/admin"),
            ("/admin#/public", "/admin"),
            ("/%61dmin", "/admin"),
            ("/a/.", "/a/"),
            ("/a/%zz", "/a/%zz"),
            ("/a%", "/a%"),
            ("/a%2", "/a%2"),
        ];
        for (input, want) in cases {
            assert_eq!(normalize_path(input).as_deref(), Some(want), "{input}");
        }
    }

    #[test]
    fn relative_paths_are_refused() {
        assert_eq!(normalize_path("admin"), None);
        assert_eq!(normalize_path(""), None);
        assert_eq!(normalize_path("*"), None);
    }
}
