//! The host side. `containerd-shim-wasmpack-v1 start` runs in the bundle
//! before the container exists, as root on the host: it picks the code the
//! way `wasmpack run` does (the image's AOT artifact when the operator
//! trusts it, else this node's compile cache, else a compilation that is
//! then cached) and hands the file to the container read-only. The
//! container never gets write access to the cache.

use std::path::{Path, PathBuf};

use wasmpack_aot::{ANNOTATION_ARTIFACT_DIGEST, ANNOTATION_TARGET};
use wasmpack_oci::digest::sha256_digest;
use wasmpack_runner::select::AotCandidate;
use wasmpack_runner::workload::resolve_inside;
use wasmpack_runner::{
    one_line, AotLayer, LocalCache, ModuleBytes, PathTaken, Runner, TrustPolicy,
};

use crate::bundle::{BundleError, BundleSpec};
use crate::handover::{Handover, CODE_MOUNT, HANDOVER_ENV};

/// The runtime spec annotation by which the operator (never the image)
/// lets an image's precompiled native code run: `docker run --annotation
/// dev.wasmpack.trust-aot=true`, or a pod annotation containerd passes on.
pub const TRUST_ANNOTATION: &str = "dev.wasmpack.trust-aot";

/// Asks for the decision on the container's stderr, like `wasmpack run -v`.
pub const VERBOSE_ANNOTATION: &str = "dev.wasmpack.verbose";

/// This node's compilations, root's alone (see [`LocalCache`]).
pub const CACHE_DIR: &str = "/var/cache/wasmpack";

/// What the host side did for a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Code handed over.
    Handed(Handover),
    /// The container compiles for itself; the handover says why.
    Unprepared(Handover),
    /// The entrypoint is no wasm module (a Linux container, such as a
    /// Kubernetes pause container): nothing to do.
    NotWasm,
}

/// Prepares the bundle in `dir`: strips any handover the spec came with,
/// then mounts the chosen code at [`CODE_MOUNT`] when there is one and
/// writes the new handover.
pub fn prepare_bundle(dir: &Path, cache: &LocalCache) -> Result<Outcome, BundleError> {
    let mut spec = BundleSpec::load(dir)?;
    let stripped = spec.remove_env(HANDOVER_ENV);
    let verbose = spec.annotation(VERBOSE_ANNOTATION) == Some("true");
    let outcome = match choose(&spec, cache) {
        Ok(Some((file, mut handover))) => {
            handover.verbose = verbose;
            spec.add_read_only_bind(&file, CODE_MOUNT);
            Outcome::Handed(handover)
        }
        Ok(None) => Outcome::NotWasm,
        Err(reason) => Outcome::Unprepared(Handover {
            taken: "compiling in the container".into(),
            notes: vec![reason],
            warnings: Vec::new(),
            verbose,
        }),
    };
    if let Outcome::Handed(handover) | Outcome::Unprepared(handover) = &outcome {
        spec.push_env(&handover.to_env());
    }
    if stripped || outcome != Outcome::NotWasm {
        spec.save()?;
    }
    Ok(outcome)
}

/// The file to hand over and the decision, `None` for a container that
/// runs no wasm, or why nothing can be handed over.
fn choose(spec: &BundleSpec, cache: &LocalCache) -> Result<Option<(PathBuf, Handover)>, String> {
    let rootfs = spec.rootfs().ok_or("the spec names no root")?;
    let module_path = spec.module_path().ok_or("the spec names no entrypoint")?;
    // Docker mounts the root before starting the shim; containerd itself
    // (ctr, Kubernetes) mounts it only when the container is created, later.
    let module = resolve_inside(&rootfs, &module_path).map_err(|e| {
        format!(
            "the module is not readable on the host yet ({})",
            one_line(&e)
        )
    })?;
    let bytes = std::fs::read(&module).map_err(|e| format!("{}: {e}", module.display()))?;
    if !bytes.starts_with(b"\0asm") {
        return Ok(None);
    }
    let digest = sha256_digest(&bytes);
    let policy = TrustPolicy {
        trust_all: spec.annotation(TRUST_ANNOTATION) == Some("true"),
        trusted: Vec::new(),
    };
    let aot: Vec<AotLayer> = image_artifact(&rootfs, &module_path).into_iter().collect();
    let runner = Runner::new(policy, Some(cache.clone())).map_err(|e| one_line(&e))?;
    let prepared = runner
        .prepare_wasm(&ModuleBytes::InMemory(bytes), &digest, &aot, None)
        .map_err(|e| one_line(&e))?;
    let file = prepared.file.ok_or_else(|| {
        format!(
            "compiled, but could not keep it: {}",
            prepared.warnings.join("; ")
        )
    })?;
    let taken = match prepared.path {
        PathTaken::Aot { .. } => "image AOT",
        PathTaken::Cached => "cache hit",
        PathTaken::Compiled => "compiled and cached",
        PathTaken::Precompiled => "precompiled file",
    };
    if !matches!(prepared.path, PathTaken::Aot { .. }) {
        // The container's user, whoever it is, reads it through the mount;
        // the cache's folders stay root's alone.
        readable_by_all(&file).map_err(|e| format!("{}: {e}", file.display()))?;
    }
    let handover = Handover {
        taken: taken.to_string(),
        notes: prepared.notes,
        warnings: prepared.warnings,
        verbose: false,
    };
    Ok(Some((file, handover)))
}

