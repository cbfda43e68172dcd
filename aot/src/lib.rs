//! Ahead-of-time compilation for wasm images: wasmtime precompiles a module
//! (or component) for a target triple, on any host, and the result goes
//! into its own image layer beside the portable module, annotated with what
//! a runner must match before it may load it: the target, the wasmtime
//! version, the engine's compatibility hash and the digest of the wasm it
//! was compiled from.
//!
//! One engine configuration ([`engine_config`]) serves both precompiling
//! and running, so that an artifact made here is accepted by a runner built
//! from this workspace on the same architecture.

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};

use sha2::{Digest as _, Sha256};
use wasmtime::{Config, Engine};

/// The wasmtime this crate is pinned to (see Cargo.toml).
pub const WASMTIME_VERSION: &str = "48.0.8";

/// Layer annotations of an AOT layer.
pub const ANNOTATION_TARGET: &str = "dev.wasmpack.aot.target";
pub const ANNOTATION_WASMTIME_VERSION: &str = "dev.wasmpack.aot.wasmtime-version";
pub const ANNOTATION_ENGINE_HASH: &str = "dev.wasmpack.aot.engine-hash";
pub const ANNOTATION_WASM_DIGEST: &str = "dev.wasmpack.aot.wasm-digest";
/// The artifact's own sha256, in its facts file (a manifest names the
/// layer's digest instead).
pub const ANNOTATION_ARTIFACT_DIGEST: &str = "dev.wasmpack.aot.artifact-digest";

/// BuildKit lets a frontend annotate the manifest but not single layers,
/// so images from the wasmpack frontend carry each AOT layer's annotations
/// on the manifest, keyed by the layer's index:
/// `dev.wasmpack.aot.layer.<index>.target` stands for the layer's
/// `dev.wasmpack.aot.target`, and so on.
const MANIFEST_LAYER_PREFIX: &str = "dev.wasmpack.aot.layer.";
const LAYER_PREFIX: &str = "dev.wasmpack.aot.";

/// The manifest annotation that stands for layer `index`'s annotation `key`.
pub fn manifest_annotation(index: usize, key: &str) -> String {
    let suffix = key.strip_prefix(LAYER_PREFIX).unwrap_or(key);
    format!("{MANIFEST_LAYER_PREFIX}{index}.{suffix}")
}

/// Layer `index`'s AOT annotations: its `own` (descriptor annotations, as
/// `wasmpack build` writes them), else what the `manifest`'s annotations say
/// of it (the frontend's images); empty for a layer that is no AOT layer.
pub fn aot_layer_annotations<'a>(
    own: impl IntoIterator<Item = (&'a String, &'a String)>,
    manifest: impl IntoIterator<Item = (&'a String, &'a String)>,
    index: usize,
) -> BTreeMap<String, String> {
    let own: BTreeMap<String, String> = own
        .into_iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if own.contains_key(ANNOTATION_TARGET) {
        return own;
    }
    let from_manifest = layer_annotations_in_manifest(manifest, index);
    match from_manifest.contains_key(ANNOTATION_TARGET) {
        true => from_manifest,
        false => BTreeMap::new(),
    }
}

/// Layer `index`'s annotations as the manifest's annotations give them
/// (empty when it names none).
fn layer_annotations_in_manifest<'a>(
    manifest: impl IntoIterator<Item = (&'a String, &'a String)>,
    index: usize,
) -> BTreeMap<String, String> {
    let prefix = format!("{MANIFEST_LAYER_PREFIX}{index}.");
    manifest
        .into_iter()
        .filter_map(|(key, value)| {
            let suffix = key.strip_prefix(&prefix)?;
            Some((format!("{LAYER_PREFIX}{suffix}"), value.clone()))
        })
        .collect()
}

/// Short names accepted for `--aot`, and the triples they stand for.
const ALIASES: &[(&str, &str)] = &[
    ("x86_64", "x86_64-unknown-linux-gnu"),
    ("amd64", "x86_64-unknown-linux-gnu"),
    ("aarch64", "aarch64-unknown-linux-gnu"),
    ("arm64", "aarch64-unknown-linux-gnu"),
    ("riscv64", "riscv64gc-unknown-linux-gnu"),
    ("s390x", "s390x-unknown-linux-gnu"),
];

