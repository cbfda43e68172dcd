//! When instruction values are expanded, and with which variables — BuildKit's
//! rules:
//!
//! - FROM (image and `--platform`) sees only the global scope: the automatic
//!   platform args (`BUILDPLATFORM`, `TARGETARCH`, ...; a build arg of the
//!   same name overrides them) plus the ARGs before the first FROM, each set
//!   from its build arg, else its expanded default, else left unset.
//! - Inside a stage nothing global is visible. The stage starts from the
//!   variables it inherits (the base image's config env, or everything the
//!   parent stage ended with) and each ARG and ENV adds to them in order. An
//!   ARG takes its build arg, else its expanded default, else — when written
//!   without a default — the global value of the same name.
//! - Expanded: ENV and LABEL keys and values, WORKDIR, USER, VOLUME,
//!   STOPSIGNAL, EXPOSE (into words), COPY and ADD sources, destination,
//!   `--chown`, `--chmod`, `--checksum`, `--exclude`, and their heredoc bodies unless the
//!   marker was quoted (bodies treat quotes literally and always use `\`),
//!   and RUN `--mount` fields. Not expanded: RUN, CMD, ENTRYPOINT and
//!   HEALTHCHECK commands (the shell or the program sees the variables),
//!   SHELL, ONBUILD, MAINTAINER, and `--from` (the parser rejects variables
//!   there: the stage graph must be known before expansion).
//!
//! Design: the inherited variables are only known while converting (the base
//! image's config has to be resolved first, or the parent stage converted),
//! so expansion is not a separate pass. The converter makes one
//! [`GlobalScope`], calls [`GlobalScope::resolve_base`] for each FROM, then
//! per stage feeds the instructions in order to a [`StageExpander`] seeded
//! with the inherited variables, using [`StageExpander::vars`] as the RUN
//! environment and [`StageExpander::into_vars`] to seed child stages.

use std::collections::HashMap;

use super::expand::{Lexer, Variables};
use super::instructions::{ArgDecl, Copy, Dockerfile, Instruction, LocatedInstruction, Stage};
use super::parser::DEFAULT_ESCAPE;
use super::{Error, ErrorKind};

/// An OCI platform, as used for the automatic platform args.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    pub variant: Option<String>,
}

impl Platform {
    pub fn new(os: &str, architecture: &str) -> Self {
        Platform {
            os: os.to_string(),
            architecture: architecture.to_string(),
            variant: None,
        }
    }

    /// `os/architecture[/variant]`, the form `--platform` takes.
    pub fn specifier(&self) -> String {
        match &self.variant {
            Some(variant) => format!("{}/{}/{variant}", self.os, self.architecture),
            None => format!("{}/{}", self.os, self.architecture),
        }
    }
}

/// The platforms behind BuildKit's automatic build args.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AutomaticArgs {
    /// Where RUN executes (the builder's platform).
    pub build_platform: Platform,
    /// What the image is for; `wasi/wasm` for wasmpack's final stages.
    pub target_platform: Platform,
}

impl AutomaticArgs {
    pub fn variables(&self) -> Variables {
        let [build, target] = [&self.build_platform, &self.target_platform];
        let variant = |p: &Platform| p.variant.clone().unwrap_or_default();
        Variables::from_iter([
            ("BUILDPLATFORM", build.specifier()),
            ("BUILDOS", build.os.clone()),
            ("BUILDARCH", build.architecture.clone()),
            ("BUILDVARIANT", variant(build)),
            ("TARGETPLATFORM", target.specifier()),
            ("TARGETOS", target.os.clone()),
            ("TARGETARCH", target.architecture.clone()),
            ("TARGETVARIANT", variant(target)),
        ])
    }
}

/// The variables FROM lines see, and what stage ARGs fall back to.
#[derive(Clone, Debug)]
pub struct GlobalScope {
    file_name: String,
    escape: char,
    build_args: HashMap<String, String>,
    args: Variables,
}

/// A stage's base after expansion.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StageBase {
    /// An image reference, or the name of an earlier stage.
    pub image: String,
    pub platform: Option<String>,
}

