//! Dex's `frontend:` block: the name and logo the pages show, their theme, and a directory of
//! the user's own static and theme files (Dex's web layout: `static/`, `themes/<theme>/`,
//! `templates/`).
//!
//! What differs from Dex, on purpose: the pages are the broker's own (no Go templates run),
//! so `templates/` and `extra` are accepted with a warning rather than used; an unknown theme
//! is refused at start instead of serving 404s for its files.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::error::ConfigError;

/// The themes built into the binary (Dex ships the same two).
pub const BUILTIN_THEMES: &[&str] = &["light", "dark"];

/// Dex's defaults: `issuer: dex` (ours names this broker), `theme: light`,
/// `logoURL: theme/logo.png` (under the issuer).
pub const DEFAULT_ISSUER_NAME: &str = "Gatehouse";
pub const DEFAULT_THEME: &str = "light";
pub const DEFAULT_LOGO: &str = "theme/logo.png";

/// A longer name wraps badly in the header and the `<title>`; no real brand needs more.
const MAX_ISSUER_NAME_CHARS: usize = 64;
/// A logo URL is one attribute in every page.
const MAX_LOGO_URL_BYTES: usize = 2048;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFrontend {
    pub dir: Option<String>,
    #[serde(rename = "logoURL")]
    pub logo_url: Option<String>,
    pub issuer: Option<String>,
    pub theme: Option<String>,
    pub extra: Option<BTreeMap<String, String>>,
}

/// Where the pages' logo comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Logo {
    /// An absolute http(s) URL (its origin is let into the pages' `img-src`).
    Url(String),
    /// A path under the issuer, e.g. `theme/logo.png` (Dex resolves relative logo URLs, with
    /// or without a leading `/`, under the issuer's path; so do we).
    UnderIssuer(String),
}

/// The validated `frontend:` block.
#[derive(Debug, Clone)]
pub struct Frontend {
    /// `frontend.issuer`: the name in every page's title and header.
    pub issuer_name: String,
    pub logo: Logo,
    /// `frontend.theme`: a built-in theme, or one in `dir/themes/`.
    pub theme: String,
    /// `frontend.dir`, when given: the roots files are served from.
    pub dir: Option<WebDir>,
}

impl Default for Frontend {
    fn default() -> Self {
        Frontend {
            issuer_name: DEFAULT_ISSUER_NAME.into(),
            logo: Logo::UnderIssuer(DEFAULT_LOGO.into()),
            theme: DEFAULT_THEME.into(),
            dir: None,
        }
    }
}

/// `frontend.dir`, resolved once at start. Roots are canonical (symlinks resolved), so a
/// served file must resolve inside one of them: a symlink out of the root is refused.
#[derive(Debug, Clone)]
pub struct WebDir {
    /// As configured, for messages.
    pub given: PathBuf,
    /// `dir/static`, served at `{issuer}/static/` (None: not in the dir; the built-in files serve).
    pub static_root: Option<PathBuf>,
    /// `dir/themes/<theme>`, served at `{issuer}/theme/`.
    pub theme_root: Option<PathBuf>,
}

pub fn frontend(
    raw: Option<RawFrontend>,
    warnings: &mut Vec<String>,
) -> Result<Frontend, ConfigError> {
    let Some(raw) = raw else {
        return Ok(Frontend::default());
    };
    let issuer_name = issuer_name(raw.issuer)?;
    let logo = logo(raw.logo_url)?;
    let theme = theme_name(raw.theme, warnings)?;
    let dir = match raw.dir.filter(|d| !d.trim().is_empty()) {
        Some(d) => Some(web_dir(Path::new(&d), &theme, warnings)?),
        None => None,
    };
    let builtin = BUILTIN_THEMES.contains(&theme.as_str());
    let in_dir = dir.as_ref().is_some_and(|d| d.theme_root.is_some());
    if !builtin && !in_dir {
        let fix = match &dir {
            Some(d) => format!(
                "there is no directory {} either",
                d.given.join("themes").join(&theme).display()
            ),
            None => format!("a theme of your own needs frontend.dir with themes/{theme}/ in it"),
        };
        return Err(ConfigError::key(
            "frontend.theme",
            format!(
                "unknown theme {theme:?}: the built-in themes are {}; {fix}",
                BUILTIN_THEMES.join(" and ")
            ),
        ));
    }
    if raw.extra.as_ref().is_some_and(|e| !e.is_empty()) {
        warnings.push(
            "frontend.extra is not used: only Dex's Go templates read it, and this broker renders its own pages (see README \"Branding (frontend)\")".into(),
        );
    }
    Ok(Frontend {
        issuer_name,
        logo,
        theme,
        dir,
    })
}

fn issuer_name(raw: Option<String>) -> Result<String, ConfigError> {
    let Some(name) = raw.map(|n| n.trim().to_string()).filter(|n| !n.is_empty()) else {
        return Ok(DEFAULT_ISSUER_NAME.into());
    };
    if name.chars().any(char::is_control) {
        return Err(ConfigError::key(
            "frontend.issuer",
            "contains control characters or line breaks: write the name on one line",
        ));
    }
    if name.chars().count() > MAX_ISSUER_NAME_CHARS {
        return Err(ConfigError::key(
            "frontend.issuer",
            format!("is longer than {MAX_ISSUER_NAME_CHARS} characters: shorten the name the pages show"),
        ));
    }
    Ok(name)
}

