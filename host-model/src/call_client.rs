//! Sends a dispatched call and reads the answer, reporting failures as ngx_wasm_module does:
//! a `:dispatch_status` (src/common/ngx_wasm_socket_tcp.c's error list) and no `:status`.

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::time::timeout;

use crate::http1;
use crate::state::{CallResponse, NewCall};

fn failed(status: &'static str) -> CallResponse {
    CallResponse {
        status: None,
        dispatch_status: status,
        headers: Vec::new(),
        body: Vec::new(),
    }
}

/// `host:port`, port 80 when absent (ngx_wasm_socket_tcp_init).
pub fn with_port(target: &str) -> String {
    if target.contains(':') {
        target.to_string()
    } else {
        format!("{target}:80")
    }
}

pub async fn send(call: &NewCall) -> CallResponse {
    let addr = with_port(&call.target);
    let resolved = match tokio::net::lookup_host(addr.as_str()).await {
        Ok(mut addrs) => addrs.next(),
        Err(_) => None,
    };
    let Some(addr) = resolved else {
        return failed("resolver failure");
    };
    let mut stream = match timeout(call.timeout, TcpStream::connect(addr)).await {
        Err(_) => return failed("timeout"),
        Ok(Err(_)) => return failed("broken connection"),
        Ok(Ok(s)) => s,
    };
    match timeout(call.timeout, exchange(&mut stream, &call.request)).await {
        Err(_) => failed("timeout"),
        Ok(Err(status)) => failed(status),
        Ok(Ok(r)) => r,
    }
}

async fn exchange(stream: &mut TcpStream, request: &[u8]) -> Result<CallResponse, &'static str> {
    stream
        .write_all(request)
        .await
        .map_err(|_| "broken connection")?;
    let (status, headers, body) = read_response(stream, false)
        .await
        .map_err(|_| "reader failure")?;
    Ok(CallResponse {
        status: Some(status),
        dispatch_status: "ok",
        headers,
        body,
    })
}

/// Reads one response; `head_request` when it answers a HEAD (no body).
pub async fn read_response(
    stream: &mut TcpStream,
    head_request: bool,
) -> std::io::Result<(u16, Vec<(String, String)>, Vec<u8>)> {
    let mut buf = Vec::new();
    let Some(head_len) = http1::read_head(stream, &mut buf).await? else {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "no response",
        ));
    };
    let mut headers = [httparse::EMPTY_HEADER; http1::MAX_HEADERS];
    let mut response = httparse::Response::new(&mut headers);
    response
        .parse(&buf[..head_len])
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
    let status = response.code.unwrap_or(502);
    let pairs = http1::pairs(response.headers);
    buf.drain(..head_len);
    let no_body = head_request || status < 200 || status == 204 || status == 304;
    let kind = if no_body {
        http1::BodyKind::None
    } else {
        http1::body_kind(&pairs, true)?
    };
    let body = http1::read_body(stream, &mut buf, kind).await?;
    Ok((status, pairs, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_defaults_to_80() {
        assert_eq!(with_port("127.0.0.1:5556"), "127.0.0.1:5556");
        assert_eq!(with_port("broker"), "broker:80");
    }
}
