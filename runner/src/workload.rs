//! What to run, gathered from the user's argument: a bare module, a
//! precompiled file, an OCI layout or archive, or a registry reference.
//! An image's files are unpacked (safely, by the packager) into a
//! temporary root the guest sees as `/`.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use oci_spec::image::{Descriptor, ImageConfiguration, ImageManifest};
use tempfile::TempDir;
use wasmpack_aot::ANNOTATION_TARGET;
use wasmpack_oci::digest::{sha256_digest, Blob};
use wasmpack_oci::image::{Image, MEDIA_TYPE_WASM_CONFIG};
use wasmpack_oci::layer::Compression;
use wasmpack_oci::layout::{read_image_with, ImageSource, LayerRead};
use wasmpack_oci::name::parse_reference;
use wasmpack_registry::{pull_image, RegistryOptions};
use wasmpack_oci::unpack::{unpack_layers, ARTIFACT_MODULE_FILE};

use crate::layers::LayerStore;
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
        let read = read_prefix(path, &mut magic)?;
        Ok(match &magic[..read] {
            b"\0asm" => Input::Wasm(path.to_path_buf()),
            b"\x7fELF" => Input::Precompiled(path.to_path_buf()),
            _ => Input::Image(ImageSource::Archive(path.to_path_buf())),
        })
    }
}

/// Fills `buf` from the start of the file (less if it is shorter).
fn read_prefix(path: &Path, buf: &mut [u8]) -> Result<usize, RunError> {
    let io_err = |source| RunError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(io_err)?;
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..]).map_err(io_err)? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

/// The code to run.
#[derive(Debug)]
pub enum Code {
    Wasm {
        module: ModuleBytes,
        digest: String,
    },
    /// A `.cwasm` file the user named.
    Precompiled(PathBuf),
}

/// Where a module's bytes are: a stored layer's file is read only if the
/// module must be compiled.
#[derive(Debug)]
pub enum ModuleBytes {
    InMemory(Vec<u8>),
    File(PathBuf),
}

impl ModuleBytes {
    pub fn read(&self) -> Result<Cow<'_, [u8]>, RunError> {
        match self {
            ModuleBytes::InMemory(bytes) => Ok(Cow::Borrowed(bytes)),
            ModuleBytes::File(path) => std::fs::read(path)
                .map(Cow::Owned)
                .map_err(|source| RunError::Io { path: path.clone(), source }),
        }
    }

    /// Whether the header says component (the rest is not read).
    pub fn is_component(&self) -> Result<bool, RunError> {
        let mut header = [0u8; 8];
        let len = match self {
            ModuleBytes::InMemory(bytes) => {
                let len = bytes.len().min(8);
                header[..len].copy_from_slice(&bytes[..len]);
                len
            }
            ModuleBytes::File(path) => read_prefix(path, &mut header)?,
        };
        Ok(wasmparser::Parser::is_component(&header[..len]))
    }
}

/// The folder the guest sees as `/`.
#[derive(Debug)]
pub enum Rootfs {
    /// Unpacked for this run; deleted with the workload.
    Temporary(TempDir),
    /// A layer kept in the local cache, shared read-only.
    Stored(PathBuf),
}

impl Rootfs {
    pub fn path(&self) -> &Path {
        match self {
            Rootfs::Temporary(dir) => dir.path(),
            Rootfs::Stored(path) => path,
        }
    }
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
    pub rootfs: Option<Rootfs>,
    pub aot: Vec<AotLayer>,
    /// `registry/repository` of a pulled image, for the trust list.
    pub origin: Option<String>,
}

/// A precompiled artifact the image brings, described by its layer's
/// annotations (or, where only the image's files are at hand, by the facts
/// file beside it).
#[derive(Debug)]
pub struct AotLayer {
    pub candidate: AotCandidate,
    source: ArtifactSource,
}

#[derive(Debug)]
enum ArtifactSource {
    /// A file in a layer blob, verified against the manifest; the blob is
    /// empty when the store holds the layer already.
    Layer { layer: Blob, path: String, store: Option<LayerStore> },
    /// A file in an unpacked image, checked against its facts file.
    File(PathBuf),
}

/// A precompiled artifact, as wasmtime loads it.
pub enum Artifact {
    Bytes(Vec<u8>),
    /// A file (a stored layer's, or an unpacked image's): mapped, not read.
    File(PathBuf),
}