/// The image's artifact for this host beside the module, described by its
/// facts file (Docker does not tell a shim the image's manifest, so the
/// layer annotations are read from there), with a defect when the file is
/// not the one the facts describe.
fn image_artifact(rootfs: &Path, module_path: &str) -> Option<AotLayer> {
    let artifact_path = wasmpack_aot::artifact_path(module_path, &wasmpack_aot::host_triple());
    let artifact = resolve_inside(rootfs, &artifact_path).ok()?;
    let facts_path = wasmpack_aot::facts_path(&artifact_path);
    let facts = resolve_inside(rootfs, &facts_path)
        .ok()
        .and_then(|path| std::fs::read(path).ok())
        .ok_or_else(|| format!("{artifact_path} has no readable facts file {facts_path} beside it"))
        .and_then(|bytes| {
            wasmpack_aot::parse_facts(&bytes).map_err(|e| format!("{facts_path}: {e}"))
        });
    let actual = std::fs::read(&artifact)
        .map(|bytes| sha256_digest(&bytes))
        .unwrap_or_default();
    let (mut annotations, defect) = match facts {
        Ok(facts) => {
            let intact = facts.get(ANNOTATION_ARTIFACT_DIGEST) == Some(&actual);
            let defect = (!intact).then(|| format!("{artifact_path} is not the artifact its facts file describes (tampered or stale)"));
            (facts, defect)
        }
        Err(why) => (Default::default(), Some(why)),
    };
    // A defect is reported for this host's file even when the facts do not
    // read, so the target is the one the path says.
    annotations
        .entry(ANNOTATION_TARGET.to_string())
        .or_insert_with(wasmpack_aot::host_triple);
    let candidate = AotCandidate {
        layer_digest: actual,
        annotations,
        defect,
    };
    Some(AotLayer::from_file(candidate, artifact))
}

