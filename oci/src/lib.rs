//! wasmpack's OCI image model: digests and blobs, reproducible layers,
//! images and the CNCF wasm artifact form, layers as read (descriptor and
//! content state), image names and platforms, OCI layouts and archives,
//! safe unpacking, and what `inspect` reports.
//!
//! Nothing here talks to a network: registries are `wasmpack-registry`'s.

pub mod digest;
pub mod image;
pub mod image_layer;
pub mod inspect;
pub mod key_value;
pub mod layer;
pub mod layout;
pub mod name;
pub mod platform;
pub mod unpack;
