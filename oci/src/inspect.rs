//! What `wasmpack inspect` reports about an image: its manifest, config and
//! layers, and the facts about the wasm module its entrypoint names.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use crate::image::{Image, MEDIA_TYPE_WASM_CONFIG, MEDIA_TYPE_WASM_LAYER};
use crate::unpack::{read_file, UnpackError, UnpackLimits};
use wasmpack_wasm::{validate, WasmError, WasmFacts};

/// Why an image could not be described.
#[derive(Debug, thiserror::Error)]
pub enum InspectError {
    #[error("the manifest is not valid JSON: {0}")]
    Manifest(serde_json::Error),
    #[error("the config is not valid JSON: {0}")]
    Config(serde_json::Error),
    #[error("reading the entrypoint out of its layer")]
    Layer(#[from] UnpackError),
}

/// The report, in the shape `--json` prints it.
#[derive(Debug, Clone, Serialize)]
pub struct ImageReport {
    pub digest: String,
    pub media_type: String,
    pub platform: String,
    pub config_media_type: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub entrypoint: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cmd: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workdir: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub layers: Vec<LayerReport>,
    /// The entrypoint module's facts…
    pub wasm: Option<WasmFacts>,
    /// …or why there are none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wasm_error: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LayerReport {
    pub digest: String,
    pub media_type: String,
    pub size: u64,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// Only the fields inspect reads; everything else in the documents is ignored.
#[derive(serde::Deserialize, Default)]
struct Manifest {
    #[serde(default)]
    annotations: BTreeMap<String, String>,
    #[serde(default)]
    layers: Vec<ManifestLayer>,
}

#[derive(serde::Deserialize)]
struct ManifestLayer {
    #[serde(default)]
    annotations: BTreeMap<String, String>,
}

#[derive(serde::Deserialize, Default)]
struct ConfigFile {
    #[serde(default)]
    config: RuntimeConfig,
}

#[derive(serde::Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct RuntimeConfig {
    entrypoint: Option<Vec<String>>,
    cmd: Option<Vec<String>>,
    env: Option<Vec<String>>,
    working_dir: Option<String>,
    labels: Option<BTreeMap<String, String>>,
}

/// Describes `image`, validating the module its entrypoint names (read out
/// of its layer within `limits`).
pub fn describe(image: &Image, limits: UnpackLimits) -> Result<ImageReport, InspectError> {
    let manifest: Manifest =
        serde_json::from_slice(&image.manifest.data).map_err(InspectError::Manifest)?;
    let is_artifact = image.config.media_type == MEDIA_TYPE_WASM_CONFIG;
    let runtime = if is_artifact {
        RuntimeConfig::default()
    } else {
        serde_json::from_slice::<ConfigFile>(&image.config.data)
            .map_err(InspectError::Config)?
            .config
    };
    let entrypoint = runtime.entrypoint.unwrap_or_default();
    let wasm = if is_artifact {
        match image
            .layers
            .iter()
            .find(|l| l.media_type == MEDIA_TYPE_WASM_LAYER)
        {
            Some(layer) => {
                validate(Path::new(&layer.digest), &layer.data).map_err(|e| e.to_string())
            }
            None => Err("the artifact has no application/wasm layer".to_string()),
        }
    } else {
        entrypoint_facts(image, entrypoint.first().map(String::as_str), limits)?
    };
    let layers = image
        .layers
        .iter()
        .enumerate()
        .map(|(i, blob)| LayerReport {
            digest: blob.digest.clone(),
            media_type: blob.media_type.clone(),
            size: blob.size,
            annotations: manifest
                .layers
                .get(i)
                .map(|l| l.annotations.clone())
                .unwrap_or_default(),
        })
        .collect();
    Ok(ImageReport {
        digest: image.manifest.digest.clone(),
        media_type: image.manifest.media_type.clone(),
        platform: format!("{}/{}", image.platform.os(), image.platform.architecture()),
        config_media_type: image.config.media_type.clone(),
        entrypoint,
        cmd: runtime.cmd.unwrap_or_default(),
        env: runtime.env.unwrap_or_default(),
        workdir: runtime.working_dir,
        labels: runtime.labels.unwrap_or_default(),
        annotations: manifest.annotations,
        layers,
        wasm_error: wasm.as_ref().err().cloned(),
        wasm: wasm.ok(),
    })
}

/// Validates the file at the entrypoint path, as the top layer holding it
/// has it.
fn entrypoint_facts(
    image: &Image,
    entrypoint: Option<&str>,
    limits: UnpackLimits,
) -> Result<Result<WasmFacts, String>, InspectError> {
    let Some(path) = entrypoint else {
        return Ok(Err("the image has no entrypoint".to_string()));
    };
    let mut found = None;
    for layer in &image.layers {
        if let Some(data) = read_file(layer, path, limits)? {
            found = Some(data);
        }
    }
    Ok(match found {
        Some(data) => validate(Path::new(path), &data).map_err(|e: WasmError| e.to_string()),
        None => Err(format!("{path}: the entrypoint is not a file in the image")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::{build_image, ImageFormat, ImageSpec};
    use wasmpack_wasm::test_modules::hello_wasm;
    use wasmpack_wasm::WasiVersion;

    fn spec() -> ImageSpec {
        ImageSpec {
            wasm: hello_wasm(),
            wasm_path: "/app/hello.wasm".into(),
            cmd: vec!["a".into()],
            ..Default::default()
        }
    }

    #[test]
    fn reports_the_entrypoint_module_and_runtime_settings() {
        let mut spec = spec();
        spec.annotations
            .insert("org.opencontainers.image.source".into(), "x".into());
        let report = describe(&build_image(&spec).unwrap(), UnpackLimits::default()).unwrap();
        assert_eq!(report.platform, "wasi/wasm");
        assert_eq!(report.entrypoint, ["/app/hello.wasm"]);
        assert_eq!(report.cmd, ["a"]);
        assert_eq!(report.layers.len(), 1);
        assert_eq!(report.annotations["org.opencontainers.image.source"], "x");
        let facts = report.wasm.unwrap();
        assert_eq!(facts.wasi, Some(WasiVersion::Preview1));
        assert!(facts.has_start);
    }

    #[test]
    fn an_entrypoint_that_is_not_wasm_is_reported() {
        let mut spec = spec();
        spec.wasm = b"#!/bin/sh\n".to_vec();
        let report = describe(&build_image(&spec).unwrap(), UnpackLimits::default()).unwrap();
        assert!(report.wasm.is_none());
        assert!(report.wasm_error.unwrap().contains("not a wasm binary"));
    }

    #[test]
    fn artifacts_report_their_module() {
        let mut spec = spec();
        spec.cmd.clear();
        spec.format = ImageFormat::Artifact;
        let report = describe(&build_image(&spec).unwrap(), UnpackLimits::default()).unwrap();
        assert_eq!(report.config_media_type, MEDIA_TYPE_WASM_CONFIG);
        assert!(report.wasm.unwrap().has_start);
    }
}
