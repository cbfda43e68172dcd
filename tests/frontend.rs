//! End-to-end tests of the BuildKit frontend: `docker buildx build` on the
//! real Docker engine (scripts/docker-engine), with the frontend image from
//! scripts/frontend-image and the offline Rust builder image from
//! scripts/rust-builder-image, both of which scripts/test makes first.

mod support;

use std::path::Path;

use sha2::Digest;
use support::engine::{
    buildx, buildx_linux, context, docker, export_rootfs, image_exists, inspect, remove, repo,
    require_images, stderr, unique_tag, BUSYBOX_IMAGE, RUST_IMAGE,
};

#[test]
fn rust_hello_builds_into_one_validated_wasm_layer() {
    let hello = repo().join("examples/rust-hello");
    let tag = unique_tag("rust-hello");
    let out = buildx(&hello, &["-t", &tag, "--load"]);
    assert!(out.status.success(), "{}", stderr(&out));

    assert_eq!(inspect(&tag, "{{.Os}}/{{.Architecture}}"), "wasi/wasm");
    assert_eq!(
        inspect(&tag, "{{len .RootFS.Layers}}"),
        "1",
        "the wasm stage is squashed into one layer"
    );
    assert_eq!(
        inspect(&tag, "{{json .Config.Entrypoint}}"),
        r#"["/hello.wasm"]"#
    );
    assert_eq!(inspect(&tag, "{{.Config.WorkingDir}}"), "/");

    // The OCI export carries the same config, and wasmpack reads it.
    let oci = tempfile::tempdir().unwrap();
    let archive = oci.path().join("image.tar");
    let dest = format!("type=oci,dest={}", archive.display());
    let out = buildx(&hello, &["-o", &dest]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report = support::json(&support::wasmpack(
        &["inspect", archive.to_str().unwrap(), "--json"],
        oci.path(),
        &[],
    ));
    assert_eq!(report["platform"], "wasi/wasm", "{report}");
    assert_eq!(report["entrypoint"], serde_json::json!(["/hello.wasm"]));
    assert_eq!(report["layers"].as_array().map(Vec::len), Some(1));
    assert_eq!(report["wasm"]["wasi"], "preview1");
    assert_eq!(report["wasm"]["has_start"], true);

    // And the module in it runs: argv and env reach it, its exit code
    // comes back.
    let cache = oci.path().join("cache");
    let run = |args: &[&str]| {
        let mut all = vec!["run", archive.to_str().unwrap()];
        all.extend_from_slice(args);
        support::wasmpack(
            &all,
            oci.path(),
            &[("WASMPACK_CACHE_DIR", cache.to_str().unwrap())],
        )
    };
    let out = run(&["-e", "GREETING=built by BuildKit", "--", "wasm"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.starts_with("Hello, wasm!") && stdout.contains("built by BuildKit\n"),
        "{stdout}"
    );
    assert_eq!(run(&["-e", "EXIT_CODE=3"]).status.code(), Some(3));
    remove(&tag);
}

#[test]
fn a_second_build_is_fully_cached() {
    let hello = repo().join("examples/rust-hello");
    let first = buildx(&hello, &[]);
    assert!(first.status.success(), "{}", stderr(&first));
    let second = buildx(&hello, &[]);
    let log = stderr(&second);
    assert!(second.status.success(), "{log}");
    // Every build step the Dockerfile names (`[stage n/m] …`) is CACHED.
    let steps: Vec<&str> = log
        .lines()
        .filter_map(|l| l.strip_prefix('#'))
        .filter(|l| {
            l.contains(" [")
                && (l.contains(" RUN ") || l.contains(" COPY ") || l.contains(" WORKDIR "))
        })
        .map(|l| l.split_whitespace().next().unwrap_or(""))
        .collect();
    assert!(
        steps.len() >= 4,
        "expected the walkthrough's steps in the log:\n{log}"
    );
    for id in steps {
        assert!(
            log.contains(&format!("#{id} CACHED")),
            "step #{id} was not cached:\n{log}"
        );
    }
    assert!(!log.contains("Compiling hello"), "cargo ran again:\n{log}");
}

#[test]
fn strip_option_removes_custom_sections_and_keeps_the_module_valid() {
    let hello = repo().join("examples/rust-hello");
    let plain = export_rootfs(&hello, &[]);
    let stripped = export_rootfs(&hello, &["--build-arg", "WASMPACK_STRIP=1"]);
    let size = |dir: &Path| std::fs::metadata(dir.join("hello.wasm")).unwrap().len();
    assert!(
        size(stripped.path()) < size(plain.path()),
        "{} !< {}",
        size(stripped.path()),
        size(plain.path())
    );
    // Still valid wasm: wasmpack build validates its input.
    let out = support::wasmpack(&["build", "hello.wasm", "-o", "img"], stripped.path(), &[]);
    assert!(out.status.success(), "{}", stderr(&out));
}

/// Builds `dockerfile` expecting failure: the error names the line and says
/// `expected`, and no image is left under the tag.
fn assert_fails(dockerfile: &str, files: &[(&str, &[u8])], extra: &[&str], expected: &[&str]) {
    let dir = context(dockerfile, files);
    let tag = unique_tag("failing");
    let mut args = vec!["-t", &tag, "--load"];
    args.extend_from_slice(extra);
    let out = buildx(dir.path(), &args);
    let log = stderr(&out);
    assert!(!out.status.success(), "the build should fail:\n{log}");
    let error = log
        .lines()
        .find(|l| l.starts_with("ERROR:"))
        .unwrap_or_else(|| panic!("no ERROR line:\n{log}"));
    for text in expected {
        assert!(error.contains(text), "{error:?} should contain {text:?}");
    }
    assert!(!image_exists(&tag), "a failed build left the image {tag}");
}

// Line numbers count the syntax line that `context` puts first.

#[test]
fn a_syntax_error_names_its_line() {
    assert_fails(
        "FROM scratch\nRUN <<EOT\necho never closed\n",
        &[],
        &[],
        &["Dockerfile:3", "EOT"],
    );
}

#[test]
fn an_unknown_instruction_names_its_line_and_a_suggestion() {
    assert_fails(
        "FROM scratch\nCOPPY a /a\n",
        &[],
        &[],
        &["Dockerfile:3", "COPPY", "COPY"],
    );
}

#[test]
fn a_wasm_final_stage_must_start_from_scratch() {
    let dockerfile = format!("FROM {RUST_IMAGE}\nENTRYPOINT [\"/hello.wasm\"]\n");
    assert_fails(&dockerfile, &[], &[], &["Dockerfile:2", "FROM scratch"]);
}

#[test]
fn an_entrypoint_that_is_not_wasm_is_refused() {
    assert_fails(
        "FROM scratch\nENTRYPOINT [\"/app.wasm\"]\nCOPY app.wasm /app.wasm\n",
        &[("app.wasm", b"#!/bin/sh\necho not wasm\n")],
        &[],
        &["Dockerfile:3", "ENTRYPOINT /app.wasm", "not a wasm binary"],
    );
}

#[test]
fn an_invalid_module_is_refused_with_the_reason() {
    // Magic and version, then a section id that does not exist.
    let bad: &[u8] = b"\0asm\x01\0\0\0\x7f\x01\0";
    assert_fails(
        "FROM scratch\nCOPY app.wasm /app.wasm\nENTRYPOINT [\"/app.wasm\"]\n",
        &[("app.wasm", bad)],
        &[],
        &["Dockerfile:4", "invalid wasm"],
    );
}

#[test]
fn a_missing_entrypoint_file_is_refused() {
    assert_fails(
        "FROM scratch\nENTRYPOINT [\"/hello.wasm\"]\nCOPY other.txt /other.txt\n",
        &[("other.txt", b"x")],
        &[],
        &["Dockerfile:3", "/hello.wasm", "no such file"],
    );
}

#[test]
fn aot_option_adds_one_precompiled_layer_per_target_and_the_runner_takes_the_hosts() {
    let hello = repo().join("examples/rust-hello");
    let aot = ["--build-arg", "WASMPACK_AOT=x86_64,aarch64"];
    let triples = ["x86_64-unknown-linux-gnu", "aarch64-unknown-linux-gnu"];
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("image.tar");
    let dest = format!("type=oci,dest={}", archive.display());
    let out = buildx(&hello, &[&aot[..], &["-o", &dest]].concat());
    let log = stderr(&out);
    assert!(out.status.success(), "{log}");
    // Precompilation runs as BuildKit build steps, one per target.
    for triple in triples {
        assert!(
            log.contains(&format!("[wasmpack] precompile /hello.wasm for {triple}")),
            "{log}"
        );
    }

    // The module's layer, then one layer per target in the order asked,
    // described by manifest annotations keyed by layer index.
    let report = support::json(&support::wasmpack(
        &["inspect", archive.to_str().unwrap(), "--json"],
        dir.path(),
        &[],
    ));
    assert_eq!(
        report["layers"].as_array().map(Vec::len),
        Some(3),
        "{report}"
    );
    let rootfs = export_rootfs(&hello, &aot);
    let module = std::fs::read(rootfs.path().join("hello.wasm")).unwrap();
    let module_digest = format!("sha256:{}", hex::encode(sha2::Sha256::digest(&module)));
    for (i, triple) in triples.iter().enumerate() {
        let key = |suffix: &str| format!("dev.wasmpack.aot.layer.{}.{suffix}", i + 1);
        assert_eq!(report["annotations"][key("target")], *triple, "{report}");
        assert_eq!(
            report["annotations"][key("wasm-digest")],
            module_digest,
            "{report}"
        );
        assert_eq!(
            report["annotations"][key("wasmtime-version")],
            "48.0.8",
            "{report}"
        );
        // Beside the artifact, its facts, for runtimes that see only files.
        let artifact = std::fs::read(rootfs.path().join(format!("hello.{triple}.cwasm"))).unwrap();
        let facts: serde_json::Value = serde_json::from_slice(
            &std::fs::read(rootfs.path().join(format!("hello.{triple}.cwasm.json"))).unwrap(),
        )
        .unwrap();
        let artifact_digest = format!("sha256:{}", hex::encode(sha2::Sha256::digest(&artifact)));
        assert_eq!(facts["dev.wasmpack.aot.artifact-digest"], artifact_digest);
        assert_eq!(facts["dev.wasmpack.aot.target"], *triple);
    }

    // Trusted, the runner takes this host's layer; untrusted, it compiles.
    let cache = dir.path().join("cache");
    let run = |args: &[&str]| {
        let mut all = vec!["run", "-v", "--no-cache", archive.to_str().unwrap()];
        all.extend_from_slice(args);
        support::wasmpack(
            &all,
            dir.path(),
            &[("WASMPACK_CACHE_DIR", cache.to_str().unwrap())],
        )
    };
    let trusted = run(&["--trust-aot"]);
    assert!(
        String::from_utf8_lossy(&trusted.stdout).starts_with("Hello, world!"),
        "{}",
        stderr(&trusted)
    );
    let said = stderr(&trusted);
    assert!(
        said.contains("using the image's AOT layer") && said.contains("x86_64-unknown-linux-gnu"),
        "{said}"
    );
    let untrusted = run(&[]);
    assert!(untrusted.status.success(), "{}", stderr(&untrusted));
    assert!(
        stderr(&untrusted).contains("not trusted"),
        "{}",
        stderr(&untrusted)
    );

    // Loaded into the engine: the same three layers, the precompile steps
    // served from BuildKit's cache.
    let tag = unique_tag("rust-hello-aot");
    let out = buildx(&hello, &[&aot[..], &["-t", &tag, "--load"]].concat());
    let log = stderr(&out);
    assert!(out.status.success(), "{log}");
    assert_eq!(inspect(&tag, "{{len .RootFS.Layers}}"), "3");
    for triple in triples {
        let step = log
            .lines()
            .find(|l| l.ends_with(&format!("[wasmpack] precompile /hello.wasm for {triple}")))
            .and_then(|l| l.split_whitespace().next())
            .unwrap_or_else(|| panic!("no precompile step for {triple}:\n{log}"));
        assert!(
            log.contains(&format!("{step} CACHED")),
            "{triple} was precompiled again:\n{log}"
        );
    }
    remove(&tag);
}

#[test]
fn an_unknown_aot_target_is_refused_by_name() {
    assert_fails(
        "FROM scratch\nCOPY a.wasm /a.wasm\nENTRYPOINT [\"/a.wasm\"]\n",
        &[("a.wasm", b"\0asm\x01\0\0\0")],
        &["--build-arg", "WASMPACK_AOT=x86_64,vax"],
        &["WASMPACK_AOT", "vax"],
    );
}

#[test]
fn linux_targets_build_like_the_builtin_frontend() {
    let body = format!(
        "FROM {RUST_IMAGE} AS base\nARG GREETING=hello\nENV WHO=world\nWORKDIR /app\nRUN echo \"$GREETING $WHO\" > greeting\nLABEL org.example.kind=demo\nCMD [\"cat\", \"/app/greeting\"]\n"
    );
    let ours = context(&body, &[]);
    let builtin = tempfile::tempdir().unwrap();
    std::fs::write(builtin.path().join("Dockerfile"), &body).unwrap();
    let (ours_tag, builtin_tag) = (unique_tag("linux-ours"), unique_tag("linux-builtin"));
    for (dir, tag) in [(ours.path(), &ours_tag), (builtin.path(), &builtin_tag)] {
        let out = buildx_linux(dir, &["-t", tag, "--load"]);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    for format in [
        "{{.Os}}/{{.Architecture}}",
        "{{json .Config.Env}}",
        "{{json .Config.Cmd}}",
        "{{.Config.WorkingDir}}",
        "{{json .Config.Labels}}",
    ] {
        assert_eq!(
            inspect(&ours_tag, format),
            inspect(&builtin_tag, format),
            "{format}"
        );
    }
    let run = docker(&["run", "--rm", &ours_tag], &repo());
    assert_eq!(
        String::from_utf8_lossy(&run.stdout),
        "hello world\n",
        "{}",
        stderr(&run)
    );
    remove(&ours_tag);
    remove(&builtin_tag);
}

/// Exported files: sorted relative paths, each with the sha256 of its bytes
/// (or `-> target` for a symlink).
type Files = Vec<(String, String)>;

/// The files a linux/amd64 build of `dir` exports.
fn exported_files(dir: &Path) -> Files {
    exported_files_with(dir, &[])
}

/// The same, with more `docker buildx build` arguments.
fn exported_files_with(dir: &Path, extra: &[&str]) -> Files {
    let out_dir = tempfile::tempdir().unwrap();
    let dest = format!("type=local,dest={}", out_dir.path().display());
    let out = buildx_linux(dir, &[&["-o", &dest], extra].concat());
    assert!(out.status.success(), "{}", stderr(&out));
    let mut files = Vec::new();
    let mut pending = vec![out_dir.path().to_path_buf()];
    while let Some(folder) = pending.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() && !path.is_symlink() {
                pending.push(path);
            } else {
                let digest = match path.is_symlink() {
                    true => format!("-> {}", std::fs::read_link(&path).unwrap().display()),
                    false => hex::encode(sha2::Sha256::digest(std::fs::read(&path).unwrap())),
                };
                files.push((
                    path.strip_prefix(out_dir.path())
                        .unwrap()
                        .to_string_lossy()
                        .into_owned(),
                    digest,
                ));
            }
        }
    }
    files.sort();
    files
}

/// The exported files of `body` built by our frontend and by the built-in
/// one, each from a context holding only the Dockerfile.
fn both_frontends(body: &str, extra: &[&str]) -> (Files, Files) {
    require_images();
    let ours = context(body, &[]);
    let builtin = tempfile::tempdir().unwrap();
    std::fs::write(builtin.path().join("Dockerfile"), body).unwrap();
    (
        exported_files_with(ours.path(), extra),
        exported_files_with(builtin.path(), extra),
    )
}

#[test]
fn dockerignore_files_filter_the_context_as_with_the_builtin_frontend() {
    require_images();
    let files: [(&str, &[u8]); 5] = [
        ("keep.txt", b"k"),
        ("secret.txt", b"s"),
        ("a.log", b"a"),
        ("important.log", b"i"),
        (
            ".dockerignore",
            b"# build noise\nsecret.txt\n\n  **/*.log  \n!important.log\n/Dockerfile*\n",
        ),
    ];
    let body = "FROM scratch\nCOPY . /ctx/\n";
    // A Dockerfile's own ignore file wins over the context's.
    for own_ignore in [None, Some(&b"keep.txt\n"[..])] {
        let ours = context(body, &files);
        let builtin = tempfile::tempdir().unwrap();
        std::fs::write(builtin.path().join("Dockerfile"), body).unwrap();
        for dir in [ours.path(), builtin.path()] {
            std::fs::create_dir(dir.join("sub")).unwrap();
            std::fs::write(dir.join("sub/b.log"), b"b").unwrap();
            for (name, bytes) in files {
                std::fs::write(dir.join(name), bytes).unwrap();
            }
            if let Some(bytes) = own_ignore {
                std::fs::write(dir.join("Dockerfile.dockerignore"), bytes).unwrap();
            }
        }
        // Paths only: the Dockerfiles differ by our syntax line.
        let paths = |dir: &Path| {
            exported_files(dir)
                .into_iter()
                .map(|(path, _)| path)
                .collect::<Vec<_>>()
        };
        let ours_files = paths(ours.path());
        assert_eq!(
            ours_files,
            paths(builtin.path()),
            "own ignore file: {own_ignore:?}"
        );
        let expected: &[&str] = match own_ignore {
            None => &["ctx/.dockerignore", "ctx/important.log", "ctx/keep.txt"],
            Some(_) => &[
                "ctx/.dockerignore",
                "ctx/Dockerfile",
                "ctx/Dockerfile.dockerignore",
                "ctx/a.log",
                "ctx/important.log",
                "ctx/secret.txt",
                "ctx/sub/b.log",
            ],
        };
        assert_eq!(ours_files, expected);
    }
}

/// Serves `files` over HTTP/1.0 on 127.0.0.1 from a thread, for at most
/// `requests` requests; returns the port.
fn serve_http(files: Vec<(&'static str, Vec<u8>)>, requests: usize) -> u16 {
    use std::io::{BufRead, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(requests) {
            let Ok(mut stream) = stream else { continue };
            let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(10)));
            let mut reader = std::io::BufReader::new(stream.try_clone().unwrap());
            let mut request_line = String::new();
            let _ = reader.read_line(&mut request_line);
            // The headers up to the blank line.
            let mut header = String::new();
            while reader.read_line(&mut header).is_ok_and(|n| n > 2) {
                header.clear();
            }
            let path = request_line.split_whitespace().nth(1).unwrap_or("");
            let response = match files.iter().find(|(name, _)| *name == path) {
                Some((_, body)) => [
                    format!("HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n", body.len())
                        .into_bytes(),
                    body.clone(),
                ]
                .concat(),
                None => b"HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_vec(),
            };
            let _ = stream.write_all(&response);
        }
    });
    port
}

