//! The `aud` claim: the client alone, or (Dex's cross-client scopes) its trusted peers and the
//! client. Written as a string when it has one entry and as a list otherwise, as Dex does.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The prefix of Dex's cross-client scope `audience:server:client_id:<peer>`.
pub const CROSS_CLIENT_PREFIX: &str = "audience:server:client_id:";

/// The peer a cross-client scope names, or None for any other scope.
pub fn cross_client_peer(scope: &str) -> Option<&str> {
    scope
        .strip_prefix(CROSS_CLIENT_PREFIX)
        .filter(|peer| !peer.is_empty())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Audience(Vec<String>);

impl Audience {
    /// Dex's rule: every requested peer, then the client itself unless it was one of them.
    pub fn for_client(client_id: &str, scopes: &[String]) -> Audience {
        let mut aud: Vec<String> = Vec::new();
        for peer in scopes.iter().filter_map(|s| cross_client_peer(s)) {
            if !aud.iter().any(|a| a == peer) {
                aud.push(peer.to_string());
            }
        }
        if !aud.iter().any(|a| a == client_id) {
            aud.push(client_id.to_string());
        }
        Audience(aud)
    }

    pub fn contains(&self, id: &str) -> bool {
        self.0.iter().any(|a| a == id)
    }

    /// True when the token is for more than one client (then `azp` names the one it was issued to).
    pub fn is_shared(&self) -> bool {
        self.0.len() > 1
    }

    pub fn first(&self) -> Option<&str> {
        self.0.first().map(String::as_str)
    }
}

impl Serialize for Audience {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0.as_slice() {
            [one] => s.serialize_str(one),
            many => many.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Audience {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum OneOrMany {
            One(String),
            Many(Vec<String>),
        }
        Ok(match OneOrMany::deserialize(d)? {
            OneOrMany::One(a) => Audience(vec![a]),
            OneOrMany::Many(list) => Audience(list),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scopes(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn audience_as_dex() {
        let alone = Audience::for_client("web", &scopes(&["openid"]));
        assert_eq!(serde_json::to_value(&alone).unwrap(), "web");
        assert!(!alone.is_shared());
        let shared = Audience::for_client(
            "web",
            &scopes(&[
                "openid",
                "audience:server:client_id:api",
                "audience:server:client_id:api",
            ]),
        );
        assert_eq!(
            serde_json::to_value(&shared).unwrap(),
            serde_json::json!(["api", "web"])
        );
        assert!(shared.is_shared() && shared.contains("api"));
        let back: Audience = serde_json::from_value(serde_json::json!(["api", "web"])).unwrap();
        assert_eq!(back, shared);
        assert_eq!(cross_client_peer("audience:server:client_id:"), None);
    }
}
