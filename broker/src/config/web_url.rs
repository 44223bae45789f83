//! Which URLs a page may show (a client's `logoURL`, static or stored through the API).

/// `text` when it is an absolute http(s) URL with a host (a logo a page may show), else None:
/// `javascript:`, `data:` and relative URLs are never put into a page.
pub fn web_url(text: &str) -> Option<String> {
    let url = url::Url::parse(text.trim()).ok()?;
    (matches!(url.scheme(), "http" | "https") && url.host_str().is_some()).then(|| url.to_string())
}

#[cfg(test)]
mod tests {
    use super::web_url;

    #[test]
    fn only_absolute_http_urls_are_shown() {
        assert_eq!(
            web_url(" https://cdn.example/l.png ").as_deref(),
            Some("https://cdn.example/l.png")
        );
        assert!(web_url("http://127.0.0.1:8080/logo.svg").is_some());
        for bad in [
            "",
            "javascript:alert(1)",
            "JAVASCRIPT:alert(1)",
            "data:image/svg+xml,<svg onload=alert(1)>",
            "//cdn.example/l.png",
            "/l.png",
            "file:///etc/passwd",
            "https://",
        ] {
            assert_eq!(web_url(bad), None, "{bad}");
        }
        // What is kept is the parsed form: quotes and angle brackets come out percent-encoded.
        let kept = web_url("https://cdn.example/l.png?x=\"><script>").unwrap();
        assert!(!kept.contains('"') && !kept.contains('<'), "{kept}");
    }
}
