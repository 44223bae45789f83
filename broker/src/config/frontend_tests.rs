//! `frontend:` key by key, through the whole config loader so the errors carry their paths.

use super::*;
use crate::config::Config;

fn yaml(frontend: &str) -> String {
    format!(
        "issuer: http://127.0.0.1:5556/dex\nstorage:\n  type: memory\nweb:\n  http: 127.0.0.1:5556\nenablePasswordDB: true\nfrontend:\n{frontend}"
    )
}

fn load(frontend: &str) -> Result<Config, String> {
    Config::from_yaml(&yaml(frontend)).map_err(|e| e.to_string())
}

fn err(frontend: &str) -> String {
    load(frontend).unwrap_err()
}

/// A Dex web directory: static/, themes/<each>/ with a styles.css, templates/ with one file.
fn web_dir(themes: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("static")).unwrap();
    std::fs::write(dir.path().join("static/main.css"), "body{}").unwrap();
    for t in themes {
        std::fs::create_dir_all(dir.path().join("themes").join(t)).unwrap();
        std::fs::write(dir.path().join("themes").join(t).join("styles.css"), "a{}").unwrap();
    }
    std::fs::create_dir_all(dir.path().join("templates")).unwrap();
    std::fs::write(dir.path().join("templates/login.html"), "{{ issuer }}").unwrap();
    dir
}

#[test]
fn no_block_gives_dex_defaults_with_our_name() {
    let c = Config::from_yaml(
        "issuer: http://127.0.0.1:5556/dex\nstorage:\n  type: memory\nweb:\n  http: 127.0.0.1:5556\nenablePasswordDB: true\n",
    )
    .unwrap();
    assert_eq!(c.frontend.issuer_name, "Gatehouse");
    assert_eq!(c.frontend.theme, "light");
    assert_eq!(c.frontend.logo, Logo::UnderIssuer("theme/logo.png".into()));
    assert!(c.frontend.dir.is_none());
}

#[test]
fn dex_keys_load_case_insensitively() {
    let c = load("  Issuer: Acme SSO\n  logoUrl: https://cdn.example/acme.png\n  THEME: dark\n")
        .unwrap();
    assert_eq!(c.frontend.issuer_name, "Acme SSO");
    assert_eq!(c.frontend.theme, "dark");
    assert_eq!(
        c.frontend.logo,
        Logo::Url("https://cdn.example/acme.png".into())
    );
}

#[test]
fn unknown_key_in_the_block_is_refused_with_its_path() {
    let e = err("  themes: dark\n");
    assert!(e.contains("frontend.themes") && e.contains("theme"), "{e}");
}

#[test]
fn unknown_theme_is_refused_naming_the_key_and_the_fix() {
    let e = err("  theme: solarized\n");
    assert!(e.starts_with("frontend.theme:"), "{e}");
    assert!(
        e.contains("light and dark") && e.contains("frontend.dir"),
        "{e}"
    );
}

#[test]
fn legacy_dex_themes_mean_light_with_a_warning() {
    let c = load("  theme: coreos\n").unwrap();
    assert_eq!(c.frontend.theme, "light");
    assert!(
        c.warnings.iter().any(|w| w.contains("coreos")),
        "{:?}",
        c.warnings
    );
}

#[test]
fn theme_names_that_are_paths_are_refused() {
    for bad in [
        "../../etc",
        "a/b",
        "..",
        ".hidden",
        "dark%2f..",
        "x\\y",
        "a b",
    ] {
        let e = err(&format!(
            "  theme: {}\n",
            serde_json::to_string(bad).unwrap()
        ));
        assert!(e.starts_with("frontend.theme:"), "{bad}: {e}");
    }
}

#[test]
fn logo_urls_other_than_http_or_a_plain_path_are_refused() {
    for bad in [
        "javascript:alert(1)",
        "JavaScript:alert(1)",
        "data:image/svg+xml,<svg onload=alert(1)>",
        "file:///etc/passwd",
        "//evil.example/logo.png",
        "https://",
        "../../secret.png",
        "theme/../../x.png",
        "theme/logo.png?x=\"><script>",
        "theme/%2e%2e/x.png",
        "logo png",
    ] {
        let e = err(&format!(
            "  logoURL: {}\n",
            serde_json::to_string(bad).unwrap()
        ));
        assert!(e.starts_with("frontend.logoURL:"), "{bad}: {e}");
        assert!(e.contains("http(s) URL"), "{bad}: {e}");
    }
    let long = format!("https://cdn.example/{}", "a".repeat(3000));
    assert!(err(&format!("  logoURL: {long}\n")).starts_with("frontend.logoURL:"));
}

