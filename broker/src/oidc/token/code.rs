//! The authorization_code grant: a code redeemed once (a replay revokes what it issued),
//! bound to its client, redirect URI and PKCE challenge.

use super::{issue, storage_error, Issuance, RefreshOrigin, TokenResponse};
use crate::config::Client;
use crate::oidc::oauth_error::OAuthError;
use crate::oidc::params::Params;
use crate::oidc::sessions::{self, SignIn};
use crate::oidc::{pkce, AppState};
use crate::random::hash_secret;
use crate::storage::{now, CodeRedemption};

pub(super) async fn authorization_code(
    app: &AppState,
    client: &Client,
    form: &Params,
) -> Result<TokenResponse, OAuthError> {
    let code = form
        .get("code")
        .ok_or_else(|| OAuthError::invalid_request("code is missing"))?;
    let code_hash = hash_secret(code);
    let t = now();
    let redeemed = app
        .storage
        .redeem_auth_code(&code_hash, t)
        .await
        .map_err(storage_error)?;
    let code = match redeemed {
        CodeRedemption::Redeemed(c) => c,
        CodeRedemption::Replayed => {
            // RFC 6749 §4.1.2: a reused code may mean it was stolen; revoke what it produced.
            let revoked = app
                .storage
                .revoke_refresh_family(&code_hash)
                .await
                .map_err(storage_error)?;
            tracing::warn!(client = %client.id, revoked, "authorization code replayed; refresh tokens revoked");
            return Err(OAuthError::invalid_grant("the code was already used"));
        }
        CodeRedemption::Expired => return Err(OAuthError::invalid_grant("the code has expired")),
        CodeRedemption::Unknown => return Err(OAuthError::invalid_grant("the code is invalid")),
    };
    // The code is spent from here on, whatever follows: a wrong verifier cannot be retried.
    if code.client_id != client.id {
        return Err(OAuthError::invalid_grant(
            "the code was issued to another client",
        ));
    }
    if form.get("redirect_uri") != Some(code.redirect_uri.as_str()) {
        return Err(OAuthError::invalid_grant(
            "redirect_uri does not match the authorization request",
        ));
    }
    match (&code.pkce, form.get("code_verifier")) {
        (Some(challenge), Some(verifier)) if pkce::verify(challenge, verifier) => {}
        (Some(_), Some(_)) => {
            return Err(OAuthError::invalid_grant(
                "code_verifier does not match the code_challenge",
            ))
        }
        (Some(_), None) => return Err(OAuthError::invalid_grant("code_verifier is missing")),
        (None, Some(_)) => {
            return Err(OAuthError::invalid_grant(
                "code_verifier sent but no code_challenge was",
            ))
        }
        (None, None) => {}
    }
    let sign_in = SignIn {
        client_id: &client.id,
        connector_id: &code.connector_id,
        identity: &code.identity,
        family: &code_hash,
    };
    let sid = sessions::start(app, &sign_in, t)
        .await
        .map_err(storage_error)?;
    let what = Issuance {
        sid: Some(&sid),
        scopes: &code.scopes,
        refresh_scopes: &code.scopes,
        nonce: code.nonce.as_deref(),
        connector_id: &code.connector_id,
        identity: &code.identity,
        origin: RefreshOrigin::New {
            family: code_hash,
            created_at: t,
        },
    };
    issue(app, client, what, t).await
}
