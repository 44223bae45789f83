//! Path normalisation and return-URL sanitising, with the invariants the security rules need.
#![no_main]
use gatehouse_filter::path::normalize_path;
use gatehouse_filter::return_url::sanitize;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    if let Some(p) = normalize_path(s) {
        assert!(p.starts_with('/'));
        assert!(!p.contains("//"), "{p:?}");
        assert!(!p.split('/').any(|seg| seg == ".." || seg == "."), "{p:?}");
        assert!(!p.contains('\\'), "{p:?}");
    }
    let r = sanitize(s);
    assert!(r.starts_with('/') && !r.starts_with("//") && !r.starts_with("/\\"), "{r:?}");
    assert!(!r.chars().any(|c| c.is_control() || c.is_whitespace()), "{r:?}");
});
