//! Typed Dockerfile stages to LLB and image configs, following BuildKit's
//! own Dockerfile frontend: only the stages the target needs are converted,
//! each FROM resolves its image config through the daemon, RUN becomes an
//! exec on the stage's filesystem, COPY a file op (a merge for `--link`),
//! WORKDIR a mkdir, and the metadata instructions edit the image config.

use std::collections::{BTreeMap, HashMap};

use wasmpack_proto::pb;

use crate::dockerfile::mount::parse_size;
use crate::dockerfile::{
    self, AutomaticArgs, Dockerfile, GlobalScope, Instruction, LocatedInstruction, Mount, MountType, Network, Platform, Security, Sharing,
    ShellOrExec, Stage, Variables,
};
use crate::image::{self, ImageConfig};
use crate::llb::{self, FileAction, Meta, MountKind, State};

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
    converter.stages[target].take().ok_or(ConvertError::NoSuchTarget(target.to_string()))
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
fn needed_stages(dockerfile: &Dockerfile, scope: &GlobalScope, target: usize, options: &ConvertOptions) -> Result<Vec<bool>, ConvertError> {
    let mut needed = vec![false; dockerfile.stages.len()];
    needed[target] = true;
    for index in (0..=target).rev() {
        let stage = &dockerfile.stages[index];
        // A stage a named context replaces needs nothing of its own.
        let replaced = stage.name.as_deref().is_some_and(|n| named_context(options, n).is_some());
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
                Instruction::Run(run) => run.mounts.iter().filter_map(|m| m.from.as_deref()).collect(),
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

        let label = stage.name.clone().unwrap_or_else(|| format!("stage-{index}"));
        let steps = std::cell::Cell::new(stage.instructions.len() + 1);
        let progress = |n: usize, text: &str| format!("[{label} {n}/{}] {text}", steps.get());
        // A named context of the stage's own name replaces the whole stage.
        if let Some(named) = stage.name.as_deref().and_then(|n| named_context(self.options, n)) {
            return self
                .context_stage(index, stage, named, platform, &progress(1, &stage.source), resolver)
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
            self.context_stage(index, stage, named, platform, &progress(1, &stage.source), resolver)
                .await?
        } else if base.image == "scratch" {
            ConvertedStage {
                index,
                line: stage.line,
                state: None,
                image: ImageConfig::scratch(&platform.os, &platform.architecture, platform.variant.as_deref().unwrap_or("")),
                from_scratch: true,
                base_config: None,
                entrypoint_line: None,
                cmd_line: None,
                vars: Variables::new(),
                platform,
            }
        } else {
            self.image_stage(index, stage, &base.image, platform, &progress(1, &stage.source), resolver)
                .await?
        };

        // The base's ONBUILD triggers run first and are not passed on, as
        // BuildKit runs them.
        let triggers = std::mem::take(&mut converted.image.config.on_build)
            .iter()
            .map(|text| {
                let instruction =
                    dockerfile::instructions::parse_trigger(&self.dockerfile.file_name, stage.line, text, self.dockerfile.directives.escape)?;
                Ok(LocatedInstruction {
                    line: stage.line,
                    end_line: stage.line,
                    source: format!("ONBUILD {text}"),
                    instruction,
                })
            })
            .collect::<Result<Vec<_>, ConvertError>>()?;
        steps.set(steps.get() + triggers.len());
        let mut expander = self.scope.stage_expander(std::mem::take(&mut converted.vars));
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

    /// A stage that starts from a named context.
    async fn context_stage(
        &self,
        index: usize,
        stage: &Stage,
        named: &NamedContext,
        platform: Platform,
        progress: &str,
        resolver: &mut impl ImageResolver,
    ) -> Result<ConvertedStage, ConvertError> {
        match named {
            NamedContext::Image(reference) => self.image_stage(index, stage, reference, platform, progress, resolver).await,
            NamedContext::Files(state) => Ok(ConvertedStage {
                index,
                line: stage.line,
                state: state.clone(),
                image: ImageConfig::scratch(&platform.os, &platform.architecture, platform.variant.as_deref().unwrap_or("")),
                from_scratch: false,
                base_config: None,
                entrypoint_line: None,
                cmd_line: None,
                vars: Variables::new(),
                platform,
            }),
        }
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
        let (name, _) = wasmpack_oci::name::normalize_name(reference).map_err(|e| self.error(stage.line, format!("FROM {reference}: {e}")))?;
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
        let state = Some(llb::image(
            identifier,
            &self.options.image_resolve_mode,
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
            base_config: Some(config),
            entrypoint_line: None,
            cmd_line: None,
            vars,
        })
    }

    fn instruction(&self, stage: &mut ConvertedStage, instruction: Instruction, vars: &Variables, step: &Step<'_>) -> Result<(), ConvertError> {
        let line = step.located.line;
        let history = |stage: &mut ConvertedStage, text: String| {
            stage.image.add_history(text, true, None);
        };
        let config = &mut stage.image.config;
        match instruction {
            Instruction::Arg(_) => {}
            Instruction::Env(pairs) => {
                let mut text = String::from("ENV");
                for (name, value) in &pairs {
                    stage.image.set_env(name, value);
                    text.push_str(&format!(" {name}={value}"));
                }
                history(stage, text);
            }
            Instruction::Label(pairs) => {
                let mut text = String::from("LABEL");
                for (name, value) in pairs {
                    text.push_str(&format!(" {name}={value}"));
                    config.labels.insert(name, value);
                }
                history(stage, text);
            }
            Instruction::Workdir(path) => self.workdir(stage, &path, step),
            Instruction::Run(run) => self.run(stage, run, vars, step)?,
            Instruction::Copy(copy) => self.copy(stage, copy, false, step)?,
            Instruction::Add(copy) => self.copy(stage, copy, true, step)?,
            Instruction::Entrypoint(form) => {
                let args = self.with_shell(stage, form);
                history(stage, format!("ENTRYPOINT {args:?}"));
                stage.image.config.entrypoint = Some(args);
                // As in Docker: a new ENTRYPOINT drops an inherited CMD.
                if stage.cmd_line.is_none() {
                    stage.image.config.cmd = None;
                }
                stage.entrypoint_line = Some(line);
            }
            Instruction::Cmd(form) => {
                let args = self.with_shell(stage, form);
                history(stage, format!("CMD {args:?}"));
                stage.image.config.cmd = Some(args);
                // What BuildKit writes for Docker's sake (Windows quoting).
                stage.image.config.args_escaped = true;
                stage.cmd_line = Some(line);
            }
            Instruction::User(user) => {
                config.user = user.clone();
                history(stage, format!("USER {user}"));
            }
            Instruction::Expose(specs) => {
                for spec in &specs {
                    let ports = image::exposed_ports(spec).map_err(|problem| self.error(line, format!("EXPOSE {spec}: {problem}")))?;
                    config.exposed_ports.extend(ports.into_iter().map(|p| (p, image::Empty {})));
                }
                history(stage, format!("EXPOSE {}", specs.join(" ")));
            }
            Instruction::Volume(volumes) => {
                for volume in &volumes {
                    if volume.is_empty() {
                        return Err(self.error(line, "VOLUME: a volume cannot be an empty string"));
                    }
                    config.volumes.insert(volume.clone(), image::Empty {});
                }
                history(stage, format!("VOLUME {volumes:?}"));
            }
            Instruction::StopSignal(signal) => {
                if !image::is_signal(&signal) {
                    return Err(self.error(
                        line,
                        format!("STOPSIGNAL {signal:?}: not a signal; use a name such as SIGTERM or a number"),
                    ));
                }
                config.stop_signal = signal.clone();
                history(stage, format!("STOPSIGNAL {signal}"));
            }
            Instruction::Healthcheck(check) => {
                config.healthcheck = Some(image::Healthcheck {
                    test: check.test.clone(),
                    interval: check.interval,
                    timeout: check.timeout,
                    start_period: check.start_period,
                    start_interval: check.start_interval,
                    retries: check.retries,
                });
                history(stage, format!("HEALTHCHECK {:?}", check.test));
            }
            Instruction::Shell(shell) => {
                config.shell = shell.clone();
                history(stage, format!("SHELL {shell:?}"));
            }
            // Kept for stages and images built on this one; not run here.
            Instruction::Onbuild(trigger) => config.on_build.push(trigger),
            Instruction::Maintainer(author) => {
                stage.image.author = author.clone();
                history(stage, format!("MAINTAINER {author}"));
            }
        }
        Ok(())
    }

    fn workdir(&self, stage: &mut ConvertedStage, path: &str, step: &Step<'_>) {
        let dir = absolute_in(&stage.image.config.working_dir, path);
        stage.image.config.working_dir = dir.clone();
        if dir != "/" {
            // Owned by the USER in effect, as BuildKit makes it.
            let user = &stage.image.config.user;
            let mkdir = pb::FileActionMkDir {
                path: dir.clone(),
                mode: 0o755,
                make_parents: true,
                timestamp: -1,
                owner: (!user.is_empty()).then(|| chown_opt(user)),
            };
            stage.state = llb::file(
                &stage.state,
                vec![FileAction::Mkdir(mkdir)],
                Some(to_pb(&stage.platform)),
                self.meta(step),
            );
        }
        stage.image.add_history(format!("WORKDIR {dir}"), dir == "/", None);
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
                        kind: MountKind::Bind,
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
        let mut env: Vec<String> = vars.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let mut ssh_count = 0;
        for mount in &run.mounts {
            let mount = self.run_mount(stage, mount, &mut ssh_count, step)?;
            // The first SSH socket is the agent programs find by default.
            if let (MountKind::Ssh(_), false) = (&mount.kind, vars.get("SSH_AUTH_SOCK").is_some() || ssh_count > 1) {
                env.push(format!("SSH_AUTH_SOCK={}", mount.dest));
            }
            mounts.push(mount);
        }
        let args = self.with_shell(stage, form);
        let exec = llb::Exec {
            args: args.clone(),
            env,
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
            security: match run.security {
                Security::Sandbox => pb::SecurityMode::Sandbox,
                Security::Insecure => pb::SecurityMode::Insecure,
            },
            mounts,
        };
        let (root, _) = llb::exec(&stage.state, exec, platform, self.meta(step));
        stage.state = root;
        stage.image.add_history(format!("RUN {} # buildkit", args.join(" ")), false, None);
        Ok(())
    }

    /// One `RUN --mount`, with BuildKit's defaults: cache ids default to the
    /// target, secrets to `/run/secrets/<id>` (mode 0400), SSH sockets to
    /// `/run/buildkit/ssh_agent.<n>` (mode 0600).
    fn run_mount(&self, stage: &ConvertedStage, mount: &Mount, ssh_count: &mut usize, step: &Step<'_>) -> Result<llb::Mount, ConvertError> {
        let line = step.located.line;
        let invalid = |problem: String| self.error(line, format!("RUN --mount: {problem}"));
        let number = |field: &Option<String>, radix: u32, name: &str| -> Result<Option<u32>, ConvertError> {
            field
                .as_deref()
                .map(|text| u32::from_str_radix(text, radix).map_err(|_| invalid(format!("invalid {name} {text:?}"))))
                .transpose()
        };
        let (mode, uid, gid) = (
            number(&mount.mode, 8, "mode")?,
            number(&mount.uid, 10, "uid")?,
            number(&mount.gid, 10, "gid")?,
        );
        let target = if mount.target.is_empty() {
            String::new()
        } else {
            absolute_in(&stage.image.config.working_dir, &mount.target)
        };
        let file_mount = |kind: MountKind, dest: String| llb::Mount {
            dest,
            state: None,
            selector: String::new(),
            readonly: false,
            output: false,
            kind,
        };
        match mount.kind {
            MountType::Secret => {
                let id = [&mount.source, &mount.id]
                    .into_iter()
                    .find(|s| !s.is_empty())
                    .cloned()
                    .unwrap_or_else(|| base_name(&mount.target).to_string());
                let dest = match target.as_str() {
                    "" => format!("/run/secrets/{}", base_name(&id)),
                    _ => target,
                };
                let secret = pb::SecretOpt {
                    id,
                    uid: uid.unwrap_or(0),
                    gid: gid.unwrap_or(0),
                    mode: mode.unwrap_or(0o400),
                    optional: !mount.required,
                };
                return Ok(file_mount(MountKind::Secret(secret), dest));
            }
            MountType::Ssh => {
                let dest = match target.as_str() {
                    "" => format!("/run/buildkit/ssh_agent.{ssh_count}"),
                    _ => target,
                };
                *ssh_count += 1;
                let ssh = pb::SshOpt {
                    id: if mount.id.is_empty() { "default".to_string() } else { mount.id.clone() },
                    uid: uid.unwrap_or(0),
                    gid: gid.unwrap_or(0),
                    mode: mode.unwrap_or(0o600),
                    optional: !mount.required,
                };
                return Ok(file_mount(MountKind::Ssh(ssh), dest));
            }
            _ if target == "/" => return Err(invalid(format!("cannot mount over / (target {:?})", mount.target))),
            _ => {}
        }
        let mut state = match (mount.kind, mount.from.as_deref()) {
            (MountType::Tmpfs, _) | (MountType::Cache, None) => None,
            (_, from) => self.named_source(from, stage, line, "RUN --mount from")?,
        };
        let mut selector = absolute_in("/", &mount.source);
        if selector == "/" {
            selector.clear();
            // An empty cache owned and permissioned as asked.
            if uid.is_some() || gid.is_some() || mode.is_some() {
                let mkdir = pb::FileActionMkDir {
                    path: "/cache".to_string(),
                    mode: mode.unwrap_or(0o755) as i32,
                    make_parents: false,
                    timestamp: -1,
                    owner: Some(chown_opt(&format!("{}:{}", uid.unwrap_or(0), gid.unwrap_or(0)))),
                };
                state = llb::file(
                    &state,
                    vec![FileAction::Mkdir(mkdir)],
                    Some(to_pb(&stage.platform)),
                    Meta::named("[internal] settings cache mount permissions"),
                );
                selector = "/cache".to_string();
            }
        }
        let kind = match mount.kind {
            MountType::Cache => MountKind::Cache {
                // Namespaced as BuildKit's frontend does, so both share caches.
                id: format!(
                    "{}/{}",
                    self.options.cache_namespace,
                    if mount.id.is_empty() {
                        crate::path::clean(&mount.target)
                    } else {
                        mount.id.clone()
                    }
                ),
                sharing: match mount.sharing {
                    Sharing::Shared => pb::CacheSharingOpt::Shared,
                    Sharing::Private => pb::CacheSharingOpt::Private,
                    Sharing::Locked => pb::CacheSharingOpt::Locked,
                },
            },
            MountType::Tmpfs => MountKind::Tmpfs {
                size: match mount.size.as_deref() {
                    None => 0,
                    Some(text) => parse_size(text).ok_or_else(|| invalid(format!("invalid size {text:?}")))?,
                },
            },
            _ => MountKind::Bind,
        };
        Ok(llb::Mount {
            dest: target,
            state,
            selector,
            readonly: mount.readonly,
            output: false,
            kind,
        })
    }

    /// The filesystem a `--from` names: an earlier stage, else an image;
    /// the build context when there is none.
    fn named_source(&self, from: Option<&str>, stage: &ConvertedStage, line: usize, what: &str) -> Result<State, ConvertError> {
        let Some(from) = from else {
            return Ok(self.options.context.clone());
        };
        if let Some(i) = stage_index(self.dockerfile, &from.to_lowercase(), stage.index) {
            return Ok(self.stages[i].as_ref().and_then(|s| s.state.clone()));
        }
        let from = match named_context(self.options, from) {
            Some(NamedContext::Files(state)) => return Ok(state.clone()),
            Some(NamedContext::Image(reference)) => reference.as_str(),
            None => from,
        };
        let (name, _) = wasmpack_oci::name::normalize_name(from)
            .map_err(|e| self.error(line, format!("{what}={from}: not a stage before this one nor an image: {e}")))?;
        Ok(Some(llb::image(
            format!("docker-image://{name}"),
            &self.options.image_resolve_mode,
            Some(to_pb(&stage.platform)),
            Meta::named(format!("[internal] load {name}")),
        )))
    }

    /// COPY, and ADD (`add`): local sources are unpacked when they are
    /// archives, URLs are downloaded, git repositories cloned.
    fn copy(&self, stage: &mut ConvertedStage, copy: dockerfile::Copy, add: bool, step: &Step<'_>) -> Result<(), ConvertError> {
        let line = step.located.line;
        let keyword = if add { "ADD" } else { "COPY" };
        let platform = Some(to_pb(&stage.platform));
        let source = self.named_source(copy.from.as_deref(), stage, line, "COPY --from")?;
        let count = copy.sources.len() + copy.heredocs.len();
        let dest = absolute_in(&stage.image.config.working_dir, &copy.dest);
        let dest = if (copy.dest.ends_with('/') || copy.dest == "." || copy.dest.is_empty()) && !dest.ends_with('/') {
            format!("{dest}/")
        } else {
            dest
        };
        if count > 1 && !dest.ends_with('/') {
            return Err(self.error(
                line,
                format!("{keyword} with more than one source needs a destination folder ending in /"),
            ));
        }
        let owner = copy.chown.as_deref().map(chown_opt);
        let (mode, mode_str) = match copy.chmod.as_deref() {
            None => (-1, String::new()),
            Some(text) => match i32::from_str_radix(text, 8) {
                Ok(mode) if text.chars().all(|c| c.is_ascii_digit()) && mode <= 0o7777 => (mode, String::new()),
                _ if self.options.chmod_symbolic && !text.is_empty() => (-1, text.to_string()),
                _ => return Err(self.error(line, format!("{keyword} --chmod={text}: expected an octal mode such as 755"))),
            },
        };
        let remote = |src: &str, dest: &str| pb::FileActionCopy {
            owner: owner.clone(),
            mode,
            mode_str: mode_str.clone(),
            create_dest_path: true,
            ..llb::copy_defaults(src, dest)
        };
        let template = |src: String| pb::FileActionCopy {
            follow_symlink: true,
            dir_copy_contents: true,
            attempt_unpack_docker_compatibility: add,
            allow_wildcard: true,
            allow_empty_wildcard: true,
            ..remote(&src, &dest)
        };
        if copy.checksum.is_some() && !(copy.sources.len() == 1 && source_kind(&copy.sources[0]) == SourceKind::Http) {
            return Err(self.error(line, "ADD --checksum: only for a single http(s) source"));
        }
        let mut actions = Vec::new();
        for src in &copy.sources {
            let action = match (add, source_kind(src)) {
                (true, SourceKind::Http) => {
                    let file = url_file_name(src);
                    FileAction::Copy {
                        from: http_source(src, Some(&file), copy.checksum.as_deref(), self.meta(step)),
                        copy: remote(&format!("/{file}"), &dest),
                    }
                }
                (true, SourceKind::Git(git)) => FileAction::Copy {
                    from: git_source(&git, copy.keep_git_dir, self.meta(step)),
                    copy: remote("/", &dest),
                },
                (false, SourceKind::Http | SourceKind::Git(_)) => {
                    return Err(self.error(line, format!("COPY {src}: COPY takes no URLs or git repositories; use ADD")))
                }
                (_, SourceKind::Local) => {
                    // `--parents`: copy from the pivot (`a/./b` copies b
                    // with its folders; no pivot: from the root) keeping
                    // the matched paths' folders.
                    let (src, include) = match (copy.parents, src.split_once("/./")) {
                        (false, _) => (src.as_str(), Vec::new()),
                        (true, Some((pivot, pattern))) => (pivot, vec![absolute_in("/", pattern)[1..].to_string()]),
                        (true, None) => ("/", vec![absolute_in("/", src)[1..].to_string()]),
                    };
                    FileAction::Copy {
                        from: source.clone(),
                        copy: pb::FileActionCopy {
                            include_patterns: include,
                            exclude_patterns: copy.exclude.clone(),
                            ..template(absolute_in("/", src))
                        },
                    }
                }
            };
            actions.push(action);
        }
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
                attempt_unpack_docker_compatibility: false,
                ..template(format!("/{}", heredoc.name))
            };
            actions.push(FileAction::Copy { from: inline, copy });
        }
        if actions.is_empty() {
            return Err(self.error(line, format!("{keyword} needs at least one source")));
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

/// The named context `name` stands for: looked up as written, then in
/// Docker's short form (`docker.io/library/alpine:latest` is `alpine`).
fn named_context<'o>(options: &'o ConvertOptions, name: &str) -> Option<&'o NamedContext> {
    let contexts = &options.named_contexts;
    if contexts.is_empty() {
        return None;
    }
    contexts.get(name).or_else(|| {
        let (full, _) = wasmpack_oci::name::normalize_name(name).ok()?;
        let short = full
            .strip_prefix("docker.io/library/")
            .or_else(|| full.strip_prefix("docker.io/"))
            .unwrap_or(&full);
        contexts.get(short.strip_suffix(":latest").unwrap_or(short))
    })
}

