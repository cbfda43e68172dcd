//! End-to-end tests of `wasmpack pull` against a hostile registry: a small
//! HTTP/1.1 server on 127.0.0.1, written here, that answers `/v2/` as a
//! registry does and then misbehaves on the manifest or a blob. Each pull
//! must fail within a bounded time, name its reason and leave no layout.
//!
//! The client runs under `prlimit --as` (address space), so a regression
//! that buffers an endless body fails the test instead of the machine.
//!
//! Then hostile images, made here by hand, through `pull --unpack` (from a
//! real docker-registry), `run` and `inspect` (from a layout): each must
//! fail naming why and leave nothing written or linked outside.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::workspace_bin;

/// The address space the client may use: far above what a pull of these
/// small images needs (its threads' stacks and the allocator's arenas
/// reserve a few hundred MB), far below what an endless body would take.
const ADDRESS_SPACE: &str = "2000000000";
/// A pull still running after this has hung; the test kills it and fails.
const HANG: Duration = Duration::from_secs(60);
/// The config blob's declared size in the blob scenarios.
const CONFIG_SIZE: usize = 1000;

#[derive(Clone, Copy)]
enum Hostile {
    /// The manifest never ends.
    EndlessManifest,
    /// The config blob never ends.
    EndlessBlob,
    /// The config blob is 64 MiB long, with a Content-Length that says so,
    /// where its descriptor declares CONFIG_SIZE bytes.
    LargerBlob,
    /// The config blob arrives one byte every 300 ms.
    SlowDrip,
    /// The config blob's request is refused with an endless error answer.
    EndlessRefusal,
}

/// Serves one hostile registry on a free port of 127.0.0.1, for as long as
/// the test runs; returns the port.
fn serve(hostile: Hostile) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || answer(stream, hostile));
        }
    });
    port
}

/// Answers the requests of one connection until the client goes away.
fn answer(stream: TcpStream, hostile: Hostile) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut out = stream;
    loop {
        let mut request = String::new();
        if reader.read_line(&mut request).unwrap_or(0) == 0 {
            return;
        }
        let mut header = String::new();
        while reader.read_line(&mut header).unwrap_or(0) > 2 {
            header.clear();
        }
        let path = request.split_whitespace().nth(1).unwrap_or("").to_string();
        let config = vec![b'{'; CONFIG_SIZE];
        let config_digest = sha256(&config);
        let sent = if path == "/v2/" {
            reply(&mut out, "application/json", b"{}")
        } else if path.contains("/manifests/") {
            match hostile {
                Hostile::EndlessManifest => endless(&mut out, "200 OK", None),
                _ => reply(
                    &mut out,
                    "application/vnd.oci.image.manifest.v1+json",
                    manifest(&config_digest).as_bytes(),
                ),
            }
        } else if path.ends_with(&format!("/blobs/{config_digest}")) {
            match hostile {
                Hostile::EndlessManifest | Hostile::EndlessBlob => {
                    endless(&mut out, "200 OK", None)
                }
                Hostile::LargerBlob => endless(&mut out, "200 OK", Some(64 << 20)),
                Hostile::EndlessRefusal => endless(&mut out, "404 Not Found", None),
                Hostile::SlowDrip => drip(&mut out, &config),
            }
        } else {
            out.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
        };
        if sent.is_err() {
            return;
        }
    }
}

