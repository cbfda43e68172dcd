//! One build, start to end: read the Dockerfile through BuildKit, convert
//! it, apply the wasm rules when the target is a wasm platform, solve,
//! validate the module, and return the result with its image config.

use std::collections::{BTreeMap, HashMap};

use wasmpack_proto::pb;

use crate::bridge::{Bridge, BridgeError, Options};
use crate::config::{BuildConfig, ConfigError, OPT_AOT, OPT_STRIP};
use crate::convert::{self, ConvertError, ConvertOptions, ImageResolver, NamedContext};
use crate::dockerfile::{self, Dockerfile, Platform};
use crate::llb::{self, Meta, SourceFile, State};
use crate::wasm_stage::{self, WasmStageError};

#[derive(Debug, thiserror::Error)]
pub enum SolveError {
    #[error(transparent)]
    Bridge(#[from] BridgeError),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Dockerfile(#[from] dockerfile::Error),
    #[error(transparent)]
    Convert(#[from] ConvertError),
    #[error(transparent)]
    WasmStage(#[from] WasmStageError),
    #[error("--build-context {0}: {1}")]
    NamedContext(String, String),
    #[error("{file} is not UTF-8 text")]
    NotText { file: String },
    #[error("the precompile step for {target} left unreadable facts: {reason}")]
    AotFacts { target: String, reason: String },
}

/// Looks images up through the daemon, with the build's resolve mode.
struct DaemonImages<'a> {
    bridge: &'a mut Bridge,
    resolve_mode: &'a str,
}

impl ImageResolver for DaemonImages<'_> {
    async fn resolve(
        &mut self,
        reference: &str,
        platform: &pb::Platform,
    ) -> Result<(String, Vec<u8>), String> {
        self.bridge
            .resolve_image_config(reference, platform, self.resolve_mode)
            .await
            .map_err(|e| e.to_string())
    }
}

/// What a local source is read for; it names the step as BuildKit's
/// frontend does.
#[derive(Clone, Copy)]
enum Reading {
    Files,
    IgnoreFile,
}

/// A local source from the client's session (`docker buildx build`'s
/// context or Dockerfile folder), for daemons that pass no inputs: only
/// the `follow` paths when some are given, without what `excludes` matches.
fn local_source(
    name: &str,
    session_id: &str,
    reading: Reading,
    follow: &[&str],
    excludes: &[String],
) -> State {
    let mut attrs = BTreeMap::new();
    attrs.insert("local.session".to_string(), session_id.to_string());
    attrs.insert("local.sharedkeyhint".to_string(), name.to_string());
    if !follow.is_empty() {
        attrs.insert(
            "local.followpaths".to_string(),
            serde_json::json!(follow).to_string(),
        );
    }
    if !excludes.is_empty() {
        attrs.insert(
            "local.excludepatterns".to_string(),
            serde_json::json!(excludes).to_string(),
        );
    }
    let progress = match (name, reading) {
        ("dockerfile", _) => "[internal] load build definition".to_string(),
        ("context", Reading::Files) => "[internal] load build context".to_string(),
        ("context", Reading::IgnoreFile) => "[internal] load .dockerignore".to_string(),
        (name, Reading::Files) => format!("[context {name}] load from client"),
        (name, Reading::IgnoreFile) => format!("[context {name}] load .dockerignore"),
    };
    Some(llb::source(
        format!("local://{name}"),
        attrs,
        None,
        Meta::named(progress),
    ))
}

/// A local folder from the session, without what its `.dockerignore` (or
/// the Dockerfile's own ignore file, `own_ignore`, for the main context)
/// excludes.
async fn filtered_local(
    bridge: &mut Bridge,
    session_id: &str,
    name: &str,
    own_ignore: Option<Vec<u8>>,
) -> Result<State, SolveError> {
    let ignore = match own_ignore {
        Some(bytes) => Some(bytes),
        None => {
            let ignore_only = local_source(
                name,
                session_id,
                Reading::IgnoreFile,
                &[".dockerignore"],
                &[],
            );
            let reference = bridge.solve(llb::definition(&ignore_only, None)).await?;
            bridge
                .read_file(&reference, ".dockerignore", None)
                .await
                .ok()
        }
    };
    let excludes = ignore
        .map(|bytes| dockerfile::ignore::parse(&String::from_utf8_lossy(&bytes)))
        .unwrap_or_default();
    Ok(local_source(
        name,
        session_id,
        Reading::Files,
        &[],
        &excludes,
    ))
}

pub async fn build(bridge: &mut Bridge, options: &Options) -> Result<(), SolveError> {
    let mut inputs = bridge.inputs().await?;
    let config = BuildConfig::from_options(options, &bridge.worker_platforms)?;
    let file_name = &config.file_name;

    // The Dockerfile, and the ignore file beside it that applies to it
    // alone: from the forwarding frontend's input, or from the session.
    let own_ignore = format!("{file_name}.dockerignore");
    let dockerfile_state = match inputs.remove("dockerfile").and_then(llb::import) {
        Some(output) => Some(output),
        None => local_source(
            "dockerfile",
            &config.session_id,
            Reading::Files,
            &[file_name, &own_ignore],
            &[],
        ),
    };
    let reference = bridge
        .solve(llb::definition(&dockerfile_state, None))
        .await?;
    let bytes = bridge.read_file(&reference, file_name, None).await?;
    // As BuildKit's frontend does, a file that cannot be read is no file.
    let own_ignore = bridge.read_file(&reference, &own_ignore, None).await.ok();
    let text = String::from_utf8(bytes).map_err(|_| SolveError::NotText {
        file: file_name.clone(),
    })?;
    let dockerfile = Dockerfile::parse(file_name, &text)?;
    if !dockerfile.warnings.is_empty() {
        let dockerfile_definition = llb::definition(&dockerfile_state, None);
        let source = pb::SourceInfo {
            filename: file_name.clone(),
            data: text.as_bytes().to_vec(),
            definition: Some(dockerfile_definition.clone()),
            language: "Dockerfile".to_string(),
        };
        let digest = llb::root_digest(&dockerfile_definition).unwrap_or_default();
        for warning in &dockerfile.warnings {
            // A daemon without the warning channel still builds.
            if let Err(e) = bridge.warn(digest.clone(), warning, source.clone()).await {
                eprintln!(
                    "warning: {}:{}: {} ({e})",
                    file_name, warning.line, warning.short
                );
            }
        }
    }

    // An imported context comes already filtered by whoever made it.
    let context = match inputs.remove("context").and_then(llb::import) {
        Some(output) => Some(output),
        None => filtered_local(bridge, &config.session_id, "context", own_ignore).await?,
    };
    let mut named_contexts = HashMap::new();
    for (key, value) in &config.named_contexts {
        let named = match value.split_once(':') {
            Some(("docker-image", reference)) => NamedContext::Image(reference.trim_start_matches("//").to_string()),
            Some(("local", name)) => NamedContext::Files(filtered_local(bridge, &config.session_id, name, None).await?),
            Some(("input", name)) => match inputs.remove(name).and_then(llb::import) {
                Some(output) => NamedContext::Files(Some(output)),
                None => return Err(SolveError::NamedContext(key.to_string(), format!("no frontend input named {name:?}"))),
            },
            _ => match convert::remote_context(key, value) {
                Some(state) => NamedContext::Files(state),
                None => {
                    return Err(SolveError::NamedContext(
                        key.to_string(),
                        format!("{value:?}: expected docker-image://, a folder, a git repository or an http(s) URL"),
                    ))
                }
            },
        };
        named_contexts.insert(key.to_string(), named);
    }
    let convert_options = ConvertOptions {
        build_args: config.build_args.clone(),
        build_platform: config.build_platform.clone(),
        target_platform: config.build_platform.clone(),
        target: config.target.clone(),
        context,
        image_resolve_mode: config.image_resolve_mode.clone(),
        stages_on_build_platform: false,
        merge_op: bridge.caps.llb("mergeop"),
        chmod_symbolic: bridge.caps.llb("file.copy.modestring"),
        cache_namespace: config.cache_namespace.clone(),
        named_contexts,
    };
    let build = PlatformBuild {
        config: &config,
        text: &text,
        dockerfile: &dockerfile,
    };
    // One platform: one image, its config under the plain keys.
    if let [platform] = config.platforms.as_slice() {
        let built = build.run(bridge, &convert_options, platform).await?;
        let mut metadata = built.annotations("");
        metadata.insert("containerimage.config".to_string(), built.config);
        if let Some(base) = built.base_config {
            metadata.insert("containerimage.base.config".to_string(), base);
        }
        bridge
            .return_result(built.reference, built.definition, metadata)
            .await?;
        return Ok(());
    }
    // Several platforms: refs and configs keyed by platform, and the list
    // that tells the exporter to make an image index of them.
    let mut refs = Vec::new();
    let mut metadata = BTreeMap::new();
    let mut listed = Vec::new();
    for platform in &config.platforms {
        let id = platform.specifier();
        let built = build.run(bridge, &convert_options, platform).await?;
        metadata.extend(built.annotations(&format!("[{id}]")));
        metadata.insert(format!("containerimage.config/{id}"), built.config);
        if let Some(base) = built.base_config {
            metadata.insert(format!("containerimage.base.config/{id}"), base);
        }
        listed.push(serde_json::json!({"id": id, "platform": pb_platform_json(platform)}));
        refs.push((id, built.reference, built.definition));
    }
    let platforms = serde_json::json!({ "platforms": listed });
    metadata.insert(
        "refs.platforms".to_string(),
        platforms.to_string().into_bytes(),
    );
    bridge.return_results(refs, metadata).await?;
    Ok(())
}

/// The OCI platform object the exporter reads in `refs.platforms`.
fn pb_platform_json(platform: &Platform) -> serde_json::Value {
    let mut json = serde_json::json!({"os": platform.os, "architecture": platform.architecture});
    if let Some(variant) = &platform.variant {
        json["variant"] = serde_json::json!(variant);
    }
    json
}

/// What every platform's build shares.
struct PlatformBuild<'a> {
    config: &'a BuildConfig,
    text: &'a str,
    dockerfile: &'a Dockerfile,
}

