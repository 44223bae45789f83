use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::escape;

const STYLE: &str = r#"
*{box-sizing:border-box}
body{margin:0;min-height:100vh;display:flex;align-items:center;justify-content:center;
 font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:#f3f4f6;color:#111827}
main{background:#fff;width:100%;max-width:380px;padding:2rem;border-radius:12px;
 box-shadow:0 1px 3px rgba(0,0,0,.1),0 8px 24px rgba(0,0,0,.06)}
h1{font-size:1.35rem;margin:0 0 1.25rem}
p{line-height:1.5}
label{display:block;font-size:.875rem;font-weight:600;margin:1rem 0 .35rem}
input[type=email],input[type=text],input[type=password]{width:100%;padding:.6rem .75rem;font-size:1rem;
 border:1px solid #d1d5db;border-radius:8px}
input:focus{outline:2px solid #2563eb;outline-offset:1px;border-color:#2563eb}
button,.button{display:block;width:100%;margin-top:1.25rem;padding:.65rem;font-size:1rem;font-weight:600;
 color:#fff;background:#2563eb;border:0;border-radius:8px;cursor:pointer;text-align:center;text-decoration:none}
button.secondary{background:#fff;color:#374151;border:1px solid #d1d5db;margin-top:.6rem}
.error{background:#fef2f2;color:#991b1b;border:1px solid #fecaca;padding:.6rem .75rem;border-radius:8px;font-size:.9rem}
ul{padding-left:1.2rem}
.muted{color:#6b7280;font-size:.875rem}
.logo{display:block;margin:0 auto 1rem;border-radius:8px;object-fit:contain}
"#;

/// A complete page with safe headers: no caching, no framing, no scripts.
pub fn html_response(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{} · Gatehouse</title><style>{STYLE}</style></head>\
         <body><main>{body}</main></body></html>\n",
        escape(title)
    );
    let mut response = (status, html).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
        ),
    );
    response
}