fn reply(out: &mut TcpStream, media_type: &str, body: &[u8]) -> std::io::Result<()> {
    write!(
        out,
        "HTTP/1.1 200 OK\r\nContent-Type: {media_type}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )?;
    out.write_all(body)
}

/// Zeros without end (chunked), or `length` of them, until the client
/// hangs up.
fn endless(out: &mut TcpStream, status: &str, length: Option<u64>) -> std::io::Result<()> {
    let chunk = vec![b' '; 64 << 10];
    match length {
        Some(length) => {
            write!(out, "HTTP/1.1 {status}\r\nContent-Length: {length}\r\n\r\n")?;
            let mut left = length;
            while left > 0 {
                let n = left.min(chunk.len() as u64) as usize;
                out.write_all(&chunk[..n])?;
                left -= n as u64;
            }
            Ok(())
        }
        None => {
            write!(
                out,
                "HTTP/1.1 {status}\r\nContent-Type: application/vnd.oci.image.manifest.v1+json\r\nTransfer-Encoding: chunked\r\n\r\n"
            )?;
            loop {
                write!(out, "{:x}\r\n", chunk.len())?;
                out.write_all(&chunk)?;
                out.write_all(b"\r\n")?;
            }
        }
    }
}

/// `body`, one byte every 300 ms.
fn drip(out: &mut TcpStream, body: &[u8]) -> std::io::Result<()> {
    write!(
        out,
        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )?;
    for byte in body {
        out.write_all(&[*byte])?;
        out.flush()?;
        std::thread::sleep(Duration::from_millis(300));
    }
    Ok(())
}

fn sha256(data: &[u8]) -> String {
    use sha2::Digest;
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(data)))
}

/// An image manifest whose config is the `CONFIG_SIZE`-byte blob
/// `config_digest` and whose one layer is never reached.
fn manifest(config_digest: &str) -> String {
    serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": config_digest,
            "size": CONFIG_SIZE,
        },
        "layers": [{
            "mediaType": "application/vnd.oci.image.layer.v1.tar",
            "digest": format!("sha256:{}", "0".repeat(64)),
            "size": 10,
        }],
    })
    .to_string()
}

/// What a hostile pull did: how it ended, its stderr, how long it took and
/// the most memory it held (VmHWM, in kB), sampled while it ran.
struct Outcome {
    success: bool,
    stderr: String,
    took: Duration,
    peak_kb: u64,
}

/// `wasmpack pull --insecure 127.0.0.1:PORT/demo/x:1 -o DIR` under the
/// address-space cap, killed (and the test failed) if it outlives HANG.
fn pull(port: u16, dir: &Path, env: &[(&str, &str)]) -> Outcome {
    let docker_config = dir.join("docker-config");
    std::fs::create_dir_all(&docker_config).unwrap();
    let reference = format!("127.0.0.1:{port}/demo/x:1");
    let mut command = Command::new("prlimit");
    command
        .arg(format!("--as={ADDRESS_SPACE}"))
        .arg("--")
        .arg(workspace_bin("wasmpack"))
        .args(["pull", "--insecure", &reference, "-o"])
        .arg(dir.join("layout"))
        .current_dir(dir)
        .env("DOCKER_CONFIG", &docker_config)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (key, value) in env {
        command.env(key, value);
    }
    let start = Instant::now();
    let mut child = command
        .spawn()
        .expect("prlimit runs (util-linux, on Debian 12)");
    let mut peak_kb = 0;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        peak_kb = peak_kb.max(high_water_kb(child.id()));
        if start.elapsed() > HANG {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("the pull hung: killed after {HANG:?} (peak memory {peak_kb} kB)");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    let outcome = Outcome {
        success: status.success(),
        stderr,
        took: start.elapsed(),
        peak_kb,
    };
    eprintln!(
        "pull ended in {:?}, peak memory {} kB: {}",
        outcome.took,
        outcome.peak_kb,
        outcome.stderr.trim()
    );
    outcome
}

/// The process's peak resident memory so far, 0 once it is gone.
fn high_water_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("VmHWM:"))
                .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// The pull failed, within `within`, on one line naming `reason`, and left
/// no layout behind.
fn assert_refused(outcome: &Outcome, dir: &Path, reason: &str, within: Duration) {
    assert!(!outcome.success, "the pull succeeded: {}", outcome.stderr);
    assert!(
        outcome.stderr.contains(reason),
        "the error names {reason:?}: {}",
        outcome.stderr
    );
    assert!(
        outcome.stderr.starts_with("error: ") && outcome.stderr.trim().lines().count() == 1,
        "one line of error: {}",
        outcome.stderr
    );
    assert!(
        outcome.took < within,
        "took {:?}, over {within:?}",
        outcome.took
    );
    assert!(
        !dir.join("layout").exists(),
        "a failed pull leaves no layout"
    );
}

