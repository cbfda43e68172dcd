//! Image and artifact assembly: the config, the manifest, and the descriptor
//! that names them, written as canonical JSON so that digests are stable.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::str::FromStr;

use oci_spec::image::{
    Arch, ConfigBuilder, Descriptor, HistoryBuilder, ImageConfigurationBuilder,
    ImageManifestBuilder, MediaType, Os, Platform, PlatformBuilder, RootFsBuilder,
};
use serde::Serialize;

use crate::digest::Blob;
use crate::layer::{Compression, EntryKind, LayerContents, LayerError};
use wasmpack_wasm::{WasmFacts, WasmKind};

/// Config media type of the CNCF wasm OCI artifact.
pub const MEDIA_TYPE_WASM_CONFIG: &str = "application/vnd.wasm.config.v0+json";
/// Layer media type of the module in the CNCF wasm OCI artifact.
pub const MEDIA_TYPE_WASM_LAYER: &str = "application/wasm";
/// Annotation naming a manifest in an OCI layout's index (the tag).
pub const ANNOTATION_REF_NAME: &str = "org.opencontainers.image.ref.name";
/// Annotation containerd (and so `docker load`) reads for the full image name.
pub const ANNOTATION_CONTAINERD_NAME: &str = "io.containerd.image.name";

/// Why an image could not be assembled.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error(transparent)]
    Layer(#[from] LayerError),
    #[error("building OCI JSON")]
    Spec(#[from] oci_spec::OciSpecError),
    #[error("the wasm artifact format holds the module alone; {0} cannot be added to it")]
    ArtifactExtras(&'static str),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// The `os` half of a `wasi/wasm` style platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WasiOs {
    /// `wasi`: what `docker buildx build --platform wasi/wasm` writes.
    #[default]
    Wasi,
    Wasip1,
    Wasip2,
}

impl WasiOs {
    pub fn as_str(self) -> &'static str {
        match self {
            WasiOs::Wasi => "wasi",
            WasiOs::Wasip1 => "wasip1",
            WasiOs::Wasip2 => "wasip2",
        }
    }

    /// Whether an image's `os` is one of ours.
    pub fn matches(os: &str) -> bool {
        os.parse::<WasiOs>().is_ok()
    }

    pub fn platform(self) -> Platform {
        PlatformBuilder::default()
            .os(Os::Other(self.as_str().to_string()))
            .architecture(Arch::Wasm)
            .build()
            .expect("os and architecture are all a platform needs")
    }
}

impl FromStr for WasiOs {
    type Err = String;
    /// Accepts `wasi`, `wasip1`, `wasip2`, each optionally followed by `/wasm`.
    fn from_str(s: &str) -> Result<Self, String> {
        let os = s.strip_suffix("/wasm").unwrap_or(s);
        match os {
            "wasi" => Ok(WasiOs::Wasi),
            "wasip1" => Ok(WasiOs::Wasip1),
            "wasip2" => Ok(WasiOs::Wasip2),
            _ => Err(format!(
                "unknown platform {s:?} (wasi/wasm, wasip1/wasm or wasip2/wasm)"
            )),
        }
    }
}

impl fmt::Display for WasiOs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/wasm", self.as_str())
    }
}

/// Which OCI shape to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ImageFormat {
    /// A container image: FROM scratch, one layer, runnable by Docker's wasm shims.
    #[default]
    Image,
    /// The CNCF wasm OCI artifact: the module itself is the only layer.
    Artifact,
}

impl FromStr for ImageFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "image" => Ok(ImageFormat::Image),
            "artifact" => Ok(ImageFormat::Artifact),
            _ => Err(format!("unknown format {s:?} (image or artifact)")),
        }
    }
}

