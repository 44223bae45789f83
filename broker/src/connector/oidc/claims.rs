//! Upstream claims → [`Identity`], with Dex's keys (`userIDKey`, `userNameKey`, `claimMapping`,
//! `insecureSkipEmailVerified`, `insecureEnableGroups`).

use serde_json::{Map, Value};

use super::config::OidcConfig;
use crate::connector::ConnectorError;
use crate::identity::Identity;

fn missing(claim: &str) -> ConnectorError {
    ConnectorError::Upstream(format!("the provider sent no {claim:?} claim"))
}

fn string(claims: &Map<String, Value>, key: &str) -> Option<String> {
    claims.get(key).and_then(Value::as_str).map(str::to_string)
}

/// Builds the identity; groups are returned separately (they may still need a Graph lookup).
pub fn identity(
    config: &OidcConfig,
    claims: &Map<String, Value>,
) -> Result<Identity, ConnectorError> {
    let user_id = string(claims, &config.user_id_key)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| missing(&config.user_id_key))?;
    let username =
        string(claims, &config.user_name_key).ok_or_else(|| missing(&config.user_name_key))?;
    let wants_email = config.scopes.iter().any(|s| s == "email");
    let email = match string(claims, &config.email_claim) {
        Some(e) => e,
        None if wants_email => return Err(missing(&config.email_claim)),
        None => String::new(),
    };
    // As Dex: insecureSkipEmailVerified stands in for a missing claim only; a provider that
    // says `false` is believed.
    let stated = match claims.get("email_verified").and_then(Value::as_bool) {
        Some(v) => v,
        None if config.insecure_skip_email_verified => true,
        None if wants_email => return Err(missing("email_verified")),
        None => false,
    };
    // `email_verified` is about the `email` claim: an address read from another claim
    // (claimMapping) is verified only when it is that same address.
    let email_verified = stated
        && (config.email_claim == "email"
            || string(claims, "email").is_some_and(|standard| standard == email));
    Ok(Identity {
        user_id,
        username,
        preferred_username: string(claims, &config.preferred_username_claim).unwrap_or_default(),
        email,
        email_verified,
        groups: Vec::new(),
        connector_data: None,
    })
}

/// Userinfo claims over the ID token's (Core §5.3.2: same `sub`, checked by the caller). A
/// userinfo answer that changes the e-mail without saying whether the new one is verified
/// drops the ID token's `email_verified`, which was about the old address.
pub fn merge_userinfo(
    claims: &mut Map<String, Value>,
    info: Map<String, Value>,
    email_claim: &str,
) {
    let email_changed = info
        .get(email_claim)
        .is_some_and(|new| claims.get(email_claim) != Some(new));
    if email_changed && !info.contains_key("email_verified") {
        claims.remove("email_verified");
    }
    claims.extend(info);
}

/// What the groups claim says: a list, a single string, or — for an Entra ID token with more
/// groups than fit — a pointer to where they can be fetched (`_claim_names`/`_claim_sources`).
#[derive(Debug, PartialEq, Eq)]
pub enum GroupsClaim {
    Listed(Vec<String>),
    /// Distributed claim: the endpoint to ask.
    Overage(String),
}

