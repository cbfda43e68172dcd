//! OCI archives written: the layout's tree as one reproducible tar file,
//! with Docker's own manifest beside the index.

use std::io;
use std::path::Path;

use super::files::write_atomically;
use super::select::{docker_repo_tag, named_descriptor};
use super::{
    blob_member, index_of, LayoutError, DOCKER_MANIFEST_FILE, INDEX_FILE, LAYOUT_CONTENT,
    LAYOUT_FILE,
};
use crate::image::{canonical_json, Image};
use crate::layer::{EntryKind, LayerContents, LayerError};

/// Writes `image` as an OCI archive at `path`, which `docker load`,
/// `skopeo` (`oci-archive:`) and `wasmpack push` read. Entries are sorted and
/// carry fixed metadata, so the file is as reproducible as the image.
pub fn write_archive(path: &Path, image: &Image, name: Option<&str>) -> Result<(), LayoutError> {
    let descriptor = named_descriptor(&image.manifest, &image.platform, name)?;
    let repo_tags: Vec<String> = match name {
        Some(n) => docker_repo_tag(n)?.into_iter().collect(),
        None => Vec::new(),
    };
    let docker_manifest = serde_json::json!([{
        "Config": blob_member(&image.config.digest),
        "RepoTags": repo_tags,
        "Layers": image.layers.iter().map(|l| blob_member(&l.digest)).collect::<Vec<_>>(),
    }]);
    let mut tree = LayerContents::new();
    let mut put = |member: &str, data: Vec<u8>| {
        tree.insert(
            &format!("/{member}"),
            EntryKind::File {
                data,
                executable: false,
            },
        )
    };
    let tree_err = |e: LayerError| LayoutError::Io {
        path: path.to_path_buf(),
        source: io::Error::other(e.to_string()),
    };
    put(LAYOUT_FILE, LAYOUT_CONTENT.to_vec()).map_err(tree_err)?;
    put(INDEX_FILE, canonical_json(&index_of(vec![descriptor]))).map_err(tree_err)?;
    put(DOCKER_MANIFEST_FILE, canonical_json(&docker_manifest)).map_err(tree_err)?;
    for blob in image.blobs().chain(std::iter::once(&image.manifest)) {
        // Two layers may share a digest; one copy serves both.
        match put(&blob_member(&blob.digest), blob.data.clone()) {
            Ok(()) | Err(LayerError::Duplicate { .. }) => {}
            Err(e) => return Err(tree_err(e)),
        }
    }
    let tar = tree.to_tar(0).map_err(|source| LayoutError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    write_atomically(path, &tar)
}
