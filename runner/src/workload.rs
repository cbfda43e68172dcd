//! What to run, gathered from the user's argument: a bare module, a
//! precompiled file, an OCI layout or archive, or a registry reference.
//! An image's files are unpacked (safely, by the packager) into a
//! temporary root the guest sees as `/`.

use std::io::Read;
use std::path::{Path, PathBuf};

use oci_spec::image::{Descriptor, ImageConfiguration, ImageManifest};
use tempfile::TempDir;
use wasmpack_aot::ANNOTATION_TARGET;
use wasmpack_packager::digest::{sha256_digest, Blob};
use wasmpack_packager::image::{Image, MEDIA_TYPE_WASM_CONFIG};
use wasmpack_packager::layer::Compression;
use wasmpack_packager::layout::{read_image_tolerating, ImageSource};
use wasmpack_packager::registry::{parse_reference, pull_image, RegistryOptions};
use wasmpack_packager::unpack::{unpack_image, ARTIFACT_MODULE_FILE};

use crate::select::AotCandidate;
use crate::RunError;

/// The user's argument, by what it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    Wasm(PathBuf),
    Precompiled(PathBuf),
    Image(ImageSource),
    Remote(String),
}

impl Input {
    /// A folder is a layout; a file is told apart by its first bytes (wasm,
    /// ELF from wasmtime, else an archive); anything else is a reference.
    pub fn detect(arg: &str) -> Result<Self, RunError> {
        let path = Path::new(arg);
        if path.is_dir() {
            return Ok(Input::Image(ImageSource::Layout(path.to_path_buf())));
        }
        if !path.exists() {
            return Ok(Input::Remote(arg.to_string()));
        }
        let mut magic = [0u8; 4];
        let mut file = std::fs::File::open(path).map_err(|source| RunError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let read = file.read(&mut magic).map_err(|source| RunError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(match &magic[..read] {
            b"\0asm" => Input::Wasm(path.to_path_buf()),
            b"\x7fELF" => Input::Precompiled(path.to_path_buf()),
            _ => Input::Image(ImageSource::Archive(path.to_path_buf())),
        })
    }
}

/// The code to run.
#[derive(Debug)]
pub enum Code {
    Wasm { bytes: Vec<u8>, digest: String },
    /// A `.cwasm` file the user named.
    Precompiled(PathBuf),
}

/// Everything needed to start the guest.
#[derive(Debug)]
pub struct Workload {
    pub code: Code,
    /// ENTRYPOINT and CMD as Docker combines them: user arguments replace
    /// CMD. `entrypoint[0]` (else `cmd[0]`) is the module's path.
    pub entrypoint: Vec<String>,
    pub cmd: Vec<String>,
    pub env: Vec<(String, String)>,
    /// The image's files; dropped (deleted) with the workload.
    pub rootfs: Option<TempDir>,
    pub aot: Vec<AotLayer>,
    /// `registry/repository` of a pulled image, for the trust list.
    pub origin: Option<String>,
}

/// An image layer annotated as a precompiled artifact.
#[derive(Debug)]
pub struct AotLayer {
    pub candidate: AotCandidate,
    layer: Blob,
    /// The artifact's path inside the layer.
    path: String,
}

impl AotLayer {
    /// The artifact's bytes, read from the (verified) layer blob.
    pub fn artifact(&self) -> Result<Vec<u8>, String> {
        let compression = Compression::from_media_type(&self.layer.media_type).map_err(|e| e.to_string())?;
        let reader = compression.decompress(self.layer.data.as_slice()).map_err(|e| e.to_string())?;
        let mut archive = tar::Archive::new(reader);
        let wanted = self.path.trim_start_matches('/');
        for entry in archive.entries().map_err(|e| e.to_string())? {
            let mut entry = entry.map_err(|e| e.to_string())?;
            let path = entry.path().map_err(|e| e.to_string())?;
            if entry.header().entry_type().is_file() && path.to_string_lossy().trim_start_matches("./") == wanted {
                let mut bytes = Vec::new();
                entry.read_to_end(&mut bytes).map_err(|e| e.to_string())?;
                return Ok(bytes);
            }
        }
        Err(format!("the layer holds no {}", self.path))
    }
}

/// Loads what `input` names (`name` picks an image in a layout or archive).
pub fn load(input: &Input, name: Option<&str>, registry: &RegistryOptions) -> Result<Workload, RunError> {
    match input {
        Input::Wasm(path) => {
            let bytes = std::fs::read(path).map_err(|source| RunError::Io {
                path: path.clone(),
                source,
            })?;
            let code = Code::Wasm {
                digest: sha256_digest(&bytes),
                bytes,
            };
            Ok(Workload::bare(code, path))
        }
        Input::Precompiled(path) => Ok(Workload::bare(Code::Precompiled(path.clone()), path)),
        Input::Image(source) => {
            let (image, rejected) = read_image_tolerating(source, name, is_aot_layer)?;
            let defects = rejected.into_iter().map(|r| (r.index, r.error.to_string())).collect();
            from_image(image, defects, None)
        }
        Input::Remote(reference) => {
            let parsed = parse_reference(reference).map_err(|e| RunError::Reference {
                reference: reference.clone(),
                reason: e.to_string(),
            })?;
            let runtime = tokio::runtime::Runtime::new().map_err(|source| RunError::Io {
                path: PathBuf::from(reference),
                source,
            })?;
            // A pull verifies every blob: a tampered layer fails it.
            let image = runtime.block_on(pull_image(reference, None, registry))?;
            let origin = format!("{}/{}", parsed.registry(), parsed.repository());
            from_image(image, Vec::new(), Some(origin))
        }
    }
}

impl Workload {
    /// A file run on its own: argv[0] is its name; no files, no env.
    fn bare(code: Code, path: &Path) -> Self {
        Workload {
            code,
            entrypoint: vec![file_name(path)],
            cmd: Vec::new(),
            env: Vec::new(),
            rootfs: None,
            aot: Vec::new(),
            origin: None,
        }
    }

    /// argv: ENTRYPOINT, then `args` if given, else CMD.
    pub fn argv(&self, args: &[String]) -> Vec<String> {
        let tail = if args.is_empty() { &self.cmd } else { args };
        self.entrypoint.iter().chain(tail).cloned().collect()
    }
}

fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned())
}

