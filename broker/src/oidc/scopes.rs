use super::AppState;
use crate::clients::trusts_peer;
use crate::storage::StorageError;
use crate::token::cross_client_peer;

/// Scopes this provider understands; anything else is refused rather than ignored.
pub const SUPPORTED_SCOPES: &[&str] = &[
    "openid",
    "email",
    "profile",
    "groups",
    "offline_access",
    "federated:id",
];

/// Splits a `scope` parameter, de-duplicated, in order. Err describes the problem.
/// Dex's cross-client scopes (`audience:server:client_id:<peer>`) pass here; whether the
/// client may ask for them is [`refused_peers`]'s question.
pub fn parse_scopes(text: &str) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::new();
    for s in text.split(' ').filter(|s| !s.is_empty()) {
        if !SUPPORTED_SCOPES.contains(&s) && cross_client_peer(s).is_none() {
            return Err(format!("unsupported scope {s:?}"));
        }
        if !out.iter().any(|x| x == s) {
            out.push(s.to_string());
        }
    }
    Ok(out)
}

/// The cross-client scopes among `scopes` that `client_id` may not ask for (Dex: the peer must
/// exist and list the client in its `trustedPeers`), as Dex's message words it; None when all may.
pub async fn refused_peers(
    app: &AppState,
    client_id: &str,
    scopes: &[String],
) -> Result<Option<String>, StorageError> {
    let mut refused = Vec::new();
    for scope in scopes {
        if let Some(peer) = cross_client_peer(scope) {
            if !trusts_peer(&app.config, &*app.storage, client_id, peer).await? {
                refused.push(scope.as_str());
            }
        }
    }
    Ok((!refused.is_empty()).then(|| format!("client can't request scope(s) {refused:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_refuses_unknown() {
        assert_eq!(
            parse_scopes("openid  email openid").unwrap(),
            vec!["openid", "email"]
        );
        assert!(parse_scopes("openid admin").unwrap_err().contains("admin"));
        assert_eq!(
            parse_scopes("openid audience:server:client_id:api").unwrap(),
            vec!["openid", "audience:server:client_id:api"]
        );
        assert!(parse_scopes("openid audience:server:client_id:").is_err());
    }
}
