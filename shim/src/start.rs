//! The shim binary's entry: `start` prepares the bundle, then every
//! invocation is containerd-shim-wasm's.

use std::path::PathBuf;

use containerd_shim_wasm::shim::{Cli, Config};
use wasmpack_runner::LocalCache;

use crate::prepare::{prepare_bundle, CACHE_DIR};
use crate::sandbox::WasmpackShim;

pub fn main() {
    if let Some(bundle) = bundle_being_started() {
        // Failing here fails the container: a spec that keeps a forged
        // handover must not run.
        if let Err(error) = prepare_bundle(&bundle, &LocalCache::new(CACHE_DIR.into())) {
            eprintln!("wasmpack: preparing {}: {error}", bundle.display());
            std::process::exit(1);
        }
    }
    WasmpackShim::run(Config::default());
}

/// containerd runs `shim ... -id ID start` in the container's bundle; the
/// folder must be named after the container, as containerd names bundles.
fn bundle_being_started() -> Option<PathBuf> {
    let args: Vec<_> = std::env::args_os().skip(1).collect();
    let flags = containerd_shim::parse(&args).ok()?;
    let cwd = std::env::current_dir().ok()?;
    (flags.action == "start" && !flags.id.is_empty() && cwd.file_name()? == flags.id.as_str())
        .then_some(cwd)
}
