//! Typed Dockerfile stages to LLB and image configs, following BuildKit's
//! own Dockerfile frontend (`dockerfile2llb`), split by feature as it is:
//! this file holds the options, the stage graph (only the stages the target
//! needs are converted) and the dispatch of each instruction; [`source`]
//! where a stage's or a `--from`'s filesystem comes from (FROM images, named
//! contexts, URLs, git), [`metadata`] the instructions that edit the image
//! config (and WORKDIR's mkdir), [`run`] RUN as an exec on the stage's
//! filesystem with its mounts in [`runmount`], [`secrets`] and [`ssh`], and
//! [`copy`] COPY and ADD as file ops (a merge for `--link`).

mod copy;
mod metadata;
mod run;
mod runmount;
mod secrets;
mod source;
mod ssh;
#[cfg(test)]
mod test_support;

use std::collections::HashMap;

use wasmpack_proto::pb;

use crate::dockerfile::{
    self, AutomaticArgs, Dockerfile, GlobalScope, Instruction, LocatedInstruction, Platform,
    Variables,
};
use crate::image::ImageConfig;
use crate::llb::{self, Meta, State};

use source::named_context;
pub use source::remote_context;

#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    #[error(transparent)]
    Dockerfile(#[from] dockerfile::Error),
    #[error("{file}:{line}: {message}")]
    At {
        file: String,
        line: usize,
        message: String,
    },
    #[error("target stage {0:?} is not in the Dockerfile")]
    NoSuchTarget(String),
}

/// Looks up base images' configs (the daemon, through the gateway).
#[allow(async_fn_in_trait)] // used with concrete types only, never boxed
pub trait ImageResolver {
    /// The manifest digest and config JSON of `reference` for `platform`.
    async fn resolve(
        &mut self,
        reference: &str,
        platform: &pb::Platform,
    ) -> Result<(String, Vec<u8>), String>;
}

#[derive(Clone)]
pub struct ConvertOptions {
    pub build_args: HashMap<String, String>,
    pub build_platform: Platform,
    pub target_platform: Platform,
    /// `--target`; the last stage when `None`.
    pub target: Option<String>,
    /// The build context (COPY without `--from`).
    pub context: State,
    /// `image.resolvemode` for image sources: default, pull or local.
    pub image_resolve_mode: String,
    /// Build stages run on the build platform unless they ask otherwise;
    /// set when the target is a wasm platform, whose images cannot run.
    pub stages_on_build_platform: bool,
    /// The daemon has MergeOp, so `COPY --link` stays independent of the
    /// layers below it.
    pub merge_op: bool,
    /// The daemon understands symbolic `--chmod` (`u+x`).
    pub chmod_symbolic: bool,
    /// `BUILDKIT_CACHE_MOUNT_NS`: prefixes cache mount ids.
    pub cache_namespace: String,
    /// By name as given (`alpine`, `base`, `docker.io/library/alpine`).
    pub named_contexts: HashMap<String, NamedContext>,
}

/// A `--build-context NAME=…`: stands in for the image or stage of that name
/// (FROM, `COPY --from`, `RUN --mount=from=`), as with BuildKit's frontend.
#[derive(Clone, Debug)]
pub enum NamedContext {
    /// `docker-image://REF`: that image, config and all.
    Image(String),
    /// A folder (from the client or a frontend input), with an empty config.
    Files(State),
}

/// A converted stage: its filesystem, its image config, and what the wasm
/// rules need to know about it.
#[derive(Clone, Debug)]
pub struct ConvertedStage {
    pub index: usize,
    /// Line of its FROM.
    pub line: usize,
    pub state: State,
    pub image: ImageConfig,
    pub platform: Platform,
    /// Built from `FROM scratch`, directly or through earlier stages.
    pub from_scratch: bool,
    /// The config of the image the stage is built on, directly or through
    /// earlier stages, as read: the exporter keeps that image's history
    /// times when SOURCE_DATE_EPOCH clamps the new ones.
    pub base_config: Option<Vec<u8>>,
    /// Where ENTRYPOINT and CMD were last set in this stage.
    pub entrypoint_line: Option<usize>,
    pub cmd_line: Option<usize>,
    vars: Variables,
}

