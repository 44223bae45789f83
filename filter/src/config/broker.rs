//! The broker keys of the configuration: the issuer, how the gateway reaches the broker, and
//! the filter's client credentials there.

use crate::path::absolute_url::{AbsoluteUrl, UrlError};

use super::{invalid, ConfigError};

/// The checked broker keys.
pub(super) struct Broker {
    pub issuer: String,
    pub upstream: String,
    pub authority: String,
    pub client_id: String,
    pub client_secret: String,
}

/// `issuer`, `broker_upstream`, `broker_authority`, `client_id` and `client_secret`.
pub(super) fn broker(
    issuer: Option<String>,
    upstream: Option<String>,
    authority: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
) -> Result<Broker, ConfigError> {
    let issuer = issuer.ok_or(ConfigError::Missing {
        key: "issuer",
        hint: "set it to the broker's issuer URL, e.g. \"https://sso.example.com/dex\"",
    })?;
    let issuer_url = AbsoluteUrl::parse(&issuer).map_err(|e| match e {
        UrlError::NotAbsolute => invalid("issuer", e.to_string()),
        UrlError::NotHttp => invalid("issuer", "must be an http(s) URL with a host"),
        UrlError::Fragment => invalid("issuer", "must not have a query or fragment"),
        UrlError::Port => invalid("issuer", "must have a port from 0 to 65535, or none"),
    })?;
    if issuer_url.query().is_some() {
        return Err(invalid("issuer", "must not have a query or fragment"));
    }
    let issuer = issuer.trim_end_matches('/').to_string();

    let broker_upstream = non_empty(upstream, "broker_upstream",
        "the gateway upstream the filter calls the broker through: an Envoy cluster name or Kong host:port")?;
    let broker_authority = match authority {
        Some(a) if a.trim().is_empty() => {
            return Err(invalid("broker_authority", "must not be empty"))
        }
        Some(a) => a,
        None => issuer_url.authority(),
    };
    let client_id = non_empty(
        client_id,
        "client_id",
        "the filter's client id at the broker (a staticClients entry)",
    )?;
    let client_secret = non_empty(
        client_secret,
        "client_secret",
        "the secret of that staticClients entry",
    )?;
    Ok(Broker {
        issuer,
        upstream: broker_upstream,
        authority: broker_authority,
        client_id,
        client_secret,
    })
}

fn non_empty(
    value: Option<String>,
    key: &'static str,
    hint: &'static str,
) -> Result<String, ConfigError> {
    match value {
        None => Err(ConfigError::Missing { key, hint }),
        Some(v) if v.trim().is_empty() => Err(invalid(key, "must not be empty")),
        Some(v) => Ok(v),
    }
}
