//! Unpacking an image's layers into a folder, safely.
//!
//! Layers come from registries and archives, that is from whoever made the
//! image. Nothing in one may land outside the destination: entries with `..`
//! or absolute paths, symlinks and hard links that point out, writes through
//! a symlink an earlier entry planted, and device files are all refused.
//! OCI whiteouts (`.wh.NAME`, `.wh..wh..opq`) are applied between layers.
//! The tree is built in a temporary folder and renamed into place at the end,
//! so a failure leaves nothing behind.

use std::collections::HashSet;
use std::io;
use std::path::{Component, Path, PathBuf};

use crate::digest::Blob;
use crate::image::{Image, MEDIA_TYPE_WASM_LAYER};
use crate::layer::{Compression, UnsupportedMediaType};
use crate::layout::{put_in_place, staging_beside};

/// File name of the module when an artifact (whose only layer is the module
/// itself, not a tar) is unpacked.
pub const ARTIFACT_MODULE_FILE: &str = "module.wasm";

const WHITEOUT_PREFIX: &str = ".wh.";
const OPAQUE_WHITEOUT: &str = ".wh..wh..opq";

/// Why an image could not be unpacked.
#[derive(Debug, thiserror::Error)]
pub enum UnpackError {
    #[error("layer {layer}: entry {entry:?} {reason}")]
    Unsafe {
        layer: String,
        entry: String,
        reason: &'static str,
    },
    #[error("layer {layer}")]
    Layer { layer: String, source: io::Error },
    #[error(transparent)]
    MediaType(#[from] UnsupportedMediaType),
    #[error("{0}: destination exists and is not empty")]
    NotEmpty(PathBuf),
    #[error("{path}")]
    Io { path: PathBuf, source: io::Error },
}

/// Unpacks every layer of `image`, in order, into `dest`, which must not
/// exist or be empty.
pub fn unpack_image(image: &Image, dest: &Path) -> Result<(), UnpackError> {
    unpack_layers(&image.layers, dest)
}

/// [`unpack_image`] for a chosen run of an image's layers, in order.
pub fn unpack_layers<'a>(
    layers: impl IntoIterator<Item = &'a Blob>,
    dest: &Path,
) -> Result<(), UnpackError> {
    let io_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| UnpackError::Io { path, source }
    };
    if dest.exists() {
        let mut entries = std::fs::read_dir(dest).map_err(io_err(dest))?;
        if entries.next().is_some() {
            return Err(UnpackError::NotEmpty(dest.to_path_buf()));
        }
        std::fs::remove_dir(dest).map_err(io_err(dest))?;
    }
    let staging = staging_beside(dest).map_err(io_err(dest))?;
    for layer in layers {
        if layer.media_type == MEDIA_TYPE_WASM_LAYER {
            let path = staging.path().join(ARTIFACT_MODULE_FILE);
            std::fs::write(&path, &layer.data).map_err(io_err(&path))?;
            continue;
        }
        let compression = Compression::from_media_type(&layer.media_type)?;
        let reader = compression
            .decompress(layer.data.as_slice())
            .map_err(|source| UnpackError::Layer {
                layer: layer.digest.clone(),
                source,
            })?;
        unpack_layer(reader, staging.path(), &layer.digest)?;
    }
    put_in_place(staging, dest).map_err(io_err(dest))
}

/// The regular file at `path` (`/app/hello.wasm`) in one layer, `None` when
/// the layer holds none: one file read without unpacking the layer. Of
/// several entries for the path the last counts, as when unpacking.
pub fn read_file(layer: &Blob, path: &str) -> Result<Option<Vec<u8>>, UnpackError> {
    let layer_err = |source| UnpackError::Layer {
        layer: layer.digest.clone(),
        source,
    };
    let compression = Compression::from_media_type(&layer.media_type)?;
    let reader = compression
        .decompress(layer.data.as_slice())
        .map_err(layer_err)?;
    let wanted = path.trim_start_matches('/');
    let mut found = None;
    let mut archive = tar::Archive::new(reader);
    for entry in archive.entries().map_err(layer_err)? {
        let mut entry = entry.map_err(layer_err)?;
        let name = entry
            .path()
            .map_err(layer_err)?
            .to_string_lossy()
            .into_owned();
        if entry.header().entry_type().is_file()
            && name.trim_start_matches("./").trim_start_matches('/') == wanted
        {
            let mut data = Vec::new();
            io::Read::read_to_end(&mut entry, &mut data).map_err(layer_err)?;
            found = Some(data);
        }
    }
    Ok(found)
}

