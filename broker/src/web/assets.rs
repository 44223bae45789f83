//! `{issuer}/static/…` and `{issuer}/theme/…` (Dex's paths): the user's files from
//! `frontend.dir` (`static/`, `themes/<theme>/`), else the built-in ones.
//!
//! A file from the directory must resolve (symlinks followed) inside its root, which was
//! resolved at start: Kubernetes' ConfigMap links inside a mount work, a link out of it is
//! refused. Files are read at each request (a changed ConfigMap shows without a restart), at
//! most [`MAX_FILE_BYTES`]; only the types of `asset_path::content_type` are served.

use std::io::Read;
use std::path::Path;

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

pub use super::asset_path::Area;
use super::asset_path::{content_type, file_path};
use crate::config::Frontend;

/// Logos, stylesheets and fonts are far smaller; a larger file is a mistake in the directory.
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// Short enough that a new logo or stylesheet shows soon; the ETag saves the transfer.
const CACHE_CONTROL: &str = "public, max-age=600";

/// The response for `path` (as routed, percent-decoded) in `area`.
pub fn asset_response(
    frontend: &Frontend,
    area: Area,
    path: &str,
    request_headers: &HeaderMap,
) -> Response {
    let Some(path) = file_path(path) else {
        return not_found();
    };
    let Some(kind) = content_type(&path) else {
        return not_found();
    };
    let root = frontend.dir.as_ref().and_then(|d| match area {
        Area::Static => d.static_root.as_deref(),
        Area::Theme => d.theme_root.as_deref(),
    });
    let bytes = match root.map(|r| from_dir(r, &path)) {
        Some(Lookup::Found(bytes)) => bytes,
        Some(Lookup::Refused(why)) => {
            tracing::warn!(file = %path, "frontend.dir: not serving {path}: {why}");
            return not_found();
        }
        Some(Lookup::Missing) | None => match super::builtin::file(area, &frontend.theme, &path) {
            Some(b) => b.to_vec(),
            None => return not_found(),
        },
    };
    file_response(kind, &bytes, request_headers)
}

enum Lookup {
    Found(Vec<u8>),
    /// Not in the directory: the built-in file (if any) serves.
    Missing,
    /// In the directory but not servable (outside the root, too large, not a file).
    Refused(String),
}

fn from_dir(root: &Path, path: &str) -> Lookup {
    let candidate = root.join(path);
    match std::fs::symlink_metadata(&candidate) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Lookup::Missing,
        Err(e) => return Lookup::Refused(e.to_string()),
        Ok(_) => {}
    }
    let real = match candidate.canonicalize() {
        Ok(r) => r,
        Err(e) => return Lookup::Refused(format!("cannot resolve it ({e})")),
    };
    if !real.starts_with(root) {
        return Lookup::Refused(format!(
            "it resolves to {}, outside {}",
            real.display(),
            root.display()
        ));
    }
    let file = match std::fs::File::open(&real) {
        Ok(f) => f,
        Err(e) => return Lookup::Refused(e.to_string()),
    };
    match file.metadata() {
        Ok(m) if !m.is_file() => return Lookup::Refused("not a regular file".into()),
        Ok(m) if m.len() > MAX_FILE_BYTES => return too_large(),
        Ok(_) => {}
        Err(e) => return Lookup::Refused(e.to_string()),
    }
    // Read at most one byte past the limit: a file growing meanwhile is still refused.
    let mut bytes = Vec::new();
    match file.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes) {
        Ok(_) if bytes.len() as u64 > MAX_FILE_BYTES => too_large(),
        Ok(_) => Lookup::Found(bytes),
        Err(e) => Lookup::Refused(e.to_string()),
    }
}

fn too_large() -> Lookup {
    Lookup::Refused(format!("larger than {MAX_FILE_BYTES} bytes"))
}

fn file_response(kind: &'static str, bytes: &[u8], request_headers: &HeaderMap) -> Response {
    let digest = Sha256::digest(bytes);
    let etag = format!(
        "\"{}\"",
        digest[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
    let fresh = request_headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().trim_start_matches("W/"))
        .any(|t| t == etag || t == "*");
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (StatusCode::OK, bytes.to_vec()).into_response()
    };
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(CACHE_CONTROL),
    );
    if let Ok(v) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, v);
    }
    // An SVG opened on its own is a document: it runs nothing.
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    response
}

fn not_found() -> Response {
    let mut response = (StatusCode::NOT_FOUND, "not found\n").into_response();
    response.headers_mut().insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

#[cfg(test)]
#[path = "assets_tests.rs"]
mod tests;
