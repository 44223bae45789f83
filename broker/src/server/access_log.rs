//! One log line per request. Only the path is logged: query strings carry codes, states and
//! request ids, and bodies carry passwords and secrets.

use std::time::Instant;

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;

pub async fn log_request(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let started = Instant::now();
    let response = next.run(request).await;
    tracing::info!(
        method = %method,
        path = %path,
        status = response.status().as_u16(),
        latency_ms = (started.elapsed().as_secs_f64() * 10_000.0).round() / 10.0,
        "request"
    );
    response
}