/// A git repository with one commit on `main`, served by `git daemon` on
/// 127.0.0.1 until the returned child is killed.
fn serve_git(root: &Path) -> (std::process::Child, u16) {
    let repo = root.join("repo.git");
    let git = |args: &[&str]| {
        let out = std::process::Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
            .args(args)
            .current_dir(&repo)
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}: {}", stderr(&out));
    };
    std::fs::create_dir_all(repo.join("sub")).unwrap();
    git(&["init", "-q", "-b", "main"]);
    std::fs::write(repo.join("README"), "from git\n").unwrap();
    std::fs::write(repo.join("sub/inner.txt"), "inside\n").unwrap();
    git(&["add", "."]);
    git(&["commit", "-q", "-m", "one"]);
    let port = support::free_port();
    let child = std::process::Command::new("git")
        .args([
            "daemon",
            "--reuseaddr",
            "--export-all",
            "--listen=127.0.0.1",
        ])
        .arg(format!("--port={port}"))
        .arg(format!("--base-path={}", root.display()))
        .arg(root)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    support::wait_for_port(port, "git daemon", std::time::Duration::from_secs(10));
    (child, port)
}

#[test]
fn add_downloads_and_clones_as_the_builtin_frontend_does() {
    let text = b"hello over http\n".to_vec();
    let checksum = format!("sha256:{}", hex::encode(sha2::Sha256::digest(&text)));
    // A remote archive is not unpacked: ADD keeps it as the file it is.
    let archive = b"\x1f\x8b\x08\x00not really".to_vec();
    let http = serve_http(
        vec![
            ("/files/hello.txt", text),
            ("/dl/archive.tar.gz", archive),
            ("/", b"index".to_vec()),
        ],
        40,
    );
    let git_root = tempfile::tempdir().unwrap();
    let (mut daemon, git) = serve_git(git_root.path());
    let body = format!(
        "FROM scratch\n\
         ADD http://127.0.0.1:{http}/files/hello.txt /downloads/\n\
         ADD --checksum={checksum} http://127.0.0.1:{http}/files/hello.txt /checked.txt\n\
         ADD http://127.0.0.1:{http}/dl/archive.tar.gz http://127.0.0.1:{http}/ /downloads/\n\
         ADD git://127.0.0.1:{git}/repo.git#main /src/\n\
         ADD git://127.0.0.1:{git}/repo.git#main:sub /sub/\n"
    );
    let (ours, builtin) = both_frontends(&body, &[]);
    assert_eq!(ours, builtin);
    let paths: Vec<&str> = ours.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(
        paths,
        [
            "checked.txt",
            "downloads/__unnamed__",
            "downloads/archive.tar.gz",
            "downloads/hello.txt",
            "src/README",
            "src/sub/inner.txt",
            "sub/inner.txt"
        ]
    );

    // The same servers behind named contexts.
    let repo = format!("repo=git://127.0.0.1:{git}/repo.git#main");
    let page = format!("page=http://127.0.0.1:{http}/files/hello.txt");
    let body = "FROM scratch\nCOPY --from=repo / /repo/\nCOPY --from=page / /page/\n";
    let (ours_named, builtin_named) =
        both_frontends(body, &["--build-context", &repo, "--build-context", &page]);
    let _ = daemon.kill();
    let _ = daemon.wait();
    assert_eq!(ours_named, builtin_named);
    let paths: Vec<&str> = ours_named.iter().map(|(p, _)| p.as_str()).collect();
    assert!(
        paths.contains(&"repo/README") && paths.iter().any(|p| p.starts_with("page/")),
        "{paths:?}"
    );

    // A wrong checksum fails the build, with ours as with the built-in.
    let wrong = format!(
        "FROM scratch\nADD --checksum=sha256:{} http://127.0.0.1:{http}/files/hello.txt /x\n",
        "0".repeat(64)
    );
    let dir = context(&wrong, &[]);
    let out = buildx_linux(dir.path(), &[]);
    assert!(
        !out.status.success() && stderr(&out).contains("digest mismatch"),
        "{}",
        stderr(&out)
    );
}

