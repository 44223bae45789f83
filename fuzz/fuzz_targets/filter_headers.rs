//! The header scan: never panics, and finds every client-sent identity header whatever its
//! case or `_`/`-` spelling; the host's header-map buffer, read in place, never panics either.
#![no_main]
use gatehouse_filter::headers::identity::IDENTITY_HEADERS;
use gatehouse_filter::headers::pairs;
use gatehouse_filter::headers::request::{same_name, scan};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(map) = pairs::parse(data) {
        let _ = scan(map.iter().copied());
    }
    let Ok(s) = std::str::from_utf8(data) else { return };
    let headers: Vec<(String, String)> = s
        .lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let scanned = scan(headers.iter().map(|(k, v)| (k.as_bytes(), v.as_bytes())));
    let owned = headers.iter().any(|(k, _)| {
        !k.starts_with(':')
            && !["cookie", "accept", "host", "authorization", "x-requested-with"]
                .iter()
                .any(|n| same_name(k, n))
            && IDENTITY_HEADERS
                .iter()
                .any(|h| k.to_ascii_lowercase().replace('_', "-") == *h)
    });
    assert_eq!(scanned.forged.is_some(), owned, "{headers:?}");
    assert!(scanned.authorizations >= scanned.authorization.is_some() as usize);
});
