//! Shared by the end-to-end tests: running `wasmpack` and the real tools it
//! is checked against, and a real registry (Debian's `docker-registry`) on
//! 127.0.0.1.
#![allow(dead_code)] // each test file uses its own part of this module

pub mod engine;
pub mod shim;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A preview1 command that prints a line, with two custom sections.
pub const HELLO_WAT: &str = r#"
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 8) "hello from wasm\n")
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 8))
    (i32.store (i32.const 4) (i32.const 16))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 100))))
  (@custom ".debug_info" "0123456789012345678901234567890123456789")
  (@custom "producers" "rustc")
)"#;

/// A temporary folder holding `hello.wasm`.
pub fn workdir() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let wasm = dir.path().join("hello.wasm");
    std::fs::write(&wasm, wat::parse_str(HELLO_WAT).unwrap()).unwrap();
    (dir, wasm)
}

/// A binary of this workspace, from the cargo target folder this test runs
/// from (`target/<profile>/deps/<test>` -> `target/<profile>/<name>`). Cargo
/// only builds a package's own binaries for its tests, so scripts/test runs
/// `cargo build --workspace --bins` first.
pub fn workspace_bin(name: &str) -> PathBuf {
    let bin = profile_dir().join(name);
    assert!(
        bin.is_file(),
        "{} missing: run `cargo build --workspace --bins` first (scripts/test does)",
        bin.display()
    );
    bin
}

/// A binary of this workspace cross-built for `triple` with this test's
/// profile: `target/<triple>/<profile>/<name>`.
pub fn cross_bin(triple: &str, name: &str) -> PathBuf {
    let profile = profile_dir();
    let target = profile.parent().expect("target folder");
    let bin = target
        .join(triple)
        .join(profile.file_name().expect("profile name"))
        .join(name);
    assert!(
        bin.is_file(),
        "{} missing: run `cargo build --target {triple} --bin {name}` first (scripts/test does)",
        bin.display()
    );
    bin
}

/// The aarch64 `wasmpack run` under qemu-user, with a cache of its own.
pub fn run_on_aarch64(dir: &Path, args: &[&str]) -> Output {
    let bin = cross_bin("aarch64-unknown-linux-gnu", "wasmpack");
    Command::new("qemu-aarch64-static")
        .args(["-L", "/usr/aarch64-linux-gnu"])
        .arg(bin)
        .arg("run")
        .args(args)
        .current_dir(dir)
        .env("WASMPACK_CACHE_DIR", dir.join("cache"))
        .env("WASMPACK_TRUST_FILE", "/dev/null")
        .output()
        .expect("qemu-aarch64-static runs (scripts/install-deps installs qemu-user-static)")
}

/// `target/<profile>`, from this test's own path.
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    exe.parent()
        .and_then(Path::parent)
        .expect("target/<profile>")
        .to_path_buf()
}

/// `wasmpack` in `dir`, ready for more arguments.
pub fn wasmpack_command(dir: &Path) -> Command {
    let mut cmd = Command::new(workspace_bin("wasmpack"));
    cmd.current_dir(dir);
    cmd
}

/// Runs `wasmpack` in `dir` with `env` set (and SOURCE_DATE_EPOCH unset
/// unless given).
pub fn wasmpack(args: &[&str], dir: &Path, env: &[(&str, &str)]) -> Output {
    let mut cmd = wasmpack_command(dir);
    cmd.args(args).env_remove("SOURCE_DATE_EPOCH");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("wasmpack runs")
}

/// The JSON a successful `--json` run printed.
pub fn json(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("--json prints JSON")
}

/// Runs a tool the test depends on and expects success; a missing tool is
/// a failure that says how to get it, never a silent pass.
pub fn tool(name: &str, args: &[&str], dir: &Path) -> Output {
    let out = try_tool(name, args, dir);
    assert!(
        out.status.success(),
        "{name} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

pub fn try_tool(name: &str, args: &[&str], dir: &Path) -> Output {
    Command::new(name)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("{name} is needed ({e}); scripts/install-deps installs it"))
}

/// A `docker-registry serve` on 127.0.0.1, killed when dropped.
pub struct Registry {
    pub port: u16,
    pub storage: PathBuf,
    config: PathBuf,
    child: Option<Child>,
    _dir: tempfile::TempDir,
}

impl Registry {
    /// Starts a registry; with `htpasswd` = (user, password), it asks for
    /// basic auth.
    pub fn start(htpasswd: Option<(&str, &str)>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let storage = dir.path().join("storage");
        let mut config = format!(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n",
            storage.display()
        );
        if let Some((user, password)) = htpasswd {
            let file = dir.path().join("htpasswd");
            // The registry accepts bcrypt entries only.
            let out = tool("htpasswd", &["-Bbn", user, password], dir.path());
            std::fs::write(&file, &out.stdout).unwrap();
            config += &format!(
                "auth:\n  htpasswd:\n    realm: wasmpack-test\n    path: {}\n",
                file.display()
            );
        }
        let config_path = dir.path().join("config.yml");
        std::fs::write(&config_path, config).unwrap();
        let mut registry = Self {
            port,
            storage,
            config: config_path,
            child: None,
            _dir: dir,
        };
        registry.restart();
        registry
    }

    /// `127.0.0.1:PORT/name`
    pub fn reference(&self, name: &str) -> String {
        format!("127.0.0.1:{}/{name}", self.port)
    }

    /// Kills the registry process (as a crash would).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same storage and port.
    pub fn restart(&mut self) {
        self.kill();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&self.config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("docker-registry is needed ({e}); scripts/install-deps installs it")
            });
        self.child = Some(child);
        wait_for_port(self.port, "docker-registry", Duration::from_secs(20));
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Waits until something accepts connections on 127.0.0.1:`port`.
pub fn wait_for_port(port: u16, what: &str, within: Duration) {
    let deadline = Instant::now() + within;
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "{what} did not listen on port {port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A Rust program compiled for wasm32-wasip1 by the host's rustc (the
/// target comes from scripts/install-deps), written to `dir/name`.
pub fn rust_guest(source: &str, dir: &Path, name: &str) -> PathBuf {
    let src = dir.join("guest_source.rs");
    std::fs::write(&src, source).unwrap();
    let out = dir.join(name);
    let args = ["--edition=2021", "--target", "wasm32-wasip1", "-O", "-o"];
    let built = Command::new("rustc")
        .args(args)
        .arg(&out)
        .arg(&src)
        .output()
        .expect("rustc runs");
    assert!(
        built.status.success(),
        "rustc --target wasm32-wasip1 failed (the target comes from `rustup target add wasm32-wasip1`, scripts/install-deps): {}",
        String::from_utf8_lossy(&built.stderr)
    );
    out
}