impl Dockerfile {
    /// Resolves the global ARGs against `build_args` (the `--build-arg`
    /// values) and the automatic platform args.
    pub fn global_scope(
        &self,
        build_args: &HashMap<String, String>,
        automatic: &AutomaticArgs,
    ) -> Result<GlobalScope, Error> {
        let mut args = automatic.variables();
        let overridden: Vec<(String, String)> = args
            .iter()
            .filter_map(|(name, _)| Some((name.to_string(), build_args.get(name)?.clone())))
            .collect();
        for (name, value) in overridden {
            args.set(name, value);
        }

        let lexer = Lexer::new(self.directives.escape);
        for global in &self.global_args {
            let ArgDecl { name, default } = &global.arg;
            let value = match (build_args.get(name), default) {
                (Some(value), _) => Some(value.clone()),
                (None, Some(default)) => Some(
                    expand_with(&lexer, default, &args)
                        .map_err(|kind| Error::new(&self.file_name, global.line, kind))?,
                ),
                (None, None) => None,
            };
            // A global ARG without a value hides an automatic one of the
            // same name, as in BuildKit.
            match value {
                Some(value) => args.set(name.clone(), value),
                None => args.unset(name),
            }
        }

        Ok(GlobalScope {
            file_name: self.file_name.clone(),
            escape: self.directives.escape,
            build_args: build_args.clone(),
            args,
        })
    }
}

impl GlobalScope {
    /// The resolved global variables.
    pub fn args(&self) -> &Variables {
        &self.args
    }

    /// Expands a stage's FROM image and `--platform` with the global
    /// variables. Neither may end up empty.
    pub fn resolve_base(&self, stage: &Stage) -> Result<StageBase, Error> {
        let at = |kind| Error::new(&self.file_name, stage.line, kind);
        let lexer = Lexer::new(self.escape);
        let non_empty = |what, text: &str| {
            let value = expand_with(&lexer, text, &self.args).map_err(at)?;
            if value.is_empty() {
                return Err(at(ErrorKind::EmptyAfterExpansion {
                    what,
                    text: text.to_string(),
                }));
            }
            Ok(value)
        };
        Ok(StageBase {
            image: non_empty("base image", &stage.from)?,
            platform: match &stage.platform {
                Some(platform) => Some(non_empty("platform", platform)?),
                None => None,
            },
        })
    }

    /// An expander for one stage, starting from the variables the stage
    /// inherits (base image config env, or the parent stage's final vars).
    pub fn stage_expander(&self, inherited: Variables) -> StageExpander<'_> {
        StageExpander {
            scope: self,
            vars: inherited,
        }
    }
}

/// Expands a stage's instructions in order, tracking its ARG and ENV values.
#[derive(Clone, Debug)]
pub struct StageExpander<'a> {
    scope: &'a GlobalScope,
    vars: Variables,
}

