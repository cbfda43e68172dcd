//! Fidelity of the frontend's build stages, by comparison: every case in
//! tests/fidelity/ is built twice on the real engine, by BuildKit's built-in
//! Dockerfile frontend and by ours (the same Dockerfile behind a `# syntax=`
//! line), and the two OCI exports must agree — the image config (Entrypoint,
//! Cmd, Env, WorkingDir, User, Labels, ExposedPorts, Volumes, StopSignal,
//! Healthcheck, Shell, OnBuild, ...), the author, the platform, and the
//! filesystem the layers add up to (paths, types, modes, owners, contents,
//! link targets; not times, which differ between any two builds, unless
//! the case pins them with SOURCE_DATE_EPOCH). For the
//! wasm target the platform and the layering are ours to decide, so only
//! the config and the flattened filesystem are compared. The build warnings
//! buildx lists must be the same too.
//!
//! A case is a folder holding a Dockerfile and its build context. Optional
//! files: `case.args`, extra `docker buildx build` arguments one per line
//! (`--target=x`, `--build-arg=A=1`, `--platform=wasi/wasm`); `case.fails`,
//! for a Dockerfile both frontends must refuse, holding lines our error must
//! contain; `case.warns`, lines the build warnings must contain. Most
//! cases build on wasmpack/busybox:local (scripts/busybox-image).

mod support;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use sha2::Digest;
use support::engine::{docker, repo, require_images, stderr, FRONTEND_IMAGE};

/// Builds at once: the engine runs them in parallel, and most of a build's
/// time is waiting on runc and the exporter.
const WORKERS: usize = 3;

/// One flattened filesystem entry: what must match between the frontends.
#[derive(Debug, PartialEq, Eq)]
struct Entry {
    kind: char,
    mode: u32,
    uid: u64,
    gid: u64,
    /// sha256 of a file's bytes; a link's target.
    content: String,
}

struct Image {
    /// The build's warnings as buildx lists them (the same for every
    /// platform of one build).
    warnings: Vec<String>,
    platform: String,
    config: serde_json::Value,
    /// The creation time and the distinct history times: compared when the
    /// build pins them with SOURCE_DATE_EPOCH.
    times: (serde_json::Value, std::collections::BTreeSet<String>),
    files: BTreeMap<String, Entry>,
}

fn cases() -> Vec<PathBuf> {
    let mut cases: Vec<PathBuf> = std::fs::read_dir(repo().join("tests/fidelity"))
        .expect("tests/fidelity")
        .map(|e| e.expect("case folder").path())
        .filter(|p| p.join("Dockerfile").is_file())
        .collect();
    cases.sort();
    cases
}

/// The case's context copied to a temporary folder, its Dockerfile behind
/// our syntax line when `ours`.
fn prepared(case: &Path, ours: bool) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new("cp")
        .args([
            "-a",
            "--",
            &format!("{}/.", case.display()),
            &dir.path().display().to_string(),
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "cp: {}", stderr(&out));
    if ours {
        let dockerfile = dir.path().join("Dockerfile");
        let text = std::fs::read(&dockerfile).unwrap();
        let mut with_syntax = format!("# syntax={FRONTEND_IMAGE}\n").into_bytes();
        with_syntax.extend_from_slice(&text);
        std::fs::write(&dockerfile, with_syntax).unwrap();
    }
    dir
}

fn case_args(case: &Path) -> Vec<String> {
    match std::fs::read_to_string(case.join("case.args")) {
        Ok(text) => text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// Builds the prepared context into an OCI archive; the build's stderr on
/// failure.
fn build(context: &Path, args: &[String]) -> Result<Vec<Image>, String> {
    let out_dir = tempfile::tempdir().unwrap();
    let archive = out_dir.path().join("image.tar");
    let dest = format!("type=oci,dest={}", archive.display());
    let mut all: Vec<&str> = vec![
        "buildx",
        "build",
        "--progress=plain",
        "--provenance=false",
        "-o",
        &dest,
    ];
    if !args.iter().any(|a| a.starts_with("--platform")) {
        all.extend(["--platform", "linux/amd64"]);
    }
    all.extend(args.iter().map(String::as_str));
    all.push(".");
    let out = docker(&all, context);
    let log = stderr(&out);
    if !out.status.success() {
        return Err(log);
    }
    // "N warning(s) found (use --debug to expand):" then " - <short>" lines.
    let plain = log.replace("\u{1b}[33m", "").replace("\u{1b}[0m", "");
    let warnings: Vec<String> = plain
        .lines()
        .skip_while(|l| !l.contains(" found (use --debug to expand)"))
        .filter_map(|l| l.trim_start().strip_prefix("- "))
        .map(str::to_string)
        .collect();
    let mut images = read_archive(&archive);
    for image in &mut images {
        image.warnings = warnings.clone();
    }
    Ok(images)
}

/// The images of an OCI archive, one per platform, sorted by platform.
fn read_archive(archive: &Path) -> Vec<Image> {
    let mut blobs: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut tar = tar::Archive::new(std::fs::File::open(archive).unwrap());
    for entry in tar.entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = entry.path().unwrap().to_string_lossy().into_owned();
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).unwrap();
        blobs.insert(path, bytes);
    }
    let json = |path: &str| -> serde_json::Value {
        serde_json::from_slice(&blobs[path]).unwrap_or_else(|e| panic!("{path}: {e}"))
    };
    let blob = |digest: &serde_json::Value| {
        format!("blobs/{}", digest.as_str().unwrap().replacen(':', "/", 1))
    };
    // index.json names one image manifest, or an index of one per platform.
    let mut manifests = Vec::new();
    let mut pending = vec![json("index.json")];
    while let Some(index) = pending.pop() {
        for entry in index["manifests"].as_array().unwrap() {
            let child = json(&blob(&entry["digest"]));
            match entry["mediaType"].as_str() {
                Some("application/vnd.oci.image.index.v1+json") => pending.push(child),
                _ => manifests.push(child),
            }
        }
    }
    let mut images: Vec<Image> = manifests.iter().map(|m| read_image(m, &blobs)).collect();
    images.sort_by(|a, b| a.platform.cmp(&b.platform));
    images
}

