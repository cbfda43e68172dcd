//! Property tests of unpacking (issue 17, "Fuzzing, kept running").
//!
//! cargo-fuzz needs a nightly toolchain and only stable can be installed
//! where wasmpack is built, so layer unpacking is fuzzed with proptest
//! instead: tar streams of a few layers, each made of hostile-ish entries
//! (names from `a`, `b`, `..`, `.`, empty, `.wh.a`, `.wh..wh..opq`,
//! `.wh...`, with or without a leading `/`; files, folders, symlinks and
//! hard links whose targets come from the same alphabet), unpacked into
//! `root` in a temporary folder that also holds a sentinel file and a
//! sentinel folder. Whatever the layers hold:
//! - unpacking does not panic;
//! - everything outside `root` is byte-for-byte as it was (which also
//!   means no `.wasmpack-staging-*` folder is left);
//! - on success no symlink under `root` resolves outside it;
//! - on failure `root` does not exist.
//!
//! `cargo test` runs [`DEFAULT_CASES`] cases; set `PROPTEST_CASES` for a
//! longer run (see bench/RESULTS.md).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use proptest::prelude::*;
use wasmpack_wasm::test_modules::proptest_config as config;

use super::tests::{links_resolving_outside, RawTar};
use super::*;
use crate::digest::Blob;

/// Cases per `cargo test`: about half a second.
const DEFAULT_CASES: u32 = 128;

/// One part of an entry's name or link target: mostly plain names, so
/// that many images unpack and later entries meet what earlier ones made;
/// `hostile` parts at the rate given (out of 16).
fn component(hostile: u32) -> impl Strategy<Value = &'static str> {
    let plain = prop::sample::select(vec!["a", "b", "c", ".wh.a", ".wh.b", ".wh..wh..opq"]);
    let odd = prop::sample::select(vec!["..", ".", "", ".wh...", ".wh..", ".wh."]);
    prop_oneof![16 - hostile => plain, hostile => odd]
}

/// A path from [`component`]s, absolute or `./`-led at the rate
/// `absolute` (out of 64), sometimes ending in `/`.
fn path(hostile: u32, absolute: u32) -> impl Strategy<Value = String> {
    let prefix = prop_oneof![
        64 - absolute => prop::sample::select(vec!["", "", "./"]),
        absolute => prop::sample::select(vec!["/", "//", "/./"]),
    ];
    (
        prefix,
        prop::collection::vec(component(hostile), 1..5),
        prop::bool::weighted(0.2),
    )
        .prop_map(|(prefix, parts, slash)| {
            let mut path = format!("{prefix}{}", parts.join("/"));
            if slash {
                path.push('/');
            }
            path
        })
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    File,
    Dir,
    Symlink,
    Hardlink,
}

#[derive(Debug, Clone)]
struct Entry {
    name: String,
    kind: Kind,
    /// The link target of a symlink or hard link.
    target: String,
}

fn entry() -> impl Strategy<Value = Entry> {
    let kind = prop_oneof![
        3 => Just(Kind::File),
        2 => Just(Kind::Dir),
        3 => Just(Kind::Symlink),
        1 => Just(Kind::Hardlink),
    ];
    (path(1, 2), kind, path(4, 20)).prop_map(|(name, kind, target)| Entry { name, kind, target })
}

/// The entries of a few layers.
fn layers() -> impl Strategy<Value = Vec<Vec<Entry>>> {
    prop::collection::vec(prop::collection::vec(entry(), 0..8), 1..4)
}

fn tar_of(entries: &[Entry]) -> Vec<u8> {
    let mut tar = RawTar::new();
    for e in entries {
        tar = match e.kind {
            Kind::File => tar.entry(&e.name, tar::EntryType::Regular, "", b"data"),
            Kind::Dir => tar.entry(&e.name, tar::EntryType::Directory, "", b""),
            Kind::Symlink => tar.entry(&e.name, tar::EntryType::Symlink, &e.target, b""),
            Kind::Hardlink => tar.entry(&e.name, tar::EntryType::Link, &e.target, b""),
        };
    }
    tar.bytes()
}

