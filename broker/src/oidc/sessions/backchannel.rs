//! OpenID Connect Back-Channel Logout 1.0: when a session ends, a client registered with a
//! `backchannelLogoutURI` gets a logout token POSTed to it (form field `logout_token`). The
//! token is a JWT typed `logout+jwt`, signed with the current signing key: `iss`, `aud` (the
//! client), `iat`, `exp`, `jti`, `events` with the back-channel logout member, `sub` and `sid`,
//! and never a `nonce` (§2.4). Sent in the background, once, with a short timeout: a client
//! that cannot be reached still has the session ended (its refresh token is revoked).

use std::time::Duration;

use serde::Serialize;
use serde_json::{json, Value};

use super::super::AppState;
use crate::random::random_token;
use crate::storage::{now, SessionRecord};
use crate::token::encode_subject;

pub const LOGOUT_TYP: &str = "logout+jwt";
pub const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
/// A logout token is good this long (it is used at once).
const LIFETIME_S: i64 = 120;
const TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Serialize)]
struct LogoutClaims<'a> {
    iss: &'a str,
    aud: &'a str,
    iat: i64,
    exp: i64,
    jti: String,
    sub: String,
    sid: &'a str,
    events: Value,
}

/// The signed logout token for `session`.
pub fn logout_token(app: &AppState, session: &SessionRecord) -> Result<String, String> {
    let t = now();
    let claims = LogoutClaims {
        iss: &app.config.issuer.url,
        aud: &session.client_id,
        iat: t,
        exp: t + LIFETIME_S,
        jti: random_token(),
        sub: encode_subject(&session.user_id, &session.connector_id),
        sid: &session.sid,
        events: json!({ EVENT: {} }),
    };
    let payload = serde_json::to_vec(&claims).map_err(|e| e.to_string())?;
    app.keys
        .current()
        .signing
        .sign_typed(LOGOUT_TYP, &payload)
        .map_err(|e| e.to_string())
}

/// Sends a logout token for every ended session whose client asked for one.
pub async fn notify(app: &AppState, ended: &[SessionRecord]) {
    for session in ended {
        let client = match app.client(&session.client_id).await {
            Ok(Some(c)) => c,
            Ok(None) => continue,
            Err(e) => {
                tracing::warn!(error = %e, "back-channel logout: client lookup failed");
                continue;
            }
        };
        let Some(uri) = client.backchannel_logout_uri else {
            continue;
        };
        let token = match logout_token(app, session) {
            Ok(t) => t,
            Err(e) => {
                tracing::error!(error = %e, "back-channel logout: signing failed");
                continue;
            }
        };
        let client_id = client.id.clone();
        tokio::spawn(async move {
            let sent = reqwest::Client::builder()
                .timeout(TIMEOUT)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .map_err(|e| e.to_string());
            let answer = match sent {
                Ok(http) => http
                    .post(&uri)
                    .form(&[("logout_token", token.as_str())])
                    .send()
                    .await
                    .map(|r| r.status())
                    .map_err(|e| e.without_url().to_string()),
                Err(e) => Err(e),
            };
            match answer {
                Ok(s) if s.is_success() => {
                    tracing::info!(client = %client_id, "back-channel logout delivered")
                }
                Ok(s) => {
                    tracing::warn!(client = %client_id, status = s.as_u16(), "back-channel logout refused")
                }
                Err(e) => {
                    tracing::warn!(client = %client_id, error = %e, "back-channel logout not delivered")
                }
            }
        });
    }
}
