//! End-to-end tests of `wasmpack build` and `inspect`, with skopeo and umoci
//! as independent readers of what we write.

mod support;

use std::path::Path;
use std::process::Output;

use support::{json, tool, workdir};

fn wasmpack(args: &[&str], dir: &Path, epoch: Option<&str>) -> Output {
    match epoch {
        Some(epoch) => support::wasmpack(args, dir, &[("SOURCE_DATE_EPOCH", epoch)]),
        None => support::wasmpack(args, dir, &[]),
    }
}

#[test]
fn builds_are_bit_identical_and_follow_source_date_epoch() {
    let (dir, _) = workdir();
    let build = |out: &str, epoch| {
        json(&wasmpack(
            &[
                "build",
                "hello.wasm",
                "-o",
                out,
                "-t",
                "demo/hello:1",
                "--json",
            ],
            dir.path(),
            epoch,
        ))["digest"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let first = build("a", None);
    assert_eq!(first, build("b", None));
    assert_eq!(
        first,
        build("a.tar", None),
        "layout and archive hold the same image"
    );
    assert_eq!(
        std::fs::read(dir.path().join("a/index.json")).unwrap(),
        std::fs::read(dir.path().join("b/index.json")).unwrap()
    );
    let dated = build("c", Some("1700000000"));
    assert_ne!(first, dated);
    assert_eq!(dated, build("d", Some("1700000000")));
    let out = wasmpack(
        &["build", "hello.wasm", "-o", "e"],
        dir.path(),
        Some("yesterday"),
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("SOURCE_DATE_EPOCH"));
}

#[test]
fn invalid_modules_are_named_with_the_reason_and_nothing_is_written() {
    let (dir, wasm) = workdir();
    let bytes = std::fs::read(&wasm).unwrap();
    std::fs::write(dir.path().join("text.wasm"), "not wasm").unwrap();
    std::fs::write(dir.path().join("cut.wasm"), &bytes[..bytes.len() / 2]).unwrap();
    std::fs::write(
        dir.path().join("bad.wasm"),
        wat::parse_str("(module (func (result i32) i64.const 1))").unwrap(),
    )
    .unwrap();
    for (file, reason) in [
        ("text.wasm", "not a wasm binary"),
        ("cut.wasm", "truncated"),
        ("bad.wasm", "type mismatch"),
    ] {
        let out = wasmpack(&["build", file, "-o", "out"], dir.path(), None);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{file}");
        assert!(
            stderr.contains(file) && stderr.contains(reason),
            "{file}: {stderr}"
        );
        assert_eq!(stderr.lines().count(), 1, "one line of cause: {stderr}");
        assert!(!dir.path().join("out").exists(), "{file}: no output");
    }
}

/// Each cause appears once on the error line: a message names its own step
/// and the chain adds the cause.
#[test]
fn errors_name_each_cause_once() {
    let (dir, _) = workdir();
    std::fs::create_dir(dir.path().join("plain-folder")).unwrap();
    for (args, cause) in [
        (
            &[
                "build",
                "hello.wasm",
                "--add",
                "/nonexistent:/x",
                "-o",
                "out",
            ][..],
            "No such file or directory",
        ),
        (&["run", "plain-folder"][..], "plain-folder"),
        (&["inspect", "missing.tar"][..], "missing.tar"),
    ] {
        let out = wasmpack(args, dir.path(), None);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?}");
        let errors: Vec<&str> = stderr
            .lines()
            .filter(|l| l.starts_with("error: "))
            .collect();
        assert_eq!(errors.len(), 1, "{args:?}: one error line: {stderr}");
        assert_eq!(
            errors[0].matches(cause).count(),
            1,
            "{args:?}: {cause:?} once: {stderr}"
        );
    }
    let out = wasmpack(&["inspect", "missing.tar"], dir.path(), None);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no such file, folder or image reference"),
        "{stderr}"
    );
}

