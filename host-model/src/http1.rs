//! The little HTTP/1.1 the model needs, on both sides: reading a message head with httparse
//! (names keep their case, as nginx keeps them), reading a body by `Content-Length`, chunked
//! coding or until close, writing a response.

use std::io;

use tokio::io::{AsyncRead, AsyncReadExt};

/// The biggest message head accepted (nginx's default large_client_header_buffers is 4 × 8 KB).
pub const MAX_HEAD: usize = 32 * 1024;
const MAX_BODY: usize = 16 * 1024 * 1024;
pub const MAX_HEADERS: usize = 128;

fn bad(message: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.to_string())
}

/// Reads until `buf` holds a complete head; returns its length, or `None` on a clean close.
pub async fn read_head<R: AsyncRead + Unpin>(
    io: &mut R,
    buf: &mut Vec<u8>,
) -> io::Result<Option<usize>> {
    loop {
        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            return Ok(Some(pos + 4));
        }
        if buf.len() > MAX_HEAD {
            return Err(bad("message head too large"));
        }
        let mut chunk = [0u8; 8192];
        let n = io.read(&mut chunk).await?;
        if n == 0 {
            return if buf.is_empty() {
                Ok(None)
            } else {
                Err(bad("connection closed inside a message head"))
            };
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

async fn fill<R: AsyncRead + Unpin>(io: &mut R, buf: &mut Vec<u8>, want: usize) -> io::Result<()> {
    while buf.len() < want {
        let mut chunk = [0u8; 8192];
        let n = io.read(&mut chunk).await?;
        if n == 0 {
            return Err(bad("connection closed inside a body"));
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Ok(())
}

pub enum BodyKind {
    None,
    Length(usize),
    Chunked,
    UntilClose,
}

pub fn body_kind(headers: &[(String, String)], until_close_allowed: bool) -> io::Result<BodyKind> {
    let find = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim().to_string())
    };
    if let Some(te) = find("transfer-encoding") {
        if te.to_ascii_lowercase().ends_with("chunked") {
            return Ok(BodyKind::Chunked);
        }
        return Err(bad("unsupported transfer-encoding"));
    }
    if let Some(cl) = find("content-length") {
        let n: usize = cl.parse().map_err(|_| bad("bad content-length"))?;
        if n > MAX_BODY {
            return Err(bad("body too large"));
        }
        return Ok(BodyKind::Length(n));
    }
    Ok(if until_close_allowed {
        BodyKind::UntilClose
    } else {
        BodyKind::None
    })
}

/// Reads a body; `buf` holds what was read past the head and keeps what follows the body.
pub async fn read_body<R: AsyncRead + Unpin>(
    io: &mut R,
    buf: &mut Vec<u8>,
    kind: BodyKind,
) -> io::Result<Vec<u8>> {
    match kind {
        BodyKind::None => Ok(Vec::new()),
        BodyKind::Length(n) => {
            fill(io, buf, n).await?;
            Ok(buf.drain(..n).collect())
        }
        BodyKind::UntilClose => {
            io.read_to_end(buf).await?;
            if buf.len() > MAX_BODY {
                return Err(bad("body too large"));
            }
            Ok(std::mem::take(buf))
        }
        BodyKind::Chunked => {
            let mut body = Vec::new();
            loop {
                let line_end = loop {
                    if let Some(p) = buf.windows(2).position(|w| w == b"\r\n") {
                        break p;
                    }
                    let want = buf.len() + 1;
                    fill(io, buf, want).await?;
                };
                let line = String::from_utf8_lossy(&buf[..line_end]).to_string();
                let size_text = line.split(';').next().unwrap_or_default().trim();
                let size =
                    usize::from_str_radix(size_text, 16).map_err(|_| bad("bad chunk size"))?;
                buf.drain(..line_end + 2);
                if size == 0 {
                    // Trailers are dropped, up to the empty line.
                    loop {
                        let end = loop {
                            if let Some(p) = buf.windows(2).position(|w| w == b"\r\n") {
                                break p;
                            }
                            let want = buf.len() + 1;
                            fill(io, buf, want).await?;
                        };
                        buf.drain(..end + 2);
                        if end == 0 {
                            return Ok(body);
                        }
                    }
                }
                if body.len() + size > MAX_BODY {
                    return Err(bad("body too large"));
                }
                fill(io, buf, size + 2).await?;
                body.extend(buf.drain(..size));
                buf.drain(..2);
            }
        }
    }
}

/// `(name, value)` pairs of parsed headers, names as sent.
pub fn pairs(headers: &[httparse::Header<'_>]) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|h| {
            (
                h.name.to_string(),
                String::from_utf8_lossy(h.value).into_owned(),
            )
        })
        .collect()
}

pub fn write_response(
    status: u16,
    headers: &[(String, String)],
    body: &[u8],
    close: bool,
) -> Vec<u8> {
    let reason = http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Unknown");
    let mut out = format!("HTTP/1.1 {status} {reason}\r\n");
    for (k, v) in headers {
        if is_framing(k) {
            continue;
        }
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str(&format!("Content-Length: {}\r\n", body.len()));
    if close {
        out.push_str("Connection: close\r\n");
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

/// Headers about the connection or the framing of one hop, never passed to the next.
pub fn is_framing(name: &str) -> bool {
    [
        "connection",
        "keep-alive",
        "transfer-encoding",
        "content-length",
        "te",
        "upgrade",
        "proxy-connection",
    ]
    .iter()
    .any(|h| h.eq_ignore_ascii_case(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn chunked_bodies_are_decoded() {
        let mut io: &[u8] = b"3;x=y\r\nabc\r\n2\r\nde\r\n0\r\nT: 1\r\n\r\nNEXT";
        let mut buf = Vec::new();
        let body = read_body(&mut io, &mut buf, BodyKind::Chunked)
            .await
            .unwrap();
        assert_eq!(body, b"abcde");
        assert_eq!(buf, b"NEXT");
    }
}