/// A download: `ADD <url>`, or a named context.
fn http_source(url: &str, file_name: Option<&str>, checksum: Option<&str>, meta: Meta) -> State {
    let mut attrs = BTreeMap::new();
    if let Some(file_name) = file_name {
        attrs.insert("http.filename".to_string(), file_name.to_string());
    }
    if let Some(checksum) = checksum {
        attrs.insert("http.checksum".to_string(), checksum.to_string());
    }
    Some(llb::source(url.to_string(), attrs, None, meta))
}

/// A checkout: `ADD <git ref>`, or a named context.
fn git_source(git: &GitSource, keep_git_dir: bool, meta: Meta) -> State {
    let mut attrs = BTreeMap::from([
        ("git.fullurl".to_string(), git.remote.clone()),
        ("git.authtokensecret".to_string(), "GIT_AUTH_TOKEN".to_string()),
        ("git.authheadersecret".to_string(), "GIT_AUTH_HEADER".to_string()),
    ]);
    if keep_git_dir {
        attrs.insert("git.keepgitdir".to_string(), "true".to_string());
    }
    Some(llb::source(git.identifier(), attrs, None, meta))
}

/// A `--build-context NAME=VALUE` that names a git repository or an http(s)
/// URL, as the filesystem it stands for; `None` for anything else.
pub fn remote_context(name: &str, value: &str) -> Option<State> {
    let meta = Meta::named(format!("[context {name}] {value}"));
    match source_kind(value) {
        // BuildKit keeps the .git folder of a repository given as a context.
        SourceKind::Git(git) => Some(git_source(&git, true, meta)),
        SourceKind::Http => Some(http_source(value, None, None, meta)),
        SourceKind::Local => None,
    }
}