pub async fn convert(
    dockerfile: &Dockerfile,
    options: &ConvertOptions,
    resolver: &mut impl ImageResolver,
) -> Result<ConvertedStage, ConvertError> {
    let automatic = AutomaticArgs {
        build_platform: options.build_platform.clone(),
        target_platform: options.target_platform.clone(),
    };
    let scope = dockerfile.global_scope(&options.build_args, &automatic)?;
    let target = match &options.target {
        Some(name) => stage_index(dockerfile, &name.to_lowercase(), dockerfile.stages.len())
            .ok_or_else(|| ConvertError::NoSuchTarget(name.clone()))?,
        None => dockerfile.stages.len() - 1,
    };
    let needed = needed_stages(dockerfile, &scope, target, options)?;

    let mut converter = Converter {
        dockerfile,
        options,
        scope: &scope,
        stages: vec![None; dockerfile.stages.len()],
        target,
    };
    for index in (0..=target).filter(|i| needed[*i]) {
        let stage = converter.stage(index, resolver).await?;
        converter.stages[index] = Some(stage);
    }
    converter.stages[target]
        .take()
        .ok_or(ConvertError::NoSuchTarget(target.to_string()))
}

/// A stage named `name` (lower case) or numbered so, before `before`. Of
/// two stages with one name the later counts, as in BuildKit.
fn stage_index(dockerfile: &Dockerfile, name: &str, before: usize) -> Option<usize> {
    let stages = &dockerfile.stages[..before];
    stages
        .iter()
        .rposition(|s| s.name.as_deref() == Some(name))
        .or_else(|| name.parse::<usize>().ok().filter(|i| *i < before))
}

/// Which stages the target depends on, through FROM, `COPY --from` and
/// `RUN --mount=from=`.
fn needed_stages(
    dockerfile: &Dockerfile,
    scope: &GlobalScope,
    target: usize,
    options: &ConvertOptions,
) -> Result<Vec<bool>, ConvertError> {
    let mut needed = vec![false; dockerfile.stages.len()];
    needed[target] = true;
    for index in (0..=target).rev() {
        let stage = &dockerfile.stages[index];
        // A stage a named context replaces needs nothing of its own.
        let replaced = stage
            .name
            .as_deref()
            .is_some_and(|n| named_context(options, n).is_some());
        if !needed[index] || replaced {
            continue;
        }
        let base = scope.resolve_base(stage)?;
        if let Some(i) = stage_index(dockerfile, &base.image.to_lowercase(), index) {
            needed[i] = true;
        }
        for located in &stage.instructions {
            let froms: Vec<&str> = match &located.instruction {
                Instruction::Copy(copy) => copy.from.iter().map(String::as_str).collect(),
                Instruction::Run(run) => run
                    .mounts
                    .iter()
                    .filter_map(|m| m.from.as_deref())
                    .collect(),
                _ => Vec::new(),
            };
            for from in froms {
                if let Some(i) = stage_index(dockerfile, &from.to_lowercase(), index) {
                    needed[i] = true;
                }
            }
        }
    }
    Ok(needed)
}

/// `text` read by the workspace's one platform parser, as the Dockerfile's
/// platform type.
pub fn parse_platform(text: &str) -> Option<Platform> {
    let platform = wasmpack_oci::platform::parse_platform(text).ok()?;
    Some(Platform {
        os: platform.os().to_string(),
        architecture: platform.architecture().to_string(),
        variant: platform.variant().clone(),
    })
}

pub fn to_pb(platform: &Platform) -> pb::Platform {
    llb::platform(
        &platform.os,
        &platform.architecture,
        platform.variant.as_deref(),
    )
}

struct Converter<'a> {
    dockerfile: &'a Dockerfile,
    options: &'a ConvertOptions,
    scope: &'a GlobalScope,
    stages: Vec<Option<ConvertedStage>>,
    target: usize,
}

/// What one instruction of a stage is converted with.
struct Step<'s> {
    located: &'s LocatedInstruction,
    /// `[name 2/5] RUN …`: BuildKit's progress naming.
    progress: String,
}

