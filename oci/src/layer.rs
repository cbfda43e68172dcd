//! Reproducible filesystem layers: a tar stream in a fixed order with fixed
//! owners, modes and times, compressed with fixed settings.
//!
//! The same entries and epoch always give the same bytes, so the layer digest
//! (and everything that names it) is a function of the inputs alone.

use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::digest::{sha256_digest, Blob};

/// How a layer blob is compressed; each has its OCI media type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compression {
    #[default]
    Gzip,
    Zstd,
    None,
}

/// A layer media type we cannot read.
#[derive(Debug, thiserror::Error)]
#[error("unsupported layer media type {0:?}")]
pub struct UnsupportedMediaType(pub String);

pub const MEDIA_TYPE_TAR: &str = "application/vnd.oci.image.layer.v1.tar";
pub const MEDIA_TYPE_TAR_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub const MEDIA_TYPE_TAR_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
/// What Docker's own image store writes for gzip layers.
pub const MEDIA_TYPE_DOCKER_TAR_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";

/// Fixed so that digests do not depend on a library's default.
const GZIP_LEVEL: u32 = 6;
const ZSTD_LEVEL: i32 = 3;

impl Compression {
    pub fn media_type(self) -> &'static str {
        match self {
            Compression::Gzip => MEDIA_TYPE_TAR_GZIP,
            Compression::Zstd => MEDIA_TYPE_TAR_ZSTD,
            Compression::None => MEDIA_TYPE_TAR,
        }
    }

    /// The compression of a layer with this media type.
    pub fn from_media_type(media_type: &str) -> Result<Self, UnsupportedMediaType> {
        match media_type {
            MEDIA_TYPE_TAR_GZIP | MEDIA_TYPE_DOCKER_TAR_GZIP => Ok(Compression::Gzip),
            MEDIA_TYPE_TAR_ZSTD => Ok(Compression::Zstd),
            MEDIA_TYPE_TAR | "application/vnd.docker.image.rootfs.diff.tar" => {
                Ok(Compression::None)
            }
            other => Err(UnsupportedMediaType(other.to_string())),
        }
    }

    /// Compresses `data` with this compression's fixed settings.
    pub fn compress(self, data: &[u8]) -> io::Result<Vec<u8>> {
        match self {
            Compression::Gzip => {
                // GzBuilder writes no file name and a zero mtime: nothing from
                // the machine leaks into the header.
                let mut enc = flate2::GzBuilder::new()
                    .write(Vec::new(), flate2::Compression::new(GZIP_LEVEL));
                enc.write_all(data)?;
                enc.finish()
            }
            Compression::Zstd => zstd::stream::encode_all(data, ZSTD_LEVEL),
            Compression::None => Ok(data.to_vec()),
        }
    }

    /// A reader that undoes this compression.
    pub fn decompress<'a, R: io::Read + 'a>(self, reader: R) -> io::Result<Box<dyn io::Read + 'a>> {
        Ok(match self {
            Compression::Gzip => Box::new(flate2::read::GzDecoder::new(reader)),
            Compression::Zstd => Box::new(zstd::stream::read::Decoder::new(reader)?),
            Compression::None => Box::new(reader),
        })
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
            Compression::None => "none",
        })
    }
}

impl FromStr for Compression {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "gzip" => Ok(Compression::Gzip),
            "zstd" => Ok(Compression::Zstd),
            "none" | "uncompressed" => Ok(Compression::None),
            other => Err(format!(
                "unknown compression {other:?} (gzip, zstd or none)"
            )),
        }
    }
}

/// One thing in a layer's filesystem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    File { data: Vec<u8>, executable: bool },
    Dir,
    Symlink { target: String },
}

