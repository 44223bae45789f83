//! The session cookie on the wire: one cookie `NAME` when the sealed session fits, else
//! chunks `NAME_0 … NAME_n`. Writing always clears the parts of an earlier layout that the
//! new one does not overwrite, so a shrinking session leaves no stale chunk behind.

use crate::config::CookieSettings;
use crate::cookie;

/// Largest value per cookie: browsers cap a cookie (name, value, attributes) near 4096 bytes.
pub const CHUNK: usize = 3800;
/// Upper bound on chunks read back; more is refused rather than concatenated without end.
pub const MAX_CHUNKS: usize = 16;

fn chunk_name(name: &str, i: usize) -> String {
    format!("{name}_{i}")
}

/// Whether `cookie` is `name` or one of its chunks.
pub fn is_part(name: &str, cookie: &str) -> bool {
    cookie == name
        || cookie
            .strip_prefix(name)
            .and_then(|r| r.strip_prefix('_'))
            .is_some_and(|r| !r.is_empty() && r.len() <= 2 && r.bytes().all(|b| b.is_ascii_digit()))
}

/// Names of the session's parts present in a `Cookie` header.
pub fn present(header: Option<&str>, name: &str) -> Vec<String> {
    header.map_or_else(Vec::new, |h| {
        cookie::header::pairs(h)
            .filter(|(n, _)| is_part(name, n))
            .map(|(n, _)| n.to_string())
            .collect()
    })
}

/// The sealed session value: the whole cookie, or its chunks joined in order.
pub fn read(header: &str, name: &str) -> Option<String> {
    if let Some(v) = cookie::header::get(header, name) {
        return Some(v.to_string());
    }
    let mut out = String::new();
    for i in 0..MAX_CHUNKS {
        match cookie::header::get(header, &chunk_name(name, i)) {
            Some(v) => out.push_str(v),
            None if i == 0 => return None,
            None => return Some(out),
        }
    }
    // More chunks than we would ever write: not ours to trust.
    cookie::header::get(header, &chunk_name(name, MAX_CHUNKS)).map_or(Some(out), |_| None)
}

/// `Set-Cookie` values that store `value`, clearing every other part listed in `present`.
pub fn write(
    cfg: &CookieSettings,
    name: &str,
    value: &str,
    max_age: u64,
    present: &[String],
) -> Vec<String> {
    let mut written = Vec::new();
    let mut out = Vec::new();
    if value.len() <= CHUNK {
        out.push(cookie::header::set(cfg, name, value, max_age));
        written.push(name.to_string());
    } else {
        // The value is base64url text, so byte offsets are character boundaries.
        for (i, start) in (0..value.len()).step_by(CHUNK).enumerate() {
            let part = &value[start..(start + CHUNK).min(value.len())];
            let n = chunk_name(name, i);
            out.push(cookie::header::set(cfg, &n, part, max_age));
            written.push(n);
        }
    }
    out.extend(
        present
            .iter()
            .filter(|p| !written.contains(p))
            .map(|p| cookie::header::clear(cfg, p)),
    );
    out
}

/// `Set-Cookie` values that remove the session: the plain name always, plus parts present.
/// The part [`read`] goes by comes first (`NAME`, or `NAME_0` of a chunked session): removing
/// it alone already leaves no session, since chunks without `NAME_0` are never read.
pub fn clear(cfg: &CookieSettings, name: &str, present: &[String]) -> Vec<String> {
    let chunk0 = chunk_name(name, 0);
    let first = if !present.iter().any(|p| p == name) && present.contains(&chunk0) {
        chunk0
    } else {
        name.to_string()
    };
    let mut names = vec![first];
    for p in std::iter::once(name).chain(present.iter().map(String::as_str)) {
        if !names.iter().any(|n| n == p) {
            names.push(p.to_string());
        }
    }
    names
        .iter()
        .map(|n| cookie::header::clear(cfg, n))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SameSite;

    fn cfg() -> CookieSettings {
        CookieSettings {
            name: "_gh".into(),
            domain: None,
            path: "/".into(),
            secure: true,
            same_site: SameSite::Lax,
            expire_s: 60,
        }
    }

    fn header_from(set: &[String]) -> String {
        set.iter()
            .filter(|c| !c.contains("Max-Age=0"))
            .map(|c| c.split(';').next().unwrap().to_string())
            .collect::<Vec<_>>()
            .join("; ")
    }

    #[test]
    fn small_value_is_one_cookie_and_clears_old_chunks() {
        let set = write(
            &cfg(),
            "_gh",
            "v1.small",
            60,
            &["_gh_0".into(), "_gh_1".into()],
        );
        assert!(set[0].starts_with("_gh=v1.small;"));
        assert!(set[1].starts_with("_gh_0=;") && set[2].starts_with("_gh_1=;"));
        assert_eq!(read(&header_from(&set), "_gh").as_deref(), Some("v1.small"));
    }

    #[test]
    fn large_value_is_chunked_and_reassembled() {
        let value = format!("v1.{}", "x".repeat(9000));
        let set = write(&cfg(), "_gh", &value, 60, &["_gh".into(), "_gh_3".into()]);
        let names: Vec<_> = set.iter().map(|c| c.split('=').next().unwrap()).collect();
        assert_eq!(names, ["_gh_0", "_gh_1", "_gh_2", "_gh", "_gh_3"]);
        assert!(set.iter().all(|c| c.len() < 4000));
        let h = format!("other=1; {}", header_from(&set));
        assert_eq!(read(&h, "_gh").as_deref(), Some(value.as_str()));
        let mut p = present(Some(&h), "_gh");
        p.sort();
        assert_eq!(p, ["_gh_0", "_gh_1", "_gh_2"]);
    }

    #[test]
    fn parts_are_recognised_strictly() {
        assert!(is_part("_gh", "_gh") && is_part("_gh", "_gh_0") && is_part("_gh", "_gh_15"));
        assert!(
            !is_part("_gh", "_gh_login_abc") && !is_part("_gh", "_gh_") && !is_part("_gh", "_ghx")
        );
    }

    #[test]
    fn clearing_starts_with_the_part_the_reader_goes_by() {
        let names = |set: Vec<String>| -> Vec<String> {
            assert!(set.iter().all(|c| c.contains("Max-Age=0")));
            set.iter()
                .map(|c| c.split('=').next().unwrap().to_string())
                .collect()
        };
        let chunked: Vec<String> = ["_gh_1", "_gh_0", "_gh_2", "_gh_0"]
            .map(String::from)
            .into();
        assert_eq!(
            names(clear(&cfg(), "_gh", &chunked)),
            ["_gh_0", "_gh", "_gh_1", "_gh_2"]
        );
        // A header with both layouts: `read` takes `NAME`, so it goes first.
        let both: Vec<String> = ["_gh_0", "_gh"].map(String::from).into();
        assert_eq!(names(clear(&cfg(), "_gh", &both)), ["_gh", "_gh_0"]);
        assert_eq!(names(clear(&cfg(), "_gh", &[])), ["_gh"]);
        // Without chunk 0 the rest is no session at all.
        assert_eq!(read("_gh_1=a; _gh_2=b", "_gh"), None);
    }

    #[test]
    fn missing_first_chunk_or_too_many_is_no_session() {
        assert_eq!(read("_gh_1=x", "_gh"), None);
        let many: Vec<String> = (0..=MAX_CHUNKS).map(|i| format!("_gh_{i}=x")).collect();
        assert_eq!(read(&many.join("; "), "_gh"), None);
    }
}
