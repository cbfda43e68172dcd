//! OCI image layouts (a folder holding `oci-layout`, `index.json` and
//! `blobs/sha256/…`) and OCI archives (the same tree as one tar file), read
//! and written.
//!
//! Every blob read is checked against the digest and size its descriptor
//! names, and every file written lands by rename, so a reader never sees a
//! half-written blob or index.

use std::collections::HashMap;
use std::io::{self, Read, Seek, Write};
use std::path::{Path, PathBuf};

use oci_spec::image::{Arch, Descriptor, ImageIndex, ImageIndexBuilder, ImageManifest, MediaType, Os, Platform, PlatformBuilder};
use serde::Deserialize;

use crate::digest::{sha256_digest, sha256_hex, Blob};
use crate::image::{blob_of, canonical_json, descriptor_of, Image, ANNOTATION_CONTAINERD_NAME, ANNOTATION_REF_NAME};
use crate::layer::{EntryKind, LayerContents};

const LAYOUT_FILE: &str = "oci-layout";
const LAYOUT_CONTENT: &[u8] = br#"{"imageLayoutVersion":"1.0.0"}"#;
const INDEX_FILE: &str = "index.json";
/// Docker's own archive manifest: lets `docker load` on the classic image
/// store read an archive that the containerd store reads through index.json.
const DOCKER_MANIFEST_FILE: &str = "manifest.json";

/// Why a layout or archive could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum LayoutError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("{0}: not an OCI image layout (no oci-layout file)")]
    NotALayout(PathBuf),
    #[error("{path}: not an OCI archive ({reason})")]
    NotAnArchive { path: PathBuf, reason: String },
    #[error("{path}: {file} is not valid: {reason}")]
    BadJson { path: PathBuf, file: String, reason: String },
    #[error("{path}: blob {digest} is missing")]
    MissingBlob { path: PathBuf, digest: String },
    #[error("{path}: blob {digest} does not match its descriptor ({reason})")]
    Corrupt { path: PathBuf, digest: String, reason: String },
    #[error("{path}: unsupported digest {digest:?} (only sha256)")]
    BadDigest { path: PathBuf, digest: String },
    #[error("{path}: no image named {name:?} (it has: {available})")]
    NoSuchImage { path: PathBuf, name: String, available: String },
    #[error("{path}: holds {count} images; name one (it has: {available})")]
    Ambiguous { path: PathBuf, count: usize, available: String },
    #[error("{path}: the image index names no manifest for a wasm platform")]
    NoWasmManifest { path: PathBuf },
    #[error("invalid image name {name:?}: {reason}")]
    BadName { name: String, reason: String },
}

/// The full reference (`docker.io/library/hello:latest`) and the tag
/// (`latest`) for a user-given name, as registries and containerd spell them.
/// A name without tag means `latest`; one pinned by digest alone has no tag.
pub fn normalize_name(name: &str) -> Result<(String, Option<String>), LayoutError> {
    let reference = crate::registry::parse_reference(name).map_err(|e| LayoutError::BadName {
        name: name.to_string(),
        reason: e.to_string(),
    })?;
    let tag = match (reference.tag(), reference.digest()) {
        (Some(tag), _) => Some(tag.to_string()),
        (None, Some(_)) => None,
        (None, None) => Some("latest".to_string()),
    };
    Ok((reference.whole(), tag))
}

/// An OCI image layout folder.
#[derive(Debug, Clone)]
pub struct OciLayout {
    root: PathBuf,
}

impl OciLayout {
    /// Opens the layout at `root`, creating an empty one if the folder is
    /// missing or empty.
    pub fn create(root: &Path) -> Result<Self, LayoutError> {
        let io_err = |source| LayoutError::Io {
            path: root.to_path_buf(),
            source,
        };
        std::fs::create_dir_all(root.join("blobs/sha256")).map_err(io_err)?;
        let layout = Self { root: root.to_path_buf() };
        if !root.join(LAYOUT_FILE).exists() {
            write_atomically(&root.join(LAYOUT_FILE), LAYOUT_CONTENT)?;
        }
        if !root.join(INDEX_FILE).exists() {
            layout.write_index(&index_of(Vec::new()))?;
        }
        Ok(layout)
    }

