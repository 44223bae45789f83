//! The device_code grant (RFC 8628 §3.4–3.5): the device polls with its device code until the
//! user decided. The code is collected once; polls closer together than the interval get
//! `slow_down` and lengthen it.

use super::{issue, storage_error, Issuance, RefreshOrigin, TokenResponse};
use crate::config::Client;
use crate::oidc::oauth_error::OAuthError;
use crate::oidc::params::Params;
use crate::oidc::sessions::{self, SignIn};
use crate::oidc::{pkce, AppState};
use crate::random::hash_secret;
use crate::storage::{now, DeviceDecision, DevicePoll};

/// Our device codes are 43 characters; anything much longer is not one.
const MAX_DEVICE_CODE_LEN: usize = 256;

pub(super) async fn device_code(
    app: &AppState,
    client: &Client,
    form: &Params,
) -> Result<TokenResponse, OAuthError> {
    let code = form
        .get("device_code")
        .ok_or_else(|| OAuthError::invalid_request("device_code is missing"))?;
    if code.len() > MAX_DEVICE_CODE_LEN {
        return Err(OAuthError::invalid_grant("the device code is invalid"));
    }
    let code_hash = hash_secret(code);
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    let polled = app
        .storage
        .poll_device_request(&code_hash, &client.id, now_ms)
        .await
        .map_err(storage_error)?;
    let request = match polled {
        DevicePoll::Approved(r) => r,
        DevicePoll::Pending => return Err(OAuthError::authorization_pending()),
        DevicePoll::SlowDown => {
            tracing::info!(client = %client.id, "device polled too fast: slow_down");
            return Err(OAuthError::slow_down(crate::storage::SLOW_DOWN_STEP_SECS));
        }
        DevicePoll::Denied => return Err(OAuthError::access_denied("the user refused access")),
        DevicePoll::Expired => return Err(OAuthError::expired_token()),
        DevicePoll::Unknown => {
            return Err(OAuthError::invalid_grant(
                "the device code is invalid or was already used",
            ))
        }
    };
    // Collected from here on: a wrong verifier cannot be retried.
    match (&request.pkce, form.get("code_verifier")) {
        (Some(challenge), Some(verifier)) if pkce::verify(challenge, verifier) => {}
        (Some(_), _) => {
            return Err(OAuthError::invalid_grant(
                "code_verifier is missing or does not match the code_challenge",
            ))
        }
        (None, Some(_)) => {
            return Err(OAuthError::invalid_grant(
                "code_verifier sent but no code_challenge was",
            ))
        }
        (None, None) => {}
    }
    let DeviceDecision::Approved {
        connector_id,
        identity,
    } = &request.decision
    else {
        return Err(OAuthError::server_error());
    };
    tracing::info!(client = %client.id, connector = %connector_id, "device collected its tokens");
    let t = now();
    // A device sign-in is a session like any other: its sid ends it everywhere (issue 17).
    let sign_in = SignIn {
        client_id: &client.id,
        connector_id,
        identity,
        family: &code_hash,
    };
    let sid = sessions::start(app, &sign_in, t)
        .await
        .map_err(storage_error)?;
    let what = Issuance {
        sid: Some(&sid),
        scopes: &request.scopes,
        refresh_scopes: &request.scopes,
        nonce: None,
        connector_id,
        identity,
        origin: RefreshOrigin::New {
            family: code_hash,
            created_at: t,
        },
    };
    issue(app, client, what, t).await
}