pub fn groups(config: &OidcConfig, claims: &Map<String, Value>) -> GroupsClaim {
    match claims.get(&config.groups_claim) {
        Some(Value::Array(items)) => {
            return GroupsClaim::Listed(
                items
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect(),
            )
        }
        Some(Value::String(one)) => return GroupsClaim::Listed(vec![one.clone()]),
        _ => {}
    }
    let endpoint = claims
        .get("_claim_names")
        .and_then(|n| n.get(&config.groups_claim))
        .and_then(Value::as_str)
        .and_then(|source| claims.get("_claim_sources")?.get(source)?.get("endpoint"))
        .and_then(Value::as_str);
    match endpoint {
        Some(e) => GroupsClaim::Overage(e.to_string()),
        None => GroupsClaim::Listed(Vec::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn config(extra: Value) -> OidcConfig {
        let mut v = json!({"issuer": "https://idp", "clientID": "c", "clientSecret": "s", "redirectURI": "https://b/cb"});
        for (k, x) in extra.as_object().unwrap() {
            v[k] = x.clone();
        }
        super::super::config::parse(&v, "p").unwrap()
    }

    fn claims(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn default_keys() {
        let id = identity(
            &config(json!({})),
            &claims(json!({"sub": "u1", "name": "Jane", "email": "j@x", "email_verified": true, "preferred_username": "jane"})),
        )
        .unwrap();
        assert_eq!(
            (id.user_id.as_str(), id.username.as_str(), id.email.as_str()),
            ("u1", "Jane", "j@x")
        );
        assert!(id.email_verified);
        assert_eq!(id.preferred_username, "jane");
    }

    #[test]
    fn email_verified_required_unless_skipped() {
        let c = claims(json!({"sub": "u1", "name": "Jane", "email": "j@x"}));
        assert!(identity(&config(json!({})), &c).is_err());
        assert!(
            identity(&config(json!({"insecureSkipEmailVerified": true})), &c)
                .unwrap()
                .email_verified
        );
    }

    #[test]
    fn skip_email_verified_never_overrides_an_explicit_false() {
        let c =
            claims(json!({"sub": "u1", "name": "Jane", "email": "j@x", "email_verified": false}));
        let id = identity(&config(json!({"insecureSkipEmailVerified": true})), &c).unwrap();
        assert!(!id.email_verified);
    }

    #[test]
    fn a_mapped_email_is_verified_only_when_it_is_the_verified_email() {
        let c = config(json!({"claimMapping": {"email": "mail"}}));
        let other = claims(
            json!({"sub": "u", "name": "n", "email": "j@corp", "mail": "ceo@corp", "email_verified": true}),
        );
        let id = identity(&c, &other).unwrap();
        assert_eq!(id.email, "ceo@corp");
        assert!(!id.email_verified, "email_verified was about j@corp");
        let same = claims(
            json!({"sub": "u", "name": "n", "email": "j@corp", "mail": "j@corp", "email_verified": true}),
        );
        assert!(identity(&c, &same).unwrap().email_verified);
    }

    #[test]
    fn userinfo_changing_the_email_drops_a_stale_email_verified() {
        let mut c = claims(json!({"sub": "u", "email": "a@x", "email_verified": true}));
        merge_userinfo(&mut c, claims(json!({"sub": "u", "email": "b@x"})), "email");
        assert_eq!(c.get("email_verified"), None);
        assert_eq!(c["email"], "b@x");
        let mut c = claims(json!({"sub": "u", "email": "a@x", "email_verified": true}));
        merge_userinfo(
            &mut c,
            claims(json!({"sub": "u", "email": "a@x", "name": "A"})),
            "email",
        );
        assert_eq!(c["email_verified"], true, "same address: kept");
        let mut c = claims(json!({"sub": "u", "email": "a@x", "email_verified": false}));
        merge_userinfo(
            &mut c,
            claims(json!({"email": "b@x", "email_verified": true})),
            "email",
        );
        assert_eq!(c["email_verified"], true, "userinfo's own word");
    }

    #[test]
    fn custom_keys_and_mapping() {
        let c = config(
            json!({"userIDKey": "oid", "userNameKey": "upn", "claimMapping": {"email": "mail", "groups": "roles"}, "insecureEnableGroups": true}),
        );
        let cl = claims(
            json!({"sub": "s", "oid": "o1", "upn": "j@corp", "mail": "J@corp", "email_verified": false, "roles": "admin"}),
        );
        let id = identity(&c, &cl).unwrap();
        assert_eq!(
            (id.user_id.as_str(), id.username.as_str(), id.email.as_str()),
            ("o1", "j@corp", "J@corp")
        );
        assert!(!id.email_verified);
        assert_eq!(groups(&c, &cl), GroupsClaim::Listed(vec!["admin".into()]));
        assert!(
            identity(&c, &claims(json!({"sub": "s", "upn": "x"}))).is_err(),
            "no oid"
        );
    }

    #[test]
    fn group_overage_points_at_the_claim_source() {
        let c = config(json!({"insecureEnableGroups": true}));
        let cl = claims(
            json!({"_claim_names": {"groups": "src1"}, "_claim_sources": {"src1": {"endpoint": "https://graph.windows.net/t/users/u/getMemberObjects"}}}),
        );
        assert_eq!(
            groups(&c, &cl),
            GroupsClaim::Overage("https://graph.windows.net/t/users/u/getMemberObjects".into())
        );
        assert_eq!(groups(&c, &claims(json!({}))), GroupsClaim::Listed(vec![]));
    }
}
