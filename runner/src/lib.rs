//! Runs wasm images the way `wasmpack run` and the containerd shim do.
//!
//! The code comes from one of three places, tried in order: the image's
//! precompiled layer for this host ([`select`]: matching target, wasmtime
//! version and engine hash, compiled from exactly the image's module,
//! verified against the manifest, and from a trusted image); this machine's
//! own earlier compilation ([`cache`]); or a fresh compilation, which is
//! then cached. Native code from an image is never loaded otherwise.

pub mod cache;
pub mod exec;
pub mod layers;
pub mod select;
pub mod trust;
pub mod workload;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use wasmtime::component::Component;
use wasmtime::{Engine, Module, Precompiled};

pub use cache::LocalCache;
pub use exec::{Program, RunOptions};
use select::{HostEngine, Verdict};
pub use trust::TrustPolicy;
pub use workload::{AotLayer, Artifact, Code, Input, ModuleBytes, Workload};

/// A cause from wasmtime, whose errors are `anyhow` errors: boxed, with
/// their own chain kept.
pub type Cause = Box<dyn std::error::Error + Send + Sync>;

/// Why a workload could not be loaded, prepared or run. Each message names
/// its own step; the cause, if any, is the error's source (the CLI prints
/// the chain, [`one_line`] writes it into warnings).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("{path}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Layout(#[from] wasmpack_oci::layout::LayoutError),
    #[error(transparent)]
    Registry(#[from] wasmpack_registry::RegistryError),
    #[error(transparent)]
    Unpack(#[from] wasmpack_oci::unpack::UnpackError),
    #[error(transparent)]
    Aot(#[from] wasmpack_aot::AotError),
    #[error("invalid reference {reference:?}")]
    Reference {
        reference: String,
        source: oci_spec::distribution::ParseError,
    },
    #[error("--entrypoint applies to images; a module file is its own entrypoint")]
    EntrypointOfModule,
    #[error("reading the image manifest")]
    Manifest(#[source] oci_spec::OciSpecError),
    #[error("reading the image config")]
    ImageConfig(#[source] oci_spec::OciSpecError),
    #[error("the image has no ENTRYPOINT or CMD naming a module")]
    NoEntrypoint,
    #[error("entrypoint {path}: not in the image")]
    NotInImage {
        path: String,
        source: std::io::Error,
    },
    #[error("entrypoint {path}: resolves to a file outside the image")]
    OutsideImage { path: String },
    #[error("reading entrypoint {path}")]
    Entrypoint {
        path: String,
        source: std::io::Error,
    },
    #[error("layer digest {0} is not sha256")]
    UnstorableDigest(String),
    #[error("stored layer {0} vanished")]
    StoredLayerVanished(String),
    #[error("layer {0} was not read, and the layer store does not hold it")]
    LayerNotRead(String),
    #[error("layer {0} was rejected when read")]
    LayerRejected(String),
    #[error("reading {path} out of its layer")]
    ArtifactRead {
        path: String,
        source: wasmpack_oci::unpack::UnpackError,
    },
    #[error("the layer holds no {0}")]
    ArtifactMissing(String),
    #[error(
        "{0}: precompiled native code runs outside the wasm sandbox; pass --trust-aot to run it"
    )]
    UntrustedPrecompiled(PathBuf),
    #[error("compiling the module")]
    Compile(#[source] Cause),
    #[error("loading {path}")]
    LoadPrecompiled { path: PathBuf, source: Cause },
    #[error("serializing the compilation")]
    Serialize(#[source] Cause),
    #[error("preopening {path}")]
    Preopen { path: PathBuf, source: Cause },
    #[error("the guest went over --max-memory ({max} bytes) asking for {desired} bytes, and was stopped")]
    MemoryLimit { desired: usize, max: usize },
    #[error("the guest ran longer than --timeout ({0:?}) and was stopped")]
    Timeout(Duration),
    #[error("the guest failed")]
    Guest(#[source] Cause),
    /// The engine's epoch moved without a timeout: the host stopped the
    /// guest (the containerd shim does on SIGTERM).
    #[error("the guest was interrupted")]
    Interrupted,
}

/// `error` and its causes on one line, `step: cause: cause`, as the CLI
/// prints errors: for the warnings and notes, which are text.
pub fn one_line(error: &dyn std::error::Error) -> String {
    let mut line = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        line.push_str(": ");
        line.push_str(&cause.to_string());
        source = cause.source();
    }
    line
}

/// Exit codes for a guest the runner stopped, as `timeout` and a process
/// killed by SIGABRT report them.
const EXIT_TIMEOUT: u8 = 124;
const EXIT_TRAP: u8 = 134;

impl RunError {
    /// The exit code to report when the guest itself failed (a trap, a
    /// limit, the timeout); `None` for errors before it ran, and for an
    /// interruption, whose code the interrupter knows.
    pub fn guest_exit_code(&self) -> Option<u8> {
        match self {
            RunError::Timeout(_) => Some(EXIT_TIMEOUT),
            RunError::MemoryLimit { .. } | RunError::Guest(_) => Some(EXIT_TRAP),
            _ => None,
        }
    }
}

/// Which code runs, for `-v` and the tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathTaken {
    /// The image's precompiled layer for this host.
    Aot { target: String },
    /// This machine's earlier compilation.
    Cached,
    /// Compiled now.
    Compiled,
    /// A precompiled file the user named.
    Precompiled,
}

/// Code ready to run, and what was decided on the way.
pub struct Prepared {
    pub program: Program,
    pub path: PathTaken,
    /// Why other paths were not taken (`-v`).
    pub notes: Vec<String>,
    /// Artifacts refused as tampered or mismatched, unusable cache
    /// entries: always shown.
    pub warnings: Vec<String>,
    /// The file holding the chosen native code, when there is one (a cache
    /// entry, a stored or plain artifact file): what the containerd shim
    /// hands to the container.
    pub file: Option<PathBuf>,
}

pub struct Runner {
    engine: Engine,
    host: HostEngine,
    policy: TrustPolicy,
    cache: Option<LocalCache>,
}

impl Runner {
    pub fn new(policy: TrustPolicy, cache: Option<LocalCache>) -> Result<Self, RunError> {
        let engine = wasmpack_aot::host_engine()?;
        let host = HostEngine {
            triple: wasmpack_aot::host_triple(),
            wasmtime_version: wasmpack_aot::WASMTIME_VERSION.to_string(),
            engine_hash: wasmpack_aot::compatibility_hash(&engine),
        };
        Ok(Self {
            engine,
            host,
            policy,
            cache,
        })
    }

    /// Picks and loads the code for `workload`.
    pub fn prepare(&self, workload: &Workload) -> Result<Prepared, RunError> {
        match &workload.code {
            Code::Precompiled(path) => self.load_precompiled(path),
            Code::Wasm { module, digest } => {
                self.prepare_wasm(module, digest, &workload.aot, workload.origin.as_deref())
            }
        }
    }

    /// Picks and loads the code for `module` (sha256 `digest`): one of the
    /// image's `aot` artifacts if usable, else the cache, else a fresh
    /// compilation. `origin` (`registry/repository`) is matched against the
    /// trust list.
    pub fn prepare_wasm(
        &self,
        module: &ModuleBytes,
        digest: &str,
        aot: &[AotLayer],
        origin: Option<&str>,
    ) -> Result<Prepared, RunError> {
        let is_component = module.is_component()?;
        let (mut notes, mut warnings) = (Vec::new(), Vec::new());

        let trusted = self.policy.trusts(origin);
        let candidates: Vec<_> = aot.iter().map(|layer| layer.candidate.clone()).collect();
        let (chosen, verdicts) = select::choose(&candidates, &self.host, digest, trusted);
        for verdict in verdicts {
            match verdict {
                Verdict::Skip(why) => notes.push(why),
                Verdict::Refuse(why) => warnings.push(format!(
                    "{why}; using the module instead (this machine's compilation)"
                )),
                Verdict::Usable => {}
            }
        }
        if let Some(index) = chosen {
            let layer = &aot[index];
            // SAFETY: the artifact's layer matched the manifest digest, its
            // annotations match this engine and module, and the user trusts
            // the image; wasmtime checks the header and settings itself.
            let loaded = layer.artifact().and_then(|artifact| match artifact {
                Artifact::Bytes(bytes) => {
                    unsafe { deserialize(&self.engine, &bytes, is_component) }
                        .map(|program| (program, None))
                        .map_err(RunError::Compile)
                }
                Artifact::File(path) => {
                    unsafe { deserialize_file(&self.engine, &path, is_component) }
                        .map(|program| (program, Some(path.clone())))
                        .map_err(|source| RunError::LoadPrecompiled { path, source })
                }
            });
            match loaded {
                Ok((program, file)) => {
                    let target = self.host.triple.clone();
                    notes.push(format!("using the image's AOT layer {} for {target}", layer.candidate.layer_digest));
                    return Ok(Prepared {
                        program,
                        path: PathTaken::Aot { target },
                        notes,
                        warnings,
                        file,
                    });
                }
                Err(why) => warnings.push(format!(
                    "AOT layer {} refused: {}; using the module instead (this machine's compilation)",
                    layer.candidate.layer_digest,
                    one_line(&why)
                )),
            }
        }

        let entry = self
            .cache
            .as_ref()
            .map(|cache| (cache, cache.compiled_entry(&self.host.engine_hash, digest)));
        if let Some((cache, path)) = &entry {
            let trusted = match cache.check_entry(path) {
                Ok(()) => true,
                Err(cache::UntrustedEntry::Io { source, .. })
                    if source.kind() == std::io::ErrorKind::NotFound =>
                {
                    false
                }
                Err(why) => {
                    warnings.push(format!(
                        "cached compilation refused: {}; compiling without it",
                        one_line(&why)
                    ));
                    false
                }
            };
            if trusted {
                // SAFETY: check_entry found the file and every folder to it
                // owned and writable by this user alone, who only stores
                // what this machine compiled.
                match unsafe { deserialize_file(&self.engine, path, is_component) } {
                    Ok(program) => {
                        notes.push(format!(
                            "using this machine's compilation {}",
                            path.display()
                        ));
                        return Ok(Prepared {
                            program,
                            path: PathTaken::Cached,
                            notes,
                            warnings,
                            file: Some(path.clone()),
                        });
                    }
                    Err(why) => {
                        warnings.push(format!(
                            "cached compilation {} unusable ({}); compiling again",
                            path.display(),
                            one_line(&*why)
                        ));
                        let _ = std::fs::remove_file(path);
                    }
                }
            }
        }

        let started = Instant::now();
        let program = self.compile(&module.read()?, is_component)?;
        notes.push(format!(
            "compiled the module in {} ms",
            started.elapsed().as_millis()
        ));
        let mut file = None;
        if let Some((cache, path)) = entry {
            let stored = serialize(&program)
                .map_err(RunError::Serialize)
                .and_then(|bytes| cache.store_compiled(&path, &bytes));
            match stored {
                Ok(()) => {
                    notes.push(format!("kept the compilation at {}", path.display()));
                    file = Some(path);
                }
                Err(why) => warnings.push(format!(
                    "could not cache the compilation: {}",
                    one_line(&why)
                )),
            }
        }
        Ok(Prepared {
            program,
            path: PathTaken::Compiled,
            notes,
            warnings,
            file,
        })
    }

    /// The engine the code runs on. Moving its epoch (`increment_epoch`,
    /// from any thread) stops the running guest with
    /// [`RunError::Interrupted`].
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Runs prepared code; returns the guest's exit code.
    pub fn run(&self, prepared: &Prepared, options: &RunOptions) -> Result<i32, RunError> {
        exec::run(&self.engine, &prepared.program, options)
    }

    fn compile(&self, bytes: &[u8], is_component: bool) -> Result<Program, RunError> {
        let compiled = if is_component {
            Component::new(&self.engine, bytes).map(Program::Component)
        } else {
            Module::new(&self.engine, bytes).map(Program::Module)
        };
        compiled.map_err(|e| RunError::Compile(e.into()))
    }

    /// Loads a precompiled file: one the user named, with `--trust-aot`, or
    /// the one the containerd shim's host side chose.
    pub fn load_precompiled(&self, path: &Path) -> Result<Prepared, RunError> {
        if !self.policy.trust_all {
            return Err(RunError::UntrustedPrecompiled(path.to_path_buf()));
        }
        let loading = |source| RunError::LoadPrecompiled {
            path: path.to_path_buf(),
            source,
        };
        let kind = Engine::detect_precompiled_file(path).map_err(|e| loading(e.into()))?;
        // SAFETY: the user named this file and passed --trust-aot.
        let program =
            unsafe { deserialize_file(&self.engine, path, kind == Some(Precompiled::Component)) }
                .map_err(loading)?;
        Ok(Prepared {
            program,
            path: PathTaken::Precompiled,
            notes: vec![format!("running the precompiled file {}", path.display())],
            warnings: Vec::new(),
            file: Some(path.to_path_buf()),
        })
    }
}

unsafe fn deserialize(engine: &Engine, bytes: &[u8], is_component: bool) -> Result<Program, Cause> {
    let program = if is_component {
        unsafe { Component::deserialize(engine, bytes) }.map(Program::Component)
    } else {
        unsafe { Module::deserialize(engine, bytes) }.map(Program::Module)
    };
    program.map_err(Cause::from)
}

unsafe fn deserialize_file(
    engine: &Engine,
    path: &Path,
    is_component: bool,
) -> Result<Program, Cause> {
    let program = if is_component {
        unsafe { Component::deserialize_file(engine, path) }.map(Program::Component)
    } else {
        unsafe { Module::deserialize_file(engine, path) }.map(Program::Module)
    };
    program.map_err(Cause::from)
}

fn serialize(program: &Program) -> Result<Vec<u8>, Cause> {
    match program {
        Program::Module(module) => module.serialize(),
        Program::Component(component) => component.serialize(),
    }
    .map_err(Cause::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_their_step_and_each_cause_appears_once() {
        let dir = tempfile::tempdir().unwrap();
        let missing = workload::resolve_inside(dir.path(), "/missing.wasm").unwrap_err();
        let line = one_line(&missing);
        assert!(
            line.starts_with("entrypoint /missing.wasm: not in the image: "),
            "{line}"
        );
        assert_eq!(
            line.matches("No such file or directory").count(),
            1,
            "{line}"
        );

        let runner = Runner::new(TrustPolicy::default(), None).unwrap();
        let garbage = ModuleBytes::InMemory(b"\0asm\x01\0\0\0garbage".to_vec());
        let Err(error) = runner.prepare_wasm(&garbage, "sha256:00", &[], None) else {
            panic!("garbage compiled")
        };
        assert_eq!(error.to_string(), "compiling the module");
        let line = one_line(&error);
        let cause = line
            .strip_prefix("compiling the module: ")
            .unwrap_or_else(|| panic!("{line}"));
        assert!(
            !cause.is_empty() && !cause.contains("compiling the module"),
            "{line}"
        );
    }
}
