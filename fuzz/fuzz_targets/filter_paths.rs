//! The path decision and return-URL sanitising, with the invariants the security rules need.
#![no_main]
use gatehouse_filter::path::decide;
use gatehouse_filter::path::return_url::sanitize;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    if let Ok(p) = decide(s) {
        let raw = s.split('?').next().unwrap_or_default();
        assert!(p.starts_with('/'));
        // One reading: decoding changed no segment boundary and left no dot segment.
        assert_eq!(p.split('/').count(), raw.split('/').count(), "{s:?} -> {p:?}");
        assert!(!p.contains("//"), "{p:?}");
        assert!(!p.split('/').any(|seg| seg == ".." || seg == "."), "{p:?}");
        assert!(!p.contains(['\\', ';', '\0']), "{p:?}");
    }
    let r = sanitize(s);
    assert!(r.starts_with('/') && !r.starts_with("//") && !r.starts_with("/\\"), "{r:?}");
    assert!(!r.chars().any(|c| c.is_control() || c.is_whitespace()), "{r:?}");
});