/// Everything `build` needs to know.
#[derive(Debug, Clone, Default)]
pub struct ImageSpec {
    pub wasm: Vec<u8>,
    pub facts: Option<WasmFacts>,
    /// Absolute path of the module inside the image; the entrypoint.
    pub wasm_path: String,
    /// Other files and folders to place in the image.
    pub extra: LayerContents,
    pub cmd: Vec<String>,
    pub env: Vec<String>,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub workdir: Option<String>,
    pub os: WasiOs,
    pub format: ImageFormat,
    pub compression: Compression,
    /// Seconds since 1970 for every timestamp: `SOURCE_DATE_EPOCH` or 0.
    pub epoch: u64,
    /// Precompiled native artifacts of the module, one layer each after the
    /// wasm layer (image format only).
    pub aot: Vec<AotArtifact>,
}

/// The module precompiled for one target: a file at `path` in a layer of
/// its own, whose descriptor carries `annotations` (target, runtime
/// version, engine hash, source wasm digest) for runners to match.
#[derive(Debug, Clone, Default)]
pub struct AotArtifact {
    pub path: String,
    pub bytes: Vec<u8>,
    pub annotations: BTreeMap<String, String>,
    /// A file that describes the artifact beside it in the same layer,
    /// `(path, content)`, for runtimes that see only the unpacked image.
    pub facts: Option<(String, Vec<u8>)>,
}

/// A complete image in memory: the manifest and every blob it names.
#[derive(Debug, Clone)]
pub struct Image {
    pub manifest: Blob,
    pub config: Blob,
    pub layers: Vec<Blob>,
    pub platform: Platform,
}

impl Image {
    /// Config and layers: the blobs the manifest points at.
    pub fn blobs(&self) -> impl Iterator<Item = &Blob> {
        std::iter::once(&self.config).chain(&self.layers)
    }

    /// The descriptor an index uses for this image.
    pub fn descriptor(&self) -> Descriptor {
        let mut desc = descriptor_of(&self.manifest);
        desc.set_platform(Some(self.platform.clone()));
        desc
    }
}

/// Assembles the image (or artifact) described by `spec`.
pub fn build_image(spec: &ImageSpec) -> Result<Image, ImageError> {
    match spec.format {
        ImageFormat::Image => build_container_image(spec),
        ImageFormat::Artifact => build_artifact(spec),
    }
}

fn build_container_image(spec: &ImageSpec) -> Result<Image, ImageError> {
    let mut contents = spec.extra.clone();
    contents.insert(
        &spec.wasm_path,
        EntryKind::File {
            data: spec.wasm.clone(),
            executable: true,
        },
    )?;
    let layer = contents.build(spec.epoch, spec.compression)?;
    let created = rfc3339(spec.epoch);
    let mut diff_ids = vec![layer.diff_id.clone()];
    let mut history = vec![HistoryBuilder::default()
        .created(created.clone())
        .created_by(format!("wasmpack build {}", spec.wasm_path))
        .comment("wasmpack")
        .build()?];
    let mut layers = vec![(layer.blob, BTreeMap::new())];
    for artifact in &spec.aot {
        let mut contents = LayerContents::default();
        let data = artifact.bytes.clone();
        contents.insert(
            &artifact.path,
            EntryKind::File {
                data,
                executable: false,
            },
        )?;
        if let Some((path, data)) = &artifact.facts {
            let data = data.clone();
            contents.insert(
                path,
                EntryKind::File {
                    data,
                    executable: false,
                },
            )?;
        }
        let aot_layer = contents.build(spec.epoch, spec.compression)?;
        diff_ids.push(aot_layer.diff_id.clone());
        history.push(
            HistoryBuilder::default()
                .created(created.clone())
                .created_by(format!("wasmpack build --aot: {}", artifact.path))
                .comment("wasmpack")
                .build()?,
        );
        layers.push((aot_layer.blob, artifact.annotations.clone()));
    }

    let mut runtime = ConfigBuilder::default().entrypoint(vec![spec.wasm_path.clone()]);
    if !spec.cmd.is_empty() {
        runtime = runtime.cmd(spec.cmd.clone());
    }
    if !spec.env.is_empty() {
        runtime = runtime.env(spec.env.clone());
    }
    if let Some(dir) = &spec.workdir {
        runtime = runtime.working_dir(dir.clone());
    }
    if !spec.labels.is_empty() {
        runtime = runtime.labels(to_hash_map(&spec.labels));
    }
    let config = ImageConfigurationBuilder::default()
        .created(created.clone())
        .architecture(Arch::Wasm)
        .os(Os::Other(spec.os.as_str().to_string()))
        .config(runtime.build()?)
        .rootfs(
            RootFsBuilder::default()
                .typ("layers")
                .diff_ids(diff_ids)
                .build()?,
        )
        .history(history)
        .build()?;
    let config = Blob::new(MediaType::ImageConfig.to_string(), canonical_json(&config));
    assemble(spec, config, layers)
}

