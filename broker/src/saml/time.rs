//! `xs:dateTime` instants as SAML uses them (UTC, `Z`), to and from Unix seconds.

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// Unix seconds of an `xs:dateTime`; fractions are dropped.
pub fn parse_instant(text: &str) -> Option<i64> {
    OffsetDateTime::parse(text.trim(), &Rfc3339)
        .ok()
        .map(|t| t.unix_timestamp())
}

/// `2026-01-02T03:04:05Z`.
pub fn format_instant(unix: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| "1970-01-01T00:00:00Z".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_accepts_fractions() {
        assert_eq!(parse_instant("1970-01-01T00:01:00Z"), Some(60));
        assert_eq!(parse_instant("1970-01-01T00:01:00.123Z"), Some(60));
        assert_eq!(parse_instant("yesterday"), None);
        assert_eq!(format_instant(60), "1970-01-01T00:01:00Z");
    }
}
