//! The HTTP client connectors use for upstream calls (token endpoints, Graph, discovery, JWKS).
//!
//! Bounded everywhere: request timeout, response size, and how long a throttled call (HTTP 429
//! or 503 with `Retry-After`) may wait before the sign-in fails. Errors never carry tokens.

use std::time::Duration;

use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use serde_json::Value;

use super::ConnectorError;

/// Largest upstream answer read (a user with thousands of groups is a few hundred KiB).
const MAX_BODY: usize = 8 * 1024 * 1024;
/// Throttled calls are retried this many times at most …
const MAX_RETRIES: u32 = 3;
/// … and never wait longer than this per retry, whatever `Retry-After` says.
const MAX_RETRY_WAIT: Duration = Duration::from_secs(10);

#[derive(Clone)]
pub struct UpstreamClient {
    http: reqwest::Client,
}

/// How a call authenticates.
#[derive(Clone, Copy)]
pub enum Auth<'a> {
    None,
    /// An access token (Graph, userinfo).
    Bearer(&'a str),
    /// client_secret_basic: RFC 6749 §2.3.1 form-encodes id and secret before Base64.
    Basic {
        id: &'a str,
        secret: &'a str,
    },
}

/// The body of a call: nothing, a form (token endpoints) or JSON (Graph actions).
pub enum Body<'a> {
    Empty,
    Form(&'a [(&'a str, &'a str)]),
    Json(&'a Value),
}

impl UpstreamClient {
    pub fn new() -> Result<Self, ConnectorError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(15))
            .connect_timeout(Duration::from_secs(5))
            // Upstreams answer; they do not send the broker elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("gatehouse-broker/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ConnectorError::Internal(format!("HTTP client: {e}")))?;
        Ok(UpstreamClient { http })
    }

    /// Sends a request and returns the JSON answer of a 2xx response.
    /// `what` names the call in error messages ("token endpoint", "Graph /me").
    pub async fn call(
        &self,
        what: &str,
        method: Method,
        url: &str,
        auth: Auth<'_>,
        body: Body<'_>,
    ) -> Result<Value, ConnectorError> {
        let mut attempt = 0;
        loop {
            let mut request = self
                .http
                .request(method.clone(), url)
                .header("Accept", "application/json");
            request = match auth {
                Auth::None => request,
                Auth::Bearer(token) => request.bearer_auth(token),
                Auth::Basic { id, secret } => {
                    let enc =
                        |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
                    request.basic_auth(enc(id), Some(enc(secret)))
                }
            };
            request = match &body {
                Body::Empty => request,
                Body::Form(fields) => request.form(fields),
                Body::Json(value) => request.json(value),
            };
            let response = request.send().await.map_err(|e| {
                // reqwest errors may contain the URL (with query) but never headers or bodies.
                ConnectorError::Upstream(format!("{what}: {}", e.without_url()))
            })?;
            let status = response.status();
            let wait = retry_wait(status, response.headers());
            let bytes = read_limited(what, response).await?;
            if let Some(wait) = wait {
                if attempt < MAX_RETRIES {
                    attempt += 1;
                    tracing::warn!(
                        call = what,
                        status = status.as_u16(),
                        wait_ms = wait.as_millis() as u64,
                        attempt,
                        "upstream throttled; retrying after Retry-After"
                    );
                    tokio::time::sleep(wait).await;
                    continue;
                }
                return Err(ConnectorError::Upstream(format!(
                    "{what}: still throttled (HTTP {}) after {MAX_RETRIES} retries",
                    status.as_u16()
                )));
            }
            let json: Option<Value> = serde_json::from_slice(&bytes).ok();
            if !status.is_success() {
                return Err(ConnectorError::Upstream(format!(
                    "{what}: HTTP {}{}",
                    status.as_u16(),
                    json.as_ref().map(describe_error).unwrap_or_default()
                )));
            }
            return json.ok_or_else(|| {
                ConnectorError::Upstream(format!("{what}: the answer is not JSON"))
            });
        }
    }
}