fn readable_by_all(file: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o644))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const HELLO: &str = r#"(module (func (export "_start")) (memory (export "memory") 1))"#;
    const OTHER: &str = r#"(module (func (export "_start") nop) (memory (export "memory") 2))"#;

    struct Fixture {
        dir: tempfile::TempDir,
        cache: LocalCache,
    }

    impl Fixture {
        /// A bundle whose root holds /app/hello.wasm.
        fn new(env: &[&str], annotations: serde_json::Value) -> Self {
            Self::with_cache(env, annotations, None)
        }

        fn with_cache(
            env: &[&str],
            annotations: serde_json::Value,
            cache: Option<LocalCache>,
        ) -> Self {
            let dir = tempfile::tempdir().unwrap();
            std::fs::create_dir_all(dir.path().join("bundle/rootfs/app")).unwrap();
            std::fs::write(
                dir.path().join("bundle/rootfs/app/hello.wasm"),
                wat::parse_str(HELLO).unwrap(),
            )
            .unwrap();
            let spec = json!({
                "root": {"path": "rootfs"},
                "process": {"args": ["hello.wasm"], "cwd": "/app", "env": env},
                "mounts": [],
                "annotations": annotations,
            });
            std::fs::write(dir.path().join("bundle/config.json"), spec.to_string()).unwrap();
            let cache = cache.unwrap_or_else(|| LocalCache::new(dir.path().join("cache")));
            Self { dir, cache }
        }

        fn bundle(&self) -> PathBuf {
            self.dir.path().join("bundle")
        }

        /// Puts the artifact of `wat` for this host beside the module, with
        /// facts saying it was compiled from `facts_wasm`.
        fn add_artifact(&self, wat: &str, facts_wasm: &[u8]) -> PathBuf {
            let artifact = wasmpack_aot::precompile(
                &wat::parse_str(wat).unwrap(),
                &wasmpack_aot::host_triple(),
            )
            .unwrap();
            let path = wasmpack_aot::artifact_path("/app/hello.wasm", &artifact.target);
            let root = self.bundle().join("rootfs");
            let facts = artifact.facts(&sha256_digest(facts_wasm));
            std::fs::write(
                root.join(wasmpack_aot::facts_path(&path).trim_start_matches('/')),
                facts,
            )
            .unwrap();
            let file = root.join(path.trim_start_matches('/'));
            std::fs::write(&file, &artifact.bytes).unwrap();
            file
        }

        fn prepare(&self) -> Outcome {
            prepare_bundle(&self.bundle(), &self.cache).unwrap()
        }

        fn spec(&self) -> serde_json::Value {
            serde_json::from_slice(&std::fs::read(self.bundle().join("config.json")).unwrap())
                .unwrap()
        }

        fn mounted(&self) -> PathBuf {
            let spec = self.spec();
            let mount = spec["mounts"].as_array().unwrap().last().unwrap().clone();
            assert_eq!(mount["destination"], CODE_MOUNT);
            PathBuf::from(mount["source"].as_str().unwrap())
        }
    }

    fn handed(outcome: Outcome) -> Handover {
        match outcome {
            Outcome::Handed(handover) => handover,
            other => panic!("nothing handed over: {other:?}"),
        }
    }

    #[test]
    fn untrusted_images_compile_once_then_hit_the_cache() {
        let forged = Handover {
            taken: "image AOT".into(),
            ..Handover::default()
        };
        let f = Fixture::new(
            &["PATH=/bin", &forged.to_env()],
            json!({ VERBOSE_ANNOTATION: "true" }),
        );
        let wasm = wat::parse_str(HELLO).unwrap();
        f.add_artifact(HELLO, &wasm);
        let first = handed(f.prepare());
        assert_eq!(first.taken, "compiled and cached");
        assert!(first.verbose);
        assert!(
            first.notes.iter().any(|n| n.contains("not trusted")),
            "{first:?}"
        );
        let engine_hash = wasmpack_aot::compatibility_hash(&wasmpack_aot::host_engine().unwrap());
        let entry = f.cache.compiled_entry(&engine_hash, &sha256_digest(&wasm));
        assert_eq!(f.mounted(), entry);
        assert_eq!(
            f.spec()["process"]["env"],
            json!(["PATH=/bin", first.to_env()]),
            "the forged handover is gone"
        );
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&entry).unwrap().permissions().mode() & 0o777,
            0o644
        );

        // The spec is prepared once per container; a new one for the second.
        let g = Fixture::with_cache(&[], json!({}), Some(f.cache.clone()));
        let second = handed(g.prepare());
        assert_eq!(
            (second.taken.as_str(), second.verbose),
            ("cache hit", false)
        );
        assert_eq!(g.mounted(), entry);
    }

    #[test]
    fn a_trusted_intact_artifact_is_used_and_a_stale_or_tampered_one_is_not() {
        let trust = json!({ TRUST_ANNOTATION: "true" });
        let wasm = wat::parse_str(HELLO).unwrap();

        let f = Fixture::new(&[], trust.clone());
        let artifact = f.add_artifact(HELLO, &wasm);
        assert_eq!(handed(f.prepare()).taken, "image AOT");
        assert_eq!(f.mounted(), artifact);
        assert!(!f.dir.path().join("cache").exists(), "nothing compiled");

        let stale = Fixture::new(&[], trust.clone());
        stale.add_artifact(OTHER, &wat::parse_str(OTHER).unwrap());
        let outcome = handed(stale.prepare());
        assert_eq!(outcome.taken, "compiled and cached");
        assert!(
            !outcome.notes.is_empty() || !outcome.warnings.is_empty(),
            "{outcome:?}"
        );

        let tampered = Fixture::new(&[], trust);
        let file = tampered.add_artifact(HELLO, &wasm);
        let mut bytes = std::fs::read(&file).unwrap();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0xff;
        std::fs::write(&file, bytes).unwrap();
        let outcome = handed(tampered.prepare());
        assert_eq!(outcome.taken, "compiled and cached");
        assert!(
            outcome
                .warnings
                .iter()
                .any(|w| w.contains("tampered or stale")),
            "{outcome:?}"
        );
        assert_ne!(tampered.mounted(), file, "never the tampered file");
    }

    #[test]
    fn linux_containers_and_unmounted_roots_are_left_to_the_container() {
        let f = Fixture::new(&[], json!({}));
        std::fs::write(f.bundle().join("rootfs/app/hello.wasm"), b"\x7fELF").unwrap();
        let before = std::fs::read(f.bundle().join("config.json")).unwrap();
        assert_eq!(f.prepare(), Outcome::NotWasm);
        assert_eq!(
            std::fs::read(f.bundle().join("config.json")).unwrap(),
            before,
            "untouched"
        );

        let forged = Handover::default().to_env();
        let g = Fixture::new(&[&forged], json!({}));
        std::fs::remove_dir_all(g.bundle().join("rootfs/app")).unwrap();
        let Outcome::Unprepared(handover) = g.prepare() else {
            panic!("unprepared")
        };
        assert!(
            handover.notes[0].contains("not readable on the host yet"),
            "{handover:?}"
        );
        assert_eq!(
            g.spec()["process"]["env"],
            json!([handover.to_env()]),
            "the forged handover is replaced"
        );
        assert_eq!(g.spec()["mounts"], json!([]));
    }
}
