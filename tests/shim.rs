//! End-to-end tests of `containerd-shim-wasmpack-v1` on the real Docker
//! engine (scripts/docker-engine) and its containerd: `docker run
//! --runtime=io.containerd.wasmpack.v1`, `docker compose`, `ctr run`, with
//! images built by our frontend. scripts/test installs the shim first
//! (scripts/shim install), where containerd finds it.
//!
//! The shim's compile cache is the node's (/var/cache/wasmpack), shared
//! with every run on this machine, so a test says "compiled or cache hit"
//! for a first start and only then expects a hit.

mod support;

use std::process::Command;

use support::engine::{
    buildx, context, docker, export_rootfs, remove, repo, stderr, unique_tag, RUST_IMAGE,
};
use support::shim::{decision, require_shim, run, stdout, NETWORK, RUNTIME, TRUST};

/// rust-hello through the frontend with an x86_64 AOT layer, loaded.
fn hello_with_aot() -> String {
    let tag = unique_tag("shim-hello");
    let out = buildx(
        &repo().join("examples/rust-hello"),
        &["--build-arg", "WASMPACK_AOT=x86_64", "-t", &tag, "--load"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    tag
}

#[test]
fn docker_run_passes_argv_env_and_exit_code_and_takes_trusted_aot_else_the_cache() {
    let image = hello_with_aot();

    let out = run(
        &image,
        &["-e", "GREETING=through the shim", "-e", "EXIT_CODE=5"],
        &["containerd"],
    );
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "Hello, containerd! (from wasm32-wasi)\nthrough the shim\n"
    );

    // Untrusted: the image's native code is passed over for this node's
    // own compilation, cached for the next start.
    let first = run(&image, &[], &[]);
    assert!(first.status.success(), "{}", stderr(&first));
    assert!(
        ["compiled and cached", "cache hit"].contains(&decision(&first).as_str()),
        "{}",
        stderr(&first)
    );
    assert!(stderr(&first).contains("not trusted"), "{}", stderr(&first));
    let second = run(&image, &[], &[]);
    assert_eq!(decision(&second), "cache hit", "{}", stderr(&second));
    assert_eq!(stdout(&second), "Hello, world! (from wasm32-wasi)\n");

    // Trusted by the operator: the image's AOT artifact runs.
    let trusted = run(&image, &["--annotation", TRUST], &[]);
    assert_eq!(decision(&trusted), "image AOT", "{}", stderr(&trusted));
    assert_eq!(stdout(&trusted), "Hello, world! (from wasm32-wasi)\n");
    assert!(
        !stderr(&trusted).contains("warning"),
        "{}",
        stderr(&trusted)
    );
    remove(&image);
}

#[test]
fn a_tampered_artifact_is_refused_even_when_trusted_and_the_module_still_runs() {
    // The frontend's files (module, artifact, facts), one artifact byte
    // flipped, rebuilt into an image.
    let files = export_rootfs(
        &repo().join("examples/rust-hello"),
        &["--build-arg", "WASMPACK_AOT=x86_64"],
    );
    let artifact = "hello.x86_64-unknown-linux-gnu.cwasm";
    let mut bytes = std::fs::read(files.path().join(artifact)).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    let facts = std::fs::read(files.path().join(format!("{artifact}.json"))).unwrap();
    let module = std::fs::read(files.path().join("hello.wasm")).unwrap();
    let dockerfile = format!("FROM scratch\nCOPY hello.wasm {artifact} {artifact}.json /\nENTRYPOINT [\"/hello.wasm\"]\n");
    let facts_name = format!("{artifact}.json");
    let dir = context(
        &dockerfile,
        &[
            ("hello.wasm", &module),
            (artifact, &bytes),
            (&facts_name, &facts),
        ],
    );
    let tag = unique_tag("shim-tampered");
    let out = buildx(dir.path(), &["-t", &tag, "--load"]);
    assert!(out.status.success(), "{}", stderr(&out));

    let out = run(&tag, &["--annotation", TRUST, "-e", "EXIT_CODE=3"], &[]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert_ne!(decision(&out), "image AOT");
    let said = stderr(&out);
    assert!(
        said.contains("wasmpack: warning:") && said.contains("tampered or stale"),
        "{said}"
    );
    remove(&tag);
}

#[test]
fn docker_stop_ends_a_spinning_guest_with_sigterm() {
    let spin = wat::parse_str(
        r#"(module (memory (export "memory") 1) (func (export "_start") (loop (br 0))))"#,
    )
    .unwrap();
    let dir = context(
        "FROM scratch\nCOPY spin.wasm /spin.wasm\nENTRYPOINT [\"/spin.wasm\"]\n",
        &[("spin.wasm", &spin)],
    );
    let tag = unique_tag("shim-spin");
    let out = buildx(dir.path(), &["-t", &tag, "--load"]);
    assert!(out.status.success(), "{}", stderr(&out));
    require_shim();
    let name = tag.replace(['/', ':'], "-");
    let out = docker(
        &[
            "run",
            "-d",
            "--name",
            &name,
            RUNTIME,
            "--platform",
            "wasi/wasm",
            NETWORK[0],
            NETWORK[1],
            &tag,
        ],
        &repo(),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    // A long grace period: the exit code tells SIGTERM (143) from the
    // SIGKILL that ends it (137).
    let stop = docker(&["stop", "-t", "60", &name], &repo());
    assert!(stop.status.success(), "{}", stderr(&stop));
    let code = docker(
        &["inspect", "--format", "{{.State.ExitCode}}", &name],
        &repo(),
    );
    assert_eq!(
        stdout(&code).trim(),
        "143",
        "stopped by SIGTERM, not killed"
    );
    docker(&["rm", "-f", &name], &repo());
    remove(&tag);
}

#[test]
fn compose_runs_the_example_service_on_the_shim() {
    require_shim();
    let example = repo().join("examples/rust-hello");
    let project = unique_tag("compose").replace(['/', ':'], "-");
    let compose = |args: &[&str]| {
        let mut all = vec!["compose", "--ansi", "never", "-p", &project];
        all.extend_from_slice(args);
        Command::new("docker")
            .args(&all)
            .current_dir(&example)
            .env("RUST_IMAGE", RUST_IMAGE)
            .output()
            .expect("docker compose")
    };
    let up = compose(&[
        "up",
        "--build",
        "--abort-on-container-exit",
        "--exit-code-from",
        "hello",
    ]);
    let logs = compose(&["logs", "--no-log-prefix", "hello"]);
    compose(&["down", "--rmi", "local"]);
    assert!(up.status.success(), "{}\n{}", stdout(&up), stderr(&up));
    // compose 2.26 starts each log line with an erase-line code, even
    // with --ansi never.
    let lines: Vec<String> = stdout(&logs)
        .lines()
        .map(|l| l.trim_start_matches("\u{1b}[2K").to_string())
        .collect();
    assert_eq!(
        lines,
        ["Hello, compose! (from wasm32-wasi)", "from docker compose"]
    );
}

#[test]
fn ctr_runs_the_image_compiling_in_the_container() {
    require_shim();
    let image = hello_with_aot();
    let full = format!("docker.io/{image}");
    let socket = format!(
        "{}/run/containerd/containerd.sock",
        std::env::var("WASMPACK_DOCKER_STATE").unwrap_or("/var/tmp/wasmpack-docker".into())
    );
    let id = unique_tag("ctr").replace(['/', ':'], "-");
    // containerd mounts the root only when it creates the container, so
    // the host side cannot read the module: the container compiles it.
    let out = Command::new("ctr")
        .args([
            "-a",
            &socket,
            "-n",
            "moby",
            "run",
            "--rm",
            "--runtime",
            "io.containerd.wasmpack.v1",
        ])
        .args([
            "--platform",
            "wasi/wasm",
            "--env",
            "GREETING=via ctr",
            &full,
            &id,
            "/hello.wasm",
            "ctr",
        ])
        .output()
        .expect("ctr (from containerd)");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "Hello, ctr! (from wasm32-wasi)\nvia ctr\n");
    remove(&image);
}
