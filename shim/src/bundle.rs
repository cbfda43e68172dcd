//! The OCI bundle's runtime spec (`config.json`), as the host side reads
//! and amends it before the container is created. It stays JSON: fields
//! this crate does not know pass through untouched.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not a runtime spec: {reason}")]
    Invalid { path: PathBuf, reason: String },
}

/// A bundle's `config.json`, loaded.
#[derive(Debug, Clone)]
pub struct BundleSpec {
    dir: PathBuf,
    spec: Value,
}

impl BundleSpec {
    pub fn load(dir: &Path) -> Result<Self, BundleError> {
        let path = dir.join("config.json");
        let text = std::fs::read(&path).map_err(|source| BundleError::Io {
            path: path.clone(),
            source,
        })?;
        let spec: Value = serde_json::from_slice(&text).map_err(|e| BundleError::Invalid {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        if !spec.is_object() {
            return Err(BundleError::Invalid {
                path,
                reason: "not a JSON object".into(),
            });
        }
        Ok(Self {
            dir: dir.to_path_buf(),
            spec,
        })
    }

    /// A spec annotation (`docker run --annotation`, a Kubernetes pod
    /// annotation that containerd lets through).
    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.spec.pointer("/annotations")?.get(key)?.as_str()
    }

    /// The container's root on the host (`root.path`, relative to the
    /// bundle unless absolute).
    pub fn rootfs(&self) -> Option<PathBuf> {
        let path = self.spec.pointer("/root/path")?.as_str()?;
        Some(self.dir.join(path))
    }

    /// `process.args[0]` without a `#function` suffix: the module's path as
    /// the container will see it, made absolute against `process.cwd`.
    pub fn module_path(&self) -> Option<String> {
        let arg0 = self.spec.pointer("/process/args/0")?.as_str()?;
        let path = arg0.split('#').next().unwrap_or(arg0);
        if path.is_empty() {
            return None;
        }
        if path.starts_with('/') {
            return Some(path.to_string());
        }
        let cwd = self
            .spec
            .pointer("/process/cwd")
            .and_then(Value::as_str)
            .unwrap_or("/");
        Some(format!("{}/{path}", cwd.trim_end_matches('/')))
    }

    /// Removes every `NAME=...` from the process environment (only the
    /// host side may set `NAME`, never the image or the user); says whether
    /// there was one.
    pub fn remove_env(&mut self, name: &str) -> bool {
        let prefix = format!("{name}=");
        let Some(env) = self
            .spec
            .pointer_mut("/process/env")
            .and_then(Value::as_array_mut)
        else {
            return false;
        };
        let before = env.len();
        env.retain(|entry| {
            !entry
                .as_str()
                .is_some_and(|e| e.starts_with(&prefix) || e == name)
        });
        env.len() != before
    }

    /// Appends a `NAME=value` entry to the process environment.
    pub fn push_env(&mut self, entry: &str) {
        let entry = Value::String(entry.to_string());
        match self
            .spec
            .pointer_mut("/process/env")
            .and_then(Value::as_array_mut)
        {
            Some(env) => env.push(entry),
            None => {
                if let Some(process) = self.spec.get_mut("process").and_then(Value::as_object_mut) {
                    process.insert("env".into(), Value::Array(vec![entry]));
                }
            }
        }
    }

    /// Adds a read-only bind mount of the host file `source` at
    /// `destination`, after the spec's own mounts (so over them).
    pub fn add_read_only_bind(&mut self, source: &Path, destination: &str) {
        let mount = json!({
            "destination": destination,
            "type": "bind",
            "source": source.to_string_lossy(),
            // Not noexec: wasmtime maps the code executable.
            "options": ["bind", "ro", "nosuid", "nodev"],
        });
        match self.spec.get_mut("mounts").and_then(Value::as_array_mut) {
            Some(mounts) => mounts.push(mount),
            None => {
                if let Some(spec) = self.spec.as_object_mut() {
                    spec.insert("mounts".into(), Value::Array(vec![mount]));
                }
            }
        }
    }

    /// Writes `config.json` back, atomically: the runtime never reads half.
    pub fn save(&self) -> Result<(), BundleError> {
        let path = self.dir.join("config.json");
        let io_err = |source| BundleError::Io {
            path: path.clone(),
            source,
        };
        let mut tmp = tempfile::NamedTempFile::new_in(&self.dir).map_err(io_err)?;
        // A JSON value always serializes.
        tmp.write_all(&serde_json::to_vec(&self.spec).unwrap_or_default())
            .map_err(io_err)?;
        tmp.persist(&path).map_err(|e| io_err(e.error))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bundle(spec: Value) -> (tempfile::TempDir, BundleSpec) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("config.json"), spec.to_string()).unwrap();
        let loaded = BundleSpec::load(dir.path()).unwrap();
        (dir, loaded)
    }

