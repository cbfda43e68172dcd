//! End-to-end: `wasmpack run` on modules, precompiled files, layouts,
//! archives and a real registry; the choice between AOT layer, cache and
//! compilation; trust; limits.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};

use support::{rust_guest, tool, wasmpack, wasmpack_command, Registry};

/// One guest for every case, picked by its first argument.
const GUEST: &str = r#"
use std::io::Read;
fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str).unwrap_or("") {
        "echo" => {
            println!("argv={:?}", args);
            let mut vars: Vec<_> = std::env::vars().collect();
            vars.sort();
            for (k, v) in vars { println!("env {k}={v}"); }
        }
        "cat" => print!("{}", std::fs::read_to_string(&args[2]).unwrap()),
        "write" => match std::fs::write(&args[2], &args[3]) {
            Ok(()) => println!("wrote {}", args[2]),
            Err(e) => { eprintln!("cannot write {}: {e}", args[2]); std::process::exit(3) }
        },
        "upper" => {
            let mut s = String::new();
            std::io::stdin().read_to_string(&mut s).unwrap();
            print!("{}", s.to_uppercase());
        }
        "exit" => std::process::exit(args[2].parse().unwrap()),
        "spin" => { let mut n = 0u64; loop { n = std::hint::black_box(n + 1); } }
        "grow" => { let mut v = Vec::new(); loop { v.push(vec![1u8; 1 << 20]); std::hint::black_box(&v); } }
        other => { eprintln!("unknown mode {other:?}"); std::process::exit(2) }
    }
}
"#;

struct Fixture {
    dir: tempfile::TempDir,
    wasm: PathBuf,
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let wasm = rust_guest(GUEST, dir.path(), "guest.wasm");
        Self { dir, wasm }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `wasmpack run` with a cache of this fixture's own.
    fn run(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let cache = self.path().join("cache");
        let mut all = vec![
            ("WASMPACK_CACHE_DIR", cache.to_str().unwrap()),
            ("WASMPACK_TRUST_FILE", "/dev/null"),
        ];
        all.extend_from_slice(env);
        let mut full = vec!["run"];
        full.extend_from_slice(args);
        wasmpack(&full, self.path(), &all)
    }

