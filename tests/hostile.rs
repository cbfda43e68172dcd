//! End-to-end tests of `wasmpack pull` against a hostile registry: a small
//! HTTP/1.1 server on 127.0.0.1, written here, that answers `/v2/` as a
//! registry does and then misbehaves on the manifest or a blob. Each pull
//! must fail within a bounded time, name its reason and leave no layout.
//!
//! The client runs under `prlimit --as` (address space), so a regression
//! that buffers an endless body fails the test instead of the machine.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
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
