//! Client authentication at /token: client_secret_basic, client_secret_post, or none (public).

use axum::http::{header, HeaderMap};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use super::oauth_error::OAuthError;
use super::params::Params;
use super::AppState;
use crate::config::{Client, Config};
use crate::secret::Secret;

/// Compared against when the client id is unknown, so unknown ids and wrong secrets take equal time.
const DUMMY_SECRET: &str = "gatehouse-dummy-client-secret-for-constant-time-comparison";

/// Returns the authenticated client.
pub async fn authenticate(
    app: &AppState,
    headers: &HeaderMap,
    form: &Params,
) -> Result<Client, OAuthError> {
    let (id, secret) = credentials(headers, form)?;
    let client = app.client(&id).await.map_err(|e| {
        tracing::error!(error = %e, "storage failed looking up a client");
        if e.is_unavailable() {
            OAuthError::temporarily_unavailable("storage is unavailable; try again")
        } else {
            OAuthError::server_error()
        }
    })?;
    verify(client, secret)
}

/// [`authenticate`] against the configuration's static clients only, without storage: the
/// same input handling and checks, for the tests and the fuzz target (`fuzz/broker_params`).
pub fn authenticate_static(
    config: &Config,
    headers: &HeaderMap,
    form: &Params,
) -> Result<Client, OAuthError> {
    let (id, secret) = credentials(headers, form)?;
    verify(config.clients.iter().find(|c| c.id == id).cloned(), secret)
}

/// The client id and secret the request presents (Basic, form, or id alone).
fn credentials(headers: &HeaderMap, form: &Params) -> Result<(String, Option<String>), OAuthError> {
    let basic = basic_credentials(headers)?;
    let (id, secret) = match (basic, form.get("client_secret")) {
        (Some(_), Some(_)) => {
            return Err(OAuthError::invalid_request(
                "use one client authentication method, not two",
            ))
        }
        (Some((id, secret)), None) => {
            if form.get("client_id").is_some_and(|form_id| form_id != id) {
                return Err(OAuthError::invalid_request(
                    "client_id differs from the authenticated client",
                ));
            }
            (id, Some(secret))
        }
        (None, secret) => {
            let id = form
                .get("client_id")
                .ok_or_else(|| OAuthError::invalid_client("client authentication is required"))?;
            (id.to_string(), secret.map(str::to_string))
        }
    };
    Ok((id, secret))
}

/// Checks the presented secret against the client found (None: unknown id).
fn verify(client: Option<Client>, secret: Option<String>) -> Result<Client, OAuthError> {
    match (client, secret) {
        (Some(client), None) if client.public => Ok(client),
        (Some(client), Some(given)) if !client.public => {
            let expected = client.secret.as_ref();
            if expected.is_some_and(|s| s.matches(&given)) {
                Ok(client)
            } else {
                Err(OAuthError::invalid_client("client authentication failed"))
            }
        }
        (Some(client), Some(_)) if client.public => Err(OAuthError::invalid_client(
            "public clients do not authenticate with a secret",
        )),
        (None, Some(given)) => {
            let _ = Secret::new(DUMMY_SECRET).matches(&given);
            Err(OAuthError::invalid_client("client authentication failed"))
        }
        _ => Err(OAuthError::invalid_client("client authentication failed")),
    }
}

/// `Authorization: Basic base64(urlencode(id) ":" urlencode(secret))` (RFC 6749 §2.3.1).
fn basic_credentials(headers: &HeaderMap) -> Result<Option<(String, String)>, OAuthError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let bad = || OAuthError::invalid_client("malformed Basic credentials");
    let text = value.to_str().map_err(|_| bad())?;
    let Some((scheme, encoded)) = text.split_once(' ') else {
        return Err(bad());
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(OAuthError::invalid_client(
            "only Basic client authentication is supported",
        ));
    }
    let decoded = STANDARD.decode(encoded.trim()).map_err(|_| bad())?;
    let decoded = String::from_utf8(decoded).map_err(|_| bad())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(bad)?;
    let unescape = |s: &str| -> String {
        form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    Ok(Some((unescape(id), unescape(secret))))
}

#[cfg(test)]
mod tests {
    use super::authenticate_static as authenticate;
    use super::*;
    use axum::http::HeaderValue;

    fn config() -> Config {
        Config::from_yaml(
            r#"
issuer: http://127.0.0.1:5556/dex
storage: {type: memory}
web: {http: "127.0.0.1:5556"}
enablePasswordDB: true
staticClients:
- {id: "conf:id", secret: "s3cr3t/+", redirectURIs: ["http://a/cb"]}
- {id: pub, public: true, redirectURIs: ["http://a/cb"]}
"#,
        )
        .unwrap()
    }

    fn basic(id: &str, secret: &str) -> HeaderMap {
        let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        let mut h = HeaderMap::new();
        let v = format!(
            "Basic {}",
            STANDARD.encode(format!("{}:{}", enc(id), enc(secret)))
        );
        h.insert(header::AUTHORIZATION, HeaderValue::from_str(&v).unwrap());
        h
    }

    fn form(s: &str) -> Params {
        Params::parse(s.as_bytes()).unwrap()
    }

    #[test]
    fn basic_with_urlencoded_parts() {
        let c = config();
        assert_eq!(
            authenticate(&c, &basic("conf:id", "s3cr3t/+"), &form(""))
                .unwrap()
                .id,
            "conf:id"
        );
        assert!(authenticate(&c, &basic("conf:id", "wrong"), &form("")).is_err());
        assert!(authenticate(&c, &basic("nobody", "s3cr3t/+"), &form("")).is_err());
    }

    #[test]
    fn post_and_public() {
        let c = config();
        let ok = form("client_id=conf%3Aid&client_secret=s3cr3t%2F%2B");
        assert_eq!(
            authenticate(&c, &HeaderMap::new(), &ok).unwrap().id,
            "conf:id"
        );
        assert!(
            authenticate(&c, &HeaderMap::new(), &form("client_id=conf%3Aid")).is_err(),
            "confidential needs secret"
        );
        assert_eq!(
            authenticate(&c, &HeaderMap::new(), &form("client_id=pub"))
                .unwrap()
                .id,
            "pub"
        );
        assert!(
            authenticate(&c, &basic("conf:id", "s3cr3t/+"), &ok).is_err(),
            "two methods"
        );
        assert!(authenticate(&c, &HeaderMap::new(), &form("")).is_err());
    }
}
