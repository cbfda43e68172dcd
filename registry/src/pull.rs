//! Pulling an image into memory, every blob checked against the digest and
//! size its descriptor names before the caller writes anything.

use oci_client::manifest::OciDescriptor;
use oci_client::Reference;
use oci_spec::image::{Arch, Descriptor, ImageIndex, ImageManifest, MediaType, Platform};

use super::retry::with_retry;
use super::{progress_bar, RegistryError, RegistryOptions, Session};
use wasmpack_oci::digest::{sha256_digest, Blob};
use wasmpack_oci::image::{blob_of, Image};
use wasmpack_oci::layout::verify;
use wasmpack_oci::platform::platform_of_config;

/// Manifest types we ask for: OCI and Docker images, indexes and lists.
const ACCEPTED_MANIFESTS: &[&str] = &[
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
];

/// Pulls `reference`. When it names an index, the manifest for `platform`
/// (or else the first wasm one) is taken.
pub async fn pull_image(
    reference: &str,
    platform: Option<&Platform>,
    options: &RegistryOptions,
) -> Result<Image, RegistryError> {
    let session = Session::open(reference, options)?;
    let content = |reason: String| RegistryError::Content {
        reference: reference.to_string(),
        reason,
    };
    let (mut bytes, mut digest) = fetch_manifest(&session, &session.reference).await?;
    let mut media_type = media_type_of(&bytes);
    let mut chosen_platform = None;
    if media_type == MediaType::ImageIndex.to_string()
        || media_type == "application/vnd.docker.distribution.manifest.list.v2+json"
    {
        let index: ImageIndex =
            serde_json::from_slice(&bytes).map_err(|e| content(format!("image index: {e}")))?;
        let entry = choose(index.manifests(), platform)
            .ok_or_else(|| content("the image index has no manifest for a wasm platform".into()))?
            .clone();
        let by_digest = Reference::with_digest(
            session.reference.registry().to_string(),
            session.reference.repository().to_string(),
            entry.digest().to_string(),
        );
        (bytes, digest) = fetch_manifest(&session, &by_digest).await?;
        verify(std::path::Path::new(reference), &entry, &bytes)?;
        media_type = media_type_of(&bytes);
        chosen_platform = entry.platform().clone();
    }
    if sha256_digest(&bytes) != digest {
        return Err(content(format!(
            "manifest content does not hash to {digest}"
        )));
    }
    let manifest: ImageManifest =
        serde_json::from_slice(&bytes).map_err(|e| content(format!("image manifest: {e}")))?;
    let total =
        manifest.config().size() + manifest.layers().iter().map(Descriptor::size).sum::<u64>();
    let bar = progress_bar(options, total, "pulling");
    let config = fetch_blob(&session, manifest.config(), &bar).await?;
    let mut layers = Vec::with_capacity(manifest.layers().len());
    for layer in manifest.layers() {
        layers.push(fetch_blob(&session, layer, &bar).await?);
    }
    bar.finish_and_clear();
    let platform = chosen_platform.unwrap_or_else(|| platform_of_config(&config.data));
    Ok(Image {
        manifest: Blob {
            media_type,
            digest,
            size: bytes.len() as u64,
            data: bytes,
        },
        config,
        layers,
        platform,
    })
}

async fn fetch_manifest(
    session: &Session,
    reference: &Reference,
) -> Result<(Vec<u8>, String), RegistryError> {
    let (bytes, digest) = with_retry(|| {
        session
            .client
            .pull_manifest_raw(reference, &session.auth, ACCEPTED_MANIFESTS)
    })
    .await
    .map_err(session.transfer_error("fetching the manifest"))?;
    Ok((bytes.to_vec(), digest))
}

/// Downloads one blob and checks it against its descriptor.
async fn fetch_blob(
    session: &Session,
    descriptor: &Descriptor,
    bar: &indicatif::ProgressBar,
) -> Result<Blob, RegistryError> {
    let wanted = OciDescriptor {
        media_type: descriptor.media_type().to_string(),
        digest: descriptor.digest().to_string(),
        size: i64::try_from(descriptor.size()).unwrap_or(i64::MAX),
        ..Default::default()
    };
    let data = with_retry(|| async {
        let mut data =
            Vec::with_capacity(usize::try_from(descriptor.size()).unwrap_or(0).min(1 << 30));
        session
            .client
            .pull_blob(&session.reference, &wanted, &mut data)
            .await?;
        Ok(data)
    })
    .await
    .map_err(session.transfer_error(format!("downloading blob {}", descriptor.digest())))?;
    verify(
        std::path::Path::new(&session.reference.whole()),
        descriptor,
        &data,
    )?;
    bar.inc(descriptor.size());
    Ok(blob_of(descriptor, data))
}

/// The `mediaType` a manifest or index declares (OCI image manifest when
/// it declares none, as the spec allows).
fn media_type_of(bytes: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct Declared {
        #[serde(rename = "mediaType")]
        media_type: Option<String>,
        manifests: Option<serde_json::Value>,
    }
    match serde_json::from_slice::<Declared>(bytes) {
        Ok(Declared {
            media_type: Some(t),
            ..
        }) => t,
        Ok(Declared {
            manifests: Some(_), ..
        }) => MediaType::ImageIndex.to_string(),
        _ => MediaType::ImageManifest.to_string(),
    }
}

/// The index entry for `platform`, or the first wasm one.
fn choose<'a>(manifests: &'a [Descriptor], platform: Option<&Platform>) -> Option<&'a Descriptor> {
    manifests.iter().find(|d| match (d.platform(), platform) {
        (Some(p), Some(wanted)) => {
            p.os() == wanted.os() && p.architecture() == wanted.architecture()
        }
        (Some(p), None) => p.architecture() == &Arch::Wasm,
        (None, _) => false,
    })
}
