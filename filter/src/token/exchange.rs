//! Calls to the broker's token endpoint (RFC 6749 §4.1.3 with PKCE, §6 refresh) as plain data:
//! the glue sends them with `dispatch_http_call`.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::Deserialize;

use crate::config::Settings;

/// One HTTP call to the broker, host-neutral.
pub struct BrokerCall {
    pub method: &'static str,
    pub path: String,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

impl std::fmt::Debug for BrokerCall {
    // Bodies carry codes, verifiers and refresh tokens: never logged.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.method, self.path)
    }
}

fn client_auth(settings: &Settings) -> String {
    // client_secret_basic: id and secret are form-encoded before base64 (RFC 6749 §2.3.1).
    let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let pair = format!(
        "{}:{}",
        enc(&settings.client_id),
        enc(&settings.client_secret)
    );
    format!("Basic {}", STANDARD.encode(pair))
}

fn post(settings: &Settings, token_path: &str, form: &[(&str, &str)]) -> BrokerCall {
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form.iter())
        .finish()
        .into_bytes();
    BrokerCall {
        method: "POST",
        path: token_path.to_string(),
        headers: vec![
            (
                "content-type",
                "application/x-www-form-urlencoded".to_string(),
            ),
            ("accept", "application/json".to_string()),
            ("authorization", client_auth(settings)),
        ],
        body,
    }
}

pub fn code_exchange(
    settings: &Settings,
    token_path: &str,
    code: &str,
    redirect_uri: &str,
    verifier: &str,
) -> BrokerCall {
    post(
        settings,
        token_path,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
            ("code_verifier", verifier),
        ],
    )
}

pub fn refresh(settings: &Settings, token_path: &str, refresh_token: &str) -> BrokerCall {
    post(
        settings,
        token_path,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ],
    )
}

#[derive(Deserialize)]
pub struct TokenResponse {
    pub id_token: String,
    #[serde(default)]
    pub access_token: Option<String>,
    #[serde(default)]
    pub refresh_token: Option<String>,
    #[serde(default)]
    pub token_type: Option<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ExchangeError {
    #[error("broker did not answer")]
    NoAnswer,
    /// A 5xx: the broker failed, or the gateway answered for an unreachable or slow broker.
    #[error("broker unavailable: status {0}")]
    Unavailable(u32),
    #[error("broker refused the grant: status {status}, error {error:?}")]
    Refused { status: u32, error: String },
    #[error("broker answer is not a token response")]
    Malformed,
}

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(default)]
    error: String,
}

/// Reads the token endpoint's answer; `status` is `None` when the call failed.
pub fn parse_response(status: Option<u32>, body: &[u8]) -> Result<TokenResponse, ExchangeError> {
    let status = status.ok_or(ExchangeError::NoAnswer)?;
    if status >= 500 {
        return Err(ExchangeError::Unavailable(status));
    }
    if status != 200 {
        // Only the RFC 6749 error code is kept: it is safe to log, the description may not be.
        let error = serde_json::from_slice::<ErrorBody>(body)
            .map(|b| b.error)
            .unwrap_or_default()
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
            .take(64)
            .collect();
        return Err(ExchangeError::Refused { status, error });
    }
    let resp: TokenResponse = serde_json::from_slice(body).map_err(|_| ExchangeError::Malformed)?;
    if resp
        .token_type
        .as_deref()
        .is_some_and(|t| !t.eq_ignore_ascii_case("bearer"))
    {
        return Err(ExchangeError::Malformed);
    }
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gateway_errors_mean_unavailable() {
        assert_eq!(
            parse_response(Some(503), b"no healthy upstream").err(),
            Some(ExchangeError::Unavailable(503))
        );
    }

    #[test]
    fn error_responses_keep_only_the_code() {
        let e = parse_response(
            Some(400),
            br#"{"error":"invalid_grant","error_description":"x"}"#,
        );
        assert_eq!(
            e.err(),
            Some(ExchangeError::Refused {
                status: 400,
                error: "invalid_grant".into()
            })
        );
        assert_eq!(
            parse_response(None, b"").err(),
            Some(ExchangeError::NoAnswer)
        );
        assert_eq!(
            parse_response(Some(200), b"{}").err(),
            Some(ExchangeError::Malformed)
        );
        assert_eq!(
            parse_response(Some(200), br#"{"id_token":"a","token_type":"mac"}"#).err(),
            Some(ExchangeError::Malformed)
        );
        assert!(parse_response(Some(200), br#"{"id_token":"a","token_type":"Bearer"}"#).is_ok());
    }
}
