//! This machine's cache, in folders only the user can read or write:
//! - `compiled/`: what this machine compiled itself, keyed by the module's
//!   digest and the engine's compatibility hash, so that a second start of
//!   an untrusted image is as fast as AOT without running anyone else's
//!   native code;
//! - `layers/`: image layers unpacked once ([`LayerStore`]), so that a
//!   start does not unpack, read back and hash the image again.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::layers::LayerStore;
use crate::RunError;

pub const CACHE_DIR_ENV: &str = "WASMPACK_CACHE_DIR";

#[derive(Debug, Clone)]
pub struct LocalCache {
    root: PathBuf,
}

impl LocalCache {
    pub fn new(root: PathBuf) -> Self {
        Self { root }
    }

    /// `$WASMPACK_CACHE_DIR`, else `$XDG_CACHE_HOME/wasmpack` (`~/.cache`);
    /// `None` when there is no home to put it in.
    pub fn default_location() -> Option<Self> {
        let root = match std::env::var_os(CACHE_DIR_ENV) {
            Some(dir) => PathBuf::from(dir),
            None => std::env::var_os("XDG_CACHE_HOME")
                .map(PathBuf::from)
                .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".cache")))?
                .join("wasmpack"),
        };
        Some(Self::new(root))
    }

    /// Where the compilation of `wasm_digest` by an engine with
    /// `engine_hash` is kept.
    pub fn compiled_entry(&self, engine_hash: &str, wasm_digest: &str) -> PathBuf {
        let name = wasm_digest.replace(':', "-");
        self.root
            .join("compiled")
            .join(engine_hash)
            .join(format!("{name}.cwasm"))
    }

    /// Stores `bytes` at `entry` atomically (a reader never sees a part),
    /// in folders only the user can read.
    pub fn store_compiled(&self, entry: &Path, bytes: &[u8]) -> Result<(), RunError> {
        let dir = entry.parent().unwrap_or(&self.root);
        let io_err = |source| RunError::Io {
            path: dir.to_path_buf(),
            source,
        };
        create_private_dir(&self.root).map_err(io_err)?;
        create_private_dir(dir).map_err(io_err)?;
        let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io_err)?;
        tmp.write_all(bytes).map_err(io_err)?;
        tmp.persist(entry).map_err(|e| io_err(e.error))?;
        Ok(())
    }

    /// The unpacked layers kept under this cache.
    pub fn layers(&self) -> LayerStore {
        LayerStore::new(self.root.join("layers"))
    }
}

pub(crate) fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_keyed_by_engine_and_module_and_written_whole() {
        let dir = tempfile::tempdir().unwrap();
        let cache = LocalCache::new(dir.path().join("cache"));
        let a = cache.compiled_entry("e1", "sha256:aa");
        assert_ne!(
            a,
            cache.compiled_entry("e2", "sha256:aa"),
            "another engine, another entry"
        );
        assert_ne!(
            a,
            cache.compiled_entry("e1", "sha256:bb"),
            "another module, another entry"
        );
        cache.store_compiled(&a, b"compiled").unwrap();
        assert_eq!(std::fs::read(&a).unwrap(), b"compiled");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("cache"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(
            mode & 0o077,
            0,
            "only the user may read or plant compiled code"
        );
        let leftovers = std::fs::read_dir(a.parent().unwrap()).unwrap().count();
        assert_eq!(leftovers, 1, "no temporary files remain");
    }
}
