//! Unpacking an image's layers into a folder, safely.
//!
//! Layers come from registries and archives, that is from whoever made the
//! image. Nothing in one may land outside the destination: entries with `..`
//! or absolute paths, symlinks and hard links that point out, writes through
//! a symlink an earlier entry planted, and device files are all refused.
//! OCI whiteouts (`.wh.NAME`, `.wh..wh..opq`) are applied between layers.
//! The tree is built in a temporary folder and renamed into place at the end,
//! so a failure leaves nothing behind.
//!
//! A layer's size says little about what it unpacks to (a gzip of zeros
//! shrinks a thousandfold): bytes and entries are counted as they are
//! decompressed, and refused past [`UnpackLimits`].

use std::cell::Cell;
use std::collections::HashSet;
use std::fmt;
use std::io;
use std::num::ParseIntError;
use std::path::{Component, Path, PathBuf};

use crate::digest::Blob;
use crate::image::{Image, MEDIA_TYPE_WASM_LAYER};
use crate::layer::{Compression, UnsupportedMediaType};
use crate::layout::{put_in_place, staging_beside};

/// File name of the module when an artifact (whose only layer is the module
/// itself, not a tar) is unpacked.
pub const ARTIFACT_MODULE_FILE: &str = "module.wasm";

const WHITEOUT_PREFIX: &str = ".wh.";
const OPAQUE_WHITEOUT: &str = ".wh..wh..opq";

/// The environment variables [`UnpackLimits::from_env`] reads.
pub const MAX_BYTES_VAR: &str = "WASMPACK_MAX_UNPACK_BYTES";
pub const MAX_ENTRIES_VAR: &str = "WASMPACK_MAX_UNPACK_ENTRIES";
pub const MAX_FILE_BYTES_VAR: &str = "WASMPACK_MAX_READ_FILE_BYTES";

/// How much one unpacking may decompress and create, and how large the one
/// file [`read_file`] holds in memory may be. The defaults are far above
/// real images and far below a full disk or memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnpackLimits {
    /// Bytes decompressed from all the layers of one unpacking, tar headers
    /// included (16 GiB).
    pub max_bytes: u64,
    /// Tar entries in all the layers of one unpacking (1,000,000).
    pub max_entries: u64,
    /// Bytes of the file [`read_file`] returns (512 MiB).
    pub max_file_bytes: u64,
}

impl Default for UnpackLimits {
    fn default() -> Self {
        UnpackLimits {
            max_bytes: 16 << 30,
            max_entries: 1_000_000,
            max_file_bytes: 512 << 20,
        }
    }
}

impl UnpackLimits {
    /// The defaults, each replaced by its environment variable when that is
    /// set: [`MAX_BYTES_VAR`], [`MAX_ENTRIES_VAR`], [`MAX_FILE_BYTES_VAR`].
    pub fn from_env() -> Result<Self, LimitVarError> {
        let defaults = UnpackLimits::default();
        Ok(UnpackLimits {
            max_bytes: var_or(MAX_BYTES_VAR, defaults.max_bytes)?,
            max_entries: var_or(MAX_ENTRIES_VAR, defaults.max_entries)?,
            max_file_bytes: var_or(MAX_FILE_BYTES_VAR, defaults.max_file_bytes)?,
        })
    }
}

fn var_or(variable: &'static str, default: u64) -> Result<u64, LimitVarError> {
    let Some(value) = std::env::var_os(variable) else {
        return Ok(default);
    };
    let value = value.to_string_lossy().into_owned();
    value.parse().map_err(|source| LimitVarError {
        variable,
        value,
        source,
    })
}

/// A limit's environment variable that is not a whole number.
#[derive(Debug, thiserror::Error)]
#[error("environment variable {variable}={value:?}")]
pub struct LimitVarError {
    variable: &'static str,
    value: String,
    source: ParseIntError,
}

/// Which of the [`UnpackLimits`] a layer went past.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Limit {
    Bytes(u64),
    Entries(u64),
    FileBytes { path: String, max: u64 },
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Limit::Bytes(max) => write!(
                f,
                "unpacks to more than {max} bytes, the limit (${MAX_BYTES_VAR})"
            ),
            Limit::Entries(max) => write!(
                f,
                "holds more than {max} entries, the limit (${MAX_ENTRIES_VAR})"
            ),
            Limit::FileBytes { path, max } => write!(
                f,
                "file {path:?} is larger than {max} bytes, the limit for a file read \
                 into memory (${MAX_FILE_BYTES_VAR})"
            ),
        }
    }
}

/// What one unpacking has used of its limits so far, across its layers.
#[derive(Debug)]
pub struct UnpackBudget {
    limits: UnpackLimits,
    // Cells: the byte count is kept by the reader the tar parser owns, and
    // read by the error mapping beside it.
    bytes: Cell<u64>,
    entries: Cell<u64>,
}

impl UnpackBudget {
    pub fn new(limits: UnpackLimits) -> Self {
        UnpackBudget {
            limits,
            bytes: Cell::new(0),
            entries: Cell::new(0),
        }
    }

    /// `reader`, counting what it yields against the byte limit.
    fn count<R: io::Read>(&self, reader: R) -> CountingReader<'_, R> {
        CountingReader {
            inner: reader,
            read: &self.bytes,
            max: self.limits.max_bytes,
        }
    }

    /// What a read error of `layer` means: the byte limit once that was
    /// passed (the counting reader failed it), else the error itself.
    fn layer_error(&self, layer: &str, source: io::Error) -> UnpackError {
        let layer = layer.to_string();
        if self.bytes.get() > self.limits.max_bytes {
            UnpackError::Limit {
                layer,
                limit: Limit::Bytes(self.limits.max_bytes),
            }
        } else {
            UnpackError::Layer { layer, source }
        }
    }

    /// Counts one more entry of `layer`, refused past the limit.
    fn add_entry(&self, layer: &str) -> Result<(), UnpackError> {
        let entries = self.entries.get().saturating_add(1);
        self.entries.set(entries);
        if entries > self.limits.max_entries {
            return Err(UnpackError::Limit {
                layer: layer.to_string(),
                limit: Limit::Entries(self.limits.max_entries),
            });
        }
        Ok(())
    }
}