    /// Opens an existing layout.
    pub fn open(root: &Path) -> Result<Self, LayoutError> {
        if !root.join(LAYOUT_FILE).is_file() {
            return Err(LayoutError::NotALayout(root.to_path_buf()));
        }
        Ok(Self { root: root.to_path_buf() })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the blob with `digest` is (or would be) stored.
    pub fn blob_path(&self, digest: &str) -> Result<PathBuf, LayoutError> {
        let hex = sha256_hex(digest).ok_or_else(|| LayoutError::BadDigest {
            path: self.root.clone(),
            digest: digest.to_string(),
        })?;
        Ok(self.root.join("blobs/sha256").join(hex))
    }

    pub fn has_blob(&self, digest: &str) -> bool {
        self.blob_path(digest).map(|p| p.is_file()).unwrap_or(false)
    }

    /// Stores `blob` unless it is already there.
    pub fn write_blob(&self, blob: &Blob) -> Result<(), LayoutError> {
        let path = self.blob_path(&blob.digest)?;
        if path.is_file() {
            return Ok(());
        }
        write_atomically(&path, &blob.data)
    }

    /// The index, as stored.
    pub fn index(&self) -> Result<ImageIndex, LayoutError> {
        let path = self.root.join(INDEX_FILE);
        let bytes = std::fs::read(&path).map_err(|source| LayoutError::Io { path, source })?;
        parse_json(&self.root, INDEX_FILE, &bytes)
    }

    /// Names `manifest` (already stored) in the index. A name that pointed
    /// elsewhere before now points here, as a tag does.
    pub fn add_manifest(&self, manifest: &Blob, platform: &Platform, name: Option<&str>) -> Result<(), LayoutError> {
        let descriptor = named_descriptor(manifest, platform, name)?;
        let mut manifests = self.index()?.manifests().clone();
        let full_name = annotation(&descriptor, ANNOTATION_CONTAINERD_NAME).map(str::to_string);
        manifests.retain(|existing| match &full_name {
            Some(full) => annotation(existing, ANNOTATION_CONTAINERD_NAME) != Some(full.as_str()),
            None => existing.digest() != descriptor.digest() || existing.annotations().is_some(),
        });
        manifests.push(descriptor);
        self.write_index(&index_of(manifests))
    }

    /// Stores every blob of `image`, then names its manifest: the index is
    /// written last, so it never names a blob that is not there.
    /// On failure the blobs this call added are removed again.
    pub fn write_image(&self, image: &Image, name: Option<&str>) -> Result<(), LayoutError> {
        let mut added = Vec::new();
        let result = image
            .blobs()
            .chain(std::iter::once(&image.manifest))
            .try_for_each(|blob| {
                if !self.has_blob(&blob.digest) {
                    self.write_blob(blob)?;
                    added.push(self.blob_path(&blob.digest)?);
                }
                Ok(())
            })
            .and_then(|()| self.add_manifest(&image.manifest, &image.platform, name));
        if result.is_err() {
            for path in added {
                let _ = std::fs::remove_file(path);
            }
        }
        result
    }

    fn write_index(&self, index: &ImageIndex) -> Result<(), LayoutError> {
        write_atomically(&self.root.join(INDEX_FILE), &canonical_json(index))
    }
}

/// Saves `image` in the layout at `dest`: added to it when it exists, else
/// built in a temporary folder beside it and renamed into place, so that a
/// failure leaves no layout behind.
pub fn save_image(dest: &Path, image: &Image, name: Option<&str>) -> Result<(), LayoutError> {
    if dest.exists() {
        return OciLayout::create(dest)?.write_image(image, name);
    }
    let io_err = |source| LayoutError::Io {
        path: dest.to_path_buf(),
        source,
    };
    let staging = staging_beside(dest).map_err(io_err)?;
    OciLayout::create(staging.path())?.write_image(image, name)?;
    put_in_place(staging, dest).map_err(io_err)
}

/// A temporary folder in the same folder as `dest` (created if missing), so
/// that [`put_in_place`] is a rename on one filesystem. Dropped unused, it
/// removes itself and what it holds.
pub(crate) fn staging_beside(dest: &Path) -> io::Result<tempfile::TempDir> {
    let parent = match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(parent)?;
    tempfile::Builder::new().prefix(".wasmpack-staging-").tempdir_in(parent)
}

/// Renames a finished staging folder to `dest`: readers see nothing, then
/// the whole tree.
pub(crate) fn put_in_place(staging: tempfile::TempDir, dest: &Path) -> io::Result<()> {
    std::fs::rename(staging.keep(), dest)
}

/// Writes `image` as an OCI archive at `path`, which `docker load`,
/// `skopeo` (`oci-archive:`) and `wasmpack push` read. Entries are sorted and
/// carry fixed metadata, so the file is as reproducible as the image.
pub fn write_archive(path: &Path, image: &Image, name: Option<&str>) -> Result<(), LayoutError> {
    let descriptor = named_descriptor(&image.manifest, &image.platform, name)?;
    let repo_tags: Vec<String> = match name {
        Some(n) => docker_repo_tag(n)?.into_iter().collect(),
        None => Vec::new(),
    };
    let docker_manifest = serde_json::json!([{
        "Config": blob_member(&image.config.digest),
        "RepoTags": repo_tags,
        "Layers": image.layers.iter().map(|l| blob_member(&l.digest)).collect::<Vec<_>>(),
    }]);
    let mut tree = LayerContents::new();
    let mut put = |member: &str, data: Vec<u8>| tree.insert(&format!("/{member}"), EntryKind::File { data, executable: false });
    let tree_err = |e: crate::layer::LayerError| LayoutError::Io {
        path: path.to_path_buf(),
        source: io::Error::other(e.to_string()),
    };
    put(LAYOUT_FILE, LAYOUT_CONTENT.to_vec()).map_err(tree_err)?;
    put(INDEX_FILE, canonical_json(&index_of(vec![descriptor]))).map_err(tree_err)?;
    put(DOCKER_MANIFEST_FILE, canonical_json(&docker_manifest)).map_err(tree_err)?;
    for blob in image.blobs().chain(std::iter::once(&image.manifest)) {
        // Two layers may share a digest; one copy serves both.
        match put(&blob_member(&blob.digest), blob.data.clone()) {
            Ok(()) | Err(crate::layer::LayerError::Duplicate { .. }) => {}
            Err(e) => return Err(tree_err(e)),
        }
    }
    let tar = tree.to_tar(0).map_err(|source| LayoutError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    write_atomically(path, &tar)
}

/// Where an image is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageSource {
    Layout(PathBuf),
    Archive(PathBuf),
}

impl ImageSource {
    /// A folder is a layout, a file an archive.
    pub fn from_path(path: &Path) -> Self {
        if path.is_dir() {
            ImageSource::Layout(path.to_path_buf())
        } else {
            ImageSource::Archive(path.to_path_buf())
        }
    }

