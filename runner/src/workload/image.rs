//! An image as a workload: read from a layout or archive (only the blobs
//! it needs) or pulled from a registry; ENTRYPOINT, CMD and Env from its
//! config; its AOT layers told from its file layers.

use std::collections::BTreeMap;

use oci_spec::image::{Descriptor, ImageConfiguration, ImageManifest};
use wasmpack_aot::ANNOTATION_TARGET;
use wasmpack_oci::digest::Blob;
use wasmpack_oci::image::MEDIA_TYPE_WASM_CONFIG;
use wasmpack_oci::image_layer::{ImageLayer, LayerContent};
use wasmpack_oci::layout::{ImageSource, LayerRead, LayoutImage};
use wasmpack_oci::name::parse_reference;
use wasmpack_oci::unpack::{UnpackLimits, ARTIFACT_MODULE_FILE};
use wasmpack_registry::{pull_image, RegistryOptions};

use super::artifact::AotLayer;
use super::{rootfs, Code, Workload};
use crate::layers::LayerStore;
use crate::select::AotCandidate;
use crate::RunError;

/// The image `name` (or the only one) in a layout or archive, reading
/// only the layer blobs that are needed: not those the store holds (a
/// stored layer was verified against the same digest when it was added),
/// except that several file layers are merged in a temporary root, so they
/// are read; an AOT layer's blob may be rejected, which refuses only it.
pub(super) fn read(
    source: &ImageSource,
    name: Option<&str>,
    entrypoint: Option<&str>,
    store: Option<&LayerStore>,
    limits: UnpackLimits,
) -> Result<Workload, RunError> {
    let image = LayoutImage::open(source, name)?;
    let manifest = image.manifest();
    let is_aot: Vec<bool> = (0..manifest.layers().len())
        .map(|i| !aot_annotations(manifest, i).is_empty())
        .collect();
    let file_layers = is_aot.iter().filter(|aot| !**aot).count();
    let stored = |d: &Descriptor| store.is_some_and(|s| s.has(d.digest().as_ref()));
    let layers = manifest
        .layers()
        .iter()
        .enumerate()
        .map(|(index, layer)| {
            let read = match (is_aot[index], stored(layer)) {
                (true, true) => LayerRead::Skip,
                (true, false) => LayerRead::Optional,
                (false, true) if file_layers == 1 => LayerRead::Skip,
                (false, _) => LayerRead::Required,
            };
            image.layer(index, read)
        })
        .collect::<Result<_, _>>()?;
    from_image(
        manifest,
        image.config(),
        layers,
        None,
        entrypoint,
        store,
        limits,
    )
}

/// The image `reference` names, pulled (a pull verifies every blob: a
/// tampered layer fails it).
pub(super) async fn pull(
    reference: &str,
    registry: &RegistryOptions,
    entrypoint: Option<&str>,
    store: Option<&LayerStore>,
    limits: UnpackLimits,
) -> Result<Workload, RunError> {
    let parsed = parse_reference(reference).map_err(|source| RunError::Reference {
        reference: reference.to_string(),
        source,
    })?;
    let image = pull_image(reference, None, registry).await?;
    let origin = format!("{}/{}", parsed.registry(), parsed.repository());
    let manifest =
        ImageManifest::from_reader(image.manifest.data.as_slice()).map_err(RunError::Manifest)?;
    let layers = manifest
        .layers()
        .iter()
        .zip(image.layers)
        .map(|(descriptor, blob)| ImageLayer {
            descriptor: descriptor.clone(),
            content: LayerContent::Verified(blob),
        })
        .collect();
    from_image(
        &manifest,
        &image.config,
        layers,
        Some(origin),
        entrypoint,
        store,
        limits,
    )
}

/// Layer `index`'s AOT annotations (empty for a file layer), in the format
/// the `aot` crate defines.
fn aot_annotations(manifest: &ImageManifest, index: usize) -> BTreeMap<String, String> {
    let own = manifest
        .layers()
        .get(index)
        .and_then(|layer| layer.annotations().as_ref());
    wasmpack_aot::aot_layer_annotations(
        own.into_iter().flatten(),
        manifest.annotations().iter().flatten(),
        index,
    )
}