/// A reader that fails once more than `max` bytes came through it in all,
/// so that a bomb stops at the limit, whatever its tar headers claim.
struct CountingReader<'a, R> {
    inner: R,
    read: &'a Cell<u64>,
    max: u64,
}

impl<R: io::Read> io::Read for CountingReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let read = self.read.get();
        if read > self.max {
            return Err(io::Error::other("past the unpacked bytes limit"));
        }
        // One byte past the limit is enough to know it was passed.
        let room = usize::try_from(self.max - read + 1).unwrap_or(usize::MAX);
        let len = buf.len().min(room);
        let n = self.inner.read(&mut buf[..len])?;
        self.read.set(read + n as u64);
        if self.read.get() > self.max {
            return Err(io::Error::other("past the unpacked bytes limit"));
        }
        Ok(n)
    }
}

/// Why an image could not be unpacked.
#[derive(Debug, thiserror::Error)]
pub enum UnpackError {
    #[error("layer {layer}: entry {entry:?} {reason}")]
    Unsafe {
        layer: String,
        entry: String,
        reason: &'static str,
    },
    #[error("layer {layer}")]
    Layer { layer: String, source: io::Error },
    #[error("layer {layer}: {limit}")]
    Limit { layer: String, limit: Limit },
    #[error(transparent)]
    MediaType(#[from] UnsupportedMediaType),
    #[error("{0}: destination exists and is not empty")]
    NotEmpty(PathBuf),
    #[error("{path}")]
    Io { path: PathBuf, source: io::Error },
}

/// Unpacks every layer of `image`, in order, into `dest`, which must not
/// exist or be empty, within `limits` for the whole image.
pub fn unpack_image(image: &Image, dest: &Path, limits: UnpackLimits) -> Result<(), UnpackError> {
    unpack_layers(&image.layers, dest, limits)
}

/// [`unpack_image`] for a chosen run of an image's layers, in order.
pub fn unpack_layers<'a>(
    layers: impl IntoIterator<Item = &'a Blob>,
    dest: &Path,
    limits: UnpackLimits,
) -> Result<(), UnpackError> {
    let io_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| UnpackError::Io { path, source }
    };
    if dest.exists() {
        let mut entries = std::fs::read_dir(dest).map_err(io_err(dest))?;
        if entries.next().is_some() {
            return Err(UnpackError::NotEmpty(dest.to_path_buf()));
        }
        // Left in place: renaming the finished tree onto an empty folder
        // replaces it, and a failure before then keeps the user's folder.
    }
    let staging = staging_beside(dest).map_err(io_err(dest))?;
    let budget = UnpackBudget::new(limits);
    for layer in layers {
        if layer.media_type == MEDIA_TYPE_WASM_LAYER {
            let path = staging.path().join(ARTIFACT_MODULE_FILE);
            std::fs::write(&path, &layer.data).map_err(io_err(&path))?;
            continue;
        }
        let compression = Compression::from_media_type(&layer.media_type)?;
        let reader = compression
            .decompress(layer.data.as_slice())
            .map_err(|source| UnpackError::Layer {
                layer: layer.digest.clone(),
                source,
            })?;
        unpack_layer(reader, staging.path(), &layer.digest, &budget)?;
    }
    put_in_place(staging, dest).map_err(io_err(dest))
}

/// The regular file at `path` (`/app/hello.wasm`) in one layer, `None` when
/// the layer holds none: one file read without unpacking the layer. Of
/// several entries for the path the last counts, as when unpacking. The
/// whole layer is decompressed, within `limits`; the file is held in
/// memory, within the smaller `max_file_bytes`.
pub fn read_file(
    layer: &Blob,
    path: &str,
    limits: UnpackLimits,
) -> Result<Option<Vec<u8>>, UnpackError> {
    let budget = UnpackBudget::new(limits);
    let layer_err = |source| budget.layer_error(&layer.digest, source);
    let compression = Compression::from_media_type(&layer.media_type)?;
    let reader = compression
        .decompress(layer.data.as_slice())
        .map_err(layer_err)?;
    let wanted = path.trim_start_matches('/');
    let mut found = None;
    let mut archive = tar::Archive::new(budget.count(reader));
    for entry in archive.entries().map_err(layer_err)? {
        let mut entry = entry.map_err(layer_err)?;
        budget.add_entry(&layer.digest)?;
        let name = entry
            .path()
            .map_err(layer_err)?
            .to_string_lossy()
            .into_owned();
        if entry.header().entry_type().is_file()
            && name.trim_start_matches("./").trim_start_matches('/') == wanted
        {
            // One byte more than the limit tells a file past it, whatever
            // size its header claims, without reading the rest.
            let max = limits.max_file_bytes;
            let mut data = Vec::new();
            let mut bounded = io::Read::take(&mut entry, max.saturating_add(1));
            io::Read::read_to_end(&mut bounded, &mut data).map_err(layer_err)?;
            if data.len() as u64 > max {
                return Err(UnpackError::Limit {
                    layer: layer.digest.clone(),
                    limit: Limit::FileBytes {
                        path: path.to_string(),
                        max,
                    },
                });
            }
            found = Some(data);
        }
    }
    Ok(found)
}