    pub fn path(&self) -> &Path {
        match self {
            ImageSource::Layout(p) | ImageSource::Archive(p) => p,
        }
    }
}

/// Reads the image `name` (or the only image) from `source`, verifying every
/// blob. When the name points at an image index, its wasm manifest is taken.
pub fn read_image(source: &ImageSource, name: Option<&str>) -> Result<Image, LayoutError> {
    read_image_with(source, name, |_, _| LayerRead::Required).map(|(image, _)| image)
}

/// What [`read_image_with`] does with one layer's blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayerRead {
    /// Read and verify it; a missing or corrupt blob fails the read.
    Required,
    /// Read and verify it; a missing or corrupt blob is reported as a
    /// [`RejectedLayer`] (a runner can do without a precompiled artifact).
    Optional,
    /// Leave it unread, with no data: the caller already holds this
    /// content, verified under the same digest.
    Skip,
}

/// A layer left out because its blob is missing or does not match its
/// descriptor; it stays in `Image::layers` with no data.
#[derive(Debug)]
pub struct RejectedLayer {
    pub index: usize,
    pub error: LayoutError,
}

/// [`read_image`] with a say per layer: `plan(manifest, i)` decides for
/// the manifest's layer `i`. Skipped and rejected layers stay in
/// `Image::layers` with empty data, so indexes match the manifest.
pub fn read_image_with(
    source: &ImageSource,
    name: Option<&str>,
    plan: impl Fn(&ImageManifest, usize) -> LayerRead,
) -> Result<(Image, Vec<RejectedLayer>), LayoutError> {
    let tree = match source {
        ImageSource::Layout(root) => Tree::Dir(OciLayout::open(root)?.root),
        ImageSource::Archive(path) => Tree::read_archive(path)?,
    };
    let root = source.path();
    let index: ImageIndex = parse_json(root, INDEX_FILE, &tree.read(root, INDEX_FILE)?)?;
    let mut descriptor = select(root, index.manifests(), name)?.clone();
    // Follow nested indexes (what `buildx -o type=oci` writes) to the
    // manifest for a wasm platform.
    for _ in 0..4 {
        if descriptor.media_type() != &MediaType::ImageIndex {
            break;
        }
        let nested: ImageIndex = parse_json(root, "nested image index", &tree.read_blob(root, &descriptor)?)?;
        descriptor = nested
            .manifests()
            .iter()
            .find(|d| d.platform().as_ref().is_some_and(|p| p.architecture() == &Arch::Wasm))
            .cloned()
            .ok_or_else(|| LayoutError::NoWasmManifest { path: root.to_path_buf() })?;
    }
    let manifest_bytes = tree.read_blob(root, &descriptor)?;
    let manifest: ImageManifest = parse_json(root, "image manifest", &manifest_bytes)?;
    let config = blob_of(manifest.config(), tree.read_blob(root, manifest.config())?);
    let mut layers = Vec::with_capacity(manifest.layers().len());
    let mut rejected = Vec::new();
    for (index, layer) in manifest.layers().iter().enumerate() {
        let read = plan(&manifest, index);
        if read == LayerRead::Skip {
            layers.push(blob_of(layer, Vec::new()));
            continue;
        }
        match tree.read_blob(root, layer) {
            Ok(data) => layers.push(blob_of(layer, data)),
            Err(error @ (LayoutError::MissingBlob { .. } | LayoutError::Corrupt { .. })) if read == LayerRead::Optional => {
                layers.push(blob_of(layer, Vec::new()));
                rejected.push(RejectedLayer { index, error });
            }
            Err(error) => return Err(error),
        }
    }
    let platform = match descriptor.platform() {
        Some(p) => p.clone(),
        None => platform_of_config(&config.data),
    };
    let image = Image {
        manifest: blob_of(&descriptor, manifest_bytes),
        config,
        layers,
        platform,
    };
    Ok((image, rejected))
}

