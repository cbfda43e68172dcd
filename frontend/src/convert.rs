//! Typed Dockerfile stages to LLB and image configs, following BuildKit's
//! own Dockerfile frontend: only the stages the target needs are converted,
//! each FROM resolves its image config through the daemon, RUN becomes an
//! exec on the stage's filesystem, COPY a file op (a merge for `--link`),
//! WORKDIR a mkdir, and the metadata instructions edit the image config.

use std::collections::{BTreeMap, HashMap};

use wasmpack_proto::pb;

use crate::dockerfile::{
    self, AutomaticArgs, Dockerfile, GlobalScope, Instruction, LocatedInstruction, Network, Platform, ShellOrExec, Stage, Variables,
};
use crate::image::ImageConfig;
use crate::llb::{self, FileAction, Meta, State};

#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    #[error(transparent)]
    Dockerfile(#[from] dockerfile::Error),
    #[error("{file}:{line}: {message}")]
    At { file: String, line: usize, message: String },
    #[error("target stage {0:?} is not in the Dockerfile")]
    NoSuchTarget(String),
}

/// Looks up base images' configs (the daemon, through the gateway).
#[allow(async_fn_in_trait)] // used with concrete types only, never boxed
pub trait ImageResolver {
    /// The manifest digest and config JSON of `reference` for `platform`.
    async fn resolve(&mut self, reference: &str, platform: &pb::Platform) -> Result<(String, Vec<u8>), String>;
}

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
    /// Where ENTRYPOINT and CMD were last set in this stage.
    pub entrypoint_line: Option<usize>,
    pub cmd_line: Option<usize>,
    vars: Variables,
}

pub async fn convert(dockerfile: &Dockerfile, options: &ConvertOptions, resolver: &mut impl ImageResolver) -> Result<ConvertedStage, ConvertError> {
    let automatic = AutomaticArgs {
        build_platform: options.build_platform.clone(),
        target_platform: options.target_platform.clone(),
    };
    let scope = dockerfile.global_scope(&options.build_args, &automatic)?;
    let target = match &options.target {
        Some(name) => {
            stage_index(dockerfile, &name.to_lowercase(), dockerfile.stages.len()).ok_or_else(|| ConvertError::NoSuchTarget(name.clone()))?
        }
        None => dockerfile.stages.len() - 1,
    };
    let needed = needed_stages(dockerfile, &scope, target)?;

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
    converter.stages[target].take().ok_or(ConvertError::NoSuchTarget(target.to_string()))
}

/// A stage named `name` (lower case) or numbered so, before `before`.
fn stage_index(dockerfile: &Dockerfile, name: &str, before: usize) -> Option<usize> {
    let stages = &dockerfile.stages[..before];
    stages
        .iter()
        .position(|s| s.name.as_deref() == Some(name))
        .or_else(|| name.parse::<usize>().ok().filter(|i| *i < before))
}

/// Which stages the target depends on, through FROM and `COPY --from`.
fn needed_stages(dockerfile: &Dockerfile, scope: &GlobalScope, target: usize) -> Result<Vec<bool>, ConvertError> {
    let mut needed = vec![false; dockerfile.stages.len()];
    needed[target] = true;
    for index in (0..=target).rev() {
        if !needed[index] {
            continue;
        }
        let stage = &dockerfile.stages[index];
        let base = scope.resolve_base(stage)?;
        if let Some(i) = stage_index(dockerfile, &base.image.to_lowercase(), index) {
            needed[i] = true;
        }
        for located in &stage.instructions {
            if let Instruction::Copy(copy) = &located.instruction {
                if let Some(i) = copy.from.as_deref().and_then(|f| stage_index(dockerfile, &f.to_lowercase(), index)) {
                    needed[i] = true;
                }
            }
        }
    }
    Ok(needed)
}

pub fn parse_platform(text: &str) -> Option<Platform> {
    let parts: Vec<&str> = text.split('/').collect();
    let (os, architecture, variant) = match parts.as_slice() {
        [os, arch] => (*os, *arch, None),
        [os, arch, variant] => (*os, *arch, Some(variant.to_string())),
        _ => return None,
    };
    if os.is_empty() || architecture.is_empty() {
        return None;
    }
    let architecture = match architecture {
        "x86_64" | "x86-64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    Some(Platform {
        os: os.to_lowercase(),
        architecture: architecture.to_lowercase(),
        variant,
    })
}