/// Applies one uncompressed layer tar on top of what `root` holds, counting
/// what it unpacks in `budget`; refused if it leaves a link in `root` that
/// resolves outside it.
pub fn unpack_layer(
    reader: impl io::Read,
    root: &Path,
    layer: &str,
    budget: &UnpackBudget,
) -> Result<(), UnpackError> {
    let layer_err = |source| budget.layer_error(layer, source);
    // Paths this layer wrote and the folders leading to them: an opaque
    // whiteout hides only what lower layers put in its folder.
    let mut written: HashSet<PathBuf> = HashSet::new();
    let mut archive = tar::Archive::new(budget.count(reader));
    for entry in archive.entries().map_err(layer_err)? {
        let mut entry = entry.map_err(layer_err)?;
        budget.add_entry(layer)?;
        let raw_path = entry
            .path()
            .map_err(layer_err)?
            .to_string_lossy()
            .into_owned();
        let unsafe_entry = |reason| UnpackError::Unsafe {
            layer: layer.to_string(),
            entry: raw_path.clone(),
            reason,
        };
        let Some(rel) = contained(Path::new(&raw_path)) else {
            return Err(unsafe_entry("is absolute or climbs out with `..`"));
        };
        if rel.as_os_str().is_empty() {
            continue; // the root folder itself
        }
        let target = root.join(&rel);
        if writes_through_symlink(root, &rel) {
            return Err(unsafe_entry("would be written through a symlink"));
        }
        let file_name = rel
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if file_name == OPAQUE_WHITEOUT {
            let dir = rel.parent().unwrap_or(Path::new(""));
            clear_lower(root, dir, &written).map_err(layer_err)?;
            continue;
        }
        if let Some(hidden) = file_name.strip_prefix(WHITEOUT_PREFIX) {
            // `.wh.`, `.wh..` and `.wh...` would remove the folder itself or
            // its parent. Any other name is one child of the entry's folder,
            // which the checks above keep inside the root and off symlinks.
            if matches!(hidden, "" | "." | "..") {
                return Err(unsafe_entry("is a whiteout that names no file"));
            }
            remove_any(&target.with_file_name(hidden)).map_err(layer_err)?;
            continue;
        }
        let mode = entry.header().mode().map_err(layer_err)? & 0o777;
        let kind = entry.header().entry_type();
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(layer_err)?;
        }
        match kind {
            tar::EntryType::Directory => {
                if !target.is_dir() || target.is_symlink() {
                    remove_any(&target).map_err(layer_err)?;
                    std::fs::create_dir(&target).map_err(layer_err)?;
                }
                set_mode(&target, mode | 0o700).map_err(layer_err)?;
            }
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                remove_any(&target).map_err(layer_err)?;
                let mut file = std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(&target)
                    .map_err(layer_err)?;
                io::copy(&mut entry, &mut file).map_err(layer_err)?;
                set_mode(&target, mode).map_err(layer_err)?;
            }
            tar::EntryType::Symlink => {
                let link = entry
                    .link_name()
                    .map_err(layer_err)?
                    .ok_or_else(|| unsafe_entry("is a symlink without a target"))?;
                let link_dir = rel.parent().unwrap_or(Path::new(""));
                // An absolute target means the image's root, but on the host it
                // would name the host's: rewrite it relative to the link.
                let link = match link.strip_prefix("/") {
                    Ok(from_root) => {
                        let depth = link_dir.components().count();
                        let up: PathBuf = std::iter::once(".")
                            .chain(std::iter::repeat_n("..", depth))
                            .collect();
                        up.join(from_root)
                    }
                    Err(_) => link.into_owned(),
                };
                // Early, naming the entry; `check_links` sees the final tree,
                // where later links may change what this one's parts mean.
                if let Some(reason) = resolve_link(root, link_dir, &link).map_err(layer_err)? {
                    return Err(unsafe_entry(reason));
                }
                remove_any(&target).map_err(layer_err)?;
                std::os::unix::fs::symlink(&link, &target).map_err(layer_err)?;
            }
            tar::EntryType::Link => {
                let link = entry
                    .link_name()
                    .map_err(layer_err)?
                    .ok_or_else(|| unsafe_entry("is a hard link without a target"))?;
                let Some(link_rel) = contained(&link) else {
                    return Err(unsafe_entry("is a hard link that points outside the image"));
                };
                let source = root.join(&link_rel);
                if writes_through_symlink(root, &link_rel)
                    || source.is_symlink()
                    || !source.is_file()
                {
                    return Err(unsafe_entry(
                        "is a hard link to something that is not a file of the image",
                    ));
                }
                remove_any(&target).map_err(layer_err)?;
                std::fs::hard_link(&source, &target).map_err(layer_err)?;
            }
            _ => return Err(unsafe_entry("is a device, fifo or other special file")),
        }
        // Its folders count as written too: an opaque whiteout above keeps
        // them for this layer's content, and clears what lower layers left.
        for path in rel.ancestors() {
            if path.as_os_str().is_empty() || !written.insert(path.to_path_buf()) {
                break; // the folders above are in already
            }
        }
    }
    check_links(root, layer)
}

/// The most links one path resolution follows, as Linux's (ELOOP past it).
const MAX_LINK_HOPS: usize = 40;

/// One step of a path still to resolve.
enum Step {
    Up,
    Name(std::ffi::OsString),
}

