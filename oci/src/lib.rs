//! wasmpack's OCI image model: digests and blobs, reproducible layers,
//! images and the CNCF wasm artifact form, image names, OCI layouts and
//! archives, safe unpacking, and what `inspect` reports.
//!
//! Nothing here talks to a network: registries are `wasmpack-registry`'s.

pub mod digest;
pub mod image;
pub mod inspect;
pub mod layer;
pub mod layout;
pub mod name;
pub mod unpack;
