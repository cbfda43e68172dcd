//! Pulling an image into memory, every blob checked against the digest and
//! size its descriptor names before the caller writes anything. Every body
//! is read under [`crate::TransferLimits`] and cut off at its size limit as it
//! arrives: a manifest at [`MANIFEST_LIMIT`], a blob at its descriptor's
//! size, an error answer at [`ERROR_ANSWER_LIMIT`]. Blobs are still held
//! in memory whole, up to those sizes.

use bytes::Bytes;
use futures_util::stream;
use oci_client::errors::{OciDistributionError, OciEnvelope};
use oci_client::secrets::RegistryAuth;
use oci_client::{Reference, RegistryOperation};
use oci_spec::image::{Arch, Descriptor, ImageIndex, ImageManifest, MediaType, Platform};

use super::limits::{
    check_announced, Bound, FetchError, Meter, ERROR_ANSWER_LIMIT, MANIFEST_LIMIT,
};
use super::retry::with_retry;
use super::{progress_bar, RegistryError, RegistryOptions, Session};
use wasmpack_oci::digest::{sha256_digest, Blob};
use wasmpack_oci::image::{blob_of, Image};
use wasmpack_oci::layout::verify;
use wasmpack_oci::platform::platform_of_config;

/// Manifest types we ask for: OCI and Docker images, indexes and lists
/// (blob requests send them too, as oci-client does).
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

/// Fetches a manifest or index, at most [`MANIFEST_LIMIT`] bytes, and its
/// digest: what it hashes to, which must be the digest the reference pins
/// and the one the registry's Docker-Content-Digest header names.
async fn fetch_manifest(
    session: &Session,
    reference: &Reference,
) -> Result<(Vec<u8>, String), RegistryError> {
    let target = reference
        .digest()
        .or_else(|| reference.tag())
        .unwrap_or("latest");
    let (bytes, announced) = with_retry(|| {
        get(
            session,
            reference,
            format!("manifests/{target}"),
            MANIFEST_LIMIT,
            Bound::Manifest,
        )
    })
    .await
    .map_err(session.fetch_error("fetching the manifest"))?;
    let digest = sha256_digest(&bytes);
    for expected in reference.digest().into_iter().chain(announced.as_deref()) {
        if expected != digest {
            return Err(RegistryError::Content {
                reference: reference.whole(),
                reason: format!("manifest content hashes to {digest}, not {expected}"),
            });
        }
    }
    Ok((bytes, digest))
}

/// Downloads one blob, stopping as soon as the registry sends more than
/// its descriptor's size, and checks it against its descriptor.
async fn fetch_blob(
    session: &Session,
    descriptor: &Descriptor,
    bar: &indicatif::ProgressBar,
) -> Result<Blob, RegistryError> {
    let digest = descriptor.digest().to_string();
    let (data, _) = with_retry(|| {
        get(
            session,
            &session.reference,
            format!("blobs/{digest}"),
            descriptor.size(),
            Bound::Descriptor,
        )
    })
    .await
    .map_err(session.fetch_error(format!("downloading blob {digest}")))?;
    verify(
        std::path::Path::new(&session.reference.whole()),
        descriptor,
        &data,
    )?;
    bar.inc(descriptor.size());
    Ok(blob_of(descriptor, data))
}

