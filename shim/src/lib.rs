//! `containerd-shim-wasmpack-v1`: runs wasm images under containerd
//! (Docker's `--runtime=io.containerd.wasmpack.v1`, Kubernetes'
//! RuntimeClass) on runwasi's containerd-shim-wasm, with the runner's
//! selection, trust, cache and WASI execution.
//!
//! The work is split where the code runs: [`prepare`] on the host, in
//! `shim start` (containerd-shim-wasm's instance type cannot be wrapped, so
//! the bundle is prepared before the shim serves it); [`sandbox`] in the
//! container; [`handover`] is what passes between them; [`bundle`] reads
//! and amends the runtime spec; [`stop`] turns SIGTERM into a stopped guest.

pub mod bundle;
pub mod handover;
pub mod prepare;
pub mod sandbox;
pub mod start;
pub mod stop;
