//! A stand-in for Microsoft Entra ID and Microsoft Graph, following Microsoft's documented
//! endpoints and answers (no real tenant is reachable from the tests):
//!
//! - `GET /{tenant}/oauth2/v2.0/authorize`: checks client_id, redirect_uri (exact match),
//!   response_type=code; signs the configured user in at once (no form) and redirects back
//!   with `code` and `state`, or with `error=access_denied` when no user is set.
//! - `POST /{tenant}/oauth2/v2.0/token`: `authorization_code` (one-time code, same
//!   redirect_uri, client secret in the body or Basic, PKCE S256 when a challenge was sent)
//!   and `refresh_token`; errors in the OAuth shape with AADSTS codes.
//! - Graph `GET /v1.0/me`, `POST /v1.0/me/getMemberGroups` (honours securityEnabledOnly;
//!   pages with `@odata.nextLink` when a page size is set), `POST
//!   /v1.0/directoryObjects/getByIds` (refuses more than 1000 ids); Graph errors in the
//!   `{"error": {"code", "message", "innerError"}}` shape; 429 with `Retry-After` on demand.
//!
//! Everything is configurable per test through [`FakeEntra`]'s methods, and every call is
//! recorded so tests can assert what the broker really sent.

use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;

use anyhow::{Context, Result};
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, Method, Response, StatusCode, Uri};
use axum::Router;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use serde_json::{json, Value};
use tokio::sync::oneshot;

pub const TENANT: &str = "9188040d-6c67-4c5b-b112-36a304b66dad";
pub const CLIENT_ID: &str = "6731de76-14a6-49ae-97bc-6eba6914391e";
pub const CLIENT_SECRET: &str = "entra-test-secret";

/// A directory group.
#[derive(Debug, Clone)]
pub struct FakeGroup {
    pub id: String,
    pub name: String,
    /// Security group (false: a Microsoft 365 group, left out with securityEnabledOnly).
    pub security: bool,
}

impl FakeGroup {
    pub fn new(id: &str, name: &str) -> Self {
        FakeGroup {
            id: id.into(),
            name: name.into(),
            security: true,
        }
    }
}

/// A directory user.
#[derive(Debug, Clone)]
pub struct FakeUser {
    pub id: String,
    pub display_name: String,
    pub user_principal_name: String,
    pub mail_nickname: String,
    pub groups: Vec<FakeGroup>,
}

/// One call the fake received.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: String,
    /// Path and query.
    pub path: String,
    /// Form fields (token endpoint) or the JSON body's text (Graph).
    pub form: HashMap<String, String>,
    pub json: Option<Value>,
}

#[derive(Default)]
struct Issued {
    user_id: String,
    scope: String,
}

struct PendingCode {
    issued: Issued,
    redirect_uri: String,
    challenge: Option<(String, String)>,
}

#[derive(Default)]
struct FakeState {
    redirect_uris: Vec<String>,
    users: HashMap<String, FakeUser>,
    /// Who the authorize endpoint signs in (by id).
    signed_in: Option<String>,
    codes: HashMap<String, PendingCode>,
    access_tokens: HashMap<String, Issued>,
    refresh_tokens: HashMap<String, Issued>,
    /// getMemberGroups page size (None: one page).
    page_size: Option<usize>,
    /// The next this-many Graph calls answer 429 with this Retry-After.
    throttle: (u32, u64),
    /// Graph /me answers this status (401 or 403) instead.
    me_error: Option<u16>,
    /// The token endpoint refuses refresh tokens (as after a revocation).
    revoke_refresh: bool,
    calls: Vec<Call>,
    counter: u64,
    /// Graph accepts any bearer token as this user's (tokens issued by another provider,
    /// as for an Entra ID token with group overage obtained through a generic OIDC login).
    any_bearer_as: Option<String>,
}

type Shared = Arc<Mutex<FakeState>>;

