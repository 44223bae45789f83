//! Token exchange (RFC 8693), as Dex serves it: a confidential client hands in a token that a
//! connector's upstream issued (`connector_id`, Dex's extension parameter; `subject_token`,
//! `subject_token_type` id_token or access_token) and gets one token of the broker's back
//! (`requested_token_type`, access_token by default, or id_token) with `issued_token_type`.
//! No refresh token and no session: the exchanged token lives until it expires.
//!
//! Errors follow §2.2.2: a subject token that is invalid or unacceptable by policy (forged,
//! expired, another client's, a user outside the allow-list) is `invalid_request`; an
//! `audience` the broker will not issue for is `invalid_target`.

use super::{storage_error, TokenResponse};
use crate::clients::trusts_peer;
use crate::config::{Client, GrantType};
use crate::connector::{ConnectorError, SubjectTokenType};
use crate::oidc::oauth_error::OAuthError;
use crate::oidc::params::Params;
use crate::oidc::scopes::{parse_scopes, refused_peers};
use crate::oidc::AppState;
use crate::storage::now;
use crate::token::{Grant, CROSS_CLIENT_PREFIX};

pub const ID_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:id_token";
pub const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";

/// Upstream tokens are a few KB; anything much longer is not one, and is not sent upstream.
const MAX_SUBJECT_TOKEN_LEN: usize = 16 * 1024;

/// The token the client asked for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Requested {
    AccessToken,
    IdToken,
}

pub(super) async fn token_exchange(
    app: &AppState,
    client: &Client,
    form: &Params,
) -> Result<TokenResponse, OAuthError> {
    // §2.1 leaves client authentication to the server; as Dex, only a client that proved
    // who it is may turn someone's upstream token into the broker's.
    if client.public {
        return Err(OAuthError::unauthorized_client(
            "public clients cannot use token exchange; authenticate as a confidential client",
        ));
    }
    let request = Request::read(form)?;
    let scopes = scopes(app, client, form).await?;
    let connector = app
        .connectors
        .get(request.connector_id)
        .ok_or_else(|| OAuthError::invalid_request("connector_id names no connector"))?;
    if !app
        .config
        .connector_serves(request.connector_id, GrantType::TokenExchange)
    {
        return Err(OAuthError::invalid_request(format!(
            "connector {:?} does not serve token exchange (its grantTypes)",
            request.connector_id
        )));
    }
    let exchange = connector.exchange().ok_or_else(|| {
        OAuthError::invalid_request(format!(
            "connector {:?} does not support token exchange (only type oidc does)",
            request.connector_id
        ))
    })?;
    let identity = exchange
        .token_identity(request.subject_type, request.subject_token)
        .await
        .map_err(|e| subject_error(request.connector_id, e))?;
    tracing::info!(
        client = %client.id,
        connector = %request.connector_id,
        user = %identity.user_id,
        "token exchange"
    );
    let t = now();
    let grant = Grant {
        client_id: &client.id,
        connector_id: request.connector_id,
        identity: &identity,
        scopes: &scopes,
        nonce: None,
        sid: None,
    };
    // Both are minted and one is handed out: the ID token then carries `at_hash`, which keeps
    // it from ever passing for an access token (TokenMinter::verify_access_token).
    let tokens = app.minter.issue(&grant, t).map_err(|e| {
        tracing::error!(error = %e, "signing tokens failed");
        OAuthError::server_error()
    })?;
    let (token, token_type, issued_type) = match request.requested {
        Requested::AccessToken => (tokens.access_token, "Bearer", ACCESS_TOKEN_TYPE),
        // §2.2.1: a token that is not an access token has the token_type N_A.
        Requested::IdToken => (tokens.id_token, "N_A", ID_TOKEN_TYPE),
    };
    Ok(TokenResponse {
        access_token: token,
        token_type,
        issued_token_type: Some(issued_type),
        expires_in: tokens.expires_in,
        id_token: None,
        refresh_token: None,
        scope: scopes.join(" "),
    })
}

/// The request's own parameters, checked.
struct Request<'a> {
    connector_id: &'a str,
    subject_token: &'a str,
    subject_type: SubjectTokenType,
    requested: Requested,
}

