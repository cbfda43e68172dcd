//! The frontend's own work on one Dockerfile, timed: parse, convert to LLB
//! (with the image config), serialize the definition as `solve` sends it.
//! Base images are answered from memory: the daemon round trip of a real
//! build is BuildKit's and the network's time, not the frontend's.
//!
//! `cargo bench -p wasmpack-frontend --bench convert [-- OPTIONS] [DOCKERFILE]`
//!
//! - no DOCKERFILE (and no `$BENCH_DOCKERFILE`): the generated 500-line
//!   Dockerfile below;
//! - `--write DIR`: write the generated Dockerfile and its build context to
//!   DIR and exit (bench/frontend-convert builds it with BuildKit's
//!   built-in frontend);
//! - `--iterations N` (or `$BENCH_ITERATIONS`, default 2000), after
//!   N/10 warm-up iterations.
//!
//! Prints min, median and p95 per phase and in total, in milliseconds; the
//! last line (`total_ms ...`) is what bench/frontend-convert reads.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use prost::Message;
use wasmpack_frontend::convert::{self, ConvertOptions, ImageResolver};
use wasmpack_frontend::dockerfile::{Dockerfile, Platform};
use wasmpack_frontend::llb::{self, Meta, SourceFile};
use wasmpack_proto::pb;

/// The generated file's length, as the issue's requirement states it.
const LINES: usize = 500;

/// wasmpack/busybox:local's config as the daemon returns it
/// (scripts/busybox-image: `docker import` with PATH and CMD).
const BUSYBOX_CONFIG: &str = r#"{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/bin"],"Cmd":["sh"],"Labels":{"dev.wasmpack.busybox-image":"1"}},"rootfs":{"type":"layers","diff_ids":["sha256:9a3d3e1d1f5e4a4c5b0d2c7e8f6a1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2"]},"history":[{"created":"2026-11-20T10:00:00Z","created_by":"Imported from -","comment":"Imported from -"}]}"#;
const BUSYBOX_DIGEST: &str =
    "sha256:77d64133e2ab4473541badaa956b04085bd40d4265316cd003f5a41d8123d5c1";

/// Answers every base image with busybox's config, at once.
struct InMemory;

impl ImageResolver for InMemory {
    async fn resolve(
        &mut self,
        _reference: &str,
        _platform: &pb::Platform,
    ) -> Result<(String, Vec<u8>), String> {
        Ok((
            BUSYBOX_DIGEST.to_string(),
            BUSYBOX_CONFIG.as_bytes().to_vec(),
        ))
    }
}

/// The conversion awaits only the resolver, which never pends: one poll
/// finishes it, with no runtime in the measurement.
fn block_on<F: Future>(future: F) -> F::Output {
    match pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("the in-memory resolver never pends"),
    }
}

fn options() -> ConvertOptions {
    // What solve.rs passes for `--platform linux/amd64` on a current daemon.
    let mut attrs = BTreeMap::new();
    attrs.insert("local.session".to_string(), "bench-session".to_string());
    attrs.insert("local.sharedkeyhint".to_string(), "context".to_string());
    ConvertOptions {
        build_args: HashMap::new(),
        build_platform: Platform::new("linux", "amd64"),
        target_platform: Platform::new("linux", "amd64"),
        target: None,
        context: Some(llb::source(
            "local://context".to_string(),
            attrs,
            None,
            Meta::named("[internal] load build context"),
        )),
        image_resolve_mode: "default".to_string(),
        stages_on_build_platform: false,
        merge_op: true,
        chmod_symbolic: true,
        cache_namespace: String::new(),
        named_contexts: HashMap::new(),
    }
}

/// One run's durations, phase by phase.
const PHASES: [&str; 3] = ["parse", "convert", "definition"];
type Sample = [Duration; 3];

