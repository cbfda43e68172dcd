//! The container side: containerd-shim-wasm runs this in the container's
//! init process, after pivot_root into the image's root. It loads the code
//! the host side mounted, or compiles the module when there is none (or it
//! does not load), and runs it through the runner's WASI execution.

use anyhow::Context;
use containerd_shim_wasm::sandbox::context::RuntimeContext;
use containerd_shim_wasm::sandbox::Sandbox;
use containerd_shim_wasm::shim::{version, Shim, Version};
use wasmpack_oci::digest::sha256_digest;
use wasmpack_runner::{one_line, ModuleBytes, Prepared, RunError, RunOptions, Runner, TrustPolicy};

use crate::handover::{code_is_mounted, guest_env, Handover, CODE_MOUNT};
use crate::stop::{stop_guest_on_signals, stopped_exit_code};

pub struct WasmpackShim;

impl Shim for WasmpackShim {
    /// The runtime is `io.containerd.wasmpack.v1`.
    fn name() -> &'static str {
        "wasmpack"
    }

    fn version() -> Version {
        version!()
    }

    type Sandbox = WasmpackSandbox;
}

#[derive(Default)]
pub struct WasmpackSandbox;

impl Sandbox for WasmpackSandbox {
    async fn run_wasi(&self, ctx: &impl RuntimeContext) -> anyhow::Result<i32> {
        // Only the host side mounts code, and it chose it under the
        // operator's trust; nothing else precompiled is offered here.
        let policy = TrustPolicy {
            trust_all: true,
            trusted: Vec::new(),
        };
        let runner = Runner::new(policy, None)?;
        let handover = Handover::from_env(ctx.envs()).unwrap_or_default();
        let prepared = prepare(&runner, ctx, &handover)?;
        stop_guest_on_signals(runner.engine()).context("handling SIGTERM")?;
        let options = RunOptions {
            args: ctx.args().to_vec(),
            env: guest_env(ctx.envs()),
            // The container's root, writable as in any container.
            dirs: vec![("/".into(), "/".into())],
            ..RunOptions::default()
        };
        // wasmtime-wasi's blocking calls run their own tokio runtime, which
        // cannot start on the shim's runtime thread: the guest gets a thread.
        let result =
            std::thread::scope(|scope| scope.spawn(|| runner.run(&prepared, &options)).join());
        let result = result.map_err(|_| anyhow::anyhow!("the guest's thread panicked"))?;
        match result {
            Ok(code) => Ok(code),
            Err(RunError::Interrupted) => Ok(stopped_exit_code()),
            Err(error) => match error.guest_exit_code() {
                Some(code) => {
                    eprintln!("wasmpack: {}", one_line(&error));
                    Ok(i32::from(code))
                }
                None => Err(error.into()),
            },
        }
    }
}

/// The mounted code if it loads, else a compilation of the module; the
/// decision on stderr as the handover asks.
fn prepare(
    runner: &Runner,
    ctx: &impl RuntimeContext,
    handover: &Handover,
) -> anyhow::Result<Prepared> {
    let mut said = handover.clone();
    let prepared = match code_is_mounted().then(|| runner.load_precompiled(CODE_MOUNT.as_ref())) {
        Some(Ok(prepared)) => prepared,
        loaded => {
            if let Some(Err(error)) = loaded {
                // A version or engine mismatch: still run, just slower.
                said.warnings.push(format!(
                    "the host side's code does not load ({}); compiling the module",
                    one_line(&error)
                ));
            } else if !handover.taken.starts_with("compiling") {
                said.taken = "compiling in the container".into();
                said.notes.push("no code from the host side".into());
            }
            let bytes = ctx
                .entrypoint()
                .source
                .as_bytes()
                .context("reading the module")?;
            let digest = sha256_digest(&bytes);
            runner.prepare_wasm(
                &ModuleBytes::InMemory(bytes.into_owned()),
                &digest,
                &[],
                None,
            )?
        }
    };
    for line in said.messages() {
        eprintln!("{line}");
    }
    Ok(prepared)
}