/// The workload of an image: `layers` are the manifest's, in its order.
fn from_image(
    manifest: &ImageManifest,
    config: &Blob,
    layers: Vec<ImageLayer>,
    origin: Option<String>,
    entrypoint_override: Option<&str>,
    store: Option<&LayerStore>,
    limits: UnpackLimits,
) -> Result<Workload, RunError> {
    let (entrypoint, cmd, env) = if config.media_type == MEDIA_TYPE_WASM_CONFIG {
        (
            vec![format!("/{ARTIFACT_MODULE_FILE}")],
            Vec::new(),
            Vec::new(),
        )
    } else {
        let config = ImageConfiguration::from_reader(config.data.as_slice())
            .map_err(RunError::ImageConfig)?;
        let runtime = config.config().clone().unwrap_or_default();
        let env = runtime
            .env()
            .clone()
            .unwrap_or_default()
            .iter()
            .map(|kv| {
                let (key, value) = wasmpack_oci::key_value::split(kv);
                (key.to_string(), value.to_string())
            })
            .collect();
        (
            runtime.entrypoint().clone().unwrap_or_default(),
            runtime.cmd().clone().unwrap_or_default(),
            env,
        )
    };
    let (entrypoint, cmd) = match entrypoint_override {
        Some(path) => (vec![path.to_string()], Vec::new()),
        None => (entrypoint, cmd),
    };
    let module_path = entrypoint
        .first()
        .or(cmd.first())
        .cloned()
        .ok_or(RunError::NoEntrypoint)?;

    let mut aot = Vec::new();
    let mut files = Vec::new();
    for (index, layer) in layers.into_iter().enumerate() {
        let annotations = aot_annotations(manifest, index);
        if annotations.is_empty() {
            files.push(layer);
            continue;
        }
        let target = annotations
            .get(ANNOTATION_TARGET)
            .map_or("", String::as_str);
        let path = wasmpack_aot::artifact_path(&module_path, target);
        let defect = match &layer.content {
            LayerContent::Rejected(why) => Some(crate::one_line(why)),
            LayerContent::Verified(_) | LayerContent::NotRead => None,
        };
        let candidate = AotCandidate {
            layer_digest: layer.digest(),
            annotations,
            defect,
        };
        aot.push(AotLayer::in_layer(
            candidate,
            layer,
            path,
            store.cloned(),
            limits,
        ));
    }

    let (rootfs, module, digest) = rootfs::unpack(&files, &module_path, store, limits)?;
    Ok(Workload {
        code: Code::Wasm { module, digest },
        entrypoint,
        cmd,
        env,
        rootfs: Some(rootfs),
        aot,
        origin,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmpack_oci::image::{build_image, AotArtifact, ImageSpec};
    use wasmpack_oci::layout::OciLayout;

    /// A layout holding an image of a module and one AOT layer.
    fn layout_with_aot(dir: &std::path::Path) -> wasmpack_oci::image::Image {
        let target = "x86_64-unknown-linux-gnu";
        let image = build_image(&ImageSpec {
            wasm: wat::parse_str("(module)").unwrap(),
            wasm_path: "/hello.wasm".into(),
            aot: vec![AotArtifact {
                path: wasmpack_aot::artifact_path("/hello.wasm", target),
                bytes: b"native".to_vec(),
                annotations: BTreeMap::from([(ANNOTATION_TARGET.to_string(), target.to_string())]),
                facts: None,
            }],
            ..Default::default()
        })
        .unwrap();
        OciLayout::create(dir)
            .unwrap()
            .write_image(&image, None)
            .unwrap();
        image
    }

    #[test]
    fn a_tampered_aot_layer_is_a_defect_and_stored_layers_are_not_read() {
        let dir = tempfile::tempdir().unwrap();
        let layout = dir.path().join("layout");
        let image = layout_with_aot(&layout);
        let source = ImageSource::Layout(layout.clone());
        let blob = |i: usize| {
            OciLayout::open(&layout)
                .unwrap()
                .blob_path(&image.layers[i].digest)
                .unwrap()
        };
        std::fs::write(blob(1), b"tampered").unwrap();
        let workload = read(&source, None, None, None, UnpackLimits::default()).unwrap();
        let defect = workload.aot[0]
            .candidate
            .defect
            .as_deref()
            .unwrap_or_default();
        assert!(
            defect.contains("does not match"),
            "the rejection says why: {defect}"
        );

        // Stored once, the layers' blobs are not read again: damaged, they
        // are not even noticed.
        let store = LayerStore::new(dir.path().join("layers"));
        let mut files = std::fs::read(blob(0)).unwrap();
        read(&source, None, None, Some(&store), UnpackLimits::default()).unwrap();
        files.truncate(1);
        std::fs::write(blob(0), &files).unwrap();
        let workload = read(&source, None, None, Some(&store), UnpackLimits::default()).unwrap();
        assert!(matches!(workload.code, Code::Wasm { .. }));
        assert!(workload.rootfs.unwrap().path().join("hello.wasm").is_file());
        // Without the store the damaged file layer is required: it fails.
        assert!(matches!(
            read(&source, None, None, None, UnpackLimits::default()),
            Err(RunError::Layout(_))
        ));
    }

    #[test]
    fn aot_layers_are_known_by_their_own_annotations_or_the_manifests() {
        let layer = |annotations: &str| {
            format!(
                r#"{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:{}","size":1{annotations}}}"#,
                "a".repeat(64)
            )
        };
        let json = format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
                "config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:{}","size":1}},
                "layers":[{},{},{}],
                "annotations":{{"dev.wasmpack.aot.layer.2.target":"aarch64-unknown-linux-gnu",
                                "dev.wasmpack.aot.layer.2.engine-hash":"h2"}}}}"#,
            "b".repeat(64),
            layer(""),
            layer(r#","annotations":{"dev.wasmpack.aot.target":"x86_64-unknown-linux-gnu"}"#),
            layer(""),
        );
        let manifest = ImageManifest::from_reader(json.as_bytes()).unwrap();
        assert!(
            aot_annotations(&manifest, 0).is_empty(),
            "the module's layer"
        );
        assert_eq!(
            aot_annotations(&manifest, 1)[ANNOTATION_TARGET],
            "x86_64-unknown-linux-gnu"
        );
        let from_manifest = aot_annotations(&manifest, 2);
        assert_eq!(
            from_manifest[ANNOTATION_TARGET],
            "aarch64-unknown-linux-gnu"
        );
        assert_eq!(from_manifest["dev.wasmpack.aot.engine-hash"], "h2");
        assert!(aot_annotations(&manifest, 7).is_empty());
    }
}
