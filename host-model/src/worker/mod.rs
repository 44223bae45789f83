//! One nginx worker: its own VM (instance + root context), ticks, dispatched calls, and what
//! happens when the filter traps (the instance is replaced, the request gets 500) or does what
//! crashes the real worker (the VM is dropped with every request on it, and "nginx" respawns it).

mod calls;
mod stream;

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;
use wasmtime::{Engine, Linker, Module};

use crate::logger::{Level, Logger};
use crate::options::Options;
use crate::shared_kv::SharedKv;
use crate::state::{HostState, LocalResponse, Step, ROOT_ID};
use crate::vm::{Failure, Vm};

pub use stream::local_response_headers;

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

    fn with_state<T>(&self, f: impl FnOnce(&mut HostState) -> T) -> Option<T> {
        self.vm
            .borrow_mut()
            .as_mut()
            .map(|vm| f(vm.store.data_mut()))
    }
}