#[derive(Debug, thiserror::Error)]
pub enum AotError {
    #[error("AOT target {target:?}: {reason} (use x86_64, aarch64, riscv64, s390x or a full target triple)")]
    Target { target: String, reason: String },
    #[error("precompiling for {target}: {reason}")]
    Compile { target: String, reason: String },
    #[error("facts file: {0}")]
    Facts(String),
}

/// The target triple for a short name (`x86_64`) or a triple.
pub fn target_triple(name: &str) -> String {
    ALIASES
        .iter()
        .find(|(alias, _)| *alias == name)
        .map_or_else(|| name.to_string(), |(_, triple)| triple.to_string())
}

/// The engine settings shared by precompiling and running. Epoch
/// interruption is on because the runner's `--timeout` uses it, and it
/// changes the generated code (so the compatibility hash).
pub fn engine_config() -> Config {
    let mut config = Config::new();
    config.epoch_interruption(true);
    config
}

/// An engine that compiles for `target` (the host when `None`). An explicit
/// triple means that architecture's baseline, without the CPU features
/// wasmtime would detect on the host: artifacts then load on every machine
/// of the architecture, and a runner checks them with [`host_engine`].
pub fn engine(target: Option<&str>) -> Result<Engine, AotError> {
    let mut config = engine_config();
    let error = |reason: String| AotError::Target {
        target: target.unwrap_or("host").to_string(),
        reason,
    };
    if let Some(triple) = target {
        config.target(triple).map_err(|e| error(e.to_string()))?;
    }
    Engine::new(&config).map_err(|e| error(format!("{e:#}")))
}

/// The engine's compatibility hash as hex: wasmtime hashes what decides
/// whether an artifact fits an engine (version, target, settings); sha256
/// makes that stable to write down and compare.
pub fn compatibility_hash(engine: &Engine) -> String {
    let mut hasher = Sha256Hasher(Sha256::new());
    engine.precompile_compatibility_hash().hash(&mut hasher);
    hex::encode(hasher.0.finalize())
}

/// Feeds `Hash` output into sha256 (std's hashers are not stable across
/// Rust releases).
struct Sha256Hasher(Sha256);

impl Hasher for Sha256Hasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    fn finish(&self) -> u64 {
        // Only the full digest is used; `finish` is never called for it.
        let digest = self.0.clone().finalize();
        u64::from_le_bytes(digest[..8].try_into().unwrap_or_default())
    }
}

/// A module or component compiled for one target.
#[derive(Clone, Debug)]
pub struct Precompiled {
    pub target: String,
    pub bytes: Vec<u8>,
    pub engine_hash: String,
}

impl Precompiled {
    /// The layer annotations a runner matches before loading this artifact;
    /// `wasm_digest` names the module it was compiled from.
    pub fn annotations(&self, wasm_digest: &str) -> BTreeMap<String, String> {
        BTreeMap::from([
            (ANNOTATION_TARGET.to_string(), self.target.clone()),
            (
                ANNOTATION_WASMTIME_VERSION.to_string(),
                WASMTIME_VERSION.to_string(),
            ),
            (ANNOTATION_ENGINE_HASH.to_string(), self.engine_hash.clone()),
            (ANNOTATION_WASM_DIGEST.to_string(), wasm_digest.to_string()),
        ])
    }

    /// The facts file that goes beside the artifact in its layer (see
    /// [`facts_path`]): the annotations plus the artifact's own digest, as
    /// a JSON object.
    pub fn facts(&self, wasm_digest: &str) -> Vec<u8> {
        let mut facts = self.annotations(wasm_digest);
        let digest = format!("sha256:{}", hex::encode(Sha256::digest(&self.bytes)));
        facts.insert(ANNOTATION_ARTIFACT_DIGEST.to_string(), digest);
        // A map of strings always serializes.
        serde_json::to_vec_pretty(&facts).unwrap_or_default()
    }
}

/// Where the facts about the artifact at `artifact_path` sit in the image's
/// files, for runtimes that see only the unpacked image (the containerd
/// shim: Docker does not tell it the image's manifest).
pub fn facts_path(artifact_path: &str) -> String {
    format!("{artifact_path}.json")
}