/// The config of the CNCF wasm OCI artifact (`application/vnd.wasm.config.v0+json`).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WasmArtifactConfig {
    created: String,
    architecture: &'static str,
    os: &'static str,
    layer_digests: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    component: Option<ArtifactComponent>,
}

#[derive(Serialize)]
struct ArtifactComponent {
    imports: Vec<String>,
}

fn build_artifact(spec: &ImageSpec) -> Result<Image, ImageError> {
    for (given, what) in [
        (!spec.extra.is_empty(), "extra files"),
        (!spec.cmd.is_empty(), "a command"),
        (!spec.env.is_empty(), "environment variables"),
        (spec.workdir.is_some(), "a working directory"),
        (!spec.labels.is_empty(), "labels (use annotations)"),
        (!spec.aot.is_empty(), "AOT layers (use the image format)"),
    ] {
        if given {
            return Err(ImageError::ArtifactExtras(what));
        }
    }
    let layer = Blob::new(MEDIA_TYPE_WASM_LAYER, spec.wasm.clone());
    let component = spec
        .facts
        .as_ref()
        .filter(|f| f.kind == WasmKind::Component)
        .map(|f| ArtifactComponent {
            imports: f.imports.clone(),
        });
    // The artifact spec names the WASI generation; a plain `wasi` request is
    // answered from what the module imports.
    let os = match spec.os {
        WasiOs::Wasi if component.is_some() => "wasip2",
        WasiOs::Wasi => "wasip1",
        other => other.as_str(),
    };
    let config = WasmArtifactConfig {
        created: rfc3339(spec.epoch),
        architecture: "wasm",
        os,
        layer_digests: vec![layer.digest.clone()],
        component,
    };
    let config = Blob::new(MEDIA_TYPE_WASM_CONFIG, canonical_json(&config));
    assemble(spec, config, vec![(layer, BTreeMap::new())])
}

/// Writes the manifest over the config and the layers (each with its
/// descriptor annotations).
fn assemble(
    spec: &ImageSpec,
    config: Blob,
    layers: Vec<(Blob, BTreeMap<String, String>)>,
) -> Result<Image, ImageError> {
    let descriptors = layers
        .iter()
        .map(|(blob, annotations)| {
            let mut descriptor = descriptor_of(blob);
            if !annotations.is_empty() {
                descriptor.set_annotations(Some(to_hash_map(annotations)));
            }
            descriptor
        })
        .collect::<Vec<_>>();
    let mut manifest = ImageManifestBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageManifest)
        .config(descriptor_of(&config))
        .layers(descriptors);
    if !spec.annotations.is_empty() {
        manifest = manifest.annotations(to_hash_map(&spec.annotations));
    }
    let manifest = Blob::new(
        MediaType::ImageManifest.to_string(),
        canonical_json(&manifest.build()?),
    );
    Ok(Image {
        manifest,
        config,
        layers: layers.into_iter().map(|(blob, _)| blob).collect(),
        platform: spec.os.platform(),
    })
}

/// The descriptor of a blob we made (so its digest is well formed).
pub fn descriptor_of(blob: &Blob) -> Descriptor {
    let digest: oci_spec::image::Digest = blob
        .digest
        .parse()
        .expect("digests computed here are well formed");
    Descriptor::new(MediaType::from(blob.media_type.as_str()), blob.size, digest)
}

/// The blob a descriptor names, holding `data` (already checked against
/// the descriptor by the caller): the inverse of [`descriptor_of`].
pub fn blob_of(descriptor: &Descriptor, data: Vec<u8>) -> Blob {
    Blob {
        media_type: descriptor.media_type().to_string(),
        digest: descriptor.digest().to_string(),
        size: descriptor.size(),
        data,
    }
}

