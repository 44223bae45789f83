//! Reading the `Cookie` request header and writing `Set-Cookie` response headers.

use crate::config::CookieSettings;

/// Whether `b` is a whitespace character that is ASCII (as `char::is_whitespace` counts them:
/// vertical tab included, unlike `u8::is_ascii_whitespace`).
fn ascii_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r')
}

/// `str::trim`, with the usual ASCII ends settled byte by byte: the standard one decodes and
/// classifies a `char` at each end, on every cookie of every request. At a non-ASCII end it
/// hands over to `str::trim_start` / `str::trim_end`, so the result is always the same.
fn trim(s: &str) -> &str {
    let mut s = s;
    while let Some(&b) = s.as_bytes().first() {
        if ascii_space(b) {
            s = &s[1..];
        } else {
            if !b.is_ascii() {
                s = s.trim_start();
            }
            break;
        }
    }
    while let Some(&b) = s.as_bytes().last() {
        if ascii_space(b) {
            s = &s[..s.len() - 1];
        } else {
            if !b.is_ascii() {
                s = s.trim_end();
            }
            break;
        }
    }
    s
}

/// `s.trim_matches('"')`: `"` is ASCII, so it is removed byte by byte at both ends.
fn unquote(s: &str) -> &str {
    let start = s.bytes().take_while(|&b| b == b'"').count();
    let s = &s[start..];
    let end = s.len() - s.bytes().rev().take_while(|&b| b == b'"').count();
    &s[..end]
}

/// Where the first `needle` (an ASCII byte) is in `hay`, eight bytes per step: the session
/// cookie is hundreds of bytes to thousands, searched for `;` on every request, and the
/// standard `str::split` searches four bytes per step on wasm32 after building a char
/// searcher per call.
fn find(hay: &[u8], needle: u8) -> Option<usize> {
    const ONES: u128 = 0x0101_0101_0101_0101_0101_0101_0101_0101;
    const HIGHS: u128 = 0x8080_8080_8080_8080_8080_8080_8080_8080;
    let pattern = ONES * u128::from(needle);
    let has_zero_byte = |x: u128| x.wrapping_sub(ONES) & !x & HIGHS != 0;
    let (blocks, _) = hay.as_chunks::<16>();
    let mut start = blocks.len() * 16;
    // A block holds the byte exactly when `block ^ pattern` has a zero byte, which the
    // classic test `(x - ONES) & !x & HIGHS` tells without false answers; its low half
    // alone (no borrow comes into it) tells whether the byte is in the first eight. A
    // plain loop: at opt-level z an iterator closure here stays a call per block.
    for (i, b) in blocks.iter().enumerate() {
        let x = u128::from_le_bytes(*b) ^ pattern;
        if has_zero_byte(x) {
            let low = u128::from(x as u64) | (HIGHS & !u128::from(u64::MAX));
            start = i * 16 + if has_zero_byte(low) { 0 } else { 8 };
            break;
        }
    }
    hay[start..]
        .iter()
        .position(|&b| b == needle)
        .map(|i| start + i)
}

/// `s.split(needle)`, with [`find`]: every piece, the empty ones and the last included.
fn split(s: &str, needle: u8) -> impl Iterator<Item = &str> {
    let mut rest = Some(s);
    std::iter::from_fn(move || {
        let s = rest?;
        // `needle` is ASCII, so both cuts are character boundaries.
        match find(s.as_bytes(), needle) {
            Some(i) => {
                rest = Some(&s[i + 1..]);
                Some(&s[..i])
            }
            None => {
                rest = None;
                Some(s)
            }
        }
    })
}

/// `s.split_once('=')`, with [`find`].
fn split_at_equals(s: &str) -> Option<(&str, &str)> {
    find(s.as_bytes(), b'=').map(|i| (&s[..i], &s[i + 1..]))
}

/// `(name, value)` pairs of a `Cookie` header, in order; malformed pairs are skipped.
pub fn pairs(header: &str) -> impl Iterator<Item = (&str, &str)> {
    split(header, b';').filter_map(|part| {
        let (name, value) = split_at_equals(part)?;
        let name = trim(name);
        if name.is_empty() {
            return None;
        }
        Some((name, unquote(trim(value))))
    })
}

