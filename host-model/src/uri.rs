//! The `:path` ngx_wasm_module hands a filter: nginx's `r->uri` — percent-decoded, slashes
//! merged, `.` and `..` segments resolved (ngx_http_parse_complex_uri, `merge_slashes on`) —
//! then `?` and the raw query. The upstream still gets the raw target, which the filter can
//! read as `request.path` / `ngx.request_uri`. Seen on the real host (kong-real FINDINGS (e)):
//! `/x/../dump?q=%2F..` → `/dump?q=%2F..`, `//dump` → `/dump`, `/%64ump` → `/dump`,
//! `/x/%2e%2e/dump` → `/dump`.

/// nginx refuses the request line (400) before any filter runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BadUri {
    #[error("malformed percent escape")]
    Escape,
    #[error("encoded NUL")]
    Nul,
    #[error("'..' above the root")]
    AboveRoot,
    #[error("not an absolute path")]
    NotAbsolute,
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// `r->uri` + `?` + `r->args` (the `?` only when there is a query) of a raw target.
pub fn nginx_path(target: &str) -> Result<String, BadUri> {
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (target, None),
    };
    if !path.starts_with('/') {
        return Err(BadUri::NotAbsolute);
    }
    // A decoded `/` or `.` counts as one in nginx's state machine: decode, then resolve.
    let raw = path.as_bytes();
    let mut decoded = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'%' {
            let (Some(h), Some(l)) = (
                raw.get(i + 1).copied().and_then(hex),
                raw.get(i + 2).copied().and_then(hex),
            ) else {
                return Err(BadUri::Escape);
            };
            let b = h << 4 | l;
            if b == 0 {
                return Err(BadUri::Nul);
            }
            decoded.push(b);
            i += 3;
        } else {
            decoded.push(raw[i]);
            i += 1;
        }
    }
    let mut segments: Vec<&[u8]> = Vec::new();
    let parts: Vec<&[u8]> = decoded.split(|&b| b == b'/').skip(1).collect();
    let last = parts.len().saturating_sub(1);
    let mut trailing_slash = false;
    for (n, seg) in parts.iter().enumerate() {
        let at_end = n == last;
        match *seg {
            b"" | b"." => trailing_slash = at_end,
            b".." => {
                segments.pop().ok_or(BadUri::AboveRoot)?;
                trailing_slash = at_end;
            }
            s => {
                segments.push(s);
                trailing_slash = false;
            }
        }
    }
    let mut out = Vec::with_capacity(decoded.len() + 1);
    for s in &segments {
        out.push(b'/');
        out.extend_from_slice(s);
    }
    if segments.is_empty() || trailing_slash {
        out.push(b'/');
    }
    let mut out = String::from_utf8_lossy(&out).into_owned();
    if let Some(q) = query.filter(|q| !q.is_empty()) {
        out.push('?');
        out.push_str(q);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_real_hosts_observations() {
        assert_eq!(nginx_path("/x/../dump?q=%2F.."), Ok("/dump?q=%2F..".into()));
        assert_eq!(nginx_path("//dump"), Ok("/dump".into()));
        assert_eq!(nginx_path("/%64ump"), Ok("/dump".into()));
        assert_eq!(nginx_path("/x/%2e%2e/dump"), Ok("/dump".into()));
    }

    #[test]
    fn encoded_slashes_and_dots_are_structure() {
        assert_eq!(
            nginx_path("/admin/x%2F..%2F..%2Fpublic"),
            Ok("/public".into())
        );
        assert_eq!(
            nginx_path("/public%5C..%5Cadmin"),
            Ok("/public\\..\\admin".into())
        );
        assert_eq!(nginx_path("/a/."), Ok("/a/".into()));
        assert_eq!(nginx_path("/a/.."), Ok("/".into()));
        assert_eq!(nginx_path("/a//b/"), Ok("/a/b/".into()));
        assert_eq!(nginx_path("/"), Ok("/".into()));
        assert_eq!(nginx_path("/a?"), Ok("/a".into()));
    }

    #[test]
    fn what_nginx_refuses() {
        assert_eq!(nginx_path("/.."), Err(BadUri::AboveRoot));
        assert_eq!(nginx_path("/a/%2e%2e/.."), Err(BadUri::AboveRoot));
        assert_eq!(nginx_path("/%zz"), Err(BadUri::Escape));
        assert_eq!(nginx_path("/%00"), Err(BadUri::Nul));
    }
}