/// The files of a layout: on disk, or members of an archive, found by one
/// pass over its tar headers (seeking past the data) and read only when
/// asked for: a run whose layers are already stored reads no blob.
enum Tree {
    Dir(PathBuf),
    Archive {
        file: std::cell::RefCell<std::fs::File>,
        /// Member name to (offset of its data, size).
        members: HashMap<String, (u64, u64)>,
    },
}

impl Tree {
    fn read_archive(path: &Path) -> Result<Self, LayoutError> {
        let io_err = |source| LayoutError::Io {
            path: path.to_path_buf(),
            source,
        };
        let not_archive = |reason: String| LayoutError::NotAnArchive {
            path: path.to_path_buf(),
            reason,
        };
        let mut file = std::fs::File::open(path).map_err(io_err)?;
        let mut magic = [0u8; 4];
        if file.read(&mut magic).map_err(io_err)? == 4 && &magic == b"\0asm" {
            return Err(not_archive("it is a wasm module; `wasmpack build` packages one".into()));
        }
        file.seek(io::SeekFrom::Start(0)).map_err(io_err)?;
        let mut members = HashMap::new();
        let mut archive = tar::Archive::new(&file);
        for entry in archive.entries_with_seek().map_err(io_err)? {
            let entry = entry.map_err(|e| not_archive(format!("reading its tar entries: {e}")))?;
            if entry.header().entry_type() != tar::EntryType::Regular {
                continue;
            }
            let name = entry.path().map_err(io_err)?.to_string_lossy().into_owned();
            let name = name.trim_start_matches("./").to_string();
            members.insert(name, (entry.raw_file_position(), entry.size()));
        }
        if !members.contains_key(LAYOUT_FILE) {
            return Err(LayoutError::NotALayout(path.to_path_buf()));
        }
        Ok(Tree::Archive {
            file: std::cell::RefCell::new(file),
            members,
        })
    }

