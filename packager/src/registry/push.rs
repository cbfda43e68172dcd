//! Pushing an image: every blob the registry lacks, then the manifest.
//!
//! The manifest (and so the tag) goes last, after every blob succeeded, so
//! a failed push never leaves a tag pointing at missing blobs. Blobs the
//! registry already has are not sent again.

use oci_client::RegistryOperation;
use reqwest::header::HeaderValue;

use super::retry::with_retry;
use super::{progress_bar, RegistryError, RegistryOptions, Session};
use crate::image::Image;

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

/// Pushes `image` to `reference` (`registry/repository:tag`).
pub async fn push_image(image: &Image, reference: &str, options: &RegistryOptions) -> Result<PushReport, RegistryError> {
    let session = Session::open(reference, options)?;
    let target = &session.reference;
    let client = &session.client;
    with_retry(|| client.auth(target, &session.auth, RegistryOperation::Push))
        .await
        .map_err(session.transfer_error("authenticating"))?;

    let total = image.blobs().map(|b| b.size).sum();
    let bar = progress_bar(options, total, "pushing");
    let (mut uploaded, mut skipped) = (0, 0);
    for blob in image.blobs() {
        let present = with_retry(|| client.blob_exists(target, &blob.digest))
            .await
            .map_err(session.transfer_error(format!("checking blob {}", blob.digest)))?;
        if present {
            skipped += 1;
        } else {
            with_retry(|| client.push_blob(target, bytes::Bytes::copy_from_slice(&blob.data), &blob.digest))
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
