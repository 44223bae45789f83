//! `web.clientRemoteIP` (Dex's key): the header that names the client's address, believed only
//! when the TCP peer is one of `trustedProxies`. Used for login throttling and rate limits.

use ipnet::IpNet;
use serde::Deserialize;

use super::error::ConfigError;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawClientRemoteIp {
    pub header: Option<String>,
    #[serde(rename = "trustedProxies")]
    pub trusted_proxies: Option<Vec<String>>,
}

/// Where the client's address comes from. Default: the TCP peer, no header believed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientRemoteIp {
    /// Lower-case header name (`x-forwarded-for`), or None to use the TCP peer only.
    pub header: Option<String>,
    pub trusted_proxies: Vec<IpNet>,
}

pub fn client_remote_ip(raw: Option<RawClientRemoteIp>) -> Result<ClientRemoteIp, ConfigError> {
    let Some(raw) = raw else {
        return Ok(ClientRemoteIp::default());
    };
    let header = raw
        .header
        .map(|h| h.trim().to_ascii_lowercase())
        .filter(|h| !h.is_empty());
    if let Some(h) = &header {
        if axum::http::HeaderName::from_bytes(h.as_bytes()).is_err() {
            return Err(ConfigError::key(
                "web.clientRemoteIP.header",
                format!("{h:?} is not a header name; use X-Forwarded-For"),
            ));
        }
    }
    let mut trusted_proxies = Vec::new();
    for (i, text) in raw.trusted_proxies.unwrap_or_default().iter().enumerate() {
        let text = text.trim();
        let net = text
            .parse::<IpNet>()
            .or_else(|_| text.parse::<std::net::IpAddr>().map(IpNet::from))
            .map_err(|_| {
                ConfigError::key(
                    format!("web.clientRemoteIP.trustedProxies[{i}]"),
                    format!("{text:?} is not an IP address or CIDR, e.g. 10.0.0.0/8"),
                )
            })?;
        trusted_proxies.push(net);
    }
    if header.is_some() && trusted_proxies.is_empty() {
        return Err(ConfigError::key(
            "web.clientRemoteIP.trustedProxies",
            "missing: a client-address header is believed only from the proxies listed here (anyone can send it); list your proxies' addresses or CIDRs",
        ));
    }
    if header.is_none() && !trusted_proxies.is_empty() {
        return Err(ConfigError::key(
            "web.clientRemoteIP.header",
            "missing: name the header your proxies set, e.g. X-Forwarded-For",
        ));
    }
    Ok(ClientRemoteIp {
        header,
        trusted_proxies,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(header: Option<&str>, proxies: &[&str]) -> Option<RawClientRemoteIp> {
        Some(RawClientRemoteIp {
            header: header.map(str::to_string),
            trusted_proxies: Some(proxies.iter().map(|s| s.to_string()).collect()),
        })
    }

    #[test]
    fn header_needs_proxies_and_cidrs_are_checked() {
        let ok =
            client_remote_ip(raw(Some("X-Forwarded-For"), &["10.0.0.0/8", "127.0.0.1"])).unwrap();
        assert_eq!(ok.header.as_deref(), Some("x-forwarded-for"));
        assert_eq!(ok.trusted_proxies.len(), 2);
        let e = client_remote_ip(raw(Some("X-Forwarded-For"), &[])).unwrap_err();
        assert!(e.to_string().contains("trustedProxies"), "{e}");
        let e = client_remote_ip(raw(Some("X-Forwarded-For"), &["10.0.0/8"])).unwrap_err();
        assert!(e.to_string().contains("trustedProxies[0]"), "{e}");
        let e = client_remote_ip(raw(None, &["10.0.0.0/8"])).unwrap_err();
        assert!(e.to_string().contains("header"), "{e}");
        assert_eq!(client_remote_ip(None).unwrap(), ClientRemoteIp::default());
    }
}
