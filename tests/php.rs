//! End-to-end: examples/php-interp, the PHP interpreter compiled to
//! wasm32-wasi (in the build stage, from wasmpack/php-builder) with its app
//! in one FROM-scratch image, built through our frontend with AOT layers for
//! x86_64 and aarch64, then run by `wasmpack run` (compile and AOT paths),
//! by the aarch64 runner under qemu-user, and by the containerd shim.
//! scripts/test makes the builder image first (scripts/php-builder-image);
//! BuildKit's cache keeps the interpreter build across runs.

mod support;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::OnceLock;

use support::engine::{buildx, docker, remove, repo, stderr, unique_tag};
use support::shim::{decision, stdout, TRUST};
use support::{run_on_aarch64, wasmpack};

const PHP_BUILDER: &str = "wasmpack/php-builder:local";
const AOT: [&str; 2] = ["--build-arg", "WASMPACK_AOT=x86_64,aarch64"];
/// What examples/php-interp/app/main.php prints (Debian's native php-cli
/// prints the same).
const APP_OUTPUT: &str = include_str!("../examples/php-interp/expected-output.txt");

fn example() -> PathBuf {
    repo().join("examples/php-interp")
}

/// The example as an OCI archive, built once per test run.
fn archive() -> &'static Path {
    static ARCHIVE: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_, path) = ARCHIVE.get_or_init(|| {
        let out = docker(
            &["image", "inspect", "--format", "{{.Id}}", PHP_BUILDER],
            &repo(),
        );
        assert!(
            out.status.success(),
            "{PHP_BUILDER} is missing: run scripts/php-builder-image (scripts/test does)"
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("php-interp.tar");
        let dest = format!("type=oci,dest={}", path.display());
        let out = buildx(&example(), &[&AOT[..], &["-o", &dest]].concat());
        assert!(out.status.success(), "{}", stderr(&out));
        (dir, path)
    });
    path
}

/// The three behaviours every way of running the image must show: the app's
/// exact output, `php -r`, and a fatal error (exit status and stderr).
/// `run(entrypoint, args)` runs the image, `entrypoint` replacing its own.
fn assert_php_works(run: &dyn Fn(Option<&str>, &[&str]) -> Output) {
    let app = run(None, &[]);
    assert_eq!(app.status.code(), Some(0), "{}", stderr(&app));
    assert_eq!(stdout(&app), APP_OUTPUT, "{}", stderr(&app));

    let one_liner = run(Some("/php.wasm"), &["-r", "echo 1+2;"]);
    assert_eq!(stdout(&one_liner), "3", "{}", stderr(&one_liner));
    assert_eq!(one_liner.status.code(), Some(0));

    // PHP exits with 255 after a fatal error; WASI carries 0..125, so
    // php.wasm's exit maps 126..255 to 125 (compat/src/compat.c).
    let fatal = run(Some("/php.wasm"), &["-r", "echo 'before'; undefined_fn();"]);
    assert_eq!(fatal.status.code(), Some(125), "{}", stderr(&fatal));
    assert_eq!(stdout(&fatal), "before", "diagnostics stay off stdout");
    assert!(
        stderr(&fatal)
            .contains("Fatal error: Uncaught Error: Call to undefined function undefined_fn()"),
        "{}",
        stderr(&fatal)
    );
}

/// `wasmpack run` of the archive with `options`, then the guest's args.
fn runner(dir: &Path, options: &[&str], entrypoint: Option<&str>, args: &[&str]) -> Output {
    let mut all = vec!["run", "-v"];
    all.extend_from_slice(options);
    if let Some(path) = entrypoint {
        all.extend_from_slice(&["--entrypoint", path]);
    }
    all.push(archive().to_str().unwrap());
    all.push("--");
    all.extend_from_slice(args);
    let cache = dir.join("cache");
    wasmpack(
        &all,
        dir,
        &[
            ("WASMPACK_CACHE_DIR", cache.to_str().unwrap()),
            ("WASMPACK_TRUST_FILE", "/dev/null"),
        ],
    )
}

