//! This machine's cache, in folders only the user can read or write:
//! - `compiled/`: what this machine compiled itself, keyed by the module's
//!   digest and the engine's compatibility hash, so that a second start of
//!   an untrusted image is as fast as AOT without running anyone else's
//!   native code;
//! - `layers/`: image layers unpacked once ([`LayerStore`]), so that a
//!   start does not unpack, read back and hash the image again.

use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::layers::LayerStore;
use crate::RunError;

pub const CACHE_DIR_ENV: &str = "WASMPACK_CACHE_DIR";

/// Why a compiled entry is not loaded. Its path is predictable, so the
/// entry is trusted by who can have written it, never by where it is.
#[derive(Debug, thiserror::Error)]
pub enum UntrustedEntry {
    #[error("{path} is owned by uid {owner}, not by this user (uid {user})")]
    Owner {
        path: PathBuf,
        owner: u32,
        user: u32,
    },
    #[error("{path} is writable by others than its owner (mode {mode:o})")]
    Writable { path: PathBuf, mode: u32 },
    #[error("{path} is a link or a special file")]
    Kind { path: PathBuf },
    #[error("{path} is outside the cache")]
    Outside { path: PathBuf },
    #[error("{path}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

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

    /// Checks that `entry` and every folder from the cache's root down to it
    /// are this user's, that nobody else can write them and that none is a
    /// link: otherwise another user could plant native code that would run
    /// as a cache hit.
    pub fn check_entry(&self, entry: &Path) -> Result<(), UntrustedEntry> {
        let relative = entry
            .strip_prefix(&self.root)
            .map_err(|_| UntrustedEntry::Outside {
                path: entry.to_path_buf(),
            })?;
        // SAFETY: geteuid has no preconditions and cannot fail.
        let user = unsafe { libc::geteuid() };
        let mut paths = vec![self.root.clone()];
        for component in relative.components() {
            let next = paths.last().unwrap_or(&self.root).join(component);
            paths.push(next);
        }
        let entry_index = paths.len() - 1;
        for (index, path) in paths.into_iter().enumerate() {
            let meta = std::fs::symlink_metadata(&path).map_err(|source| UntrustedEntry::Io {
                path: path.clone(),
                source,
            })?;
            let kind = meta.file_type();
            let kind_ok = if index == entry_index {
                kind.is_file()
            } else {
                kind.is_dir()
            };
            if !kind_ok {
                return Err(UntrustedEntry::Kind { path });
            }
            if meta.uid() != user {
                let owner = meta.uid();
                return Err(UntrustedEntry::Owner { path, owner, user });
            }
            if meta.mode() & 0o022 != 0 {
                let mode = meta.mode() & 0o7777;
                return Err(UntrustedEntry::Writable { path, mode });
            }
        }
        Ok(())
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

    #[test]
    fn entries_others_could_have_written_are_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let cache = LocalCache::new(dir.path().join("cache"));
        let entry = cache.compiled_entry("e1", "sha256:aa");
        cache.store_compiled(&entry, b"compiled").unwrap();
        cache.check_entry(&entry).unwrap();
        let chmod = |path: &Path, mode| {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap()
        };

        let folder = entry.parent().unwrap();
        chmod(folder, 0o777);
        let err = cache.check_entry(&entry).unwrap_err();
        assert!(
            matches!(&err, UntrustedEntry::Writable { path, .. } if path == folder),
            "{err}"
        );
        chmod(folder, 0o700);

        chmod(&entry, 0o666);
        let err = cache.check_entry(&entry).unwrap_err();
        assert!(
            matches!(&err, UntrustedEntry::Writable { path, .. } if path == &entry),
            "{err}"
        );
        assert!(err.to_string().contains("mode 666"), "{err}");
        chmod(&entry, 0o600);

        // A planted link to code elsewhere is not an entry.
        let elsewhere = dir.path().join("planted.cwasm");
        std::fs::write(&elsewhere, b"native").unwrap();
        let linked = cache.compiled_entry("e1", "sha256:bb");
        std::os::unix::fs::symlink(&elsewhere, &linked).unwrap();
        let err = cache.check_entry(&linked).unwrap_err();
        assert!(matches!(err, UntrustedEntry::Kind { .. }), "{err}");

        // SAFETY: no preconditions.
        if unsafe { libc::geteuid() } == 0 {
            std::os::unix::fs::lchown(&entry, Some(65534), None).unwrap();
            let err = cache.check_entry(&entry).unwrap_err();
            assert!(
                matches!(err, UntrustedEntry::Owner { owner: 65534, .. }),
                "{err}"
            );
        }
        let outside = dir.path().join("x.cwasm");
        assert!(matches!(
            cache.check_entry(&outside),
            Err(UntrustedEntry::Outside { .. })
        ));
    }
}
