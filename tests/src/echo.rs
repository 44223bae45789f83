//! The upstream app behind Envoy: shows the identity headers it received and records
//! every request, so tests can prove what reached it (or that nothing did).

use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use anyhow::{Context, Result};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Response, StatusCode};
use axum::Router;
use serde::Serialize;
use tokio::sync::oneshot;

/// The identity headers the filter sets (and must strip when a client sends them).
pub const IDENTITY_HEADERS: [&str; 4] = [
    "x-auth-request-user",
    "x-auth-request-email",
    "x-auth-request-groups",
    "x-auth-request-preferred-username",
];

/// One request as the upstream saw it.
#[derive(Debug, Clone, Serialize)]
pub struct RecordedRequest {
    pub method: String,
    /// Path and query.
    pub path: String,
    /// Lower-case names, in arrival order (repeated headers appear repeatedly).
    pub headers: Vec<(String, String)>,
}

impl RecordedRequest {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        crate::header_pairs::first(&self.headers, name)
    }

    /// Every value of header `name` (case-insensitive).
    pub fn headers_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        crate::header_pairs::all(&self.headers, name)
    }

    /// Names of the cookies in the `Cookie` header(s).
    pub fn cookie_names(&self) -> Vec<String> {
        self.headers_named("cookie")
            .flat_map(|h| h.split(';'))
            .filter_map(|pair| pair.split('=').next())
            .map(|name| name.trim().to_string())
            .filter(|name| !name.is_empty())
            .collect()
    }
}

type Log = Arc<Mutex<Vec<RecordedRequest>>>;

/// An HTTP server on its own thread and runtime; stopped on drop.
pub struct Echo {
    port: u16,
    log: Log,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Echo {
    /// Starts on a port the OS picks.
    pub fn start() -> Result<Self> {
        Self::start_on(0)
    }

    /// Starts on `127.0.0.1:port` (0 = any free port).
    pub fn start_on(port: u16) -> Result<Self> {
        // Bind here so that a taken port is reported to the caller, not inside the thread.
        let listener = TcpListener::bind(("127.0.0.1", port))
            .with_context(|| format!("binding the echo upstream to 127.0.0.1:{port}"))?;
        listener
            .set_nonblocking(true)
            .context("making the echo listener non-blocking")?;
        let port = listener.local_addr().context("echo local address")?.port();
        let log: Log = Arc::default();
        let (tx, rx) = oneshot::channel::<()>();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("building the echo runtime")?;
        let app = Router::new().fallback(respond).with_state(log.clone());
        let thread = std::thread::Builder::new()
            .name(format!("echo-{port}"))
            .spawn(move || {
                runtime.block_on(async move {
                    let listener = match tokio::net::TcpListener::from_std(listener) {
                        Ok(listener) => listener,
                        Err(err) => {
                            eprintln!("echo: cannot adopt listener: {err}");
                            return;
                        }
                    };
                    // Not a graceful shutdown: Envoy keeps idle upstream connections open,
                    // and dropping the runtime below ends them at once.
                    tokio::select! {
                        result = axum::serve(listener, app) => {
                            if let Err(err) = result {
                                eprintln!("echo: server error: {err}");
                            }
                        }
                        _ = rx => {}
                    }
                });
            })
            .context("spawning the echo thread")?;
        Ok(Self {
            port,
            log,
            shutdown: Some(tx),
            thread: Some(thread),
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Every request received so far, oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        match self.log.lock() {
            Ok(log) => log.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Forgets the requests received so far.
    pub fn clear(&self) {
        match self.log.lock() {
            Ok(mut log) => log.clear(),
            Err(poisoned) => poisoned.into_inner().clear(),
        }
    }
}

impl Drop for Echo {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl std::fmt::Debug for Echo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Echo").field("port", &self.port).finish()
    }
}

async fn respond(State(log): State<Log>, request: Request) -> Response<Body> {
    let recorded = RecordedRequest {
        method: request.method().to_string(),
        path: request
            .uri()
            .path_and_query()
            .map(|pq| pq.as_str().to_string())
            .unwrap_or_else(|| "/".to_string()),
        headers: request
            .headers()
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
    };
    match log.lock() {
        Ok(mut log) => log.push(recorded.clone()),
        Err(poisoned) => poisoned.into_inner().push(recorded.clone()),
    }
    if wants_json(request.headers()) {
        reply(
            "application/json",
            serde_json::to_string_pretty(&summary(&recorded)).unwrap_or_default(),
        )
    } else {
        reply("text/html; charset=utf-8", html_page(&recorded))
    }
}

fn wants_json(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("application/json"))
}

fn reply(content_type: &str, body: String) -> Response<Body> {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = StatusCode::OK;
    if let Ok(value) = header::HeaderValue::from_str(content_type) {
        response.headers_mut().insert(header::CONTENT_TYPE, value);
    }
    response
}

/// What the upstream shows: identity headers, whether a bearer token came, cookie names
/// (never values: the session cookie must not arrive, and if it did it is a secret).
fn summary(request: &RecordedRequest) -> serde_json::Value {
    let identity: serde_json::Map<String, serde_json::Value> = IDENTITY_HEADERS
        .iter()
        .map(|name| {
            let value = request
                .header(name)
                .map(|v| serde_json::Value::String(v.to_string()))
                .unwrap_or(serde_json::Value::Null);
            (name.to_string(), value)
        })
        .collect();
    serde_json::json!({
        "method": request.method,
        "path": request.path,
        "identity": identity,
        "authorization": request.header("authorization").is_some(),
        "cookies": request.cookie_names(),
    })
}

fn html_page(request: &RecordedRequest) -> String {
    let mut rows = String::new();
    for name in IDENTITY_HEADERS {
        let value = request.header(name).unwrap_or("(not sent)");
        rows.push_str(&format!(
            "<tr><th>{}</th><td>{}</td></tr>\n",
            escape(name),
            escape(value)
        ));
    }
    let auth = if request.header("authorization").is_some() {
        "present"
    } else {
        "absent"
    };
    rows.push_str(&format!("<tr><th>authorization</th><td>{auth}</td></tr>\n"));
    rows.push_str(&format!(
        "<tr><th>cookies</th><td>{}</td></tr>\n",
        escape(&request.cookie_names().join(", "))
    ));
    format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>Gatehouse upstream</title></head>\n\
         <body><h1>Hello from the upstream app</h1>\n\
         <p>{} {}</p>\n<p>These are the identity headers the gateway sent:</p>\n\
         <table>\n{rows}</table>\n\
         <p><a href=\"/oauth2/sign_out\">Sign out</a></p>\n</body></html>\n",
        escape(&request.method),
        escape(&request.path)
    )
}

/// HTML text/attribute escaping: header values are attacker-controlled.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_neutralises_markup() {
        assert_eq!(
            escape("<script>\"x\"&'y'</script>"),
            "&lt;script&gt;&quot;x&quot;&amp;&#39;y&#39;&lt;/script&gt;"
        );
    }

    #[test]
    fn cookie_names_are_listed_without_values() {
        let r = RecordedRequest {
            method: "GET".into(),
            path: "/".into(),
            headers: vec![("cookie".into(), "a=1; b=2=3;  c=".into())],
        };
        assert_eq!(r.cookie_names(), vec!["a", "b", "c"]);
    }
}