/// An absolute http(s) URL, or a plain relative path (resolved under the issuer, as Dex does).
pub fn logo(raw: Option<String>) -> Result<Logo, ConfigError> {
    let Some(text) = raw.map(|t| t.trim().to_string()).filter(|t| !t.is_empty()) else {
        return Ok(Logo::UnderIssuer(DEFAULT_LOGO.into()));
    };
    let refuse = |why: &str| {
        ConfigError::key(
            "frontend.logoURL",
            format!("{text:?} {why}: give an http(s) URL (https://cdn.example/logo.png) or a path under the issuer (theme/logo.png)"),
        )
    };
    if text.len() > MAX_LOGO_URL_BYTES {
        return Err(refuse("is too long"));
    }
    if let Ok(url) = url::Url::parse(&text) {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(refuse("is not an http(s) URL"));
        }
        return super::web_url(&text)
            .map(Logo::Url)
            .ok_or_else(|| refuse("has no host"));
    }
    if text.starts_with("//") {
        return Err(refuse("is a scheme-relative URL"));
    }
    let path = text.trim_start_matches('/');
    let plain_segment = |s: &str| {
        !s.is_empty()
            && s != "."
            && s != ".."
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '~'))
    };
    if !path.split('/').all(plain_segment) {
        return Err(refuse(
            "is not a plain path (letters, digits, . _ - ~ between slashes; no .. or query)",
        ));
    }
    Ok(Logo::UnderIssuer(path.to_string()))
}

/// One directory name (it is joined onto `dir/themes/`); Dex's legacy names mean `light`.
fn theme_name(raw: Option<String>, warnings: &mut Vec<String>) -> Result<String, ConfigError> {
    let Some(name) = raw.map(|t| t.trim().to_string()).filter(|t| !t.is_empty()) else {
        return Ok(DEFAULT_THEME.into());
    };
    if name == "coreos" || name == "tectonic" {
        warnings.push(format!(
            "frontend.theme: {name:?} is a retired Dex theme: using \"light\" (as Dex does)"
        ));
        return Ok(DEFAULT_THEME.into());
    }
    let plain = name.len() <= 64
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if !plain {
        return Err(ConfigError::key(
            "frontend.theme",
            format!("{name:?} is not a theme name: use light, dark, or the name of a directory in frontend.dir/themes/ (letters, digits, . _ -)"),
        ));
    }
    Ok(name)
}

fn web_dir(dir: &Path, theme: &str, warnings: &mut Vec<String>) -> Result<WebDir, ConfigError> {
    let unreadable = |e: std::io::Error| {
        ConfigError::key(
            "frontend.dir",
            format!(
                "cannot read {}: {e}; give a readable directory with static/ and themes/<theme>/ (Dex's web/ layout), or remove frontend.dir",
                dir.display()
            ),
        )
    };
    let root = dir.canonicalize().map_err(unreadable)?;
    std::fs::read_dir(&root).map_err(unreadable)?;
    let static_root = sub_root(dir, &root, Path::new("static"))?;
    let theme_root = sub_root(dir, &root, &Path::new("themes").join(theme))?;
    if static_root.is_none() && theme_root.is_none() {
        return Err(ConfigError::key(
            "frontend.dir",
            format!(
                "{} has neither static/ nor themes/{theme}/: nothing to serve; put the files there (Dex's web/ layout) or remove frontend.dir",
                dir.display()
            ),
        ));
    }
    let templates = root.join("templates");
    if let Ok(entries) = std::fs::read_dir(&templates) {
        let count = entries.filter_map(Result::ok).count();
        if count > 0 {
            warnings.push(format!(
                "frontend.dir: {} ({count} entries) is not used: this broker renders its own pages and runs no Go templates; they show frontend.issuer, frontend.logoURL and themes/{theme}/styles.css (see README \"Branding (frontend)\")",
                dir.join("templates").display()
            ));
        }
    }
    Ok(WebDir {
        given: dir.to_path_buf(),
        static_root,
        theme_root,
    })
}

/// `root/sub` as a canonical directory, None when absent; a file there is an error.
fn sub_root(given: &Path, root: &Path, sub: &Path) -> Result<Option<PathBuf>, ConfigError> {
    let path = root.join(sub);
    match std::fs::metadata(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(ConfigError::key(
            "frontend.dir",
            format!("cannot read {}: {e}", given.join(sub).display()),
        )),
        Ok(m) if !m.is_dir() => Err(ConfigError::key(
            "frontend.dir",
            format!(
                "{} is not a directory: Dex's web layout has static/ and themes/<theme>/ as directories",
                given.join(sub).display()
            ),
        )),
        Ok(_) => path.canonicalize().map(Some).map_err(|e| {
            ConfigError::key(
                "frontend.dir",
                format!("cannot read {}: {e}", given.join(sub).display()),
            )
        }),
    }
}

#[cfg(test)]
#[path = "frontend_tests.rs"]
mod tests;