impl AotLayer {
    /// The artifact at `path` in an unpacked image.
    pub fn from_file(candidate: AotCandidate, path: PathBuf) -> Self {
        AotLayer {
            candidate,
            source: ArtifactSource::File(path),
        }
    }

    /// The artifact: from the layer store when there is one, so that later
    /// starts map it straight from there, else from the (verified) blob.
    pub fn artifact(&self) -> Result<Artifact, String> {
        let (layer, path) = match &self.source {
            ArtifactSource::File(path) => return Ok(Artifact::File(path.clone())),
            ArtifactSource::Layer {
                layer,
                path,
                store: Some(store),
            } => {
                let stored = store.open_or_add(layer).map_err(|e| e.to_string())?;
                return resolve_inside(&stored.rootfs, path).map(Artifact::File).map_err(|e| e.to_string());
            }
            ArtifactSource::Layer { layer, path, store: None } => (layer, path),
        };
        let compression = Compression::from_media_type(&layer.media_type).map_err(|e| e.to_string())?;
        let reader = compression.decompress(layer.data.as_slice()).map_err(|e| e.to_string())?;
        let mut archive = tar::Archive::new(reader);
        let wanted = path.trim_start_matches('/');
        for entry in archive.entries().map_err(|e| e.to_string())? {
            let mut entry = entry.map_err(|e| e.to_string())?;
            let path = entry.path().map_err(|e| e.to_string())?;
            if entry.header().entry_type().is_file() && path.to_string_lossy().trim_start_matches("./") == wanted {
                let mut bytes = Vec::new();
                entry.read_to_end(&mut bytes).map_err(|e| e.to_string())?;
                return Ok(Artifact::Bytes(bytes));
            }
        }
        Err(format!("the layer holds no {path}"))
    }
}