#[test]
fn skopeo_and_umoci_read_layouts_and_archives() {
    let (dir, wasm) = workdir();
    let d = dir.path();
    std::fs::create_dir(d.join("static")).unwrap();
    std::fs::write(d.join("static/index.html"), "<h1>hi</h1>").unwrap();
    let out = wasmpack(
        &[
            "build",
            "hello.wasm",
            "-o",
            "layout",
            "-t",
            "demo/hello:1",
            "--path",
            "/app/hello.wasm",
            "--add",
            "static:/app/static",
            "--env",
            "GREETING=hi",
            "--workdir",
            "/app",
            "--cmd",
            "--name",
            "--cmd",
            "Ada",
        ],
        d,
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(wasmpack(
        &[
            "build",
            "hello.wasm",
            "-o",
            "image.tar",
            "-t",
            "demo/hello:1"
        ],
        d,
        None
    )
    .status
    .success());

    for source in ["oci:layout:1", "oci-archive:image.tar"] {
        let info: serde_json::Value =
            serde_json::from_slice(&tool("skopeo", &["inspect", source], d).stdout).unwrap();
        assert_eq!(info["Os"], "wasi", "{source}");
        assert_eq!(info["Architecture"], "wasm", "{source}");
        assert_eq!(info["Layers"].as_array().unwrap().len(), 1, "{source}");
    }
    let config: serde_json::Value =
        serde_json::from_slice(&tool("skopeo", &["inspect", "--config", "oci:layout:1"], d).stdout)
            .unwrap();
    assert_eq!(config["config"]["Entrypoint"][0], "/app/hello.wasm");
    assert_eq!(
        config["config"]["Cmd"],
        serde_json::json!(["--name", "Ada"])
    );
    assert_eq!(config["config"]["WorkingDir"], "/app");
    tool(
        "skopeo",
        &["copy", "oci-archive:image.tar", "oci:copied:1"],
        d,
    );

    tool(
        "umoci",
        &[
            "raw",
            "unpack",
            "--rootless",
            "--image",
            "layout:1",
            "rootfs",
        ],
        d,
    );
    assert_eq!(
        std::fs::read(d.join("rootfs/app/hello.wasm")).unwrap(),
        std::fs::read(&wasm).unwrap()
    );
    assert_eq!(
        std::fs::read_to_string(d.join("rootfs/app/static/index.html")).unwrap(),
        "<h1>hi</h1>"
    );
}

#[test]
fn strip_shrinks_the_module_and_keeps_it_valid() {
    let (dir, wasm) = workdir();
    let out = wasmpack(
        &["build", "hello.wasm", "-o", "out", "--strip"],
        dir.path(),
        None,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("stripped 3 custom sections"),
        "ours two and the name section: {stderr}"
    );
    let report = json(&wasmpack(&["inspect", "out", "--json"], dir.path(), None));
    let size = report["wasm"]["size"].as_u64().unwrap();
    assert!(size < std::fs::metadata(&wasm).unwrap().len());
    assert_eq!(report["wasm"]["has_start"], true);
}

#[test]
fn the_artifact_format_has_the_wasm_media_types() {
    let (dir, _) = workdir();
    let out = wasmpack(
        &[
            "build",
            "hello.wasm",
            "-o",
            "art",
            "-t",
            "demo/hello:1",
            "--format",
            "artifact",
        ],
        dir.path(),
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let manifest: serde_json::Value = serde_json::from_slice(
        &tool("skopeo", &["inspect", "--raw", "oci:art:1"], dir.path()).stdout,
    )
    .unwrap();
    assert_eq!(
        manifest["config"]["mediaType"],
        "application/vnd.wasm.config.v0+json"
    );
    assert_eq!(manifest["layers"][0]["mediaType"], "application/wasm");
    let out = wasmpack(
        &[
            "build",
            "hello.wasm",
            "-o",
            "art2",
            "--format",
            "artifact",
            "--cmd",
            "x",
        ],
        dir.path(),
        None,
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("artifact"));
}

#[test]
fn inspect_warns_about_a_module_that_cannot_start() {
    let (dir, _) = workdir();
    std::fs::write(
        dir.path().join("lib.wasm"),
        wat::parse_str(r#"(module (func (export "add")))"#).unwrap(),
    )
    .unwrap();
    let out = wasmpack(&["build", "lib.wasm", "-o", "out"], dir.path(), None);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("warning: lib.wasm: module exports no `_start`"));
    let report = json(&wasmpack(&["inspect", "out", "--json"], dir.path(), None));
    assert_eq!(report["wasm"]["has_start"], false);
}

#[test]
fn aot_layers_sit_beside_the_wasm_layer_with_their_annotations() {
    let (dir, wasm) = workdir();
    let d = dir.path();
    let out = wasmpack(
        &[
            "build",
            "hello.wasm",
            "-o",
            "layout",
            "-t",
            "demo/aot:1",
            "--aot",
            "x86_64,aarch64",
        ],
        d,
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let report = json(&wasmpack(&["inspect", "layout", "--json"], d, None));
    let layers = report["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 3, "{report}");
    assert!(
        layers[0].get("annotations").is_none(),
        "the portable wasm layer comes first, plain"
    );
    let wasm_digest = format!("sha256:{}", sha256_hex(&std::fs::read(&wasm).unwrap()));
    for (layer, triple) in layers[1..]
        .iter()
        .zip(["x86_64-unknown-linux-gnu", "aarch64-unknown-linux-gnu"])
    {
        let a = &layer["annotations"];
        assert_eq!(a["dev.wasmpack.aot.target"], triple);
        assert_eq!(a["dev.wasmpack.aot.wasmtime-version"], "48.0.8");
        assert_eq!(
            a["dev.wasmpack.aot.engine-hash"].as_str().map(str::len),
            Some(64)
        );
        assert_eq!(a["dev.wasmpack.aot.wasm-digest"], wasm_digest.as_str());
    }
    assert_eq!(
        report["wasm"]["has_start"], true,
        "inspect still finds the module"
    );

    // Independent readers see an ordinary image: skopeo counts the layers,
    // umoci unpacks the artifacts next to the module.
    let info: serde_json::Value =
        serde_json::from_slice(&tool("skopeo", &["inspect", "oci:layout:1"], d).stdout).unwrap();
    assert_eq!(info["Layers"].as_array().unwrap().len(), 3);
    tool(
        "umoci",
        &[
            "raw",
            "unpack",
            "--rootless",
            "--image",
            "layout:1",
            "rootfs",
        ],
        d,
    );
    assert_eq!(
        std::fs::read(d.join("rootfs/hello.wasm")).unwrap(),
        std::fs::read(&wasm).unwrap()
    );
    for triple in ["x86_64-unknown-linux-gnu", "aarch64-unknown-linux-gnu"] {
        let artifact = std::fs::read(d.join(format!("rootfs/hello.{triple}.cwasm"))).unwrap();
        assert!(artifact.starts_with(b"\x7fELF"), "{triple}");
    }

    let bad = wasmpack(
        &["build", "hello.wasm", "-o", "bad", "--aot", "nonsense"],
        d,
        None,
    );
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("nonsense"));
    assert!(!d.join("bad").exists(), "nothing written on failure");
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}
