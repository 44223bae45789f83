//! `GET /.well-known/openid-configuration`.

use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};

use super::scopes::SUPPORTED_SCOPES;
use super::AppState;
use crate::keys::KeySet;

pub async fn discovery(State(app): State<Arc<AppState>>) -> Json<Value> {
    Json(document(&app))
}

/// The discovery document (also answered by the gRPC API's `GetDiscovery`).
pub fn document(app: &AppState) -> Value {
    let issuer = &app.config.issuer;
    let grants = app.config.oauth2.grant_types.names();
    let methods: Vec<&str> = app
        .config
        .oauth2
        .pkce_methods
        .iter()
        .map(|m| m.as_str())
        .collect();
    let mut doc = json!({
        "issuer": issuer.url,
        "authorization_endpoint": issuer.endpoint("/auth"),
        "token_endpoint": issuer.endpoint("/token"),
        "jwks_uri": issuer.endpoint("/keys"),
        "userinfo_endpoint": issuer.endpoint("/userinfo"),
        "end_session_endpoint": issuer.endpoint("/logout"),
        // Back-Channel Logout 1.0, for clients with a backchannelLogoutURI.
        "backchannel_logout_supported": true,
        "backchannel_logout_session_supported": true,
        // Gatehouse's signed feed of ended sessions (issue 17; see README).
        "revocation_feed_endpoint": issuer.endpoint("/revocations"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": signing_algorithms(&app.keys.current()),
        "scopes_supported": SUPPORTED_SCOPES,
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        // RFC 7009 (beyond Dex): a client ends its refresh token's sign-in.
        "revocation_endpoint": issuer.endpoint("/token/revoke"),
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        // RFC 7662, for resource servers (confidential clients).
        "introspection_endpoint": issuer.endpoint("/token/introspect"),
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "grant_types_supported": grants,
        "code_challenge_methods_supported": methods,
        "claims_supported": [
            "iss", "sub", "aud", "iat", "exp", "nonce", "at_hash", "email", "email_verified",
            "name", "preferred_username", "groups", "federated_claims", "sid"
        ],
    });
    if app
        .config
        .oauth2
        .grant_types
        .enabled(crate::config::GrantType::DeviceCode)
    {
        doc["device_authorization_endpoint"] = json!(issuer.endpoint("/device/code"));
    }
    doc
}

/// The algorithms of the keys we publish, the signing key's first: what a relying party may
/// see in an ID token now (after a change of `signer.config.algorithm`, both until the old
/// key ages out). Relying parties such as openid-client refuse any other `alg`.
fn signing_algorithms(keys: &KeySet) -> Vec<&'static str> {
    let mut algs = vec![keys.signing.alg.name()];
    for key in &keys.verification {
        if !algs.contains(&key.alg.name()) {
            algs.push(key.alg.name());
        }
    }
    algs
}
