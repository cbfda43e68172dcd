//! wasmpack's packager: wasm validation and stripping, reproducible OCI
//! images and artifacts, OCI layouts and archives, and registry transfer.

pub mod digest;
pub mod image;
pub mod inspect;
pub mod layer;
pub mod layout;
pub mod registry;
pub mod unpack;
pub mod wasm;