impl StageExpander<'_> {
    /// The instruction with its values expanded (see the module comment for
    /// which); ARG declarations come back holding their resolved values.
    /// ARG and ENV also update the variables later instructions see.
    pub fn expand(&mut self, located: &LocatedInstruction) -> Result<Instruction, Error> {
        self.expand_instruction(&located.instruction)
            .map_err(|kind| Error::new(&self.scope.file_name, located.line, kind))
    }

    /// The variables visible now: the environment for a RUN at this point.
    pub fn vars(&self) -> &Variables {
        &self.vars
    }

    /// The variables at the end of the stage, for stages built on it.
    pub fn into_vars(self) -> Variables {
        self.vars
    }

    fn expand_instruction(&mut self, instruction: &Instruction) -> Result<Instruction, ErrorKind> {
        let lexer = Lexer::new(self.scope.escape);
        let expand = |text: &str, vars: &Variables| expand_with(&lexer, text, vars);
        let expand_pairs = |pairs: &[(String, String)], vars: &Variables| {
            pairs
                .iter()
                .map(|(k, v)| Ok((expand(k, vars)?, expand(v, vars)?)))
                .collect::<Result<Vec<_>, ErrorKind>>()
        };

        Ok(match instruction {
            Instruction::Arg(decls) => {
                let mut resolved = Vec::new();
                for ArgDecl { name, default } in decls {
                    let value = match (self.scope.build_args.get(name), default) {
                        (Some(value), _) => Some(value.clone()),
                        (None, Some(default)) => Some(expand(default, &self.vars)?),
                        (None, None) => self.scope.args.get(name).map(str::to_string),
                    };
                    if let Some(value) = &value {
                        self.vars.set(name.clone(), value.clone());
                    }
                    resolved.push(ArgDecl {
                        name: name.clone(),
                        default: value,
                    });
                }
                Instruction::Arg(resolved)
            }
            Instruction::Env(pairs) => {
                // All pairs see the variables from before this ENV.
                let pairs = expand_pairs(pairs, &self.vars)?;
                for (name, value) in &pairs {
                    self.vars.set(name.clone(), value.clone());
                }
                Instruction::Env(pairs)
            }
            Instruction::Label(pairs) => Instruction::Label(expand_pairs(pairs, &self.vars)?),
            Instruction::Workdir(path) => Instruction::Workdir(expand(path, &self.vars)?),
            Instruction::Copy(copy) => Instruction::Copy(self.expand_copy(&lexer, copy)?),
            Instruction::Add(copy) => Instruction::Add(self.expand_copy(&lexer, copy)?),
            Instruction::User(user) => Instruction::User(expand(user, &self.vars)?),
            Instruction::StopSignal(signal) => Instruction::StopSignal(expand(signal, &self.vars)?),
            Instruction::Volume(volumes) => Instruction::Volume(
                volumes
                    .iter()
                    .map(|v| expand(v, &self.vars))
                    .collect::<Result<_, _>>()?,
            ),
            Instruction::Expose(ports) => {
                let mut words = Vec::new();
                for port in ports {
                    words.extend(lexer.expand_words(port, &self.vars).map_err(|reason| {
                        ErrorKind::Expansion {
                            text: port.clone(),
                            reason,
                        }
                    })?);
                }
                Instruction::Expose(words)
            }
            Instruction::Run(run) => {
                let mut run = run.clone();
                for mount in &mut run.mounts {
                    for field in [&mut mount.target, &mut mount.source, &mut mount.id] {
                        *field = expand(field, &self.vars)?;
                    }
                    for field in [
                        &mut mount.mode,
                        &mut mount.uid,
                        &mut mount.gid,
                        &mut mount.size,
                    ]
                    .into_iter()
                    .flatten()
                    {
                        *field = expand(field, &self.vars)?;
                    }
                }
                Instruction::Run(run)
            }
            Instruction::Entrypoint(_)
            | Instruction::Cmd(_)
            | Instruction::Healthcheck(_)
            | Instruction::Shell(_)
            | Instruction::Onbuild(_)
            | Instruction::Maintainer(_) => instruction.clone(),
        })
    }

    /// COPY and ADD: sources, destination, `--chown`, `--chmod`,
    /// `--checksum`, and heredoc bodies unless their marker was quoted
    /// (bodies treat quotes literally and always use `\`).
    fn expand_copy(&self, lexer: &Lexer, copy: &Copy) -> Result<Copy, ErrorKind> {
        let expand = |text: &str| expand_with(lexer, text, &self.vars);
        let optional = |value: &Option<String>| value.as_deref().map(expand).transpose();
        let body_lexer = Lexer {
            literal_quotes: true,
            ..Lexer::new(DEFAULT_ESCAPE)
        };
        let mut heredocs = copy.heredocs.clone();
        for heredoc in heredocs.iter_mut().filter(|h| h.expand) {
            heredoc.content = expand_with(&body_lexer, &heredoc.content, &self.vars)?;
        }
        Ok(Copy {
            sources: copy
                .sources
                .iter()
                .map(|s| expand(s))
                .collect::<Result<_, _>>()?,
            dest: expand(&copy.dest)?,
            chown: optional(&copy.chown)?,
            chmod: optional(&copy.chmod)?,
            checksum: optional(&copy.checksum)?,
            exclude: copy
                .exclude
                .iter()
                .map(|p| expand(p))
                .collect::<Result<_, _>>()?,
            heredocs,
            ..copy.clone()
        })
    }
}