#[derive(Debug, PartialEq, Eq)]
enum SourceKind {
    Local,
    Http,
    Git(GitSource),
}

/// A git repository named by an ADD source, as BuildKit recognises one:
/// `git://`, `ssh://`, `git@host:path`, or an http(s) URL whose path ends in
/// `.git`; `#ref[:subdir]` picks what to check out.
#[derive(Debug, PartialEq, Eq)]
struct GitSource {
    /// The URL without the fragment.
    remote: String,
    host: String,
    path: String,
    /// `ref` or `ref:subdir`, empty for the default branch.
    fragment: String,
}

impl GitSource {
    /// BuildKit's source identifier: host and path, whatever the protocol.
    fn identifier(&self) -> String {
        let mut id = format!("git://{}{}", self.host, absolute_in("/", &self.path));
        if !self.fragment.is_empty() {
            id.push('#');
            id.push_str(&self.fragment);
        }
        id
    }
}

fn source_kind(src: &str) -> SourceKind {
    let (remote, fragment) = src.split_once('#').unwrap_or((src, ""));
    let git = |host: &str, path: &str| {
        SourceKind::Git(GitSource {
            remote: remote.to_string(),
            host: host.to_string(),
            path: path.to_string(),
            fragment: fragment.to_string(),
        })
    };
    if let Some((scheme, rest)) = remote.split_once("://") {
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let host = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
        return match scheme {
            "git" | "ssh" => git(host, path),
            "http" | "https" if path.ends_with(".git") => git(host, path),
            "http" | "https" => SourceKind::Http,
            _ => SourceKind::Local,
        };
    }
    // scp-like `user@host:path`.
    match remote.split_once(':') {
        Some((user_host, path)) if !user_host.contains('/') && user_host.contains('@') => {
            git(user_host.rsplit_once('@').map_or(user_host, |(_, host)| host), path)
        }
        _ => SourceKind::Local,
    }
}