/// Why a set of entries cannot become a layer.
#[derive(Debug, thiserror::Error)]
pub enum LayerError {
    #[error("image path {0:?} is not a plain absolute path (no `..`, `.`, or empty parts)")]
    BadPath(String),
    #[error("image path {path:?} is added twice")]
    Duplicate { path: String },
    #[error("image path {path:?} is below {parent:?}, which is not a folder")]
    ParentNotDir { path: String, parent: String },
    #[error("{path}")]
    Host { path: PathBuf, source: io::Error },
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// The filesystem of one layer, kept sorted by path.
#[derive(Debug, Default, Clone)]
pub struct LayerContents {
    entries: BTreeMap<String, EntryKind>,
}

impl LayerContents {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Adds the host file, folder (recursively) or symlink at `src` as the
    /// image path `dest`. Only the executable bit of a file's mode is kept:
    /// owners, times and other mode bits are the machine's, not the input's.
    pub fn add_host_path(&mut self, src: &Path, dest: &str) -> Result<(), LayerError> {
        let host = |source: io::Error| LayerError::Host {
            path: src.to_path_buf(),
            source,
        };
        let meta = std::fs::symlink_metadata(src).map_err(host)?;
        let kind = if meta.file_type().is_symlink() {
            let target = std::fs::read_link(src).map_err(host)?;
            EntryKind::Symlink {
                target: target.to_string_lossy().into_owned(),
            }
        } else if meta.is_dir() {
            self.insert(dest, EntryKind::Dir)?;
            let mut children = std::fs::read_dir(src)
                .and_then(|dir| {
                    dir.map(|e| e.map(|e| e.file_name()))
                        .collect::<io::Result<Vec<_>>>()
                })
                .map_err(host)?;
            children.sort();
            for name in children {
                let child_dest =
                    format!("{}/{}", dest.trim_end_matches('/'), name.to_string_lossy());
                self.add_host_path(&src.join(&name), &child_dest)?;
            }
            return Ok(());
        } else if meta.is_file() {
            use std::os::unix::fs::PermissionsExt;
            EntryKind::File {
                data: std::fs::read(src).map_err(host)?,
                executable: meta.permissions().mode() & 0o111 != 0,
            }
        } else {
            return Err(LayerError::Host {
                path: src.to_path_buf(),
                source: io::Error::other("not a file, folder or symlink"),
            });
        };
        self.insert(dest, kind)
    }

    /// Adds `kind` at the absolute image path `path` (e.g. `/app/main.wasm`),
    /// creating parent folders as needed.
    pub fn insert(&mut self, path: &str, kind: EntryKind) -> Result<(), LayerError> {
        let rel = normalize_image_path(path)?;
        let mut parent = String::new();
        let parts: Vec<&str> = rel.split('/').collect();
        for part in &parts[..parts.len() - 1] {
            if !parent.is_empty() {
                parent.push('/');
            }
            parent.push_str(part);
            match self.entries.get(&parent) {
                None => {
                    self.entries.insert(parent.clone(), EntryKind::Dir);
                }
                Some(EntryKind::Dir) => {}
                Some(_) => {
                    return Err(LayerError::ParentNotDir {
                        path: path.to_string(),
                        parent: format!("/{parent}"),
                    })
                }
            }
        }
        match self.entries.get(&rel) {
            // Folders are created implicitly by their children; saying so
            // again explicitly is fine.
            Some(EntryKind::Dir) if kind == EntryKind::Dir => Ok(()),
            Some(_) => Err(LayerError::Duplicate {
                path: path.to_string(),
            }),
            None => {
                self.entries.insert(rel, kind);
                Ok(())
            }
        }
    }

