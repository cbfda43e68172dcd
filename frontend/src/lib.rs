//! wasmpack's BuildKit gateway frontend, in the order a build goes through
//! it:
//!
//! - [`bridge`]: the gRPC connection to BuildKit over stdin/stdout, caps,
//!   and the options BuildKit passes.
//! - [`config`]: the build's options, read once from what BuildKit passes.
//! - [`dockerfile`]: text to typed instructions grouped in stages.
//! - [`convert`]: stages to LLB ([`llb`]) and image configs ([`image`]).
//! - [`wasm_stage`]: the wasm target's final-stage rules (scratch, one
//!   layer, a valid entrypoint module).
//! - [`solve`]: one build, start to end.
//! - [`path`]: slash paths cleaned as Go cleans them.

pub mod bridge;
pub mod config;
pub mod convert;
pub mod dockerfile;
pub mod image;
pub mod llb;
pub mod path;
pub mod solve;
pub mod wasm_stage;

/// Where the frontend binary lives in its image; build steps the frontend
/// adds (stripping) run it from there.
pub const FRONTEND_PATH: &str = "/wasmpack-frontend";
