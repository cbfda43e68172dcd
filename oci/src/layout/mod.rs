//! OCI image layouts (a folder holding `oci-layout`, `index.json` and
//! `blobs/sha256/…`) and OCI archives (the same tree as one tar file), read
//! and written.
//!
//! Every blob read is checked against the digest and size its descriptor
//! names, and every file written lands by rename, so a reader never sees a
//! half-written blob or index.

mod archive;
mod files;
mod folder;
mod read;
mod select;

pub use archive::write_archive;
pub use files::write_atomically;
pub(crate) use files::{put_in_place, staging_beside};
pub use folder::{save_image, OciLayout};
pub use read::{read_image, verify, ImageSource, LayerRead, LayoutImage};

use std::io;
use std::path::{Path, PathBuf};

use oci_spec::image::{Descriptor, ImageIndex, ImageIndexBuilder, MediaType};

use crate::name::NameError;

const LAYOUT_FILE: &str = "oci-layout";
const LAYOUT_CONTENT: &[u8] = br#"{"imageLayoutVersion":"1.0.0"}"#;
const INDEX_FILE: &str = "index.json";
/// Docker's own archive manifest: lets `docker load` on the classic image
/// store read an archive that the containerd store reads through index.json.
const DOCKER_MANIFEST_FILE: &str = "manifest.json";

/// Why a layout or archive could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum LayoutError {
    #[error("{path}")]
    Io { path: PathBuf, source: io::Error },
    #[error("{0}: not an OCI image layout (no oci-layout file)")]
    NotALayout(PathBuf),
    #[error("{path}: not an OCI archive ({reason})")]
    NotAnArchive { path: PathBuf, reason: String },
    #[error("{path}: {file} is not valid: {reason}")]
    BadJson {
        path: PathBuf,
        file: String,
        reason: String,
    },
    #[error("{path}: blob {digest} is missing")]
    MissingBlob { path: PathBuf, digest: String },
    #[error("{path}: blob {digest} does not match its descriptor ({reason})")]
    Corrupt {
        path: PathBuf,
        digest: String,
        reason: String,
    },
    #[error("{path}: unsupported digest {digest:?} (only sha256)")]
    BadDigest { path: PathBuf, digest: String },
    #[error("{path}: no image named {name:?} (it has: {available})")]
    NoSuchImage {
        path: PathBuf,
        name: String,
        available: String,
    },
    #[error("{path}: holds {count} images; name one (it has: {available})")]
    Ambiguous {
        path: PathBuf,
        count: usize,
        available: String,
    },
    #[error("{path}: the image index names no manifest for a wasm platform")]
    NoWasmManifest { path: PathBuf },
    #[error(transparent)]
    Name(#[from] NameError),
}

fn index_of(manifests: Vec<Descriptor>) -> ImageIndex {
    ImageIndexBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageIndex)
        .manifests(manifests)
        .build()
        .expect("schema version and manifests are all an index needs")
}

/// Where a blob is stored, relative to the layout's root.
fn blob_member(digest: &str) -> String {
    format!("blobs/{}", digest.replacen(':', "/", 1))
}

fn parse_json<T: serde::de::DeserializeOwned>(
    root: &Path,
    file: &str,
    bytes: &[u8],
) -> Result<T, LayoutError> {
    serde_json::from_slice(bytes).map_err(|e| LayoutError::BadJson {
        path: root.to_path_buf(),
        file: file.to_string(),
        reason: e.to_string(),
    })
}

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;
