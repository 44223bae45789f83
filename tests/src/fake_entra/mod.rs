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

mod graph;
mod identity_platform;

use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;

use anyhow::{Context, Result};
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, Method, Response, StatusCode, Uri};
use axum::Router;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};
use tokio::sync::oneshot;

use graph::graph;
use identity_platform::{authorize_endpoint, token_endpoint};

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