    fn build(&self, args: &[&str]) {
        let mut full = vec![
            "build",
            self.wasm.to_str().unwrap(),
            "--path",
            "/app/guest.wasm",
        ];
        full.extend_from_slice(args);
        let out = wasmpack(&full, self.path(), &[]);
        assert!(out.status.success(), "{}", stderr(&out));
    }
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_module_gets_argv_env_stdin_and_gives_its_exit_code() {
    let f = Fixture::new();
    let wasm = f.wasm.to_str().unwrap();
    let out = f.run(
        &[wasm, "-e", "COLOR=blue", "--", "echo", "two words"],
        &[("HOST_ONLY", "x")],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "argv=[\"guest.wasm\", \"echo\", \"two words\"]\nenv COLOR=blue\n",
        "only what was passed"
    );

    let out = f.run(&[wasm, "--", "exit", "42"], &[]);
    assert_eq!(out.status.code(), Some(42), "{}", stderr(&out));

    let mut child = wasmpack_command(f.path())
        .args(["run", wasm, "--no-cache", "--", "upper"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"piped in\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(stdout(&out), "PIPED IN\n");
}

#[test]
fn an_image_runs_with_its_entrypoint_cmd_env_and_files() {
    let f = Fixture::new();
    std::fs::create_dir(f.path().join("data")).unwrap();
    std::fs::write(f.path().join("data/motd.txt"), "from the image\n").unwrap();
    f.build(&[
        "-t",
        "demo/guest:1",
        "-o",
        "img.tar",
        "--add",
        "data:/data",
        "--cmd",
        "echo",
        "--env",
        "MODE=prod",
        "--env",
        "COLOR=red",
    ]);

    let out = f.run(&["img.tar", "-e", "COLOR=green"], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "argv=[\"/app/guest.wasm\", \"echo\"]\nenv COLOR=green\nenv MODE=prod\n",
        "ENTRYPOINT + CMD, image env with --env overriding"
    );

    let out = f.run(&["img.tar", "--", "cat", "/data/motd.txt"], &[]);
    assert_eq!(
        stdout(&out),
        "from the image\n",
        "arguments replace CMD; the image's files are at /: {}",
        stderr(&out)
    );

    let out = f.run(&["img.tar", "--", "write", "/data/new.txt", "x"], &[]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "the image is read-only: {}",
        stdout(&out)
    );

    std::fs::create_dir(f.path().join("out")).unwrap();
    let out = f.run(
        &[
            "img.tar",
            "--dir",
            "out:/out",
            "--",
            "write",
            "/out/result.txt",
            "done",
        ],
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        std::fs::read_to_string(f.path().join("out/result.txt")).unwrap(),
        "done"
    );
    let out = f.run(&["img.tar", "--", "cat", "/out/result.txt"], &[]);
    assert!(!out.status.success(), "host folders only when asked");

    // The same image from an OCI layout folder.
    f.build(&[
        "-t",
        "demo/guest:1",
        "-o",
        "layout",
        "--cmd",
        "exit",
        "--cmd",
        "5",
    ]);
    assert_eq!(f.run(&["layout"], &[]).status.code(), Some(5));
}

#[test]
fn the_second_start_uses_this_machines_compilation_and_a_bad_cache_entry_is_replaced() {
    let f = Fixture::new();
    let wasm = f.wasm.to_str().unwrap();
    let first = f.run(&[wasm, "-v", "--", "exit", "0"], &[]);
    assert!(
        stderr(&first).contains("compiled the module"),
        "{}",
        stderr(&first)
    );
    let second = f.run(&[wasm, "-v", "--", "exit", "0"], &[]);
    assert!(
        stderr(&second).contains("using this machine's compilation"),
        "{}",
        stderr(&second)
    );

    let entry = find_cwasm(&f.path().join("cache"));
    std::fs::write(&entry, b"\x7fELF garbage").unwrap();
    let third = f.run(&[wasm, "-v", "--", "exit", "9"], &[]);
    assert_eq!(third.status.code(), Some(9), "{}", stderr(&third));
    assert!(
        stderr(&third).contains("warning: cached compilation"),
        "{}",
        stderr(&third)
    );
    assert!(stderr(&third).contains("compiled the module"));
    let fourth = f.run(&[wasm, "-v", "--", "exit", "0"], &[]);
    assert!(
        stderr(&fourth).contains("using this machine's compilation"),
        "rewritten: {}",
        stderr(&fourth)
    );
}

/// A cache entry's path is predictable: an entry in a folder others can
/// write is native code anyone could have planted, and is not loaded.
#[test]
fn a_cache_entry_others_could_write_is_not_loaded() {
    use std::os::unix::fs::PermissionsExt;
    let f = Fixture::new();
    let wasm = f.wasm.to_str().unwrap();
    f.run(&[wasm, "--", "exit", "0"], &[]);
    let entry = find_cwasm(&f.path().join("cache"));
    let folder = entry.parent().unwrap();
    std::fs::set_permissions(folder, std::fs::Permissions::from_mode(0o777)).unwrap();
    let out = f.run(&[wasm, "-v", "--", "exit", "3"], &[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(!err.contains("using this machine's compilation"), "{err}");
    assert!(
        err.contains("warning: cached compilation refused") && err.contains("writable by others"),
        "{err}"
    );
    assert!(err.contains("compiled the module"), "{err}");
    std::fs::set_permissions(folder, std::fs::Permissions::from_mode(0o700)).unwrap();
    let out = f.run(&[wasm, "-v", "--", "exit", "0"], &[]);
    assert!(
        stderr(&out).contains("using this machine's compilation"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn aot_layers_run_only_when_trusted_matching_and_intact() {
    let f = Fixture::new();
    f.build(&[
        "-t",
        "demo/guest:1",
        "-o",
        "layout",
        "--aot",
        "x86_64,aarch64",
        "--cmd",
        "exit",
        "--cmd",
        "7",
    ]);

    let untrusted = f.run(&["layout", "-v", "--no-cache"], &[]);
    assert_eq!(untrusted.status.code(), Some(7));
    let said = stderr(&untrusted);
    assert!(
        said.contains("not trusted") && said.contains("compiled the module"),
        "{said}"
    );
    assert!(
        said.contains("is for aarch64-unknown-linux-gnu"),
        "the other architecture is skipped: {said}"
    );

    let trusted = f.run(&["layout", "-v", "--no-cache", "--trust-aot"], &[]);
    assert_eq!(trusted.status.code(), Some(7));
    let said = stderr(&trusted);
    assert!(
        said.contains("using the image's AOT layer") && said.contains("x86_64-unknown-linux-gnu"),
        "{said}"
    );
    assert!(!said.contains("compiled the module"), "{said}");

    // Tamper with this host's artifact: refused with a warning, never run.
    let manifest = layout_manifest(&f.path().join("layout"));
    let x86 = manifest["layers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["annotations"]["dev.wasmpack.aot.target"] == "x86_64-unknown-linux-gnu")
        .unwrap();
    let blob = blob_path(&f.path().join("layout"), x86["digest"].as_str().unwrap());
    let mut data = std::fs::read(&blob).unwrap();
    let middle = data.len() / 2;
    data[middle] ^= 0xff;
    std::fs::write(&blob, &data).unwrap();
    let tampered = f.run(&["layout", "-v", "--no-cache", "--trust-aot"], &[]);
    assert_eq!(
        tampered.status.code(),
        Some(7),
        "the module still runs: {}",
        stderr(&tampered)
    );
    let said = stderr(&tampered);
    assert!(
        said.contains("warning: AOT layer")
            && said.contains("refused")
            && said.contains("does not match"),
        "{said}"
    );
    assert!(said.contains("compiled the module"), "{said}");
}

#[test]
fn an_image_is_unpacked_once_and_later_starts_read_no_layer_blob() {
    let f = Fixture::new();
    f.build(&[
        "-t",
        "demo/guest:1",
        "-o",
        "layout",
        "--aot",
        "x86_64",
        "--cmd",
        "exit",
        "--cmd",
        "4",
    ]);
    let first = f.run(&["layout", "-v", "--trust-aot"], &[]);
    assert_eq!(first.status.code(), Some(4), "{}", stderr(&first));
    assert!(
        stderr(&first).contains("using the image's AOT layer"),
        "{}",
        stderr(&first)
    );

    // Every blob of the layout damaged: what the store holds was verified
    // under the manifest's digests when it was added, so starts go on.
    let layout = f.path().join("layout");
    for layer in layout_manifest(&layout)["layers"].as_array().unwrap() {
        std::fs::write(
            blob_path(&layout, layer["digest"].as_str().unwrap()),
            b"damaged",
        )
        .unwrap();
    }
    let stored = f.run(&["layout", "-v", "--trust-aot"], &[]);
    assert_eq!(stored.status.code(), Some(4), "{}", stderr(&stored));
    assert!(
        stderr(&stored).contains("using the image's AOT layer"),
        "{}",
        stderr(&stored)
    );
    assert!(!stderr(&stored).contains("warning"), "{}", stderr(&stored));

    // Without the store the blobs are read, and verified.
    let fresh = f.run(&["layout", "--no-cache"], &[]);
    assert!(!fresh.status.success());
    assert!(
        stderr(&fresh).contains("does not match"),
        "{}",
        stderr(&fresh)
    );
}

#[test]
fn images_from_a_registry_bring_native_code_only_from_trusted_repositories() {
    let f = Fixture::new();
    let registry = Registry::start(None);
    let reference = registry.reference("demo/guest:1");
    f.build(&[
        "-t",
        &reference,
        "--aot",
        "x86_64",
        "--cmd",
        "exit",
        "--cmd",
        "4",
        "--push",
        "--insecure",
    ]);

    let out = f.run(&[&reference, "--insecure", "-v", "--no-cache"], &[]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(stderr(&out).contains("not trusted"), "{}", stderr(&out));

    let trust = f.path().join("trusted-aot");
    let repository = reference.rsplit_once(':').unwrap().0;
    std::fs::write(
        &trust,
        format!("# ours\n{}\n", repository.rsplit_once('/').unwrap().0),
    )
    .unwrap();
    let out = f.run(
        &[&reference, "--insecure", "-v", "--no-cache"],
        &[("WASMPACK_TRUST_FILE", trust.to_str().unwrap())],
    );
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("using the image's AOT layer"),
        "{}",
        stderr(&out)
    );

    let other = registry.reference("elsewhere/guest:1");
    f.build(&[
        "-t",
        &other,
        "--aot",
        "x86_64",
        "--cmd",
        "exit",
        "--cmd",
        "4",
        "--push",
        "--insecure",
    ]);
    let out = f.run(
        &[&other, "--insecure", "-v", "--no-cache"],
        &[("WASMPACK_TRUST_FILE", trust.to_str().unwrap())],
    );
    assert!(
        stderr(&out).contains("not trusted"),
        "another repository: {}",
        stderr(&out)
    );
}

#[test]
fn precompiled_files_run_only_with_trust() {
    let f = Fixture::new();
    let wasm = f.wasm.to_str().unwrap();
    assert!(f.run(&[wasm, "--", "exit", "0"], &[]).status.success());
    let cwasm = find_cwasm(&f.path().join("cache"));
    let out = f.run(&[cwasm.to_str().unwrap(), "--", "exit", "6"], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("pass --trust-aot"),
        "{}",
        stderr(&out)
    );
    let out = f.run(
        &[cwasm.to_str().unwrap(), "--trust-aot", "--", "exit", "6"],
        &[],
    );
    assert_eq!(out.status.code(), Some(6), "{}", stderr(&out));
}

#[test]
fn limits_stop_the_guest_with_a_clear_message() {
    let f = Fixture::new();
    let wasm = f.wasm.to_str().unwrap();
    let started = std::time::Instant::now();
    let out = f.run(&[wasm, "--timeout", "300ms", "--", "spin"], &[]);
    assert_eq!(out.status.code(), Some(124), "{}", stderr(&out));
    assert!(stderr(&out).contains("--timeout"), "{}", stderr(&out));
    assert!(started.elapsed().as_secs() < 60, "the guest was stopped");

    let out = f.run(&[wasm, "--max-memory", "16M", "--", "grow"], &[]);
    assert_eq!(out.status.code(), Some(134), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("--max-memory (16777216 bytes)"),
        "{}",
        stderr(&out)
    );

    let out = f.run(&[wasm, "--max-memory", "64M", "--", "exit", "0"], &[]);
    assert!(
        out.status.success(),
        "a limit the guest stays under: {}",
        stderr(&out)
    );
}

#[test]
fn bad_input_says_what_is_wrong() {
    let f = Fixture::new();
    std::fs::write(f.path().join("junk.tar"), b"not an archive").unwrap();
    let out = f.run(&["junk.tar"], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("junk.tar"), "{}", stderr(&out));
    let out = f.run(&["Not A Reference"], &[]);
    assert!(
        stderr(&out).contains("invalid reference"),
        "{}",
        stderr(&out)
    );
    let _ = tool("true", &[], f.path());
}

fn find_cwasm(dir: &Path) -> PathBuf {
    let out = tool("find", &[dir.to_str().unwrap(), "-name", "*.cwasm"], dir);
    let found = stdout(&out);
    let mut lines = found.lines();
    let first = lines
        .next()
        .unwrap_or_else(|| panic!("no .cwasm in {}", dir.display()));
    assert!(lines.next().is_none(), "one entry: {found}");
    PathBuf::from(first)
}

fn layout_manifest(layout: &Path) -> serde_json::Value {
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    let digest = index["manifests"][0]["digest"].as_str().unwrap();
    serde_json::from_slice(&std::fs::read(blob_path(layout, digest)).unwrap()).unwrap()
}

fn blob_path(layout: &Path, digest: &str) -> PathBuf {
    layout
        .join("blobs/sha256")
        .join(digest.strip_prefix("sha256:").unwrap())
}
