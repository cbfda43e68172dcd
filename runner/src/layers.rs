//! Image layers unpacked once and kept by digest, the way containerd keeps
//! snapshots: the blob is verified against its digest when it is read, the
//! packager's safe unpacker writes it out, and from then on a start with
//! the same layer reads neither the blob nor the module again. The guest
//! sees a stored layer read-only.
//!
//! `layers/<algorithm>-<hex>/rootfs/` holds the files; `files` beside it
//! lists the digest of every regular file, so the module's digest needs no
//! hashing at start. A layer appears whole or not at all (unpacked aside,
//! then renamed into place).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use wasmpack_oci::digest::{sha256_hex, Blob, HashingWriter};
use wasmpack_oci::image_layer::{ImageLayer, LayerContent};
use wasmpack_oci::unpack::{unpack_layers, UnpackLimits};

use crate::cache::create_private_dir;
use crate::RunError;

const ROOTFS: &str = "rootfs";
const FILE_DIGESTS: &str = "files";

#[derive(Debug, Clone)]
pub struct LayerStore {
    root: PathBuf,
}

/// One unpacked layer.
#[derive(Debug)]
pub struct StoredLayer {
    pub rootfs: PathBuf,
    /// Digest by path relative to the rootfs, for regular files.
    files: BTreeMap<String, String>,
}

impl StoredLayer {
    /// The recorded digest of the regular file at `path` (`/hello.wasm`),
    /// if it is one.
    pub fn file_digest(&self, path: &str) -> Option<&str> {
        self.files
            .get(path.trim_start_matches('/'))
            .map(String::as_str)
    }
}

impl LayerStore {
    pub(crate) fn new(root: PathBuf) -> Self {
        Self { root }
    }

    /// Where the layer `digest` is kept; only well-formed sha256 digests
    /// are stored, so no digest can name a path outside the store.
    fn dir(&self, digest: &str) -> Option<PathBuf> {
        sha256_hex(digest).map(|hex| self.root.join(format!("sha256-{hex}")))
    }

    pub fn has(&self, digest: &str) -> bool {
        self.dir(digest).is_some_and(|dir| dir.is_dir())
    }

    /// The stored layer `digest`, if there is one.
    pub fn open(&self, digest: &str) -> Result<Option<StoredLayer>, RunError> {
        let Some(dir) = self.dir(digest).filter(|dir| dir.is_dir()) else {
            return Ok(None);
        };
        let list = dir.join(FILE_DIGESTS);
        let text =
            std::fs::read_to_string(&list).map_err(|source| RunError::Io { path: list, source })?;
        let files = text
            .lines()
            .filter_map(|line| line.split_once(' '))
            .map(|(digest, path)| (path.to_string(), digest.to_string()))
            .collect();
        Ok(Some(StoredLayer {
            rootfs: dir.join(ROOTFS),
            files,
        }))
    }

    /// The stored copy of `layer`: the one kept already (its blob need not
    /// have been read), else its verified blob unpacked now within `limits`.
    pub fn get(&self, layer: &ImageLayer, limits: UnpackLimits) -> Result<StoredLayer, RunError> {
        match self.open(&layer.digest())? {
            Some(stored) => Ok(stored),
            None => self.open_or_add(verified(layer)?, limits),
        }
    }

    /// The stored layer for `layer`, unpacking its (verified) blob first if
    /// it is not stored yet, within `limits`.
    pub fn open_or_add(&self, layer: &Blob, limits: UnpackLimits) -> Result<StoredLayer, RunError> {
        if let Some(stored) = self.open(&layer.digest)? {
            return Ok(stored);
        }
        let Some(dir) = self.dir(&layer.digest) else {
            return Err(RunError::UnstorableDigest(layer.digest.clone()));
        };
        let io_err = |path: &Path| {
            let path = path.to_path_buf();
            move |source| RunError::Io { path, source }
        };
        create_private_dir(&self.root).map_err(io_err(&self.root))?;
        let staging = tempfile::Builder::new()
            .prefix(".unpacking-")
            .tempdir_in(&self.root)
            .map_err(io_err(&self.root))?;
        let rootfs = staging.path().join(ROOTFS);
        unpack_layers(std::slice::from_ref(layer), &rootfs, limits)?;
        let mut list = String::new();
        for (path, digest) in file_digests(&rootfs)? {
            list.push_str(&format!("{digest} {path}\n"));
        }
        let list_path = staging.path().join(FILE_DIGESTS);
        std::fs::write(&list_path, list).map_err(io_err(&list_path))?;
        match std::fs::rename(staging.path(), &dir) {
            Ok(()) => {}
            // Another start stored the same layer first: same content.
            Err(_) if dir.is_dir() => {}
            Err(source) => return Err(RunError::Io { path: dir, source }),
        }
        self.open(&layer.digest)?
            .ok_or_else(|| RunError::StoredLayerVanished(layer.digest.clone()))
    }
}

