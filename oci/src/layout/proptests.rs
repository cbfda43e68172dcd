//! Property tests of layout reading (issue 17, "Fuzzing, kept running"):
//! proptest rather than cargo-fuzz, which needs a nightly toolchain.
//!
//! A valid layout is written, then its `index.json`, manifest, config or
//! `oci-layout` is mutated: replaced by random bytes, truncated, a byte
//! flipped, or, parsed as JSON, one value anywhere replaced by one of the
//! wrong type, a huge or negative number or a malformed digest. A mutated
//! manifest or config is stored under its new digest 3 times in 4, with
//! the descriptors above it updated, so the mutation reaches the parsing
//! behind the digest checks. [`read_image`] then returns an error or an
//! image whose every blob matches its digest and size; it never panics.
//!
//! `cargo test` runs [`DEFAULT_CASES`] cases; set `PROPTEST_CASES` for a
//! longer run (see bench/RESULTS.md).

use std::path::Path;

use proptest::prelude::*;
use serde_json::Value;
use wasmpack_wasm::test_modules::proptest_config as config;

use super::*;
use crate::digest::{sha256_digest, sha256_hex, Blob};
use crate::image::{build_image, ImageSpec};
use wasmpack_wasm::test_modules::hello_wasm;

/// Cases per `cargo test`: about half a second.
const DEFAULT_CASES: u32 = 128;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum File {
    Index,
    Manifest,
    Config,
    OciLayout,
}

#[derive(Debug, Clone)]
enum Mutation {
    Random(Vec<u8>),
    Truncate(prop::sample::Index),
    Flip(prop::sample::Index, u8),
    /// The JSON value at (index into a walk of all values) replaced.
    Value(prop::sample::Index, Value),
}

fn odd_value() -> impl Strategy<Value = Value> {
    let hex = "0123456789abcdef".repeat(4);
    prop::sample::select(vec![
        Value::Null,
        Value::Bool(true),
        serde_json::json!(0),
        serde_json::json!(-1),
        serde_json::json!(u64::MAX),
        serde_json::json!(i64::MIN),
        serde_json::json!(1e308),
        serde_json::json!(0.5),
        serde_json::json!(""),
        serde_json::json!("sha256:"),
        serde_json::json!(format!("sha256:{}", hex.to_uppercase())),
        serde_json::json!(format!("sha256:{}", &hex[1..])),
        serde_json::json!(format!("sha512:{hex}{hex}")),
        serde_json::json!("sha256:../../../../etc/passwd"),
        serde_json::json!(format!("sha256:{hex}/../{hex}")),
        serde_json::json!("é".repeat(50)),
        serde_json::json!([]),
        serde_json::json!({}),
        serde_json::json!([{}]),
        serde_json::json!({"mediaType": "application/vnd.oci.image.index.v1+json"}),
        serde_json::json!("application/vnd.oci.image.index.v1+json"),
        serde_json::json!("application/vnd.oci.image.manifest.v1+json"),
        serde_json::json!({"architecture": "wasm", "os": "wasip1"}),
    ])
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        1 => prop::collection::vec(any::<u8>(), 0..64).prop_map(Mutation::Random),
        1 => any::<prop::sample::Index>().prop_map(Mutation::Truncate),
        1 => (any::<prop::sample::Index>(), 1..=255u8).prop_map(|(at, x)| Mutation::Flip(at, x)),
        4 => (any::<prop::sample::Index>(), odd_value())
            .prop_map(|(at, value)| Mutation::Value(at, value)),
    ]
}

fn file() -> impl Strategy<Value = File> {
    prop_oneof![
        3 => Just(File::Index),
        3 => Just(File::Manifest),
        3 => Just(File::Config),
        1 => Just(File::OciLayout),
    ]
}