    fn read(&self, root: &Path, member: &str) -> Result<Vec<u8>, LayoutError> {
        let missing = || LayoutError::Io {
            path: root.join(member),
            source: io::ErrorKind::NotFound.into(),
        };
        match self {
            Tree::Dir(dir) => std::fs::read(dir.join(member)).map_err(|source| LayoutError::Io {
                path: dir.join(member),
                source,
            }),
            Tree::Archive { file, members } => {
                let &(offset, size) = members.get(member).ok_or_else(missing)?;
                let io_err = |source| LayoutError::Io {
                    path: root.join(member),
                    source,
                };
                let mut file = file.borrow_mut();
                file.seek(io::SeekFrom::Start(offset)).map_err(io_err)?;
                let mut data = Vec::new();
                (&mut *file).take(size).read_to_end(&mut data).map_err(io_err)?;
                if data.len() as u64 != size {
                    return Err(io_err(io::ErrorKind::UnexpectedEof.into()));
                }
                Ok(data)
            }
        }
    }

    /// The blob a descriptor names, checked against its digest and size.
    fn read_blob(&self, root: &Path, descriptor: &Descriptor) -> Result<Vec<u8>, LayoutError> {
        let digest = descriptor.digest().to_string();
        let bad_digest = || LayoutError::BadDigest {
            path: root.to_path_buf(),
            digest: digest.clone(),
        };
        sha256_hex(&digest).ok_or_else(bad_digest)?;
        let data = match self.read(root, &blob_member(&digest)) {
            Err(LayoutError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
                return Err(LayoutError::MissingBlob {
                    path: root.to_path_buf(),
                    digest,
                })
            }
            other => other?,
        };
        verify(root, descriptor, &data)?;
        Ok(data)
    }
}

/// Checks `data` against the size and digest of `descriptor`.
pub fn verify(root: &Path, descriptor: &Descriptor, data: &[u8]) -> Result<(), LayoutError> {
    let digest = descriptor.digest().to_string();
    let corrupt = |reason: String| LayoutError::Corrupt {
        path: root.to_path_buf(),
        digest: digest.clone(),
        reason,
    };
    if data.len() as u64 != descriptor.size() {
        return Err(corrupt(format!("size {} where {} was expected", data.len(), descriptor.size())));
    }
    let actual = sha256_digest(data);
    if actual != digest {
        return Err(corrupt(format!("content hashes to {actual}")));
    }
    Ok(())
}

/// Picks the manifest `name` refers to (full reference, tag, or either
/// annotation verbatim), or the only one when no name is given.
fn select<'a>(root: &Path, manifests: &'a [Descriptor], name: Option<&str>) -> Result<&'a Descriptor, LayoutError> {
    let available = || {
        let names: Vec<String> = manifests
            .iter()
            .map(|d| {
                annotation(d, ANNOTATION_CONTAINERD_NAME)
                    .or_else(|| annotation(d, ANNOTATION_REF_NAME))
                    .map(str::to_string)
                    .unwrap_or_else(|| d.digest().to_string())
            })
            .collect();
        if names.is_empty() {
            "nothing".to_string()
        } else {
            names.join(", ")
        }
    };
    let Some(name) = name else {
        return match manifests {
            [only] => Ok(only),
            _ => Err(LayoutError::Ambiguous {
                path: root.to_path_buf(),
                count: manifests.len(),
                available: available(),
            }),
        };
    };
    let full = normalize_name(name).ok().map(|(full, _)| full);
    manifests
        .iter()
        .find(|d| {
            let containerd = annotation(d, ANNOTATION_CONTAINERD_NAME);
            let ref_name = annotation(d, ANNOTATION_REF_NAME);
            containerd == Some(name) || ref_name == Some(name) || (full.is_some() && containerd == full.as_deref()) || d.digest().to_string() == name
        })
        .ok_or_else(|| LayoutError::NoSuchImage {
            path: root.to_path_buf(),
            name: name.to_string(),
            available: available(),
        })
}