/// One GET of `/v2/<repository>/<path>` under the session's transfer
/// limits: the body, at most `limit` bytes, and the sha256 digest the
/// registry announced for it, if any. oci-client's own requests read a
/// body of any length (an error answer's too), so ours are made here, with
/// oci-client's credentials.
async fn get(
    session: &Session,
    reference: &Reference,
    path: String,
    limit: u64,
    bound: Bound,
) -> Result<(Vec<u8>, Option<String>), FetchError> {
    let meter = Meter::default();
    let transfer = async {
        let url = format!(
            "{}://{}/v2/{}/{path}{}",
            session.scheme,
            reference.resolve_registry(),
            reference.repository(),
            reference
                .namespace()
                .map(|ns| format!("?ns={ns}"))
                .unwrap_or_default(),
        );
        let (mut response, cached) = send(session, reference, &url, false).await?;
        if response.status() == reqwest::StatusCode::UNAUTHORIZED && cached {
            // The pull's token expired: authorize again, once.
            (response, _) = send(session, reference, &url, true).await?;
        }
        let status = response.status();
        if status != reqwest::StatusCode::OK {
            check_announced(
                response.content_length(),
                ERROR_ANSWER_LIMIT,
                Bound::ErrorAnswer,
            )?;
            let body = meter
                .read_capped(chunks(response), ERROR_ANSWER_LIMIT, Bound::ErrorAnswer)
                .await?;
            return Err(refusal(status, &body, url).into());
        }
        let announced = response
            .headers()
            .get("Docker-Content-Digest")
            .and_then(|value| value.to_str().ok())
            .filter(|digest| digest.starts_with("sha256:"))
            .map(str::to_string);
        check_announced(response.content_length(), limit, bound)?;
        let body = meter.read_capped(chunks(response), limit, bound).await?;
        Ok((body, announced))
    };
    meter.guard(&session.limits, limit, transfer).await
}

/// Sends the GET with the pull's credentials, authorizing first when the
/// session has no token yet or `renew` asks for a new one; whether the
/// token was one authorized before.
async fn send(
    session: &Session,
    reference: &Reference,
    url: &str,
    renew: bool,
) -> Result<(reqwest::Response, bool), OciDistributionError> {
    let mut cache = session.pull_token.lock().await;
    let cached = cache.is_some() && !renew;
    let token = match cache.as_ref() {
        Some(token) if !renew => token.clone(),
        _ => {
            let token = session
                .client
                .auth(reference, &session.auth, RegistryOperation::Pull)
                .await?;
            *cache = Some(token.clone());
            token
        }
    };
    drop(cache);
    let request = session
        .http
        .get(url)
        .header(reqwest::header::ACCEPT, ACCEPTED_MANIFESTS.join(", "));
    let request = match (token, &session.auth) {
        (Some(token), _) => request.bearer_auth(token),
        (None, RegistryAuth::Basic(user, password)) => request.basic_auth(user, Some(password)),
        (None, _) => request,
    };
    Ok((request.send().await?, cached))
}

/// A response's body as it arrives.
fn chunks(
    response: reqwest::Response,
) -> impl futures_util::Stream<Item = Result<Bytes, OciDistributionError>> {
    stream::try_unfold(response, |mut response| async move {
        Ok(response.chunk().await?.map(|chunk| (chunk, response)))
    })
}

/// The error for a refusal, as oci-client classifies it: 401 is
/// unauthorized, a client error carries the registry's error envelope
/// when it sent one, anything else (5xx) is a server error.
fn refusal(status: reqwest::StatusCode, body: &[u8], url: String) -> OciDistributionError {
    if status == reqwest::StatusCode::UNAUTHORIZED {
        return OciDistributionError::UnauthorizedError { url };
    }
    if status.is_client_error() {
        if let Ok(envelope) = serde_json::from_slice::<OciEnvelope>(body) {
            return OciDistributionError::RegistryError { envelope, url };
        }
    }
    OciDistributionError::ServerError {
        code: status.as_u16(),
        url,
        message: String::from_utf8_lossy(body).into_owned(),
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::retry::{is_transient, is_unauthorized};
    use reqwest::StatusCode;

    #[test]
    fn refusals_are_classified_as_oci_client_does() {
        let url = || "http://127.0.0.1/v2/x/blobs/sha256:0".to_string();
        assert!(is_unauthorized(&refusal(
            StatusCode::UNAUTHORIZED,
            b"",
            url()
        )));
        let unknown = br#"{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown"}]}"#;
        let error = refusal(StatusCode::NOT_FOUND, unknown, url());
        assert!(matches!(error, OciDistributionError::RegistryError { .. }));
        assert!(error.to_string().contains("blob unknown"), "{error}");
        assert!(!is_transient(&error));
        let busy = refusal(StatusCode::SERVICE_UNAVAILABLE, b"try later", url());
        assert!(is_transient(&busy), "5xx answers are retried");
    }
}
