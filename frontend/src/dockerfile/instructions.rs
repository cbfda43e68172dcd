//! Parsed [`Node`]s to typed instructions, grouped into stages.
//!
//! Supported: FROM (opens a [`Stage`]), ARG, ENV, LABEL, WORKDIR, RUN, COPY,
//! ENTRYPOINT, CMD. The other Dockerfile instructions (ADD, USER, EXPOSE,
//! VOLUME, STOPSIGNAL, HEALTHCHECK, SHELL, ONBUILD, MAINTAINER) are errors
//! saying they are not supported yet, and an unknown keyword is an error
//! with a spelling suggestion: nothing is skipped silently. Unknown flags are
//! errors too; flags BuildKit knows but wasmpack does not handle yet say so.
//!
//! FROM is not an [`Instruction`]: it becomes the [`Stage`] that owns the
//! following instructions, so a stage's list can never hold one. ARGs before
//! the first FROM are the Dockerfile's [`GlobalArg`]s.
//!
//! Values are kept as written (quotes, `$VAR`) — BuildKit expands them only
//! while converting, with variables that depend on the base image. See
//! [`super::scope`] for when and with what each field is expanded.

use super::expand::{split_words, Lexer, Variables};
use super::parser::{self, is_separator, split_first_word, Directives, Heredoc, Node};
use super::{Error, ErrorKind};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ShellOrExec {
    /// Shell form: the text handed to the shell (`sh -c`), as written.
    Shell(String),
    /// Exec (JSON) form: argv.
    Exec(Vec<String>),
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
    /// `--mount` values, unparsed for now.
    pub mounts: Vec<String>,
    pub network: Network,
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
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Instruction {
    Arg(Vec<ArgDecl>),
    Env(Vec<(String, String)>),
    Label(Vec<(String, String)>),
    Workdir(String),
    Run(Run),
    Copy(Copy),
    Entrypoint(ShellOrExec),
    Cmd(ShellOrExec),
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
            Instruction::Entrypoint(_) => "ENTRYPOINT",
            Instruction::Cmd(_) => "CMD",
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
}

impl Dockerfile {
    /// Parses `text`. `file_name` (such as "Dockerfile") names the file in
    /// errors.
    pub fn parse(file_name: &str, text: &str) -> Result<Dockerfile, Error> {
        let parsed = parser::parse(file_name, text)?;
        let escape = parsed.directives.escape;
        let mut global_args = Vec::new();
        let mut stages: Vec<Stage> = Vec::new();

        for node in &parsed.nodes {
            let at = |kind| Error::new(file_name, node.start_line, kind);
            match parse_node(node, escape).map_err(at)? {
                Statement::Stage(stage) => {
                    if let Some(earlier) = stages.iter().find(|s| s.name.is_some() && s.name == stage.name) {
                        return Err(at(ErrorKind::DuplicateStageName {
                            name: stage.name.unwrap_or_default(),
                            first_line: earlier.line,
                        }));
                    }
                    stages.push(stage);
                }
                Statement::Instruction(instruction) => match stages.last_mut() {
                    Some(stage) => stage.instructions.push(LocatedInstruction {
                        line: node.start_line,
                        end_line: node.end_line,
                        source: node.source.clone(),
                        instruction,
                    }),
                    None => match instruction {
                        Instruction::Arg(args) => global_args.extend(args.into_iter().map(|arg| GlobalArg { line: node.start_line, arg })),
                        other => return Err(at(ErrorKind::InstructionBeforeFrom { keyword: other.keyword() })),
                    },
                },
            }
        }

        if stages.is_empty() {
            let last_line = parsed.nodes.last().map_or(1, |n| n.end_line);
            return Err(Error::new(file_name, last_line, ErrorKind::NoStages));
        }
        Ok(Dockerfile {
            file_name: file_name.to_string(),
            directives: parsed.directives,
            global_args,
            stages,
        })
    }
}

enum Statement {
    Stage(Stage),
    Instruction(Instruction),
}

/// Every Dockerfile keyword, for recognising unsupported ones and for
/// spelling suggestions.
const KNOWN_KEYWORDS: [&str; 18] = [
    "ADD",
    "ARG",
    "CMD",
    "COPY",
    "ENTRYPOINT",
    "ENV",
    "EXPOSE",
    "FROM",
    "HEALTHCHECK",
    "LABEL",
    "MAINTAINER",
    "ONBUILD",
    "RUN",
    "SHELL",
    "STOPSIGNAL",
    "USER",
    "VOLUME",
    "WORKDIR",
];

fn parse_node(node: &Node, escape: char) -> Result<Statement, ErrorKind> {
    let keyword = node.keyword.to_ascii_uppercase();
    let instruction = match keyword.as_str() {
        "FROM" => return parse_from(node).map(Statement::Stage),
        "ARG" => parse_arg(node, escape)?,
        "ENV" => Instruction::Env(parse_pairs("ENV", node, escape)?),
        "LABEL" => Instruction::Label(parse_pairs("LABEL", node, escape)?),
        "WORKDIR" => parse_workdir(node)?,
        "RUN" => parse_run(node)?,
        "COPY" => parse_copy(node, escape)?,
        "ENTRYPOINT" => Instruction::Entrypoint(parse_command("ENTRYPOINT", node)?),
        "CMD" => Instruction::Cmd(parse_command("CMD", node)?),
        known if KNOWN_KEYWORDS.contains(&known) => return Err(ErrorKind::UnsupportedInstruction { keyword }),
        _ => {
            return Err(ErrorKind::UnknownInstruction {
                keyword: node.keyword.clone(),
                suggestion: suggest_keyword(&node.keyword),
            })
        }
    };
    Ok(Statement::Instruction(instruction))
}

fn invalid_arguments(keyword: &'static str, node: &Node, problem: &str) -> ErrorKind {
    ErrorKind::InvalidArguments {
        keyword,
        text: node.args.clone(),
        problem: problem.to_string(),
    }
}

/// Arguments split on whitespace, quotes not special (FROM; COPY in shell
/// form), as BuildKit does.
fn whitespace_separated(text: &str) -> Vec<String> {
    text.split(is_separator).filter(|word| !word.is_empty()).map(str::to_string).collect()
}

fn parse_from(node: &Node) -> Result<Stage, ErrorKind> {
    let flags = parse_flags("FROM", node, &[("platform", FlagKind::Value)], &[])?;
    let args = whitespace_separated(&node.args);
    let (from, name) = match args.as_slice() {
        [from] => (from, None),
        [from, as_word, name] if as_word.eq_ignore_ascii_case("as") => {
            let name = name.to_lowercase();
            if !is_valid_stage_name(&name) {
                return Err(ErrorKind::InvalidStageName { name });
            }
            (from, Some(name))
        }
        _ => {
            return Err(invalid_arguments(
                "FROM",
                node,
                "expected FROM [--platform=<platform>] <image> [AS <name>]",
            ))
        }
    };
    Ok(Stage {
        name,
        from: from.clone(),
        platform: flags.value("platform").map(str::to_string),
        line: node.start_line,
        source: node.source.clone(),
        instructions: Vec::new(),
    })
}

fn is_valid_stage_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.'))
}

