use axum::http::StatusCode;
use axum::response::Response;

use super::{escape, html_response};

/// 429: too many attempts; says when to try again (the caller adds `Retry-After`).
pub fn throttled_page(retry_after_secs: i64, until_unix: Option<i64>) -> Response {
    let at = until_unix
        .and_then(|t| time::OffsetDateTime::from_unix_timestamp(t).ok())
        .map(|t| {
            format!(
                " (at {:02}:{:02}:{:02} UTC)",
                t.hour(),
                t.minute(),
                t.second()
            )
        })
        .unwrap_or_default();
    let wait = match retry_after_secs {
        s if s <= 1 => "a second".to_string(),
        s if s < 120 => format!("{s} seconds"),
        s => format!("{} minutes", (s + 59) / 60),
    };
    let body = format!(
        "<h1 class=\"theme-heading\">Too many sign-in attempts</h1><p class=\"dex-error-box\" role=\"alert\">Please wait and try again in {}{}.</p><p class=\"dex-subtle-text\">Repeated failed sign-ins slow down further attempts for this account and this network.</p>",
        escape(&wait),
        escape(&at)
    );
    html_response(StatusCode::TOO_MANY_REQUESTS, "Too many attempts", &body)
}
