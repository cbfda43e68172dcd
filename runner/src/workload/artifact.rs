//! An image's precompiled artifacts: described by their layer's
//! annotations (or, where only the image's files are at hand, by the facts
//! file beside them), and read out of the layer, or its stored copy, only
//! when one is chosen.

use std::path::PathBuf;

use wasmpack_oci::image_layer::ImageLayer;
use wasmpack_oci::unpack::{read_file, UnpackLimits};

use super::rootfs::resolve_inside;
use crate::layers::{verified, LayerStore};
use crate::select::AotCandidate;
use crate::RunError;

/// A precompiled artifact the image brings.
#[derive(Debug)]
pub struct AotLayer {
    pub candidate: AotCandidate,
    source: ArtifactSource,
}

#[derive(Debug)]
enum ArtifactSource {
    /// A file in an AOT layer: its blob verified against the manifest, or
    /// not read when the store holds the layer already. (Boxed: a
    /// descriptor is large beside a path.)
    Layer {
        layer: Box<ImageLayer>,
        path: String,
        store: Option<LayerStore>,
        limits: UnpackLimits,
    },
    /// A file in an unpacked image, checked against its facts file.
    File(PathBuf),
}

/// A precompiled artifact, as wasmtime loads it.
pub enum Artifact {
    Bytes(Vec<u8>),
    /// A file (a stored layer's, or an unpacked image's): mapped, not read.
    File(PathBuf),
}

impl AotLayer {
    /// The artifact at `path` in an unpacked image.
    pub fn from_file(candidate: AotCandidate, path: PathBuf) -> Self {
        AotLayer {
            candidate,
            source: ArtifactSource::File(path),
        }
    }

    /// The artifact at `path` in the AOT layer `layer`, kept in `store`
    /// when there is one; the layer is read within `limits`.
    pub(super) fn in_layer(
        candidate: AotCandidate,
        layer: ImageLayer,
        path: String,
        store: Option<LayerStore>,
        limits: UnpackLimits,
    ) -> Self {
        AotLayer {
            candidate,
            source: ArtifactSource::Layer {
                layer: Box::new(layer),
                path,
                store,
                limits,
            },
        }
    }

    /// The artifact: from the layer store when there is one, so that later
    /// starts map it straight from there, else from the (verified) blob.
    pub fn artifact(&self) -> Result<Artifact, RunError> {
        match &self.source {
            ArtifactSource::File(path) => Ok(Artifact::File(path.clone())),
            ArtifactSource::Layer {
                layer,
                path,
                store: Some(store),
                limits,
            } => {
                let stored = store.get(layer, *limits)?;
                resolve_inside(&stored.rootfs, path).map(Artifact::File)
            }
            ArtifactSource::Layer {
                layer,
                path,
                store: None,
                limits,
            } => {
                let bytes = read_file(verified(layer)?, path, *limits).map_err(|source| {
                    RunError::ArtifactRead {
                        path: path.clone(),
                        source,
                    }
                })?;
                bytes
                    .map(Artifact::Bytes)
                    .ok_or_else(|| RunError::ArtifactMissing(path.clone()))
            }
        }
    }
}