fn parse_arg(node: &Node, escape: char) -> Result<Instruction, ErrorKind> {
    parse_flags("ARG", node, &[], &[])?;
    let words = split_words(&node.args, escape);
    if words.is_empty() {
        return Err(invalid_arguments("ARG", node, "expected ARG <name>[=<default>] ..."));
    }
    let decls = words
        .into_iter()
        .map(|word| {
            let (name, default) = match word.split_once('=') {
                Some((name, default)) => (name.to_string(), Some(default.to_string())),
                None => (word.clone(), None),
            };
            if name.is_empty() {
                return Err(invalid_arguments("ARG", node, "an ARG name cannot be empty"));
            }
            Ok(ArgDecl { name, default })
        })
        .collect::<Result<_, _>>()?;
    Ok(Instruction::Arg(decls))
}

/// ENV and LABEL: `name=value ...`, or the legacy `name value` form (one
/// pair; the value is the rest of the line) when the first word has no `=`.
fn parse_pairs(keyword: &'static str, node: &Node, escape: char) -> Result<Vec<(String, String)>, ErrorKind> {
    parse_flags(keyword, node, &[], &[])?;
    let words = split_words(&node.args, escape);
    let Some(first) = words.first() else {
        return Err(invalid_arguments(keyword, node, "expected <name>=<value> ..."));
    };
    if !first.contains('=') {
        let (name, value) = split_first_word(&node.args);
        if value.is_empty() {
            return Err(invalid_arguments(
                keyword,
                node,
                "expected <name>=<value> ... or the legacy <name> <value>",
            ));
        }
        return Ok(vec![(name.to_string(), value.to_string())]);
    }
    words
        .iter()
        .map(|word| match word.split_once('=') {
            Some(("", _)) => Err(ErrorKind::InvalidArguments {
                keyword,
                text: word.clone(),
                problem: "the name before '=' cannot be empty".to_string(),
            }),
            Some((name, value)) => Ok((name.to_string(), value.to_string())),
            None => Err(ErrorKind::InvalidArguments {
                keyword,
                text: word.clone(),
                problem: "missing '=': every word must be <name>=<value>".to_string(),
            }),
        })
        .collect()
}

