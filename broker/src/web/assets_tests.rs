//! Serving `frontend.dir` files: hostile paths, links out of the root, sizes, types, caching.

use std::path::Path;

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};

use super::*;
use crate::config::{Frontend, WebDir};

/// `frontend:` with `dir` = `root` (its static/ and themes/<theme>/ as they are on disk).
fn frontend(root: &Path, theme: &str) -> Frontend {
    let canon = |p: std::path::PathBuf| p.canonicalize().ok();
    Frontend {
        theme: theme.into(),
        dir: Some(WebDir {
            given: root.to_path_buf(),
            static_root: canon(root.join("static")),
            theme_root: canon(root.join("themes").join(theme)),
        }),
        ..Frontend::default()
    }
}

fn get(f: &Frontend, area: Area, path: &str) -> Response {
    asset_response(f, area, path, &HeaderMap::new())
}

async fn body(r: Response) -> Vec<u8> {
    axum::body::to_bytes(r.into_body(), 4 << 20)
        .await
        .unwrap()
        .to_vec()
}

fn web_root() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("static/img")).unwrap();
    std::fs::create_dir_all(dir.path().join("themes/acme")).unwrap();
    std::fs::write(dir.path().join("static/main.css"), "body{color:red}").unwrap();
    std::fs::write(dir.path().join("static/img/x.svg"), "<svg/>").unwrap();
    std::fs::write(dir.path().join("themes/acme/styles.css"), ".theme-body{}").unwrap();
    dir
}

#[tokio::test]
async fn the_users_files_serve_with_their_type_and_cache_headers() {
    let dir = web_root();
    let f = frontend(dir.path(), "acme");
    let r = get(&f, Area::Static, "main.css");
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()[header::CONTENT_TYPE], "text/css; charset=utf-8");
    assert_eq!(r.headers()[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert_eq!(r.headers()[header::CACHE_CONTROL], "public, max-age=600");
    assert!(r.headers().contains_key(header::ETAG));
    assert_eq!(body(r).await, b"body{color:red}");
    let svg = get(&f, Area::Static, "img/x.svg");
    assert_eq!(svg.headers()[header::CONTENT_TYPE], "image/svg+xml");
    assert_eq!(
        svg.headers()[header::CONTENT_SECURITY_POLICY],
        "default-src 'none'; sandbox"
    );
    assert_eq!(
        body(get(&f, Area::Theme, "styles.css")).await,
        b".theme-body{}"
    );
}

#[tokio::test]
async fn what_the_dir_lacks_comes_from_the_built_in_files() {
    let dir = web_root();
    let f = frontend(dir.path(), "acme");
    // themes/acme has no logo: light's (Dex's default theme) serves.
    let logo = get(&f, Area::Theme, "logo.png");
    assert_eq!(logo.status(), StatusCode::OK);
    assert_eq!(logo.headers()[header::CONTENT_TYPE], "image/png");
    assert!(body(logo).await.starts_with(b"\x89PNG"));
    // No dir at all: the built-in theme chosen.
    let dark = Frontend {
        theme: "dark".into(),
        ..Frontend::default()
    };
    let css = String::from_utf8(body(get(&dark, Area::Theme, "styles.css")).await).unwrap();
    assert!(css.contains("color-scheme: dark"), "{css}");
    assert_eq!(
        get(&dark, Area::Theme, "nothing.png").status(),
        StatusCode::NOT_FOUND
    );
}

#[test]
fn traversal_in_any_spelling_is_refused() {
    let dir = web_root();
    std::fs::write(dir.path().join("secret.txt"), "secret").unwrap();
    let f = frontend(dir.path(), "acme");
    for bad in [
        "../secret.txt",
        "/../secret.txt",
        "img/../../secret.txt",
        "%2e%2e/secret.txt",
        "..%2fsecret.txt",
        "....//secret.txt",
        "/etc/passwd",
        "//etc/passwd",
        "..\\secret.txt",
    ] {
        let r = get(&f, Area::Static, bad);
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{bad}");
    }
    // An absolute-looking path stays inside the root: /etc/passwd means static/etc/passwd.
    assert_eq!(
        get(&f, Area::Static, "/etc/passwd").status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn a_symlink_out_of_the_root_is_refused_and_one_inside_followed() {
    let dir = web_root();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("passwd.css"), "secret").unwrap();
    std::os::unix::fs::symlink(
        outside.path().join("passwd.css"),
        dir.path().join("static/leak.css"),
    )
    .unwrap();
    std::os::unix::fs::symlink(outside.path(), dir.path().join("static/linked")).unwrap();
    // Kubernetes' ConfigMap layout: files link into ..data/ inside the same mount.
    std::fs::create_dir_all(dir.path().join("static/..data")).unwrap();
    std::fs::write(dir.path().join("static/..data/cm.css"), "ok").unwrap();
    std::os::unix::fs::symlink("..data/cm.css", dir.path().join("static/cm.css")).unwrap();
    // A dangling link.
    std::os::unix::fs::symlink("/nonexistent/x.css", dir.path().join("static/gone.css")).unwrap();
    let f = frontend(dir.path(), "acme");
    assert_eq!(
        get(&f, Area::Static, "leak.css").status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get(&f, Area::Static, "linked/passwd.css").status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get(&f, Area::Static, "gone.css").status(),
        StatusCode::NOT_FOUND
    );
    let cm = get(&f, Area::Static, "cm.css");
    assert_eq!(cm.status(), StatusCode::OK);
    assert_eq!(body(cm).await, b"ok");
    // The hidden ..data itself is not addressable.
    assert_eq!(
        get(&f, Area::Static, "..data/cm.css").status(),
        StatusCode::NOT_FOUND
    );
}

#[test]
fn huge_files_directories_and_unknown_types_are_not_served() {
    let dir = web_root();
    let big = std::fs::File::create(dir.path().join("static/huge.png")).unwrap();
    big.set_len(MAX_FILE_BYTES + 1).unwrap();
    std::fs::write(dir.path().join("static/app.js"), "alert(1)").unwrap();
    std::fs::write(dir.path().join("static/page.html"), "<script>").unwrap();
    std::fs::create_dir_all(dir.path().join("static/dir.css")).unwrap();
    let f = frontend(dir.path(), "acme");
    for path in ["huge.png", "app.js", "page.html", "dir.css", "img"] {
        assert_eq!(
            get(&f, Area::Static, path).status(),
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    // Exactly the limit is fine.
    let ok = std::fs::File::create(dir.path().join("static/limit.png")).unwrap();
    ok.set_len(MAX_FILE_BYTES).unwrap();
    assert_eq!(get(&f, Area::Static, "limit.png").status(), StatusCode::OK);
}

#[test]
fn a_matching_etag_gets_not_modified() {
    let f = Frontend::default();
    let first = get(&f, Area::Static, "main.css");
    let etag = first.headers()[header::ETAG].clone();
    let mut h = HeaderMap::new();
    h.insert(header::IF_NONE_MATCH, etag.clone());
    let again = asset_response(&f, Area::Static, "main.css", &h);
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(again.headers()[header::ETAG], etag);
    h.insert(header::IF_NONE_MATCH, HeaderValue::from_static("\"other\""));
    assert_eq!(
        asset_response(&f, Area::Static, "main.css", &h).status(),
        StatusCode::OK
    );
}