impl Converter<'_> {
    fn error(&self, line: usize, message: impl Into<String>) -> ConvertError {
        ConvertError::At {
            file: self.dockerfile.file_name.clone(),
            line,
            message: message.into(),
        }
    }

    async fn stage(
        &mut self,
        index: usize,
        resolver: &mut impl ImageResolver,
    ) -> Result<ConvertedStage, ConvertError> {
        let stage = &self.dockerfile.stages[index];
        let base = self.scope.resolve_base(stage)?;
        let parent = stage_index(self.dockerfile, &base.image.to_lowercase(), index)
            .and_then(|i| self.stages[i].clone());
        let platform = match &base.platform {
            Some(text) => parse_platform(text).ok_or_else(|| {
                self.error(
                    stage.line,
                    format!("invalid platform {text:?}: expected os/arch[/variant]"),
                )
            })?,
            None => match &parent {
                Some(parent) => parent.platform.clone(),
                None if self.options.stages_on_build_platform && index != self.target => {
                    self.options.build_platform.clone()
                }
                None => self.options.target_platform.clone(),
            },
        };

        let label = stage
            .name
            .clone()
            .unwrap_or_else(|| format!("stage-{index}"));
        let steps = std::cell::Cell::new(stage.instructions.len() + 1);
        let progress = |n: usize, text: &str| format!("[{label} {n}/{}] {text}", steps.get());
        // A named context of the stage's own name replaces the whole stage.
        if let Some(named) = stage
            .name
            .as_deref()
            .and_then(|n| named_context(self.options, n))
        {
            return self
                .context_stage(
                    index,
                    stage,
                    named,
                    platform,
                    &progress(1, &stage.source),
                    resolver,
                )
                .await;
        }
        let mut converted = if let Some(parent) = parent {
            ConvertedStage {
                index,
                line: stage.line,
                entrypoint_line: None,
                cmd_line: None,
                ..parent
            }
        } else if let Some(named) = named_context(self.options, &base.image) {
            self.context_stage(
                index,
                stage,
                named,
                platform,
                &progress(1, &stage.source),
                resolver,
            )
            .await?
        } else if base.image == "scratch" {
            ConvertedStage {
                index,
                line: stage.line,
                state: None,
                image: ImageConfig::scratch(
                    &platform.os,
                    &platform.architecture,
                    platform.variant.as_deref().unwrap_or(""),
                ),
                from_scratch: true,
                base_config: None,
                entrypoint_line: None,
                cmd_line: None,
                vars: Variables::new(),
                platform,
            }
        } else {
            self.image_stage(
                index,
                stage,
                &base.image,
                platform,
                &progress(1, &stage.source),
                resolver,
            )
            .await?
        };

        // The base's ONBUILD triggers run first and are not passed on, as
        // BuildKit runs them.
        let triggers = std::mem::take(&mut converted.image.config.on_build)
            .iter()
            .map(|text| {
                let instruction = dockerfile::instructions::parse_trigger(
                    &self.dockerfile.file_name,
                    stage.line,
                    text,
                    self.dockerfile.directives.escape,
                )?;
                Ok(LocatedInstruction {
                    line: stage.line,
                    end_line: stage.line,
                    source: format!("ONBUILD {text}"),
                    instruction,
                })
            })
            .collect::<Result<Vec<_>, ConvertError>>()?;
        steps.set(steps.get() + triggers.len());
        let mut expander = self
            .scope
            .stage_expander(std::mem::take(&mut converted.vars));
        for (n, located) in triggers.iter().chain(&stage.instructions).enumerate() {
            let instruction = expander.expand(located)?;
            let step = Step {
                located,
                progress: progress(n + 2, &located.source),
            };
            self.instruction(&mut converted, instruction, expander.vars(), &step)?;
        }
        converted.vars = expander.into_vars();
        Ok(converted)
    }

    /// One instruction, by kind; BuildKit's `dispatch`.
    fn instruction(
        &self,
        stage: &mut ConvertedStage,
        instruction: Instruction,
        vars: &Variables,
        step: &Step<'_>,
    ) -> Result<(), ConvertError> {
        match instruction {
            Instruction::Workdir(path) => self.workdir(stage, &path, step),
            Instruction::Run(run) => self.run(stage, run, vars, step)?,
            Instruction::Copy(copy) => self.copy(stage, copy, false, step)?,
            Instruction::Add(copy) => self.copy(stage, copy, true, step)?,
            other => self.metadata(stage, other, step)?,
        }
        Ok(())
    }

    fn meta(&self, step: &Step<'_>) -> Meta {
        Meta::at(
            step.progress.clone(),
            step.located.line,
            step.located.end_line,
        )
    }
}

/// `path` made absolute against `dir` and cleaned of `.` and `..`.
fn absolute_in(dir: &str, path: &str) -> String {
    match path.starts_with('/') {
        true => crate::path::clean(path),
        false => crate::path::clean(&format!("/{dir}/{path}")),
    }
}