fn parse_workdir(node: &Node) -> Result<Instruction, ErrorKind> {
    parse_flags("WORKDIR", node, &[], &[])?;
    if node.args.is_empty() {
        return Err(invalid_arguments("WORKDIR", node, "expected WORKDIR <path>"));
    }
    Ok(Instruction::Workdir(node.args.clone()))
}

fn command_form(node: &Node) -> ShellOrExec {
    match &node.json_args {
        Some(argv) => ShellOrExec::Exec(argv.clone()),
        None => ShellOrExec::Shell(node.args.clone()),
    }
}

fn parse_run(node: &Node) -> Result<Instruction, ErrorKind> {
    let flags = parse_flags(
        "RUN",
        node,
        &[("mount", FlagKind::Repeated), ("network", FlagKind::Value)],
        &["security", "device"],
    )?;
    let network = match flags.value("network") {
        None | Some("default") => Network::Default,
        Some("none") => Network::None,
        Some("host") => Network::Host,
        Some(other) => {
            return Err(ErrorKind::InvalidFlag {
                keyword: "RUN",
                flag: "--network".to_string(),
                problem: format!("unknown network mode {other:?}: use default, none or host"),
            })
        }
    };
    let command = command_form(node);
    if matches!(&command, ShellOrExec::Shell(s) if s.is_empty()) || matches!(&command, ShellOrExec::Exec(argv) if argv.is_empty()) {
        return Err(invalid_arguments("RUN", node, "expected a command to run"));
    }
    Ok(Instruction::Run(Run {
        command,
        heredocs: node.heredocs.clone(),
        mounts: flags.values("mount"),
        network,
    }))
}

/// CMD and ENTRYPOINT. `[]` (clear) is accepted; an empty shell form is not,
/// since it would run the bare shell.
fn parse_command(keyword: &'static str, node: &Node) -> Result<ShellOrExec, ErrorKind> {
    parse_flags(keyword, node, &[], &[])?;
    let command = command_form(node);
    if command == ShellOrExec::Shell(String::new()) {
        return Err(invalid_arguments(keyword, node, "expected a command; write [] to clear it"));
    }
    Ok(command)
}

