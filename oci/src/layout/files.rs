//! Files that appear whole or not at all: atomic writes and staging
//! folders renamed into place.

use std::io::{self, Write};
use std::path::Path;

use super::LayoutError;

/// A temporary folder in the same folder as `dest` (created if missing), so
/// that [`put_in_place`] is a rename on one filesystem. Dropped unused, it
/// removes itself and what it holds.
pub(crate) fn staging_beside(dest: &Path) -> io::Result<tempfile::TempDir> {
    let parent = match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(parent)?;
    tempfile::Builder::new()
        .prefix(".wasmpack-staging-")
        .tempdir_in(parent)
}

/// Renames a finished staging folder to `dest`: readers see nothing, then
/// the whole tree. When the rename fails (`dest` appeared meanwhile, or is a
/// folder with content), the staging folder is removed with what it holds.
pub(crate) fn put_in_place(staging: tempfile::TempDir, dest: &Path) -> io::Result<()> {
    std::fs::rename(staging.path(), dest)?;
    // Renamed away: the guard must not remove whatever takes its old name.
    let _ = staging.keep();
    Ok(())
}

/// Writes `data` to a temporary file next to `path`, then renames it into
/// place: readers see the old file or the new one, never a part.
pub fn write_atomically(path: &Path, data: &[u8]) -> Result<(), LayoutError> {
    let io_err = |source| LayoutError::Io {
        path: path.to_path_buf(),
        source,
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io_err)?;
    tmp.write_all(data).map_err(io_err)?;
    tmp.as_file().sync_all().map_err(io_err)?;
    tmp.persist(path).map_err(|e| io_err(e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The staging folders left in `parent`.
    fn staging_left(parent: &Path) -> Vec<String> {
        std::fs::read_dir(parent)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| name.starts_with(".wasmpack-staging-"))
            .collect()
    }

    #[test]
    fn a_failed_rename_leaves_no_staging_folder() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("out");
        let staging = staging_beside(&dest).unwrap();
        std::fs::write(staging.path().join("blob"), b"new").unwrap();
        // The destination appears while staging: a folder with content,
        // which a rename cannot replace.
        std::fs::create_dir(&dest).unwrap();
        std::fs::write(dest.join("theirs"), b"old").unwrap();

        assert!(put_in_place(staging, &dest).is_err());
        assert_eq!(staging_left(dir.path()), Vec::<String>::new());
        assert_eq!(std::fs::read(dest.join("theirs")).unwrap(), b"old");
    }
}
