//! Pushing an image: every blob the registry lacks, then the manifest.
//!
//! The manifest (and so the tag) goes last, after every blob succeeded, so
//! a failed push never leaves a tag pointing at missing blobs. Blobs the
//! registry already has are not sent again.

use bytes::Bytes;
use oci_client::RegistryOperation;
use reqwest::header::HeaderValue;

use super::retry::with_retry;
use super::{progress_bar, RegistryError, RegistryOptions, Session};
use wasmpack_oci::digest::Blob;
use wasmpack_oci::image::Image;

/// What a push did, as `--json` reports it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PushReport {
    pub reference: String,
    pub digest: String,
    pub size: u64,
    /// Blobs sent.
    pub uploaded: usize,
    /// Blobs the registry already had.
    pub skipped: usize,
}

/// Pushes `image` to `reference` (`registry/repository:tag`). Each blob
/// sent is copied once for the HTTP client; [`push_owned_image`] avoids that.
pub async fn push_image(image: &Image, reference: &str, options: &RegistryOptions) -> Result<PushReport, RegistryError> {
    push(image, |blob, _| Bytes::copy_from_slice(&blob.data), reference, options).await
}

/// [`push_image`] for a caller done with the image: the blobs' bytes go to
/// the HTTP client as they are. Copying a 20 MB layer (fresh pages, page
/// faults) took as much CPU as the rest of its push to a local registry.
pub async fn push_owned_image(mut image: Image, reference: &str, options: &RegistryOptions) -> Result<PushReport, RegistryError> {
    // Same order as Image::blobs(); the blobs keep their digests and sizes.
    let bodies: Vec<Bytes> = std::iter::once(&mut image.config)
        .chain(&mut image.layers)
        .map(|blob| Bytes::from(std::mem::take(&mut blob.data)))
        .collect();
    push(&image, |_, i| bodies[i].clone(), reference, options).await
}

/// The push itself; `body(blob, index)` gives the bytes of the index-th
/// blob of `image.blobs()`, asked for only when the registry lacks it.
async fn push(image: &Image, body: impl Fn(&Blob, usize) -> Bytes, reference: &str, options: &RegistryOptions) -> Result<PushReport, RegistryError> {
    let session = Session::open(reference, options)?;
    let target = &session.reference;
    let client = &session.client;
    with_retry(|| client.auth(target, &session.auth, RegistryOperation::Push))
        .await
        .map_err(session.transfer_error("authenticating"))?;

    let total = image.blobs().map(|b| b.size).sum();
    let bar = progress_bar(options, total, "pushing");
    let (mut uploaded, mut skipped) = (0, 0);
    for (index, blob) in image.blobs().enumerate() {
        let present = with_retry(|| client.blob_exists(target, &blob.digest))
            .await
            .map_err(session.transfer_error(format!("checking blob {}", blob.digest)))?;
        if present {
            skipped += 1;
        } else {
            // Made once: a retry clones the handle, not the bytes.
            let data = body(blob, index);
            with_retry(|| client.push_blob(target, data.clone(), &blob.digest))
                .await
                .map_err(session.transfer_error(format!("uploading blob {}", blob.digest)))?;
            uploaded += 1;
        }
        bar.inc(blob.size);
    }
    let content_type = HeaderValue::from_str(&image.manifest.media_type).map_err(|e| RegistryError::Content {
        reference: reference.to_string(),
        reason: format!("manifest media type: {e}"),
    })?;
    with_retry(|| client.push_manifest_raw(target, image.manifest.data.clone(), content_type.clone()))
        .await
        .map_err(session.transfer_error("uploading the manifest"))?;
    bar.finish_and_clear();
    Ok(PushReport {
        reference: target.whole(),
        digest: image.manifest.digest.clone(),
        size: image.manifest.size,
        uploaded,
        skipped,
    })
}
