//! `oauth2.grantTypes`: which grants the token endpoint serves and discovery advertises, in
//! Dex's names. Absent, every grant this broker implements is on (as Dex enables all of its
//! own), the password grant only with `oauth2.passwordConnector`; token exchange and
//! client_credentials only when listed (each hands out tokens without anyone at the broker's
//! pages, so each is opted into).

use super::error::ConfigError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantType {
    AuthorizationCode,
    RefreshToken,
    Password,
    /// RFC 8628.
    DeviceCode,
    /// RFC 8693: an upstream connector's token for the broker's.
    TokenExchange,
    /// RFC 6749 §4.4: a confidential client's tokens about itself.
    ClientCredentials,
}

impl GrantType {
    /// The `grant_type` value (and Dex's config name).
    pub fn as_str(self) -> &'static str {
        match self {
            GrantType::AuthorizationCode => "authorization_code",
            GrantType::RefreshToken => "refresh_token",
            GrantType::Password => "password",
            GrantType::DeviceCode => DEVICE_CODE,
            GrantType::TokenExchange => TOKEN_EXCHANGE,
            GrantType::ClientCredentials => "client_credentials",
        }
    }
}

pub const DEVICE_CODE: &str = "urn:ietf:params:oauth:grant-type:device_code";
pub const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";

/// The enabled grants, in a fixed order (discovery lists them so).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantTypes(Vec<GrantType>);

impl GrantTypes {
    pub fn enabled(&self, grant: GrantType) -> bool {
        self.0.contains(&grant)
    }

    pub fn names(&self) -> Vec<&'static str> {
        self.0.iter().map(|g| g.as_str()).collect()
    }
}

const ORDER: [GrantType; 6] = [
    GrantType::AuthorizationCode,
    GrantType::RefreshToken,
    GrantType::Password,
    GrantType::DeviceCode,
    GrantType::TokenExchange,
    GrantType::ClientCredentials,
];

/// Served when `grantTypes` is absent (token exchange and client_credentials are opted into,
/// as current Dex puts client_credentials behind a feature flag).
fn on_by_default(grant: GrantType) -> bool {
    !matches!(
        grant,
        GrantType::TokenExchange | GrantType::ClientCredentials
    )
}

impl GrantType {
    /// The grant with this `grant_type` value, if this broker implements it.
    pub fn named(name: &str) -> Option<GrantType> {
        ORDER.into_iter().find(|g| g.as_str() == name)
    }
}

/// Reads the list; `password_connector` says whether the password grant can be served.
pub fn grant_types(
    raw: Option<Vec<String>>,
    password_connector: bool,
    warnings: &mut Vec<String>,
) -> Result<GrantTypes, ConfigError> {
    let Some(list) = raw else {
        let all = ORDER
            .into_iter()
            .filter(|g| on_by_default(*g))
            .filter(|g| *g != GrantType::Password || password_connector)
            .collect();
        return Ok(GrantTypes(all));
    };
    let mut chosen = Vec::new();
    for (i, name) in list.iter().enumerate() {
        let path = format!("oauth2.grantTypes[{i}]");
        let grant = match name.as_str() {
            "authorization_code" => GrantType::AuthorizationCode,
            "refresh_token" => GrantType::RefreshToken,
            "password" => {
                if !password_connector {
                    // Dex drops it silently in that case; say so instead.
                    warnings.push(format!(
                        "{path}: \"password\" is off: it needs oauth2.passwordConnector"
                    ));
                    continue;
                }
                GrantType::Password
            }
            DEVICE_CODE => GrantType::DeviceCode,
            // As with responseTypes [token]: accepted so the file loads, never served.
            "implicit" => {
                warnings.push(format!(
                    "{path}: \"implicit\" is not served; only the code flow is"
                ));
                continue;
            }
            TOKEN_EXCHANGE => GrantType::TokenExchange,
            "client_credentials" => GrantType::ClientCredentials,
            other => {
                return Err(ConfigError::key(
                    path,
                    format!(
                        "{other:?} is not a grant type; known: authorization_code, refresh_token, \
                         password, {DEVICE_CODE}, {TOKEN_EXCHANGE}, client_credentials, implicit"
                    ),
                ))
            }
        };
        if !chosen.contains(&grant) {
            chosen.push(grant);
        }
    }
    if chosen.is_empty() {
        return Err(ConfigError::key(
            "oauth2.grantTypes",
            "enables no grant this broker serves: list at least authorization_code",
        ));
    }
    Ok(GrantTypes(
        ORDER.into_iter().filter(|g| chosen.contains(g)).collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(names: &[&str]) -> Option<Vec<String>> {
        Some(names.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn default_is_everything_served() {
        let mut w = Vec::new();
        let g = grant_types(None, false, &mut w).unwrap();
        assert_eq!(
            g.names(),
            vec!["authorization_code", "refresh_token", DEVICE_CODE]
        );
        let g = grant_types(None, true, &mut w).unwrap();
        assert!(g.enabled(GrantType::Password));
        assert!(w.is_empty());
    }

    #[test]
    fn a_list_narrows_and_keeps_order() {
        let mut w = Vec::new();
        let g = grant_types(
            list(&["refresh_token", "authorization_code"]),
            false,
            &mut w,
        )
        .unwrap();
        assert_eq!(g.names(), vec!["authorization_code", "refresh_token"]);
        let g = grant_types(list(&[DEVICE_CODE, "authorization_code"]), false, &mut w).unwrap();
        assert_eq!(g.names(), vec!["authorization_code", DEVICE_CODE]);
        assert!(!g.enabled(GrantType::RefreshToken));
    }

    #[test]
    fn unknown_and_unserved_names_are_refused_with_their_index() {
        let mut w = Vec::new();
        let e = grant_types(list(&["authorization_code", "magic"]), false, &mut w)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("oauth2.grantTypes[1]: \"magic\""), "{e}");
        let e = grant_types(list(&["token_exchange"]), false, &mut w)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("oauth2.grantTypes[0]"), "{e}");
        assert!(
            e.contains(TOKEN_EXCHANGE),
            "the known names are listed: {e}"
        );
        assert!(grant_types(list(&[]), false, &mut w).is_err());
    }

    #[test]
    fn token_exchange_and_client_credentials_only_when_listed() {
        let mut w = Vec::new();
        let g = grant_types(None, true, &mut w).unwrap();
        assert!(!g.enabled(GrantType::TokenExchange));
        assert!(!g.enabled(GrantType::ClientCredentials));
        let g = grant_types(list(&["client_credentials"]), false, &mut w).unwrap();
        assert_eq!(g.names(), vec!["client_credentials"]);
        let g = grant_types(list(&[TOKEN_EXCHANGE, "authorization_code"]), false, &mut w).unwrap();
        assert_eq!(g.names(), vec!["authorization_code", TOKEN_EXCHANGE]);
        assert_eq!(
            GrantType::named(TOKEN_EXCHANGE),
            Some(GrantType::TokenExchange)
        );
        assert_eq!(GrantType::named("implicit"), None);
        assert!(w.is_empty(), "{w:?}");
    }

    #[test]
    fn implicit_and_password_without_connector_warn() {
        let mut w = Vec::new();
        let g = grant_types(
            list(&["authorization_code", "implicit", "password"]),
            false,
            &mut w,
        )
        .unwrap();
        assert_eq!(g.names(), vec!["authorization_code"]);
        assert_eq!(w.len(), 2, "{w:?}");
    }
}