/// Where the kernel would take the link target `target` met in the folder
/// `from` of `root`: `None` when inside the root, else why not. Part by
/// part, following the links already in `root`, so `l -> .` makes `l/..`
/// climb out; a missing part is taken as a folder, as a later entry may
/// make it one. An absolute link met on the way names the host's root.
fn resolve_link(root: &Path, from: &Path, target: &Path) -> io::Result<Option<&'static str>> {
    const OUTSIDE: &str = "is a symlink that resolves outside the image";
    let mut at: Vec<std::ffi::OsString> = from.iter().map(|p| p.to_os_string()).collect();
    // Steps still to take, the next one last.
    let mut steps: Vec<Step> = Vec::new();
    let mut hops = 0;
    let mut next = Some(target.to_path_buf());
    while let Some(path) = next.take() {
        for component in path.components().rev() {
            match component {
                Component::Normal(name) => steps.push(Step::Name(name.to_os_string())),
                Component::ParentDir => steps.push(Step::Up),
                Component::CurDir => {}
                Component::RootDir | Component::Prefix(_) => return Ok(Some(OUTSIDE)),
            }
        }
        while let Some(step) = steps.pop() {
            let name = match step {
                Step::Up if at.pop().is_some() => continue,
                Step::Up => return Ok(Some(OUTSIDE)),
                Step::Name(name) => name,
            };
            let path: PathBuf = std::iter::once(root.as_os_str())
                .chain(at.iter().map(|p| p.as_os_str()))
                .chain(std::iter::once(name.as_os_str()))
                .collect();
            match std::fs::symlink_metadata(&path) {
                Ok(meta) if meta.file_type().is_symlink() => {
                    hops += 1;
                    if hops > MAX_LINK_HOPS {
                        return Ok(Some("is a symlink through more than 40 links"));
                    }
                    // The link's own target, from the folder it is in.
                    next = Some(std::fs::read_link(&path)?);
                    break;
                }
                Ok(_) => at.push(name),
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
                    ) =>
                {
                    at.push(name)
                }
                Err(e) => return Err(e),
            }
        }
    }
    Ok(None)
}

/// Refuses a tree that holds a link resolving outside it: a link checked
/// when written can be turned outward by a later one (`esc -> l/../x`, then
/// `l -> .`), in the same layer or the next, so each layer ends with this;
/// the error names `layer`, which left the tree so.
fn check_links(root: &Path, layer: &str) -> Result<(), UnpackError> {
    let io_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| UnpackError::Io { path, source }
    };
    let mut folders = vec![PathBuf::new()];
    while let Some(folder) = folders.pop() {
        let dir = root.join(&folder);
        for child in std::fs::read_dir(&dir).map_err(io_err(&dir))? {
            let child = child.map_err(io_err(&dir))?;
            let rel = folder.join(child.file_name());
            let kind = child.file_type().map_err(io_err(&child.path()))?;
            if kind.is_dir() {
                folders.push(rel);
            } else if kind.is_symlink() {
                // Resolving the link's own path follows it, as a use would.
                let outside =
                    resolve_link(root, Path::new(""), &rel).map_err(io_err(&child.path()))?;
                if let Some(reason) = outside {
                    return Err(UnpackError::Unsafe {
                        layer: layer.to_string(),
                        entry: rel.to_string_lossy().into_owned(),
                        reason,
                    });
                }
            }
        }
    }
    Ok(())
}

/// `path` as a relative path that stays inside the root, or `None`.
/// Absolute paths are refused (`/x`), as is anything whose `..` parts climb
/// above the start; `.` parts are dropped.
fn contained(path: &Path) -> Option<PathBuf> {
    let mut parts: Vec<&std::ffi::OsStr> = Vec::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => parts.push(part),
            Component::CurDir => {}
            Component::ParentDir => {
                parts.pop()?;
            }
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(parts.iter().collect())
}

/// Whether a folder on the way from `root` to `rel` is a symlink, so that
/// writing `rel` would follow it (possibly out of the root).
fn writes_through_symlink(root: &Path, rel: &Path) -> bool {
    let mut at = root.to_path_buf();
    let parents: Vec<_> = rel.components().collect();
    for part in &parents[..parents.len().saturating_sub(1)] {
        at.push(part);
        if at.is_symlink() {
            return true;
        }
    }
    false
}

/// Removes what `root`/`dir` holds that this layer did not write, at any
/// depth: one look-up in `written` per child, and only the folders this
/// layer wrote into are walked.
fn clear_lower(root: &Path, dir: &Path, written: &HashSet<PathBuf>) -> io::Result<()> {
    use io::ErrorKind::{NotADirectory, NotFound};
    // A list rather than recursion: folders may nest as deep as paths allow.
    let mut folders = vec![dir.to_path_buf()];
    while let Some(folder) = folders.pop() {
        let children = match std::fs::read_dir(root.join(&folder)) {
            Ok(children) => children,
            // No such folder below: nothing to hide.
            Err(e) if matches!(e.kind(), NotFound | NotADirectory) => continue,
            Err(e) => return Err(e),
        };
        for child in children {
            let child = child?;
            let rel = folder.join(child.file_name());
            if !written.contains(&rel) {
                remove_any(&child.path())?;
            } else if child.file_type()?.is_dir() {
                // A folder of this layer may still hold lower layers' files.
                folders.push(rel);
            }
        }
    }
    Ok(())
}

/// Removes a file, symlink or folder tree; nothing there is fine.
fn remove_any(path: &Path) -> io::Result<()> {
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
        Ok(meta) if meta.is_dir() => std::fs::remove_dir_all(path),
        Ok(_) => std::fs::remove_file(path),
    }
}

