//! The image's files as the guest's root: a single file layer from the
//! layer store (unpacked there once), else every file layer unpacked, with
//! the packager's safe unpacking, into a folder for this run. Image paths
//! are resolved inside that root, never out of it.

use std::path::{Path, PathBuf};

use tempfile::TempDir;
use wasmpack_oci::image_layer::ImageLayer;
use wasmpack_oci::unpack::{unpack_layers, UnpackLimits};

use super::{hashed, ModuleBytes};
use crate::layers::{verified, LayerStore};
use crate::RunError;

/// The folder the guest sees as `/`.
#[derive(Debug)]
pub enum Rootfs {
    /// Unpacked for this run; deleted with the workload.
    Temporary(TempDir),
    /// A layer kept in the local cache, shared read-only.
    Stored(PathBuf),
}

impl Rootfs {
    pub fn path(&self) -> &Path {
        match self {
            Rootfs::Temporary(dir) => dir.path(),
            Rootfs::Stored(path) => path,
        }
    }
}

/// The root made of the image's file `layers`, and the module at
/// `module_path` in it with its digest; unpacked within `limits`.
pub(super) fn unpack(
    layers: &[ImageLayer],
    module_path: &str,
    store: Option<&LayerStore>,
    limits: UnpackLimits,
) -> Result<(Rootfs, ModuleBytes, String), RunError> {
    if let (Some(store), [layer]) = (store, layers) {
        let stored = store.get(layer, limits)?;
        let (module, digest) = match stored.file_digest(module_path) {
            Some(digest) => (
                ModuleBytes::File(resolve_inside(&stored.rootfs, module_path)?),
                digest.to_string(),
            ),
            // A symlinked entrypoint: resolved and hashed now.
            None => hashed(read_inside(&stored.rootfs, module_path)?),
        };
        return Ok((Rootfs::Stored(stored.rootfs), module, digest));
    }
    let dir = tempfile::Builder::new()
        .prefix("wasmpack-run-")
        .tempdir()
        .map_err(|source| RunError::Io {
            path: std::env::temp_dir(),
            source,
        })?;
    let blobs = layers.iter().map(verified).collect::<Result<Vec<_>, _>>()?;
    unpack_layers(blobs, dir.path(), limits)?;
    let (module, digest) = hashed(read_inside(dir.path(), module_path)?);
    Ok((Rootfs::Temporary(dir), module, digest))
}

/// Reads the image file at `path` without following anything out of the
/// unpacked root (a symlinked entrypoint must stay inside it).
fn read_inside(root: &Path, path: &str) -> Result<Vec<u8>, RunError> {
    let resolved = resolve_inside(root, path)?;
    std::fs::read(&resolved).map_err(|source| RunError::Entrypoint {
        path: path.to_string(),
        source,
    })
}

/// Where the image file `path` is under `root`, refusing anything that
/// resolves outside it.
pub fn resolve_inside(root: &Path, path: &str) -> Result<PathBuf, RunError> {
    let root = root.canonicalize().map_err(|source| RunError::Io {
        path: root.to_path_buf(),
        source,
    })?;
    let resolved = root
        .join(path.trim_start_matches('/'))
        .canonicalize()
        .map_err(|source| RunError::NotInImage {
            path: path.to_string(),
            source,
        })?;
    if !resolved.starts_with(&root) {
        return Err(RunError::OutsideImage {
            path: path.to_string(),
        });
    }
    Ok(resolved)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_entrypoint_cannot_point_outside_the_image() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        std::fs::create_dir(&root).unwrap();
        std::fs::write(dir.path().join("secret"), b"host file").unwrap();
        std::os::unix::fs::symlink("../secret", root.join("hello.wasm")).unwrap();
        let err = read_inside(&root, "/hello.wasm").unwrap_err();
        assert!(err.to_string().contains("outside the image"), "{err}");
        let err = read_inside(&root, "/../secret").unwrap_err();
        assert!(err.to_string().contains("outside the image"), "{err}");
        assert!(read_inside(&root, "/missing.wasm")
            .unwrap_err()
            .to_string()
            .contains("not in the image"));
    }
}