impl<'a> Request<'a> {
    fn read(form: &'a Params) -> Result<Self, OAuthError> {
        let need = |name: &str, why: &str| {
            form.get(name)
                .ok_or_else(|| OAuthError::invalid_request(format!("{name} is missing{why}")))
        };
        let subject_token = need("subject_token", "")?;
        let subject_type = match need("subject_token_type", "")? {
            ID_TOKEN_TYPE => SubjectTokenType::IdToken,
            ACCESS_TOKEN_TYPE => SubjectTokenType::AccessToken,
            other => {
                return Err(OAuthError::invalid_request(format!(
                    "subject_token_type {other:?} is not supported (use {ID_TOKEN_TYPE} or {ACCESS_TOKEN_TYPE})"
                )))
            }
        };
        let connector_id = need(
            "connector_id",
            " (the id of the connector whose upstream issued subject_token)",
        )?;
        let requested = match form.get("requested_token_type") {
            None | Some(ACCESS_TOKEN_TYPE) => Requested::AccessToken,
            Some(ID_TOKEN_TYPE) => Requested::IdToken,
            Some(other) => {
                return Err(OAuthError::invalid_request(format!(
                    "requested_token_type {other:?} is not supported (use {ACCESS_TOKEN_TYPE} or {ID_TOKEN_TYPE})"
                )))
            }
        };
        // Delegation would need the actor in the issued token (`act`); refusing beats
        // issuing a token that silently drops it.
        if form.get("actor_token").is_some() || form.get("actor_token_type").is_some() {
            return Err(OAuthError::invalid_request(
                "actor_token (delegation) is not supported",
            ));
        }
        if form.get("resource").is_some() {
            return Err(OAuthError::invalid_target(
                "resource is not supported; name a client of this broker in audience",
            ));
        }
        if subject_token.len() > MAX_SUBJECT_TOKEN_LEN {
            return Err(OAuthError::invalid_request("subject_token is too long"));
        }
        Ok(Request {
            connector_id,
            subject_token,
            subject_type,
            requested,
        })
    }
}

/// The issued token's scopes: `scope` as asked (none by default, as Dex), with `audience`, a
/// client of this broker, turned into Dex's cross-client scope. No refresh token is issued,
/// so `offline_access` is granted as nothing and left out of the answer's `scope`.
async fn scopes(app: &AppState, client: &Client, form: &Params) -> Result<Vec<String>, OAuthError> {
    let mut scopes =
        parse_scopes(form.get("scope").unwrap_or("")).map_err(OAuthError::invalid_scope)?;
    scopes.retain(|s| s != "offline_access");
    if let Some(refused) = refused_peers(app, &client.id, &scopes)
        .await
        .map_err(storage_error)?
    {
        return Err(OAuthError::invalid_scope(refused));
    }
    if let Some(audience) = form.get("audience") {
        if audience != client.id {
            let trusted = trusts_peer(&app.config, &*app.storage, &client.id, audience)
                .await
                .map_err(storage_error)?;
            if !trusted {
                return Err(OAuthError::invalid_target(format!(
                    "audience {audience:?} is not a client of this broker that trusts {:?} (trustedPeers)",
                    client.id
                )));
            }
            let scope = format!("{CROSS_CLIENT_PREFIX}{audience}");
            if !scopes.contains(&scope) {
                scopes.push(scope);
            }
        }
    }
    Ok(scopes)
}

/// §2.2.2: an unacceptable subject token is `invalid_request`; the reason is safe to show
/// (connector errors carry no secrets) and is logged too.
fn subject_error(connector_id: &str, e: ConnectorError) -> OAuthError {
    match e {
        ConnectorError::Upstream(why) | ConnectorError::NotAllowed(why) => {
            tracing::info!(connector = %connector_id, reason = %why, "token exchange refused");
            OAuthError::invalid_request(format!("subject_token is not acceptable: {why}"))
        }
        ConnectorError::Busy => OAuthError::temporarily_unavailable("try again"),
        ConnectorError::Unavailable(why) => {
            tracing::error!(connector = %connector_id, error = %why, "token exchange: the upstream could not be asked");
            OAuthError::temporarily_unavailable("the upstream provider is unavailable; try again")
        }
        ConnectorError::Internal(why) => {
            tracing::error!(connector = %connector_id, error = %why, "token exchange failed");
            OAuthError::server_error()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(body: &str) -> Result<(), String> {
        let form = Params::parse(body.as_bytes()).unwrap();
        Request::read(&form).map(|_| ()).map_err(|e| e.to_string())
    }

    const OK: &str = "subject_token=t&subject_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Aid_token&connector_id=up";

    #[test]
    fn the_request_needs_its_three_parameters() {
        assert!(read(OK).is_ok());
        for missing in ["subject_token=", "subject_token_type=", "connector_id="] {
            let body: Vec<&str> = OK.split('&').filter(|p| !p.starts_with(missing)).collect();
            let e = read(&body.join("&")).unwrap_err();
            assert!(e.contains(&missing[..missing.len() - 1]), "{e}");
        }
    }

    #[test]
    fn unsupported_types_actors_and_resources_are_refused() {
        let e = read(&format!(
            "{OK}&requested_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Arefresh_token"
        ))
        .unwrap_err();
        assert!(e.contains("requested_token_type"), "{e}");
        let e = read(&OK.replace("id_token", "jwt")).unwrap_err();
        assert!(e.contains("subject_token_type"), "{e}");
        assert!(read(&format!("{OK}&actor_token=x"))
            .unwrap_err()
            .contains("actor_token"));
        assert!(read(&format!("{OK}&resource=https%3A%2F%2Fapi"))
            .unwrap_err()
            .contains("invalid_target"));
        let long = "x".repeat(MAX_SUBJECT_TOKEN_LEN + 1);
        assert!(read(&OK.replace("subject_token=t", &format!("subject_token={long}"))).is_err());
    }
}
