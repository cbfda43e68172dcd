//! Running a compiled module or component under WASI, with the limits the
//! user asked for.

use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;

use wasmtime::component::{Component, Linker as ComponentLinker, ResourceTable};
use wasmtime::{Engine, Linker, Module, ResourceLimiter, Store, Trap};
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::p2::bindings::sync::Command;
use wasmtime_wasi::{FsPerms, I32Exit, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use crate::RunError;

/// Compiled code ready to instantiate.
pub enum Program {
    Module(Module),
    Component(Component),
}

/// What the guest sees and may use.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// argv, `argv[0]` first.
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    /// The image's files, preopened read-only as `/`.
    pub rootfs: Option<PathBuf>,
    /// Host folders preopened read-write, `(host, guest)`.
    pub dirs: Vec<(PathBuf, String)>,
    /// Linear memory, in bytes, per memory.
    pub max_memory: Option<usize>,
    pub timeout: Option<Duration>,
}

/// Runs `program` to its end and returns the guest's exit code.
pub fn run(engine: &Engine, program: &Program, options: &RunOptions) -> Result<i32, RunError> {
    let mut wasi = WasiCtxBuilder::new();
    wasi.inherit_stdio().args(&options.args).envs(&options.env);
    if let Some(rootfs) = &options.rootfs {
        wasi.preopened_dir(rootfs, "/", FsPerms::ReadOnly)
            .map_err(|e| RunError::Preopen {
                path: rootfs.clone(),
                source: e.into(),
            })?;
    }
    for (host, guest) in &options.dirs {
        wasi.preopened_dir(host, guest, FsPerms::ReadWrite)
            .map_err(|e| RunError::Preopen {
                path: host.clone(),
                source: e.into(),
            })?;
    }
    let limits = MemoryLimit {
        max: options.max_memory,
        exceeded: None,
    };
    let _timer = options
        .timeout
        .map(|timeout| EpochTimer::start(engine, timeout));
    let (result, exceeded) = match program {
        Program::Module(module) => {
            let state = ModuleState {
                wasi: wasi.build_p1(),
                limits,
            };
            let mut store = new_store(engine, state);
            let result = run_module(engine, module, &mut store);
            (result, store.data().limits.exceeded)
        }
        Program::Component(component) => {
            let state = ComponentState {
                ctx: wasi.build(),
                table: ResourceTable::new(),
                limits,
            };
            let mut store = new_store(engine, state);
            let result = run_component(engine, component, &mut store);
            (result, store.data().limits.exceeded)
        }
    };
    result.or_else(|error| exit_code_of(error, exceeded, options))
}

fn new_store<T: HasLimits + 'static>(engine: &Engine, state: T) -> Store<T> {
    let mut store = Store::new(engine, state);
    store.limiter(|state| state.limits());
    // Every engine here has epoch interruption on (shared with the AOT
    // artifacts). The epoch moves only to stop the guest (the timeout, or
    // whoever holds the engine), so the first tick ends it.
    store.set_epoch_deadline(1);
    store
}

fn run_module(
    engine: &Engine,
    module: &Module,
    store: &mut Store<ModuleState>,
) -> wasmtime::Result<i32> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p1::add_to_linker_sync(&mut linker, |state: &mut ModuleState| &mut state.wasi)?;
    let instance = linker.instantiate(&mut *store, module)?;
    let start = instance
        .get_typed_func::<(), ()>(&mut *store, "_start")
        .map_err(|_| {
            wasmtime::format_err!("the module exports no _start function (not a WASI command)")
        })?;
    start.call(&mut *store, ())?;
    Ok(0)
}

fn run_component(
    engine: &Engine,
    component: &Component,
    store: &mut Store<ComponentState>,
) -> wasmtime::Result<i32> {
    let mut linker = ComponentLinker::new(engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
    let command = Command::instantiate(&mut *store, component, &linker)?;
    Ok(match command.wasi_cli_run().call_run(&mut *store)? {
        Ok(()) => 0,
        Err(()) => 1,
    })
}

/// `proc_exit` is an error on the Rust side but a normal end for the guest.
fn exit_code_of(
    error: wasmtime::Error,
    exceeded: Option<usize>,
    options: &RunOptions,
) -> Result<i32, RunError> {
    if let Some(exit) = error.downcast_ref::<I32Exit>() {
        return Ok(exit.0);
    }
    if let (Some(desired), Some(max)) = (exceeded, options.max_memory) {
        return Err(RunError::MemoryLimit { desired, max });
    }
    if let Some(Trap::Interrupt) = error.downcast_ref::<Trap>() {
        return Err(options
            .timeout
            .map_or(RunError::Interrupted, RunError::Timeout));
    }
    Err(RunError::Guest(error.into()))
}

struct ModuleState {
    wasi: WasiP1Ctx,
    limits: MemoryLimit,
}

struct ComponentState {
    ctx: WasiCtx,
    table: ResourceTable,
    limits: MemoryLimit,
}

impl WasiView for ComponentState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.ctx,
            table: &mut self.table,
        }
    }
}

trait HasLimits: Send {
    fn limits(&mut self) -> &mut dyn ResourceLimiter;
}

impl HasLimits for ModuleState {
    fn limits(&mut self) -> &mut dyn ResourceLimiter {
        &mut self.limits
    }
}

impl HasLimits for ComponentState {
    fn limits(&mut self) -> &mut dyn ResourceLimiter {
        &mut self.limits
    }
}

/// `--max-memory`: growing a memory past it traps (rather than letting
/// `memory.grow` return -1, which most guests turn into an obscure abort),
/// and the attempt is remembered so the error can say so.
struct MemoryLimit {
    max: Option<usize>,
    exceeded: Option<usize>,
}

impl ResourceLimiter for MemoryLimit {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if self.max.is_some_and(|max| desired > max) {
            self.exceeded = Some(desired);
            wasmtime::bail!("memory limit reached");
        }
        Ok(maximum.is_none_or(|maximum| desired <= maximum))
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(maximum.is_none_or(|maximum| desired <= maximum))
    }
}

/// Advances the engine's epoch once `timeout` has passed, which interrupts
/// the guest at its next loop header or call; dropping it cancels.
struct EpochTimer {
    _cancel: mpsc::Sender<()>,
}

impl EpochTimer {
    fn start(engine: &Engine, timeout: Duration) -> Self {
        let (cancel, cancelled) = mpsc::channel::<()>();
        let engine = engine.clone();
        std::thread::spawn(move || {
            if let Err(mpsc::RecvTimeoutError::Timeout) = cancelled.recv_timeout(timeout) {
                engine.increment_epoch();
            }
        });
        Self { _cancel: cancel }
    }
}