/// What a path holds, as far as the sentinel check cares.
#[derive(Debug, PartialEq, Eq)]
enum Node {
    File { mode: u32, data: Vec<u8> },
    Dir { mode: u32 },
    Symlink(PathBuf),
}

/// Everything under `dir` except its child `skip`, by relative path.
fn snapshot(dir: &Path, skip: &str) -> BTreeMap<PathBuf, Node> {
    use std::os::unix::fs::PermissionsExt;
    let mut nodes = BTreeMap::new();
    let mut folders = vec![PathBuf::new()];
    while let Some(folder) = folders.pop() {
        for child in std::fs::read_dir(dir.join(&folder)).unwrap() {
            let child = child.unwrap();
            let rel = folder.join(child.file_name());
            if rel == Path::new(skip) {
                continue;
            }
            let meta = std::fs::symlink_metadata(child.path()).unwrap();
            let mode = meta.permissions().mode();
            let node = if meta.is_symlink() {
                Node::Symlink(std::fs::read_link(child.path()).unwrap())
            } else if meta.is_dir() {
                folders.push(rel.clone());
                Node::Dir { mode }
            } else {
                Node::File {
                    mode,
                    data: std::fs::read(child.path()).unwrap(),
                }
            };
            nodes.insert(rel, node);
        }
    }
    nodes
}

/// Unpacks `layers` into `root` beside the sentinels and checks the
/// invariants; the unpacking's result, for regression tests to look at.
fn check_unpack(layers: &[Vec<Entry>], limits: UnpackLimits) -> Result<(), String> {
    let outer = tempfile::tempdir().unwrap();
    std::fs::write(outer.path().join("sentinel"), b"keep").unwrap();
    std::fs::create_dir_all(outer.path().join("sentinel-dir/a")).unwrap();
    std::fs::write(outer.path().join("sentinel-dir/a/b"), b"keep too").unwrap();
    std::os::unix::fs::symlink("../sentinel", outer.path().join("sentinel-dir/l")).unwrap();
    let before = snapshot(outer.path(), "root");
    let root = outer.path().join("root");
    let blobs: Vec<Blob> = layers
        .iter()
        .map(|entries| Blob::new(crate::layer::MEDIA_TYPE_TAR, tar_of(entries)))
        .collect();
    let result = unpack_layers(&blobs, &root, limits);
    assert_eq!(
        snapshot(outer.path(), "root"),
        before,
        "outside the root changed ({result:?})"
    );
    match &result {
        Ok(()) => assert_eq!(links_resolving_outside(&root), Vec::<String>::new()),
        Err(err) => assert!(!root.exists(), "{err}: the destination is left"),
    }
    result.map_err(|err| err.to_string())
}

fn limits() -> impl Strategy<Value = UnpackLimits> {
    prop_oneof![
        4 => Just(UnpackLimits::default()),
        1 => (1u64..6).prop_map(|max_entries| UnpackLimits {
            max_entries,
            ..UnpackLimits::default()
        }),
        1 => (512u64..4096).prop_map(|max_bytes| UnpackLimits {
            max_bytes,
            ..UnpackLimits::default()
        }),
    ]
}

proptest! {
    #![proptest_config(config(DEFAULT_CASES))]

    #[test]
    fn hostile_layers_change_nothing_outside_the_root(
        layers in layers(),
        limits in limits(),
    ) {
        let _ = check_unpack(&layers, limits);
    }
}

fn e(name: &str, kind: Kind, target: &str) -> Entry {
    Entry {
        name: name.into(),
        kind,
        target: target.into(),
    }
}

/// The harness lets a plain image through and sees an escape refused.
#[test]
fn the_harness_accepts_a_plain_image_and_refuses_an_escape() {
    let plain = vec![
        vec![e("a/", Kind::Dir, ""), e("a/b", Kind::File, "")],
        vec![
            e("b", Kind::Symlink, "/a/b"),
            e("c", Kind::Hardlink, "a/b"),
            e("a/.wh.b", Kind::File, ""),
        ],
    ];
    assert_eq!(check_unpack(&plain, UnpackLimits::default()), Ok(()));
    let escape = vec![vec![e("a", Kind::Symlink, "..")]];
    assert!(check_unpack(&escape, UnpackLimits::default()).is_err());
}