/// Applies one uncompressed layer tar on top of what `root` holds.
pub fn unpack_layer(reader: impl io::Read, root: &Path, layer: &str) -> Result<(), UnpackError> {
    let layer_err = |source| UnpackError::Layer {
        layer: layer.to_string(),
        source,
    };
    // Paths this layer wrote and the folders leading to them: an opaque
    // whiteout hides only what lower layers put in its folder.
    let mut written: HashSet<PathBuf> = HashSet::new();
    let mut archive = tar::Archive::new(reader);
    for entry in archive.entries().map_err(layer_err)? {
        let mut entry = entry.map_err(layer_err)?;
        let raw_path = entry
            .path()
            .map_err(layer_err)?
            .to_string_lossy()
            .into_owned();
        let unsafe_entry = |reason| UnpackError::Unsafe {
            layer: layer.to_string(),
            entry: raw_path.clone(),
            reason,
        };
        let Some(rel) = contained(Path::new(&raw_path)) else {
            return Err(unsafe_entry("is absolute or climbs out with `..`"));
        };
        if rel.as_os_str().is_empty() {
            continue; // the root folder itself
        }
        let target = root.join(&rel);
        if writes_through_symlink(root, &rel) {
            return Err(unsafe_entry("would be written through a symlink"));
        }
        let file_name = rel
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if file_name == OPAQUE_WHITEOUT {
            let dir = rel.parent().unwrap_or(Path::new(""));
            clear_lower(root, dir, &written).map_err(layer_err)?;
            continue;
        }
        if let Some(hidden) = file_name.strip_prefix(WHITEOUT_PREFIX) {
            // `.wh.`, `.wh..` and `.wh...` would remove the folder itself or
            // its parent. Any other name is one child of the entry's folder,
            // which the checks above keep inside the root and off symlinks.
            if matches!(hidden, "" | "." | "..") {
                return Err(unsafe_entry("is a whiteout that names no file"));
            }
            remove_any(&target.with_file_name(hidden)).map_err(layer_err)?;
            continue;
        }
        let mode = entry.header().mode().map_err(layer_err)? & 0o777;
        let kind = entry.header().entry_type();
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(layer_err)?;
        }
        match kind {
            tar::EntryType::Directory => {
                if !target.is_dir() || target.is_symlink() {
                    remove_any(&target).map_err(layer_err)?;
                    std::fs::create_dir(&target).map_err(layer_err)?;
                }
                set_mode(&target, mode | 0o700).map_err(layer_err)?;
            }
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                remove_any(&target).map_err(layer_err)?;
                let mut file = std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(&target)
                    .map_err(layer_err)?;
                io::copy(&mut entry, &mut file).map_err(layer_err)?;
                set_mode(&target, mode).map_err(layer_err)?;
            }
            tar::EntryType::Symlink => {
                let link = entry
                    .link_name()
                    .map_err(layer_err)?
                    .ok_or_else(|| unsafe_entry("is a symlink without a target"))?;
                let link_dir = rel.parent().unwrap_or(Path::new(""));
                // An absolute target means the image's root, but on the host it
                // would name the host's: rewrite it relative to the link.
                let link = match link.strip_prefix("/") {
                    Ok(from_root) => {
                        let depth = link_dir.components().count();
                        let up: PathBuf = std::iter::once(".")
                            .chain(std::iter::repeat_n("..", depth))
                            .collect();
                        up.join(from_root)
                    }
                    Err(_) => link.into_owned(),
                };
                if contained(&link_dir.join(&link)).is_none() {
                    return Err(unsafe_entry("is a symlink that points outside the image"));
                }
                remove_any(&target).map_err(layer_err)?;
                std::os::unix::fs::symlink(&link, &target).map_err(layer_err)?;
            }
            tar::EntryType::Link => {
                let link = entry
                    .link_name()
                    .map_err(layer_err)?
                    .ok_or_else(|| unsafe_entry("is a hard link without a target"))?;
                let Some(link_rel) = contained(&link) else {
                    return Err(unsafe_entry("is a hard link that points outside the image"));
                };
                let source = root.join(&link_rel);
                if writes_through_symlink(root, &link_rel)
                    || source.is_symlink()
                    || !source.is_file()
                {
                    return Err(unsafe_entry(
                        "is a hard link to something that is not a file of the image",
                    ));
                }
                remove_any(&target).map_err(layer_err)?;
                std::fs::hard_link(&source, &target).map_err(layer_err)?;
            }
            _ => return Err(unsafe_entry("is a device, fifo or other special file")),
        }
        // Its folders count as written too: an opaque whiteout above keeps
        // them for this layer's content, and clears what lower layers left.
        for path in rel.ancestors() {
            if path.as_os_str().is_empty() || !written.insert(path.to_path_buf()) {
                break; // the folders above are in already
            }
        }
    }
    Ok(())
}

