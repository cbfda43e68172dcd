//! A layout folder on disk: its blobs, its index, images written into it.

use std::path::{Path, PathBuf};

use oci_spec::image::{ImageIndex, Platform};

use super::files::{put_in_place, staging_beside, write_atomically};
use super::select::{annotation, named_descriptor};
use super::{index_of, parse_json, LayoutError, INDEX_FILE, LAYOUT_CONTENT, LAYOUT_FILE};
use crate::digest::{sha256_hex, Blob};
use crate::image::{canonical_json, Image, ANNOTATION_CONTAINERD_NAME};

/// An OCI image layout folder.
#[derive(Debug, Clone)]
pub struct OciLayout {
    root: PathBuf,
}

impl OciLayout {
    /// Opens the layout at `root`, creating an empty one if the folder is
    /// missing or empty.
    pub fn create(root: &Path) -> Result<Self, LayoutError> {
        let io_err = |source| LayoutError::Io {
            path: root.to_path_buf(),
            source,
        };
        std::fs::create_dir_all(root.join("blobs/sha256")).map_err(io_err)?;
        let layout = Self {
            root: root.to_path_buf(),
        };
        if !root.join(LAYOUT_FILE).exists() {
            write_atomically(&root.join(LAYOUT_FILE), LAYOUT_CONTENT)?;
        }
        if !root.join(INDEX_FILE).exists() {
            layout.write_index(&index_of(Vec::new()))?;
        }
        Ok(layout)
    }

    /// Opens an existing layout.
    pub fn open(root: &Path) -> Result<Self, LayoutError> {
        if !root.join(LAYOUT_FILE).is_file() {
            return Err(LayoutError::NotALayout(root.to_path_buf()));
        }
        Ok(Self {
            root: root.to_path_buf(),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the blob with `digest` is (or would be) stored.
    pub fn blob_path(&self, digest: &str) -> Result<PathBuf, LayoutError> {
        let hex = sha256_hex(digest).ok_or_else(|| LayoutError::BadDigest {
            path: self.root.clone(),
            digest: digest.to_string(),
        })?;
        Ok(self.root.join("blobs/sha256").join(hex))
    }

    pub fn has_blob(&self, digest: &str) -> bool {
        self.blob_path(digest).map(|p| p.is_file()).unwrap_or(false)
    }

    /// Stores `blob` unless it is already there.
    pub fn write_blob(&self, blob: &Blob) -> Result<(), LayoutError> {
        let path = self.blob_path(&blob.digest)?;
        if path.is_file() {
            return Ok(());
        }
        write_atomically(&path, &blob.data)
    }

    /// The index, as stored.
    pub fn index(&self) -> Result<ImageIndex, LayoutError> {
        let path = self.root.join(INDEX_FILE);
        let bytes = std::fs::read(&path).map_err(|source| LayoutError::Io { path, source })?;
        parse_json(&self.root, INDEX_FILE, &bytes)
    }

    /// Names `manifest` (already stored) in the index. A name that pointed
    /// elsewhere before now points here, as a tag does.
    pub fn add_manifest(
        &self,
        manifest: &Blob,
        platform: &Platform,
        name: Option<&str>,
    ) -> Result<(), LayoutError> {
        let descriptor = named_descriptor(manifest, platform, name)?;
        let mut manifests = self.index()?.manifests().clone();
        let full_name = annotation(&descriptor, ANNOTATION_CONTAINERD_NAME).map(str::to_string);
        manifests.retain(|existing| match &full_name {
            Some(full) => annotation(existing, ANNOTATION_CONTAINERD_NAME) != Some(full.as_str()),
            None => existing.digest() != descriptor.digest() || existing.annotations().is_some(),
        });
        manifests.push(descriptor);
        self.write_index(&index_of(manifests))
    }

    /// Stores every blob of `image`, then names its manifest: the index is
    /// written last, so it never names a blob that is not there.
    /// On failure the blobs this call added are removed again.
    pub fn write_image(&self, image: &Image, name: Option<&str>) -> Result<(), LayoutError> {
        let mut added = Vec::new();
        let result = image
            .blobs()
            .chain(std::iter::once(&image.manifest))
            .try_for_each(|blob| {
                if !self.has_blob(&blob.digest) {
                    self.write_blob(blob)?;
                    added.push(self.blob_path(&blob.digest)?);
                }
                Ok(())
            })
            .and_then(|()| self.add_manifest(&image.manifest, &image.platform, name));
        if result.is_err() {
            for path in added {
                let _ = std::fs::remove_file(path);
            }
        }
        result
    }

    fn write_index(&self, index: &ImageIndex) -> Result<(), LayoutError> {
        write_atomically(&self.root.join(INDEX_FILE), &canonical_json(index))
    }
}

/// Saves `image` in the layout at `dest`: added to it when it exists, else
/// built in a temporary folder beside it and renamed into place, so that a
/// failure leaves no layout behind.
pub fn save_image(dest: &Path, image: &Image, name: Option<&str>) -> Result<(), LayoutError> {
    if dest.exists() {
        return OciLayout::create(dest)?.write_image(image, name);
    }
    let io_err = |source| LayoutError::Io {
        path: dest.to_path_buf(),
        source,
    };
    let staging = staging_beside(dest).map_err(io_err)?;
    OciLayout::create(staging.path())?.write_image(image, name)?;
    put_in_place(staging, dest).map_err(io_err)
}