/// One platform's image from the archive's blobs.
fn read_image(manifest: &serde_json::Value, blobs: &BTreeMap<String, Vec<u8>>) -> Image {
    let json = |path: &str| -> serde_json::Value {
        serde_json::from_slice(&blobs[path]).unwrap_or_else(|e| panic!("{path}: {e}"))
    };
    let blob = |digest: &serde_json::Value| {
        format!("blobs/{}", digest.as_str().unwrap().replacen(':', "/", 1))
    };
    assert_eq!(
        manifest["mediaType"], "application/vnd.oci.image.manifest.v1+json",
        "expected image manifests in the export: {manifest}"
    );
    let config = json(&blob(&manifest["config"]["digest"]));

    let mut files = BTreeMap::new();
    for layer in manifest["layers"].as_array().unwrap() {
        let bytes = &blobs[&blob(&layer["digest"])];
        apply_layer(&mut files, flate2::read::GzDecoder::new(&bytes[..]));
    }
    let platform = format!(
        "{}/{}",
        config["os"].as_str().unwrap_or(""),
        config["architecture"].as_str().unwrap_or("")
    );
    let mut compared = config["config"].clone();
    if let Some(author) = config.get("author") {
        compared["(author)"] = author.clone();
    }
    let history_times = config["history"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|h| h["created"].as_str().unwrap_or("(none)").to_string())
        .collect();
    Image {
        warnings: Vec::new(),
        platform,
        config: compared,
        times: (config["created"].clone(), history_times),
        files,
    }
}

/// Applies one layer, whiteouts included, to the flattened view.
fn apply_layer(files: &mut BTreeMap<String, Entry>, layer: impl Read) {
    let mut tar = tar::Archive::new(layer);
    for entry in tar.entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = entry
            .path()
            .unwrap()
            .to_string_lossy()
            .trim_start_matches("./")
            .trim_end_matches('/')
            .to_string();
        let (dir, name) = match path.rsplit_once('/') {
            Some((dir, name)) => (format!("{dir}/"), name.to_string()),
            None => (String::new(), path.clone()),
        };
        if name == ".wh..wh..opq" {
            files.retain(|p, _| !(p.starts_with(&dir) && p.len() > dir.len()));
            continue;
        }
        if let Some(hidden) = name.strip_prefix(".wh.") {
            let gone = format!("{dir}{hidden}");
            files.retain(|p, _| *p != gone && !p.starts_with(&format!("{gone}/")));
            continue;
        }
        let header = entry.header().clone();
        let kind = header.entry_type();
        let content = if kind.is_file() {
            let mut bytes = Vec::new();
            entry.read_to_end(&mut bytes).unwrap();
            hex::encode(sha2::Sha256::digest(&bytes))
        } else {
            entry
                .link_name()
                .unwrap()
                .map(|l| l.to_string_lossy().into_owned())
                .unwrap_or_default()
        };
        let kind = match kind {
            k if k.is_dir() => 'd',
            k if k.is_symlink() => 'l',
            k if k.is_hard_link() => 'h',
            k if k.is_file() => 'f',
            _ => 'o',
        };
        files.insert(
            path,
            Entry {
                kind,
                mode: header.mode().unwrap() & 0o7777,
                uid: header.uid().unwrap(),
                gid: header.gid().unwrap(),
                content,
            },
        );
    }
}