#[test]
fn an_endless_manifest_is_cut_at_the_manifest_limit() {
    let port = serve(Hostile::EndlessManifest);
    let dir = tempfile::tempdir().unwrap();
    let outcome = pull(port, dir.path(), &[]);
    assert_refused(
        &outcome,
        dir.path(),
        "fetching the manifest",
        Duration::from_secs(20),
    );
    assert!(
        outcome.stderr.contains("manifest size limit"),
        "{}",
        outcome.stderr
    );
}

#[test]
fn an_endless_blob_is_cut_at_its_declared_size() {
    let port = serve(Hostile::EndlessBlob);
    let dir = tempfile::tempdir().unwrap();
    let outcome = pull(port, dir.path(), &[]);
    let digest = sha256(&[b'{'; CONFIG_SIZE]);
    assert_refused(&outcome, dir.path(), &digest, Duration::from_secs(20));
    assert!(
        outcome.stderr.contains(&format!(
            "more than the {CONFIG_SIZE} bytes its descriptor declares"
        )),
        "{}",
        outcome.stderr
    );
    assert!(outcome.stderr.contains("demo/x:1"), "{}", outcome.stderr);
}

#[test]
fn a_blob_longer_than_its_descriptor_is_refused_before_it_is_read() {
    let port = serve(Hostile::LargerBlob);
    let dir = tempfile::tempdir().unwrap();
    let outcome = pull(port, dir.path(), &[]);
    let digest = sha256(&[b'{'; CONFIG_SIZE]);
    assert_refused(&outcome, dir.path(), &digest, Duration::from_secs(20));
    assert!(
        outcome.stderr.contains(&format!(
            "more than the {CONFIG_SIZE} bytes its descriptor declares"
        )),
        "{}",
        outcome.stderr
    );
    assert!(
        outcome.peak_kb < 64 << 10,
        "the 64 MiB body was not held: peak {} kB",
        outcome.peak_kb
    );
}

#[test]
fn a_slow_drip_blob_is_cut_off_by_the_default_rate_floor() {
    let port = serve(Hostile::SlowDrip);
    let dir = tempfile::tempdir().unwrap();
    let outcome = pull(port, dir.path(), &[]);
    assert_refused(
        &outcome,
        dir.path(),
        "below the floor",
        Duration::from_secs(20),
    );
}

#[test]
fn a_slow_drip_blob_is_cut_off_by_the_deadline_from_the_environment() {
    let port = serve(Hostile::SlowDrip);
    let dir = tempfile::tempdir().unwrap();
    let outcome = pull(
        port,
        dir.path(),
        &[
            ("WASMPACK_REGISTRY_MIN_RATE", "0"),
            ("WASMPACK_REGISTRY_TIMEOUT", "2"),
        ],
    );
    assert_refused(
        &outcome,
        dir.path(),
        "not done within 2s",
        Duration::from_secs(8),
    );
}

#[test]
fn an_endless_refusal_of_a_blob_is_cut_at_the_error_answer_limit() {
    let port = serve(Hostile::EndlessRefusal);
    let dir = tempfile::tempdir().unwrap();
    let outcome = pull(port, dir.path(), &[]);
    let digest = sha256(&[b'{'; CONFIG_SIZE]);
    assert_refused(&outcome, dir.path(), &digest, Duration::from_secs(20));
    assert!(
        outcome.stderr.contains("allowed for an error answer"),
        "{}",
        outcome.stderr
    );
}

// Hostile images: layers the test writes by hand (raw tar headers, so names
// like `../x` are possible), read by `pull --unpack` from a real registry and
// by `run` and `inspect` from a local layout. Each command must fail naming
// why, leave the sentinels as they were, leave nothing half-written, and no
// link under the test folder may resolve outside it.