    /// The uncompressed tar stream: entries in path order, owned by 0:0,
    /// modes 0755 (folders, executables) or 0644, mtime `epoch`.
    pub fn to_tar(&self, epoch: u64) -> io::Result<Vec<u8>> {
        let mut builder = tar::Builder::new(Vec::new());
        for (path, kind) in &self.entries {
            let mut header = tar::Header::new_ustar();
            header.set_uid(0);
            header.set_gid(0);
            header.set_mtime(epoch);
            match kind {
                EntryKind::File { data, executable } => {
                    header.set_entry_type(tar::EntryType::Regular);
                    header.set_mode(if *executable { 0o755 } else { 0o644 });
                    header.set_size(data.len() as u64);
                    builder.append_data(&mut header, path, data.as_slice())?;
                }
                EntryKind::Dir => {
                    header.set_entry_type(tar::EntryType::Directory);
                    header.set_mode(0o755);
                    header.set_size(0);
                    builder.append_data(&mut header, format!("{path}/"), io::empty())?;
                }
                EntryKind::Symlink { target } => {
                    header.set_entry_type(tar::EntryType::Symlink);
                    header.set_mode(0o777);
                    header.set_size(0);
                    builder.append_link(&mut header, path, target)?;
                }
            }
        }
        builder.into_inner()
    }

    /// Builds the layer blob: tar, then compression.
    pub fn build(&self, epoch: u64, compression: Compression) -> io::Result<Layer> {
        let tar = self.to_tar(epoch)?;
        Ok(Layer {
            diff_id: sha256_digest(&tar),
            blob: Blob::new(compression.media_type(), compression.compress(&tar)?),
        })
    }
}

/// A finished layer blob and the digest of its uncompressed tar.
#[derive(Debug, Clone)]
pub struct Layer {
    pub blob: Blob,
    pub diff_id: String,
}

/// `/a/b` → `a/b`; refuses relative paths, `.`/`..` parts and empty parts.
fn normalize_image_path(path: &str) -> Result<String, LayerError> {
    let bad = || LayerError::BadPath(path.to_string());
    let rel = path.strip_prefix('/').ok_or_else(bad)?;
    let rel = rel.strip_suffix('/').unwrap_or(rel);
    if rel.is_empty()
        || rel
            .split('/')
            .any(|p| p.is_empty() || p == "." || p == "..")
    {
        return Err(bad());
    }
    Ok(rel.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(data: &[u8]) -> EntryKind {
        EntryKind::File {
            data: data.to_vec(),
            executable: false,
        }
    }

    fn entries_of(tar: &[u8]) -> Vec<(String, u32, u64, u64)> {
        let mut archive = tar::Archive::new(tar);
        archive
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let h = e.header();
                (
                    e.path().unwrap().to_string_lossy().into_owned(),
                    h.mode().unwrap(),
                    h.uid().unwrap(),
                    h.mtime().unwrap(),
                )
            })
            .collect()
    }

    #[test]
    fn entries_come_out_sorted_with_parents_first_and_fixed_metadata() {
        let mut contents = LayerContents::new();
        contents.insert("/z.txt", file(b"z")).unwrap();
        contents
            .insert(
                "/app/main.wasm",
                EntryKind::File {
                    data: b"\0asm".to_vec(),
                    executable: true,
                },
            )
            .unwrap();
        contents.insert("/app/data/x", file(b"x")).unwrap();
        let tar = contents.to_tar(1_700_000_000).unwrap();
        let got = entries_of(&tar);
        let names: Vec<_> = got.iter().map(|e| e.0.as_str()).collect();
        assert_eq!(
            names,
            ["app/", "app/data/", "app/data/x", "app/main.wasm", "z.txt"]
        );
        let modes: Vec<_> = got.iter().map(|e| e.1).collect();
        assert_eq!(modes, [0o755, 0o755, 0o644, 0o755, 0o644]);
        assert!(got.iter().all(|e| e.2 == 0 && e.3 == 1_700_000_000));
    }

    #[test]
    fn insertion_order_does_not_change_the_bytes() {
        let mut a = LayerContents::new();
        a.insert("/b", file(b"2")).unwrap();
        a.insert("/a/c", file(b"1")).unwrap();
        let mut b = LayerContents::new();
        b.insert("/a/c", file(b"1")).unwrap();
        b.insert("/b", file(b"2")).unwrap();
        for c in [Compression::Gzip, Compression::Zstd, Compression::None] {
            let (la, lb) = (a.build(0, c).unwrap(), b.build(0, c).unwrap());
            assert_eq!(la.blob, lb.blob, "{c}");
        }
    }

