//! A layer of an image as a reader holds it: its descriptor, and what
//! became of its content. A layer whose blob was not read, or was refused,
//! says so instead of standing in as an empty blob.

use oci_spec::image::Descriptor;

use crate::digest::Blob;
use crate::layout::LayoutError;

/// One layer: what the manifest says of it, and its content's state.
#[derive(Debug)]
pub struct ImageLayer {
    /// Media type, digest, size and annotations.
    pub descriptor: Descriptor,
    pub content: LayerContent,
}

/// What became of a layer's blob.
#[derive(Debug)]
pub enum LayerContent {
    /// Read and checked against the descriptor's digest and size.
    Verified(Blob),
    /// Left unread: the reader holds this content already, verified under
    /// the same digest.
    NotRead,
    /// Missing or not matching its descriptor, where the reader could do
    /// without it (a precompiled artifact): why.
    Rejected(LayoutError),
}

impl ImageLayer {
    /// The layer's digest, as the descriptor names it.
    pub fn digest(&self) -> String {
        self.descriptor.digest().to_string()
    }

    /// The verified blob, when it was read and matched.
    pub fn blob(&self) -> Option<&Blob> {
        match &self.content {
            LayerContent::Verified(blob) => Some(blob),
            LayerContent::NotRead | LayerContent::Rejected(_) => None,
        }
    }
}