/// `--chown=user[:group]`: numbers by id, names looked up in the
/// destination's /etc/passwd and /etc/group by BuildKit.
fn chown_opt(text: &str) -> pb::ChownOpt {
    let user_opt = |part: &str| pb::UserOpt {
        user: Some(match part.parse::<u32>() {
            Ok(id) => pb::user_opt::User::ById(id),
            Err(_) => pb::user_opt::User::ByName(pb::NamedUserOpt {
                name: part.to_string(),
                input: 0,
            }),
        }),
    };
    let (user, group) = match text.split_once(':') {
        Some((user, group)) => (user, Some(group)),
        None => (text, None),
    };
    pb::ChownOpt {
        user: Some(user_opt(user)),
        group: group.map(user_opt),
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::*;
    use super::*;

    const WALKTHROUGH: &str = include_str!("../../testdata/rust-to-wasm.Dockerfile");

    #[test]
    fn the_walkthrough_builds_on_the_build_platform_and_ends_in_a_wasm_scratch_stage() {
        let stage = convert_text(WALKTHROUGH, &options()).unwrap();
        assert!(stage.from_scratch);
        assert_eq!(stage.platform, Platform::new("wasi", "wasm"));
        assert_eq!(stage.image.os, "wasi");
        assert_eq!(stage.image.architecture, "wasm");
        assert!(stage.image.config.entrypoint.as_ref().unwrap()[0].ends_with(".wasm"));
        assert!(stage.entrypoint_line.is_some());
        let runs = execs(&stage.state);
        assert!(!runs.is_empty());
        for (exec, platform) in &runs {
            assert_eq!(platform.as_ref().unwrap().os, "linux", "{exec:?}");
            assert!(exec
                .meta
                .as_ref()
                .unwrap()
                .env
                .iter()
                .any(|e| e.starts_with("CARGO_HOME=")));
        }
        let ids: Vec<_> = ops(&stage.state)
            .into_iter()
            .filter_map(|op| match op.op {
                Some(pb::op::Op::Source(s)) => Some(s.identifier),
                _ => None,
            })
            .collect();
        assert!(
            ids.iter()
                .any(|id| id.starts_with("docker-image://docker.io/library/rust:1.64@sha256:1111")),
            "{ids:?}"
        );
    }

    #[test]
    fn unneeded_stages_are_not_converted() {
        // Stage `broken` would fail to resolve; the target never needs it.
        let text = "FROM nosuch/image AS broken\nRUN false\nFROM rust:1 AS ok\nRUN true\n";
        assert!(convert_text(text, &options()).is_ok());
        let err = convert_text(
            text,
            &ConvertOptions {
                target: Some("broken".into()),
                ..options()
            },
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Dockerfile:1: FROM nosuch/image: docker.io/nosuch/image:latest: not found"
        );
        let err = convert_text(
            text,
            &ConvertOptions {
                target: Some("nope".into()),
                ..options()
            },
        )
        .unwrap_err();
        assert!(matches!(err, ConvertError::NoSuchTarget(_)));
    }

    #[test]
    fn errors_name_the_line() {
        let err = convert_text("FROM scratch\nCOPY a b c\n", &options())
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "Dockerfile:2: COPY with more than one source needs a destination folder ending in /"
        );
        let err = convert_text(
            "FROM rust:1\n\nRUN --mount=type=tmpfs,target=/x,size=lots true\n",
            &options(),
        )
        .unwrap_err()
        .to_string();
        assert_eq!(err, "Dockerfile:3: RUN --mount: invalid size \"lots\"");
        let err = convert_text("FROM rust:1\nEXPOSE 80/ftp\n", &options())
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("Dockerfile:2: EXPOSE 80/ftp: invalid protocol"),
            "{err}"
        );
        let err = convert_text("FROM rust:1\nSTOPSIGNAL SIGNOPE\n", &options())
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("Dockerfile:2: STOPSIGNAL \"SIGNOPE\": not a signal"),
            "{err}"
        );
        let err = convert_text("FROM --platform=linux rust:1\n", &options())
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("Dockerfile:1: invalid platform"), "{err}");
    }

    #[test]
    fn paths_are_made_absolute_and_clean() {
        assert_eq!(absolute_in("/src", "target/../a"), "/src/a");
        assert_eq!(absolute_in("/src", "/x/./y"), "/x/y");
        assert_eq!(absolute_in("/", "../.."), "/");
    }
}