/// What differs between the built-in frontend's image and ours; empty when
/// they agree.
fn differences(case: &Path) -> Vec<String> {
    let args = case_args(case);
    let wasm = args.iter().any(|a| a.contains("wasi/wasm"));
    let builtin = build(prepared(case, false).path(), &args);
    let ours = build(prepared(case, true).path(), &args);
    if case.join("case.fails").exists() {
        let expected = std::fs::read_to_string(case.join("case.fails")).unwrap();
        return match (builtin, ours) {
            (Err(_), Err(log)) => {
                let error = log
                    .lines()
                    .find(|l| l.starts_with("ERROR:"))
                    .unwrap_or("")
                    .to_string();
                expected
                    .lines()
                    .filter(|l| !l.trim().is_empty() && !error.contains(l.trim()))
                    .map(|l| format!("our error {error:?} lacks {l:?}"))
                    .collect()
            }
            (Ok(_), _) => vec!["the built-in frontend accepted it: the case is wrong".to_string()],
            (Err(_), Ok(_)) => vec!["ours accepted what the built-in frontend refuses".to_string()],
        };
    }
    let builtin = match builtin {
        Ok(images) => images,
        Err(log) => {
            return vec![format!(
                "the built-in frontend failed: the case is wrong\n{log}"
            )]
        }
    };
    let ours = match ours {
        Ok(images) => images,
        Err(log) => return vec![format!("ours failed:\n{log}")],
    };
    // The warnings a case expects (checked on both, so the comparison below
    // cannot pass by reading none).
    if let Ok(expected) = std::fs::read_to_string(case.join("case.warns")) {
        for image in [builtin.first(), ours.first()].into_iter().flatten() {
            for line in expected.lines().filter(|l| !l.trim().is_empty()) {
                if !image.warnings.iter().any(|w| w.contains(line.trim())) {
                    return vec![format!(
                        "no warning containing {line:?} in {:?}",
                        image.warnings
                    )];
                }
            }
        }
    }
    if ours.len() != builtin.len() {
        return vec![format!(
            "built-in made {} images, ours {}",
            builtin.len(),
            ours.len()
        )];
    }
    let mut found = Vec::new();
    for (builtin, ours) in builtin.iter().zip(&ours) {
        found.extend(image_differences(builtin, ours, wasm, &args));
    }
    found
}

fn image_differences(builtin: &Image, ours: &Image, wasm: bool, args: &[String]) -> Vec<String> {
    let mut found = Vec::new();
    if ours.warnings != builtin.warnings {
        found.push(format!(
            "warnings: built-in {:?} ours {:?}",
            builtin.warnings, ours.warnings
        ));
    }
    if !wasm && ours.platform != builtin.platform {
        found.push(format!(
            "platform: built-in {} ours {}",
            builtin.platform, ours.platform
        ));
    }
    if args.iter().any(|a| a.contains("SOURCE_DATE_EPOCH")) && ours.times != builtin.times {
        found.push(format!(
            "times: built-in {:?} ours {:?}",
            builtin.times, ours.times
        ));
    }
    if ours.config != builtin.config {
        found.push(format!(
            "config ({}):\n  built-in {}\n  ours     {}",
            builtin.platform, builtin.config, ours.config
        ));
    }
    for (path, entry) in &builtin.files {
        match ours.files.get(path) {
            None => found.push(format!("{path}: only in the built-in's image {entry:?}")),
            Some(mine) if mine != entry => {
                found.push(format!("{path}: built-in {entry:?} ours {mine:?}"))
            }
            Some(_) => {}
        }
    }
    for (path, entry) in &ours.files {
        if !builtin.files.contains_key(path) {
            found.push(format!("{path}: only in ours {entry:?}"));
        }
    }
    found
}

#[test]
fn every_case_builds_as_with_the_builtin_frontend() {
    require_images();
    let cases = cases();
    assert!(
        cases.len() >= 60,
        "the corpus should hold at least 60 Dockerfiles, has {}",
        cases.len()
    );
    // Only some cases, by folder name, when asked (while writing one).
    let only = std::env::var("FIDELITY_CASES").ok();
    let cases: Vec<PathBuf> = cases
        .into_iter()
        .filter(|c| {
            only.as_deref()
                .is_none_or(|o| o.split(',').any(|n| c.ends_with(n)))
        })
        .collect();

    // An SSH agent for the cases that forward one (`--ssh=default` takes
    // SSH_AUTH_SOCK); set before any build thread starts.
    let agent_dir = tempfile::tempdir().unwrap();
    let socket = agent_dir.path().join("agent.sock");
    let mut agent = std::process::Command::new("ssh-agent")
        .arg("-D")
        .arg("-a")
        .arg(&socket)
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("ssh-agent (openssh-client, from scripts/install-deps)");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !socket.exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "ssh-agent did not start"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    std::env::set_var("SSH_AUTH_SOCK", &socket);

    let next = AtomicUsize::new(0);
    let failures = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..WORKERS {
            scope.spawn(|| {
                while let Some(case) = cases.get(next.fetch_add(1, Ordering::SeqCst)) {
                    let found = differences(case);
                    if !found.is_empty() {
                        let name = case.file_name().unwrap().to_string_lossy().into_owned();
                        failures
                            .lock()
                            .unwrap()
                            .push(format!("{name}:\n  {}", found.join("\n  ")));
                    }
                }
            });
        }
    });
    let _ = agent.kill();
    let _ = agent.wait();
    let failures = failures.into_inner().unwrap();
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