/// The index entry for a manifest: its platform, and for a named image the
/// tag (`org.opencontainers.image.ref.name`, which skopeo's `oci:` reads) and
/// the full name (`io.containerd.image.name`, which `docker load` reads).
fn named_descriptor(manifest: &Blob, platform: &Platform, name: Option<&str>) -> Result<Descriptor, LayoutError> {
    let mut descriptor = descriptor_of(manifest);
    descriptor.set_platform(Some(platform.clone()));
    if let Some(name) = name {
        let (full, tag) = normalize_name(name)?;
        let mut annotations = HashMap::from([(ANNOTATION_CONTAINERD_NAME.to_string(), full)]);
        // A digest-only name has no tag to record.
        if let Some(tag) = tag {
            annotations.insert(ANNOTATION_REF_NAME.to_string(), tag);
        }
        descriptor.set_annotations(Some(annotations));
    }
    Ok(descriptor)
}

/// `demo/hello:1` the way `docker images` shows it (no `docker.io/library/`);
/// none for a digest-only name, which has no tag.
fn docker_repo_tag(name: &str) -> Result<Option<String>, LayoutError> {
    let (full, tag) = normalize_name(name)?;
    if tag.is_none() {
        return Ok(None);
    }
    let short = full.strip_prefix("docker.io/").unwrap_or(&full);
    Ok(Some(short.strip_prefix("library/").unwrap_or(short).to_string()))
}

fn index_of(manifests: Vec<Descriptor>) -> ImageIndex {
    ImageIndexBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageIndex)
        .manifests(manifests)
        .build()
        .expect("schema version and manifests are all an index needs")
}

fn annotation<'a>(descriptor: &'a Descriptor, key: &str) -> Option<&'a str> {
    descriptor.annotations().as_ref().and_then(|a| a.get(key)).map(String::as_str)
}

fn blob_member(digest: &str) -> String {
    format!("blobs/{}", digest.replacen(':', "/", 1))
}

/// `os`/`architecture` from an image or wasm-artifact config.
pub(crate) fn platform_of_config(config: &[u8]) -> Platform {
    #[derive(Deserialize, Default)]
    struct OsArch {
        #[serde(default)]
        os: String,
        #[serde(default)]
        architecture: String,
    }
    let facts: OsArch = serde_json::from_slice(config).unwrap_or_default();
    PlatformBuilder::default()
        .os(Os::from(facts.os.as_str()))
        .architecture(Arch::from(facts.architecture.as_str()))
        .build()
        .expect("os and architecture are all a platform needs")
}

fn parse_json<T: serde::de::DeserializeOwned>(root: &Path, file: &str, bytes: &[u8]) -> Result<T, LayoutError> {
    serde_json::from_slice(bytes).map_err(|e| LayoutError::BadJson {
        path: root.to_path_buf(),
        file: file.to_string(),
        reason: e.to_string(),
    })
}

