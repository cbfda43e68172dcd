//! The containerd shim as the end-to-end tests drive it: `docker run
//! --runtime=io.containerd.wasmpack.v1` on the engine of scripts/docker-engine,
//! with the shim scripts/shim installs.

use std::path::Path;
use std::process::Output;

use super::engine::{docker, repo, stderr};

pub const RUNTIME: &str = "--runtime=io.containerd.wasmpack.v1";
pub const SHIM: &str = "/usr/local/bin/containerd-shim-wasmpack-v1";
/// The annotation by which the operator trusts an image's AOT artifact.
pub const TRUST: &str = "dev.wasmpack.trust-aot=true";
/// The annotation that puts the shim's decision on the container's stderr.
pub const VERBOSE: &str = "dev.wasmpack.verbose=true";
/// The host's network namespace: Docker then adds no OCI hook, which
/// runwasi's libcontainer 0.6 races on under load (see the README's shim
/// section). WASI preview1 guests have no sockets, so it gives them nothing.
pub const NETWORK: [&str; 2] = ["--network", "host"];

pub fn require_shim() {
    assert!(
        Path::new(SHIM).is_file(),
        "{SHIM} is missing: run scripts/shim install (scripts/test does)"
    );
}

/// `docker run --rm` of `image` under our shim, with `options` before the
/// image and `args` after it.
pub fn run(image: &str, options: &[&str], args: &[&str]) -> Output {
    require_shim();
    let mut all = vec![
        "run",
        "--rm",
        RUNTIME,
        "--platform",
        "wasi/wasm",
        "--annotation",
        VERBOSE,
        NETWORK[0],
        NETWORK[1],
    ];
    all.extend_from_slice(options);
    all.push(image);
    all.extend_from_slice(args);
    docker(&all, &repo())
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The shim's decision line (`wasmpack: image AOT`, ...).
pub fn decision(out: &Output) -> String {
    let err = stderr(out);
    let taken = [
        "image AOT",
        "cache hit",
        "compiled and cached",
        "compiling in the container",
    ];
    err.lines()
        .filter_map(|l| l.strip_prefix("wasmpack: "))
        .find(|l| taken.contains(l))
        .unwrap_or_else(|| panic!("no decision on stderr:\n{err}"))
        .to_string()
}
