//! The header scan: never panics, and finds every client-sent identity header whatever its
//! case or `_`/`-` spelling.
#![no_main]
use gatehouse_filter::headers::identity::IDENTITY_HEADERS;
use gatehouse_filter::headers::request::{same_name, scan};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    let headers: Vec<(String, String)> = s
        .lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let scanned = scan(&headers);
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