/// COPY `--parents` and `--exclude` are labs features in BuildKit's syntax
/// 1.7, which the built-in frontend here refuses, so what they copy is
/// checked against what BuildKit's documentation says they do.
#[test]
fn copy_parents_and_exclude_select_what_they_say() {
    let body = "FROM scratch\n\
        COPY --exclude=**/*.log --exclude=b/c/deep.txt src/ /excluded/\n\
        COPY --parents src/a/keep.txt src/b/c/deep.txt /parents/\n\
        COPY --parents ./src/./b/c/ /pivot/\n\
        COPY --parents --exclude=**/*.log src/*/keep.txt /globbed/\n";
    let files: [(&str, &[u8]); 4] = [
        ("src/a/keep.txt", b"keep"),
        ("src/a/skip.log", b"log"),
        ("src/b/c/deep.txt", b"deep"),
        ("src/b/c/skip.log", b"log"),
    ];
    let dir = context(body, &[]);
    for (path, bytes) in files {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }
    require_images();
    let paths: Vec<String> = exported_files(dir.path())
        .into_iter()
        .map(|(path, _)| path)
        .collect();
    assert_eq!(
        paths,
        [
            "excluded/a/keep.txt",
            "globbed/src/a/keep.txt",
            "parents/src/a/keep.txt",
            "parents/src/b/c/deep.txt",
            "pivot/b/c/deep.txt",
            "pivot/b/c/skip.log",
        ]
    );
}