#[test]
fn the_image_is_php_and_the_app_in_one_layer_then_one_aot_layer_per_target() {
    let dir = tempfile::tempdir().unwrap();
    let report = support::json(&wasmpack(
        &["inspect", archive().to_str().unwrap(), "--json"],
        dir.path(),
        &[],
    ));
    assert_eq!(report["platform"], "wasi/wasm", "{report}");
    assert_eq!(
        report["layers"].as_array().map(Vec::len),
        Some(3),
        "{report}"
    );
    for (i, triple) in ["x86_64-unknown-linux-gnu", "aarch64-unknown-linux-gnu"]
        .iter()
        .enumerate()
    {
        assert_eq!(
            report["annotations"][format!("dev.wasmpack.aot.layer.{}.target", i + 1)],
            *triple,
            "{report}"
        );
    }
    assert_eq!(
        report["entrypoint"],
        serde_json::json!(["/php.wasm", "/app/main.php"]),
        "{report}"
    );
    assert_eq!(report["workdir"], "/app", "{report}");
}

#[test]
fn the_runner_compiles_php_when_the_image_is_not_trusted() {
    let dir = tempfile::tempdir().unwrap();
    let run = |entrypoint: Option<&str>, args: &[&str]| {
        let out = runner(dir.path(), &["--no-cache"], entrypoint, args);
        assert!(
            stderr(&out).contains("compiled the module"),
            "{}",
            stderr(&out)
        );
        out
    };
    assert_php_works(&run);
}

#[test]
fn the_runner_takes_the_x86_64_aot_layer_when_trusted() {
    let dir = tempfile::tempdir().unwrap();
    let run = |entrypoint: Option<&str>, args: &[&str]| {
        let out = runner(dir.path(), &["--trust-aot"], entrypoint, args);
        let said = stderr(&out);
        assert!(
            said.contains("using the image's AOT layer")
                && said.contains("x86_64-unknown-linux-gnu"),
            "{said}"
        );
        assert!(!said.contains("compiled the module"), "{said}");
        out
    };
    assert_php_works(&run);
}

#[test]
fn the_aarch64_runner_runs_the_app_from_the_aarch64_layer() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_on_aarch64(
        dir.path(),
        &["-v", "--trust-aot", archive().to_str().unwrap()],
    );
    let said = stderr(&out);
    assert!(
        said.contains("using the image's AOT layer") && said.contains("aarch64-unknown-linux-gnu"),
        "{said}"
    );
    assert_eq!(stdout(&out), APP_OUTPUT, "{said}");
}

#[test]
fn the_shim_runs_php_compiled_on_the_node_or_from_the_trusted_aot_layer() {
    let tag = unique_tag("php-interp");
    let out = buildx(&example(), &[&AOT[..], &["-t", &tag, "--load"]].concat());
    assert!(out.status.success(), "{}", stderr(&out));
    let shim = |options: &[&str], entrypoint: Option<&str>, args: &[&str]| {
        let mut all = options.to_vec();
        if let Some(path) = entrypoint {
            all.extend_from_slice(&["--entrypoint", path]);
        }
        support::shim::run(&tag, &all, args)
    };

    let untrusted = |entrypoint: Option<&str>, args: &[&str]| {
        let out = shim(&[], entrypoint, args);
        assert!(
            ["compiled and cached", "cache hit"].contains(&decision(&out).as_str()),
            "{}",
            stderr(&out)
        );
        out
    };
    assert_php_works(&untrusted);

    let trusted = |entrypoint: Option<&str>, args: &[&str]| {
        let out = shim(&["--annotation", TRUST], entrypoint, args);
        assert_eq!(decision(&out), "image AOT", "{}", stderr(&out));
        out
    };
    assert_php_works(&trusted);
    remove(&tag);
}