    #[test]
    fn reads_what_the_host_side_needs() {
        let (dir, spec) = bundle(json!({
            "root": {"path": "rootfs"},
            "process": {"args": ["app/hello.wasm#main", "x"], "cwd": "/srv/", "env": []},
            "annotations": {"dev.wasmpack.trust-aot": "true"},
        }));
        assert_eq!(
            spec.rootfs(),
            Some(dir.path().join("rootfs")),
            "relative to the bundle"
        );
        assert_eq!(spec.module_path().as_deref(), Some("/srv/app/hello.wasm"));
        assert_eq!(spec.annotation("dev.wasmpack.trust-aot"), Some("true"));
        assert_eq!(spec.annotation("other"), None);

        let (_dir, spec) = bundle(
            json!({"root": {"path": "/var/lib/x/rootfs"}, "process": {"args": ["/hello.wasm"]}}),
        );
        assert_eq!(
            spec.rootfs(),
            Some(PathBuf::from("/var/lib/x/rootfs")),
            "Docker's absolute root"
        );
        assert_eq!(spec.module_path().as_deref(), Some("/hello.wasm"));
        assert_eq!(spec.annotation("dev.wasmpack.trust-aot"), None);
    }

    #[test]
    fn the_control_variable_is_ours_alone_and_the_mount_comes_last() {
        let (dir, mut spec) = bundle(json!({
            "root": {"path": "rootfs"},
            "process": {"args": ["/a.wasm"], "env": ["PATH=/bin", "CTL=from-image", "CTL", "CTL=from-user", "CTLX=kept"]},
            "mounts": [{"destination": "/dev", "type": "tmpfs", "source": "tmpfs"}],
            "unknownField": {"kept": true},
        }));
        assert!(spec.remove_env("CTL"));
        assert!(!spec.remove_env("CTL"));
        spec.save().unwrap();
        let saved: Value =
            serde_json::from_slice(&std::fs::read(dir.path().join("config.json")).unwrap())
                .unwrap();
        assert_eq!(saved["process"]["env"], json!(["PATH=/bin", "CTLX=kept"]));

        spec.push_env("CTL=cache hit");
        spec.add_read_only_bind(Path::new("/var/cache/x.cwasm"), "/dev/code.cwasm");
        spec.save().unwrap();
        let saved: Value =
            serde_json::from_slice(&std::fs::read(dir.path().join("config.json")).unwrap())
                .unwrap();
        assert_eq!(
            saved["process"]["env"],
            json!(["PATH=/bin", "CTLX=kept", "CTL=cache hit"])
        );
        assert_eq!(
            saved["mounts"][1]["destination"], "/dev/code.cwasm",
            "after /dev, so it is not hidden"
        );
        assert_eq!(
            saved["mounts"][1]["options"],
            json!(["bind", "ro", "nosuid", "nodev"])
        );
        assert_eq!(
            saved["unknownField"],
            json!({"kept": true}),
            "unknown fields pass through"
        );
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temporary file left"
        );
    }

    #[test]
    fn a_broken_spec_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            BundleSpec::load(dir.path()),
            Err(BundleError::Io { .. })
        ));
        std::fs::write(dir.path().join("config.json"), "[1]").unwrap();
        assert!(matches!(
            BundleSpec::load(dir.path()),
            Err(BundleError::Invalid { .. })
        ));
    }
}