/// RUN --security=insecure runs its step with every capability once the
/// build grants security.insecure (the test engine may: scripts/docker-engine),
/// and BuildKit refuses the build without the grant. The built-in frontend of
/// this engine has the flag only in its labs channel, so nothing to compare.
#[test]
fn run_security_insecure_gets_every_capability_when_granted() {
    let body = format!(
        "FROM {BUSYBOX_IMAGE}\n\
         RUN --security=insecure grep CapEff /proc/self/status > /insecure\n\
         RUN --security=sandbox grep CapEff /proc/self/status > /sandbox\n"
    );
    require_images();
    let dir = context(&body, &[]);
    let out_dir = tempfile::tempdir().unwrap();
    let dest = format!("type=local,dest={}", out_dir.path().display());
    let out = buildx_linux(dir.path(), &["-o", &dest, "--allow", "security.insecure"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let effective = |name: &str| {
        let line = std::fs::read_to_string(out_dir.path().join(name)).unwrap();
        let hex = line
            .trim()
            .strip_prefix("CapEff:")
            .unwrap_or_else(|| panic!("{name}: {line:?}"));
        u64::from_str_radix(hex.trim(), 16).unwrap()
    };
    const CAP_SYS_ADMIN: u64 = 1 << 21;
    assert_ne!(
        effective("insecure") & CAP_SYS_ADMIN,
        0,
        "the insecure step lacks CAP_SYS_ADMIN"
    );
    assert_eq!(
        effective("sandbox") & CAP_SYS_ADMIN,
        0,
        "the sandboxed step has CAP_SYS_ADMIN"
    );

    let refused = buildx_linux(dir.path(), &["-o", &dest]);
    assert!(!refused.status.success(), "built without the grant");
    assert!(
        stderr(&refused).contains("security.insecure is not allowed"),
        "{}",
        stderr(&refused)
    );
}