/// One build's worth of the frontend's own work; returns the definition's
/// encoded size so the work cannot be optimized away.
fn run_once(text: &str, options: &ConvertOptions) -> (Sample, usize, usize) {
    let start = Instant::now();
    let dockerfile = Dockerfile::parse("Dockerfile", text).unwrap();
    let parsed = Instant::now();
    let stage = block_on(convert::convert(&dockerfile, options, &mut InMemory)).unwrap();
    let config = stage.image.to_json();
    let converted = Instant::now();
    let source = SourceFile {
        name: "Dockerfile",
        data: text.as_bytes(),
    };
    let definition = llb::definition(&stage.state, Some(source));
    let ops = definition.def.len();
    let bytes = definition.encode_to_vec().len() + config.len();
    let done = Instant::now();
    (
        [parsed - start, converted - parsed, done - converted],
        ops,
        bytes,
    )
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// min, median, p95 in milliseconds.
fn summary(mut values: Vec<Duration>) -> (f64, f64, f64) {
    values.sort();
    let at = |q: f64| values[((values.len() - 1) as f64 * q).round() as usize];
    (ms(values[0]), ms(at(0.5)), ms(at(0.95)))
}

fn main() {
    // cargo bench appends `--bench`; a harness-less bench ignores it.
    let mut args = std::env::args().skip(1).filter(|a| a != "--bench");
    let mut file: Option<PathBuf> = std::env::var_os("BENCH_DOCKERFILE").map(PathBuf::from);
    let mut iterations: usize = std::env::var("BENCH_ITERATIONS")
        .ok()
        .map_or(2000, |n| n.parse().unwrap());
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--write" => {
                let dir = PathBuf::from(args.next().expect("--write DIR"));
                write_generated(&dir);
                return;
            }
            "--iterations" => iterations = args.next().expect("--iterations N").parse().unwrap(),
            path => file = Some(PathBuf::from(path)),
        }
    }
    let (label, text) = match &file {
        Some(path) => (
            path.display().to_string(),
            std::fs::read_to_string(path).unwrap(),
        ),
        None => ("generated".to_string(), generate().0),
    };

    let options = options();
    let (_, ops, bytes) = run_once(&text, &options);
    for _ in 0..iterations / 10 {
        run_once(&text, &options);
    }
    let samples: Vec<Sample> = (0..iterations)
        .map(|_| run_once(&text, &options).0)
        .collect();

    println!(
        "Dockerfile: {label}, {} lines, {} bytes; LLB: {ops} ops, {bytes} bytes (definition + image config)",
        text.lines().count(),
        text.len()
    );
    println!("iterations: {iterations} after {} warm-up", iterations / 10);
    let print = |name: &str, values: Vec<Duration>| {
        let (min, median, p95) = summary(values);
        println!(
            "{:<14} min={min:.3} median={median:.3} p95={p95:.3}",
            format!("{name}_ms")
        );
    };
    for (i, name) in PHASES.iter().enumerate() {
        print(name, samples.iter().map(|s| s[i]).collect());
    }
    print("total", samples.iter().map(|s| s.iter().sum()).collect());
}

fn write_generated(dir: &Path) {
    let (dockerfile, context) = generate();
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("Dockerfile"), dockerfile).unwrap();
    for (path, content) in context {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }
}

/// How many library stages the generated file has; with the base and
/// runtime stages and the label block that fills it up, 500 lines.
const LIBS: usize = 11;