#[test]
fn relative_logo_urls_resolve_under_the_issuer_as_in_dex() {
    for (given, kept) in [
        ("theme/logo.png", "theme/logo.png"),
        ("/static/brand/acme.svg", "static/brand/acme.svg"),
    ] {
        let c = load(&format!("  logoURL: {given}\n")).unwrap();
        assert_eq!(c.frontend.logo, Logo::UnderIssuer(kept.into()), "{given}");
    }
}

#[test]
fn issuer_names_are_one_short_line() {
    assert!(err("  issuer: \"Acme\\nSSO\"\n").starts_with("frontend.issuer:"));
    assert!(err(&format!("  issuer: {}\n", "x".repeat(65))).starts_with("frontend.issuer:"));
    // Markup is fine here: the pages escape it.
    let c = load("  issuer: \"<b>Acme</b> & Co\"\n").unwrap();
    assert_eq!(c.frontend.issuer_name, "<b>Acme</b> & Co");
}

#[test]
fn extra_is_accepted_with_a_warning_and_must_be_strings() {
    let c = load("  extra:\n    tagline: Hello\n    Mixed_Case: kept\n").unwrap();
    assert!(
        c.warnings.iter().any(|w| w.starts_with("frontend.extra")),
        "{:?}",
        c.warnings
    );
    let e = err("  extra:\n    nested: {a: 1}\n");
    assert!(e.contains("frontend.extra"), "{e}");
}

#[test]
fn dir_with_a_theme_of_its_own_loads_and_warns_about_templates() {
    let dir = web_dir(&["acme"]);
    let c = load(&format!(
        "  dir: {}\n  theme: acme\n",
        serde_json::to_string(&dir.path().display().to_string()).unwrap()
    ))
    .unwrap();
    let web = c.frontend.dir.unwrap();
    assert_eq!(
        web.theme_root.unwrap(),
        dir.path().join("themes/acme").canonicalize().unwrap()
    );
    assert_eq!(
        web.static_root.unwrap(),
        dir.path().join("static").canonicalize().unwrap()
    );
    let warning = c
        .warnings
        .iter()
        .find(|w| w.starts_with("frontend.dir"))
        .expect("templates warning");
    assert!(
        warning.contains("templates") && warning.contains("Go templates"),
        "{warning}"
    );
}

#[test]
fn dir_without_the_chosen_theme_is_refused() {
    let dir = web_dir(&["acme"]);
    let e = err(&format!(
        "  dir: {}\n  theme: other\n",
        serde_json::to_string(&dir.path().display().to_string()).unwrap()
    ));
    assert!(
        e.starts_with("frontend.theme:") && e.contains("themes/other"),
        "{e}"
    );
    // A built-in theme needs no directory of its own in the dir.
    let ok = load(&format!(
        "  dir: {}\n  theme: dark\n",
        serde_json::to_string(&dir.path().display().to_string()).unwrap()
    ))
    .unwrap();
    assert!(ok.frontend.dir.unwrap().theme_root.is_none());
}

#[test]
fn unreadable_or_empty_dirs_are_refused_naming_the_key() {
    let e = err("  dir: /nonexistent/gatehouse-web\n");
    assert!(
        e.starts_with("frontend.dir:") && e.contains("remove frontend.dir"),
        "{e}"
    );
    let file = tempfile::NamedTempFile::new().unwrap();
    let e = err(&format!("  dir: {}\n", file.path().display()));
    assert!(e.starts_with("frontend.dir:"), "{e}");
    let empty = tempfile::tempdir().unwrap();
    let e = err(&format!("  dir: {}\n", empty.path().display()));
    assert!(
        e.starts_with("frontend.dir:") && e.contains("nothing to serve"),
        "{e}"
    );
    // static/ that is a file, not a directory.
    std::fs::write(empty.path().join("static"), "x").unwrap();
    let e = err(&format!("  dir: {}\n", empty.path().display()));
    assert!(
        e.starts_with("frontend.dir:") && e.contains("not a directory"),
        "{e}"
    );
}

#[test]
fn a_theme_directory_that_is_a_symlink_is_followed_once_at_start() {
    // Kubernetes mounts ConfigMaps through symlinks; the theme's root is where it points, and
    // files are then held inside that root (web::assets checks each one).
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("styles.css"), "a{}").unwrap();
    let dir = web_dir(&[]);
    std::fs::create_dir_all(dir.path().join("themes")).unwrap();
    std::os::unix::fs::symlink(outside.path(), dir.path().join("themes/mounted")).unwrap();
    let c = load(&format!(
        "  dir: {}\n  theme: mounted\n",
        serde_json::to_string(&dir.path().display().to_string()).unwrap()
    ))
    .unwrap();
    assert_eq!(
        c.frontend.dir.unwrap().theme_root.unwrap(),
        outside.path().canonicalize().unwrap()
    );
}
