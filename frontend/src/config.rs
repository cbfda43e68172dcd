//! One build's configuration, read once from the options BuildKit passes
//! (as BuildKit's `frontend/dockerui/config.go` reads its own): which
//! Dockerfile, target and platforms, the build args and named contexts, and
//! wasmpack's own options (strip, AOT targets), checked against each other
//! before any work starts.

use std::collections::{BTreeMap, HashMap};

use wasmpack_proto::pb;

use crate::bridge::Options;
use crate::convert::parse_platform;
use crate::dockerfile::Platform;
use crate::wasm_stage;

/// Build options of wasmpack's own, as `--opt NAME=…` (buildctl) or
/// `--build-arg BUILD_ARG=…` (docker buildx).
pub const OPT_STRIP: (&str, &str) = ("wasm-strip", "WASMPACK_STRIP");
pub const OPT_AOT: (&str, &str) = ("wasm-aot", "WASMPACK_AOT");

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid platform {0:?}: expected os/arch[/variant], as in wasi/wasm")]
    BadPlatform(String),
    #[error("--build-arg {build_arg}={value}: expected true or false")]
    BadFlag {
        build_arg: &'static str,
        value: String,
    },
    #[error("--build-arg {0} needs the wasm target platform (--platform wasi/wasm)")]
    NeedsWasm(&'static str),
    #[error("--build-arg {0} needs the frontend's own image reference, which this BuildKit did not pass (the `source` option)")]
    NeedsSource(&'static str),
    #[error("--build-arg WASMPACK_AOT: {0}")]
    AotTarget(String),
}

/// What one build is asked for.
#[derive(Debug)]
pub struct BuildConfig {
    /// `filename`: the Dockerfile's name in its folder.
    pub file_name: String,
    /// `target`: the stage to build; the last one when `None`.
    pub target: Option<String>,
    /// The first worker's platform (linux/amd64 without workers): where
    /// build stages run.
    pub build_platform: Platform,
    /// `platform`: one image per platform, in the order asked; the build
    /// platform when none is asked, so never empty.
    pub platforms: Vec<Platform>,
    /// `build-arg:NAME` values.
    pub build_args: HashMap<String, String>,
    /// `context:NAME` values as given (`docker-image://…`, `local:…`,
    /// `input:…`, a URL): what they stand for is found through BuildKit.
    pub named_contexts: BTreeMap<String, String>,
    /// `image-resolve-mode`: default, pull or local.
    pub image_resolve_mode: String,
    /// `BUILDKIT_CACHE_MOUNT_NS`: prefixes cache mount ids.
    pub cache_namespace: String,
    /// `WASMPACK_STRIP`: a build step strips the module's custom sections.
    pub strip: bool,
    /// `WASMPACK_AOT`: target triples to precompile for.
    pub aot_targets: Vec<String>,
    /// Timestamps for the files the frontend adds: `SOURCE_DATE_EPOCH`, else 0.
    pub source_date_epoch: i64,
    /// The client's session, which local sources are read through.
    pub session_id: String,
    /// `source`, made a full name; `None` when not passed or not a name.
    own_image: Option<String>,
}

impl BuildConfig {
    /// Reads `options`; `workers` are the daemon's worker platforms.
    pub fn from_options(
        options: &Options,
        workers: &[pb::Platform],
    ) -> Result<BuildConfig, ConfigError> {
        let strip = flag(options, OPT_STRIP)?;
        let aot_targets = aot_targets(options)?;

        let build_platform = workers
            .first()
            .map(|p| Platform {
                os: p.os.clone(),
                architecture: p.architecture.clone(),
                variant: (!p.variant.is_empty()).then(|| p.variant.clone()),
            })
            .unwrap_or_else(|| Platform::new("linux", "amd64"));
        let platforms = match options.get("platform").unwrap_or("") {
            "" => vec![build_platform.clone()],
            list => list
                .split(',')
                .map(|text| {
                    parse_platform(text.trim())
                        .ok_or_else(|| ConfigError::BadPlatform(text.to_string()))
                })
                .collect::<Result<Vec<_>, _>>()?,
        };
        for platform in &platforms {
            let wasm = wasm_stage::is_wasm_platform(platform);
            if strip && !wasm {
                return Err(ConfigError::NeedsWasm(OPT_STRIP.1));
            }
            if !aot_targets.is_empty() && !wasm {
                return Err(ConfigError::NeedsWasm(OPT_AOT.1));
            }
        }

        let build_args = options.build_args();
        let source_date_epoch = build_args
            .get("SOURCE_DATE_EPOCH")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        Ok(BuildConfig {
            file_name: options.get("filename").unwrap_or("Dockerfile").to_string(),
            target: options
                .get("target")
                .filter(|t| !t.is_empty())
                .map(str::to_string),
            build_platform,
            platforms,
            named_contexts: options
                .opts
                .iter()
                .filter_map(|(k, v)| Some((k.strip_prefix("context:")?.to_string(), v.clone())))
                .collect(),
            image_resolve_mode: options
                .get("image-resolve-mode")
                .unwrap_or("default")
                .to_string(),
            cache_namespace: options
                .get("build-arg:BUILDKIT_CACHE_MOUNT_NS")
                .unwrap_or("")
                .to_string(),
            strip,
            aot_targets,
            source_date_epoch,
            session_id: options.session_id.clone(),
            own_image: own_image(options),
            build_args,
        })
    }

    /// The frontend's own image, for the build steps it runs itself;
    /// `build_arg` names the option that needs it, in the error.
    pub fn own_image(&self, build_arg: &'static str) -> Result<&str, ConfigError> {
        self.own_image
            .as_deref()
            .ok_or(ConfigError::NeedsSource(build_arg))
    }
}

fn flag(options: &Options, (opt, build_arg): (&str, &'static str)) -> Result<bool, ConfigError> {
    match options.wasmpack_option(opt, build_arg) {
        None | Some("") | Some("0") | Some("false") => Ok(false),
        Some("1") | Some("true") => Ok(true),
        Some(other) => Err(ConfigError::BadFlag {
            build_arg,
            value: other.to_string(),
        }),
    }
}

/// The frontend's own image as written on the syntax line
/// (`wasmpack/frontend:dev`), made a full name for the source op.
fn own_image(options: &Options) -> Option<String> {
    let written = options.get("source").filter(|s| !s.is_empty())?;
    let (name, _) = wasmpack_oci::name::normalize_name(written).ok()?;
    Some(name)
}

/// `WASMPACK_AOT=x86_64,aarch64`: target triples, each once, in the order
/// given (so the frontend knows which layer holds which).
fn aot_targets(options: &Options) -> Result<Vec<String>, ConfigError> {
    let mut triples: Vec<String> = Vec::new();
    for name in options
        .wasmpack_option(OPT_AOT.0, OPT_AOT.1)
        .unwrap_or("")
        .split(',')
    {
        let name = name.trim();
        if name.is_empty() {
            continue;
        }
        let triple = wasmpack_aot::target_triple(name);
        wasmpack_aot::engine(Some(&triple)).map_err(|e| ConfigError::AotTarget(e.to_string()))?;
        if !triples.contains(&triple) {
            triples.push(triple);
        }
    }
    Ok(triples)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(opts: &[(&str, &str)]) -> Options {
        Options {
            opts: opts
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            session_id: "session".to_string(),
        }
    }

    fn workers(specs: &[(&str, &str, Option<&str>)]) -> Vec<pb::Platform> {
        specs
            .iter()
            .map(|(os, arch, variant)| crate::llb::platform(os, arch, *variant))
            .collect()
    }

    fn wasi() -> Platform {
        Platform::new("wasi", "wasm")
    }

    #[test]
    fn defaults_build_the_dockerfile_for_the_first_workers_platform() {
        let config = BuildConfig::from_options(
            &options(&[]),
            &workers(&[("linux", "arm64", Some("v8")), ("linux", "amd64", None)]),
        )
        .unwrap();
        let arm = Platform {
            variant: Some("v8".to_string()),
            ..Platform::new("linux", "arm64")
        };
        assert_eq!(config.file_name, "Dockerfile");
        assert_eq!(config.target, None);
        assert_eq!(config.build_platform, arm);
        assert_eq!(config.platforms, [arm]);
        assert_eq!(config.image_resolve_mode, "default");
        assert_eq!(
            (
                config.strip,
                config.aot_targets.len(),
                config.source_date_epoch
            ),
            (false, 0, 0)
        );
        assert_eq!(config.session_id, "session");
        assert!(matches!(
            config.own_image(OPT_STRIP.1),
            Err(ConfigError::NeedsSource("WASMPACK_STRIP"))
        ));
        let without_workers = BuildConfig::from_options(&options(&[("target", "")]), &[]).unwrap();
        assert_eq!(without_workers.platforms, [Platform::new("linux", "amd64")]);
        assert_eq!(without_workers.target, None);
    }

    #[test]
    fn options_are_read_once_into_their_fields() {
        let opts = options(&[
            ("filename", "build/Dockerfile.wasm"),
            ("target", "app"),
            ("platform", "wasi/wasm, wasip2/wasm"),
            ("image-resolve-mode", "local"),
            ("build-arg:GREETING", "a=b"),
            ("build-arg:SOURCE_DATE_EPOCH", "1700000000"),
            ("build-arg:BUILDKIT_CACHE_MOUNT_NS", "ns"),
            ("context:base", "docker-image://alpine:3"),
            ("context:src", "local:src"),
            ("wasm-strip", "true"),
            ("source", "wasmpack/frontend:dev"),
        ]);
        let config = BuildConfig::from_options(&opts, &[]).unwrap();
        assert_eq!(config.file_name, "build/Dockerfile.wasm");
        assert_eq!(config.target.as_deref(), Some("app"));
        assert_eq!(config.platforms, [wasi(), Platform::new("wasip2", "wasm")]);
        assert_eq!(config.image_resolve_mode, "local");
        assert_eq!(
            config.build_args.get("GREETING").map(String::as_str),
            Some("a=b")
        );
        assert_eq!(config.source_date_epoch, 1_700_000_000);
        assert_eq!(config.cache_namespace, "ns");
        let contexts: Vec<(&str, &str)> = config
            .named_contexts
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            contexts,
            [("base", "docker-image://alpine:3"), ("src", "local:src")]
        );
        assert!(config.strip);
        assert_eq!(
            config.own_image(OPT_STRIP.1).unwrap(),
            "docker.io/wasmpack/frontend:dev"
        );
    }

    #[test]
    fn wasmpack_options_come_as_opts_or_build_args() {
        for (key, value, strip) in [
            ("wasm-strip", "1", true),
            ("build-arg:WASMPACK_STRIP", "true", true),
            ("build-arg:WASMPACK_STRIP", "0", false),
            ("wasm-strip", "", false),
        ] {
            let config = BuildConfig::from_options(
                &options(&[("platform", "wasi/wasm"), (key, value)]),
                &[],
            )
            .unwrap();
            assert_eq!(config.strip, strip, "{key}={value}");
        }
        let opts = options(&[
            ("platform", "wasi/wasm"),
            (
                "build-arg:WASMPACK_AOT",
                "x86_64, aarch64,x86_64-unknown-linux-gnu,",
            ),
        ]);
        let config = BuildConfig::from_options(&opts, &[]).unwrap();
        assert_eq!(
            config.aot_targets,
            ["x86_64-unknown-linux-gnu", "aarch64-unknown-linux-gnu"]
        );
    }

    #[test]
    fn inconsistent_options_are_refused() {
        let err = |opts: &[(&str, &str)]| {
            BuildConfig::from_options(&options(opts), &[])
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            err(&[("platform", "wasi/wasm,linux")]),
            "invalid platform \"linux\": expected os/arch[/variant], as in wasi/wasm"
        );
        assert_eq!(
            err(&[("build-arg:WASMPACK_STRIP", "yes")]),
            "--build-arg WASMPACK_STRIP=yes: expected true or false"
        );
        assert_eq!(
            err(&[("build-arg:WASMPACK_STRIP", "1")]),
            "--build-arg WASMPACK_STRIP needs the wasm target platform (--platform wasi/wasm)"
        );
        assert_eq!(
            err(&[
                ("platform", "wasi/wasm,linux/amd64"),
                ("wasm-aot", "x86_64")
            ]),
            "--build-arg WASMPACK_AOT needs the wasm target platform (--platform wasi/wasm)"
        );
        assert!(err(&[("wasm-aot", "pdp11")])
            .starts_with("--build-arg WASMPACK_AOT: AOT target \"pdp11\""));
    }
}