pub fn to_pb(platform: &Platform) -> pb::Platform {
    llb::platform(&platform.os, &platform.architecture, platform.variant.as_deref())
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

    async fn stage(&mut self, index: usize, resolver: &mut impl ImageResolver) -> Result<ConvertedStage, ConvertError> {
        let stage = &self.dockerfile.stages[index];
        let base = self.scope.resolve_base(stage)?;
        let parent = stage_index(self.dockerfile, &base.image.to_lowercase(), index).and_then(|i| self.stages[i].clone());
        let platform = match &base.platform {
            Some(text) => {
                parse_platform(text).ok_or_else(|| self.error(stage.line, format!("invalid platform {text:?}: expected os/arch[/variant]")))?
            }
            None => match &parent {
                Some(parent) => parent.platform.clone(),
                None if self.options.stages_on_build_platform && index != self.target => self.options.build_platform.clone(),
                None => self.options.target_platform.clone(),
            },
        };
        let steps = stage.instructions.len() + 1;
        let label = stage.name.clone().unwrap_or_else(|| format!("stage-{index}"));
        let progress = |n: usize, text: &str| format!("[{label} {n}/{steps}] {text}");

        let mut converted = if let Some(parent) = parent {
            ConvertedStage {
                index,
                line: stage.line,
                entrypoint_line: None,
                cmd_line: None,
                ..parent
            }
        } else if base.image == "scratch" {
            ConvertedStage {
                index,
                line: stage.line,
                state: None,
                image: ImageConfig::scratch(&platform.os, &platform.architecture, platform.variant.as_deref().unwrap_or("")),
                from_scratch: true,
                entrypoint_line: None,
                cmd_line: None,
                vars: Variables::new(),
                platform,
            }
        } else {
            self.image_stage(index, stage, &base.image, platform, &progress(1, &stage.source), resolver)
                .await?
        };

        let mut expander = self.scope.stage_expander(std::mem::take(&mut converted.vars));
        for (n, located) in stage.instructions.iter().enumerate() {
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

    async fn image_stage(
        &self,
        index: usize,
        stage: &Stage,
        reference: &str,
        platform: Platform,
        progress: &str,
        resolver: &mut impl ImageResolver,
    ) -> Result<ConvertedStage, ConvertError> {
        let (name, _) = wasmpack_packager::layout::normalize_name(reference).map_err(|e| self.error(stage.line, format!("FROM {reference}: {e}")))?;
        let pb_platform = to_pb(&platform);
        let (digest, config) = resolver
            .resolve(&name, &pb_platform)
            .await
            .map_err(|e| self.error(stage.line, format!("FROM {reference}: {e}")))?;
        let image = ImageConfig::from_json(&config).map_err(|e| self.error(stage.line, format!("FROM {reference}: unreadable image config: {e}")))?;
        // Pinned to the digest just resolved, so the build uses exactly the
        // image whose config it read.
        let identifier = if digest.is_empty() || name.contains('@') {
            format!("docker-image://{name}")
        } else {
            format!("docker-image://{name}@{digest}")
        };
        let mut attrs = BTreeMap::new();
        if self.options.image_resolve_mode != "default" {
            attrs.insert("image.resolvemode".to_string(), self.options.image_resolve_mode.clone());
        }
        let state = Some(llb::source(
            identifier,
            attrs,
            Some(pb_platform),
            Meta::at(progress, stage.line, stage.line),
        ));
        let vars = Variables::from_iter(image.env_pairs().map(|(k, v)| (k.to_string(), v.to_string())));
        Ok(ConvertedStage {
            index,
            line: stage.line,
            state,
            image,
            platform,
            from_scratch: false,
            entrypoint_line: None,
            cmd_line: None,
            vars,
        })
    }

    fn instruction(&self, stage: &mut ConvertedStage, instruction: Instruction, vars: &Variables, step: &Step<'_>) -> Result<(), ConvertError> {
        let line = step.located.line;
        let history = |stage: &mut ConvertedStage, text: String, empty: bool| {
            stage.image.add_history(text, empty, None);
        };
        match instruction {
            Instruction::Arg(_) => {}
            Instruction::Env(pairs) => {
                let mut text = String::from("ENV");
                for (name, value) in &pairs {
                    stage.image.set_env(name, value);
                    text.push_str(&format!(" {name}={value}"));
                }
                history(stage, text, true);
            }
            Instruction::Label(pairs) => {
                let mut text = String::from("LABEL");
                for (name, value) in pairs {
                    text.push_str(&format!(" {name}={value}"));
                    stage.image.config.labels.insert(name, value);
                }
                history(stage, text, true);
            }
            Instruction::Workdir(path) => {
                let dir = absolute_in(&stage.image.config.working_dir, &path);
                stage.image.config.working_dir = dir.clone();
                if dir != "/" {
                    let mkdir = pb::FileActionMkDir {
                        path: dir.clone(),
                        mode: 0o755,
                        make_parents: true,
                        timestamp: -1,
                        owner: None,
                    };
                    stage.state = llb::file(
                        &stage.state,
                        vec![FileAction::Mkdir(mkdir)],
                        Some(to_pb(&stage.platform)),
                        self.meta(step),
                    );
                }
                history(stage, format!("WORKDIR {dir}"), dir == "/");
            }
            Instruction::Run(run) => self.run(stage, run, vars, step)?,
            Instruction::Copy(copy) => self.copy(stage, copy, step)?,
            Instruction::Entrypoint(form) => {
                let args = self.with_shell(stage, form);
                history(stage, format!("ENTRYPOINT {args:?}"), true);
                stage.image.config.entrypoint = Some(args);
                // As in Docker: a new ENTRYPOINT drops an inherited CMD.
                if stage.cmd_line.is_none() {
                    stage.image.config.cmd = None;
                }
                stage.entrypoint_line = Some(line);
            }
            Instruction::Cmd(form) => {
                let args = self.with_shell(stage, form);
                history(stage, format!("CMD {args:?}"), true);
                stage.image.config.cmd = Some(args);
                stage.cmd_line = Some(line);
            }
        }
        Ok(())
    }

    fn meta(&self, step: &Step<'_>) -> Meta {
        Meta::at(step.progress.clone(), step.located.line, step.located.end_line)
    }

    fn with_shell(&self, stage: &ConvertedStage, form: ShellOrExec) -> Vec<String> {
        match form {
            ShellOrExec::Exec(args) => args,
            ShellOrExec::Shell(text) => {
                let mut args = match stage.image.config.shell.is_empty() {
                    true => vec!["/bin/sh".to_string(), "-c".to_string()],
                    false => stage.image.config.shell.clone(),
                };
                args.push(text);
                args
            }
        }
    }

    fn run(&self, stage: &mut ConvertedStage, run: dockerfile::Run, vars: &Variables, step: &Step<'_>) -> Result<(), ConvertError> {
        if let Some(mount) = run.mounts.first() {
            return Err(self.error(step.located.line, format!("RUN --mount={mount}: --mount is not supported yet")));
        }
        let platform = Some(to_pb(&stage.platform));
        let mut mounts = Vec::new();
        let form = match (&run.command, run.heredocs.as_slice()) {
            // `RUN <<EOT` alone: the heredoc is the script. With a shebang it
            // runs as a file of its own; otherwise the shell runs the body.
            (ShellOrExec::Shell(text), [heredoc]) if is_heredoc_marker(text) => {
                if heredoc.content.starts_with("#!") {
                    let file = pb::FileActionMkFile {
                        path: format!("/{}", heredoc.name),
                        mode: 0o755,
                        data: heredoc.content.clone().into_bytes(),
                        timestamp: -1,
                        owner: None,
                    };
                    let script = llb::file(
                        &None,
                        vec![FileAction::Mkfile(file)],
                        platform.clone(),
                        Meta::named("preparing inline document"),
                    );
                    mounts.push(llb::Mount {
                        dest: "/dev/pipes/".to_string(),
                        state: script,
                        selector: "/".to_string(),
                        readonly: true,
                        output: false,
                    });
                    ShellOrExec::Exec(vec![format!("/dev/pipes/{}", heredoc.name)])
                } else {
                    ShellOrExec::Shell(heredoc.content.clone())
                }
            }
            // `RUN <<EOT bash` and the like: the shell gets the command with
            // its heredocs put back, and reads them itself.
            (ShellOrExec::Shell(text), heredocs) if !heredocs.is_empty() => {
                let mut script = text.clone();
                for heredoc in heredocs {
                    script.push('\n');
                    script.push_str(&heredoc.content);
                    script.push_str(&heredoc.name);
                }
                ShellOrExec::Shell(script)
            }
            (command, _) => command.clone(),
        };
        let args = self.with_shell(stage, form);
        let exec = llb::Exec {
            args: args.clone(),
            env: vars.iter().map(|(k, v)| format!("{k}={v}")).collect(),
            cwd: match stage.image.config.working_dir.as_str() {
                "" => "/".to_string(),
                dir => dir.to_string(),
            },
            user: stage.image.config.user.clone(),
            network: match run.network {
                Network::Default => pb::NetMode::Unset,
                Network::None => pb::NetMode::None,
                Network::Host => pb::NetMode::Host,
            },
            mounts,
        };
        let (root, _) = llb::exec(&stage.state, exec, platform, self.meta(step));
        stage.state = root;
        stage.image.add_history(format!("RUN {} # buildkit", args.join(" ")), false, None);
        Ok(())
    }

    fn copy(&self, stage: &mut ConvertedStage, copy: dockerfile::Copy, step: &Step<'_>) -> Result<(), ConvertError> {
        let line = step.located.line;
        let platform = Some(to_pb(&stage.platform));
        let source: State = match copy.from.as_deref() {
            None => self.options.context.clone(),
            Some(from) => match stage_index(self.dockerfile, &from.to_lowercase(), stage.index) {
                Some(i) => self.stages[i].as_ref().and_then(|s| s.state.clone()),
                None => {
                    let (name, _) = wasmpack_packager::layout::normalize_name(from)
                        .map_err(|e| self.error(line, format!("COPY --from={from}: not a stage before this one nor an image: {e}")))?;
                    let mut attrs = BTreeMap::new();
                    if self.options.image_resolve_mode != "default" {
                        attrs.insert("image.resolvemode".to_string(), self.options.image_resolve_mode.clone());
                    }
                    Some(llb::source(
                        format!("docker-image://{name}"),
                        attrs,
                        platform.clone(),
                        Meta::named(format!("[internal] load {name}")),
                    ))
                }
            },
        };
        let count = copy.sources.len() + copy.heredocs.len();
        let dest = absolute_in(&stage.image.config.working_dir, &copy.dest);
        let dest = if copy.dest.ends_with('/') && !dest.ends_with('/') {
            format!("{dest}/")
        } else {
            dest
        };
        if count > 1 && !dest.ends_with('/') {
            return Err(self.error(line, "COPY with more than one source needs a destination folder ending in /"));
        }
        let owner = copy.chown.as_deref().map(chown_opt);
        let (mode, mode_str) = match copy.chmod.as_deref() {
            None => (-1, String::new()),
            Some(text) => match i32::from_str_radix(text, 8) {
                Ok(mode) if text.chars().all(|c| c.is_ascii_digit()) && mode <= 0o7777 => (mode, String::new()),
                _ if self.options.chmod_symbolic && !text.is_empty() => (-1, text.to_string()),
                _ => return Err(self.error(line, format!("COPY --chmod={text}: expected an octal mode such as 755"))),
            },
        };
        let template = |src: String| pb::FileActionCopy {
            owner: owner.clone(),
            mode,
            mode_str: mode_str.clone(),
            follow_symlink: true,
            dir_copy_contents: true,
            create_dest_path: true,
            allow_wildcard: true,
            allow_empty_wildcard: true,
            ..llb::copy_defaults(&src, &dest)
        };
        let mut actions: Vec<FileAction> = copy
            .sources
            .iter()
            .map(|src| FileAction::Copy {
                from: source.clone(),
                copy: template(absolute_in("/", src)),
            })
            .collect();
        for heredoc in &copy.heredocs {
            let file = pb::FileActionMkFile {
                path: format!("/{}", heredoc.name),
                mode: 0o644,
                data: heredoc.content.clone().into_bytes(),
                timestamp: -1,
                owner: None,
            };
            let inline = llb::file(
                &None,
                vec![FileAction::Mkfile(file)],
                platform.clone(),
                Meta::named("preparing inline document"),
            );
            let copy = pb::FileActionCopy {
                allow_wildcard: false,
                allow_empty_wildcard: false,
                ..template(format!("/{}", heredoc.name))
            };
            actions.push(FileAction::Copy { from: inline, copy });
        }
        if actions.is_empty() {
            return Err(self.error(line, "COPY needs at least one source"));
        }
        // `--link` (without --chmod, as in BuildKit): the copy is made on
        // scratch and merged on top, so it does not depend on what is below.
        stage.state = if copy.link && self.options.merge_op && copy.chmod.is_none() {
            let layer = llb::file(&None, actions, platform, self.meta(step));
            let link = Meta {
                name: Some(format!("{} (link)", step.progress)),
                ..self.meta(step)
            };
            llb::merge(&[stage.state.clone(), layer], link)
        } else {
            llb::file(&stage.state, actions, platform, self.meta(step))
        };
        stage.image.add_history(format!("{} # buildkit", step.located.source), false, None);
        Ok(())
    }
}

/// A `RUN` command that is nothing but a heredoc marker (`<<EOT`, `<<-"EOT"`).
fn is_heredoc_marker(text: &str) -> bool {
    let Some(rest) = text.trim().strip_prefix("<<") else {
        return false;
    };
    let rest = rest.strip_prefix('-').unwrap_or(rest);
    let word = rest.trim_matches(|c| c == '"' || c == '\'');
    !word.is_empty() && word.chars().all(|c| c.is_alphanumeric() || c == '_')
}

/// `path` made absolute against `dir` and cleaned of `.` and `..`.
fn absolute_in(dir: &str, path: &str) -> String {
    let joined = if path.starts_with('/') {
        path.to_string()
    } else {
        format!("{dir}/{path}")
    };
    let mut parts: Vec<&str> = Vec::new();
    for part in joined.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            part => parts.push(part),
        }
    }
    format!("/{}", parts.join("/"))
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
    use super::*;
    use prost::Message;

    struct FakeRegistry;

    impl ImageResolver for FakeRegistry {
        async fn resolve(&mut self, reference: &str, platform: &pb::Platform) -> Result<(String, Vec<u8>), String> {
            match reference {
                r if r.starts_with("docker.io/library/rust:") => Ok((
                    "sha256:1111111111111111111111111111111111111111111111111111111111111111".to_string(),
                    format!(
                        r#"{{"os":"{}","architecture":"{}","config":{{"Env":["PATH=/usr/local/cargo/bin:/usr/bin","CARGO_HOME=/usr/local/cargo"],"WorkingDir":"/"}}}}"#,
                        platform.os, platform.architecture
                    )
                    .into_bytes(),
                )),
                other => Err(format!("{other}: not found")),
            }
        }
    }

    const WALKTHROUGH: &str = include_str!("../testdata/rust-to-wasm.Dockerfile");

    fn options() -> ConvertOptions {
        ConvertOptions {
            build_args: HashMap::new(),
            build_platform: Platform::new("linux", "amd64"),
            target_platform: Platform::new("wasi", "wasm"),
            target: None,
            context: Some(llb::source("local://context".into(), BTreeMap::new(), None, Meta::default())),
            image_resolve_mode: "local".to_string(),
            stages_on_build_platform: true,
            merge_op: true,
            chmod_symbolic: true,
        }
    }

    fn convert_text(text: &str, options: &ConvertOptions) -> Result<ConvertedStage, ConvertError> {
        let dockerfile = Dockerfile::parse("Dockerfile", text)?;
        futures_lite_block_on(convert(&dockerfile, options, &mut FakeRegistry))
    }

    /// The conversion only awaits the resolver, which never pends here.
    fn futures_lite_block_on<F: std::future::Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread().build().expect("runtime").block_on(future)
    }

    fn ops(state: &State) -> Vec<pb::Op> {
        llb::definition(state, None)
            .def
            .iter()
            .map(|b| pb::Op::decode(b.as_slice()).unwrap())
            .collect()
    }

    fn execs(state: &State) -> Vec<(pb::ExecOp, Option<pb::Platform>)> {
        ops(state)
            .into_iter()
            .filter_map(|op| match op.op {
                Some(pb::op::Op::Exec(e)) => Some((e, op.platform)),
                _ => None,
            })
            .collect()
    }

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
            assert!(exec.meta.as_ref().unwrap().env.iter().any(|e| e.starts_with("CARGO_HOME=")));
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
    fn heredoc_runs_follow_buildkit() {
        let text = "FROM rust:1\nRUN <<EOT bash\n  set -e\n  echo hi\nEOT\nRUN <<EOT\n#!/bin/sh\necho script\nEOT\nRUN <<EOT\necho plain\nEOT\n";
        let stage = convert_text(
            text,
            &ConvertOptions {
                stages_on_build_platform: false,
                target_platform: Platform::new("linux", "amd64"),
                ..options()
            },
        )
        .unwrap();
        let args: Vec<Vec<String>> = execs(&stage.state).into_iter().map(|(e, _)| e.meta.unwrap().args).collect();
        assert_eq!(args[0], vec!["/bin/sh", "-c", "<<EOT bash\n  set -e\n  echo hi\nEOT"]);
        assert_eq!(args[1], vec!["/dev/pipes/EOT"]);
        assert_eq!(args[2], vec!["/bin/sh", "-c", "echo plain\n"]);
    }

    #[test]
    fn copy_resolves_against_workdir_and_link_merges() {
        let text = "FROM rust:1 AS b\nWORKDIR /src\nCOPY --chown=1000:app --chmod=640 a.txt sub/\nFROM scratch\nCOPY --link --from=b /src/sub/a.txt /a.txt\n";
        let stage = convert_text(text, &options()).unwrap();
        let all = ops(&stage.state);
        let copies: Vec<pb::FileActionCopy> = all
            .iter()
            .filter_map(|op| match &op.op {
                Some(pb::op::Op::File(f)) => Some(f.actions.clone()),
                _ => None,
            })
            .flatten()
            .filter_map(|a| match a.action {
                Some(pb::file_action::Action::Copy(c)) => Some(c),
                _ => None,
            })
            .collect();
        assert_eq!(copies[0].src, "/a.txt");
        assert_eq!(copies[0].dest, "/src/sub/");
        assert_eq!(copies[0].mode, 0o640);
        let owner = copies[0].owner.clone().unwrap();
        assert_eq!(owner.user.unwrap().user, Some(pb::user_opt::User::ById(1000)));
        assert!(matches!(owner.group.unwrap().user, Some(pb::user_opt::User::ByName(_))));
        assert_eq!(copies[1].src, "/src/sub/a.txt");
        assert!(all.iter().any(|op| matches!(op.op, Some(pb::op::Op::Merge(_)))), "--link merges");
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
        let err = convert_text("FROM scratch\nCOPY a b c\n", &options()).unwrap_err().to_string();
        assert_eq!(err, "Dockerfile:2: COPY with more than one source needs a destination folder ending in /");
        let err = convert_text("FROM rust:1\n\nRUN --mount=type=cache,target=/x true\n", &options())
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("Dockerfile:3: RUN --mount="), "{err}");
        let err = convert_text("FROM --platform=linux rust:1\n", &options()).unwrap_err().to_string();
        assert!(err.starts_with("Dockerfile:1: invalid platform"), "{err}");
    }

    #[test]
    fn entrypoint_drops_inherited_cmd_and_shell_form_uses_the_shell() {
        let text = "FROM scratch AS a\nCMD [\"x\"]\nFROM a\nENTRYPOINT /run.sh\n";
        let stage = convert_text(text, &options()).unwrap();
        assert_eq!(stage.image.config.cmd, None);
        assert_eq!(stage.image.config.entrypoint, Some(vec!["/bin/sh".into(), "-c".into(), "/run.sh".into()]));
        assert_eq!(stage.entrypoint_line, Some(4));
    }

    #[test]
    fn paths_are_made_absolute_and_clean() {
        assert_eq!(absolute_in("/src", "target/../a"), "/src/a");
        assert_eq!(absolute_in("/src", "/x/./y"), "/x/y");
        assert_eq!(absolute_in("/", "../.."), "/");
        assert!(is_heredoc_marker("<<EOT") && is_heredoc_marker("<<-'EOT'"));
        assert!(!is_heredoc_marker("<<EOT bash"));
    }
}
