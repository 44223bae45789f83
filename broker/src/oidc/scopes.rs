/// Scopes this provider understands; anything else is refused rather than ignored.
pub const SUPPORTED_SCOPES: &[&str] = &[
    "openid",
    "email",
    "profile",
    "groups",
    "offline_access",
    "federated:id",
];

/// Splits a `scope` parameter, de-duplicated, in order. Err describes the problem.
pub fn parse_scopes(text: &str) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::new();
    for s in text.split(' ').filter(|s| !s.is_empty()) {
        if !SUPPORTED_SCOPES.contains(&s) {
            return Err(format!("unsupported scope {s:?}"));
        }
        if !out.iter().any(|x| x == s) {
            out.push(s.to_string());
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_refuses_unknown() {
        assert_eq!(
            parse_scopes("openid  email openid").unwrap(),
            vec!["openid", "email"]
        );
        assert!(parse_scopes("openid admin").unwrap_err().contains("admin"));
    }
}