/// A facts file read back.
pub fn parse_facts(bytes: &[u8]) -> Result<BTreeMap<String, String>, AotError> {
    serde_json::from_slice(bytes).map_err(|e| AotError::Facts(e.to_string()))
}

/// Compiles `wasm` for `target` (a short name or a triple).
pub fn precompile(wasm: &[u8], target: &str) -> Result<Precompiled, AotError> {
    let triple = target_triple(target);
    let engine = engine(Some(&triple))?;
    let compiled = if wasmparser::Parser::is_component(wasm) {
        engine.precompile_component(wasm)
    } else {
        engine.precompile_module(wasm)
    };
    let bytes = compiled.map_err(|e| AotError::Compile {
        target: triple.clone(),
        reason: format!("{e:#}"),
    })?;
    Ok(Precompiled {
        engine_hash: compatibility_hash(&engine),
        target: triple,
        bytes,
    })
}

/// Where a module's artifact for `triple` lives in the image: beside the
/// module, `/app/hello.wasm` -> `/app/hello.x86_64-unknown-linux-gnu.cwasm`.
pub fn artifact_path(module_path: &str, triple: &str) -> String {
    let stem = module_path.strip_suffix(".wasm").unwrap_or(module_path);
    format!("{stem}.{triple}.cwasm")
}

/// The engine a runner loads this host's artifacts with: the host's
/// triple, baseline settings, so its compatibility hash is the one written
/// at precompile time.
pub fn host_engine() -> Result<Engine, AotError> {
    engine(Some(&host_triple()))
}

/// The host's triple as wasmtime names it (for picking an artifact).
pub fn host_triple() -> String {
    let arch = std::env::consts::ARCH;
    let arch = if arch == "riscv64" { "riscv64gc" } else { arch };
    format!("{arch}-unknown-linux-gnu")
}

#[cfg(test)]
mod tests {
    use super::*;

    const HELLO: &str = r#"(module (func (export "_start")) (memory (export "memory") 1))"#;

    #[test]
    fn facts_are_the_annotations_and_the_artifact_digest() {
        let artifact = precompile(&wat::parse_str(HELLO).unwrap(), "x86_64").unwrap();
        let facts = parse_facts(&artifact.facts("sha256:aa")).unwrap();
        let own = format!("sha256:{}", hex::encode(Sha256::digest(&artifact.bytes)));
        assert_eq!(facts[ANNOTATION_ARTIFACT_DIGEST], own);
        let mut rest = facts.clone();
        rest.remove(ANNOTATION_ARTIFACT_DIGEST);
        assert_eq!(rest, artifact.annotations("sha256:aa"));
        assert!(parse_facts(b"[1]").is_err());
        assert_eq!(
            facts_path("/a.x86_64-unknown-linux-gnu.cwasm"),
            "/a.x86_64-unknown-linux-gnu.cwasm.json"
        );
    }

    #[test]
    fn precompiles_for_each_supported_architecture_on_any_host() {
        let wasm = wat::parse_str(HELLO).unwrap();
        let mut hashes = Vec::new();
        for target in ["x86_64", "aarch64", "riscv64", "s390x"] {
            let artifact = precompile(&wasm, target).unwrap();
            assert_eq!(artifact.target, target_triple(target));
            assert!(
                artifact.bytes.starts_with(b"\x7fELF"),
                "{target}: an ELF object"
            );
            hashes.push(artifact.engine_hash);
        }
        hashes.dedup();
        assert_eq!(hashes.len(), 4, "the hash tells targets apart");
    }

