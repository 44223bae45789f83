//! One HTTP/1.1 request written byte for byte on a TCP socket. HTTP clients normalise
//! paths (`/../`, `\`, `#`) before sending; path-bypass and open-redirect tests need the
//! gateway to see exactly what an attacker would send.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use anyhow::{bail, Context, Result};

/// A response as read off the socket (the body is raw: not de-chunked).
#[derive(Debug, Clone)]
pub struct RawResponse {
    pub status: u16,
    /// Lower-case names, in arrival order.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl RawResponse {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        crate::header_pairs::first(&self.headers, name)
    }

    /// Every value of header `name` (case-insensitive).
    pub fn headers_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        crate::header_pairs::all(&self.headers, name)
    }
}

/// Sends `GET <target>` exactly as given (no encoding, no normalisation) to
/// `127.0.0.1:port`, with `headers` and `Connection: close`, and reads the answer.
pub fn raw_get(port: u16, target: &str, headers: &[(&str, &str)]) -> Result<RawResponse> {
    let mut request = format!("GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("Connection: close\r\n\r\n");
    raw_request(port, request.as_bytes())
}

/// Writes `request` to `127.0.0.1:port` and reads until the server closes.
pub fn raw_request(port: u16, request: &[u8]) -> Result<RawResponse> {
    let mut stream =
        TcpStream::connect(("127.0.0.1", port)).with_context(|| format!("connecting to {port}"))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .context("setting a read timeout")?;
    stream.write_all(request).context("writing the request")?;
    let mut bytes = Vec::new();
    stream
        .read_to_end(&mut bytes)
        .context("reading the response")?;
    parse(&bytes)
}

fn parse(bytes: &[u8]) -> Result<RawResponse> {
    let text = String::from_utf8_lossy(bytes);
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        bail!("no complete response head in {text:?}");
    };
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("bad status line {status_line:?}"))?;
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Ok(RawResponse {
        status,
        headers,
        body: body.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_response_head_and_body() {
        let r = parse(
            b"HTTP/1.1 302 Found\r\nLocation: /x\r\nSet-Cookie: a=1\r\nset-cookie: b=2\r\n\r\nhi",
        )
        .unwrap();
        assert_eq!(r.status, 302);
        assert_eq!(r.header("location"), Some("/x"));
        assert_eq!(
            r.headers_named("set-cookie").collect::<Vec<_>>(),
            ["a=1", "b=2"]
        );
        assert_eq!(r.body, "hi");
        assert!(parse(b"HTTP/1.1 200 OK\r\n").is_err());
    }
}
