//! `oauth2.grantTypes`: which grants the token endpoint serves and discovery advertises, in
//! Dex's names. Absent, every grant this broker implements is on (as Dex enables all of its
//! own), the password grant only with `oauth2.passwordConnector`.

use super::error::ConfigError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantType {
    AuthorizationCode,
    RefreshToken,
    Password,
    /// RFC 8628.
    DeviceCode,
}

impl GrantType {
    /// The `grant_type` value (and Dex's config name).
    pub fn as_str(self) -> &'static str {
        match self {
            GrantType::AuthorizationCode => "authorization_code",
            GrantType::RefreshToken => "refresh_token",
            GrantType::Password => "password",
            GrantType::DeviceCode => DEVICE_CODE,
        }
    }
}

pub const DEVICE_CODE: &str = "urn:ietf:params:oauth:grant-type:device_code";
const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";

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

const ORDER: [GrantType; 4] = [
    GrantType::AuthorizationCode,
    GrantType::RefreshToken,
    GrantType::Password,
    GrantType::DeviceCode,
];

/// Reads the list; `password_connector` says whether the password grant can be served.
pub fn grant_types(
    raw: Option<Vec<String>>,
    password_connector: bool,
    warnings: &mut Vec<String>,
) -> Result<GrantTypes, ConfigError> {
    let Some(list) = raw else {
        let all = ORDER
            .into_iter()
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
            TOKEN_EXCHANGE => {
                return Err(ConfigError::key(
                    path,
                    "token exchange (RFC 8693) is not supported yet; remove it",
                ))
            }
            "client_credentials" => {
                return Err(ConfigError::key(
                    path,
                    "the client_credentials grant is not supported; remove it",
                ))
            }
            other => {
                return Err(ConfigError::key(
                    path,
                    format!(
                        "{other:?} is not a grant type; known: authorization_code, refresh_token, \
                         password, {DEVICE_CODE}, implicit"
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
        let e = grant_types(list(&["client_credentials"]), false, &mut w)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("oauth2.grantTypes[0]"), "{e}");
        let e = grant_types(list(&[TOKEN_EXCHANGE]), false, &mut w)
            .unwrap_err()
            .to_string();
        assert!(e.contains("token exchange"), "{e}");
        assert!(grant_types(list(&[]), false, &mut w).is_err());
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