/// Loads what `input` names (`name` picks an image in a layout or archive).
/// With a `store`, an image's layers are unpacked there once and reused.
/// `entrypoint` replaces an image's ENTRYPOINT and drops its CMD, as
/// `docker run --entrypoint` does; the module is then the file it names.
pub fn load(
    input: &Input,
    name: Option<&str>,
    entrypoint: Option<&str>,
    registry: &RegistryOptions,
    store: Option<&LayerStore>,
) -> Result<Workload, RunError> {
    if entrypoint.is_some() && matches!(input, Input::Wasm(_) | Input::Precompiled(_)) {
        return Err(RunError::Config(
            "--entrypoint applies to images; a module file is its own entrypoint".into(),
        ));
    }
    match input {
        Input::Wasm(path) => {
            let bytes = std::fs::read(path).map_err(|source| RunError::Io { path: path.clone(), source })?;
            let (module, digest) = hashed(bytes);
            Ok(Workload::bare(Code::Wasm { module, digest }, path))
        }
        Input::Precompiled(path) => Ok(Workload::bare(Code::Precompiled(path.clone()), path)),
        Input::Image(source) => {
            // Blobs the store holds are not read again: a stored layer was
            // verified against the same digest when it was added. Several
            // file layers are merged in a temporary root, so they are read.
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
            let defects = rejected.into_iter().map(|r| (r.index, r.error.to_string())).collect();
            from_image(image, defects, None, entrypoint, store)
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
            from_image(image, Vec::new(), Some(origin), entrypoint, store)
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
    path.file_name()
        .map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned())
}

/// Layer `index`'s AOT annotations: its own (`wasmpack build`), else what
/// the manifest says of it (the frontend's images: BuildKit cannot
/// annotate single layers); empty for a file layer.
fn aot_annotations(manifest: &ImageManifest, index: usize) -> BTreeMap<String, String> {
    let own = manifest
        .layers()
        .get(index)
        .and_then(|layer| layer.annotations().clone())
        .unwrap_or_default();
    if own.contains_key(ANNOTATION_TARGET) {
        return own.into_iter().collect();
    }
    let from_manifest = manifest
        .annotations()
        .as_ref()
        .map(|all| wasmpack_aot::layer_annotations_in_manifest(all, index))
        .unwrap_or_default();
    match from_manifest.contains_key(ANNOTATION_TARGET) {
        true => from_manifest,
        false => BTreeMap::new(),
    }
}

/// `defects`: layer index and why its blob was not usable.
fn from_image(
    image: Image,
    defects: Vec<(usize, String)>,
    origin: Option<String>,
    entrypoint_override: Option<&str>,
    store: Option<&LayerStore>,
) -> Result<Workload, RunError> {
    let manifest = ImageManifest::from_reader(image.manifest.data.as_slice()).map_err(|e| RunError::Config(format!("image manifest: {e}")))?;
    let (entrypoint, cmd, env) = if image.config.media_type == MEDIA_TYPE_WASM_CONFIG {
        (vec![format!("/{ARTIFACT_MODULE_FILE}")], Vec::new(), Vec::new())
    } else {
        let config = ImageConfiguration::from_reader(image.config.data.as_slice()).map_err(|e| RunError::Config(format!("image config: {e}")))?;
        let runtime = config.config().clone().unwrap_or_default();
        let env = runtime
            .env()
            .clone()
            .unwrap_or_default()
            .iter()
            .map(|kv| kv.split_once('=').map_or((kv.clone(), String::new()), |(k, v)| (k.into(), v.into())))
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
    for (index, layer) in image.layers.iter().enumerate() {
        let annotations = aot_annotations(&manifest, index);
        if annotations.is_empty() {
            files.push(layer.clone());
            continue;
        }
        let candidate = AotCandidate {
            layer_digest: layer.digest.clone(),
            annotations,
            defect: defects.iter().find(|(i, _)| *i == index).map(|(_, why)| why.clone()),
        };
        let path = wasmpack_aot::artifact_path(&module_path, candidate.annotations.get(ANNOTATION_TARGET).map_or("", String::as_str));
        aot.push(AotLayer {
            candidate,
            source: ArtifactSource::Layer {
                layer: layer.clone(),
                path,
                store: store.cloned(),
            },
        });
    }

    let (rootfs, module, digest) = match (store, files.as_slice()) {
        (Some(store), [layer]) => {
            let stored = store.open_or_add(layer)?;
            let (module, digest) = match stored.file_digest(&module_path) {
                Some(digest) => (ModuleBytes::File(resolve_inside(&stored.rootfs, &module_path)?), digest.to_string()),
                // A symlinked entrypoint: resolved and hashed now.
                None => hashed(read_inside(&stored.rootfs, &module_path)?),
            };
            (Rootfs::Stored(stored.rootfs), module, digest)
        }
        _ => {
            let dir = tempfile::Builder::new()
                .prefix("wasmpack-run-")
                .tempdir()
                .map_err(|source| RunError::Io {
                    path: std::env::temp_dir(),
                    source,
                })?;
            unpack_layers(&files, dir.path())?;
            let (module, digest) = hashed(read_inside(dir.path(), &module_path)?);
            (Rootfs::Temporary(dir), module, digest)
        }
    };
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

fn hashed(bytes: Vec<u8>) -> (ModuleBytes, String) {
    let digest = sha256_digest(&bytes);
    (ModuleBytes::InMemory(bytes), digest)
}

/// Reads the image file at `path` without following anything out of the
/// unpacked root (a symlinked entrypoint must stay inside it).
fn read_inside(root: &Path, path: &str) -> Result<Vec<u8>, RunError> {
    let resolved = resolve_inside(root, path)?;
    std::fs::read(&resolved).map_err(|e| RunError::Entrypoint {
        path: path.to_string(),
        reason: e.to_string(),
    })
}

/// Where the image file `path` is under `root`, refusing anything that
/// resolves outside it.
pub fn resolve_inside(root: &Path, path: &str) -> Result<PathBuf, RunError> {
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
    Ok(resolved)
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
        assert_eq!(
            Input::detect(elf.to_str().unwrap()).unwrap(),
            Input::Precompiled(elf),
            "content, not the name"
        );
        assert_eq!(Input::detect(tar.to_str().unwrap()).unwrap(), Input::Image(ImageSource::Archive(tar)));
        let layout = dir.path().to_str().unwrap();
        assert_eq!(Input::detect(layout).unwrap(), Input::Image(ImageSource::Layout(dir.path().into())));
        assert_eq!(
            Input::detect("localhost:5000/demo/hello:1").unwrap(),
            Input::Remote("localhost:5000/demo/hello:1".into())
        );
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
        assert!(aot_annotations(&manifest, 0).is_empty(), "the module's layer");
        assert_eq!(aot_annotations(&manifest, 1)[ANNOTATION_TARGET], "x86_64-unknown-linux-gnu");
        let from_manifest = aot_annotations(&manifest, 2);
        assert_eq!(from_manifest[ANNOTATION_TARGET], "aarch64-unknown-linux-gnu");
        assert_eq!(from_manifest["dev.wasmpack.aot.engine-hash"], "h2");
        assert!(aot_annotations(&manifest, 7).is_empty());
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