/// A multi-stage build of the kind real projects have: a base stage, library
/// stages that each copy sources, run shell loops, heredocs and cached and
/// bound mounts, a runtime stage that gathers them with metadata. Every RUN
/// only writes small files, so a real build of it is mostly BuildKit's own
/// work. Returns the Dockerfile and its build context (path, content).
fn generate() -> (String, Vec<(String, String)>) {
    let mut out = String::new();
    let mut context = vec![
        (
            "common/defaults.conf".to_string(),
            "log_level=info\nworkers=2\n".to_string(),
        ),
        (
            "common/motd".to_string(),
            "generated benchmark image\n".to_string(),
        ),
        (
            "scripts/build.sh".to_string(),
            "#!/bin/sh\nset -e\necho \"building $1\"\necho ok > \"/tmp/$1.done\"\n".to_string(),
        ),
    ];
    let libs: Vec<String> = (0..LIBS).map(|i| format!("lib{i}")).collect();

    out.push_str(&format!(
        r#"# Generated by frontend/benches/convert.rs (`--write DIR`): a {LINES}-line
# multi-stage build for bench/frontend-convert.
ARG BASE_IMAGE=wasmpack/busybox:local
ARG VERSION=1.4.2
ARG LIBS="{}"

FROM ${{BASE_IMAGE}} AS base
ARG VERSION
ENV APP_VERSION=${{VERSION}} \
    APP_PREFIX=/opt/app \
    PATH=/usr/local/bin:$PATH \
    LANG=C.UTF-8
SHELL ["/bin/sh", "-eu", "-c"]
WORKDIR /build
RUN mkdir -p /opt/app/bin /opt/app/lib /opt/app/share \
 && echo "base ${{APP_VERSION}}" > /opt/app/VERSION
COPY common/ /build/common/
COPY --chmod=755 scripts/build.sh /usr/local/bin/build-lib
RUN <<EOF
mkdir -p /etc/app
printf 'name=app\nversion=%s\n' "$APP_VERSION" > /etc/app/build.conf
cp /build/common/defaults.conf /etc/app/
EOF
"#,
        libs.join(" ")
    ));

    for (i, lib) in libs.iter().enumerate() {
        let upper = lib.to_uppercase();
        for file in ["a.c", "b.c", "c.c"] {
            context.push((
                format!("src/{lib}/{file}"),
                format!("int {lib}_{}(void) {{ return {i}; }}\n", &file[..1]),
            ));
        }
        context.push((
            format!("src/{lib}/{lib}.h"),
            format!("int {lib}_a(void);\n"),
        ));
        out.push_str(&format!(
            // r##: the header line below holds `"#`.
            r##"
# {lib}: compiled (pretend) from src/{lib}
FROM base AS {lib}
ARG VERSION
ARG {upper}_FLAGS="-O2 -fPIC -DLIB={i}"
ARG JOBS=2
ENV {upper}_HOME=/opt/{lib} \
    {upper}_VERSION=${{VERSION}}.{i}
LABEL org.example.stage="{lib}"
WORKDIR /src/{lib}
COPY src/{lib}/ ./
RUN set -e; \
    for f in *.c; do \
      printf 'obj %s %s\n' "$f" "${upper}_FLAGS" > "${{f%.c}}.o"; \
    done; \
    echo "{lib} ${{{upper}_VERSION}} jobs=${{JOBS}}" > BUILD_INFO
RUN --mount=type=cache,target=/root/.cache/{lib},id={lib}-cache \
    echo "cache for {lib}" > /root/.cache/{lib}/stamp \
 && cp /root/.cache/{lib}/stamp ./cache-stamp
RUN --mount=type=bind,source=src/{lib},target=/mnt/src \
    ls /mnt/src > sources.txt
RUN <<EOF
set -e
mkdir -p "${upper}_HOME/include" "${upper}_HOME/lib"
echo "#define {upper}_VERSION \"${upper}_VERSION\"" > "${upper}_HOME/include/{lib}.h"
cat *.o > "${upper}_HOME/lib/lib{lib}.a"
EOF
COPY <<EOT /opt/{lib}/lib/pkgconfig/{lib}.pc
prefix=/opt/{lib}
Name: {lib}
Description: generated library {i}
Libs: -l{lib}
EOT
RUN build-lib {lib} && test -s BUILD_INFO
"##
        ));
        // Some libraries build on the one before, as real ones do; the
        // rest stay independent so BuildKit can run them in parallel.
        if i % 3 != 0 {
            let prev = &libs[i - 1];
            out.push_str(&format!(
                "COPY --from={prev} /opt/{prev}/include/ /opt/{prev}/include/\nRUN test -f /opt/{prev}/include/{prev}.h\n"
            ));
        } else {
            out.push_str(&format!(
                "USER app\nRUN id -u > /tmp/{lib}-user\nUSER root\n"
            ));
        }
    }

    out.push_str(
        r#"
# The runtime image: the libraries' outputs and the service's metadata.
FROM base AS runtime
ARG VERSION
"#,
    );
    for lib in &libs {
        out.push_str(&format!(
            "COPY --from={lib} /opt/{lib}/ /opt/{lib}/\nCOPY --from={lib} --chown=app:app /src/{lib}/BUILD_INFO /opt/app/share/{lib}.info\n"
        ));
    }
    let tail = r#"RUN --mount=type=tmpfs,target=/tmp/scratch \
    ls /opt > /tmp/scratch/contents \
 && cp /tmp/scratch/contents /opt/app/share/contents
WORKDIR /srv
RUN chown app:app /srv && mkdir -p /srv/data && chown app:app /srv/data
USER app
ENV HOME=/home/app
EXPOSE 8080/tcp 8443/tcp 9090/udp
VOLUME ["/srv/data"]
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=3s --start-period=5s --retries=3 \
  CMD ["/bin/sh", "-c", "test -f /opt/app/VERSION"]
ENTRYPOINT ["/bin/sh", "-c"]
CMD ["cat /opt/app/VERSION"]
"#;
    // The label block fills the file to exactly LINES lines.
    let so_far = out.lines().count() + tail.lines().count();
    let labels = LINES
        .checked_sub(so_far + 1)
        .expect("the generated stages fit in LINES");
    out.push_str("LABEL org.opencontainers.image.title=\"bench-app\" \\\n");
    for n in 0..labels {
        let end = if n + 1 == labels { "\n" } else { " \\\n" };
        out.push_str(&format!(
            "      org.example.component.{n}=\"component-{n} ${{VERSION}}\"{end}"
        ));
    }
    out.push_str(tail);
    assert_eq!(out.lines().count(), LINES);
    (out, context)
}