fn parse_copy(node: &Node, escape: char) -> Result<Instruction, ErrorKind> {
    let flags = parse_flags(
        "COPY",
        node,
        &[
            ("from", FlagKind::Value),
            ("chown", FlagKind::Value),
            ("chmod", FlagKind::Value),
            ("link", FlagKind::Bool),
        ],
        &["exclude", "parents"],
    )?;
    let words = match &node.json_args {
        Some(words) => words.clone(),
        None => whitespace_separated(&node.args),
    };
    let Some((dest, sources)) = words.split_last().filter(|(_, sources)| !sources.is_empty()) else {
        return Err(invalid_arguments("COPY", node, "expected COPY <source>... <destination>"));
    };
    if parser::parse_heredoc_marker(dest).is_some() {
        return Err(invalid_arguments("COPY", node, "the destination cannot be a heredoc"));
    }

    let mut paths = Vec::new();
    let mut heredocs = Vec::new();
    for source in sources {
        let heredoc = parser::parse_heredoc_marker(source).and_then(|marker| node.heredocs.iter().find(|h| h.name == marker.name));
        match heredoc {
            Some(heredoc) => heredocs.push(heredoc.clone()),
            None => paths.push(source.clone()),
        }
    }

    let non_empty = |name| flags.value(name).filter(|v| !v.is_empty()).map(str::to_string);
    let from = non_empty("from");
    if let Some(from) = &from {
        // The stage graph must be known before any expansion, so BuildKit
        // refuses variables here.
        if Lexer::new(escape).expand(from, &Variables::new()).as_ref() != Ok(from) {
            return Err(ErrorKind::InvalidFlag {
                keyword: "COPY",
                flag: format!("--from={from}"),
                problem: "variables are not allowed here; declare a stage with \
                          FROM ${VAR} AS <name> and use that name"
                    .to_string(),
            });
        }
    }
    Ok(Instruction::Copy(Copy {
        sources: paths,
        dest: dest.clone(),
        from,
        link: flags.value("link") == Some("true"),
        chown: non_empty("chown"),
        chmod: non_empty("chmod"),
        heredocs,
    }))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum FlagKind {
    /// `--name`, `--name=true`, `--name=false`.
    Bool,
    /// `--name=value`, at most once.
    Value,
    /// `--name=value`, any number of times.
    Repeated,
}

/// Flag values by name, in the order given; bools hold "true" or "false".
struct Flags(Vec<(&'static str, String)>);

impl Flags {
    fn value(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
    }

    fn values(&self, name: &str) -> Vec<String> {
        self.0.iter().filter(|(n, _)| *n == name).map(|(_, v)| v.clone()).collect()
    }
}

fn parse_flags(keyword: &'static str, node: &Node, known: &[(&'static str, FlagKind)], not_supported_yet: &[&str]) -> Result<Flags, ErrorKind> {
    let mut flags = Flags(Vec::new());
    for raw in &node.flags {
        let body = raw.strip_prefix("--").unwrap_or(raw);
        let (name, value) = match body.split_once('=') {
            Some((name, value)) => (name, Some(value)),
            None => (body, None),
        };
        let flag = format!("--{name}");
        let invalid = |problem: &str| ErrorKind::InvalidFlag {
            keyword,
            flag: flag.clone(),
            problem: problem.to_string(),
        };
        let Some(&(name, kind)) = known.iter().find(|(known_name, _)| *known_name == name) else {
            if not_supported_yet.contains(&name) {
                return Err(ErrorKind::UnsupportedFlag { keyword, flag });
            }
            let names: Vec<&str> = known.iter().map(|(n, _)| *n).collect();
            return Err(ErrorKind::UnknownFlag {
                keyword,
                suggestion: suggest(name, &names).map(|s| format!("--{s}")),
                flag,
            });
        };
        if kind != FlagKind::Repeated && flags.value(name).is_some() {
            return Err(invalid("given more than once"));
        }
        let value = match (kind, value) {
            (FlagKind::Bool, None) => "true".to_string(),
            (FlagKind::Bool, Some(v)) if v.eq_ignore_ascii_case("true") => "true".to_string(),
            (FlagKind::Bool, Some(v)) if v.eq_ignore_ascii_case("false") => "false".to_string(),
            (FlagKind::Bool, Some(_)) => return Err(invalid("expected true or false")),
            (_, None) => return Err(invalid("missing a value: write --name=value")),
            (_, Some(v)) => v.to_string(),
        };
        flags.0.push((name, value));
    }
    Ok(flags)
}

fn suggest_keyword(keyword: &str) -> Option<String> {
    let suggestion = suggest(&keyword.to_ascii_uppercase(), &KNOWN_KEYWORDS)?;
    // Match the writer's style: lower case if they wrote lower case.
    Some(if keyword == keyword.to_ascii_uppercase() {
        suggestion.to_string()
    } else {
        suggestion.to_ascii_lowercase()
    })
}

/// The closest option within an edit distance of 2, as BuildKit suggests.
fn suggest<'a>(input: &str, options: &[&'a str]) -> Option<&'a str> {
    options
        .iter()
        .map(|option| (edit_distance(input, option), *option))
        .filter(|(distance, _)| *distance < 3)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, option)| option)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current.push(substitution.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_ok(text: &str) -> Dockerfile {
        match Dockerfile::parse("Dockerfile", text) {
            Ok(dockerfile) => dockerfile,
            Err(err) => panic!("{err}"),
        }
    }

    fn parse_err(text: &str) -> String {
        match Dockerfile::parse("Dockerfile", text) {
            Ok(dockerfile) => panic!("expected an error, got {dockerfile:#?}"),
            Err(err) => err.to_string(),
        }
    }

    /// The instructions of the only stage.
    fn instructions(text: &str) -> Vec<Instruction> {
        let dockerfile = parse_ok(text);
        assert_eq!(dockerfile.stages.len(), 1);
        dockerfile.stages[0].instructions.iter().map(|i| i.instruction.clone()).collect()
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    /// Docker's Rust-to-wasm walkthrough, in the shape its guide uses.
    const RUST_WASM_WALKTHROUGH: &str = include_str!("../../testdata/rust-to-wasm.Dockerfile");

    #[test]
    fn rust_to_wasm_walkthrough() {
        let dockerfile = parse_ok(RUST_WASM_WALKTHROUGH);
        assert_eq!(dockerfile.directives.syntax.as_deref(), Some("docker/dockerfile:1"));
        assert!(dockerfile.global_args.is_empty());
        let heads: Vec<_> = dockerfile
            .stages
            .iter()
            .map(|s| (s.name.as_deref(), s.from.as_str(), s.platform.as_deref(), s.line))
            .collect();
        assert_eq!(
            heads,
            [
                (Some("buildbase"), "rust:1.64", Some("$BUILDPLATFORM"), 2),
                (Some("build"), "buildbase", None, 9),
                (None, "scratch", None, 13),
            ]
        );

        let base = &dockerfile.stages[0].instructions;
        assert_eq!(base[0].instruction, Instruction::Workdir("/src".into()));
        assert_eq!((base[1].line, base[1].end_line), (4, 8));
        let Instruction::Run(run) = &base[1].instruction else {
            panic!("{:?}", base[1]);
        };
        assert_eq!(run.command, ShellOrExec::Shell("<<EOT bash".into()));
        assert_eq!(
            run.heredocs[0].content,
            "    set -ex\n    apt-get update\n    rustup target add wasm32-wasi\n"
        );

        let build = &dockerfile.stages[1].instructions;
        assert_eq!(build.len(), 3);
        assert_eq!(build[2].source, "RUN cargo build --target wasm32-wasi --release");

        let last = &dockerfile.stages[2].instructions;
        assert_eq!(
            last[0].instruction,
            Instruction::Entrypoint(ShellOrExec::Exec(vec!["/hello.wasm".into()]))
        );
        assert_eq!(
            last[1].instruction,
            Instruction::Copy(Copy {
                sources: vec!["/src/target/wasm32-wasi/release/hello.wasm".into()],
                dest: "/hello.wasm".into(),
                from: Some("build".into()),
                link: true,
                chown: None,
                chmod: None,
                heredocs: vec![],
            })
        );
        assert_eq!(last[1].line, 15);
    }

    #[test]
    fn keywords_are_case_insensitive() {
        let dockerfile = parse_ok("from alpine as Base\nrun echo hi\nWorkDir /x\n");
        assert_eq!(dockerfile.stages[0].name.as_deref(), Some("base"));
        assert_eq!(
            dockerfile.stages[0].instructions[0].instruction,
            Instruction::Run(Run {
                command: ShellOrExec::Shell("echo hi".into()),
                heredocs: vec![],
                mounts: vec![],
                network: Network::Default,
            })
        );
        assert_eq!(dockerfile.stages[0].instructions[1].instruction, Instruction::Workdir("/x".into()));
    }

    #[test]
    fn global_args_and_several_args_per_line() {
        let dockerfile = parse_ok("ARG A B=\"two words\"\nARG C=\nFROM x\nARG D=1 E\n");
        let globals: Vec<_> = dockerfile
            .global_args
            .iter()
            .map(|g| (g.line, g.arg.name.as_str(), g.arg.default.as_deref()))
            .collect();
        assert_eq!(globals, [(1, "A", None), (1, "B", Some("\"two words\"")), (2, "C", Some(""))]);
        assert_eq!(
            dockerfile.stages[0].instructions[0].instruction,
            Instruction::Arg(vec![
                ArgDecl {
                    name: "D".into(),
                    default: Some("1".into())
                },
                ArgDecl {
                    name: "E".into(),
                    default: None
                },
            ])
        );
    }

    #[test]
    fn env_and_label_forms() {
        let parsed = instructions(concat!(
            "FROM x\n",
            "ENV A=1 B=\"x y\" C=z\\ w\n",
            "ENV LEGACY some value  here\n",
            "LABEL org.opencontainers.image.title=\"hello\" version=1\n",
            "LABEL legacy spaced value\n",
        ));
        assert_eq!(
            parsed,
            [
                Instruction::Env(pairs(&[("A", "1"), ("B", "\"x y\""), ("C", "z\\ w")])),
                Instruction::Env(pairs(&[("LEGACY", "some value  here")])),
                Instruction::Label(pairs(&[("org.opencontainers.image.title", "\"hello\""), ("version", "1")])),
                Instruction::Label(pairs(&[("legacy", "spaced value")])),
            ]
        );
    }

    #[test]
    fn env_errors() {
        assert_eq!(
            parse_err("FROM x\nENV A=1 B\n"),
            "Dockerfile:2: ENV \"B\": missing '=': every word must be <name>=<value>"
        );
        assert_eq!(
            parse_err("FROM x\nENV ONLY\n"),
            "Dockerfile:2: ENV \"ONLY\": expected <name>=<value> ... or the legacy <name> <value>"
        );
        assert_eq!(
            parse_err("FROM x\nLABEL =v\n"),
            "Dockerfile:2: LABEL \"=v\": the name before '=' cannot be empty"
        );
        assert_eq!(parse_err("FROM x\nENV\n"), "Dockerfile:2: ENV \"\": expected <name>=<value> ...");
    }

    #[test]
    fn run_flags_and_forms() {
        let parsed = instructions(concat!(
            "FROM x\n",
            "RUN --mount=type=cache,target=/root/.cargo --mount=type=bind,source=. --network=none cargo build\n",
            "RUN [\"/bin/echo\", \"hi\"]\n",
            "RUN [\"broken\" \n",
        ));
        assert_eq!(
            parsed,
            [
                Instruction::Run(Run {
                    command: ShellOrExec::Shell("cargo build".into()),
                    heredocs: vec![],
                    mounts: vec!["type=cache,target=/root/.cargo".into(), "type=bind,source=.".into()],
                    network: Network::None,
                }),
                Instruction::Run(Run {
                    command: ShellOrExec::Exec(vec!["/bin/echo".into(), "hi".into()]),
                    heredocs: vec![],
                    mounts: vec![],
                    network: Network::Default,
                }),
                Instruction::Run(Run {
                    command: ShellOrExec::Shell("[\"broken\"".into()),
                    heredocs: vec![],
                    mounts: vec![],
                    network: Network::Default,
                }),
            ]
        );
    }

    #[test]
    fn run_errors() {
        assert_eq!(
            parse_err("FROM x\nRUN --network=bridge true\n"),
            "Dockerfile:2: flag \"--network\" on RUN: unknown network mode \"bridge\": use default, none or host"
        );
        assert_eq!(
            parse_err("FROM x\nRUN --security=insecure true\n"),
            "Dockerfile:2: flag \"--security\" on RUN is not supported yet"
        );
        assert_eq!(
            parse_err("FROM x\nRUN --mnt=type=cache true\n"),
            "Dockerfile:2: unknown flag \"--mnt\" on RUN: did you mean --mount?"
        );
        assert_eq!(parse_err("FROM x\nRUN\n"), "Dockerfile:2: RUN \"\": expected a command to run");
        assert_eq!(
            parse_err("FROM x\nRUN --network=none --network=host true\n"),
            "Dockerfile:2: flag \"--network\" on RUN: given more than once"
        );
    }

    #[test]
    fn copy_forms_and_flags() {
        let parsed = instructions(concat!(
            "FROM x\n",
            "COPY --chown=1000:1000 --chmod=755 --link=false a b /dst/\n",
            "COPY [\"with space\", \"/d st\"]\n",
            "COPY --from=0 /a /b\n",
        ));
        assert_eq!(
            parsed,
            [
                Instruction::Copy(Copy {
                    sources: vec!["a".into(), "b".into()],
                    dest: "/dst/".into(),
                    from: None,
                    link: false,
                    chown: Some("1000:1000".into()),
                    chmod: Some("755".into()),
                    heredocs: vec![],
                }),
                Instruction::Copy(Copy {
                    sources: vec!["with space".into()],
                    dest: "/d st".into(),
                    from: None,
                    link: false,
                    chown: None,
                    chmod: None,
                    heredocs: vec![],
                }),
                Instruction::Copy(Copy {
                    sources: vec!["/a".into()],
                    dest: "/b".into(),
                    from: Some("0".into()),
                    link: false,
                    chown: None,
                    chmod: None,
                    heredocs: vec![],
                }),
            ]
        );
    }

    #[test]
    fn copy_heredocs() {
        let parsed = instructions(concat!(
            "FROM x\n",
            "COPY <<one.txt real.txt <<'two.txt' /dst/\n",
            "first $A\n",
            "one.txt\n",
            "second $A\n",
            "two.txt\n",
        ));
        let Instruction::Copy(copy) = &parsed[0] else {
            panic!("{parsed:?}");
        };
        assert_eq!(copy.sources, ["real.txt"]);
        let heredocs: Vec<_> = copy.heredocs.iter().map(|h| (h.name.as_str(), h.content.as_str(), h.expand)).collect();
        assert_eq!(heredocs, [("one.txt", "first $A\n", true), ("two.txt", "second $A\n", false)]);
    }

    #[test]
    fn copy_errors() {
        assert_eq!(
            parse_err("FROM x\nCOPY only\n"),
            "Dockerfile:2: COPY \"only\": expected COPY <source>... <destination>"
        );
        assert_eq!(
            parse_err("FROM x\nCOPY a <<EOF\nEOF\n"),
            "Dockerfile:2: COPY \"a <<EOF\": the destination cannot be a heredoc"
        );
        assert_eq!(
            parse_err("FROM x\nCOPY --form=build a b\n"),
            "Dockerfile:2: unknown flag \"--form\" on COPY: did you mean --from?"
        );
        assert_eq!(
            parse_err("FROM x\nCOPY --from=$STAGE a b\n"),
            "Dockerfile:2: flag \"--from=$STAGE\" on COPY: variables are not allowed here; \
             declare a stage with FROM ${VAR} AS <name> and use that name"
        );
        assert_eq!(
            parse_err("FROM x\nCOPY --link=maybe a b\n"),
            "Dockerfile:2: flag \"--link\" on COPY: expected true or false"
        );
        assert_eq!(
            parse_err("FROM x\nCOPY --chown a b\n"),
            "Dockerfile:2: flag \"--chown\" on COPY: missing a value: write --name=value"
        );
        assert_eq!(
            parse_err("FROM x\nCOPY --parents a b\n"),
            "Dockerfile:2: flag \"--parents\" on COPY is not supported yet"
        );
    }

    #[test]
    fn cmd_and_entrypoint() {
        let parsed = instructions("FROM x\nCMD echo $HOME\nENTRYPOINT []\nCMD [\"a\",\"b\"]\n");
        assert_eq!(
            parsed,
            [
                Instruction::Cmd(ShellOrExec::Shell("echo $HOME".into())),
                Instruction::Entrypoint(ShellOrExec::Exec(vec![])),
                Instruction::Cmd(ShellOrExec::Exec(vec!["a".into(), "b".into()])),
            ]
        );
        assert_eq!(
            parse_err("FROM x\nCMD\n"),
            "Dockerfile:2: CMD \"\": expected a command; write [] to clear it"
        );
    }

    #[test]
    fn unknown_instruction_with_suggestion() {
        assert_eq!(
            parse_err("FROM x\n\n\n\n\n\nCOPPY a b\n"),
            "Dockerfile:7: unknown instruction \"COPPY\": did you mean COPY?"
        );
        assert_eq!(
            parse_err("FROM x\nworkdri /a\n"),
            "Dockerfile:2: unknown instruction \"workdri\": did you mean workdir?"
        );
        assert_eq!(parse_err("FROM x\nFROBNICATE\n"), "Dockerfile:2: unknown instruction \"FROBNICATE\"");
    }

    #[test]
    fn unsupported_instructions_are_errors() {
        for (keyword, line) in [
            ("ADD a b", "ADD"),
            ("user nobody", "USER"),
            ("EXPOSE 80", "EXPOSE"),
            ("VOLUME /data", "VOLUME"),
            ("STOPSIGNAL SIGTERM", "STOPSIGNAL"),
            ("HEALTHCHECK NONE", "HEALTHCHECK"),
            ("SHELL [\"/bin/bash\", \"-c\"]", "SHELL"),
            ("ONBUILD RUN true", "ONBUILD"),
            ("MAINTAINER me", "MAINTAINER"),
        ] {
            assert_eq!(
                parse_err(&format!("FROM x\nRUN true\n{keyword}\n")),
                format!("Dockerfile:3: instruction {line} is not supported yet")
            );
        }
    }

    #[test]
    fn from_errors() {
        assert_eq!(
            parse_err("FROM a b\n"),
            "Dockerfile:1: FROM \"a b\": expected FROM [--platform=<platform>] <image> [AS <name>]"
        );
        assert_eq!(
            parse_err("FROM a AS 1st\n"),
            "Dockerfile:1: invalid stage name \"1st\": it must start with a letter and contain \
             only letters, digits, '-', '_' and '.'"
        );
        assert_eq!(
            parse_err("FROM a AS b\nFROM c AS B\n"),
            "Dockerfile:2: stage name \"b\" is already used by the stage on line 1"
        );
        assert_eq!(
            parse_err("FROM --plaform=linux/amd64 a\n"),
            "Dockerfile:1: unknown flag \"--plaform\" on FROM: did you mean --platform?"
        );
        assert_eq!(
            parse_err("ENV A=1\nFROM a\n"),
            "Dockerfile:1: ENV before the first FROM: only ARG may come before FROM"
        );
        assert_eq!(
            parse_err("ARG A\n\nARG B\n"),
            "Dockerfile:3: no FROM instruction: a Dockerfile needs at least one stage"
        );
    }

    #[test]
    fn flags_on_instructions_without_flags() {
        assert_eq!(parse_err("FROM a\nWORKDIR --x=1 /a\n"), "Dockerfile:2: unknown flag \"--x\" on WORKDIR");
    }

    #[test]
    fn errors_report_the_first_line_of_a_continued_instruction() {
        let err = Dockerfile::parse("build/Dockerfile.wasm", "FROM a\nRUN true\nCOPY \\\n  --bogus \\\n  a b\n").unwrap_err();
        assert_eq!(err.file, "build/Dockerfile.wasm");
        assert_eq!(err.line, 3);
    }

    #[test]
    fn edit_distances() {
        assert_eq!(edit_distance("COPPY", "COPY"), 1);
        assert_eq!(edit_distance("", "RUN"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