/// Every value in `value`, by JSON pointer.
fn pointers(value: &Value, at: String, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                let key = key.replace('~', "~0").replace('/', "~1");
                pointers(child, format!("{at}/{key}"), out);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                pointers(child, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
    out.push(at);
}

fn mutate(bytes: &[u8], mutation: &Mutation) -> Vec<u8> {
    match mutation {
        Mutation::Random(random) => random.clone(),
        Mutation::Truncate(at) => bytes[..at.index(bytes.len() + 1)].to_vec(),
        Mutation::Flip(at, x) => {
            let mut bytes = bytes.to_vec();
            if !bytes.is_empty() {
                let at = at.index(bytes.len());
                bytes[at] ^= x;
            }
            bytes
        }
        Mutation::Value(at, new) => {
            let Ok(mut json) = serde_json::from_slice::<Value>(bytes) else {
                return bytes.to_vec();
            };
            let mut all = Vec::new();
            pointers(&json, String::new(), &mut all);
            let pointer = &all[at.index(all.len())];
            match json.pointer_mut(pointer) {
                Some(slot) => *slot = new.clone(),
                None => unreachable!("{pointer} was found"),
            }
            serde_json::to_vec(&json).unwrap()
        }
    }
}

fn blob_path(root: &Path, digest: &str) -> std::path::PathBuf {
    root.join("blobs/sha256").join(sha256_hex(digest).unwrap())
}

/// Points the descriptor at `pointer` of the JSON file `file` at `data`,
/// stored as a blob; `file` itself is rewritten, and its new bytes returned.
fn repoint(root: &Path, file: &Path, pointer: &str, data: &[u8]) -> Option<Vec<u8>> {
    let digest = sha256_digest(data);
    std::fs::write(blob_path(root, &digest), data).unwrap();
    let mut json: Value = serde_json::from_slice(&std::fs::read(file).unwrap()).ok()?;
    let descriptor = json.pointer_mut(pointer)?.as_object_mut()?;
    descriptor.insert("digest".into(), digest.into());
    descriptor.insert("size".into(), data.len().into());
    let bytes = serde_json::to_vec(&json).unwrap();
    std::fs::write(file, &bytes).unwrap();
    Some(bytes)
}

/// Writes a valid layout into `root`, applies `mutations` to `file` (and,
/// with `rehash`, stores the result under its digest and updates the
/// descriptors above it), and reads the image back, checking what it got.
fn check_read(file: File, mutations: &[Mutation], rehash: bool) -> Result<(), String> {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let image = build_image(&ImageSpec {
        wasm: hello_wasm(),
        wasm_path: "/hello.wasm".into(),
        ..Default::default()
    })
    .unwrap();
    save_image(root, &image, Some("fuzz:1")).unwrap();
    let index_path = root.join(INDEX_FILE);
    let manifest_path = blob_path(root, &image.manifest.digest);
    let config_path = blob_path(root, &image.config.digest);
    let path = match file {
        File::Index => index_path.clone(),
        File::Manifest => manifest_path.clone(),
        File::Config => config_path.clone(),
        File::OciLayout => root.join(LAYOUT_FILE),
    };
    let mut bytes = std::fs::read(&path).unwrap();
    for mutation in mutations {
        bytes = mutate(&bytes, mutation);
    }
    std::fs::write(&path, &bytes).unwrap();
    if rehash {
        // Each level's new bytes, stored by digest, named by the one above.
        if file == File::Config {
            bytes = match repoint(root, &manifest_path, "/config", &bytes) {
                Some(manifest) => manifest,
                None => return check(root),
            };
        }
        if matches!(file, File::Config | File::Manifest) {
            repoint(root, &index_path, "/manifests/0", &bytes);
        }
    }
    check(root)
}

fn check(root: &Path) -> Result<(), String> {
    let image = read_image(&ImageSource::Layout(root.to_path_buf()), None)
        .map_err(|err| err.to_string())?;
    let blobs = [&image.manifest, &image.config]
        .into_iter()
        .chain(&image.layers);
    for blob in blobs {
        let Blob {
            digest, size, data, ..
        } = blob;
        assert_eq!(
            *digest,
            sha256_digest(data),
            "a blob read matches its digest"
        );
        assert_eq!(*size, data.len() as u64, "and its size");
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(DEFAULT_CASES))]

    #[test]
    fn mutated_layouts_read_as_an_error_or_a_verified_image(
        file in file(),
        mutations in prop::collection::vec(mutation(), 1..4),
        rehash in prop::bool::weighted(0.75),
    ) {
        let _ = check_read(file, &mutations, rehash);
    }
}

/// The harness reads an unmutated layout, and a changed config stored
/// under its digest gets past the digest checks.
#[test]
fn the_harness_reads_a_valid_layout_and_reaches_the_config() {
    assert_eq!(check_read(File::Index, &[], false), Ok(()));
    let junk = [Mutation::Random(b"not json".to_vec())];
    let err = check_read(File::Config, &junk, false).unwrap_err();
    assert!(err.contains("size") || err.contains("digest"), "{err}");
    match check_read(File::Config, &junk, true) {
        Ok(()) => {}
        Err(err) => assert!(!err.contains("size") && !err.contains("digest"), "{err}"),
    }
}