/// What the sentinels hold; an escape that writes or removes them shows.
const SENTINEL: &[u8] = b"untouched\n";

/// One layer entry: name, kind, link target, data.
type Entry = (String, tar::EntryType, String, Vec<u8>);

fn entry(name: &str, kind: tar::EntryType, link: &str) -> Entry {
    (name.to_string(), kind, link.to_string(), Vec::new())
}

/// A tar of `entries`, names and link targets set as raw bytes: the tar
/// crate's setters refuse `..` and absolute paths, a hostile image does not.
fn raw_tar(entries: &[Entry]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (name, kind, link, data) in entries {
        let mut header = tar::Header::new_gnu();
        header.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        header.as_old_mut().linkname[..link.len()].copy_from_slice(link.as_bytes());
        header.set_entry_type(*kind);
        header.set_mode(if kind.is_dir() { 0o755 } else { 0o644 });
        header.set_size(data.len() as u64);
        header.set_cksum();
        builder.append(&header, data.as_slice()).unwrap();
    }
    builder.into_inner().unwrap()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    use flate2::{write::GzEncoder, Compression};
    let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

/// How the image around a hostile layer is made wrong, beyond its entries.
#[derive(Clone, Copy, PartialEq)]
enum Damage {
    None,
    /// One byte of the hostile layer's blob flipped after the manifest
    /// named it (in the layout, and in the registry's storage).
    TamperedBlob,
    /// The manifest declares the hostile layer one byte shorter than it is.
    LyingSize,
}

#[derive(Clone, Copy)]
struct Case {
    name: &'static str,
    entries: fn(&Path) -> Vec<Entry>,
    damage: Damage,
    /// Limits lowered for this case, so a bomb stays small.
    env: &'static [(&'static str, &'static str)],
    /// What the error must say.
    reason: &'static str,
    /// Whether `inspect` must fail too: it only reads the entrypoint out of
    /// the layers, so it has a reason to refuse bombs and bad blobs only.
    inspect_fails: bool,
}

const BYTES_LIMIT: &[(&str, &str)] = &[("WASMPACK_MAX_UNPACK_BYTES", "1048576")];
const ENTRIES_LIMIT: &[(&str, &str)] = &[("WASMPACK_MAX_UNPACK_ENTRIES", "1000")];

fn cases() -> Vec<Case> {
    use tar::EntryType::{Block, Char, Fifo, Link, Regular, Symlink};
    let case = |name, entries, reason| Case {
        name,
        entries,
        damage: Damage::None,
        env: &[],
        reason,
        inspect_fails: false,
    };
    let unsafe_name = "is absolute or climbs out with `..`";
    let outward = "resolves outside";
    let no_name = "is a whiteout that names no file";
    let special = "is a device, fifo or other special file";
    vec![
        case(
            "dot-dot",
            |_| vec![entry("../sentinel", Regular, "")],
            unsafe_name,
        ),
        case(
            "absolute",
            |sentinel| vec![entry(sentinel.to_str().unwrap(), Regular, "")],
            unsafe_name,
        ),
        case(
            "symlink escape",
            |_| vec![entry("esc", Symlink, "../../../../../../../../tmp")],
            outward,
        ),
        // `l -> .` makes `l/..` climb out although it reads as inside.
        case(
            "symlink chain escape",
            |sentinel| {
                let target = format!("l/l/l/l/../../../..{}", sentinel.display());
                vec![entry("l", Symlink, "."), entry("esc", Symlink, &target)]
            },
            outward,
        ),
        case(
            "hard link outside",
            |_| vec![entry("hard", Link, "../sentinel")],
            "is a hard link that points outside the image",
        ),
        case("char device", |_| vec![entry("null", Char, "")], special),
        case("block device", |_| vec![entry("sda", Block, "")], special),
        case("fifo", |_| vec![entry("pipe", Fifo, "")], special),
        case(
            "whiteout of ..",
            |_| vec![entry(".wh...", Regular, "")],
            no_name,
        ),
        case(
            "whiteout of .",
            |_| vec![entry(".wh..", Regular, "")],
            no_name,
        ),
        case(
            "whiteout of nothing",
            |_| vec![entry("d/.wh.", Regular, "")],
            no_name,
        ),
        Case {
            env: BYTES_LIMIT,
            inspect_fails: true,
            ..case(
                "64 MiB of zeros",
                |_| {
                    let mut zeros = entry("zeros", Regular, "");
                    zeros.3 = vec![0; 64 << 20];
                    vec![zeros]
                },
                "unpacks to more than 1048576 bytes, the limit ($WASMPACK_MAX_UNPACK_BYTES)",
            )
        },
        Case {
            env: ENTRIES_LIMIT,
            inspect_fails: true,
            ..case(
                "20,000 files",
                |_| {
                    (0..20_000)
                        .map(|i| entry(&format!("f/{i}"), Regular, ""))
                        .collect()
                },
                "holds more than 1000 entries, the limit ($WASMPACK_MAX_UNPACK_ENTRIES)",
            )
        },
        Case {
            damage: Damage::TamperedBlob,
            inspect_fails: true,
            ..case(
                "tampered blob",
                |_| vec![entry("ok", Regular, "")],
                "does not match its descriptor",
            )
        },
        Case {
            damage: Damage::LyingSize,
            inspect_fails: true,
            ..case(
                "lying size",
                |_| vec![entry("ok", Regular, "")],
                // Read whole from a layout, cut at the declared size from a
                // registry: both say the descriptor was not kept to.
                "descriptor",
            )
        },
    ]
}

/// The folder one case runs in: the sentinels, $TMPDIR and the cache.
struct Scene {
    dir: tempfile::TempDir,
}

impl Scene {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        for folder in ["tmp", "cache", "docker-config"] {
            std::fs::create_dir(dir.path().join(folder)).unwrap();
        }
        for sentinel in ["sentinel", "tmp/sentinel"] {
            std::fs::write(dir.path().join(sentinel), SENTINEL).unwrap();
        }
        Scene { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `wasmpack args` here, with $TMPDIR, the cache and the limits of
    /// `case` inside the scene.
    fn wasmpack(&self, args: &[&str], case: &Case) -> std::process::Output {
        let d = self.path();
        let mut command = support::wasmpack_command(d);
        command
            .args(args)
            .env("TMPDIR", d.join("tmp"))
            .env("WASMPACK_CACHE_DIR", d.join("cache"))
            .env("WASMPACK_TRUST_FILE", "/dev/null")
            .env("DOCKER_CONFIG", d.join("docker-config"));
        for (key, value) in case.env {
            command.env(key, value);
        }
        command.output().expect("wasmpack runs")
    }

    /// The command failed on one line naming the case's reason, and left
    /// the scene as it was: sentinels intact, no `gone` path, no staging
    /// folder, no link out.
    fn assert_refused(&self, out: &std::process::Output, case: &Case, gone: &[&str]) {
        let name = case.name;
        let stderr = String::from_utf8_lossy(&out.stderr);
        eprintln!("{name}: {}", stderr.trim());
        assert!(!out.status.success(), "{name}: succeeded: {stderr}");
        assert!(
            stderr.starts_with("error: ") && stderr.trim().lines().count() == 1,
            "{name}: one line of error: {stderr}"
        );
        assert!(
            stderr.contains(case.reason),
            "{name}: the error names {:?}: {stderr}",
            case.reason
        );
        self.assert_untouched(name, gone);
    }

    fn assert_untouched(&self, name: &str, gone: &[&str]) {
        let d = self.path();
        for sentinel in ["sentinel", "tmp/sentinel"] {
            assert_eq!(
                std::fs::read(d.join(sentinel)).ok().as_deref(),
                Some(SENTINEL),
                "{name}: {sentinel} survives unchanged"
            );
        }
        for path in gone {
            assert!(!d.join(path).exists(), "{name}: {path} left behind");
        }
        let root = d.canonicalize().unwrap();
        walk(d, &mut |path| {
            let file_name = path.file_name().unwrap().to_string_lossy();
            assert!(
                !file_name.starts_with(".wasmpack-staging-"),
                "{name}: staging left: {}",
                path.display()
            );
            if path.is_symlink() {
                assert!(
                    resolve(path).starts_with(&root),
                    "{name}: {} resolves outside",
                    path.display()
                );
            }
        });
    }
}

/// Calls `visit` on every path under `dir`, never following links.
fn walk(dir: &Path, visit: &mut dyn FnMut(&Path)) {
    for item in std::fs::read_dir(dir).unwrap().flatten() {
        let path = item.path();
        visit(&path);
        if item.file_type().unwrap().is_dir() {
            walk(&path, visit);
        }
    }
}

/// Where `link` leads: as the kernel resolves it when its target exists,
/// else its target joined to its resolved folder, `..` taken lexically.
fn resolve(link: &Path) -> PathBuf {
    if let Ok(real) = link.canonicalize() {
        return real;
    }
    let folder = link.parent().unwrap().canonicalize().unwrap();
    let mut out = PathBuf::new();
    for part in folder.join(std::fs::read_link(link).unwrap()).components() {
        match part {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            part => out.push(part),
        }
    }
    out
}

/// A blob: its digest, and its file in the layout.
fn write_blob(layout: &Path, data: &[u8]) -> (String, PathBuf) {
    let digest = sha256(data);
    let path = layout.join("blobs/sha256").join(&digest["sha256:".len()..]);
    std::fs::write(&path, data).unwrap();
    (digest, path)
}

/// An OCI layout at `layout` holding `demo:1`: a first layer with the
/// module its entrypoint names, then the case's hostile layer, damaged as
/// the case says. Returns the hostile layer's digest.
fn write_image(layout: &Path, case: &Case, sentinel: &Path) -> String {
    std::fs::create_dir_all(layout.join("blobs/sha256")).unwrap();
    std::fs::write(
        layout.join("oci-layout"),
        r#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .unwrap();
    let module = wat::parse_str(support::HELLO_WAT).unwrap();
    let mut hello = entry("hello.wasm", tar::EntryType::Regular, "");
    hello.3 = module;
    let tars = [raw_tar(&[hello]), raw_tar(&(case.entries)(sentinel))];
    let mut layers = Vec::new();
    for tar in &tars {
        let blob = gzip(tar);
        let (digest, path) = write_blob(layout, &blob);
        layers.push((digest, path, blob.len()));
    }
    let (hostile, hostile_path, _) = layers.last().unwrap().clone();
    let config = serde_json::json!({
        "architecture": "wasm",
        "os": "wasi",
        "config": {"Entrypoint": ["/hello.wasm"]},
        "rootfs": {"type": "layers", "diff_ids": tars.iter().map(|t| sha256(t)).collect::<Vec<_>>()},
    })
    .to_string();
    let (config_digest, _) = write_blob(layout, config.as_bytes());
    let declared = |size: usize, digest: &str| match case.damage {
        Damage::LyingSize if digest == hostile => size - 1,
        _ => size,
    };
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": config_digest,
            "size": config.len(),
        },
        "layers": layers.iter().map(|(digest, _, size)| serde_json::json!({
            "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
            "digest": digest,
            "size": declared(*size, digest),
        })).collect::<Vec<_>>(),
    })
    .to_string();
    let (manifest_digest, _) = write_blob(layout, manifest.as_bytes());
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": manifest_digest,
            "size": manifest.len(),
            "annotations": {"org.opencontainers.image.ref.name": "1"},
        }],
    });
    std::fs::write(layout.join("index.json"), index.to_string()).unwrap();
    if case.damage == Damage::TamperedBlob {
        flip_last_byte(&hostile_path);
    }
    hostile
}

