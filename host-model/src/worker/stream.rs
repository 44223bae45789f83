//! One request on the worker: its HTTP context opened, the request and response header phases,
//! and the context closed when the response is sent or the client goes away.

use std::rc::Rc;

use tokio::sync::oneshot;

use super::{Next, SentHead, Worker};
use crate::headers::{Entry, HeaderList};
use crate::state::{LocalResponse, Step, Stream, ROOT_ID};
use crate::vm::Failure;

impl Worker {
    /// A new HTTP context for a request; `Err` when the filter cannot serve (500).
    pub fn open(self: &Rc<Self>, stream: Stream) -> Result<u32, Failure> {
        if self.vm.borrow().is_none() {
            self.boot();
        }
        let id = self.next_stream.get();
        self.next_stream.set(id.wrapping_add(1).max(ROOT_ID + 1));
        self.with_state(|s| s.streams.insert(id, stream))
            .ok_or_else(|| Failure::Trap("the filter has no running instance".into()))?;
        self.run(|vm| {
            vm.invoke::<(i32, i32), ()>(
                "proxy_on_context_create",
                id,
                Step::RequestHeaders,
                (id as i32, ROOT_ID as i32),
            )
        })?;
        Ok(id)
    }

    /// `on_request_headers` in the access phase; `end_of_stream` is always false on Kong.
    pub fn request_headers(self: &Rc<Self>, id: u32) -> Result<Next, Failure> {
        let count = self.with_state(|s| s.streams.get(&id).map(|st| st.request.live_count() + 4));
        let count = count.flatten().unwrap_or(0);
        let action = self.run(|vm| {
            vm.invoke::<(i32, i32, i32), i32>(
                "proxy_on_request_headers",
                id,
                Step::RequestHeaders,
                (id as i32, count as i32, 0),
            )
        })?;
        let next = self.with_state(|s| {
            let stream = s.streams.get_mut(&id)?;
            if let Some(local) = stream.local.take() {
                // ngx_proxy_wasm_dispatch_calls_cancel
                stream.pending_calls = 0;
                return Some(Next::Local(local));
            }
            if stream.pending_calls == 0 && (action == 0 || stream.resume_requested) {
                return Some(Next::Continue);
            }
            None
        });
        match next.flatten() {
            Some(n) => Ok(n),
            None => {
                let (tx, rx) = oneshot::channel();
                self.waiters.borrow_mut().insert(id, tx);
                Ok(Next::Wait(rx))
            }
        }
    }

    /// The request as the upstream will get it: method, raw target, every header entry.
    pub fn request_parts(&self, id: u32) -> Option<(String, String, Vec<Entry>)> {
        self.with_state(|s| {
            s.streams.get(&id).map(|st| {
                (
                    st.method.clone(),
                    st.target.clone(),
                    st.request.all().to_vec(),
                )
            })
        })
        .flatten()
    }

    /// `on_response_headers` with the response about to be sent; returns the status and the
    /// headers nginx's header filter sends (live ones).
    pub fn response_headers(
        self: &Rc<Self>,
        id: u32,
        status: u16,
        upstream: Vec<(String, String)>,
        set_mode: bool,
    ) -> Result<SentHead, Failure> {
        let count = self.with_state(|s| {
            let st = s.streams.get_mut(&id)?;
            st.status = Some(status);
            for (k, v) in upstream {
                if set_mode {
                    st.response.set(&k, &v);
                } else {
                    st.response.add(&k, &v);
                }
            }
            Some(st.response.live_count() + 1)
        });
        // The worker restarted since: this request's context died with it.
        let Some(count) = count.flatten() else {
            return Err(Failure::Crash(
                "the worker restarted while the request was upstream".into(),
            ));
        };
        self.run(|vm| {
            vm.invoke_optional::<(i32, i32, i32), i32>(
                "proxy_on_response_headers",
                id,
                Step::ResponseHeaders,
                (id as i32, count as i32, 0),
            )
        })?;
        let out = self.with_state(|s| {
            let st = s.streams.get_mut(&id)?;
            st.response_started = true;
            // A local response sent now replaces status and body only.
            let replaced = st.local.take();
            let status = replaced
                .as_ref()
                .map(|l| l.status)
                .or(st.status)
                .unwrap_or(status);
            let headers: Vec<(String, String)> = st
                .response
                .live()
                .map(|e| (e.name.clone(), e.value.clone()))
                .collect();
            Some((status, headers, replaced.map(|l| l.body)))
        });
        out.flatten()
            .ok_or_else(|| Failure::Trap("the request's context is gone".into()))
    }

    /// `on_response_body` (the whole body at once), `on_log`, `on_done`, `on_delete`.
    pub fn finish(self: &Rc<Self>, id: u32, body_len: usize, generation: u64) {
        self.waiters.borrow_mut().remove(&id);
        if generation != self.generation.get() {
            return;
        }
        let _ = self.run(|vm| {
            vm.invoke_optional::<(i32, i32, i32), i32>(
                "proxy_on_response_body",
                id,
                Step::ResponseBody,
                (id as i32, body_len as i32, 1),
            )?;
            vm.invoke_optional::<(i32,), ()>("proxy_on_log", id, Step::Log, (id as i32,))?;
            vm.invoke_optional::<(i32,), i32>("proxy_on_done", id, Step::Done, (id as i32,))?;
            vm.invoke_optional::<(i32,), ()>("proxy_on_delete", id, Step::Done, (id as i32,))
        });
        self.with_state(|s| s.streams.remove(&id));
    }

    /// Drops a request's context without callbacks (its worker crashed, or the client left).
    pub fn forget(&self, id: u32) {
        self.waiters.borrow_mut().remove(&id);
        self.with_state(|s| s.streams.remove(&id));
    }
}

/// The response list a local response leaves: its headers applied in "set" mode over the ones
/// the filter set before (ngx_http_wasm_flush_local_response).
pub fn local_response_headers(local: &LocalResponse) -> Vec<(String, String)> {
    let mut list = HeaderList::default();
    for (k, v) in &local.headers {
        list.set(k, v);
    }
    if !local.body.is_empty() && list.get("content-type").is_none() {
        list.set("Content-Type", "text/plain");
    }
    list.live()
        .map(|e| (e.name.clone(), e.value.clone()))
        .collect()
}