/// `path` as a relative path that stays inside the root, or `None`.
/// Absolute paths are refused (`/x`), as is anything whose `..` parts climb
/// above the start; `.` parts are dropped.
fn contained(path: &Path) -> Option<PathBuf> {
    let mut parts: Vec<&std::ffi::OsStr> = Vec::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => parts.push(part),
            Component::CurDir => {}
            Component::ParentDir => {
                parts.pop()?;
            }
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(parts.iter().collect())
}

/// Whether a folder on the way from `root` to `rel` is a symlink, so that
/// writing `rel` would follow it (possibly out of the root).
fn writes_through_symlink(root: &Path, rel: &Path) -> bool {
    let mut at = root.to_path_buf();
    let parents: Vec<_> = rel.components().collect();
    for part in &parents[..parents.len().saturating_sub(1)] {
        at.push(part);
        if at.is_symlink() {
            return true;
        }
    }
    false
}

/// Removes what `root`/`dir` holds that this layer did not write, at any
/// depth: one look-up in `written` per child, and only the folders this
/// layer wrote into are walked.
fn clear_lower(root: &Path, dir: &Path, written: &HashSet<PathBuf>) -> io::Result<()> {
    use io::ErrorKind::{NotADirectory, NotFound};
    // A list rather than recursion: folders may nest as deep as paths allow.
    let mut folders = vec![dir.to_path_buf()];
    while let Some(folder) = folders.pop() {
        let children = match std::fs::read_dir(root.join(&folder)) {
            Ok(children) => children,
            // No such folder below: nothing to hide.
            Err(e) if matches!(e.kind(), NotFound | NotADirectory) => continue,
            Err(e) => return Err(e),
        };
        for child in children {
            let child = child?;
            let rel = folder.join(child.file_name());
            if !written.contains(&rel) {
                remove_any(&child.path())?;
            } else if child.file_type()?.is_dir() {
                // A folder of this layer may still hold lower layers' files.
                folders.push(rel);
            }
        }
    }
    Ok(())
}

/// Removes a file, symlink or folder tree; nothing there is fine.
fn remove_any(path: &Path) -> io::Result<()> {
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
        Ok(meta) if meta.is_dir() => std::fs::remove_dir_all(path),
        Ok(_) => std::fs::remove_file(path),
    }
}

