//! End-to-end: `docker load` of the archives `wasmpack build` writes, on the
//! real Docker engine (scripts/docker-engine; the containerd image store is
//! what accepts `os: wasi`). The engine must be up: a missing engine fails,
//! never skips.

mod support;

use std::path::Path;
use std::process::Command;

use serde_json::{json, Value};
use support::engine::{docker, unique_tag};
use support::{tool, wasmpack, workdir};

const START_ENGINE: &str = "run `eval \"$(scripts/docker-engine start)\"` (scripts/test does)";

fn require_engine() {
    let out = docker(&["info", "--format", "{{.Driver}}"], Path::new("."));
    assert!(
        out.status.success(),
        "the Docker engine at $DOCKER_HOST does not answer ({}): {START_ENGINE}",
        String::from_utf8_lossy(&out.stderr).trim()
    );
}

/// An image name no other test or run uses; removed from the engine when
/// dropped, also when an assertion fails first.
struct LoadedImage(String);

impl LoadedImage {
    fn new(what: &str) -> Self {
        Self(unique_tag(what))
    }
}

impl Drop for LoadedImage {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args(["image", "rm", "-f", &self.0])
            .output();
    }
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(
        &std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .unwrap()
}

/// The image config inside an OCI archive, read with tar rather than our own
/// reader, so that the comparison with Docker does not trust wasmpack twice.
fn archive_config(archive: &Path) -> Value {
    let dir = tempfile::tempdir().unwrap();
    tool(
        "tar",
        &[
            "-xf",
            archive.to_str().unwrap(),
            "-C",
            dir.path().to_str().unwrap(),
        ],
        dir.path(),
    );
    let blob = |digest: &Value| {
        dir.path()
            .join("blobs/sha256")
            .join(digest.as_str().unwrap().strip_prefix("sha256:").unwrap())
    };
    let index = read_json(&dir.path().join("index.json"));
    let manifest = read_json(&blob(&index["manifests"][0]["digest"]));
    read_json(&blob(&manifest["config"]["digest"]))
}

/// Builds `hello.wasm` into an archive with `extra` options, loads it and
/// returns what `docker image inspect` says, with the digest wasmpack printed
/// and the archive's config.
fn build_and_load(image: &LoadedImage, extra: &[&str]) -> (Value, String, Value) {
    require_engine();
    let (dir, _) = workdir();
    let mut args = vec![
        "build",
        "hello.wasm",
        "-t",
        &image.0,
        "-o",
        "img.tar",
        "--json",
    ];
    args.extend_from_slice(extra);
    let built = support::json(&wasmpack(&args, dir.path(), &[]));
    let digest = built["digest"].as_str().unwrap().to_string();

    let out = tool("docker", &["load", "-i", "img.tar"], dir.path());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!("Loaded image: {}", image.0)),
        "docker load said: {stdout}"
    );

    let out = docker(&["image", "inspect", &image.0], dir.path());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let inspected: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(inspected.as_array().map(Vec::len), Some(1), "{inspected}");
    (
        inspected[0].clone(),
        digest,
        archive_config(&dir.path().join("img.tar")),
    )
}

#[test]
fn docker_load_reports_wasi_wasm_with_our_config() {
    let image = LoadedImage::new("load");
    let (inspected, digest, config) = build_and_load(
        &image,
        &[
            "--env",
            "MODE=prod",
            "--env",
            "GREETING=hello world",
            "--label",
            "org.example.team=wasm",
            "--label",
            "org.opencontainers.image.title=hello",
            "--cmd",
            "--port",
            "--cmd",
            "8080",
            "--workdir",
            "/srv",
        ],
    );
    assert_eq!(inspected["Os"], "wasi");
    assert_eq!(inspected["Architecture"], "wasm");
    // The containerd image store names an image by its manifest digest: the
    // engine holds exactly the manifest we wrote, not a conversion of it.
    assert_eq!(inspected["Id"], digest.as_str());

    let layers = &inspected["RootFS"]["Layers"];
    assert_eq!(
        layers.as_array().map(Vec::len),
        Some(1),
        "one layer: {layers}"
    );
    assert_eq!(
        layers, &config["rootfs"]["diff_ids"],
        "Docker unpacked the layer our config names"
    );

    let c = &inspected["Config"];
    assert_eq!(c["Entrypoint"], json!(["/hello.wasm"]));
    assert_eq!(c["Cmd"], json!(["--port", "8080"]));
    assert_eq!(c["Env"], json!(["MODE=prod", "GREETING=hello world"]));
    assert_eq!(
        c["Labels"],
        json!({"org.example.team": "wasm", "org.opencontainers.image.title": "hello"})
    );
    assert_eq!(c["WorkingDir"], "/srv");
}

#[test]
fn docker_load_keeps_the_chosen_wasi_os_with_any_compression() {
    let mut diff_ids = Vec::new();
    for (platform, compression, os) in [
        ("wasip1/wasm", "zstd", "wasip1"),
        ("wasip2/wasm", "none", "wasip2"),
        ("wasip2", "gzip", "wasip2"),
    ] {
        let image = LoadedImage::new("platform");
        let (inspected, digest, config) = build_and_load(
            &image,
            &["--platform", platform, "--compression", compression],
        );
        let what = format!("--platform {platform} --compression {compression}");
        assert_eq!(inspected["Os"], os, "{what}");
        assert_eq!(inspected["Architecture"], "wasm", "{what}");
        assert_eq!(inspected["Id"], digest.as_str(), "{what}");
        assert_eq!(
            inspected["Config"]["Entrypoint"],
            json!(["/hello.wasm"]),
            "{what}"
        );
        let layers = inspected["RootFS"]["Layers"].clone();
        assert_eq!(layers.as_array().map(Vec::len), Some(1), "{what}: {layers}");
        assert_eq!(layers, config["rootfs"]["diff_ids"], "{what}");
        diff_ids.push(layers);
    }
    // Same files, different compression: Docker must see the same contents.
    assert!(diff_ids.windows(2).all(|w| w[0] == w[1]), "{diff_ids:?}");
}