/// The blob of a layer that was read and verified; an error for one that
/// was not read (the store was to hold it) or was rejected (its reason was
/// reported when it was).
pub(crate) fn verified(layer: &ImageLayer) -> Result<&Blob, RunError> {
    match &layer.content {
        LayerContent::Verified(blob) => Ok(blob),
        LayerContent::NotRead => Err(RunError::LayerNotRead(layer.digest())),
        LayerContent::Rejected(_) => Err(RunError::LayerRejected(layer.digest())),
    }
}

/// The digest of every regular file under `root`, by relative path; names
/// that cannot be listed one per line are left out (they are hashed when
/// needed instead).
fn file_digests(root: &Path) -> Result<BTreeMap<String, String>, RunError> {
    let mut digests = BTreeMap::new();
    let mut folders = vec![root.to_path_buf()];
    while let Some(folder) = folders.pop() {
        let io_err = |source| RunError::Io {
            path: folder.clone(),
            source,
        };
        for entry in std::fs::read_dir(&folder).map_err(io_err)? {
            let entry = entry.map_err(io_err)?;
            let kind = entry.file_type().map_err(io_err)?;
            let path = entry.path();
            if kind.is_dir() {
                folders.push(path);
            } else if kind.is_file() {
                let Some(rel) = path.strip_prefix(root).ok().and_then(Path::to_str) else {
                    continue;
                };
                if rel.contains('\n') {
                    continue;
                }
                let rel = rel.to_string();
                digests.insert(rel, digest_of_file(&path)?);
            }
        }
    }
    Ok(digests)
}

fn digest_of_file(path: &Path) -> Result<String, RunError> {
    let io_err = |source| RunError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(io_err)?;
    let mut hasher = HashingWriter::new(std::io::sink());
    std::io::copy(&mut file, &mut hasher).map_err(io_err)?;
    hasher.flush().map_err(io_err)?;
    Ok(hasher.finish().1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmpack_oci::digest::sha256_digest;
    use wasmpack_oci::image::descriptor_of;
    use wasmpack_oci::layer::{Compression, EntryKind, LayerContents};

    fn layer(files: &[(&str, &[u8])]) -> Blob {
        let mut contents = LayerContents::new();
        for (path, bytes) in files {
            let kind = EntryKind::File {
                data: bytes.to_vec(),
                executable: false,
            };
            contents.insert(path, kind).unwrap();
        }
        contents.build(0, Compression::Gzip).unwrap().blob
    }

    #[test]
    fn a_layer_is_unpacked_once_with_the_digest_of_each_file() {
        let dir = tempfile::tempdir().unwrap();
        let store = LayerStore::new(dir.path().join("layers"));
        let blob = layer(&[("/hello.wasm", b"\0asm module"), ("/app/data.txt", b"data")]);
        assert!(!store.has(&blob.digest));
        assert!(store.open(&blob.digest).unwrap().is_none());

        let stored = store.open_or_add(&blob, UnpackLimits::default()).unwrap();
        assert!(store.has(&blob.digest));
        assert_eq!(
            std::fs::read(stored.rootfs.join("app/data.txt")).unwrap(),
            b"data"
        );
        assert_eq!(
            stored.file_digest("/hello.wasm"),
            Some(sha256_digest(b"\0asm module").as_str())
        );
        assert_eq!(stored.file_digest("/app"), None, "folders have no digest");

        // A second start gets the stored copy: the blob is not read again.
        let unread = ImageLayer {
            descriptor: descriptor_of(&blob),
            content: LayerContent::NotRead,
        };
        let again = store.get(&unread, UnpackLimits::default()).unwrap();
        assert_eq!(again.rootfs, stored.rootfs);
        let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("layers"))
            .unwrap()
            .collect();
        assert_eq!(leftovers.len(), 1, "no staging folders remain");

        // A layer left unread for the store, which lost it, is no empty layer.
        let other = layer(&[("/other", b"x")]);
        let lost = ImageLayer {
            descriptor: descriptor_of(&other),
            content: LayerContent::NotRead,
        };
        assert!(
            matches!(store.get(&lost, UnpackLimits::default()), Err(RunError::LayerNotRead(digest)) if digest == other.digest)
        );
    }

    #[test]
    fn unsafe_layers_and_odd_digests_are_not_stored() {
        let dir = tempfile::tempdir().unwrap();
        let store = LayerStore::new(dir.path().join("layers"));
        let bad = Blob {
            digest: "sha256:../../etc".into(),
            ..layer(&[("/a", b"a")])
        };
        assert!(!store.has(&bad.digest));
        assert!(store.open_or_add(&bad, UnpackLimits::default()).is_err());

        let mut tar = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_gnu();
        header.set_size(1);
        header.set_mode(0o644);
        header.set_path("x").unwrap();
        header.as_old_mut().name[..5].copy_from_slice(b"../x\0");
        header.set_cksum();
        tar.append(&header, &b"x"[..]).unwrap();
        let escaping = Blob::new(
            "application/vnd.oci.image.layer.v1.tar",
            tar.into_inner().unwrap(),
        );
        let err = store
            .open_or_add(&escaping, UnpackLimits::default())
            .unwrap_err();
        assert!(err.to_string().contains(".."), "{err}");
        assert!(!store.has(&escaping.digest));
        assert!(!dir.path().join("x").exists() && !dir.path().join("layers/x").exists());
    }
}
