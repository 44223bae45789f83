//! The session cookie on the wire: one cookie `NAME` when the sealed session fits, else
//! chunks `NAME_0 … NAME_n`. Writing always clears the parts of an earlier layout that the
//! new one does not overwrite, so a shrinking session leaves no stale chunk behind.

use std::borrow::Cow;

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

/// Which chunk `cookie` is, if it is named `NAME_<i>` as [`chunk_name`] writes it (no
/// leading zeros), up to `MAX_CHUNKS` (one more than is ever written, to notice it).
fn chunk_index(name: &str, cookie: &str) -> Option<usize> {
    let digits = cookie.strip_prefix(name)?.strip_prefix('_')?;
    let canonical = matches!(digits.len(), 1 | 2)
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !(digits.len() == 2 && digits.starts_with('0'));
    let i: usize = digits.parse().ok().filter(|_| canonical)?;
    (i <= MAX_CHUNKS).then_some(i)
}

/// The sealed session value: the whole cookie `name` (borrowed from the header), or its
/// chunks joined in order — chunks `0…n` up to the first one missing, and none at all when
/// chunk 0 is missing or more than [`MAX_CHUNKS`] are there. The first cookie of each name
/// counts. One pass over the header.
pub fn read<'a>(header: &'a str, name: &str) -> Option<Cow<'a, str>> {
    let mut reader = Reader::new(name);
    for (n, v) in cookie::header::pairs(header) {
        reader.see(n, v);
    }
    reader.finish()
}

/// [`read`], fed the header's cookies one by one by a caller that walks it anyway.
pub struct Reader<'a, 'n> {
    name: &'n str,
    /// The cookie `name` itself: once seen, nothing after it counts.
    whole: Option<&'a str>,
    parts: [Option<&'a str>; MAX_CHUNKS + 1],
}

impl<'a, 'n> Reader<'a, 'n> {
    #[inline(always)]
    pub fn new(name: &'n str) -> Self {
        Reader {
            name,
            whole: None,
            parts: [None; MAX_CHUNKS + 1],
        }
    }

    /// The next `(name, value)` of the header, in order.
    #[inline(always)]
    pub fn see(&mut self, n: &str, v: &'a str) {
        if self.whole.is_some() {
            return;
        }
        if n == self.name {
            self.whole = Some(v);
        } else if let Some(i) = chunk_index(self.name, n) {
            self.parts[i].get_or_insert(v);
        }
    }

    /// What [`read`] gives for the cookies seen.
    pub fn finish(self) -> Option<Cow<'a, str>> {
        if let Some(v) = self.whole {
            return Some(Cow::Borrowed(v));
        }
        let parts = &self.parts;
        let present = parts[..MAX_CHUNKS]
            .iter()
            .take_while(|p| p.is_some())
            .count();
        if present == 0 || (present == MAX_CHUNKS && parts[MAX_CHUNKS].is_some()) {
            // No first chunk; or more chunks than we would ever write: not ours to trust.
            return None;
        }
        Some(Cow::Owned(
            parts[..present].iter().flatten().copied().collect(),
        ))
    }
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
    fn read_takes_the_first_of_each_name_and_only_canonical_chunk_names() {
        // The whole cookie wins wherever it is; the first copy of a name counts.
        assert_eq!(read("_gh_0=a; _gh=w; _gh=x", "_gh").as_deref(), Some("w"));
        assert_eq!(
            read("_gh_0=a; _gh_1=b; _gh_0=z", "_gh").as_deref(),
            Some("ab")
        );
        // Chunks in any order are joined by number; a gap ends the value.
        assert_eq!(
            read("_gh_1=b; x=1; _gh_0=a; _gh_3=d", "_gh").as_deref(),
            Some("ab")
        );
        // Names the writer never produces are not chunks: leading zeros, 3 digits, other
        // suffixes, other cookies sharing the prefix.
        for other in [
            "_gh_00=a",
            "_gh_01=a",
            "_gh_000=a",
            "_gh_0x=a",
            "_ghx_0=a",
            "_gh__0=a",
        ] {
            assert_eq!(read(other, "_gh"), None, "{other}");
        }
        assert_eq!(read("_gh_0=a; _gh_01=b", "_gh").as_deref(), Some("a"));
        // Exactly MAX_CHUNKS chunks are read; one more refuses them all.
        let all: Vec<String> = (0..MAX_CHUNKS).map(|i| format!("_gh_{i}=x")).collect();
        assert_eq!(
            read(&all.join("; "), "_gh").map(|v| v.len()),
            Some(MAX_CHUNKS)
        );
        // A borrowed value for the one-cookie layout: nothing is copied.
        assert!(matches!(
            read("_gh=v1.x", "_gh"),
            Some(Cow::Borrowed("v1.x"))
        ));
    }

    #[test]
    fn missing_first_chunk_or_too_many_is_no_session() {
        assert_eq!(read("_gh_1=x", "_gh"), None);
        let many: Vec<String> = (0..=MAX_CHUNKS).map(|i| format!("_gh_{i}=x")).collect();
        assert_eq!(read(&many.join("; "), "_gh"), None);
    }
}