fn expand_with(lexer: &Lexer, text: &str, vars: &Variables) -> Result<String, ErrorKind> {
    lexer
        .expand(text, vars)
        .map_err(|reason| ErrorKind::Expansion {
            text: text.to_string(),
            reason,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dockerfile::ShellOrExec;

    fn automatic() -> AutomaticArgs {
        AutomaticArgs {
            build_platform: Platform::new("linux", "amd64"),
            target_platform: Platform::new("wasi", "wasm"),
        }
    }

    fn build_args(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn dockerfile(text: &str) -> Dockerfile {
        match Dockerfile::parse("Dockerfile", text) {
            Ok(dockerfile) => dockerfile,
            Err(err) => panic!("{err}"),
        }
    }

    /// Expands every instruction of stage `index` with nothing inherited.
    fn expand_stage(
        text: &str,
        index: usize,
        args: &[(&str, &str)],
    ) -> Result<(Vec<Instruction>, Variables), Error> {
        let dockerfile = dockerfile(text);
        let scope = dockerfile.global_scope(&build_args(args), &automatic())?;
        let mut expander = scope.stage_expander(Variables::new());
        let expanded = dockerfile.stages[index]
            .instructions
            .iter()
            .map(|i| expander.expand(i))
            .collect::<Result<_, _>>()?;
        Ok((expanded, expander.into_vars()))
    }

    #[test]
    fn automatic_args_and_build_arg_override() {
        let vars = automatic().variables();
        assert_eq!(vars.get("BUILDPLATFORM"), Some("linux/amd64"));
        assert_eq!(vars.get("TARGETPLATFORM"), Some("wasi/wasm"));
        assert_eq!(vars.get("TARGETARCH"), Some("wasm"));
        assert_eq!(vars.get("BUILDVARIANT"), Some(""));
        let mut arm = Platform::new("linux", "arm64");
        arm.variant = Some("v8".into());
        assert_eq!(arm.specifier(), "linux/arm64/v8");

        let file = dockerfile("FROM --platform=$BUILDPLATFORM a\n");
        let scope = file
            .global_scope(
                &build_args(&[("BUILDPLATFORM", "linux/arm64")]),
                &automatic(),
            )
            .unwrap();
        assert_eq!(scope.args().get("BUILDPLATFORM"), Some("linux/arm64"));
        assert_eq!(scope.args().get("BUILDARCH"), Some("amd64"));
        assert_eq!(
            scope
                .resolve_base(&file.stages[0])
                .unwrap()
                .platform
                .as_deref(),
            Some("linux/arm64")
        );
    }

    #[test]
    fn walkthrough_bases() {
        let file = dockerfile(include_str!("../../testdata/rust-to-wasm.Dockerfile"));
        let scope = file.global_scope(&HashMap::new(), &automatic()).unwrap();
        let bases: Vec<_> = file
            .stages
            .iter()
            .map(|s| scope.resolve_base(s).unwrap())
            .collect();
        assert_eq!(
            bases,
            [
                StageBase {
                    image: "rust:1.64".into(),
                    platform: Some("linux/amd64".into())
                },
                StageBase {
                    image: "buildbase".into(),
                    platform: None
                },
                StageBase {
                    image: "scratch".into(),
                    platform: None
                },
            ]
        );
    }

    #[test]
    fn global_arg_used_in_from() {
        let text = "ARG RUST=1.64\nARG IMAGE=rust:${RUST}-slim\nFROM ${IMAGE} AS b\nFROM ${UNSET:-scratch}\n";
        let file = dockerfile(text);
        let scope = file.global_scope(&HashMap::new(), &automatic()).unwrap();
        assert_eq!(
            scope.resolve_base(&file.stages[0]).unwrap().image,
            "rust:1.64-slim"
        );
        assert_eq!(
            scope.resolve_base(&file.stages[1]).unwrap().image,
            "scratch"
        );

        let scope = file
            .global_scope(&build_args(&[("RUST", "1.80")]), &automatic())
            .unwrap();
        assert_eq!(
            scope.resolve_base(&file.stages[0]).unwrap().image,
            "rust:1.80-slim"
        );
    }

    #[test]
    fn global_arg_needs_redeclaring_inside_a_stage() {
        let text = concat!(
            "ARG VERSION=1.0\n",
            "FROM scratch\n",
            "WORKDIR /before/$VERSION\n",
            "ARG VERSION\n",
            "WORKDIR /after/$VERSION\n",
            "ARG TARGETARCH\n",
            "WORKDIR /arch/$TARGETARCH/$BUILDARCH\n",
        );
        let (expanded, _) = expand_stage(text, 0, &[]).unwrap();
        assert_eq!(
            expanded,
            [
                Instruction::Workdir("/before/".into()),
                Instruction::Arg(vec![ArgDecl {
                    name: "VERSION".into(),
                    default: Some("1.0".into())
                }]),
                Instruction::Workdir("/after/1.0".into()),
                Instruction::Arg(vec![ArgDecl {
                    name: "TARGETARCH".into(),
                    default: Some("wasm".into())
                }]),
                Instruction::Workdir("/arch/wasm/".into()),
            ]
        );
    }

    #[test]
    fn stage_arg_values_come_from_build_args_then_defaults() {
        let text = "FROM scratch\nARG A=default B=$A-b C\nENV OUT=$A,$B,$C\n";
        let (_, vars) = expand_stage(text, 0, &[]).unwrap();
        assert_eq!(vars.get("OUT"), Some("default,default-b,"));
        assert_eq!(vars.get("C"), None);

        let (_, vars) = expand_stage(text, 0, &[("A", "given"), ("C", "c")]).unwrap();
        assert_eq!(vars.get("OUT"), Some("given,given-b,c"));
    }

    #[test]
    fn env_expansion_and_quotes() {
        let text = concat!(
            "FROM scratch\n",
            "ENV abc=hello\n",
            "ENV abc=bye def=$abc\n",
            "ENV ghi=$abc\n",
            "ENV Q=\"a $ghi\" S='$abc' E=x\\ y D=${NOPE:-dflt}\n",
            "ENV LEGACY \"quoted\" $abc\n",
            "LABEL \"title\"=\"$def world\"\n",
        );
        let (expanded, vars) = expand_stage(text, 0, &[]).unwrap();
        assert_eq!(vars.get("def"), Some("hello"));
        assert_eq!(vars.get("ghi"), Some("bye"));
        assert_eq!(vars.get("Q"), Some("a bye"));
        assert_eq!(vars.get("S"), Some("$abc"));
        assert_eq!(vars.get("E"), Some("x y"));
        assert_eq!(vars.get("D"), Some("dflt"));
        assert_eq!(vars.get("LEGACY"), Some("quoted bye"));
        assert_eq!(
            expanded[5],
            Instruction::Label(vec![("title".into(), "hello world".into())])
        );
    }

    #[test]
    fn inherited_variables_are_visible() {
        let file = dockerfile("FROM rust\nENV PATH=/usr/local/cargo/bin:$PATH\n");
        let scope = file.global_scope(&HashMap::new(), &automatic()).unwrap();
        let mut expander = scope.stage_expander(Variables::from_iter([("PATH", "/usr/bin")]));
        expander.expand(&file.stages[0].instructions[0]).unwrap();
        assert_eq!(
            expander.vars().get("PATH"),
            Some("/usr/local/cargo/bin:/usr/bin")
        );
    }

    #[test]
    fn copy_and_run_expansion() {
        let text = concat!(
            "FROM scratch\n",
            "ARG OWNER=1000 DIR=/app\n",
            "COPY --chown=$OWNER:$OWNER --from=build $DIR/a ${DIR}/b $DIR/\n",
            "COPY <<a.txt <<'b.txt' $DIR/\n",
            "dir=$DIR \"q\" \\$DIR\n",
            "a.txt\n",
            "dir=$DIR\n",
            "b.txt\n",
            "RUN echo $DIR\n",
            "CMD echo $DIR\n",
        );
        let (expanded, _) = expand_stage(text, 0, &[]).unwrap();
        let Instruction::Copy(copy) = &expanded[1] else {
            panic!("{expanded:?}");
        };
        assert_eq!(copy.chown.as_deref(), Some("1000:1000"));
        assert_eq!(copy.sources, ["/app/a", "/app/b"]);
        assert_eq!(copy.dest, "/app/");
        assert_eq!(copy.from.as_deref(), Some("build"));

        let Instruction::Copy(copy) = &expanded[2] else {
            panic!("{expanded:?}");
        };
        assert_eq!(copy.dest, "/app/");
        assert_eq!(copy.heredocs[0].content, "dir=/app \"q\" $DIR\n");
        assert_eq!(copy.heredocs[1].content, "dir=$DIR\n");

        let Instruction::Run(run) = &expanded[3] else {
            panic!("{expanded:?}");
        };
        assert_eq!(run.command, ShellOrExec::Shell("echo $DIR".into()));
        assert_eq!(
            expanded[4],
            Instruction::Cmd(ShellOrExec::Shell("echo $DIR".into()))
        );
    }

    #[test]
    fn quotes_in_shell_form_copy_are_not_word_grouping() {
        // As in BuildKit, shell-form COPY splits on whitespace only, so a
        // quoted path with a space leaves each half with an open quote.
        let err = expand_stage("FROM scratch\nCOPY \"a b\" /d\n", 0, &[]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Dockerfile:2: cannot expand \"\\\"a\": missing closing \" quote"
        );
    }

    #[test]
    fn backtick_escape_in_expansion() {
        let text = "# escape=`\nFROM scratch\nENV A=1\nWORKDIR C:\\`$A\\$A\n";
        let (expanded, _) = expand_stage(text, 0, &[]).unwrap();
        assert_eq!(expanded[1], Instruction::Workdir("C:\\$A\\1".into()));
    }

    #[test]
    fn expansion_errors_name_file_and_line() {
        let text = "FROM scratch\nENV A=1\n\nWORKDIR ${NEEDED:?set NEEDED}\n";
        let err = expand_stage(text, 0, &[]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Dockerfile:4: cannot expand \"${NEEDED:?set NEEDED}\": NEEDED: set NEEDED"
        );

        let file = dockerfile("ARG IMAGE\nFROM $IMAGE\n");
        let scope = file.global_scope(&HashMap::new(), &automatic()).unwrap();
        assert_eq!(
            scope.resolve_base(&file.stages[0]).unwrap_err().to_string(),
            "Dockerfile:2: base image \"$IMAGE\" expands to an empty string"
        );

        let file = dockerfile("ARG BAD=${oops\nFROM a\n");
        assert_eq!(
            file.global_scope(&HashMap::new(), &automatic())
                .unwrap_err()
                .to_string(),
            "Dockerfile:1: cannot expand \"${oops\": missing '}'"
        );
    }

    #[test]
    fn child_stage_inherits_parent_variables() {
        let file =
            dockerfile("FROM a AS base\nARG V=1\nENV E=$V\nFROM base\nRUN true\nWORKDIR /$E$V\n");
        let scope = file.global_scope(&HashMap::new(), &automatic()).unwrap();
        let mut parent = scope.stage_expander(Variables::new());
        for instruction in &file.stages[0].instructions {
            parent.expand(instruction).unwrap();
        }
        let mut child = scope.stage_expander(parent.into_vars());
        let expanded: Vec<_> = file.stages[1]
            .instructions
            .iter()
            .map(|i| child.expand(i).unwrap())
            .collect();
        assert_eq!(expanded[1], Instruction::Workdir("/11".into()));
    }
}