/// Flips the last byte of `file`, keeping its length (gzip's trailer: the
/// blob no longer matches its digest).
fn flip_last_byte(file: &Path) {
    let mut data = std::fs::read(file).unwrap();
    *data.last_mut().unwrap() ^= 0xff;
    std::fs::write(file, data).unwrap();
}

#[test]
fn run_refuses_hostile_images() {
    for case in cases() {
        let scene = Scene::new();
        write_image(
            &scene.path().join("image"),
            &case,
            &scene.path().join("sentinel"),
        );
        let out = scene.wasmpack(&["run", "image"], &case);
        scene.assert_refused(&out, &case, &[]);
    }
}

#[test]
fn inspect_reads_hostile_images_without_writing() {
    for case in cases() {
        let scene = Scene::new();
        write_image(
            &scene.path().join("image"),
            &case,
            &scene.path().join("sentinel"),
        );
        let out = scene.wasmpack(&["inspect", "image"], &case);
        if case.inspect_fails {
            scene.assert_refused(&out, &case, &[]);
        } else {
            scene.assert_untouched(case.name, &[]);
        }
    }
}

#[test]
fn pull_unpack_refuses_hostile_images() {
    let registry = support::Registry::start(None);
    for (i, case) in cases().iter().enumerate() {
        let scene = Scene::new();
        let sentinel = scene.path().join("sentinel");
        // `push` checks what it sends, so the image goes up whole and is
        // damaged in the registry afterwards, as a hostile registry would.
        let whole = Case {
            damage: Damage::None,
            ..*case
        };
        let hostile = write_image(&scene.path().join("image"), &whole, &sentinel);
        let name = format!("hostile/{i}");
        let reference = registry.reference(&format!("{name}:1"));
        let pushed = scene.wasmpack(&["push", "image", &reference, "--insecure"], case);
        assert!(pushed.status.success(), "{}: push: {pushed:?}", case.name);
        match case.damage {
            Damage::None => {}
            Damage::TamperedBlob => flip_last_byte(&registry_blob(&registry, &hostile)),
            Damage::LyingSize => {
                let lying = scene.path().join("lying");
                write_image(&lying, case, &sentinel);
                put_manifest(registry.port, &name, &image_manifest(&lying));
                std::fs::remove_dir_all(lying).unwrap();
            }
        }
        std::fs::remove_dir_all(scene.path().join("image")).unwrap();
        let out = scene.wasmpack(
            &[
                "pull",
                &reference,
                "--insecure",
                "-o",
                "layout",
                "--unpack",
                "rootfs",
            ],
            case,
        );
        scene.assert_refused(&out, case, &["layout", "rootfs"]);
    }
}

/// Where docker-registry keeps the blob `digest`.
fn registry_blob(registry: &support::Registry, digest: &str) -> PathBuf {
    let hex = &digest["sha256:".len()..];
    registry
        .storage
        .join("docker/registry/v2/blobs/sha256")
        .join(&hex[..2])
        .join(hex)
        .join("data")
}

/// The manifest of the one image in `layout`.
fn image_manifest(layout: &Path) -> Vec<u8> {
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    let digest = index["manifests"][0]["digest"].as_str().unwrap();
    std::fs::read(layout.join("blobs/sha256").join(&digest["sha256:".len()..])).unwrap()
}

/// Tags `manifest` as `name:1` in the registry on 127.0.0.1:`port`, by
/// hand: wasmpack would not send a manifest that lies.
fn put_manifest(port: u16, name: &str, manifest: &[u8]) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        stream,
        "PUT /v2/{name}/manifests/1 HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\
         Content-Type: application/vnd.oci.image.manifest.v1+json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        manifest.len()
    )
    .unwrap();
    stream.write_all(manifest).unwrap();
    let mut status = String::new();
    BufReader::new(stream).read_line(&mut status).unwrap();
    assert!(status.contains(" 201 "), "manifest PUT: {status}");
}