/// Whether a cookie [`pairs`] yields has a name `named` holds for: what
/// `pairs(header).any(|(n, _)| named(n))` tells, without searching a cookie's value for its
/// end once its name decided (the session cookie, hundreds of bytes, is usually that one).
pub fn any_named(header: &str, named: impl Fn(&str) -> bool) -> bool {
    let mut rest = header;
    loop {
        // A cookie's name ends at its first '=', unless a ';' ends the cookie before it.
        let Some(eq) = find(rest.as_bytes(), b'=') else {
            return false;
        };
        if let Some(semi) = find(&rest.as_bytes()[..eq], b';') {
            rest = &rest[semi + 1..];
            continue;
        }
        let name = trim(&rest[..eq]);
        if !name.is_empty() && named(name) {
            return true;
        }
        match find(&rest.as_bytes()[eq + 1..], b';') {
            Some(semi) => rest = &rest[eq + 1 + semi + 1..],
            None => return false,
        }
    }
}

/// The value of the first cookie called `name`.
pub fn get<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    pairs(header).find(|(n, _)| *n == name).map(|(_, v)| v)
}

/// The `Cookie` header with every cookie for which `drop` is true removed; `None` when
/// nothing is left, so the header can be removed instead of sent empty. Kept cookies are
/// written as they came (trimmed), `; `-separated, straight into the one string.
pub fn without(header: &str, drop: impl Fn(&str) -> bool) -> Option<String> {
    let mut kept: Option<String> = None;
    for part in split(header, b';').map(trim) {
        let name = trim(split_at_equals(part).map_or(part, |(n, _)| n));
        if part.is_empty() || drop(name) {
            continue;
        }
        keep(&mut kept, part);
    }
    kept
}

/// Appends a kept cookie to what [`without`] writes.
fn keep(kept: &mut Option<String>, part: &str) {
    match kept {
        None => *kept = Some(String::from(part)),
        Some(out) => {
            out.push_str("; ");
            out.push_str(part);
        }
    }
}

/// [`without`], handing on the way every `(name, value)` that [`pairs`] yields, in its order,
/// to `pair`: one walk over the header for both (the session cookie is read from the same
/// header the filter's cookies are removed from).
pub fn without_seeing<'a>(
    header: &'a str,
    drop: impl Fn(&str) -> bool,
    mut pair: impl FnMut(&'a str, &'a str),
) -> Option<String> {
    let mut kept: Option<String> = None;
    for part in split(header, b';').map(trim) {
        // Trimming the cookie first changes neither its name nor its value as `pairs` reads
        // them: both are trimmed there too, and no '=' is whitespace.
        let name = match split_at_equals(part) {
            Some((name, value)) => {
                let name = trim(name);
                if !name.is_empty() {
                    pair(name, unquote(trim(value)));
                }
                name
            }
            None => part,
        };
        if part.is_empty() || drop(name) {
            continue;
        }
        keep(&mut kept, part);
    }
    kept
}

/// A `Set-Cookie` value with the configured attributes; `max_age` in seconds.
pub fn set(cfg: &CookieSettings, name: &str, value: &str, max_age: u64) -> String {
    let mut out = format!(
        "{name}={value}; Path={}; Max-Age={max_age}; HttpOnly",
        cfg.path
    );
    if let Some(d) = &cfg.domain {
        out.push_str("; Domain=");
        out.push_str(d);
    }
    if cfg.secure {
        out.push_str("; Secure");
    }
    out.push_str("; SameSite=");
    out.push_str(cfg.same_site.as_str());
    out
}

