//! The Microsoft identity platform endpoints: authorize (signs the configured user in at once)
//! and token (codes with PKCE, refresh tokens, client secret in the body or Basic).

use std::collections::HashMap;

use axum::body::Body;
use axum::http::{header, HeaderMap, Response, StatusCode};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use serde_json::json;

use super::*;

/// Microsoft identity platform error (token endpoint).
fn oauth_error(status: StatusCode, error: &str, aadsts: u32, text: &str) -> Response<Body> {
    json_response(
        status,
        &json!({
            "error": error,
            "error_description": format!("AADSTS{aadsts}: {text}\r\nTrace ID: 0000\r\nCorrelation ID: 0000\r\nTimestamp: 2026-01-01 00:00:00Z"),
            "error_codes": [aadsts],
            "timestamp": "2026-01-01 00:00:00Z",
            "trace_id": "00000000-0000-0000-0000-000000000000",
            "correlation_id": "00000000-0000-0000-0000-000000000000",
        }),
    )
}

fn redirect(location: &str) -> Response<Body> {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = StatusCode::FOUND;
    if let Ok(v) = header::HeaderValue::from_str(location) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

pub(super) fn authorize_endpoint(s: &mut FakeState, q: &HashMap<String, String>) -> Response<Body> {
    let get = |k: &str| q.get(k).map(String::as_str).unwrap_or("");
    if get("client_id") != CLIENT_ID {
        return json_response(
            StatusCode::BAD_REQUEST,
            &json!({"error": "unauthorized_client", "error_description": "AADSTS700016: Application not found in the directory"}),
        );
    }
    // AADSTS50011: an unregistered redirect URI is shown as an error, never redirected to.
    let redirect_uri = get("redirect_uri").to_string();
    if !s.redirect_uris.contains(&redirect_uri) {
        return json_response(
            StatusCode::BAD_REQUEST,
            &json!({"error": "invalid_request", "error_description": "AADSTS50011: The redirect URI specified in the request does not match the redirect URIs configured for the application"}),
        );
    }
    let mut back = match url::Url::parse(&redirect_uri) {
        Ok(u) => u,
        Err(_) => {
            return json_response(
                StatusCode::BAD_REQUEST,
                &json!({"error": "invalid_request"}),
            )
        }
    };
    let state = get("state").to_string();
    if get("response_type") != "code" {
        back.query_pairs_mut()
            .append_pair("error", "unsupported_response_type")
            .append_pair("state", &state);
        return redirect(back.as_str());
    }
    let Some(user_id) = s.signed_in.clone() else {
        back.query_pairs_mut()
            .append_pair("error", "access_denied")
            .append_pair(
                "error_description",
                "AADSTS65004: User declined to consent to access the app.",
            )
            .append_pair("state", &state);
        return redirect(back.as_str());
    };
    let challenge = match (q.get("code_challenge"), q.get("code_challenge_method")) {
        (Some(c), m) => Some((c.clone(), m.cloned().unwrap_or_else(|| "plain".into()))),
        (None, _) => None,
    };
    let code = next_id(s, "code");
    s.codes.insert(
        code.clone(),
        PendingCode {
            issued: Issued {
                user_id,
                scope: get("scope").to_string(),
            },
            redirect_uri,
            challenge,
        },
    );
    back.query_pairs_mut()
        .append_pair("code", &code)
        .append_pair("state", &state)
        .append_pair("session_state", "00000000-0000-0000-0000-000000000000");
    redirect(back.as_str())
}

/// client_secret_post or client_secret_basic.
fn client_ok(headers: &HeaderMap, form: &HashMap<String, String>) -> bool {
    if let Some(basic) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
    {
        let Ok(decoded) = STANDARD.decode(basic) else {
            return false;
        };
        let text = String::from_utf8_lossy(&decoded).to_string();
        return text == format!("{CLIENT_ID}:{CLIENT_SECRET}");
    }
    form.get("client_id").map(String::as_str) == Some(CLIENT_ID)
        && form.get("client_secret").map(String::as_str) == Some(CLIENT_SECRET)
}

pub(super) fn token_endpoint(
    s: &mut FakeState,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> Response<Body> {
    if !client_ok(headers, form) {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            7000215,
            "Invalid client secret provided.",
        );
    }
    let get = |k: &str| form.get(k).map(String::as_str).unwrap_or("");
    let issued = match get("grant_type") {
        "authorization_code" => {
            let Some(pending) = s.codes.remove(get("code")) else {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", 70008, "The provided authorization code or refresh token has expired due to inactivity.");
            };
            if pending.redirect_uri != get("redirect_uri") {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    50148,
                    "The redirect_uri does not match the one used in the authorization request.",
                );
            }
            if let Some((challenge, method)) = &pending.challenge {
                let verifier = get("code_verifier");
                let computed = if method == "S256" {
                    URL_SAFE_NO_PAD.encode(sha256(verifier.as_bytes()))
                } else {
                    verifier.to_string()
                };
                if verifier.is_empty() || &computed != challenge {
                    return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", 501481, "The Code_Verifier does not match the code_challenge supplied in the authorization request.");
                }
            }
            pending.issued
        }
        "refresh_token" => {
            if s.revoke_refresh {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    50173,
                    "The provided grant has expired due to it being revoked.",
                );
            }
            match s.refresh_tokens.get(get("refresh_token")) {
                Some(i) => Issued {
                    user_id: i.user_id.clone(),
                    scope: if get("scope").is_empty() {
                        i.scope.clone()
                    } else {
                        get("scope").to_string()
                    },
                },
                None => {
                    return oauth_error(
                        StatusCode::BAD_REQUEST,
                        "invalid_grant",
                        9002313,
                        "Invalid request. Request is malformed or invalid.",
                    )
                }
            }
        }
        other => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                70003,
                &format!("The app requested an unsupported grant type '{other}'."),
            );
        }
    };
    let access = next_id(s, "at");
    let mut answer = json!({
        "token_type": "Bearer",
        "scope": issued.scope,
        "expires_in": 3599,
        "ext_expires_in": 3599,
        "access_token": access,
    });
    if issued.scope.split(' ').any(|x| x == "offline_access") {
        let refresh = next_id(s, "rt");
        answer["refresh_token"] = json!(refresh);
        s.refresh_tokens.insert(
            refresh,
            Issued {
                user_id: issued.user_id.clone(),
                scope: issued.scope.clone(),
            },
        );
    }
    s.access_tokens.insert(access, issued);
    json_response(StatusCode::OK, &answer)
}

fn sha256(data: &[u8]) -> Vec<u8> {
    use sha2::Digest;
    sha2::Sha256::digest(data).to_vec()
}