fn set_mode(path: &Path, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tar built entry by entry, with whatever (hostile) names we like.
    struct RawTar(tar::Builder<Vec<u8>>);

    impl RawTar {
        fn new() -> Self {
            Self(tar::Builder::new(Vec::new()))
        }

        fn entry(mut self, name: &str, kind: tar::EntryType, link: &str, data: &[u8]) -> Self {
            let mut header = tar::Header::new_gnu();
            // Set the name bytes directly: the tar crate's setters refuse `..`.
            let bytes = name.as_bytes();
            header.as_old_mut().name[..bytes.len()].copy_from_slice(bytes);
            header.set_entry_type(kind);
            header.set_mode(0o644);
            header.set_size(data.len() as u64);
            if !link.is_empty() {
                header.as_old_mut().linkname[..link.len()].copy_from_slice(link.as_bytes());
            }
            header.set_cksum();
            self.0.append(&header, data).unwrap();
            self
        }

        fn file(self, name: &str, data: &[u8]) -> Self {
            self.entry(name, tar::EntryType::Regular, "", data)
        }

        fn bytes(self) -> Vec<u8> {
            self.0.into_inner().unwrap()
        }
    }

    fn unpack(tar: Vec<u8>) -> (tempfile::TempDir, Result<(), UnpackError>) {
        let dir = tempfile::tempdir().unwrap();
        let result = unpack_layer(tar.as_slice(), dir.path(), "sha256:test");
        (dir, result)
    }

    fn assert_refused(tar: Vec<u8>, why: &str) {
        let outside = tempfile::tempdir().unwrap();
        let (_dir, result) = unpack(tar);
        let err = result.expect_err(why);
        assert!(matches!(err, UnpackError::Unsafe { .. }), "{why}: {err}");
        assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0);
    }

    #[test]
    fn plain_files_folders_and_inner_links_unpack() {
        let tar = RawTar::new()
            .entry("app/", tar::EntryType::Directory, "", b"")
            .file("app/main.wasm", b"\0asm")
            .entry("app/link", tar::EntryType::Symlink, "main.wasm", b"")
            .entry("app/abs", tar::EntryType::Symlink, "/app/main.wasm", b"")
            .entry("app/hard", tar::EntryType::Link, "app/main.wasm", b"")
            .bytes();
        let (dir, result) = unpack(tar);
        result.unwrap();
        assert_eq!(
            std::fs::read(dir.path().join("app/link")).unwrap(),
            b"\0asm"
        );
        assert_eq!(
            std::fs::read(dir.path().join("app/hard")).unwrap(),
            b"\0asm"
        );
        assert_eq!(std::fs::read(dir.path().join("app/abs")).unwrap(), b"\0asm");
        assert_eq!(
            std::fs::read_link(dir.path().join("app/abs")).unwrap(),
            Path::new("./../app/main.wasm")
        );
    }

    #[test]
    fn escapes_are_refused() {
        assert_refused(RawTar::new().file("../evil", b"x").bytes(), "dot-dot");
        assert_refused(
            RawTar::new().file("a/../../evil", b"x").bytes(),
            "nested dot-dot",
        );
        assert_refused(RawTar::new().file("/etc/evil", b"x").bytes(), "absolute");
        assert_refused(
            RawTar::new()
                .entry("out", tar::EntryType::Symlink, "../../..", b"")
                .bytes(),
            "symlink pointing out",
        );
        assert_refused(
            RawTar::new()
                .entry("d", tar::EntryType::Symlink, "/", b"")
                .file("d/evil", b"x")
                .bytes(),
            "write through an in-image symlink",
        );
        assert_refused(
            RawTar::new()
                .entry("h", tar::EntryType::Link, "../../etc/passwd", b"")
                .bytes(),
            "hard link out",
        );
        assert_refused(
            RawTar::new()
                .entry("dev", tar::EntryType::Char, "", b"")
                .bytes(),
            "device",
        );
    }

    #[test]
    fn whiteouts_remove_lower_layer_content() {
        let dir = tempfile::tempdir().unwrap();
        let lower = RawTar::new()
            .file("a/x", b"1")
            .file("a/y", b"2")
            .file("b", b"3")
            .bytes();
        unpack_layer(lower.as_slice(), dir.path(), "l1").unwrap();
        let upper = RawTar::new()
            .file("a/z", b"4")
            .file("a/.wh..wh..opq", b"")
            .file(".wh.b", b"")
            .bytes();
        unpack_layer(upper.as_slice(), dir.path(), "l2").unwrap();
        let mut left: Vec<_> = std::fs::read_dir(dir.path().join("a"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        left.sort();
        assert_eq!(left, ["z"]);
        assert!(!dir.path().join("b").exists());
    }

    #[test]
    fn whiteouts_of_no_name_are_refused() {
        // `.wh.` and `.wh..` would name the entry's folder, `.wh...` its
        // parent: each would remove far more than one file.
        for name in [
            ".wh...",
            ".wh..",
            ".wh.",
            "sub/.wh.",
            "sub/.wh..",
            "sub/.wh...",
        ] {
            let outer = tempfile::tempdir().unwrap();
            let root = outer.path().join("root");
            std::fs::create_dir_all(root.join("sub")).unwrap();
            for sentinel in ["sentinel", "root/sentinel", "root/sub/sentinel"] {
                std::fs::write(outer.path().join(sentinel), b"keep").unwrap();
            }
            let tar = RawTar::new().file(name, b"").bytes();
            let err = unpack_layer(tar.as_slice(), &root, "sha256:test")
                .expect_err(&format!("{name}: whiteout of no name refused"));
            assert!(matches!(err, UnpackError::Unsafe { .. }), "{name}: {err}");
            let message = err.to_string();
            assert!(
                message.contains("sha256:test") && message.contains(&format!("{name:?}")),
                "{name}: the error names the layer and the entry: {message}"
            );
            for sentinel in ["sentinel", "root/sentinel", "root/sub/sentinel"] {
                assert!(
                    outer.path().join(sentinel).exists(),
                    "{name}: {sentinel} survives"
                );
            }
        }
    }

    #[test]
    fn whiteouts_do_not_follow_symlinks_out() {
        let outer = tempfile::tempdir().unwrap();
        let root = outer.path().join("root");
        std::fs::create_dir(&root).unwrap();
        std::fs::write(outer.path().join("sentinel"), b"keep").unwrap();
        // A link out of the root (planted, since no layer may make one).
        std::os::unix::fs::symlink("..", root.join("out")).unwrap();
        for name in ["out/.wh.sentinel", "out/.wh..wh..opq"] {
            let tar = RawTar::new().file(name, b"").bytes();
            let err = unpack_layer(tar.as_slice(), &root, "sha256:test")
                .expect_err(&format!("{name}: whiteout through a symlink refused"));
            assert!(matches!(err, UnpackError::Unsafe { .. }), "{name}: {err}");
            assert!(
                outer.path().join("sentinel").exists(),
                "{name}: sentinel survives"
            );
        }
    }

    /// The names under `dir`, depth first, folders marked with a `/`.
    fn tree(dir: &Path) -> Vec<String> {
        let mut names = Vec::new();
        let mut folders = vec![PathBuf::new()];
        while let Some(folder) = folders.pop() {
            for child in std::fs::read_dir(dir.join(&folder)).unwrap() {
                let child = child.unwrap();
                let rel = folder.join(child.file_name());
                if child.file_type().unwrap().is_dir() {
                    names.push(format!("{}/", rel.display()));
                    folders.push(rel);
                } else {
                    names.push(rel.display().to_string());
                }
            }
        }
        names.sort();
        names
    }

    #[test]
    fn opaque_whiteouts_hide_exactly_the_lower_layers() {
        // The OCI image spec: an opaque whiteout hides all that lower layers
        // put in its folder and nothing its own layer put there, wherever it
        // comes in the tar.
        let lower = RawTar::new()
            .file("d/x", b"lower")
            .file("d/kept", b"lower")
            .file("d/sub/x", b"lower")
            .file("e/x", b"lower")
            .bytes();
        let opaque_first = RawTar::new()
            .file("d/.wh..wh..opq", b"")
            .file("x", b"upper")
            .file("e/x", b"upper")
            .file("d/kept", b"upper")
            .file("d/sub/y", b"upper")
            .bytes();
        let opaque_last = RawTar::new()
            .file("x", b"upper")
            .file("e/x", b"upper")
            .file("d/kept", b"upper")
            .file("d/sub/y", b"upper")
            .file("d/.wh..wh..opq", b"")
            .bytes();
        for (order, upper) in [("first", opaque_first), ("last", opaque_last)] {
            let dir = tempfile::tempdir().unwrap();
            unpack_layer(lower.as_slice(), dir.path(), "l1").unwrap();
            unpack_layer(upper.as_slice(), dir.path(), "l2").unwrap();
            assert_eq!(
                tree(dir.path()),
                ["d/", "d/kept", "d/sub/", "d/sub/y", "e/", "e/x", "x"],
                "opaque whiteout {order}"
            );
            assert_eq!(std::fs::read(dir.path().join("d/kept")).unwrap(), b"upper");
        }
    }

    #[test]
    fn one_file_is_read_out_of_a_layer() {
        let tar = RawTar::new()
            .entry("app/", tar::EntryType::Directory, "", b"")
            .file("./app/a.cwasm", b"first")
            .entry("app/link", tar::EntryType::Symlink, "a.cwasm", b"")
            .file("app/a.cwasm", b"native")
            .bytes();
        let layer = Blob::new(
            crate::layer::MEDIA_TYPE_TAR_GZIP,
            crate::layer::Compression::Gzip.compress(&tar).unwrap(),
        );
        assert_eq!(
            read_file(&layer, "/app/a.cwasm").unwrap().unwrap(),
            b"native"
        );
        assert_eq!(
            read_file(&layer, "/app/link").unwrap(),
            None,
            "regular files only"
        );
        assert_eq!(read_file(&layer, "/app").unwrap(), None);
        let odd = Blob::new("application/octet-stream", tar);
        assert!(matches!(
            read_file(&odd, "/app/a.cwasm"),
            Err(UnpackError::MediaType(_))
        ));
    }

    #[test]
    fn a_failed_unpack_leaves_no_destination() {
        let dir = tempfile::tempdir().unwrap();
        let bad = RawTar::new().file("ok", b"1").file("../evil", b"x").bytes();
        let image = Image {
            manifest: crate::digest::Blob::new("m", vec![]),
            config: crate::digest::Blob::new("c", vec![]),
            layers: vec![crate::digest::Blob::new(crate::layer::MEDIA_TYPE_TAR, bad)],
            platform: crate::image::WasiOs::Wasi.platform(),
        };
        let dest = dir.path().join("rootfs");
        assert!(unpack_image(&image, &dest).is_err());
        assert!(!dest.exists());
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            0,
            "no staging folder left"
        );
    }
}