/// The fake on its own thread and runtime; stopped on drop.
pub struct FakeEntra {
    port: u16,
    state: Shared,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

fn lock(state: &Shared) -> MutexGuard<'_, FakeState> {
    match state.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

impl FakeEntra {
    pub fn start() -> Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").context("binding the fake Entra ID")?;
        listener.set_nonblocking(true)?;
        let port = listener.local_addr()?.port();
        let state: Shared = Arc::default();
        let (tx, rx) = oneshot::channel::<()>();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let app = Router::new().fallback(handle).with_state(state.clone());
        let thread = std::thread::Builder::new()
            .name(format!("fake-entra-{port}"))
            .spawn(move || {
                runtime.block_on(async move {
                    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                        return;
                    };
                    tokio::select! {
                        r = axum::serve(listener, app) => { if let Err(e) = r { eprintln!("fake entra: {e}"); } }
                        _ = rx => {}
                    }
                });
            })?;
        Ok(FakeEntra {
            port,
            state,
            shutdown: Some(tx),
            thread: Some(thread),
        })
    }

    /// The `apiURL` and `graphURL` of the connector.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn allow_redirect_uri(&self, uri: &str) {
        lock(&self.state).redirect_uris.push(uri.to_string());
    }

    /// Adds (or replaces) a user and makes them the one the authorize endpoint signs in.
    pub fn sign_in_as(&self, user: FakeUser) {
        let mut s = lock(&self.state);
        s.signed_in = Some(user.id.clone());
        s.users.insert(user.id.clone(), user);
    }

    /// Changes a user's groups (e.g. an administrator removes them from one).
    pub fn set_groups(&self, user_id: &str, groups: Vec<FakeGroup>) {
        if let Some(u) = lock(&self.state).users.get_mut(user_id) {
            u.groups = groups;
        }
    }

    pub fn set_page_size(&self, size: Option<usize>) {
        lock(&self.state).page_size = size;
    }

    /// The next `count` Graph calls answer 429 Too Many Requests with `Retry-After: secs`.
    pub fn throttle_graph(&self, count: u32, secs: u64) {
        lock(&self.state).throttle = (count, secs);
    }

    pub fn fail_me_with(&self, status: Option<u16>) {
        lock(&self.state).me_error = status;
    }

    pub fn revoke_refresh_tokens(&self) {
        lock(&self.state).revoke_refresh = true;
    }

    /// Adds the user and lets Graph accept any non-empty bearer token as theirs.
    pub fn accept_any_bearer_as(&self, user: FakeUser) {
        let mut s = lock(&self.state);
        s.any_bearer_as = Some(user.id.clone());
        s.users.insert(user.id.clone(), user);
    }

    pub fn calls(&self) -> Vec<Call> {
        lock(&self.state).calls.clone()
    }

    /// Calls whose path starts with `prefix`.
    pub fn calls_to(&self, prefix: &str) -> Vec<Call> {
        self.calls()
            .into_iter()
            .filter(|c| c.path.starts_with(prefix))
            .collect()
    }
}

impl Drop for FakeEntra {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn json_response(status: StatusCode, body: &Value) -> Response<Body> {
    let mut r = Response::new(Body::from(body.to_string()));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json; charset=utf-8"),
    );
    r
}

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

/// Microsoft Graph error.
fn graph_error(status: StatusCode, code: &str, message: &str) -> Response<Body> {
    json_response(
        status,
        &json!({"error": {"code": code, "message": message, "innerError": {
            "date": "2026-01-01T00:00:00", "request-id": "00000000-0000-0000-0000-000000000000",
            "client-request-id": "00000000-0000-0000-0000-000000000000"}}}),
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

fn form_of(bytes: &[u8]) -> HashMap<String, String> {
    url::form_urlencoded::parse(bytes).into_owned().collect()
}

async fn handle(
    State(state): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response<Body> {
    let path = uri.path().to_string();
    let query = form_of(uri.query().unwrap_or("").as_bytes());
    let form = if method == Method::POST
        && headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"))
    {
        form_of(&body)
    } else {
        HashMap::new()
    };
    let json_body: Option<Value> = serde_json::from_slice(&body).ok();
    let mut s = lock(&state);
    s.calls.push(Call {
        method: method.to_string(),
        path: uri
            .path_and_query()
            .map(|p| p.to_string())
            .unwrap_or_default(),
        form: form.clone(),
        json: json_body.clone(),
    });
    let authorize = format!("/{TENANT}/oauth2/v2.0/authorize");
    let token = format!("/{TENANT}/oauth2/v2.0/token");
    match (method.as_str(), path.as_str()) {
        ("GET", p) if p == authorize => authorize_endpoint(&mut s, &query),
        ("POST", p) if p == token => token_endpoint(&mut s, &headers, &form),
        (_, p) if p.starts_with("/v1.0/") => {
            graph(&mut s, &method, p, &query, &headers, json_body, &uri)
        }
        _ => json_response(StatusCode::NOT_FOUND, &json!({"error": "not found"})),
    }
}

fn next_id(s: &mut FakeState, prefix: &str) -> String {
    s.counter += 1;
    format!(
        "{prefix}-{}-{}",
        s.counter,
        URL_SAFE_NO_PAD.encode(s.counter.to_be_bytes())
    )
}

fn authorize_endpoint(s: &mut FakeState, q: &HashMap<String, String>) -> Response<Body> {
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

fn token_endpoint(
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

fn graph(
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
