//! Typed Dockerfile instructions, grouped into stages: the types, here;
//! [`parse`] reads parsed [`Node`](super::parser::Node)s into them, and
//! [`flags`] each instruction's flags (BuildKit's `bflag.go`).
//!
//! Every Dockerfile instruction is read, with the argument forms and flags
//! BuildKit's Dockerfile frontend (syntax 1.7) accepts; an unknown keyword
//! is an error with a spelling suggestion ([`suggest`]), and so is an unknown
//! flag: nothing is skipped silently.
//!
//! FROM is not an [`Instruction`]: it becomes the [`Stage`] that owns the
//! following instructions, so a stage's list can never hold one. ARGs before
//! the first FROM are the Dockerfile's [`GlobalArg`]s.
//!
//! Values are kept as written (quotes, `$VAR`) — BuildKit expands them only
//! while converting, with variables that depend on the base image. See
//! [`super::scope`] for when and with what each field is expanded.

mod flags;
mod parse;
mod suggest;
#[cfg(test)]
mod tests;

use crate::dockerfile::mount::Mount;
use crate::dockerfile::parser::{Directives, Heredoc, Warning};

pub use parse::parse_trigger;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ShellOrExec {
    /// Shell form: the text handed to the shell (`sh -c`), as written.
    Shell(String),
    /// Exec (JSON) form: argv.
    Exec(Vec<String>),
}

/// `RUN --security=`: `insecure` needs the `security.insecure` entitlement.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Security {
    #[default]
    Sandbox,
    Insecure,
}

/// `RUN --network=`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Network {
    #[default]
    Default,
    None,
    Host,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArgDecl {
    pub name: String,
    /// As parsed: the default written after `=`. From
    /// [`super::StageExpander::expand`]: the value the ARG resolved to
    /// (build arg, default, or global value), `None` when it stays unset.
    pub default: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Run {
    pub command: ShellOrExec,
    /// Inline files named by heredoc markers in the (shell form) command.
    pub heredocs: Vec<Heredoc>,
    pub mounts: Vec<Mount>,
    pub network: Network,
    pub security: Security,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Copy {
    /// Paths in the build context or the `from` stage/image.
    pub sources: Vec<String>,
    pub dest: String,
    /// `--from`: a stage name, stage index or image; never contains variables.
    pub from: Option<String>,
    pub link: bool,
    pub chown: Option<String>,
    pub chmod: Option<String>,
    /// Heredoc sources: inline files created under their names in `dest`.
    pub heredocs: Vec<Heredoc>,
    /// ADD only: `--checksum` of an http(s) source, `--keep-git-dir` of a
    /// git source.
    pub checksum: Option<String>,
    pub keep_git_dir: bool,
    /// `--exclude` patterns (BuildKit's labs channel in syntax 1.7): paths
    /// under a copied folder that are left out.
    pub exclude: Vec<String>,
    /// COPY `--parents` (labs in 1.7): sources keep their folders under the
    /// destination, from the root or from a `/./` pivot in the source.
    pub parents: bool,
}

/// `HEALTHCHECK`: the config Docker keeps, durations in nanoseconds, zero
/// meaning "the engine's default".
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Healthcheck {
    /// `["NONE"]`, `["CMD", argv...]` or `["CMD-SHELL", text]`.
    pub test: Vec<String>,
    pub interval: i64,
    pub timeout: i64,
    pub start_period: i64,
    pub start_interval: i64,
    pub retries: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Instruction {
    Arg(Vec<ArgDecl>),
    Env(Vec<(String, String)>),
    Label(Vec<(String, String)>),
    Workdir(String),
    Run(Run),
    Copy(Copy),
    /// COPY plus URLs, git repositories and local archives unpacked.
    Add(Copy),
    Entrypoint(ShellOrExec),
    Cmd(ShellOrExec),
    User(String),
    /// Port specs as written (`80`, `53/udp`, `8000-8010`).
    Expose(Vec<String>),
    Volume(Vec<String>),
    StopSignal(String),
    Healthcheck(Healthcheck),
    Shell(Vec<String>),
    /// The trigger instruction as written, kept in the image config.
    Onbuild(String),
    Maintainer(String),
}

impl Instruction {
    /// The canonical (upper case) keyword.
    pub fn keyword(&self) -> &'static str {
        match self {
            Instruction::Arg(_) => "ARG",
            Instruction::Env(_) => "ENV",
            Instruction::Label(_) => "LABEL",
            Instruction::Workdir(_) => "WORKDIR",
            Instruction::Run(_) => "RUN",
            Instruction::Copy(_) => "COPY",
            Instruction::Add(_) => "ADD",
            Instruction::Entrypoint(_) => "ENTRYPOINT",
            Instruction::Cmd(_) => "CMD",
            Instruction::User(_) => "USER",
            Instruction::Expose(_) => "EXPOSE",
            Instruction::Volume(_) => "VOLUME",
            Instruction::StopSignal(_) => "STOPSIGNAL",
            Instruction::Healthcheck(_) => "HEALTHCHECK",
            Instruction::Shell(_) => "SHELL",
            Instruction::Onbuild(_) => "ONBUILD",
            Instruction::Maintainer(_) => "MAINTAINER",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocatedInstruction {
    /// 1-based first and last line in the Dockerfile.
    pub line: usize,
    pub end_line: usize,
    /// The instruction as written (continuations joined), for progress names.
    pub source: String,
    pub instruction: Instruction,
}

/// An ARG before the first FROM: usable in FROM lines, and in a stage once
/// redeclared there without a value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GlobalArg {
    pub line: usize,
    pub arg: ArgDecl,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stage {
    /// The `AS` name, lower-cased (stage names are case-insensitive).
    pub name: Option<String>,
    /// Base image or earlier stage name, unexpanded.
    pub from: String,
    /// `--platform`, unexpanded.
    pub platform: Option<String>,
    /// Line of the FROM instruction.
    pub line: usize,
    pub source: String,
    pub instructions: Vec<LocatedInstruction>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dockerfile {
    /// As given to [`Dockerfile::parse`]; used in errors.
    pub file_name: String,
    pub directives: Directives,
    pub global_args: Vec<GlobalArg>,
    pub stages: Vec<Stage>,
    /// What the parser warns about; the file is usable regardless.
    pub warnings: Vec<Warning>,
}
