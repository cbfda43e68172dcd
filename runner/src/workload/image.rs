//! An image as a workload: read from a layout or archive (only the blobs
//! the layer store lacks) or pulled from a registry; ENTRYPOINT, CMD and
//! Env from its config; its AOT layers told from its file layers.

use std::collections::BTreeMap;

use oci_spec::image::{Descriptor, ImageConfiguration, ImageManifest};
use wasmpack_aot::ANNOTATION_TARGET;
use wasmpack_oci::image::{Image, MEDIA_TYPE_WASM_CONFIG};
use wasmpack_oci::layout::{read_image_with, ImageSource, LayerRead};
use wasmpack_oci::name::parse_reference;
use wasmpack_oci::unpack::ARTIFACT_MODULE_FILE;
use wasmpack_registry::{pull_image, RegistryOptions};

use super::artifact::AotLayer;
use super::{rootfs, Code, Workload};
use crate::layers::LayerStore;
use crate::select::AotCandidate;
use crate::RunError;

/// The image `name` (or the only one) in a layout or archive.
pub(super) fn read(source: &ImageSource, name: Option<&str>, entrypoint: Option<&str>, store: Option<&LayerStore>) -> Result<Workload, RunError> {
    // Blobs the store holds are not read again: a stored layer was
    // verified against the same digest when it was added. Several file
    // layers are merged in a temporary root, so they are read.
    let stored = |d: &Descriptor| store.is_some_and(|s| s.has(d.digest().as_ref()));
    let plan = |manifest: &ImageManifest, index: usize| {
        let layers = manifest.layers();
        let is_aot = |i: usize| !aot_annotations(manifest, i).is_empty();
        let file_layers = (0..layers.len()).filter(|&i| !is_aot(i)).count();
        match (is_aot(index), stored(&layers[index])) {
            (true, true) => LayerRead::Skip,
            (true, false) => LayerRead::Optional,
            (false, true) if file_layers == 1 => LayerRead::Skip,
            (false, _) => LayerRead::Required,
        }
    };
    let (image, rejected) = read_image_with(source, name, plan)?;
    let defects = rejected.into_iter().map(|r| (r.index, crate::one_line(&r.error))).collect();
    from_image(image, defects, None, entrypoint, store)
}

/// The image `reference` names, pulled (a pull verifies every blob: a
/// tampered layer fails it).
pub(super) async fn pull(
    reference: &str,
    registry: &RegistryOptions,
    entrypoint: Option<&str>,
    store: Option<&LayerStore>,
) -> Result<Workload, RunError> {
    let parsed = parse_reference(reference).map_err(|source| RunError::Reference {
        reference: reference.to_string(),
        source,
    })?;
    let image = pull_image(reference, None, registry).await?;
    let origin = format!("{}/{}", parsed.registry(), parsed.repository());
    from_image(image, Vec::new(), Some(origin), entrypoint, store)
}

/// Layer `index`'s AOT annotations (empty for a file layer), in the format
/// the `aot` crate defines.
fn aot_annotations(manifest: &ImageManifest, index: usize) -> BTreeMap<String, String> {
    let own = manifest.layers().get(index).and_then(|layer| layer.annotations().as_ref());
    wasmpack_aot::aot_layer_annotations(own.into_iter().flatten(), manifest.annotations().iter().flatten(), index)
}

/// `defects`: layer index and why its blob was not usable.
fn from_image(
    image: Image,
    defects: Vec<(usize, String)>,
    origin: Option<String>,
    entrypoint_override: Option<&str>,
    store: Option<&LayerStore>,
) -> Result<Workload, RunError> {
    let manifest = ImageManifest::from_reader(image.manifest.data.as_slice()).map_err(RunError::Manifest)?;
    let (entrypoint, cmd, env) = if image.config.media_type == MEDIA_TYPE_WASM_CONFIG {
        (vec![format!("/{ARTIFACT_MODULE_FILE}")], Vec::new(), Vec::new())
    } else {
        let config = ImageConfiguration::from_reader(image.config.data.as_slice()).map_err(RunError::ImageConfig)?;
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
    let module_path = entrypoint.first().or(cmd.first()).cloned().ok_or(RunError::NoEntrypoint)?;

    let mut aot = Vec::new();
    let mut files = Vec::new();
    for (index, layer) in image.layers.into_iter().enumerate() {
        let annotations = aot_annotations(&manifest, index);
        if annotations.is_empty() {
            files.push(layer);
            continue;
        }
        let target = annotations.get(ANNOTATION_TARGET).map_or("", String::as_str);
        let path = wasmpack_aot::artifact_path(&module_path, target);
        let candidate = AotCandidate {
            layer_digest: layer.digest.clone(),
            annotations,
            defect: defects.iter().find(|(i, _)| *i == index).map(|(_, why)| why.clone()),
        };
        aot.push(AotLayer::in_layer(candidate, layer, path, store.cloned()));
    }

    let (rootfs, module, digest) = rootfs::unpack(&files, &module_path, store)?;
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
        assert!(aot_annotations(&manifest, 0).is_empty(), "the module's layer");
        assert_eq!(aot_annotations(&manifest, 1)[ANNOTATION_TARGET], "x86_64-unknown-linux-gnu");
        let from_manifest = aot_annotations(&manifest, 2);
        assert_eq!(from_manifest[ANNOTATION_TARGET], "aarch64-unknown-linux-gnu");
        assert_eq!(from_manifest["dev.wasmpack.aot.engine-hash"], "h2");
        assert!(aot_annotations(&manifest, 7).is_empty());
    }
}