fn is_aot_layer(descriptor: &Descriptor) -> bool {
    descriptor.annotations().as_ref().is_some_and(|a| a.contains_key(ANNOTATION_TARGET))
}

/// `defects`: layer index and why its blob was not usable.
fn from_image(image: Image, defects: Vec<(usize, String)>, origin: Option<String>) -> Result<Workload, RunError> {
    let manifest = ImageManifest::from_reader(image.manifest.data.as_slice())
        .map_err(|e| RunError::Config(format!("image manifest: {e}")))?;
    let (entrypoint, cmd, env) = if image.config.media_type == MEDIA_TYPE_WASM_CONFIG {
        (vec![format!("/{ARTIFACT_MODULE_FILE}")], Vec::new(), Vec::new())
    } else {
        let config = ImageConfiguration::from_reader(image.config.data.as_slice())
            .map_err(|e| RunError::Config(format!("image config: {e}")))?;
        let runtime = config.config().clone().unwrap_or_default();
        let env = runtime
            .env()
            .clone()
            .unwrap_or_default()
            .iter()
            .map(|kv| kv.split_once('=').map_or((kv.clone(), String::new()), |(k, v)| (k.into(), v.into())))
            .collect();
        (runtime.entrypoint().clone().unwrap_or_default(), runtime.cmd().clone().unwrap_or_default(), env)
    };
    let module_path = entrypoint.first().or(cmd.first()).cloned().ok_or(RunError::NoEntrypoint)?;

    let mut aot = Vec::new();
    let mut files = Vec::new();
    for (index, (layer, descriptor)) in image.layers.iter().zip(manifest.layers()).enumerate() {
        if !is_aot_layer(descriptor) {
            files.push(layer.clone());
            continue;
        }
        let annotations = descriptor.annotations().clone().unwrap_or_default().into_iter().collect();
        let candidate = AotCandidate {
            layer_digest: layer.digest.clone(),
            annotations,
            defect: defects.iter().find(|(i, _)| *i == index).map(|(_, why)| why.clone()),
        };
        let path = wasmpack_aot::artifact_path(&module_path, candidate.annotations.get(ANNOTATION_TARGET).map_or("", String::as_str));
        aot.push(AotLayer {
            candidate,
            layer: layer.clone(),
            path,
        });
    }

    let rootfs = tempfile::Builder::new().prefix("wasmpack-run-").tempdir().map_err(|source| RunError::Io {
        path: std::env::temp_dir(),
        source,
    })?;
    unpack_image(&Image { layers: files, ..image }, rootfs.path())?;
    let bytes = read_inside(rootfs.path(), &module_path)?;
    Ok(Workload {
        code: Code::Wasm {
            digest: sha256_digest(&bytes),
            bytes,
        },
        entrypoint,
        cmd,
        env,
        rootfs: Some(rootfs),
        aot,
        origin,
    })
}

