//! One instance of the filter (one nginx worker's VM): instantiation, the root context's start,
//! and every call into the filter with the step the host is in.

use anyhow::Context as _;
use wasmtime::{Engine, Instance, Linker, Module, Store, WasmParams, WasmResults};

use crate::state::{HostState, Step, ROOT_ID};

/// How a call into the filter went wrong.
#[derive(Debug, Clone)]
pub enum Failure {
    /// The filter trapped (a panic, or a host trap): the real host fails the request with 500
    /// and replaces the instance.
    Trap(String),
    /// The real host's worker process would have crashed here.
    Crash(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Trap(m) => write!(f, "trap: {m}"),
            Failure::Crash(m) => write!(f, "worker crash: {m}"),
        }
    }
}

pub struct Vm {
    pub store: Store<HostState>,
    instance: Instance,
}

impl Vm {
    /// Instantiates the module and starts the root context: `on_context_create`, `on_vm_start`,
    /// `on_configure` (ngx_proxy_wasm_create_context).
    pub fn start(
        engine: &Engine,
        module: &Module,
        linker: &Linker<HostState>,
        state: HostState,
    ) -> Result<Vm, Failure> {
        let mut store = Store::new(engine, state);
        // An engine that meters fuel (examples/guest_cost.rs counts instructions) starts with
        // all of it; on any other engine this is refused and changes nothing.
        let _ = store.set_fuel(u64::MAX);
        let instance = linker
            .instantiate(&mut store, module)
            .context("instantiating the filter")
            .map_err(|e| Failure::Trap(format!("{e:#}")))?;
        let mut vm = Vm { store, instance };
        for init in ["_initialize", "_start"] {
            if vm.has(init) {
                vm.invoke::<(), ()>(init, ROOT_ID, Step::VmStart, ())?;
                break;
            }
        }
        vm.invoke::<(i32, i32), ()>(
            "proxy_on_context_create",
            ROOT_ID,
            Step::VmStart,
            (ROOT_ID as i32, 0),
        )?;
        let started = vm.invoke::<(i32, i32), i32>(
            "proxy_on_vm_start",
            ROOT_ID,
            Step::VmStart,
            (ROOT_ID as i32, 0),
        )?;
        if started == 0 {
            return Err(Failure::Trap(
                "failed initializing the VM (on_vm_start returned false)".into(),
            ));
        }
        let size = vm.store.data().options.filter_config.len() as i32;
        let configured = vm.invoke::<(i32, i32), i32>(
            "proxy_on_configure",
            ROOT_ID,
            Step::Configure,
            (ROOT_ID as i32, size),
        )?;
        if configured == 0 {
            return Err(Failure::Trap(
                "failed configuring the root context (on_configure returned false)".into(),
            ));
        }
        Ok(vm)
    }

    /// The size of the filter's linear memory (its `memory` export), in bytes.
    pub fn memory_bytes(&mut self) -> Option<usize> {
        let memory = self.instance.get_memory(&mut self.store, "memory")?;
        Some(memory.data_size(&self.store))
    }

    pub fn has(&mut self, name: &str) -> bool {
        self.instance.get_func(&mut self.store, name).is_some()
    }

    /// Calls export `name` as context `context` in `step`.
    pub fn invoke<P: WasmParams, R: WasmResults>(
        &mut self,
        name: &str,
        context: u32,
        step: Step,
        args: P,
    ) -> Result<R, Failure> {
        let func = self
            .instance
            .get_typed_func::<P, R>(&mut self.store, name)
            .map_err(|e| Failure::Trap(format!("{name}: {e:#}")))?;
        let state = self.store.data_mut();
        state.context_id = context;
        state.step = step;
        let result = func.call(&mut self.store, args);
        result.map_err(|e| match self.store.data_mut().fault.take() {
            Some(fault) => Failure::Crash(fault),
            None => Failure::Trap(format!("{name}: {e:?}")),
        })
    }

    /// Like `invoke`, for callbacks a filter may lack (the host skips them).
    pub fn invoke_optional<P: WasmParams, R: WasmResults + Default>(
        &mut self,
        name: &str,
        context: u32,
        step: Step,
        args: P,
    ) -> Result<R, Failure> {
        if self.has(name) {
            self.invoke(name, context, step, args)
        } else {
            Ok(R::default())
        }
    }
}
