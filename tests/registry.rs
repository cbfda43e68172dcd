//! End-to-end tests of `wasmpack push` and `pull` against a real registry
//! (Debian's docker-registry on 127.0.0.1), with skopeo and umoci reading
//! what we push and pull.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use support::{json, tool, try_tool, wasmpack, workdir, Registry};

/// A DOCKER_CONFIG folder with no credentials, so tests never read the
/// machine's own.
fn empty_docker_config(dir: &Path) -> String {
    let config = dir.join("docker-config");
    std::fs::create_dir_all(&config).unwrap();
    config.display().to_string()
}

fn build(dir: &Path, output: &str, extra: &[&str]) {
    let mut args = vec!["build", "hello.wasm", "-o", output, "-t", "demo/hello:1"];
    args.extend_from_slice(extra);
    let out = wasmpack(&args, dir, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn push_pull_and_repush_uploads_nothing() {
    let registry = Registry::start(None);
    let (dir, wasm) = workdir();
    let d = dir.path();
    let config = empty_docker_config(d);
    let env = [("DOCKER_CONFIG", config.as_str())];
    build(d, "image.tar", &[]);
    let target = registry.reference("demo/hello:1");

    let first = json(&wasmpack(
        &["push", "image.tar", &target, "--insecure", "--json"],
        d,
        &env,
    ));
    assert_eq!(
        (first["uploaded"].as_u64(), first["skipped"].as_u64()),
        (Some(2), Some(0))
    );
    let again = json(&wasmpack(
        &["push", "image.tar", &target, "--insecure", "--json"],
        d,
        &env,
    ));
    assert_eq!(
        (again["uploaded"].as_u64(), again["skipped"].as_u64()),
        (Some(0), Some(2)),
        "a re-push uploads nothing"
    );
    assert_eq!(first["digest"], again["digest"]);

    let docker_ref = format!("docker://{target}");
    let info: serde_json::Value = serde_json::from_slice(
        &tool("skopeo", &["inspect", "--tls-verify=false", &docker_ref], d).stdout,
    )
    .unwrap();
    assert_eq!(info["Digest"], first["digest"]);
    assert_eq!(info["Os"], "wasi");
    tool(
        "skopeo",
        &[
            "copy",
            "--src-tls-verify=false",
            &docker_ref,
            "oci:copied:1",
        ],
        d,
    );

    let pulled = json(&wasmpack(
        &[
            "pull",
            &target,
            "-o",
            "pulled",
            "--unpack",
            "rootfs",
            "--insecure",
            "--json",
        ],
        d,
        &env,
    ));
    assert_eq!(pulled["digest"], first["digest"]);
    assert_eq!(
        std::fs::read(d.join("rootfs/hello.wasm")).unwrap(),
        std::fs::read(&wasm).unwrap()
    );
    tool(
        "umoci",
        &[
            "raw",
            "unpack",
            "--rootless",
            "--image",
            "pulled:1",
            "umoci-rootfs",
        ],
        d,
    );
    assert!(d.join("umoci-rootfs/hello.wasm").is_file());
    let inspected = json(&wasmpack(
        &["inspect", &target, "--insecure", "--json"],
        d,
        &env,
    ));
    assert_eq!(inspected["digest"], first["digest"]);
    assert_eq!(inspected["wasm"]["has_start"], true);

    // What skopeo pushes, we pull and can read.
    tool(
        "skopeo",
        &[
            "copy",
            "--dest-tls-verify=false",
            "oci:copied:1",
            &format!("docker://{}", registry.reference("demo/by-skopeo:1")),
        ],
        d,
    );
    let by_skopeo = json(&wasmpack(
        &[
            "pull",
            &registry.reference("demo/by-skopeo:1"),
            "-o",
            "pulled2",
            "--insecure",
            "--json",
        ],
        d,
        &env,
    ));
    assert_eq!(by_skopeo["digest"], first["digest"]);
}

#[test]
fn credentials_come_from_the_docker_config() {
    let registry = Registry::start(Some(("ada", "s3cret")));
    let (dir, _) = workdir();
    let d = dir.path();
    build(d, "image.tar", &[]);
    let target = registry.reference("demo/hello:1");
    let host = format!("127.0.0.1:{}", registry.port);
    let config_with = |password: &str| {
        let config = d.join(format!("config-{password}"));
        std::fs::create_dir_all(&config).unwrap();
        let body =
            serde_json::json!({"auths": {host.clone(): {"username": "ada", "password": password}}});
        std::fs::write(config.join("config.json"), body.to_string()).unwrap();
        config.display().to_string()
    };

    let right = config_with("s3cret");
    let pushed = json(&wasmpack(
        &["push", "image.tar", &target, "--insecure", "--json"],
        d,
        &[("DOCKER_CONFIG", &right)],
    ));
    assert_eq!(pushed["uploaded"], 2);
    json(&wasmpack(
        &["pull", &target, "-o", "pulled", "--insecure", "--json"],
        d,
        &[("DOCKER_CONFIG", &right)],
    ));

    for (what, config) in [
        ("wrong password", config_with("guess")),
        ("no credentials", empty_docker_config(d)),
    ] {
        let out = wasmpack(
            &["push", "image.tar", &target, "--insecure"],
            d,
            &[("DOCKER_CONFIG", &config)],
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{what}");
        assert!(
            stderr.contains("refused the credentials"),
            "{what}: {stderr}"
        );
        assert_eq!(
            stderr.lines().count(),
            1,
            "{what}: one line of cause: {stderr}"
        );
    }
}

#[test]
fn a_registry_that_dies_mid_push_leaves_no_tag_and_a_later_push_succeeds() {
    let mut registry = Registry::start(None);
    let (dir, _) = workdir();
    let d = dir.path();
    let config = empty_docker_config(d);
    // A large incompressible file makes the upload last long enough to be
    // interrupted.
    let mut noise = vec![0u8; 64 << 20];
    let mut state = 0x2545_f491_4f6c_dd1du64;
    for chunk in noise.chunks_mut(8) {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        chunk.copy_from_slice(&state.to_le_bytes()[..chunk.len()]);
    }
    std::fs::write(d.join("noise.bin"), &noise).unwrap();
    build(
        d,
        "big",
        &[
            "--add",
            "noise.bin:/data/noise.bin",
            "--compression",
            "none",
        ],
    );
    let target = registry.reference("demo/big:1");

    let push = support::wasmpack_command(d)
        .args(["push", "big", &target, "--insecure"])
        .env("DOCKER_CONFIG", &config)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Kill the registry once the big blob is being received.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !upload_in_progress(&registry.storage) {
        assert!(Instant::now() < deadline, "the upload never started");
        std::thread::sleep(Duration::from_millis(5));
    }
    registry.kill();
    let out = push.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "the push must fail");
    assert!(
        stderr.contains("uploading blob") || stderr.contains("checking blob"),
        "{stderr}"
    );

    registry.restart();
    let inspect = try_tool(
        "skopeo",
        &[
            "inspect",
            "--tls-verify=false",
            &format!("docker://{target}"),
        ],
        d,
    );
    assert!(
        !inspect.status.success(),
        "no tag may point at missing blobs"
    );
    assert!(
        String::from_utf8_lossy(&inspect.stderr).contains("manifest unknown"),
        "{}",
        String::from_utf8_lossy(&inspect.stderr)
    );

    let pushed = json(&wasmpack(
        &["push", "big", &target, "--insecure", "--json"],
        d,
        &[("DOCKER_CONFIG", &config)],
    ));
    let info: serde_json::Value = serde_json::from_slice(
        &tool(
            "skopeo",
            &[
                "inspect",
                "--tls-verify=false",
                &format!("docker://{target}"),
            ],
            d,
        )
        .stdout,
    )
    .unwrap();
    assert_eq!(info["Digest"], pushed["digest"]);
}

/// Whether the registry is receiving upload data (a partial `data` file in
/// one of its `_uploads` folders).
fn upload_in_progress(storage: &Path) -> bool {
    let repo = storage.join("docker/registry/v2/repositories/demo/big/_uploads");
    let Ok(uploads) = std::fs::read_dir(repo) else {
        return false;
    };
    uploads
        .flatten()
        .any(|u| std::fs::metadata(u.path().join("data")).is_ok_and(|m| m.len() > 1 << 20))
}

#[test]
fn a_tampered_blob_fails_the_pull_and_leaves_nothing() {
    let registry = Registry::start(None);
    let (dir, _) = workdir();
    let d = dir.path();
    let config = empty_docker_config(d);
    let env = [("DOCKER_CONFIG", config.as_str())];
    build(d, "image.tar", &[]);
    let target = registry.reference("demo/hello:1");
    json(&wasmpack(
        &["push", "image.tar", &target, "--insecure", "--json"],
        d,
        &env,
    ));

    let inspected = json(&wasmpack(&["inspect", "image.tar", "--json"], d, &[]));
    let layer = inspected["layers"][0]["digest"]
        .as_str()
        .unwrap()
        .trim_start_matches("sha256:")
        .to_string();
    let blob = registry.storage.join(format!(
        "docker/registry/v2/blobs/sha256/{}/{layer}/data",
        &layer[..2]
    ));
    let mut data = std::fs::read(&blob).unwrap();
    data[10] ^= 0xff;
    std::fs::write(&blob, &data).unwrap();

    let out = wasmpack(
        &[
            "pull",
            &target,
            "-o",
            "pulled",
            "--unpack",
            "rootfs",
            "--insecure",
        ],
        d,
        &env,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains(&layer[..12]), "names the blob: {stderr}");
    assert!(
        !d.join("pulled").exists() && !d.join("rootfs").exists(),
        "nothing half-written"
    );
    let leftovers: Vec<_> = std::fs::read_dir(d)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(".wasmpack"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// The `.wasmpack-staging-*` folders left in `dir`.
fn staging_left(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with(".wasmpack-staging-"))
        .collect()
}

/// Pushes to `target` the built image with its layer replaced by a tar
/// whose one entry is `../escaped`, which unpacking refuses.
fn push_unsafe_image(d: &Path, target: &str, env: &[(&str, &str)]) {
    use sha2::{Digest, Sha256};
    build(d, "unsafe", &[]);
    let blobs = d.join("unsafe/blobs/sha256");
    let read_json = |path: &Path| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
    };
    let put = |data: &[u8]| {
        let hex = hex::encode(Sha256::digest(data));
        std::fs::write(blobs.join(&hex), data).unwrap();
        format!("sha256:{hex}")
    };

    let mut header = tar::Header::new_gnu();
    header.as_old_mut().name[..10].copy_from_slice(b"../escaped");
    header.set_entry_type(tar::EntryType::Regular);
    header.set_mode(0o644);
    header.set_size(1);
    header.set_cksum();
    let mut tar = tar::Builder::new(Vec::new());
    tar.append(&header, &b"x"[..]).unwrap();
    let layer = tar.into_inner().unwrap();

    let index_path = d.join("unsafe/index.json");
    let mut index = read_json(&index_path);
    let old = index["manifests"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    let mut manifest = read_json(&blobs.join(old.trim_start_matches("sha256:")));
    manifest["layers"][0] = serde_json::json!({
        "mediaType": "application/vnd.oci.image.layer.v1.tar",
        "digest": put(&layer),
        "size": layer.len(),
    });
    let manifest = serde_json::to_vec(&manifest).unwrap();
    index["manifests"][0]["digest"] = put(&manifest).into();
    index["manifests"][0]["size"] = manifest.len().into();
    std::fs::write(&index_path, serde_json::to_vec(&index).unwrap()).unwrap();
    json(&wasmpack(
        &["push", "unsafe", target, "--insecure", "--json"],
        d,
        env,
    ));
}

#[test]
fn a_failed_layout_save_leaves_no_unpacked_files() {
    let registry = Registry::start(None);
    let (dir, _) = workdir();
    let d = dir.path();
    let config = empty_docker_config(d);
    let env = [("DOCKER_CONFIG", config.as_str())];
    build(d, "image.tar", &[]);
    let target = registry.reference("demo/hello:1");
    json(&wasmpack(
        &["push", "image.tar", &target, "--insecure", "--json"],
        d,
        &env,
    ));
    // A layout inside a regular file: no one, root included, can make it.
    std::fs::write(d.join("file"), b"").unwrap();
    std::fs::create_dir(d.join("empty")).unwrap();

    for unpack in ["rootfs", "empty"] {
        let out = wasmpack(
            &[
                "pull",
                &target,
                "-o",
                "file/pulled",
                "--unpack",
                unpack,
                "--insecure",
            ],
            d,
            &env,
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success());
        assert!(stderr.contains("file/pulled"), "names the layout: {stderr}");
        assert_eq!(staging_left(d), Vec::<String>::new());
    }
    assert!(
        !d.join("rootfs").exists(),
        "no root filesystem without its layout"
    );
    assert_eq!(
        std::fs::read_dir(d.join("empty")).unwrap().count(),
        0,
        "the empty folder given is left empty"
    );
}

#[test]
fn a_failed_unpack_leaves_no_layout() {
    let registry = Registry::start(None);
    let (dir, _) = workdir();
    let d = dir.path();
    let config = empty_docker_config(d);
    let env = [("DOCKER_CONFIG", config.as_str())];
    let target = registry.reference("demo/unsafe:1");
    push_unsafe_image(d, &target, &env);
    let pull = |unpack: &str| {
        wasmpack(
            &[
                "pull",
                &target,
                "-o",
                "pulled",
                "--unpack",
                unpack,
                "--insecure",
            ],
            d,
            &env,
        )
    };

    // Refused before anything is written: a folder with content.
    std::fs::create_dir(d.join("full")).unwrap();
    std::fs::write(d.join("full/theirs"), b"keep").unwrap();
    let out = pull("full");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("not empty"), "{stderr}");
    assert!(!d.join("pulled").exists(), "no layout without its files");
    assert_eq!(std::fs::read(d.join("full/theirs")).unwrap(), b"keep");

    // Refused while unpacking.
    let out = pull("rootfs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("../escaped"), "names the entry: {stderr}");
    assert!(!d.join("pulled").exists(), "no layout without its files");
    assert!(!d.join("rootfs").exists() && !d.join("escaped").exists());
    assert_eq!(staging_left(d), Vec::<String>::new());
}
