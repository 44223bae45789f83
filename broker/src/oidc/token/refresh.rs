//! The refresh_token grant: the presented token is checked and rotated (per the refresh
//! policy), scopes may only narrow, and the connector may refuse a user it no longer allows.
//! A live token is checked before it is spent, so a refusal (narrower scopes asked wrongly, a
//! connector that cannot answer) leaves the client's chain usable; the spend, the successor
//! and the session's expiry are one storage step.

use super::{issue, storage_error, Issuance, RefreshOrigin, TokenResponse};
use crate::config::Client;
use crate::connector::ConnectorError;
use crate::oidc::oauth_error::OAuthError;
use crate::oidc::params::Params;
use crate::oidc::refresh_policy::refresh_policy;
use crate::oidc::scopes::parse_scopes;
use crate::oidc::sessions;
use crate::oidc::AppState;
use crate::random::hash_secret;
use crate::storage::{now, RefreshToken, RefreshUse, UnixTime};

pub(super) async fn refresh_token(
    app: &AppState,
    client: &Client,
    form: &Params,
) -> Result<TokenResponse, OAuthError> {
    let presented = form
        .get("refresh_token")
        .ok_or_else(|| OAuthError::invalid_request("refresh_token is missing"))?;
    let (id, secret) = presented
        .split_once('.')
        .ok_or_else(|| OAuthError::invalid_grant("the refresh token is invalid"))?;
    let policy = refresh_policy(app);
    let t = now();
    let secret_hash = hash_secret(secret);
    // The common case, a live token with rotation on: read it, run every check that may refuse,
    // then spend it and store its successor in one atomic step (one commit; the spend still
    // decides, so a concurrent use or a reuse is caught there as before), then sign.
    if policy.rotate {
        let live = app
            .storage
            .live_refresh_token(id, &secret_hash, &client.id, t)
            .await
            .map_err(storage_error)?;
        if let Some(old) = live.filter(|old| old.scopes.iter().any(|s| s == "offline_access")) {
            let origin = RefreshOrigin::Rotate {
                id,
                secret_hash: &secret_hash,
                old: &old,
            };
            return grant(app, client, form, &old, origin, t).await;
        }
    }
    // Everything else (no rotation, unknown, spent or expired tokens) is decided by one use.
    let used = app
        .storage
        .use_refresh_token(id, &secret_hash, &client.id, &policy, t)
        .await
        .map_err(storage_error)?;
    let old = accepted(app, client, used)?;
    let origin = if policy.rotate {
        RefreshOrigin::New {
            family: old.family.clone(),
            created_at: old.created_at,
        }
    } else {
        RefreshOrigin::Keep(presented.to_string())
    };
    grant(app, client, form, &old, origin, t).await
}

/// The token a use accepted, or the grant's refusal.
pub(super) fn accepted(
    app: &AppState,
    client: &Client,
    used: RefreshUse,
) -> Result<Box<RefreshToken>, OAuthError> {
    match used {
        RefreshUse::Valid(token) => Ok(token),
        RefreshUse::Invalid => Err(OAuthError::invalid_grant("the refresh token is invalid")),
        RefreshUse::Expired => Err(OAuthError::invalid_grant("the refresh token has expired")),
        RefreshUse::Reused => {
            app.metrics.refresh_token_reused();
            tracing::warn!(client = %client.id, "rotated refresh token reused; its family is revoked");
            Err(OAuthError::invalid_grant(
                "the refresh token was already used",
            ))
        }
        RefreshUse::RecentlyRotated(token) => {
            // Within reuseInterval: most likely the client's own concurrent refresh, which
            // won. As Dex does, the reuse is allowed: it gets a sibling in the same family.
            tracing::info!(client = %client.id, "refresh token presented again within the reuse interval");
            Ok(token)
        }
    }
}

/// The checks every refresh passes (live session, narrowed scopes, the connector's word), then
/// the tokens, with the refresh token from `origin`.
async fn grant(
    app: &AppState,
    client: &Client,
    form: &Params,
    old: &RefreshToken,
    origin: RefreshOrigin<'_>,
    t: UnixTime,
) -> Result<TokenResponse, OAuthError> {
    // An ended session's family is revoked already; this closes the gap of a refresh that
    // passed storage just before the session ended (a rotation checks it again atomically).
    if let Some(sid) = &old.sid {
        if !sessions::is_live(app, sid).await.map_err(storage_error)? {
            return Err(OAuthError::invalid_grant("the session has ended"));
        }
    }
    let scopes = match form.get("scope") {
        None => old.scopes.clone(),
        Some(text) => {
            let asked = parse_scopes(text).map_err(OAuthError::invalid_scope)?;
            if let Some(extra) = asked.iter().find(|s| !old.scopes.contains(s)) {
                return Err(OAuthError::invalid_scope(format!(
                    "scope {extra:?} was not granted originally"
                )));
            }
            asked
        }
    };
    if !app
        .config
        .connector_serves(&old.connector_id, crate::config::GrantType::RefreshToken)
    {
        return Err(OAuthError::invalid_grant(
            "the connector of this session does not serve refresh_token (its grantTypes)",
        ));
    }
    // Ask the connector again, so removed users and changed groups take effect.
    let connector = app
        .connectors
        .get(&old.connector_id)
        .ok_or_else(|| OAuthError::invalid_grant("the connector of this session is gone"))?;
    let identity = match connector.refresh() {
        Some(r) => r
            .refresh(&old.identity)
            .await
            .map_err(refresh_error)?
            .ok_or_else(|| OAuthError::invalid_grant("the user no longer exists"))?,
        None => old.identity.clone(),
    };
    let what = Issuance {
        scopes: &scopes,
        refresh_scopes: &old.scopes,
        nonce: None,
        connector_id: &old.connector_id,
        identity: &identity,
        origin,
        sid: old.sid.as_deref(),
    };
    issue(app, client, what, t).await
}

/// A connector that refuses a refresh ends the session; one that cannot answer is a server error.
fn refresh_error(e: ConnectorError) -> OAuthError {
    match e {
        ConnectorError::NotAllowed(why) => {
            tracing::info!(reason = %why, "refresh refused: user no longer in an allowed group");
            OAuthError::invalid_grant("the user is no longer allowed to sign in")
        }
        ConnectorError::Upstream(why) => {
            tracing::warn!(error = %why, "upstream refused the refresh");
            OAuthError::invalid_grant("the upstream provider refused the refresh")
        }
        ConnectorError::Busy => OAuthError::temporarily_unavailable("try again"),
        ConnectorError::Unavailable(why) => {
            tracing::error!(error = %why, "refresh unavailable: the upstream could not be asked");
            OAuthError::temporarily_unavailable("the upstream provider is unavailable; try again")
        }
        ConnectorError::Internal(why) => {
            tracing::error!(error = %why, "connector refresh failed");
            OAuthError::server_error()
        }
    }
}