/// JSON with every object's keys sorted and no insignificant white space.
///
/// oci-spec keeps annotations and labels in hash maps, whose iteration order
/// changes from run to run; sorting makes the bytes, and so the digest, a
/// function of the content alone.
pub fn canonical_json<T: Serialize>(value: &T) -> Vec<u8> {
    fn sorted(value: serde_json::Value) -> serde_json::Value {
        match value {
            serde_json::Value::Object(map) => {
                let ordered: BTreeMap<String, serde_json::Value> =
                    map.into_iter().map(|(k, v)| (k, sorted(v))).collect();
                serde_json::Value::Object(ordered.into_iter().collect())
            }
            serde_json::Value::Array(items) => {
                serde_json::Value::Array(items.into_iter().map(sorted).collect())
            }
            other => other,
        }
    }
    let value = serde_json::to_value(value).expect("OCI types serialize to JSON");
    serde_json::to_vec(&sorted(value)).expect("a JSON value serializes")
}

fn to_hash_map(map: &BTreeMap<String, String>) -> HashMap<String, String> {
    map.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// `1970-01-01T00:00:00Z` style timestamp for `epoch` seconds.
pub fn rfc3339(epoch: u64) -> String {
    let secs = i64::try_from(epoch).unwrap_or(i64::MAX);
    chrono::DateTime::from_timestamp(secs, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::image::{ImageConfiguration, ImageManifest};
    use std::path::Path;
    use wasmpack_wasm::{test_modules::hello_wasm, validate};

    fn spec() -> ImageSpec {
        let wasm = hello_wasm();
        ImageSpec {
            facts: Some(validate(Path::new("hello.wasm"), &wasm).unwrap()),
            wasm,
            wasm_path: "/hello.wasm".into(),
            ..Default::default()
        }
    }

    #[test]
    fn config_says_wasi_wasm_and_carries_the_runtime_settings() {
        let mut spec = spec();
        spec.cmd = vec!["--greet".into(), "world".into()];
        spec.env = vec!["A=1".into()];
        spec.workdir = Some("/data".into());
        spec.labels.insert("org.example.k".into(), "v".into());
        let image = build_image(&spec).unwrap();
        let config: ImageConfiguration = serde_json::from_slice(&image.config.data).unwrap();
        assert_eq!(config.os(), &Os::Other("wasi".into()));
        assert_eq!(config.architecture(), &Arch::Wasm);
        let runtime = config.config().as_ref().unwrap();
        assert_eq!(
            runtime.entrypoint().as_deref(),
            Some(&["/hello.wasm".to_string()][..])
        );
        assert_eq!(runtime.cmd().as_ref().unwrap(), &spec.cmd);
        assert_eq!(runtime.env().as_ref().unwrap(), &spec.env);
        assert_eq!(runtime.working_dir().as_deref(), Some("/data"));
        assert_eq!(runtime.labels().as_ref().unwrap()["org.example.k"], "v");
        assert_eq!(config.rootfs().diff_ids().len(), 1);
        assert_eq!(config.created().as_deref(), Some("1970-01-01T00:00:00Z"));

        let manifest: ImageManifest = serde_json::from_slice(&image.manifest.data).unwrap();
        assert_eq!(manifest.config().digest().to_string(), image.config.digest);
        assert_eq!(manifest.layers().len(), 1);
        assert_eq!(
            manifest.layers()[0].digest().to_string(),
            image.layers[0].digest
        );
        assert_eq!(
            manifest.layers()[0].media_type(),
            &MediaType::ImageLayerGzip
        );
    }

    #[test]
    fn same_inputs_same_digests_and_annotations_do_not_reorder() {
        let mut a = spec();
        let mut b = spec();
        for i in 0..20 {
            a.annotations.insert(format!("k{i}"), format!("{i}"));
            a.labels.insert(format!("l{i}"), format!("{i}"));
        }
        for i in (0..20).rev() {
            b.annotations.insert(format!("k{i}"), format!("{i}"));
            b.labels.insert(format!("l{i}"), format!("{i}"));
        }
        assert_eq!(
            build_image(&a).unwrap().manifest.digest,
            build_image(&b).unwrap().manifest.digest
        );
        b.epoch = 1;
        assert_ne!(
            build_image(&a).unwrap().manifest.digest,
            build_image(&b).unwrap().manifest.digest
        );
    }

    #[test]
    fn the_platform_is_selectable() {
        let mut s = spec();
        s.os = "wasip2/wasm".parse().unwrap();
        let image = build_image(&s).unwrap();
        let config: ImageConfiguration = serde_json::from_slice(&image.config.data).unwrap();
        assert_eq!(config.os(), &Os::Other("wasip2".into()));
        assert_eq!(
            image.descriptor().platform().as_ref().unwrap().os(),
            &Os::Other("wasip2".into())
        );
        assert!("linux/amd64".parse::<WasiOs>().is_err());
    }

    #[test]
    fn artifact_has_the_wasm_config_and_the_module_as_its_layer() {
        let mut s = spec();
        s.format = ImageFormat::Artifact;
        let image = build_image(&s).unwrap();
        assert_eq!(image.config.media_type, MEDIA_TYPE_WASM_CONFIG);
        assert_eq!(image.layers[0].media_type, MEDIA_TYPE_WASM_LAYER);
        assert_eq!(image.layers[0].data, s.wasm);
        let config: serde_json::Value = serde_json::from_slice(&image.config.data).unwrap();
        assert_eq!(config["os"], "wasip1");
        assert_eq!(config["architecture"], "wasm");
        assert_eq!(config["layerDigests"][0], image.layers[0].digest.as_str());
        let manifest: serde_json::Value = serde_json::from_slice(&image.manifest.data).unwrap();
        assert_eq!(manifest["config"]["mediaType"], MEDIA_TYPE_WASM_CONFIG);

        s.cmd = vec!["x".into()];
        assert!(matches!(
            build_image(&s),
            Err(ImageError::ArtifactExtras(_))
        ));
    }

    #[test]
    fn aot_artifacts_get_a_layer_each_with_their_annotations() {
        let mut s = spec();
        s.aot = vec![AotArtifact {
            path: "/hello.x86_64-unknown-linux-gnu.cwasm".into(),
            bytes: b"\x7fELF native".to_vec(),
            annotations: BTreeMap::from([(
                "dev.wasmpack.aot.target".to_string(),
                "x86_64-unknown-linux-gnu".to_string(),
            )]),
            facts: Some((
                "/hello.x86_64-unknown-linux-gnu.cwasm.json".into(),
                b"{}".to_vec(),
            )),
        }];
        let image = build_image(&s).unwrap();
        assert_eq!(image.layers.len(), 2);
        let manifest: serde_json::Value = serde_json::from_slice(&image.manifest.data).unwrap();
        assert!(
            manifest["layers"][0].get("annotations").is_none(),
            "the wasm layer stays plain"
        );
        assert_eq!(
            manifest["layers"][1]["annotations"]["dev.wasmpack.aot.target"],
            "x86_64-unknown-linux-gnu"
        );
        let config: serde_json::Value = serde_json::from_slice(&image.config.data).unwrap();
        assert_eq!(config["rootfs"]["diff_ids"].as_array().unwrap().len(), 2);
        assert_eq!(config["history"].as_array().unwrap().len(), 2);
        s.format = ImageFormat::Artifact;
        assert!(build_image(&s).unwrap_err().to_string().contains("AOT"));
    }

    #[test]
    fn canonical_json_sorts_keys_at_every_depth() {
        let mut inner = HashMap::new();
        inner.insert("b", 1);
        inner.insert("a", 2);
        let mut outer = HashMap::new();
        outer.insert("z", inner.clone());
        outer.insert("y", inner);
        assert_eq!(
            String::from_utf8(canonical_json(&outer)).unwrap(),
            r#"{"y":{"a":2,"b":1},"z":{"a":2,"b":1}}"#
        );
    }

    #[test]
    fn timestamps_are_utc_rfc3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
    }
}
