//! `staticClients`: the OAuth clients, each with exact redirect URIs and a secret (or public).

use std::collections::HashSet;

use super::error::ConfigError;
use super::raw::RawStaticClient;
use super::Client;
use crate::secret::Secret;

/// What Dex's documentation has device-flow clients list in `redirectURIs`.
const DEX_DEVICE_CALLBACK: &str = "/device/callback";

pub(super) fn clients(
    raw: Vec<RawStaticClient>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<Client>, ConfigError> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for (i, c) in raw.into_iter().enumerate() {
        let at = |k: &str| format!("staticClients[{i}].{k}");
        let id = match (c.id.filter(|s| !s.is_empty()), c.id_env) {
            (Some(_), Some(_)) => {
                return Err(ConfigError::key(at("idEnv"), "give id or idEnv, not both"))
            }
            (Some(id), None) => id,
            (None, Some(var)) => env(&var).filter(|v| !v.is_empty()).ok_or_else(|| {
                ConfigError::key(
                    at("idEnv"),
                    format!("environment variable {var:?} is not set (or empty)"),
                )
            })?,
            (None, None) => return Err(ConfigError::key(at("id"), "missing (give id or idEnv)")),
        };
        if !seen.insert(id.clone()) {
            return Err(ConfigError::key(
                at("id"),
                format!("{id:?} is used by another client"),
            ));
        }
        let public = c.public.unwrap_or(false);
        let secret = match (c.secret, c.secret_env) {
            (Some(_), Some(_)) => {
                return Err(ConfigError::key(
                    at("secretEnv"),
                    "give secret or secretEnv, not both",
                ))
            }
            (Some(s), None) => Some(s),
            (None, Some(var)) => Some(env(&var).ok_or_else(|| {
                ConfigError::key(
                    at("secretEnv"),
                    format!("environment variable {var:?} is not set"),
                )
            })?),
            (None, None) => None,
        };
        let secret = match (public, secret) {
            (true, Some(_)) => {
                return Err(ConfigError::key(
                    at("secret"),
                    "public clients have no secret; remove it or set public: false",
                ))
            }
            (true, None) => None,
            (false, Some(s)) if !s.is_empty() => Some(Secret::new(s)),
            (false, _) => {
                return Err(ConfigError::key(
                    at("secret"),
                    "missing: a confidential client needs a secret (or public: true)",
                ))
            }
        };
        let mut redirect_uris = c.redirect_uris.unwrap_or_default();
        if redirect_uris.is_empty() {
            return Err(ConfigError::key(
                at("redirectURIs"),
                "missing: list the exact callback URLs of this client",
            ));
        }
        for (j, uri) in redirect_uris.iter().enumerate() {
            if uri == DEX_DEVICE_CALLBACK {
                continue;
            }
            let parsed = url::Url::parse(uri).map_err(|e| {
                ConfigError::key(
                    format!("staticClients[{i}].redirectURIs[{j}]"),
                    format!("{uri:?} is not an absolute URL ({e})"),
                )
            })?;
            if parsed.fragment().is_some() {
                return Err(ConfigError::key(
                    format!("staticClients[{i}].redirectURIs[{j}]"),
                    "must not contain a fragment",
                ));
            }
        }
        // Dex's device clients list its relative device callback; the device flow here needs
        // no redirect URI, so the marker is accepted and leaves no URI /auth would take.
        redirect_uris.retain(|uri| uri != DEX_DEVICE_CALLBACK);
        let post_logout_redirect_uris = c.post_logout_redirect_uris.unwrap_or_default();
        for (j, uri) in post_logout_redirect_uris.iter().enumerate() {
            let at = format!("staticClients[{i}].postLogoutRedirectURIs[{j}]");
            let parsed = url::Url::parse(uri).map_err(|e| {
                ConfigError::key(&at, format!("{uri:?} is not an absolute URL ({e})"))
            })?;
            if parsed.fragment().is_some() {
                return Err(ConfigError::key(at, "must not contain a fragment"));
            }
        }
        let trusted_peers = c.trusted_peers.unwrap_or_default();
        for (j, peer) in trusted_peers.iter().enumerate() {
            if peer.is_empty() || peer.contains(char::is_whitespace) {
                return Err(ConfigError::key(
                    format!("staticClients[{i}].trustedPeers[{j}]"),
                    format!("{peer:?} is not a client id"),
                ));
            }
        }
        let logo_url = match c.logo_url.filter(|u| !u.trim().is_empty()) {
            None => None,
            Some(u) => Some(super::web_url(&u).ok_or_else(|| {
                ConfigError::key(
                    at("logoURL"),
                    format!("{u:?} is not an absolute http(s) URL"),
                )
            })?),
        };
        let backchannel_logout_uri = match c.backchannel_logout_uri.filter(|u| !u.trim().is_empty())
        {
            None => None,
            Some(u) => Some(super::web_url(&u).ok_or_else(|| {
                ConfigError::key(
                    at("backchannelLogoutURI"),
                    format!("{u:?} is not an absolute http(s) URL"),
                )
            })?),
        };
        let client_credentials_groups = c
            .client_credentials_claims
            .and_then(|claims| claims.groups)
            .unwrap_or_default();
        out.push(Client {
            backchannel_logout_uri,
            client_credentials_groups,
            name: c
                .name
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| id.clone()),
            id,
            secret,
            redirect_uris,
            post_logout_redirect_uris,
            public,
            trusted_peers,
            logo_url,
        });
    }
    Ok(out)
}
