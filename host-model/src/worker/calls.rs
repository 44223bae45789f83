//! The calls the filter dispatched: sent on the worker's runtime, answered through
//! `on_http_call_response`, then the request they belong to resumed (or answered locally).

use std::rc::Rc;

use super::{Resume, Worker};
use crate::call_client;
use crate::state::{CallResponse, NewCall, Step, ROOT_ID};

impl Worker {
    pub(super) fn spawn_new_calls(self: &Rc<Self>) {
        let calls = match self.vm.borrow_mut().as_mut() {
            Some(vm) => std::mem::take(&mut vm.store.data_mut().new_calls),
            None => return,
        };
        for call in calls {
            let me = self.clone();
            let generation = self.generation.get();
            tokio::task::spawn_local(async move {
                let response = call_client::send(&call).await;
                me.deliver(generation, &call, response);
            });
        }
    }

    /// `on_http_call_response`, then (for a request) what the host does next: a stashed local
    /// response is sent; when the request's last call is answered the request goes on, whether
    /// or not the filter resumed it (ngx_http_proxy_wasm_dispatch_resume_handler).
    fn deliver(self: &Rc<Self>, generation: u64, call: &NewCall, response: CallResponse) {
        if generation != self.generation.get() {
            return;
        }
        let root = call.context_id == ROOT_ID;
        let Some(n_headers) = self.prepare_call_response(call, response) else {
            return;
        };
        let body_len =
            self.with_state(|s| s.call_response.as_ref().map(|r| r.body.len()).unwrap_or(0));
        let result = self.run(|vm| {
            vm.invoke::<(i32, i32, i32, i32, i32), ()>(
                "proxy_on_http_call_response",
                call.context_id,
                Step::DispatchResponse { root },
                (
                    call.context_id as i32,
                    call.token as i32,
                    n_headers as i32,
                    body_len.unwrap_or(0) as i32,
                    0,
                ),
            )
        });
        self.with_state(|s| s.call_response = None);
        if root || result.is_err() {
            return;
        }
        let next = self.with_state(|s| {
            let stream = s.streams.get_mut(&call.context_id)?;
            stream.pending_calls = stream.pending_calls.saturating_sub(1);
            if let Some(local) = stream.local.take() {
                stream.pending_calls = 0;
                return Some(Resume::Local(local));
            }
            (stream.pending_calls == 0).then_some(Resume::Continue)
        });
        if let Some(Some(next)) = next {
            if let Some(tx) = self.waiters.borrow_mut().remove(&call.context_id) {
                let _ = tx.send(next);
            }
        }
    }

    /// Stores the call's answer for the callback; `None` when the request it belongs to is gone
    /// or already answered (its pending calls were cancelled).
    fn prepare_call_response(&self, call: &NewCall, response: CallResponse) -> Option<usize> {
        let mut n = response.headers.len() + 1;
        if response.status.is_some() {
            n += 1;
        }
        let alive = self.with_state(|s| {
            if call.context_id != ROOT_ID {
                let stream = s.streams.get(&call.context_id)?;
                if stream.pending_calls == 0 {
                    return None;
                }
            }
            s.call_response = Some(response);
            Some(())
        });
        alive.flatten().map(|_| n)
    }
}
