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
pub async fn push_image(
    image: &Image,
    reference: &str,
    options: &RegistryOptions,
) -> Result<PushReport, RegistryError> {
    let blobs = image
        .blobs()
        .map(|blob| (blob.digest.as_str(), blob.size, blob))
        .collect();
    push(
        &image.manifest,
        blobs,
        |blob| Bytes::copy_from_slice(&blob.data),
        reference,
        options,
    )
    .await
}

/// [`push_image`] for a caller done with the image: the blobs' bytes go to
/// the HTTP client as they are. Copying a 20 MB layer (fresh pages, page
/// faults) took as much CPU as the rest of its push to a local registry.
pub async fn push_owned_image(
    image: Image,
    reference: &str,
    options: &RegistryOptions,
) -> Result<PushReport, RegistryError> {
    let Image {
        manifest,
        config,
        layers,
        ..
    } = image;
    // Same order as Image::blobs().
    let owned: Vec<(String, u64, Bytes)> = std::iter::once(config)
        .chain(layers)
        .map(|blob| (blob.digest, blob.size, Bytes::from(blob.data)))
        .collect();
    let blobs = owned
        .iter()
        .map(|(digest, size, bytes)| (digest.as_str(), *size, bytes))
        .collect();
    push(
        &manifest,
        blobs,
        |bytes| Bytes::clone(bytes),
        reference,
        options,
    )
    .await
}

/// The push itself: `blobs` are the config's and the layers' `(digest,
/// size, content)`; `body(content)` makes the bytes to send, asked for only
/// when the registry lacks the blob.
async fn push<B>(
    manifest: &Blob,
    blobs: Vec<(&str, u64, B)>,
    body: impl Fn(&B) -> Bytes,
    reference: &str,
    options: &RegistryOptions,
) -> Result<PushReport, RegistryError> {
    let session = Session::open(reference, options)?;
    let target = &session.reference;
    let client = &session.client;
    with_retry(|| client.auth(target, &session.auth, RegistryOperation::Push))
        .await
        .map_err(session.transfer_error("authenticating"))?;

    let total = blobs.iter().map(|(_, size, _)| size).sum();
    let bar = progress_bar(options, total, "pushing");
    let (mut uploaded, mut skipped) = (0, 0);
    for (digest, size, content) in &blobs {
        let present = with_retry(|| client.blob_exists(target, digest))
            .await
            .map_err(session.transfer_error(format!("checking blob {digest}")))?;
        if present {
            skipped += 1;
        } else {
            // Made once: a retry clones the handle, not the bytes.
            let data = body(content);
            with_retry(|| client.push_blob(target, data.clone(), digest))
                .await
                .map_err(session.transfer_error(format!("uploading blob {digest}")))?;
            uploaded += 1;
        }
        bar.inc(*size);
    }
    let content_type =
        HeaderValue::from_str(&manifest.media_type).map_err(|e| RegistryError::Content {
            reference: reference.to_string(),
            reason: format!("manifest media type: {e}"),
        })?;
    with_retry(|| client.push_manifest_raw(target, manifest.data.clone(), content_type.clone()))
        .await
        .map_err(session.transfer_error("uploading the manifest"))?;
    bar.finish_and_clear();
    Ok(PushReport {
        reference: target.whole(),
        digest: manifest.digest.clone(),
        size: manifest.size,
        uploaded,
        skipped,
    })
}