/// One platform's image: its solved filesystem and config.
struct PlatformImage {
    reference: String,
    definition: pb::Definition,
    config: Vec<u8>,
    base_config: Option<Vec<u8>>,
    /// Manifest annotations (`key`, value) of the AOT layers.
    manifest_annotations: Vec<(String, String)>,
}

impl PlatformImage {
    /// The annotations as exporter metadata; `scope` is `""` for a single
    /// image or `[os/arch]` for one of several.
    fn annotations(&self, scope: &str) -> BTreeMap<String, Vec<u8>> {
        self.manifest_annotations
            .iter()
            .map(|(key, value)| {
                (
                    format!("annotation-manifest{scope}.{key}"),
                    value.clone().into_bytes(),
                )
            })
            .collect()
    }
}

impl PlatformBuild<'_> {
    async fn run(
        &self,
        bridge: &mut Bridge,
        shared: &ConvertOptions,
        target_platform: &Platform,
    ) -> Result<PlatformImage, SolveError> {
        // Short names for the shared parts: the steps below read as one build.
        let (config, text, dockerfile) = (self.config, self.text, self.dockerfile);
        let (file_name, build_platform, resolve_mode) = (
            config.file_name.as_str(),
            &config.build_platform,
            config.image_resolve_mode.as_str(),
        );
        let wasm = wasm_stage::is_wasm_platform(target_platform);
        let convert_options = ConvertOptions {
            target_platform: target_platform.clone(),
            stages_on_build_platform: wasm,
            ..shared.clone()
        };
        let mut images = DaemonImages {
            bridge,
            resolve_mode,
        };
        let mut stage = convert::convert(dockerfile, &convert_options, &mut images).await?;

        let entry = match wasm {
            true => Some(wasm_stage::entrypoint_of(&stage, file_name)?),
            false => None,
        };
        let mut state = stage.state.clone();
        if let Some(entry) = &entry {
            if config.strip {
                let own_image = config.own_image(OPT_STRIP.1)?;
                state =
                    wasm_stage::strip_step(&state, entry, own_image, build_platform, resolve_mode);
            }
            state = wasm_stage::squash(&state, &stage.platform);
            // The stage's own steps no longer have layers of their own.
            for step in &mut stage.image.history {
                step.empty_layer = true;
            }
            stage.image.add_history(
                "wasmpack: the stage's filesystem as one layer".to_string(),
                false,
                None,
            );
        }

        let source = SourceFile {
            name: file_name,
            data: text.as_bytes(),
        };
        let definition = llb::definition(&state, Some(source));
        let reference = bridge.solve(definition.clone()).await?;
        if let Some(entry) = &entry {
            let facts = wasm_stage::validate(bridge, &reference, entry, file_name).await?;
            if !facts.has_start {
                eprintln!(
                    "warning: {} exports no _start (or wasi:cli/run): runtimes may not be able to run it",
                    entry.path
                );
            }
        }
        let mut manifest_annotations = Vec::new();
        let (reference, definition) = match &entry {
            Some(entry) if !config.aot_targets.is_empty() => {
                let own_image = config.own_image(OPT_AOT.1)?;
                let steps: Vec<State> = config
                    .aot_targets
                    .iter()
                    .map(|triple| {
                        wasm_stage::precompile_step(
                            &state,
                            entry,
                            triple,
                            own_image,
                            build_platform,
                            resolve_mode,
                        )
                    })
                    .collect();
                // Solving the gathered facts runs the steps, in parallel; the
                // annotations then describe what those steps actually made.
                let facts = wasm_stage::gather_facts(&steps, &stage.platform);
                let facts_ref = bridge.solve(llb::definition(&facts, None)).await?;
                for (i, (triple, step)) in config.aot_targets.iter().zip(&steps).enumerate() {
                    let json = bridge
                        .read_file(&facts_ref, &format!("/{i}.json"), None)
                        .await?;
                    let facts =
                        wasmpack_aot::parse_facts(&json).map_err(|e| SolveError::AotFacts {
                            target: triple.clone(),
                            reason: e.to_string(),
                        })?;
                    // Layer 0 is the module's; AOT layers follow in order.
                    for (key, value) in &facts {
                        let key = wasmpack_aot::manifest_annotation(i + 1, key);
                        manifest_annotations.push((key, value.clone()));
                    }
                    state = wasm_stage::add_artifact(
                        &state,
                        step,
                        entry,
                        triple,
                        config.source_date_epoch,
                        &stage.platform,
                    );
                    let artifact = wasmpack_aot::artifact_path(&entry.path, triple);
                    stage.image.add_history(
                        format!("wasmpack: {triple} precompiled artifact {artifact}"),
                        false,
                        None,
                    );
                }
                let definition = llb::definition(&state, Some(source));
                (bridge.solve(definition.clone()).await?, definition)
            }
            _ => (reference, definition),
        };
        Ok(PlatformImage {
            reference,
            definition,
            config: stage.image.to_json(),
            base_config: stage.base_config,
            manifest_annotations,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_sources_are_named_as_buildkits_frontend_names_them() {
        let cases = [
            (
                "dockerfile",
                Reading::Files,
                "[internal] load build definition",
            ),
            ("context", Reading::Files, "[internal] load build context"),
            (
                "context",
                Reading::IgnoreFile,
                "[internal] load .dockerignore",
            ),
            (
                "shared",
                Reading::Files,
                "[context shared] load from client",
            ),
            (
                "shared",
                Reading::IgnoreFile,
                "[context shared] load .dockerignore",
            ),
        ];
        for (name, reading, expected) in cases {
            let definition =
                llb::definition(&local_source(name, "session", reading, &[], &[]), None);
            let names: Vec<&String> = definition
                .metadata
                .values()
                .filter_map(|meta| meta.description.get("llb.customname"))
                .collect();
            assert_eq!(names, [expected], "{name}");
        }
    }
}