fn set_mode(path: &Path, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

#[cfg(test)]
mod proptests;

#[cfg(test)]
mod tests {
    use super::*;

    // The tests written before the limits call these, with the defaults.
    fn unpack_layer(reader: &[u8], root: &Path, layer: &str) -> Result<(), UnpackError> {
        super::unpack_layer(
            reader,
            root,
            layer,
            &UnpackBudget::new(UnpackLimits::default()),
        )
    }

    fn unpack_image(image: &Image, dest: &Path) -> Result<(), UnpackError> {
        super::unpack_image(image, dest, UnpackLimits::default())
    }

    fn read_file(layer: &Blob, path: &str) -> Result<Option<Vec<u8>>, UnpackError> {
        super::read_file(layer, path, UnpackLimits::default())
    }

    /// A tar built entry by entry, with whatever (hostile) names we like.
    pub(super) struct RawTar(tar::Builder<Vec<u8>>);

    impl RawTar {
        pub(super) fn new() -> Self {
            Self(tar::Builder::new(Vec::new()))
        }

        pub(super) fn entry(
            mut self,
            name: &str,
            kind: tar::EntryType,
            link: &str,
            data: &[u8],
        ) -> Self {
            let mut header = tar::Header::new_gnu();
            // Set the name bytes directly: the tar crate's setters refuse `..`.
            let bytes = name.as_bytes();
            header.as_old_mut().name[..bytes.len()].copy_from_slice(bytes);
            header.set_entry_type(kind);
            header.set_mode(0o644);
            header.set_size(data.len() as u64);
            if !link.is_empty() {
                header.as_old_mut().linkname[..link.len()].copy_from_slice(link.as_bytes());
            }
            header.set_cksum();
            self.0.append(&header, data).unwrap();
            self
        }

        fn file(self, name: &str, data: &[u8]) -> Self {
            self.entry(name, tar::EntryType::Regular, "", data)
        }

        pub(super) fn bytes(self) -> Vec<u8> {
            self.0.into_inner().unwrap()
        }
    }

    fn unpack(tar: Vec<u8>) -> (tempfile::TempDir, Result<(), UnpackError>) {
        let dir = tempfile::tempdir().unwrap();
        let result = unpack_layer(tar.as_slice(), dir.path(), "sha256:test");
        (dir, result)
    }

    fn assert_refused(tar: Vec<u8>, why: &str) {
        let outside = tempfile::tempdir().unwrap();
        let (_dir, result) = unpack(tar);
        let err = result.expect_err(why);
        assert!(matches!(err, UnpackError::Unsafe { .. }), "{why}: {err}");
        assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0);
    }

    #[test]
    fn plain_files_folders_and_inner_links_unpack() {
        let tar = RawTar::new()
            .entry("app/", tar::EntryType::Directory, "", b"")
            .file("app/main.wasm", b"\0asm")
            .entry("app/link", tar::EntryType::Symlink, "main.wasm", b"")
            .entry("app/abs", tar::EntryType::Symlink, "/app/main.wasm", b"")
            .entry("app/hard", tar::EntryType::Link, "app/main.wasm", b"")
            .bytes();
        let (dir, result) = unpack(tar);
        result.unwrap();
        assert_eq!(
            std::fs::read(dir.path().join("app/link")).unwrap(),
            b"\0asm"
        );
        assert_eq!(
            std::fs::read(dir.path().join("app/hard")).unwrap(),
            b"\0asm"
        );
        assert_eq!(std::fs::read(dir.path().join("app/abs")).unwrap(), b"\0asm");
        assert_eq!(
            std::fs::read_link(dir.path().join("app/abs")).unwrap(),
            Path::new("./../app/main.wasm")
        );
    }

    #[test]
    fn escapes_are_refused() {
        assert_refused(RawTar::new().file("../evil", b"x").bytes(), "dot-dot");
        assert_refused(
            RawTar::new().file("a/../../evil", b"x").bytes(),
            "nested dot-dot",
        );
        assert_refused(RawTar::new().file("/etc/evil", b"x").bytes(), "absolute");
        assert_refused(
            RawTar::new()
                .entry("out", tar::EntryType::Symlink, "../../..", b"")
                .bytes(),
            "symlink pointing out",
        );
        assert_refused(
            RawTar::new()
                .entry("d", tar::EntryType::Symlink, "/", b"")
                .file("d/evil", b"x")
                .bytes(),
            "write through an in-image symlink",
        );
        assert_refused(
            RawTar::new()
                .entry("h", tar::EntryType::Link, "../../etc/passwd", b"")
                .bytes(),
            "hard link out",
        );
        assert_refused(
            RawTar::new()
                .entry("dev", tar::EntryType::Char, "", b"")
                .bytes(),
            "device",
        );
    }

    #[test]
    fn whiteouts_remove_lower_layer_content() {
        let dir = tempfile::tempdir().unwrap();
        let lower = RawTar::new()
            .file("a/x", b"1")
            .file("a/y", b"2")
            .file("b", b"3")
            .bytes();
        unpack_layer(lower.as_slice(), dir.path(), "l1").unwrap();
        let upper = RawTar::new()
            .file("a/z", b"4")
            .file("a/.wh..wh..opq", b"")
            .file(".wh.b", b"")
            .bytes();
        unpack_layer(upper.as_slice(), dir.path(), "l2").unwrap();
        let mut left: Vec<_> = std::fs::read_dir(dir.path().join("a"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        left.sort();
        assert_eq!(left, ["z"]);
        assert!(!dir.path().join("b").exists());
    }

    #[test]
    fn whiteouts_of_no_name_are_refused() {
        // `.wh.` and `.wh..` would name the entry's folder, `.wh...` its
        // parent: each would remove far more than one file.
        for name in [
            ".wh...",
            ".wh..",
            ".wh.",
            "sub/.wh.",
            "sub/.wh..",
            "sub/.wh...",
        ] {
            let outer = tempfile::tempdir().unwrap();
            let root = outer.path().join("root");
            std::fs::create_dir_all(root.join("sub")).unwrap();
            for sentinel in ["sentinel", "root/sentinel", "root/sub/sentinel"] {
                std::fs::write(outer.path().join(sentinel), b"keep").unwrap();
            }
            let tar = RawTar::new().file(name, b"").bytes();
            let err = unpack_layer(tar.as_slice(), &root, "sha256:test")
                .expect_err(&format!("{name}: whiteout of no name refused"));
            assert!(matches!(err, UnpackError::Unsafe { .. }), "{name}: {err}");
            let message = err.to_string();
            assert!(
                message.contains("sha256:test") && message.contains(&format!("{name:?}")),
                "{name}: the error names the layer and the entry: {message}"
            );
            for sentinel in ["sentinel", "root/sentinel", "root/sub/sentinel"] {
                assert!(
                    outer.path().join(sentinel).exists(),
                    "{name}: {sentinel} survives"
                );
            }
        }
    }

    #[test]
    fn whiteouts_do_not_follow_symlinks_out() {
        let outer = tempfile::tempdir().unwrap();
        let root = outer.path().join("root");
        std::fs::create_dir(&root).unwrap();
        std::fs::write(outer.path().join("sentinel"), b"keep").unwrap();
        // A link out of the root (planted, since no layer may make one).
        std::os::unix::fs::symlink("..", root.join("out")).unwrap();
        for name in ["out/.wh.sentinel", "out/.wh..wh..opq"] {
            let tar = RawTar::new().file(name, b"").bytes();
            let err = unpack_layer(tar.as_slice(), &root, "sha256:test")
                .expect_err(&format!("{name}: whiteout through a symlink refused"));
            assert!(matches!(err, UnpackError::Unsafe { .. }), "{name}: {err}");
            assert!(
                outer.path().join("sentinel").exists(),
                "{name}: sentinel survives"
            );
        }
    }

    /// The names under `dir`, depth first, folders marked with a `/`.
    fn tree(dir: &Path) -> Vec<String> {
        let mut names = Vec::new();
        let mut folders = vec![PathBuf::new()];
        while let Some(folder) = folders.pop() {
            for child in std::fs::read_dir(dir.join(&folder)).unwrap() {
                let child = child.unwrap();
                let rel = folder.join(child.file_name());
                if child.file_type().unwrap().is_dir() {
                    names.push(format!("{}/", rel.display()));
                    folders.push(rel);
                } else {
                    names.push(rel.display().to_string());
                }
            }
        }
        names.sort();
        names
    }

    #[test]
    fn opaque_whiteouts_hide_exactly_the_lower_layers() {
        // The OCI image spec: an opaque whiteout hides all that lower layers
        // put in its folder and nothing its own layer put there, wherever it
        // comes in the tar.
        let lower = RawTar::new()
            .file("d/x", b"lower")
            .file("d/kept", b"lower")
            .file("d/sub/x", b"lower")
            .file("e/x", b"lower")
            .bytes();
        let opaque_first = RawTar::new()
            .file("d/.wh..wh..opq", b"")
            .file("x", b"upper")
            .file("e/x", b"upper")
            .file("d/kept", b"upper")
            .file("d/sub/y", b"upper")
            .bytes();
        let opaque_last = RawTar::new()
            .file("x", b"upper")
            .file("e/x", b"upper")
            .file("d/kept", b"upper")
            .file("d/sub/y", b"upper")
            .file("d/.wh..wh..opq", b"")
            .bytes();
        for (order, upper) in [("first", opaque_first), ("last", opaque_last)] {
            let dir = tempfile::tempdir().unwrap();
            unpack_layer(lower.as_slice(), dir.path(), "l1").unwrap();
            unpack_layer(upper.as_slice(), dir.path(), "l2").unwrap();
            assert_eq!(
                tree(dir.path()),
                ["d/", "d/kept", "d/sub/", "d/sub/y", "e/", "e/x", "x"],
                "opaque whiteout {order}"
            );
            assert_eq!(std::fs::read(dir.path().join("d/kept")).unwrap(), b"upper");
        }
    }

    #[test]
    fn one_file_is_read_out_of_a_layer() {
        let tar = RawTar::new()
            .entry("app/", tar::EntryType::Directory, "", b"")
            .file("./app/a.cwasm", b"first")
            .entry("app/link", tar::EntryType::Symlink, "a.cwasm", b"")
            .file("app/a.cwasm", b"native")
            .bytes();
        let layer = Blob::new(
            crate::layer::MEDIA_TYPE_TAR_GZIP,
            crate::layer::Compression::Gzip.compress(&tar).unwrap(),
        );
        assert_eq!(
            read_file(&layer, "/app/a.cwasm").unwrap().unwrap(),
            b"native"
        );
        assert_eq!(
            read_file(&layer, "/app/link").unwrap(),
            None,
            "regular files only"
        );
        assert_eq!(read_file(&layer, "/app").unwrap(), None);
        let odd = Blob::new("application/octet-stream", tar);
        assert!(matches!(
            read_file(&odd, "/app/a.cwasm"),
            Err(UnpackError::MediaType(_))
        ));
    }

    #[test]
    fn a_failed_unpack_leaves_no_destination() {
        let dir = tempfile::tempdir().unwrap();
        let bad = RawTar::new().file("ok", b"1").file("../evil", b"x").bytes();
        let image = Image {
            manifest: crate::digest::Blob::new("m", vec![]),
            config: crate::digest::Blob::new("c", vec![]),
            layers: vec![crate::digest::Blob::new(crate::layer::MEDIA_TYPE_TAR, bad)],
            platform: crate::image::WasiOs::Wasi.platform(),
        };
        let dest = dir.path().join("rootfs");
        assert!(unpack_image(&image, &dest).is_err());
        assert!(!dest.exists());
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            0,
            "no staging folder left"
        );
    }

    /// An empty folder the user gave stays as it was when unpacking fails.
    #[test]
    fn a_failed_unpack_keeps_an_empty_destination() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("rootfs");
        std::fs::create_dir(&dest).unwrap();
        let bad = RawTar::new().file("ok", b"1").file("../evil", b"x").bytes();
        let layer = Blob::new(crate::layer::MEDIA_TYPE_TAR, bad);
        assert!(unpack_layers([&layer], &dest, UnpackLimits::default()).is_err());
        assert_eq!(std::fs::read_dir(&dest).map(|d| d.count()).ok(), Some(0));
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no staging folder left"
        );
    }

    fn gzip_layer(tar: &[u8]) -> Blob {
        Blob::new(
            crate::layer::MEDIA_TYPE_TAR_GZIP,
            Compression::Gzip.compress(tar).unwrap(),
        )
    }

    fn image_of(layers: Vec<Blob>) -> Image {
        Image {
            manifest: Blob::new("m", vec![]),
            config: Blob::new("c", vec![]),
            layers,
            platform: crate::image::WasiOs::Wasi.platform(),
        }
    }

    /// Unpacks `image` into a new folder within `limits`: the error, after
    /// checking that neither the destination nor a staging folder is left.
    fn refused_within(image: &Image, limits: UnpackLimits) -> UnpackError {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("rootfs");
        let err = super::unpack_image(image, &dest, limits).expect_err("past a limit");
        assert!(!dest.exists(), "{err}: no destination");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            0,
            "{err}: no staging folder left"
        );
        err
    }

    #[test]
    fn a_decompression_bomb_stops_at_the_byte_limit() {
        let zeros = vec![0u8; 4 << 20];
        let bomb = gzip_layer(&RawTar::new().file("zeros", &zeros).bytes());
        assert!(bomb.data.len() < 64 << 10, "4 MiB of zeros gzip small");
        let limits = UnpackLimits {
            max_bytes: 1 << 20,
            ..UnpackLimits::default()
        };
        let err = refused_within(&image_of(vec![bomb.clone()]), limits);
        assert!(
            matches!(&err, UnpackError::Limit { layer, limit: Limit::Bytes(max) }
                if *layer == bomb.digest && *max == 1 << 20),
            "{err}"
        );
        let message = err.to_string();
        assert!(
            message.contains(&bomb.digest) && message.contains(MAX_BYTES_VAR),
            "the error names the layer and the limit: {message}"
        );

        // The limit is the image's: two layers under it each, over it together.
        let half = |name: &str| gzip_layer(&RawTar::new().file(name, &zeros[..600 << 10]).bytes());
        let (first, second) = (half("a"), half("b"));
        let err = refused_within(&image_of(vec![first, second.clone()]), limits);
        assert!(
            matches!(&err, UnpackError::Limit { layer, limit: Limit::Bytes(_) } if *layer == second.digest),
            "{err}"
        );

        // Within the defaults the same layer unpacks.
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("rootfs");
        super::unpack_image(&image_of(vec![bomb]), &dest, UnpackLimits::default()).unwrap();
        assert_eq!(
            std::fs::metadata(dest.join("zeros")).unwrap().len(),
            4 << 20
        );
    }

    #[test]
    fn a_file_count_bomb_stops_at_the_entry_limit() {
        let many = |count: usize| {
            let mut tar = RawTar::new();
            for i in 0..count {
                tar = tar.file(&format!("f{i}"), b"");
            }
            gzip_layer(&tar.bytes())
        };
        let limits = UnpackLimits {
            max_entries: 1000,
            ..UnpackLimits::default()
        };
        let bomb = many(2000);
        let err = refused_within(&image_of(vec![bomb.clone()]), limits);
        assert!(
            matches!(&err, UnpackError::Limit { layer, limit: Limit::Entries(1000) }
                if *layer == bomb.digest),
            "{err}"
        );
        assert!(err.to_string().contains(MAX_ENTRIES_VAR), "{err}");

        // Exactly at the limit is within it.
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("rootfs");
        super::unpack_image(&image_of(vec![many(1000)]), &dest, limits).unwrap();
        assert_eq!(std::fs::read_dir(&dest).unwrap().count(), 1000);
    }

    #[test]
    fn reading_an_oversized_file_stops_at_the_file_limit() {
        let limits = UnpackLimits {
            max_file_bytes: 1 << 20,
            ..UnpackLimits::default()
        };
        let is_file_limit = |err: &UnpackError| {
            matches!(err, UnpackError::Limit { limit: Limit::FileBytes { path, max }, .. }
                if path == "/app/big.cwasm" && *max == 1 << 20)
        };
        // A header that claims 8 GiB, followed by 2 MiB: a read of it all
        // would hit the end of the layer, the limit stops it before.
        let mut header = tar::Header::new_gnu();
        header.set_path("app/big.cwasm").unwrap();
        header.set_size(8 << 30);
        header.set_mode(0o644);
        header.set_entry_type(tar::EntryType::Regular);
        header.set_cksum();
        let mut tar = header.as_bytes().to_vec();
        tar.resize(tar.len() + (2 << 20), 0);
        let err = super::read_file(&gzip_layer(&tar), "/app/big.cwasm", limits).unwrap_err();
        assert!(is_file_limit(&err), "{err}");
        assert!(err.to_string().contains(MAX_FILE_BYTES_VAR), "{err}");

        let honest = gzip_layer(&RawTar::new().file("app/big.cwasm", &[7; 2 << 20]).bytes());
        let err = super::read_file(&honest, "/app/big.cwasm", limits).unwrap_err();
        assert!(is_file_limit(&err), "{err}");
        let read = super::read_file(&honest, "/app/big.cwasm", UnpackLimits::default());
        assert_eq!(read.unwrap().unwrap().len(), 2 << 20);

        // The layer's own limits hold for a read too.
        let entries = UnpackLimits {
            max_entries: 1,
            ..UnpackLimits::default()
        };
        let two = gzip_layer(&RawTar::new().file("a", b"").file("b", b"").bytes());
        assert!(matches!(
            super::read_file(&two, "/b", entries),
            Err(UnpackError::Limit {
                limit: Limit::Entries(1),
                ..
            })
        ));
    }

    /// Every symlink under `root` that resolves (on this host, as the
    /// kernel resolves it) outside `root`.
    pub(super) fn links_resolving_outside(root: &Path) -> Vec<String> {
        let root = root.canonicalize().unwrap();
        let mut outside = Vec::new();
        let mut folders = vec![root.clone()];
        while let Some(folder) = folders.pop() {
            for child in std::fs::read_dir(&folder).unwrap() {
                let child = child.unwrap();
                let kind = child.file_type().unwrap();
                if kind.is_dir() {
                    folders.push(child.path());
                } else if kind.is_symlink() {
                    // A dangling link resolves nowhere: it cannot escape.
                    if let Ok(resolved) = std::fs::canonicalize(child.path()) {
                        if !resolved.starts_with(&root) {
                            outside.push(format!(
                                "{} -> {}",
                                child.path().display(),
                                resolved.display()
                            ));
                        }
                    }
                }
            }
        }
        outside
    }

    #[test]
    fn symlink_chains_that_resolve_outside_are_refused() {
        let symlink = tar::EntryType::Symlink;
        for target in [
            "l/l/l/l/../../../../etc/shadow",
            "l/l/l/l/../sentinel",
            "l/../sentinel",
            "/l/l/../sentinel",
            // Past the kernel's 40 links nothing is known of where it goes.
            "loop",
        ] {
            let outer = tempfile::tempdir().unwrap();
            let root = outer.path().join("root");
            std::fs::create_dir(&root).unwrap();
            std::fs::write(outer.path().join("sentinel"), b"keep").unwrap();
            // `l` is the root; the `l/..` parts look like staying inside.
            let tar = RawTar::new()
                .entry("l", symlink, ".", b"")
                .entry("inner", symlink, "l/l/sub/../l", b"")
                .entry("loop", symlink, "esc", b"")
                .entry("esc", symlink, target, b"")
                .bytes();
            let err = unpack_layer(tar.as_slice(), &root, "sha256:test")
                .expect_err(&format!("{target}: refused"));
            // A loop closes only once both links are there: either is named.
            assert!(
                matches!(&err, UnpackError::Unsafe { entry, .. }
                    if entry == "esc" || (target == "loop" && entry == "loop")),
                "{target}: {err}"
            );
            assert_eq!(
                links_resolving_outside(&root),
                Vec::<String>::new(),
                "{target}"
            );
            assert_eq!(
                std::fs::read(outer.path().join("sentinel")).unwrap(),
                b"keep"
            );
        }
    }

    #[test]
    fn links_turned_outward_by_later_entries_are_refused() {
        let symlink = tar::EntryType::Symlink;
        // Each link resolves inside when it is written: a later link, in
        // the same layer or the next, makes its `..` climb out.
        let later_in_layer = vec![RawTar::new()
            .entry("esc", symlink, "l/../sentinel", b"")
            .entry("l", symlink, ".", b"")
            .bytes()];
        let later_layer = vec![
            RawTar::new()
                .entry("d/", tar::EntryType::Directory, "", b"")
                .entry("esc", symlink, "d/../sentinel", b"")
                .bytes(),
            RawTar::new().entry("d", symlink, ".", b"").bytes(),
        ];
        for (case, layers) in [
            ("later in the layer", later_in_layer),
            ("in a later layer", later_layer),
        ] {
            let outer = tempfile::tempdir().unwrap();
            std::fs::write(outer.path().join("sentinel"), b"keep").unwrap();
            let dest = outer.path().join("rootfs");
            let blobs: Vec<_> = layers
                .into_iter()
                .map(|tar| Blob::new(crate::layer::MEDIA_TYPE_TAR, tar))
                .collect();
            let err = unpack_image(&image_of(blobs), &dest).expect_err(case);
            assert!(err.to_string().contains("esc"), "{case}: {err}");
            assert!(!dest.exists(), "{case}: no destination");
            assert_eq!(
                std::fs::read_dir(outer.path()).unwrap().count(),
                1,
                "{case}: no staging"
            );
            assert_eq!(
                std::fs::read(outer.path().join("sentinel")).unwrap(),
                b"keep"
            );
        }
    }

    #[test]
    fn symlink_chains_inside_the_image_unpack() {
        let symlink = tar::EntryType::Symlink;
        let tar = RawTar::new()
            .file("usr/lib/x", b"x")
            .entry("lib", symlink, "usr/lib", b"")
            .entry("l", symlink, ".", b"")
            .entry("etc/x", symlink, "../l/lib/../lib/x", b"")
            .entry("etc/abs", symlink, "/l/lib/x", b"")
            .entry("dangling", symlink, "nowhere/..", b"")
            .bytes();
        let outer = tempfile::tempdir().unwrap();
        let dest = outer.path().join("rootfs");
        let image = image_of(vec![Blob::new(crate::layer::MEDIA_TYPE_TAR, tar)]);
        unpack_image(&image, &dest).unwrap();
        assert_eq!(std::fs::read(dest.join("etc/x")).unwrap(), b"x");
        assert_eq!(std::fs::read(dest.join("etc/abs")).unwrap(), b"x");
        assert_eq!(links_resolving_outside(&dest), Vec::<String>::new());
    }
}
