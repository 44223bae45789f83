//! One nginx worker: its own VM (instance + root context), ticks, dispatched calls, and what
//! happens when the filter traps (the instance is replaced, the request gets 500) or does what
//! crashes the real worker (the VM is dropped with every request on it, and "nginx" respawns it).

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;
use wasmtime::{Engine, Linker, Module};

use crate::call_client;
use crate::headers::{Entry, HeaderList};
use crate::logger::{Level, Logger};
use crate::options::Options;
use crate::shared_kv::SharedKv;
use crate::state::{CallResponse, HostState, LocalResponse, NewCall, Step, Stream, ROOT_ID};
use crate::vm::{Failure, Vm};

/// Status, headers and (when a local response replaced it) the body of a response.
pub type SentHead = (u16, Vec<(String, String)>, Option<Vec<u8>>);

/// What a paused request is woken with.
pub enum Resume {
    Continue,
    Local(LocalResponse),
    Failed(Failure),
}

/// What comes after `on_request_headers`.
pub enum Next {
    Continue,
    Local(LocalResponse),
    Wait(oneshot::Receiver<Resume>),
}

pub struct Worker {
    pub index: usize,
    engine: Engine,
    module: Module,
    linker: Rc<Linker<HostState>>,
    pub options: Arc<Options>,
    shared: Arc<SharedKv>,
    pub log: Rc<Logger>,
    vm: RefCell<Option<Vm>>,
    generation: Cell<u64>,
    next_stream: Cell<u32>,
    waiters: RefCell<HashMap<u32, oneshot::Sender<Resume>>>,
}

impl Worker {
    pub fn new(
        index: usize,
        engine: Engine,
        module: Module,
        linker: Rc<Linker<HostState>>,
        options: Arc<Options>,
        shared: Arc<SharedKv>,
    ) -> Rc<Self> {
        let log = Rc::new(Logger {
            worker: index,
            min: if options.debug {
                Level::Debug
            } else {
                Level::Info
            },
        });
        Rc::new(Self {
            index,
            engine,
            module,
            linker,
            options,
            shared,
            log,
            vm: RefCell::new(None),
            generation: Cell::new(0),
            next_stream: Cell::new(ROOT_ID + 1),
            waiters: RefCell::new(HashMap::new()),
        })
    }

    pub fn generation(&self) -> u64 {
        self.generation.get()
    }

    /// Creates the instance and its root context, as a (re)started worker does.
    pub fn boot(self: &Rc<Self>) {
        let generation = self.generation.get() + 1;
        self.generation.set(generation);
        let state = HostState::new(
            self.index,
            self.options.clone(),
            self.shared.clone(),
            self.log.clone(),
        );
        match Vm::start(&self.engine, &self.module, &self.linker, state) {
            Ok(vm) => {
                *self.vm.borrow_mut() = Some(vm);
                self.log.log(
                    Level::Info,
                    "filter instance started (root context configured)",
                );
                self.spawn_new_calls();
                let me = self.clone();
                tokio::task::spawn_local(async move { me.tick_loop(generation).await });
            }
            Err(failure) => {
                *self.vm.borrow_mut() = None;
                self.log.log(
                    Level::Error,
                    &format!("filter failed to start, requests get 500: {failure}"),
                );
            }
        }
    }

    async fn tick_loop(self: Rc<Self>, generation: u64) {
        loop {
            let period = self
                .vm
                .borrow()
                .as_ref()
                .and_then(|vm| vm.store.data().tick_period);
            tokio::time::sleep(period.unwrap_or(Duration::from_millis(50))).await;
            if self.generation.get() != generation {
                return;
            }
            if period.is_some() {
                let _ = self.run(|vm| {
                    vm.invoke::<(i32,), ()>("proxy_on_tick", ROOT_ID, Step::Tick, (ROOT_ID as i32,))
                });
            }
        }
    }

    /// Runs one call into the filter, then does what the host does after it: sends the calls it
    /// dispatched, or handles a trap or a crash.
    fn run<R>(
        self: &Rc<Self>,
        f: impl FnOnce(&mut Vm) -> Result<R, Failure>,
    ) -> Result<R, Failure> {
        let outcome = {
            let mut slot = self.vm.borrow_mut();
            match slot.as_mut() {
                Some(vm) => f(vm),
                None => Err(Failure::Trap("the filter has no running instance".into())),
            }
        };
        match &outcome {
            Ok(_) => self.spawn_new_calls(),
            Err(Failure::Crash(why)) => {
                self.log.log(
                    Level::Crit,
                    &format!(
                        "MODELLED WORKER CRASH (the real worker gets SIGSEGV here): {why}; \
                         every request on this worker is dropped and the worker restarts"
                    ),
                );
                self.replace_instance(Failure::Crash(why.clone()));
            }
            Err(Failure::Trap(why)) => {
                self.log
                    .log(Level::Error, &format!("filter trapped: {why}"));
                self.replace_instance(Failure::Trap(why.clone()));
            }
        }
        outcome
    }

    fn replace_instance(self: &Rc<Self>, failure: Failure) {
        if self.vm.borrow().is_none() {
            return;
        }
        *self.vm.borrow_mut() = None;
        let waiters: Vec<_> = self.waiters.borrow_mut().drain().collect();
        for (_, tx) in waiters {
            let _ = tx.send(Resume::Failed(failure.clone()));
        }
        self.boot();
    }

    fn spawn_new_calls(self: &Rc<Self>) {
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

    fn with_state<T>(&self, f: impl FnOnce(&mut HostState) -> T) -> Option<T> {
        self.vm
            .borrow_mut()
            .as_mut()
            .map(|vm| f(vm.store.data_mut()))
    }

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
