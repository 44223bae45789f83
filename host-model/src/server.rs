//! The listener side: each worker accepts on the shared socket; a connection that opens with
//! the HTTP/2 preface is h2c (hyper), anything else HTTP/1.x (httparse, names as sent).

use std::future::Future;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

use crate::gateway::{handle, Incoming, Outgoing, Protocol};
use crate::http1;
use crate::logger::Level;
use crate::worker::Worker;

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

pub async fn accept_loop(worker: Rc<Worker>, listener: TcpListener) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(pair) => pair,
            Err(e) => {
                worker.log.log(Level::Warn, &format!("accept failed: {e}"));
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let local = match stream.local_addr() {
            Ok(a) => a,
            Err(_) => continue,
        };
        let _ = stream.set_nodelay(true);
        let worker = worker.clone();
        tokio::task::spawn_local(async move {
            if is_h2c(&stream).await {
                serve_h2c(worker, stream, peer, local).await;
            } else {
                serve_http1(worker, stream, peer, local).await;
            }
        });
    }
}

async fn is_h2c(stream: &TcpStream) -> bool {
    let mut buf = [0u8; 24];
    for _ in 0..50 {
        match stream.peek(&mut buf).await {
            Ok(0) | Err(_) => return false,
            Ok(n) if n >= PREFACE.len() => return buf[..] == *PREFACE,
            Ok(n) if buf[..n] != PREFACE[..n] => return false,
            Ok(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
    false
}

async fn serve_http1(
    worker: Rc<Worker>,
    mut stream: TcpStream,
    peer: SocketAddr,
    local: SocketAddr,
) {
    let mut buf = Vec::new();
    loop {
        let head_len = match http1::read_head(&mut stream, &mut buf).await {
            Ok(Some(n)) => n,
            Ok(None) => return,
            Err(_) => {
                let _ = stream
                    .write_all(&http1::write_response(400, &[], b"bad request\n", true))
                    .await;
                return;
            }
        };
        let mut headers = [httparse::EMPTY_HEADER; http1::MAX_HEADERS];
        let mut parsed = httparse::Request::new(&mut headers);
        if !matches!(
            parsed.parse(&buf[..head_len]),
            Ok(httparse::Status::Complete(_))
        ) {
            let _ = stream
                .write_all(&http1::write_response(400, &[], b"bad request\n", true))
                .await;
            return;
        }
        let method = parsed.method.unwrap_or("GET").to_string();
        let target = parsed.path.unwrap_or("/").to_string();
        let protocol = if parsed.version == Some(0) {
            Protocol::Http10
        } else {
            Protocol::Http11
        };
        let pairs = nginx_valid(http1::pairs(parsed.headers));
        buf.drain(..head_len);
        let body = match http1::body_kind(&pairs, false) {
            Ok(kind) => match http1::read_body(&mut stream, &mut buf, kind).await {
                Ok(b) => b,
                Err(_) => return,
            },
            Err(_) => {
                let _ = stream
                    .write_all(&http1::write_response(400, &[], b"bad request\n", true))
                    .await;
                return;
            }
        };
        let connection = pairs
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case("connection"))
            .map(|(_, v)| v.to_ascii_lowercase())
            .collect::<Vec<_>>()
            .join(",");
        let keep_alive = match protocol {
            Protocol::Http10 => connection.contains("keep-alive"),
            _ => !connection.contains("close"),
        };
        let incoming = Incoming {
            method,
            target,
            protocol,
            headers: pairs,
            body,
            peer,
            local,
        };
        let Some(out) = handle(&worker, incoming).await else {
            return;
        };
        let bytes = http1::write_response(out.status, &out.headers, &out.body, !keep_alive);
        if stream.write_all(&bytes).await.is_err() || !keep_alive {
            return;
        }
    }
}

#[derive(Clone, Copy)]
struct LocalExec;

impl<F: Future + 'static> hyper::rt::Executor<F> for LocalExec {
    fn execute(&self, fut: F) {
        tokio::task::spawn_local(fut);
    }
}

/// HTTP/2 as nginx stores it: lower-case names, `:authority` as the `host` header, the cookie
/// headers joined into one (ngx_http_v2_construct_cookie_header).
fn h2_headers(req: &http::Request<hyper::body::Incoming>) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if let Some(authority) = req.uri().authority() {
        out.push(("host".to_string(), authority.to_string()));
    }
    let mut cookies = Vec::new();
    for (k, v) in req.headers() {
        let value = String::from_utf8_lossy(v.as_bytes()).into_owned();
        if k == http::header::COOKIE {
            cookies.push(value);
        } else if k != http::header::HOST || out.is_empty() {
            out.push((k.as_str().to_string(), value));
        }
    }
    if !cookies.is_empty() {
        out.push(("cookie".to_string(), cookies.join("; ")));
    }
    nginx_valid(out)
}

/// nginx drops header names with an underscore (`underscores_in_headers off` and
/// `ignore_invalid_headers on`, the defaults Kong keeps; ngx_http_parse_header_line in
/// src/http/ngx_http_parse.c): neither the filter nor the upstream sees them.
fn nginx_valid(pairs: Vec<(String, String)>) -> Vec<(String, String)> {
    pairs
        .into_iter()
        .filter(|(k, _)| !k.contains('_'))
        .collect()
}

async fn serve_h2c(worker: Rc<Worker>, stream: TcpStream, peer: SocketAddr, local: SocketAddr) {
    let service = service_fn(move |req: http::Request<hyper::body::Incoming>| {
        let worker = worker.clone();
        async move {
            let headers = h2_headers(&req);
            let method = req.method().to_string();
            let target = req
                .uri()
                .path_and_query()
                .map(|pq| pq.as_str().to_string())
                .unwrap_or_else(|| "/".into());
            let body = req
                .into_body()
                .collect()
                .await
                .map(|b| b.to_bytes().to_vec())
                .map_err(|e| e.to_string())?;
            let incoming = Incoming {
                method,
                target,
                protocol: Protocol::Http2,
                headers,
                body,
                peer,
                local,
            };
            match handle(&worker, incoming).await {
                Some(out) => Ok(h2_response(out)),
                None => Err("worker crashed".to_string()),
            }
        }
    });
    let _ = hyper::server::conn::http2::Builder::new(LocalExec)
        .serve_connection(TokioIo::new(stream), service)
        .await;
}

fn h2_response(out: Outgoing) -> http::Response<Full<Bytes>> {
    let mut response = http::Response::new(Full::new(Bytes::from(out.body)));
    *response.status_mut() =
        http::StatusCode::from_u16(out.status).unwrap_or(http::StatusCode::BAD_GATEWAY);
    for (k, v) in out.headers {
        if http1::is_framing(&k) {
            continue;
        }
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(k.as_bytes()),
            http::HeaderValue::from_str(&v),
        ) {
            response.headers_mut().append(name, value);
        }
    }
    response
}
