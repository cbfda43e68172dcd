//! Images read from a layout folder or an archive, every blob verified
//! against its descriptor.

use std::collections::HashMap;
use std::io::{self, Read, Seek};
use std::path::{Path, PathBuf};

use oci_spec::image::{Arch, Descriptor, ImageIndex, ImageManifest, MediaType};

use super::folder::OciLayout;
use super::select::select;
use super::{blob_member, parse_json, LayoutError, INDEX_FILE, LAYOUT_FILE};
use crate::digest::{sha256_digest, sha256_hex, Blob};
use crate::image::{blob_of, Image};
use crate::image_layer::{ImageLayer, LayerContent};
use crate::platform::platform_of_config;

/// Where an image is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageSource {
    Layout(PathBuf),
    Archive(PathBuf),
}

impl ImageSource {
    /// A folder is a layout, a file an archive.
    pub fn from_path(path: &Path) -> Self {
        if path.is_dir() {
            ImageSource::Layout(path.to_path_buf())
        } else {
            ImageSource::Archive(path.to_path_buf())
        }
    }

    pub fn path(&self) -> &Path {
        match self {
            ImageSource::Layout(p) | ImageSource::Archive(p) => p,
        }
    }
}

/// Reads the image `name` (or the only image) from `source`, verifying every
/// blob. When the name points at an image index, its wasm manifest is taken.
pub fn read_image(source: &ImageSource, name: Option<&str>) -> Result<Image, LayoutError> {
    LayoutImage::open(source, name)?.read_all()
}

/// How [`LayoutImage::layer`] treats one layer's blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayerRead {
    /// Read and verify it; a missing or corrupt blob is an error.
    Required,
    /// Read and verify it; a missing or corrupt blob makes the layer
    /// [`LayerContent::Rejected`] (a runner can do without a precompiled
    /// artifact).
    Optional,
    /// Leave it unread ([`LayerContent::NotRead`]): the caller already
    /// holds this content, verified under the same digest.
    Skip,
}

/// An image in a layout or archive whose manifest and config are read and
/// verified, and whose layers are read one by one when asked for, as
/// go-containerregistry's layout images are: a caller that holds some
/// layers already reads only the others.
pub struct LayoutImage {
    tree: Tree,
    root: PathBuf,
    descriptor: Descriptor,
    manifest_bytes: Vec<u8>,
    manifest: ImageManifest,
    config: Blob,
}

impl LayoutImage {
    /// The image `name` (or the only image) in `source`. When the name
    /// points at an image index, its wasm manifest is taken.
    pub fn open(source: &ImageSource, name: Option<&str>) -> Result<Self, LayoutError> {
        let tree = match source {
            ImageSource::Layout(root) => Tree::Dir(OciLayout::open(root)?.root().to_path_buf()),
            ImageSource::Archive(path) => Tree::read_archive(path)?,
        };
        let root = source.path();
        let index: ImageIndex = parse_json(root, INDEX_FILE, &tree.read(root, INDEX_FILE)?)?;
        let mut descriptor = select(root, index.manifests(), name)?.clone();
        // Follow nested indexes (what `buildx -o type=oci` writes) to the
        // manifest for a wasm platform.
        for _ in 0..4 {
            if descriptor.media_type() != &MediaType::ImageIndex {
                break;
            }
            let nested: ImageIndex = parse_json(
                root,
                "nested image index",
                &tree.read_blob(root, &descriptor)?,
            )?;
            descriptor = nested
                .manifests()
                .iter()
                .find(|d| {
                    d.platform()
                        .as_ref()
                        .is_some_and(|p| p.architecture() == &Arch::Wasm)
                })
                .cloned()
                .ok_or_else(|| LayoutError::NoWasmManifest {
                    path: root.to_path_buf(),
                })?;
        }
        let manifest_bytes = tree.read_blob(root, &descriptor)?;
        let manifest: ImageManifest = parse_json(root, "image manifest", &manifest_bytes)?;
        let config = blob_of(manifest.config(), tree.read_blob(root, manifest.config())?);
        Ok(Self {
            tree,
            root: root.to_path_buf(),
            descriptor,
            manifest_bytes,
            manifest,
            config,
        })
    }

    pub fn manifest(&self) -> &ImageManifest {
        &self.manifest
    }

    pub fn config(&self) -> &Blob {
        &self.config
    }

    /// The manifest's layer `index`, its blob treated as `read` says.
    pub fn layer(&self, index: usize, read: LayerRead) -> Result<ImageLayer, LayoutError> {
        let descriptor = self.manifest.layers()[index].clone();
        let content = match read {
            LayerRead::Skip => LayerContent::NotRead,
            LayerRead::Required => LayerContent::Verified(self.blob(&descriptor)?),
            LayerRead::Optional => match self.blob(&descriptor) {
                Ok(blob) => LayerContent::Verified(blob),
                Err(error @ (LayoutError::MissingBlob { .. } | LayoutError::Corrupt { .. })) => {
                    LayerContent::Rejected(error)
                }
                Err(error) => return Err(error),
            },
        };
        Ok(ImageLayer {
            descriptor,
            content,
        })
    }