/// Reads the image file at `path` without following anything out of the
/// unpacked root (a symlinked entrypoint must stay inside it).
fn read_inside(root: &Path, path: &str) -> Result<Vec<u8>, RunError> {
    let error = |reason: String| RunError::Entrypoint {
        path: path.to_string(),
        reason,
    };
    let root = root.canonicalize().map_err(|e| error(e.to_string()))?;
    let resolved = root
        .join(path.trim_start_matches('/'))
        .canonicalize()
        .map_err(|e| error(format!("not in the image ({e})")))?;
    if !resolved.starts_with(&root) {
        return Err(error("resolves to a file outside the image".into()));
    }
    std::fs::read(&resolved).map_err(|e| error(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_are_told_apart_by_kind_and_content() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, bytes: &[u8]| {
            let path = dir.path().join(name);
            std::fs::write(&path, bytes).unwrap();
            path
        };
        let wasm = write("a.bin", b"\0asm\x01\0\0\0");
        let elf = write("a.wasm", b"\x7fELF\x02\x01");
        let tar = write("a.tar", b"index.json");
        assert_eq!(Input::detect(wasm.to_str().unwrap()).unwrap(), Input::Wasm(wasm));
        assert_eq!(Input::detect(elf.to_str().unwrap()).unwrap(), Input::Precompiled(elf), "content, not the name");
        assert_eq!(Input::detect(tar.to_str().unwrap()).unwrap(), Input::Image(ImageSource::Archive(tar)));
        let layout = dir.path().to_str().unwrap();
        assert_eq!(Input::detect(layout).unwrap(), Input::Image(ImageSource::Layout(dir.path().into())));
        assert_eq!(Input::detect("localhost:5000/demo/hello:1").unwrap(), Input::Remote("localhost:5000/demo/hello:1".into()));
    }

    #[test]
    fn user_arguments_replace_cmd_as_with_docker() {
        let workload = Workload {
            entrypoint: vec!["/hello.wasm".into()],
            cmd: vec!["--default".into()],
            ..Workload::bare(Code::Precompiled(PathBuf::new()), Path::new("x"))
        };
        assert_eq!(workload.argv(&[]), ["/hello.wasm", "--default"]);
        assert_eq!(workload.argv(&["x".into()]), ["/hello.wasm", "x"]);
    }

    #[test]
    fn the_entrypoint_cannot_point_outside_the_image() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        std::fs::create_dir(&root).unwrap();
        std::fs::write(dir.path().join("secret"), b"host file").unwrap();
        std::os::unix::fs::symlink("../secret", root.join("hello.wasm")).unwrap();
        let err = read_inside(&root, "/hello.wasm").unwrap_err();
        assert!(err.to_string().contains("outside the image"), "{err}");
        let err = read_inside(&root, "/../secret").unwrap_err();
        assert!(err.to_string().contains("outside the image"), "{err}");
        assert!(read_inside(&root, "/missing.wasm").unwrap_err().to_string().contains("not in the image"));
    }
}