/// The file name a download is saved under: the URL path's last part.
fn url_file_name(url: &str) -> String {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    let path = path
        .split_once("://")
        .map_or(path, |(_, rest)| rest.split_once('/').map_or("", |(_, p)| p));
    match path.trim_end_matches('/').rsplit('/').next() {
        Some(name) if !name.is_empty() && name != "." => name.to_string(),
        _ => "__unnamed__".to_string(),
    }
}

fn base_name(path: &str) -> &str {
    path.trim_end_matches('/').rsplit('/').next().unwrap_or(path)
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
            cache_namespace: String::new(),
            named_contexts: HashMap::new(),
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
    fn run_mounts_take_buildkits_defaults() {
        let text = concat!(
            "FROM rust:1 AS tools\n",
            "FROM rust:1\n",
            "WORKDIR /src\n",
            "RUN --security=insecure --network=none \\\n",
            "    --mount=type=secret,id=token \\\n",
            "    --mount=type=ssh \\\n",
            "    --mount=type=cache,target=target,sharing=locked,uid=1000 \\\n",
            "    --mount=type=tmpfs,target=/tmp,size=1m \\\n",
            "    --mount=from=tools,source=/usr/bin,target=/tools \\\n",
            "    make\n",
        );
        let stage = convert_text(
            text,
            &ConvertOptions {
                cache_namespace: "ns".to_string(),
                ..options()
            },
        )
        .unwrap();
        let (exec, _) = execs(&stage.state).pop().unwrap();
        assert_eq!(exec.security, pb::SecurityMode::Insecure as i32);
        assert_eq!(exec.network, pb::NetMode::None as i32);
        let meta = exec.meta.unwrap();
        assert!(meta.remove_mount_stubs_recursive);
        assert!(
            meta.env.contains(&"SSH_AUTH_SOCK=/run/buildkit/ssh_agent.0".to_string()),
            "{:?}",
            meta.env
        );
        // Root first, then folders by destination, then secrets and sockets.
        let dests: Vec<&str> = exec.mounts.iter().map(|m| m.dest.as_str()).collect();
        assert_eq!(
            dests,
            ["/", "/src/target", "/tmp", "/tools", "/run/secrets/token", "/run/buildkit/ssh_agent.0"]
        );
        let cache = &exec.mounts[1];
        // The id namespaced and defaulting to the target as written; an
        // owner asked for makes a prepared folder the mount's source.
        assert_eq!(
            cache.cache_opt,
            Some(pb::CacheOpt {
                id: "ns/target".to_string(),
                sharing: pb::CacheSharingOpt::Locked as i32,
            })
        );
        assert_eq!((cache.selector.as_str(), cache.output, cache.readonly), ("/cache", -1, false));
        assert_eq!(exec.mounts[2].tmpfs_opt, Some(pb::TmpfsOpt { size: 1 << 20 }));
        assert_eq!((exec.mounts[3].selector.as_str(), exec.mounts[3].readonly), ("/usr/bin", true));
        let secret = exec.mounts[4].secret_opt.clone().unwrap();
        assert_eq!((secret.id.as_str(), secret.mode, secret.optional), ("token", 0o400, true));
        let ssh = exec.mounts[5].ssh_opt.clone().unwrap();
        assert_eq!((ssh.id.as_str(), ssh.mode), ("default", 0o600));
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
        let err = convert_text("FROM rust:1\n\nRUN --mount=type=tmpfs,target=/x,size=lots true\n", &options())
            .unwrap_err()
            .to_string();
        assert_eq!(err, "Dockerfile:3: RUN --mount: invalid size \"lots\"");
        let err = convert_text("FROM rust:1\nEXPOSE 80/ftp\n", &options()).unwrap_err().to_string();
        assert!(err.starts_with("Dockerfile:2: EXPOSE 80/ftp: invalid protocol"), "{err}");
        let err = convert_text("FROM rust:1\nSTOPSIGNAL SIGNOPE\n", &options()).unwrap_err().to_string();
        assert!(err.starts_with("Dockerfile:2: STOPSIGNAL \"SIGNOPE\": not a signal"), "{err}");
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