    /// The whole image in memory, every layer read and verified.
    pub fn read_all(self) -> Result<Image, LayoutError> {
        let layers = self
            .manifest
            .layers()
            .iter()
            .map(|layer| self.blob(layer))
            .collect::<Result<_, _>>()?;
        let platform = match self.descriptor.platform() {
            Some(p) => p.clone(),
            None => platform_of_config(&self.config.data),
        };
        Ok(Image {
            manifest: blob_of(&self.descriptor, self.manifest_bytes),
            config: self.config,
            layers,
            platform,
        })
    }

    fn blob(&self, descriptor: &Descriptor) -> Result<Blob, LayoutError> {
        Ok(blob_of(
            descriptor,
            self.tree.read_blob(&self.root, descriptor)?,
        ))
    }
}

/// The files of a layout: on disk, or members of an archive, found by one
/// pass over its tar headers (seeking past the data) and read only when
/// asked for: a run whose layers are already stored reads no blob.
pub(super) enum Tree {
    Dir(PathBuf),
    Archive {
        file: std::cell::RefCell<std::fs::File>,
        /// Member name to (offset of its data, size).
        members: HashMap<String, (u64, u64)>,
    },
}

impl Tree {
    pub(super) fn read_archive(path: &Path) -> Result<Self, LayoutError> {
        let io_err = |source| LayoutError::Io {
            path: path.to_path_buf(),
            source,
        };
        let not_archive = |reason: String| LayoutError::NotAnArchive {
            path: path.to_path_buf(),
            reason,
        };
        let mut file = std::fs::File::open(path).map_err(io_err)?;
        let mut magic = [0u8; 4];
        if file.read(&mut magic).map_err(io_err)? == 4 && &magic == b"\0asm" {
            return Err(not_archive(
                "it is a wasm module; `wasmpack build` packages one".into(),
            ));
        }
        file.seek(io::SeekFrom::Start(0)).map_err(io_err)?;
        let mut members = HashMap::new();
        let mut archive = tar::Archive::new(&file);
        for entry in archive.entries_with_seek().map_err(io_err)? {
            let entry = entry.map_err(|e| not_archive(format!("reading its tar entries: {e}")))?;
            if entry.header().entry_type() != tar::EntryType::Regular {
                continue;
            }
            let name = entry.path().map_err(io_err)?.to_string_lossy().into_owned();
            let name = name.trim_start_matches("./").to_string();
            members.insert(name, (entry.raw_file_position(), entry.size()));
        }
        if !members.contains_key(LAYOUT_FILE) {
            return Err(LayoutError::NotALayout(path.to_path_buf()));
        }
        Ok(Tree::Archive {
            file: std::cell::RefCell::new(file),
            members,
        })
    }

    pub(super) fn read(&self, root: &Path, member: &str) -> Result<Vec<u8>, LayoutError> {
        let missing = || LayoutError::Io {
            path: root.join(member),
            source: io::ErrorKind::NotFound.into(),
        };
        match self {
            Tree::Dir(dir) => std::fs::read(dir.join(member)).map_err(|source| LayoutError::Io {
                path: dir.join(member),
                source,
            }),
            Tree::Archive { file, members } => {
                let &(offset, size) = members.get(member).ok_or_else(missing)?;
                let io_err = |source| LayoutError::Io {
                    path: root.join(member),
                    source,
                };
                let mut file = file.borrow_mut();
                file.seek(io::SeekFrom::Start(offset)).map_err(io_err)?;
                let mut data = Vec::new();
                (&mut *file)
                    .take(size)
                    .read_to_end(&mut data)
                    .map_err(io_err)?;
                if data.len() as u64 != size {
                    return Err(io_err(io::ErrorKind::UnexpectedEof.into()));
                }
                Ok(data)
            }
        }
    }

    /// The blob a descriptor names, checked against its digest and size.
    fn read_blob(&self, root: &Path, descriptor: &Descriptor) -> Result<Vec<u8>, LayoutError> {
        let digest = descriptor.digest().to_string();
        let bad_digest = || LayoutError::BadDigest {
            path: root.to_path_buf(),
            digest: digest.clone(),
        };
        sha256_hex(&digest).ok_or_else(bad_digest)?;
        let data = match self.read(root, &blob_member(&digest)) {
            Err(LayoutError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
                return Err(LayoutError::MissingBlob {
                    path: root.to_path_buf(),
                    digest,
                })
            }
            other => other?,
        };
        verify(root, descriptor, &data)?;
        Ok(data)
    }
}

/// Checks `data` against the size and digest of `descriptor`.
pub fn verify(root: &Path, descriptor: &Descriptor, data: &[u8]) -> Result<(), LayoutError> {
    let digest = descriptor.digest().to_string();
    let corrupt = |reason: String| LayoutError::Corrupt {
        path: root.to_path_buf(),
        digest: digest.clone(),
        reason,
    };
    if data.len() as u64 != descriptor.size() {
        return Err(corrupt(format!(
            "size {} where {} was expected",
            data.len(),
            descriptor.size()
        )));
    }
    let actual = sha256_digest(data);
    if actual != digest {
        return Err(corrupt(format!("content hashes to {actual}")));
    }
    Ok(())
}
