//! nginx's proxy module as Kong configures it: the request goes to the one upstream with every
//! header entry nginx holds, including those the filter removed (see `headers.rs`), except the
//! ones the proxy module sets itself.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::time::timeout;

use crate::call_client::{read_response, with_port};
use crate::headers::Entry;
use crate::http1::is_framing;

/// Kong's proxy_connect/read timeouts default to 60 s.
const TIMEOUT: Duration = Duration::from_secs(60);

/// Headers Kong's nginx template sets with `proxy_set_header`: the client's copies are not sent.
fn set_by_proxy(name: &str) -> bool {
    is_framing(name)
        || [
            "host",
            "x-real-ip",
            "x-forwarded-for",
            "x-forwarded-proto",
            "x-forwarded-host",
            "x-forwarded-port",
            "x-forwarded-path",
            "x-forwarded-prefix",
        ]
        .iter()
        .any(|h| h.eq_ignore_ascii_case(name))
}

pub struct Forward<'a> {
    pub upstream: &'a str,
    pub method: &'a str,
    pub path: &'a str,
    pub headers: &'a [Entry],
    pub body: &'a [u8],
    pub peer: SocketAddr,
    pub client_host: &'a str,
    pub local_port: u16,
}

pub type UpstreamResponse = (u16, Vec<(String, String)>, Vec<u8>);

pub async fn forward(f: Forward<'_>) -> std::io::Result<UpstreamResponse> {
    let mut head = format!(
        "{} {} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nX-Real-IP: {ip}\r\n\
         X-Forwarded-For: {ip}\r\nX-Forwarded-Proto: http\r\nX-Forwarded-Host: {}\r\n\
         X-Forwarded-Port: {}\r\n",
        f.method,
        f.path,
        f.upstream,
        f.client_host,
        f.local_port,
        ip = f.peer.ip(),
    );
    for e in f.headers {
        if !set_by_proxy(&e.name) {
            head.push_str(&format!("{}: {}\r\n", e.name, e.value));
        }
    }
    if !f.body.is_empty() || !matches!(f.method, "GET" | "HEAD" | "DELETE" | "OPTIONS") {
        head.push_str(&format!("Content-Length: {}\r\n", f.body.len()));
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(f.body);
    let addr = with_port(f.upstream);
    let exchange = async {
        let mut stream = TcpStream::connect(addr.as_str()).await?;
        stream.write_all(&bytes).await?;
        read_response(&mut stream, f.method == "HEAD").await
    };
    match timeout(TIMEOUT, exchange).await {
        Ok(result) => result,
        Err(_) => Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "upstream timed out",
        )),
    }
}