/// Writes `data` to a temporary file next to `path`, then renames it into
/// place: readers see the old file or the new one, never a part.
pub fn write_atomically(path: &Path, data: &[u8]) -> Result<(), LayoutError> {
    let io_err = |source| LayoutError::Io {
        path: path.to_path_buf(),
        source,
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io_err)?;
    tmp.write_all(data).map_err(io_err)?;
    tmp.as_file().sync_all().map_err(io_err)?;
    tmp.persist(path).map_err(|e| io_err(e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::{build_image, ImageSpec};
    use crate::wasm::tests::hello_wasm;

    fn image(epoch: u64) -> Image {
        build_image(&ImageSpec {
            wasm: hello_wasm(),
            wasm_path: "/hello.wasm".into(),
            epoch,
            ..Default::default()
        })
        .unwrap()
    }

    #[test]
    fn names_normalize_and_only_digest_pinned_names_lack_a_tag() {
        let digest = format!("sha256:{}", "a".repeat(64));
        let tag = |name: &str| normalize_name(name).unwrap().1;
        assert_eq!(
            normalize_name("hello").unwrap(),
            ("docker.io/library/hello:latest".to_string(), Some("latest".to_string()))
        );
        assert_eq!(tag("127.0.0.1:5000/demo/hello:1"), Some("1".to_string()));
        assert_eq!(tag(&format!("127.0.0.1:5000/demo/hello@{digest}")), None);
        assert_eq!(tag(&format!("demo/hello:1@{digest}")), Some("1".to_string()));

        let dir = tempfile::tempdir().unwrap();
        let archive = dir.path().join("pinned.tar");
        write_archive(&archive, &image(0), Some(&format!("127.0.0.1:5000/demo/hello@{digest}"))).unwrap();
        let layout = dir.path().join("pinned");
        save_image(&layout, &image(0), Some(&format!("127.0.0.1:5000/demo/hello@{digest}"))).unwrap();
        let index: serde_json::Value = serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
        let annotations = &index["manifests"][0]["annotations"];
        assert!(annotations.get(ANNOTATION_REF_NAME).is_none(), "no made-up tag: {annotations}");
        assert_eq!(annotations[ANNOTATION_CONTAINERD_NAME], format!("127.0.0.1:5000/demo/hello@{digest}"));
    }

    #[test]
    fn a_written_layout_reads_back_by_full_name_tag_or_alone() {
        let dir = tempfile::tempdir().unwrap();
        let layout = OciLayout::create(dir.path()).unwrap();
        let img = image(0);
        layout.write_image(&img, Some("demo/hello:1")).unwrap();
        let source = ImageSource::from_path(dir.path());
        for name in [Some("demo/hello:1"), Some("docker.io/demo/hello:1"), Some("1"), None] {
            let back = read_image(&source, name).unwrap();
            assert_eq!(back.manifest, img.manifest, "{name:?}");
            assert_eq!(back.layers, img.layers);
            assert_eq!(back.config, img.config);
            assert_eq!(back.platform, img.platform);
        }
        let err = read_image(&source, Some("other:2")).unwrap_err();
        assert!(err.to_string().contains("docker.io/demo/hello:1"), "{err}");
    }

    #[test]
    fn retagging_moves_the_name_and_two_names_need_choosing() {
        let dir = tempfile::tempdir().unwrap();
        let layout = OciLayout::create(dir.path()).unwrap();
        layout.write_image(&image(0), Some("a:1")).unwrap();
        layout.write_image(&image(1), Some("a:1")).unwrap();
        assert_eq!(layout.index().unwrap().manifests().len(), 1);
        let source = ImageSource::from_path(dir.path());
        assert_eq!(read_image(&source, None).unwrap().manifest, image(1).manifest);
        layout.write_image(&image(0), Some("b:1")).unwrap();
        assert!(matches!(read_image(&source, None), Err(LayoutError::Ambiguous { count: 2, .. })));
    }

    #[test]
    fn a_corrupted_blob_is_refused_with_its_digest() {
        let dir = tempfile::tempdir().unwrap();
        let layout = OciLayout::create(dir.path()).unwrap();
        let img = image(0);
        layout.write_image(&img, None).unwrap();
        let layer = layout.blob_path(&img.layers[0].digest).unwrap();
        let mut data = std::fs::read(&layer).unwrap();
        let last = data.len() - 1;
        data[last] ^= 1;
        std::fs::write(&layer, &data).unwrap();
        let err = read_image(&ImageSource::from_path(dir.path()), None).unwrap_err();
        assert!(matches!(err, LayoutError::Corrupt { .. }), "{err}");
        assert!(err.to_string().contains(&img.layers[0].digest));
        std::fs::remove_file(&layer).unwrap();
        let err = read_image(&ImageSource::from_path(dir.path()), None).unwrap_err();
        assert!(matches!(err, LayoutError::MissingBlob { .. }), "{err}");
    }

    #[test]
    fn a_module_or_junk_given_as_an_archive_is_named_as_such() {
        let dir = tempfile::tempdir().unwrap();
        let wasm = dir.path().join("hello.wasm");
        std::fs::write(&wasm, hello_wasm()).unwrap();
        let err = read_image(&ImageSource::from_path(&wasm), None).unwrap_err();
        assert!(err.to_string().contains("is a wasm module; `wasmpack build` packages one"), "{err}");
        let junk = dir.path().join("junk.tar");
        std::fs::write(&junk, vec![b'x'; 1024]).unwrap();
        let err = read_image(&ImageSource::from_path(&junk), None).unwrap_err();
        assert!(err.to_string().starts_with(&format!("{}: not an OCI archive", junk.display())), "{err}");
    }

    #[test]
    fn only_optional_layers_may_be_rejected_and_they_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let layout = OciLayout::create(dir.path()).unwrap();
        let img = image(0);
        layout.write_image(&img, None).unwrap();
        let layer = layout.blob_path(&img.layers[0].digest).unwrap();
        std::fs::write(&layer, b"tampered").unwrap();
        let source = ImageSource::from_path(dir.path());
        let (back, rejected) = read_image_with(&source, None, |_, _| LayerRead::Optional).unwrap();
        assert_eq!(rejected.len(), 1);
        assert_eq!(rejected[0].index, 0);
        assert!(matches!(rejected[0].error, LayoutError::Corrupt { .. }));
        assert!(back.layers[0].data.is_empty(), "a rejected layer carries no data");
        assert_eq!(back.layers[0].digest, img.layers[0].digest);
        let err = read_image_with(&source, None, |_, _| LayerRead::Required).unwrap_err();
        assert!(matches!(err, LayoutError::Corrupt { .. }), "{err}");
        let (skipped, rejected) = read_image_with(&source, None, |_, _| LayerRead::Skip).unwrap();
        assert!(rejected.is_empty(), "a skipped blob is not read, so not judged");
        assert!(skipped.layers[0].data.is_empty());
    }

    #[test]
    fn archives_are_reproducible_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a.tar"), dir.path().join("b.tar"));
        let img = image(0);
        write_archive(&a, &img, Some("demo/hello")).unwrap();
        write_archive(&b, &img, Some("demo/hello")).unwrap();
        assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
        let back = read_image(&ImageSource::from_path(&a), Some("demo/hello:latest")).unwrap();
        assert_eq!(back.manifest, img.manifest);
        let members: Vec<String> = tar::Archive::new(std::fs::File::open(&a).unwrap())
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
            .collect();
        assert!(members.contains(&"manifest.json".to_string()), "{members:?}");
        let docker: serde_json::Value = serde_json::from_slice(&Tree::read_archive(&a).unwrap().read(&a, "manifest.json").unwrap()).unwrap();
        assert_eq!(docker[0]["RepoTags"][0], "demo/hello:latest");
    }

    #[test]
    fn save_image_creates_a_layout_whole_or_adds_to_one() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("new/layout");
        save_image(&dest, &image(0), Some("a:1")).unwrap();
        save_image(&dest, &image(1), Some("a:2")).unwrap();
        assert_eq!(OciLayout::open(&dest).unwrap().index().unwrap().manifests().len(), 2);
        let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("new"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(leftovers, ["layout"]);
    }

    #[test]
    fn blob_paths_only_come_from_sha256_digests() {
        let dir = tempfile::tempdir().unwrap();
        let layout = OciLayout::create(dir.path()).unwrap();
        assert!(layout.blob_path("sha256:../../../etc/passwd").is_err());
        assert!(!layout.has_blob("sha512:00"));
        assert!(matches!(OciLayout::open(&dir.path().join("nope")), Err(LayoutError::NotALayout(_))));
    }
}