    #[test]
    fn the_epoch_changes_the_digest() {
        let mut a = LayerContents::new();
        a.insert("/f", file(b"1")).unwrap();
        assert_ne!(
            a.build(0, Compression::Gzip).unwrap().blob.digest,
            a.build(1, Compression::Gzip).unwrap().blob.digest
        );
    }

    #[test]
    fn diff_id_is_the_digest_of_the_uncompressed_tar_and_round_trips() {
        let mut a = LayerContents::new();
        a.insert("/f", file(&vec![7u8; 100_000])).unwrap();
        for c in [Compression::Gzip, Compression::Zstd, Compression::None] {
            let layer = a.build(0, c).unwrap();
            assert_eq!(layer.blob.media_type, c.media_type());
            assert_eq!(layer.blob.digest, sha256_digest(&layer.blob.data));
            let mut tar = Vec::new();
            io::copy(
                &mut c.decompress(layer.blob.data.as_slice()).unwrap(),
                &mut tar,
            )
            .unwrap();
            assert_eq!(layer.diff_id, sha256_digest(&tar));
            assert_eq!(
                Compression::from_media_type(&layer.blob.media_type).unwrap(),
                c
            );
        }
        assert!(Compression::from_media_type("application/x-foo").is_err());
    }

    #[test]
    fn bad_and_conflicting_paths_are_refused() {
        let mut a = LayerContents::new();
        for bad in ["relative", "/", "/a/../b", "/a//b", "/./a"] {
            assert!(
                matches!(a.insert(bad, file(b"")), Err(LayerError::BadPath(_))),
                "{bad}"
            );
        }
        a.insert("/f", file(b"1")).unwrap();
        assert!(matches!(
            a.insert("/f", file(b"2")),
            Err(LayerError::Duplicate { .. })
        ));
        assert!(matches!(
            a.insert("/f/g", file(b"2")),
            Err(LayerError::ParentNotDir { .. })
        ));
        a.insert("/d/x", file(b"1")).unwrap();
        a.insert("/d", EntryKind::Dir).unwrap();
    }

    #[test]
    fn host_folders_are_added_recursively_with_the_executable_bit_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("app/sub")).unwrap();
        std::fs::write(dir.path().join("app/sub/data.txt"), b"d").unwrap();
        std::fs::write(dir.path().join("app/run.sh"), b"#!").unwrap();
        std::fs::set_permissions(
            dir.path().join("app/run.sh"),
            std::fs::Permissions::from_mode(0o700),
        )
        .unwrap();
        std::os::unix::fs::symlink("sub/data.txt", dir.path().join("app/link")).unwrap();
        let mut a = LayerContents::new();
        a.add_host_path(&dir.path().join("app"), "/srv/app")
            .unwrap();
        let got = entries_of(&a.to_tar(0).unwrap());
        let summary: Vec<_> = got.iter().map(|e| (e.0.as_str(), e.1)).collect();
        assert_eq!(
            summary,
            [
                ("srv/", 0o755),
                ("srv/app/", 0o755),
                ("srv/app/link", 0o777),
                ("srv/app/run.sh", 0o755),
                ("srv/app/sub/", 0o755),
                ("srv/app/sub/data.txt", 0o644)
            ]
        );
        let err = a
            .add_host_path(&dir.path().join("missing"), "/m")
            .unwrap_err();
        assert!(err.to_string().contains("missing"), "{err}");
    }

    #[test]
    fn long_paths_survive() {
        let long = format!("/{}/{}", "d".repeat(120), "f".repeat(120));
        let mut a = LayerContents::new();
        a.insert(&long, file(b"x")).unwrap();
        let got = entries_of(&a.to_tar(0).unwrap());
        assert_eq!(got.last().unwrap().0, long[1..]);
    }
}
