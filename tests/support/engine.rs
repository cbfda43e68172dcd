//! The Docker engine of scripts/docker-engine (Docker 26, BuildKit, the
//! containerd image store), for the tests that drive it: `docker`, builds
//! through our frontend, and images under tags no other test uses.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

pub const FRONTEND_IMAGE: &str = "wasmpack/frontend:dev";
pub const RUST_IMAGE: &str = "wasmpack/rust-builder:local";
pub const BUSYBOX_IMAGE: &str = "wasmpack/busybox:local";

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("repository root")
        .to_path_buf()
}

/// `docker` against the engine at $DOCKER_HOST; the engine and the images
/// the tests build on must be there (a missing one fails, never skips).
pub fn docker(args: &[&str], dir: &Path) -> Output {
    assert!(
        std::env::var_os("DOCKER_HOST").is_some(),
        "DOCKER_HOST is not set: run `eval \"$(scripts/docker-engine start)\"` (scripts/test does)"
    );
    Command::new("docker")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| {
            panic!("docker is needed ({e}); scripts/docker-engine install installs it")
        })
}

pub fn require_images() {
    for (image, script) in [
        (FRONTEND_IMAGE, "scripts/frontend-image"),
        (RUST_IMAGE, "scripts/rust-builder-image"),
        (BUSYBOX_IMAGE, "scripts/busybox-image"),
    ] {
        let out = docker(&["image", "inspect", "--format", "{{.Id}}", image], &repo());
        assert!(
            out.status.success(),
            "{image} is missing: run {script} (scripts/test does)"
        );
    }
}

/// A tag no other test uses.
pub fn unique_tag(what: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!(
        "wasmpack-e2e/{what}:{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    )
}

/// `docker buildx build --platform wasi/wasm` of `dir` with plain progress
/// (the vertex log goes to stderr).
pub fn buildx(dir: &Path, extra: &[&str]) -> Output {
    let rust_image = format!("RUST_IMAGE={RUST_IMAGE}");
    build_for(
        "wasi/wasm",
        dir,
        &[&["--build-arg", &rust_image], extra].concat(),
    )
}

/// The same for linux/amd64, the platform of ordinary images.
pub fn buildx_linux(dir: &Path, extra: &[&str]) -> Output {
    build_for("linux/amd64", dir, extra)
}

fn build_for(platform: &str, dir: &Path, extra: &[&str]) -> Output {
    require_images();
    let mut args = vec![
        "buildx",
        "build",
        "--progress=plain",
        "--platform",
        platform,
    ];
    args.extend_from_slice(extra);
    args.push(".");
    docker(&args, dir)
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn inspect(tag: &str, format: &str) -> String {
    let out = docker(&["image", "inspect", "--format", format, tag], &repo());
    assert!(out.status.success(), "{}", stderr(&out));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

pub fn image_exists(tag: &str) -> bool {
    docker(&["image", "inspect", tag], &repo()).status.success()
}

pub fn remove(tag: &str) {
    docker(&["image", "rm", "-f", tag], &repo());
}

/// A build context holding `dockerfile` (behind our syntax line) and files.
pub fn context(dockerfile: &str, files: &[(&str, &[u8])]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("Dockerfile"),
        format!("# syntax={FRONTEND_IMAGE}\n{dockerfile}"),
    )
    .unwrap();
    for (name, bytes) in files {
        std::fs::write(dir.path().join(name), bytes).unwrap();
    }
    dir
}

/// The build's exported filesystem (`-o type=local`).
pub fn export_rootfs(dir: &Path, extra: &[&str]) -> tempfile::TempDir {
    let out_dir = tempfile::tempdir().unwrap();
    let dest = format!("type=local,dest={}", out_dir.path().display());
    let mut args = vec!["-o", &dest];
    args.extend_from_slice(extra);
    let out = buildx(dir, &args);
    assert!(out.status.success(), "{}", stderr(&out));
    out_dir
}
