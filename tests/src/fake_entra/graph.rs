//! Microsoft Graph: `/me`, `getMemberGroups` (paged on demand), `directoryObjects/getByIds`,
//! errors in Graph's shape and 429 with `Retry-After` on demand.

use std::collections::HashMap;

use axum::body::Body;
use axum::http::{header, HeaderMap, Method, Response, StatusCode, Uri};
use serde_json::{json, Value};

use super::*;

/// Microsoft Graph error.
fn graph_error(status: StatusCode, code: &str, message: &str) -> Response<Body> {
    json_response(
        status,
        &json!({"error": {"code": code, "message": message, "innerError": {
            "date": "2026-01-01T00:00:00", "request-id": "00000000-0000-0000-0000-000000000000",
            "client-request-id": "00000000-0000-0000-0000-000000000000"}}}),
    )
}

pub(super) fn graph(
    s: &mut FakeState,
    method: &Method,
    path: &str,
    query: &HashMap<String, String>,
    headers: &HeaderMap,
    body: Option<Value>,
    uri: &Uri,
) -> Response<Body> {
    if s.throttle.0 > 0 {
        s.throttle.0 -= 1;
        let mut r = graph_error(
            StatusCode::TOO_MANY_REQUESTS,
            "TooManyRequests",
            "Too many requests.",
        );
        if let Ok(v) = header::HeaderValue::from_str(&s.throttle.1.to_string()) {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return r;
    }
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    let holder = match (&s.any_bearer_as, s.access_tokens.get(token)) {
        (_, Some(issued)) => Some(issued.user_id.clone()),
        (Some(id), None) if !token.is_empty() => Some(id.clone()),
        _ => None,
    };
    let Some(user) = holder.and_then(|id| s.users.get(&id)).cloned() else {
        return graph_error(
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationToken",
            "Access token validation failure. Invalid audience.",
        );
    };
    match (method.as_str(), path) {
        ("GET", "/v1.0/me") => match s.me_error {
            Some(401) => graph_error(
                StatusCode::UNAUTHORIZED,
                "InvalidAuthenticationToken",
                "Lifetime validation failed, the token is expired.",
            ),
            Some(_) => graph_error(
                StatusCode::FORBIDDEN,
                "Authorization_RequestDenied",
                "Insufficient privileges to complete the operation.",
            ),
            None => {
                let all = json!({
                    "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users/$entity",
                    "id": user.id,
                    "displayName": user.display_name,
                    "userPrincipalName": user.user_principal_name,
                    "mail": user.user_principal_name,
                    "mailNickname": user.mail_nickname,
                    "onPremisesSamAccountName": null,
                });
                // $select returns only the fields asked for (plus the context).
                let answer = match query.get("$select") {
                    Some(sel) => {
                        let mut out = serde_json::Map::new();
                        out.insert("@odata.context".into(), all["@odata.context"].clone());
                        for f in sel.split(',') {
                            if let Some(v) = all.get(f) {
                                out.insert(f.to_string(), v.clone());
                            }
                        }
                        Value::Object(out)
                    }
                    None => all,
                };
                json_response(StatusCode::OK, &answer)
            }
        },
        ("POST", "/v1.0/me/getMemberGroups") => {
            let Some(security_only) = body
                .as_ref()
                .and_then(|b| b.get("securityEnabledOnly"))
                .and_then(Value::as_bool)
            else {
                return graph_error(
                    StatusCode::BAD_REQUEST,
                    "Request_BadRequest",
                    "securityEnabledOnly is required.",
                );
            };
            let ids: Vec<String> = user
                .groups
                .iter()
                .filter(|g| g.security || !security_only)
                .map(|g| g.id.clone())
                .collect();
            let skip: usize = query
                .get("$skiptoken")
                .and_then(|t| t.parse().ok())
                .unwrap_or(0);
            let size = s.page_size.unwrap_or(usize::MAX);
            let page: Vec<&String> = ids.iter().skip(skip).take(size).collect();
            let mut answer = json!({
                "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#Collection(Edm.String)",
                "value": page,
            });
            if skip.saturating_add(size) < ids.len() {
                // HTTP/1.1 requests carry the authority in Host, not in the request line.
                let host = headers
                    .get(header::HOST)
                    .and_then(|h| h.to_str().ok())
                    .map(str::to_string)
                    .or_else(|| uri.authority().map(|a| a.to_string()))
                    .unwrap_or_default();
                answer["@odata.nextLink"] = json!(format!(
                    "http://{host}/v1.0/me/getMemberGroups?$skiptoken={}",
                    skip + size
                ));
            }
            json_response(StatusCode::OK, &answer)
        }
        ("POST", "/v1.0/directoryObjects/getByIds") => {
            let ids: Vec<String> = body
                .as_ref()
                .and_then(|b| b.get("ids"))
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default();
            if ids.len() > 1000 {
                return graph_error(
                    StatusCode::BAD_REQUEST,
                    "Request_BadRequest",
                    "The number of ids in the request exceeds the limit of 1000.",
                );
            }
            let all: HashMap<String, FakeGroup> = s
                .users
                .values()
                .flat_map(|u| u.groups.iter().cloned())
                .map(|g| (g.id.clone(), g))
                .collect();
            let value: Vec<Value> = ids
                .iter()
                .filter_map(|id| all.get(id))
                .map(|g| json!({"@odata.type": "#microsoft.graph.group", "id": g.id, "displayName": g.name, "securityEnabled": g.security}))
                .collect();
            json_response(
                StatusCode::OK,
                &json!({"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#directoryObjects", "value": value}),
            )
        }
        _ => graph_error(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "Unsupported request.",
        ),
    }
}