/// A `Set-Cookie` value that deletes `name` (same path and domain as when it was set).
pub fn clear(cfg: &CookieSettings, name: &str) -> String {
    let mut out = set(cfg, name, "", 0);
    out.push_str("; Expires=Thu, 01 Jan 1970 00:00:00 GMT");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SameSite;

    fn cfg() -> CookieSettings {
        CookieSettings {
            name: "_gh".into(),
            domain: Some("example.com".into()),
            path: "/".into(),
            secure: true,
            same_site: SameSite::Lax,
            expire_s: 3600,
        }
    }

    #[test]
    fn parses_pairs() {
        let h = "a=1; _gh=v1.xyz;b=\"q\"; =bad; noval; c=";
        assert_eq!(get(h, "_gh"), Some("v1.xyz"));
        assert_eq!(get(h, "b"), Some("q"));
        assert_eq!(get(h, "c"), Some(""));
        assert_eq!(get(h, "noval"), None);
        assert_eq!(get(h, "missing"), None);
    }

    #[test]
    fn splits_as_str_split_does() {
        let long = format!("{};{}=x;", "a".repeat(21), "b".repeat(9));
        for s in [
            "",
            ";",
            ";;",
            "a",
            "a;",
            ";a",
            "a;b;;c",
            "abcdefgh;",
            "abcdefg;h",
            &long,
        ] {
            assert_eq!(
                split(s, b';').collect::<Vec<_>>(),
                s.split(';').collect::<Vec<_>>()
            );
            assert_eq!(split_at_equals(s), s.split_once('='), "{s:?}");
        }
        // Every position in and across 16-byte blocks, the first of two, near misses around.
        for n in 0..50 {
            for fill in [b'x', 0, 0xff, b';' - 1, b';' + 1] {
                for at in 0..n {
                    let mut b = vec![fill; n];
                    b[at] = b';';
                    assert_eq!(find(&b, b';'), Some(at), "{fill} {n} {at}");
                    if at + 9 < n {
                        b[at + 9] = b';';
                        assert_eq!(find(&b, b';'), Some(at), "{fill} {n} {at}");
                    }
                    b[at] = b';' ^ 0x80;
                    assert_eq!(find(&b, b';'), (at + 9 < n).then_some(at + 9));
                }
            }
        }
    }

    #[test]
    fn trims_as_str_trim_does() {
        // Vertical tab and Unicode spaces are whitespace to `str::trim`, and so here.
        let h = "\u{b}a=\"1\"\u{a0}; \u{3000}b = 2\t;\u{85}c=\"\"x\"\"";
        assert_eq!(
            pairs(h).collect::<Vec<_>>(),
            [("a", "1"), ("b", "2"), ("c", "x")]
        );
        for s in ["", " ", "\u{a0}", " \u{a0} x \u{3000} ", "é", "\u{b}é\u{b}"] {
            assert_eq!(trim(s), s.trim(), "{s:?}");
        }
        assert_eq!(unquote("\"\"a\"b\""), "a\"b");
        assert_eq!(unquote("\"\""), "");
    }

    #[test]
    fn any_named_is_pairs_any() {
        let ours = |n: &str| n.starts_with("_gh");
        for (h, want) in [
            ("_gh=1", true),
            ("a=1; _gh_0=x", true),
            ("_gh; a=1", false),
            ("a=_gh; b=2", false),
            ("a; =_gh; _gh", false),
            (" \u{a0}_gh =\"v\"", true),
            ("a=1;b=2;_g=3", false),
            ("", false),
        ] {
            assert_eq!(any_named(h, ours), want, "{h:?}");
            assert_eq!(pairs(h).any(|(n, _)| ours(n)), want, "{h:?}");
        }
    }

    #[test]
    fn without_seeing_hands_on_what_pairs_yields() {
        let h = " a=1 ;; noval ;\u{a0}_gh = \"x\" ; =y; b=2=3";
        let mut seen = Vec::new();
        let out = without_seeing(h, |n| n == "_gh", |n, v| seen.push((n, v)));
        assert_eq!(out, without(h, |n| n == "_gh"));
        assert_eq!(out.as_deref(), Some("a=1; noval; =y; b=2=3"));
        assert_eq!(seen, pairs(h).collect::<Vec<_>>());
        assert_eq!(seen, [("a", "1"), ("_gh", "x"), ("b", "2=3")]);
    }

    #[test]
    fn removes_cookies_by_name() {
        assert_eq!(
            without("a=1; _gh=x; b=2; _gh_1=y", |n| n.starts_with("_gh")),
            Some("a=1; b=2".into())
        );
        assert_eq!(without("_gh=x", |n| n == "_gh"), None);
        assert_eq!(
            without(" a=1 ;; noval ;\u{a0}_gh =x; b", |n| n == "_gh"),
            Some("a=1; noval; b".into())
        );
    }

    #[test]
    fn set_cookie_attributes() {
        assert_eq!(
            set(&cfg(), "_gh", "v", 60),
            "_gh=v; Path=/; Max-Age=60; HttpOnly; Domain=example.com; Secure; SameSite=Lax"
        );
        assert!(clear(&cfg(), "_gh").contains("Max-Age=0"));
    }
}