    #[test]
    fn layer_annotations_travel_on_the_manifest_by_index() {
        let layer = BTreeMap::from([
            (
                ANNOTATION_TARGET.to_string(),
                "aarch64-unknown-linux-gnu".to_string(),
            ),
            (ANNOTATION_ENGINE_HASH.to_string(), "abc".to_string()),
        ]);
        let mut manifest: BTreeMap<String, String> = layer
            .iter()
            .map(|(k, v)| (manifest_annotation(2, k), v.clone()))
            .collect();
        manifest.insert("dev.wasmpack.aot.layer.12.target".into(), "other".into());
        manifest.insert("org.opencontainers.image.title".into(), "x".into());
        assert_eq!(
            manifest_annotation(2, ANNOTATION_TARGET),
            "dev.wasmpack.aot.layer.2.target"
        );
        assert_eq!(
            layer_annotations_in_manifest(&manifest, 2),
            layer,
            "layer 12 is not layer 2"
        );
        assert!(layer_annotations_in_manifest(&manifest, 1).is_empty());
    }

    #[test]
    fn a_layer_is_an_aot_layer_by_its_own_annotations_or_the_manifests() {
        let target =
            |value: &str| BTreeMap::from([(ANNOTATION_TARGET.to_string(), value.to_string())]);
        let manifest = BTreeMap::from([
            (
                manifest_annotation(2, ANNOTATION_TARGET),
                "aarch64-unknown-linux-gnu".to_string(),
            ),
            (
                manifest_annotation(3, ANNOTATION_ENGINE_HASH),
                "h3".to_string(),
            ),
        ]);
        let own = target("x86_64-unknown-linux-gnu");
        assert_eq!(
            aot_layer_annotations(&own, &manifest, 1),
            own,
            "its own first"
        );
        assert_eq!(aot_layer_annotations(&own, &manifest, 2), own);
        let none = BTreeMap::new();
        assert_eq!(
            aot_layer_annotations(&none, &manifest, 2),
            target("aarch64-unknown-linux-gnu")
        );
        assert!(
            aot_layer_annotations(&none, &manifest, 3).is_empty(),
            "no target: not an AOT layer"
        );
        let unrelated = BTreeMap::from([(
            "org.opencontainers.image.title".to_string(),
            "x".to_string(),
        )]);
        assert!(
            aot_layer_annotations(&unrelated, &none, 0).is_empty(),
            "a file layer"
        );
    }

    #[test]
    fn the_host_engine_loads_what_was_precompiled_for_the_host_and_matches_its_hash() {
        let wasm = wat::parse_str(HELLO).unwrap();
        let artifact = precompile(&wasm, &host_triple()).unwrap();
        let host = host_engine().unwrap();
        assert_eq!(compatibility_hash(&host), artifact.engine_hash);
        // A host-tuned engine (detected CPU features) is another engine.
        assert_ne!(
            compatibility_hash(&engine(None).unwrap()),
            artifact.engine_hash
        );
        // Safety: bytes made just above by this process's wasmtime.
        let module = unsafe { wasmtime::Module::deserialize(&host, &artifact.bytes) }.unwrap();
        assert!(module.get_export("_start").is_some());
        // A foreign-architecture artifact is refused, not run.
        let foreign = precompile(
            &wasm,
            if host_triple().starts_with("x86_64") {
                "aarch64"
            } else {
                "x86_64"
            },
        )
        .unwrap();
        assert_ne!(compatibility_hash(&host), foreign.engine_hash);
        assert!(unsafe { wasmtime::Module::deserialize(&host, &foreign.bytes) }.is_err());
    }

    #[test]
    fn components_precompile_too_and_bad_input_says_why() {
        let component = wat::parse_str("(component)").unwrap();
        assert!(precompile(&component, "x86_64").is_ok());
        let err = precompile(b"not wasm", "x86_64").unwrap_err().to_string();
        assert!(
            err.starts_with("precompiling for x86_64-unknown-linux-gnu:"),
            "{err}"
        );
        let err = precompile(&wat::parse_str(HELLO).unwrap(), "nonsense-arch")
            .unwrap_err()
            .to_string();
        assert!(err.contains("nonsense-arch"), "{err}");
    }

    #[test]
    fn artifacts_sit_beside_their_module() {
        assert_eq!(
            artifact_path("/app/hello.wasm", "aarch64-unknown-linux-gnu"),
            "/app/hello.aarch64-unknown-linux-gnu.cwasm"
        );
        assert_eq!(
            artifact_path("/bin/tool", "x86_64-unknown-linux-gnu"),
            "/bin/tool.x86_64-unknown-linux-gnu.cwasm"
        );
    }
}
