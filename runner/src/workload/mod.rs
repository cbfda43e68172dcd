//! What to run, gathered from the user's argument ([`argument`]): a bare
//! module, a precompiled file, or an image ([`image`]) whose files become
//! the guest's root ([`rootfs`]) and whose AOT layers are its precompiled
//! artifacts ([`artifact`]).
//!
//! Pulling a reference is async; the caller owns the runtime.

mod argument;
mod artifact;
mod image;
mod rootfs;

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use wasmpack_oci::digest::sha256_digest;
use wasmpack_oci::unpack::UnpackLimits;
use wasmpack_registry::RegistryOptions;

pub use argument::Input;
pub use artifact::{AotLayer, Artifact};
pub use rootfs::{resolve_inside, Rootfs};

use crate::layers::LayerStore;
use crate::RunError;

/// The code to run.
#[derive(Debug)]
pub enum Code {
    Wasm {
        module: ModuleBytes,
        digest: String,
    },
    /// A `.cwasm` file the user named.
    Precompiled(PathBuf),
}

/// Where a module's bytes are: a stored layer's file is read only if the
/// module must be compiled.
#[derive(Debug)]
pub enum ModuleBytes {
    InMemory(Vec<u8>),
    File(PathBuf),
}

impl ModuleBytes {
    pub fn read(&self) -> Result<Cow<'_, [u8]>, RunError> {
        match self {
            ModuleBytes::InMemory(bytes) => Ok(Cow::Borrowed(bytes)),
            ModuleBytes::File(path) => {
                std::fs::read(path)
                    .map(Cow::Owned)
                    .map_err(|source| RunError::Io {
                        path: path.clone(),
                        source,
                    })
            }
        }
    }

    /// Whether the header says component (the rest is not read).
    pub fn is_component(&self) -> Result<bool, RunError> {
        let mut header = [0u8; 8];
        let len = match self {
            ModuleBytes::InMemory(bytes) => {
                let len = bytes.len().min(8);
                header[..len].copy_from_slice(&bytes[..len]);
                len
            }
            ModuleBytes::File(path) => argument::read_prefix(path, &mut header)?,
        };
        Ok(wasmparser::Parser::is_component(&header[..len]))
    }
}

/// Everything needed to start the guest.
#[derive(Debug)]
pub struct Workload {
    pub code: Code,
    /// ENTRYPOINT and CMD as Docker combines them: user arguments replace
    /// CMD. `entrypoint[0]` (else `cmd[0]`) is the module's path.
    pub entrypoint: Vec<String>,
    pub cmd: Vec<String>,
    pub env: Vec<(String, String)>,
    pub rootfs: Option<Rootfs>,
    pub aot: Vec<AotLayer>,
    /// `registry/repository` of a pulled image, for the trust list.
    pub origin: Option<String>,
}

/// Loads what `input` names (`name` picks an image in a layout or archive).
/// With a `store`, an image's layers are unpacked there once and reused;
/// layers are unpacked and read within `limits`.
/// `entrypoint` replaces an image's ENTRYPOINT and drops its CMD, as
/// `docker run --entrypoint` does; the module is then the file it names.
pub async fn load(
    input: &Input,
    name: Option<&str>,
    entrypoint: Option<&str>,
    registry: &RegistryOptions,
    store: Option<&LayerStore>,
    limits: UnpackLimits,
) -> Result<Workload, RunError> {
    if entrypoint.is_some() && matches!(input, Input::Wasm(_) | Input::Precompiled(_)) {
        return Err(RunError::EntrypointOfModule);
    }
    match input {
        Input::Wasm(path) => {
            let bytes = std::fs::read(path).map_err(|source| RunError::Io {
                path: path.clone(),
                source,
            })?;
            let (module, digest) = hashed(bytes);
            Ok(Workload::bare(Code::Wasm { module, digest }, path))
        }
        Input::Precompiled(path) => Ok(Workload::bare(Code::Precompiled(path.clone()), path)),
        Input::Image(source) => image::read(source, name, entrypoint, store, limits),
        Input::Remote(reference) => {
            image::pull(reference, registry, entrypoint, store, limits).await
        }
    }
}

impl Workload {
    /// A file run on its own: argv[0] is its name; no files, no env.
    fn bare(code: Code, path: &Path) -> Self {
        Workload {
            code,
            entrypoint: vec![file_name(path)],
            cmd: Vec::new(),
            env: Vec::new(),
            rootfs: None,
            aot: Vec::new(),
            origin: None,
        }
    }

    /// argv: ENTRYPOINT, then `args` if given, else CMD.
    pub fn argv(&self, args: &[String]) -> Vec<String> {
        let tail = if args.is_empty() { &self.cmd } else { args };
        self.entrypoint.iter().chain(tail).cloned().collect()
    }
}

fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

fn hashed(bytes: Vec<u8>) -> (ModuleBytes, String) {
    let digest = sha256_digest(&bytes);
    (ModuleBytes::InMemory(bytes), digest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_arguments_replace_cmd_as_with_docker() {
        let workload = Workload {
            entrypoint: vec!["/hello.wasm".into()],
            cmd: vec!["--default".into()],
            ..Workload::bare(Code::Precompiled(PathBuf::new()), Path::new("x"))
        };
        assert_eq!(workload.argv(&[]), ["/hello.wasm", "--default"]);
        assert_eq!(workload.argv(&["x".into()]), ["/hello.wasm", "x"]);
    }
}
