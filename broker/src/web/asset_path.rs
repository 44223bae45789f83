//! Which request paths under `{issuer}/static/` and `{issuer}/theme/` name a file, and its
//! content type. Pure: the file system is `assets.rs`'s.
//!
//! The path arrives percent-decoded (axum's `Path`), so `%2e%2e` is already `..` here and is
//! refused like a literal one; a `%` left after decoding (double encoding) is refused too.

/// Which of Dex's two asset trees a request is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Area {
    /// `{issuer}/static/`: `dir/static/`.
    Static,
    /// `{issuer}/theme/`: `dir/themes/<theme>/`.
    Theme,
}

/// Deeper than Dex's own layout (`static/img/x.svg`) with room to spare.
const MAX_SEGMENTS: usize = 8;
const MAX_PATH_BYTES: usize = 512;

/// `path` as a relative file path (`img/logo.svg`), or None: empty, too long or deep, an
/// empty, `.`, `..` or hidden (`.git`, `..data`) segment, or a character other than ASCII
/// letters, digits and `. _ - + @` (no `\`, `:`, `%`, NUL or spaces).
pub fn file_path(path: &str) -> Option<String> {
    let path = path.strip_prefix('/').unwrap_or(path);
    if path.is_empty() || path.len() > MAX_PATH_BYTES {
        return None;
    }
    let segments: Vec<&str> = path.split('/').collect();
    if segments.len() > MAX_SEGMENTS {
        return None;
    }
    let plain = |s: &&str| {
        !s.is_empty()
            && !s.starts_with('.')
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '+' | '@'))
    };
    segments.iter().all(plain).then(|| segments.join("/"))
}

/// The type a browser gets for a file of this name; None: not served (scripts among them:
/// the pages' policy runs none, so there is no reason to serve one).
pub fn content_type(path: &str) -> Option<&'static str> {
    let ext = path.rsplit_once('.')?.1.to_ascii_lowercase();
    Some(match ext.as_str() {
        "css" => "text/css; charset=utf-8",
        "png" => "image/png",
        "svg" => "image/svg+xml",
        "ico" => "image/x-icon",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "woff" => "font/woff",
        "woff2" => "font/woff2",
        "ttf" => "font/ttf",
        "otf" => "font/otf",
        "txt" => "text/plain; charset=utf-8",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_relative_paths_are_files() {
        assert_eq!(file_path("main.css").as_deref(), Some("main.css"));
        assert_eq!(
            file_path("/img/github-icon.svg").as_deref(),
            Some("img/github-icon.svg")
        );
    }

    #[test]
    fn traversal_hidden_and_odd_paths_are_refused() {
        for bad in [
            "",
            "/",
            "..",
            "../config.yaml",
            "img/../../etc/passwd",
            "./main.css",
            "img//x.png",
            ".git/config",
            "..data/styles.css",
            "%2e%2e/x.css",
            "%252e%252e/x.css",
            "a\\..\\b.css",
            "/etc/passwd/",
            "C:/x.css",
            "x.css\0.png",
            "with space.css",
            "caf\u{e9}.css",
        ] {
            assert_eq!(file_path(bad), None, "{bad:?}");
        }
        assert_eq!(file_path("a/".repeat(9).trim_end_matches('/')), None);
        assert_eq!(file_path(&"a".repeat(600)), None);
    }

    #[test]
    fn only_known_types_are_served() {
        assert_eq!(content_type("styles.css"), Some("text/css; charset=utf-8"));
        assert_eq!(content_type("LOGO.PNG"), Some("image/png"));
        assert_eq!(content_type("x.svg"), Some("image/svg+xml"));
        for bad in ["app.js", "index.html", "config.yaml", "noext", "x.mjs"] {
            assert_eq!(content_type(bad), None, "{bad}");
        }
    }
}
