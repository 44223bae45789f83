//! The resource-owner password grant (only with `oauth2.passwordConnector`): the password is
//! checked by that connector, under the same login throttle as the sign-in form.

use super::{issue, storage_error, Issuance, RefreshOrigin, TokenResponse};
use crate::config::Client;
use crate::connector::ConnectorError;
use crate::oidc::client_address::ClientAddress;
use crate::oidc::login_throttle::{self, Refusal};
use crate::oidc::oauth_error::OAuthError;
use crate::oidc::params::Params;
use crate::oidc::scopes::parse_scopes;
use crate::oidc::sessions::{self, SignIn};
use crate::oidc::AppState;
use crate::random::random_token;
use crate::storage::now;

pub(super) async fn password(
    app: &AppState,
    client: &Client,
    address: ClientAddress,
    form: &Params,
) -> Result<TokenResponse, OAuthError> {
    let connector_id = app
        .config
        .oauth2
        .password_connector
        .as_deref()
        .unwrap_or_default();
    let connector = app
        .connectors
        .get(connector_id)
        .and_then(|c| c.password().map(|p| (c.id().to_string(), p)));
    let Some((connector_id, password_connector)) = connector else {
        return Err(OAuthError::unsupported_grant_type(
            "the password grant is not available",
        ));
    };
    if !app
        .config
        .connector_serves(&connector_id, crate::config::GrantType::Password)
    {
        return Err(OAuthError::unsupported_grant_type(
            "oauth2.passwordConnector does not serve the password grant (its grantTypes)",
        ));
    }
    let username = form
        .get("username")
        .ok_or_else(|| OAuthError::invalid_request("username is missing"))?;
    let password = form
        .get("password")
        .ok_or_else(|| OAuthError::invalid_request("password is missing"))?;
    let scopes =
        parse_scopes(form.get("scope").unwrap_or("openid")).map_err(OAuthError::invalid_scope)?;
    if !scopes.iter().any(|s| s == "openid") {
        return Err(OAuthError::invalid_scope("the openid scope is required"));
    }
    if let Some(refused) = crate::oidc::scopes::refused_peers(app, &client.id, &scopes)
        .await
        .map_err(storage_error)?
    {
        return Err(OAuthError::invalid_scope(refused));
    }
    // The same throttling as the login form: refused before any bcrypt.
    let attempt = login_throttle::begin(app, &connector_id, username, address.0)
        .await
        .map_err(|refusal| match refusal {
            Refusal::Storage(e) => storage_error(e),
            other => OAuthError::too_many_attempts(other.retry_after()),
        })?;
    let checked = password_connector.login(username, password).await;
    attempt.end(app, login_throttle::outcome(&checked)).await;
    let identity = checked.map_err(|e| match e {
        ConnectorError::Busy => OAuthError::temporarily_unavailable(e.to_string()),
        // The reason (a directory's error) goes to the log, not to the client.
        e => {
            tracing::error!(connector = %connector_id, error = %e, "password grant: the check failed");
            OAuthError::temporarily_unavailable("sign-in is unavailable; try again")
        }
    })?;
    app.metrics.login(&connector_id, identity.is_some());
    let identity =
        identity.ok_or_else(|| OAuthError::invalid_grant("invalid username or password"))?;
    let t = now();
    let family = random_token();
    let sign_in = SignIn {
        client_id: &client.id,
        connector_id: &connector_id,
        identity: &identity,
        family: &family,
    };
    let sid = sessions::start(app, &sign_in, t)
        .await
        .map_err(storage_error)?;
    let what = Issuance {
        sid: Some(&sid),
        scopes: &scopes,
        refresh_scopes: &scopes,
        nonce: None,
        connector_id: &connector_id,
        identity: &identity,
        origin: RefreshOrigin::New {
            family,
            created_at: t,
        },
    };
    issue(app, client, what, t).await
}
