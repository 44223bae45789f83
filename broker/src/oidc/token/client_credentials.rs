//! The client_credentials grant (RFC 6749 §4.4), as current Dex serves it: a confidential
//! client gets tokens about itself, no user involved. The subject is the client (Dex's `sub`
//! for the client id and the empty connector id); `profile` gives its name, `groups` its
//! `clientCredentialsClaims.groups`; an ID token comes with `openid` (as Dex); never a refresh
//! token (there is nobody to re-check), so `offline_access` is refused, as is `federated:id`
//! (there is no upstream identity).

use super::TokenResponse;
use crate::config::Client;
use crate::identity::Identity;
use crate::oidc::oauth_error::OAuthError;
use crate::oidc::params::Params;
use crate::oidc::scopes::{parse_scopes, refused_peers};
use crate::oidc::AppState;
use crate::storage::now;
use crate::token::Grant;

/// The connector id of client_credentials tokens: none (Dex uses the empty id too; no
/// connector may have it, so no user's subject can equal a client's).
const NO_CONNECTOR: &str = "";

pub(super) async fn client_credentials(
    app: &AppState,
    client: &Client,
    form: &Params,
) -> Result<TokenResponse, OAuthError> {
    if client.public {
        return Err(OAuthError::unauthorized_client(
            "public clients cannot use the client_credentials grant",
        ));
    }
    let scopes =
        parse_scopes(form.get("scope").unwrap_or("")).map_err(OAuthError::invalid_scope)?;
    for (scope, why) in [
        (
            "offline_access",
            "client_credentials issues no refresh token (offline_access)",
        ),
        (
            "federated:id",
            "client_credentials has no upstream identity (federated:id)",
        ),
    ] {
        if scopes.iter().any(|s| s == scope) {
            return Err(OAuthError::invalid_scope(why));
        }
    }
    if let Some(refused) = refused_peers(app, &client.id, &scopes)
        .await
        .map_err(super::storage_error)?
    {
        return Err(OAuthError::invalid_scope(refused));
    }
    let identity = Identity {
        user_id: client.id.clone(),
        username: client.name.clone(),
        preferred_username: client.name.clone(),
        email: String::new(),
        email_verified: false,
        groups: client.client_credentials_groups.clone(),
        connector_data: None,
    };
    let grant = Grant {
        client_id: &client.id,
        connector_id: NO_CONNECTOR,
        identity: &identity,
        scopes: &scopes,
        nonce: None,
        sid: None,
    };
    let tokens = app.minter.issue(&grant, now()).map_err(|e| {
        tracing::error!(error = %e, "signing tokens failed");
        OAuthError::server_error()
    })?;
    let with_id_token = scopes.iter().any(|s| s == "openid");
    Ok(TokenResponse {
        access_token: tokens.access_token,
        token_type: "Bearer",
        issued_token_type: None,
        expires_in: tokens.expires_in,
        id_token: with_id_token.then_some(tokens.id_token),
        refresh_token: None,
        scope: scopes.join(" "),
    })
}
