//! One request through the model: the filter's HTTP context in the access phase, the upstream,
//! the response-header callback — what Kong does with a filter attached to a route.

use std::net::SocketAddr;
use std::rc::Rc;

use crate::headers::HeaderList;
use crate::logger::Level;
use crate::state::{LocalResponse, Stream};
use crate::upstream::{forward, Forward};
use crate::uri::nginx_path;
use crate::vm::Failure;
use crate::worker::{local_response_headers, Next, Resume, Worker};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Http10,
    Http11,
    Http2,
}

impl Protocol {
    fn name(self) -> &'static str {
        match self {
            Protocol::Http10 => "HTTP/1.0",
            Protocol::Http11 => "HTTP/1.1",
            Protocol::Http2 => "HTTP/2.0",
        }
    }
}

pub struct Incoming {
    pub method: String,
    pub target: String,
    pub protocol: Protocol,
    /// As nginx stores them: HTTP/1.x names in the client's case, HTTP/2 lower case with the
    /// cookies in one header.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub peer: SocketAddr,
    pub local: SocketAddr,
}

pub struct Outgoing {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

fn plain(status: u16, text: &str) -> Outgoing {
    Outgoing {
        status,
        headers: vec![("Content-Type".into(), "text/plain".into())],
        body: format!("{text}\n").into_bytes(),
    }
}

/// `None`: the worker "crashed" while serving it; the connection is dropped.
pub async fn handle(worker: &Rc<Worker>, req: Incoming) -> Option<Outgoing> {
    let client_host = req
        .headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("host"))
        .map(|(_, v)| v.clone())
        .unwrap_or_else(|| worker.options.server_name.clone());
    let path = match nginx_path(&req.target) {
        Ok(p) => p,
        Err(e) => {
            worker
                .log
                .log(Level::Info, &format!("client sent invalid request: {e}"));
            return Some(plain(400, "Bad Request"));
        }
    };
    let stream = Stream {
        method: req.method.clone(),
        path,
        target: req.target.clone(),
        scheme: "http".into(),
        authority: format!("{}:{}", worker.options.server_name, req.local.port()),
        protocol: req.protocol.name(),
        request: HeaderList::new(req.headers.clone()),
        response: HeaderList::default(),
        status: None,
        local: None,
        response_started: false,
        resume_requested: false,
        pending_calls: 0,
        peer: req.peer,
        local_addr: req.local,
    };
    let id = match worker.open(stream) {
        Ok(id) => id,
        Err(f) => return failed(f),
    };
    let generation = worker.generation();
    let next = match worker.request_headers(id) {
        Ok(Next::Continue) => Resume::Continue,
        Ok(Next::Local(l)) => Resume::Local(l),
        Ok(Next::Wait(rx)) => rx.await.unwrap_or(Resume::Failed(Failure::Trap(
            "the request was dropped while paused".into(),
        ))),
        Err(f) => Resume::Failed(f),
    };
    let out = match next {
        Resume::Failed(f) => {
            worker.forget(id);
            return failed(f);
        }
        Resume::Local(local) => respond_local(worker, id, local),
        Resume::Continue => proxy(worker, id, &req, &client_host).await,
    };
    match out {
        Ok(out) => {
            worker.finish(id, out.body.len(), generation);
            Some(out)
        }
        Err(f) => {
            worker.forget(id);
            failed(f)
        }
    }
}

fn failed(f: Failure) -> Option<Outgoing> {
    match f {
        Failure::Crash(_) => None,
        Failure::Trap(_) => Some(plain(500, "An unexpected error occurred")),
    }
}

fn respond_local(worker: &Rc<Worker>, id: u32, local: LocalResponse) -> Result<Outgoing, Failure> {
    let headers = local_response_headers(&local);
    let (status, headers, body) = worker.response_headers(id, local.status, headers, true)?;
    Ok(Outgoing {
        status,
        headers,
        body: body.unwrap_or(local.body),
    })
}

async fn proxy(
    worker: &Rc<Worker>,
    id: u32,
    req: &Incoming,
    client_host: &str,
) -> Result<Outgoing, Failure> {
    let Some((method, path, headers)) = worker.request_parts(id) else {
        return Err(Failure::Trap("the request's context is gone".into()));
    };
    let answer = forward(Forward {
        upstream: &worker.options.upstream,
        method: &method,
        path: &path,
        headers: &headers,
        body: &req.body,
        peer: req.peer,
        client_host,
        local_port: req.local.port(),
    })
    .await;
    let (status, upstream_headers, body) = match answer {
        Ok(a) => a,
        Err(e) => {
            worker.log.log(
                Level::Error,
                &format!("upstream {} failed: {e}", worker.options.upstream),
            );
            let bad = plain(
                502,
                "An invalid response was received from the upstream server",
            );
            (bad.status, bad.headers, bad.body)
        }
    };
    let upstream_headers: Vec<(String, String)> = upstream_headers
        .into_iter()
        .filter(|(k, _)| !crate::http1::is_framing(k))
        .collect();
    let (status, headers, replaced) =
        worker.response_headers(id, status, upstream_headers, false)?;
    Ok(Outgoing {
        status,
        headers,
        body: replaced.unwrap_or(body),
    })
}