/// How long to wait before retrying, when the answer says "try later" (429, or 503 with a
/// `Retry-After`). `Retry-After` is seconds (Graph) or an HTTP date; bounded either way.
fn retry_wait(status: StatusCode, headers: &HeaderMap) -> Option<Duration> {
    let header = headers.get(RETRY_AFTER).and_then(|v| v.to_str().ok());
    let throttled = status == StatusCode::TOO_MANY_REQUESTS
        || (status == StatusCode::SERVICE_UNAVAILABLE && header.is_some());
    if !throttled {
        return None;
    }
    let wait = header
        .and_then(|h| h.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
        // An HTTP-date or no header at all: a short default.
        .unwrap_or(Duration::from_secs(1));
    Some(wait.min(MAX_RETRY_WAIT))
}

async fn read_limited(
    what: &str,
    mut response: reqwest::Response,
) -> Result<Vec<u8>, ConnectorError> {
    if response
        .content_length()
        .is_some_and(|n| n > MAX_BODY as u64)
    {
        return Err(ConnectorError::Upstream(format!(
            "{what}: answer too large"
        )));
    }
    let mut out = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| ConnectorError::Upstream(format!("{what}: {}", e.without_url())))?
    {
        if out.len() + chunk.len() > MAX_BODY {
            return Err(ConnectorError::Upstream(format!(
                "{what}: answer too large"
            )));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// The error part of an upstream answer, for the log and the error page. Both shapes Microsoft
/// documents: OAuth (`{"error": "invalid_grant", "error_description": …}`) and Graph
/// (`{"error": {"code": "Authorization_RequestDenied", "message": …}}`).
fn describe_error(json: &Value) -> String {
    let (code, message) = match json.get("error") {
        Some(Value::String(code)) => (
            code.as_str(),
            json.get("error_description").and_then(Value::as_str),
        ),
        Some(Value::Object(e)) => (
            e.get("code").and_then(Value::as_str).unwrap_or(""),
            e.get("message").and_then(Value::as_str),
        ),
        _ => return String::new(),
    };
    // Descriptions can be long (Entra appends trace ids); keep the first line, bounded.
    let message: String = message
        .unwrap_or("")
        .lines()
        .next()
        .unwrap_or("")
        .chars()
        .take(200)
        .collect();
    format!(" {code}: {message}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;
    use serde_json::json;

    #[test]
    fn retry_after_is_honoured_and_bounded() {
        let mut h = HeaderMap::new();
        assert_eq!(retry_wait(StatusCode::OK, &h), None);
        assert_eq!(retry_wait(StatusCode::SERVICE_UNAVAILABLE, &h), None);
        assert_eq!(
            retry_wait(StatusCode::TOO_MANY_REQUESTS, &h),
            Some(Duration::from_secs(1))
        );
        h.insert(RETRY_AFTER, HeaderValue::from_static("3"));
        assert_eq!(
            retry_wait(StatusCode::TOO_MANY_REQUESTS, &h),
            Some(Duration::from_secs(3))
        );
        assert_eq!(
            retry_wait(StatusCode::SERVICE_UNAVAILABLE, &h),
            Some(Duration::from_secs(3))
        );
        h.insert(RETRY_AFTER, HeaderValue::from_static("86400"));
        assert_eq!(
            retry_wait(StatusCode::TOO_MANY_REQUESTS, &h),
            Some(MAX_RETRY_WAIT)
        );
    }

    #[test]
    fn both_error_shapes_are_described() {
        assert_eq!(
            describe_error(
                &json!({"error": "invalid_grant", "error_description": "AADSTS70008: expired\r\nTrace ID: x"})
            ),
            " invalid_grant: AADSTS70008: expired"
        );
        assert_eq!(
            describe_error(
                &json!({"error": {"code": "Authorization_RequestDenied", "message": "Insufficient privileges"}})
            ),
            " Authorization_RequestDenied: Insufficient privileges"
        );
        assert_eq!(describe_error(&json!({"value": []})), "");
    }
}
