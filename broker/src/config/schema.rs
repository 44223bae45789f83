//! The shape of a Dex config file: every key we know, in its canonical spelling.
//!
//! Dex reads YAML through Go's `encoding/json`, which matches keys case-insensitively, so
//! `enablePasswordDb` and `enablePasswordDB` are the same key. We reproduce that by renaming
//! every key to its canonical spelling before typed deserialisation, and we refuse any key we
//! do not know (or do not support yet) with its full path, instead of ignoring it.

use serde_json::{Map, Value};

use super::error::ConfigError;

/// What a config node must look like.
pub enum Shape {
    /// A mapping with these canonical keys.
    Object(&'static [(&'static str, Shape)]),
    /// A list whose items have this shape.
    List(&'static Shape),
    /// A scalar (or anything typed deserialisation will check).
    Scalar,
    /// A free-form node checked later by its owner (e.g. a connector's `config`).
    Opaque,
    /// A Dex key we recognise but do not implement yet: refused with this reason.
    Unsupported(&'static str),
}

const REFRESH_TOKENS: Shape = Shape::Object(&[
    ("validIfNotUsedFor", Shape::Scalar),
    ("absoluteLifetime", Shape::Scalar),
    ("reuseInterval", Shape::Scalar),
    ("disableRotation", Shape::Scalar),
]);

const EXPIRY: Shape = Shape::Object(&[
    ("idTokens", Shape::Scalar),
    ("authRequests", Shape::Scalar),
    ("signingKeys", Shape::Scalar),
    ("deviceRequests", Shape::Scalar),
    ("refreshTokens", REFRESH_TOKENS),
]);

const POSTGRES_SSL: Shape = Shape::Object(&[
    ("mode", Shape::Scalar),
    ("caFile", Shape::Scalar),
    ("keyFile", Shape::Scalar),
    ("certFile", Shape::Scalar),
    ("serverName", Shape::Scalar),
]);

/// Every backend's keys; `validate.rs` refuses the ones the chosen `type` does not use.
const STORAGE_CONFIG: Shape = Shape::Object(&[
    ("file", Shape::Scalar),
    ("host", Shape::Scalar),
    ("port", Shape::Scalar),
    ("database", Shape::Scalar),
    ("user", Shape::Scalar),
    ("password", Shape::Scalar),
    ("ssl", POSTGRES_SSL),
    ("connectionTimeout", Shape::Scalar),
    ("maxOpenConns", Shape::Scalar),
    ("maxIdleConns", Shape::Scalar),
    ("connMaxLifetime", Shape::Scalar),
    ("url", Shape::Scalar),
]);

const STORAGE: Shape = Shape::Object(&[("type", Shape::Scalar), ("config", STORAGE_CONFIG)]);

const WEB_HEADERS: Shape = Shape::Object(&[
    ("Content-Security-Policy", Shape::Scalar),
    ("X-Frame-Options", Shape::Scalar),
    ("X-Content-Type-Options", Shape::Scalar),
    ("X-XSS-Protection", Shape::Scalar),
    ("Strict-Transport-Security", Shape::Scalar),
]);

const WEB: Shape = Shape::Object(&[
    ("http", Shape::Scalar),
    ("https", Shape::Scalar),
    ("tlsCert", Shape::Scalar),
    ("tlsKey", Shape::Scalar),
    ("tlsMinVersion", Shape::Scalar),
    ("tlsMaxVersion", Shape::Scalar),
    ("allowedOrigins", Shape::List(&Shape::Scalar)),
    ("allowedHeaders", Shape::List(&Shape::Scalar)),
    ("headers", WEB_HEADERS),
    (
        "clientRemoteIP",
        Shape::Object(&[
            ("header", Shape::Scalar),
            ("trustedProxies", Shape::List(&Shape::Scalar)),
        ]),
    ),
]);

const LOGGER: Shape = Shape::Object(&[("level", Shape::Scalar), ("format", Shape::Scalar)]);

const PKCE: Shape = Shape::Object(&[
    ("enforce", Shape::Scalar),
    ("codeChallengeMethodsSupported", Shape::List(&Shape::Scalar)),
]);

const OAUTH2: Shape = Shape::Object(&[
    ("skipApprovalScreen", Shape::Scalar),
    ("responseTypes", Shape::List(&Shape::Scalar)),
    ("alwaysShowLoginScreen", Shape::Scalar),
    ("passwordConnector", Shape::Scalar),
    ("pkce", PKCE),
    ("grantTypes", Shape::List(&Shape::Scalar)),
]);

const STATIC_CLIENT: Shape = Shape::Object(&[
    ("id", Shape::Scalar),
    ("idEnv", Shape::Scalar),
    ("secret", Shape::Scalar),
    ("secretEnv", Shape::Scalar),
    ("name", Shape::Scalar),
    ("redirectURIs", Shape::List(&Shape::Scalar)),
    // Gatehouse extension (Dex has no RP-initiated logout): where /logout may send the browser.
    ("postLogoutRedirectURIs", Shape::List(&Shape::Scalar)),
    ("public", Shape::Scalar),
    ("trustedPeers", Shape::List(&Shape::Scalar)),
    ("logoURL", Shape::Scalar),
    // Gatehouse extension: Back-Channel Logout 1.0's `backchannel_logout_uri`.
    ("backchannelLogoutURI", Shape::Scalar),
    (
        "clientCredentialsClaims",
        Shape::Object(&[("groups", Shape::List(&Shape::Scalar))]),
    ),
]);

const STATIC_PASSWORD: Shape = Shape::Object(&[
    ("email", Shape::Scalar),
    ("hash", Shape::Scalar),
    ("hashFromEnv", Shape::Scalar),
    ("username", Shape::Scalar),
    ("userID", Shape::Scalar),
    ("groups", Shape::List(&Shape::Scalar)),
]);

const TELEMETRY: Shape = Shape::Object(&[
    ("http", Shape::Scalar),
    // Only `false` (Dex's default) is accepted; validate.rs says why `true` is not.
    ("enableProfiling", Shape::Scalar),
]);

const GRPC: Shape = Shape::Object(&[
    ("addr", Shape::Scalar),
    ("tlsCert", Shape::Scalar),
    ("tlsKey", Shape::Scalar),
    ("tlsClientCA", Shape::Scalar),
    ("tlsMinVersion", Shape::Scalar),
    ("tlsMaxVersion", Shape::Scalar),
    ("reflection", Shape::Scalar),
]);

const SIGNER: Shape = Shape::Object(&[
    ("type", Shape::Scalar),
    (
        "config",
        Shape::Object(&[
            ("keysRotationPeriod", Shape::Scalar),
            ("algorithm", Shape::Scalar),
            (
                "addr",
                Shape::Unsupported("the vault signer is not supported yet: use type: local"),
            ),
            (
                "token",
                Shape::Unsupported("the vault signer is not supported yet: use type: local"),
            ),
            (
                "keyName",
                Shape::Unsupported("the vault signer is not supported yet: use type: local"),
            ),
        ]),
    ),
]);

const CONNECTOR: Shape = Shape::Object(&[
    ("type", Shape::Scalar),
    ("id", Shape::Scalar),
    ("name", Shape::Scalar),
    ("config", Shape::Opaque),
    ("grantTypes", Shape::List(&Shape::Scalar)),
]);

/// Dex's `frontend` (its `server.WebConfig`); `extra`'s keys are the user's own.
const FRONTEND: Shape = Shape::Object(&[
    ("dir", Shape::Scalar),
    ("logoURL", Shape::Scalar),
    ("issuer", Shape::Scalar),
    ("theme", Shape::Scalar),
    ("extra", Shape::Opaque),
]);

/// The whole config file.
pub const ROOT: Shape = Shape::Object(&[
    ("issuer", Shape::Scalar),
    ("storage", STORAGE),
    ("web", WEB),
    ("expiry", EXPIRY),
    ("logger", LOGGER),
    ("oauth2", OAUTH2),
    ("staticClients", Shape::List(&STATIC_CLIENT)),
    ("enablePasswordDB", Shape::Scalar),
    ("staticPasswords", Shape::List(&STATIC_PASSWORD)),
    ("connectors", Shape::List(&CONNECTOR)),
    ("telemetry", TELEMETRY),
    ("grpc", GRPC),
    ("signer", SIGNER),
    ("frontend", FRONTEND),
]);

/// Returns a copy of `value` whose keys are spelled canonically, or the first bad key.
pub fn normalize(value: &Value, shape: &Shape, path: &str) -> Result<Value, ConfigError> {
    match (shape, value) {
        (_, Value::Null) => Ok(Value::Null),
        (Shape::Object(fields), Value::Object(map)) => {
            let mut out = Map::new();
            for (key, child) in map {
                let Some((canonical, child_shape)) = fields
                    .iter()
                    .find(|(name, _)| name.eq_ignore_ascii_case(key))
                else {
                    return Err(unknown_key(path, key, fields));
                };
                let child_path = join(path, canonical);
                if out.contains_key(*canonical) {
                    return Err(ConfigError::Key {
                        path: child_path,
                        message: "given twice (keys are case-insensitive)".into(),
                    });
                }
                if let Shape::Unsupported(reason) = child_shape {
                    return Err(ConfigError::Key {
                        path: child_path,
                        message: format!("not supported yet: {reason}; remove it"),
                    });
                }
                let normalized = normalize(child, child_shape, &child_path)?;
                out.insert((*canonical).to_string(), normalized);
            }
            Ok(Value::Object(out))
        }
        (Shape::Object(_), _) => Err(ConfigError::Key {
            path: display_path(path),
            message: "must be a mapping of keys to values".into(),
        }),
        (Shape::List(item), Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, v)| normalize(v, item, &format!("{path}[{i}]")))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        (Shape::List(_), _) => Err(ConfigError::Key {
            path: display_path(path),
            message: "must be a list".into(),
        }),
        (Shape::Scalar, Value::Object(_) | Value::Array(_)) => Err(ConfigError::Key {
            path: display_path(path),
            message: "must be a single value, not a mapping or list".into(),
        }),
        (Shape::Scalar | Shape::Opaque | Shape::Unsupported(_), v) => Ok(v.clone()),
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn display_path(path: &str) -> String {
    if path.is_empty() {
        "(top level)".into()
    } else {
        path.to_string()
    }
}

fn unknown_key(path: &str, key: &str, fields: &[(&str, Shape)]) -> ConfigError {
    let lowered = key.to_ascii_lowercase();
    let suggestion = fields
        .iter()
        .map(|(name, _)| {
            let score = strsim::jaro_winkler(&lowered, &name.to_ascii_lowercase());
            (score, *name)
        })
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, name)| name);
    let hint = match suggestion {
        Some(name) => format!("did you mean \"{name}\"?"),
        None => {
            let known: Vec<&str> = fields.iter().map(|(n, _)| *n).collect();
            format!("known keys here: {}", known.join(", "))
        }
    };
    ConfigError::UnknownKey {
        path: join(path, key),
        hint,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn renames_keys_case_insensitively() {
        let v = json!({"ISSUER": "x", "enablePasswordDb": true, "staticClients": [{"REDIRECTURIS": ["a"]}]});
        let n = normalize(&v, &ROOT, "").unwrap();
        assert_eq!(
            n,
            json!({"issuer": "x", "enablePasswordDB": true, "staticClients": [{"redirectURIs": ["a"]}]})
        );
    }

    #[test]
    fn unknown_key_names_full_path_and_suggests() {
        let v = json!({"staticClients": [{"id": "a", "redirectURLs": ["x"]}]});
        let err = normalize(&v, &ROOT, "").unwrap_err().to_string();
        assert_eq!(
            err,
            "unknown key \"staticClients[0].redirectURLs\": did you mean \"redirectURIs\"?"
        );
    }

    #[test]
    fn unknown_key_without_close_match_lists_known_keys() {
        let v = json!({"logger": {"zzz": 1}});
        let err = normalize(&v, &ROOT, "").unwrap_err().to_string();
        assert!(err.contains("\"logger.zzz\""), "{err}");
        assert!(err.contains("level, format"), "{err}");
    }

    #[test]
    fn unsupported_key_is_refused_with_reason() {
        let v = json!({"signer": {"type": "vault", "config": {"addr": "https://vault:8200"}}});
        let err = normalize(&v, &ROOT, "").unwrap_err().to_string();
        assert!(
            err.contains("signer.config.addr")
                && err.contains("not supported yet")
                && err.contains("use type: local"),
            "{err}"
        );
    }

    #[test]
    fn duplicate_keys_differing_in_case_are_refused() {
        let v = json!({"issuer": "a", "Issuer": "b"});
        let err = normalize(&v, &ROOT, "").unwrap_err().to_string();
        assert!(err.contains("given twice"), "{err}");
    }

    #[test]
    fn wrong_node_kinds_are_refused() {
        assert!(normalize(&json!({"web": "x"}), &ROOT, "").is_err());
        assert!(normalize(&json!({"staticClients": {"id": "a"}}), &ROOT, "").is_err());
        assert!(normalize(&json!({"issuer": ["a"]}), &ROOT, "").is_err());
    }
}
