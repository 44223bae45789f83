//! `staticPasswords`: the password database's users, checked (unique e-mails and ids, bcrypt).

use std::collections::HashSet;

use super::error::ConfigError;
use super::raw::RawStaticPassword;
use super::{decode_bcrypt_hash, StaticPassword};

pub(super) fn static_passwords(
    raw: Vec<RawStaticPassword>,
    env: &dyn Fn(&str) -> Option<String>,
    warnings: &mut Vec<String>,
) -> Result<Vec<StaticPassword>, ConfigError> {
    let mut emails = HashSet::new();
    let mut ids = HashSet::new();
    let mut out = Vec::new();
    for (i, p) in raw.into_iter().enumerate() {
        let at = |k: &str| format!("staticPasswords[{i}].{k}");
        let email = p
            .email
            .filter(|s| !s.is_empty())
            .ok_or_else(|| ConfigError::key(at("email"), "missing"))?;
        if !email.contains('@') {
            return Err(ConfigError::key(
                at("email"),
                format!("{email:?} is not an e-mail address"),
            ));
        }
        // Dex looks e-mails up case-insensitively, so two entries differing in case collide.
        if !emails.insert(email.to_lowercase()) {
            return Err(ConfigError::key(
                at("email"),
                format!("{email:?} is listed twice"),
            ));
        }
        // As Dex: `hash` wins; `hashFromEnv` is read only when `hash` is empty.
        let (hash_text, from) = match (p.hash.filter(|h| !h.is_empty()), p.hash_from_env) {
            (Some(h), var) => {
                if var.is_some() {
                    warnings.push(format!(
                        "{}: ignored, {} is given (as in Dex)",
                        at("hashFromEnv"),
                        at("hash")
                    ));
                }
                (h, "hash")
            }
            (None, Some(var)) => {
                let h = env(&var).filter(|v| !v.is_empty()).ok_or_else(|| {
                    ConfigError::key(
                        at("hashFromEnv"),
                        format!("environment variable {var:?} is not set (or empty)"),
                    )
                })?;
                (h, "hashFromEnv")
            }
            (None, None) => {
                return Err(ConfigError::key(
                    at("hash"),
                    "missing: a bcrypt hash (make one with `gatehouse-broker hash-password`), or hashFromEnv",
                ))
            }
        };
        let hash = decode_bcrypt_hash(&hash_text).map_err(|e| ConfigError::key(at(from), e))?;
        let user_id = p
            .user_id
            .filter(|s| !s.is_empty())
            .ok_or_else(|| ConfigError::key(at("userID"), "missing"))?;
        if !ids.insert(user_id.clone()) {
            return Err(ConfigError::key(
                at("userID"),
                format!("{user_id:?} is used by another user"),
            ));
        }
        let username = p
            .username
            .filter(|s| !s.is_empty())
            .ok_or_else(|| ConfigError::key(at("username"), "missing"))?;
        out.push(StaticPassword {
            email,
            hash,
            username,
            user_id,
            groups: p.groups.unwrap_or_default(),
        });
    }
    Ok(out)
}
