//! Parsed [`Node`]s to typed instructions, grouped into stages.
//!
//! Every Dockerfile instruction is read here, with the argument forms and
//! flags BuildKit's Dockerfile frontend (syntax 1.7) accepts; an unknown
//! keyword is an error with a spelling suggestion, and so is an unknown flag:
//! nothing is skipped silently.
//!
//! FROM is not an [`Instruction`]: it becomes the [`Stage`] that owns the
//! following instructions, so a stage's list can never hold one. ARGs before
//! the first FROM are the Dockerfile's [`GlobalArg`]s.
//!
//! Values are kept as written (quotes, `$VAR`) — BuildKit expands them only
//! while converting, with variables that depend on the base image. See
//! [`super::scope`] for when and with what each field is expanded.

use super::expand::{split_words, Lexer, Variables};
use super::mount::Mount;
use super::parser::{self, is_separator, split_first_word, Directives, Heredoc, Node, Warning};
use super::{Error, ErrorKind};

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
                // Two stages may share a name (BuildKit allows it); the later
                // one is the one found by name after it.
                Statement::Stage(stage) => stages.push(stage),
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
            warnings: parsed.warnings,
        })
    }
}

enum Statement {
    Stage(Stage),
    Instruction(Instruction),
}

/// Every Dockerfile keyword, for spelling suggestions.
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
        "COPY" => Instruction::Copy(parse_copy("COPY", node, escape)?),
        "ADD" => Instruction::Add(parse_copy("ADD", node, escape)?),
        "ENTRYPOINT" => Instruction::Entrypoint(parse_command("ENTRYPOINT", node)?),
        "CMD" => Instruction::Cmd(parse_command("CMD", node)?),
        "USER" => Instruction::User(parse_single("USER", node)?),
        "EXPOSE" => parse_expose(node)?,
        "VOLUME" => parse_volume(node)?,
        "STOPSIGNAL" => Instruction::StopSignal(parse_single("STOPSIGNAL", node)?),
        "HEALTHCHECK" => Instruction::Healthcheck(parse_healthcheck(node)?),
        "SHELL" => parse_shell(node)?,
        "ONBUILD" => parse_onbuild(node)?,
        "MAINTAINER" => Instruction::Maintainer(parse_single("MAINTAINER", node)?),
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
            let lower = name.to_lowercase();
            if !is_valid_stage_name(&lower) {
                // As written: the user looks for their own spelling.
                return Err(ErrorKind::InvalidStageName { name: name.clone() });
            }
            (from, Some(lower))
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
        &[("mount", FlagKind::Repeated), ("network", FlagKind::Value), ("security", FlagKind::Value)],
        &["device"],
    )?;
    let invalid = |flag: String, problem: String| ErrorKind::InvalidFlag {
        keyword: "RUN",
        flag,
        problem,
    };
    let network = match flags.value("network") {
        None | Some("default") => Network::Default,
        Some("none") => Network::None,
        Some("host") => Network::Host,
        Some(other) => {
            return Err(invalid(
                "--network".to_string(),
                format!("unknown network mode {other:?}: use default, none or host"),
            ))
        }
    };
    let security = match flags.value("security") {
        None | Some("sandbox") => Security::Sandbox,
        Some("insecure") => Security::Insecure,
        Some(other) => {
            return Err(invalid(
                "--security".to_string(),
                format!("unknown security mode {other:?}: use sandbox or insecure"),
            ))
        }
    };
    let mounts = flags
        .values("mount")
        .iter()
        .map(|value| Mount::parse(value).map_err(|problem| invalid(format!("--mount={value}"), problem)))
        .collect::<Result<_, _>>()?;
    let command = command_form(node);
    if matches!(&command, ShellOrExec::Shell(s) if s.is_empty()) || matches!(&command, ShellOrExec::Exec(argv) if argv.is_empty()) {
        return Err(invalid_arguments("RUN", node, "expected a command to run"));
    }
    Ok(Instruction::Run(Run {
        command,
        heredocs: node.heredocs.clone(),
        mounts,
        network,
        security,
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

/// COPY and ADD: the same forms; ADD has no `--from` or `--parents` but
/// takes `--checksum` and `--keep-git-dir`.
fn parse_copy(keyword: &'static str, node: &Node, escape: char) -> Result<Copy, ErrorKind> {
    let common = [
        ("chown", FlagKind::Value),
        ("chmod", FlagKind::Value),
        ("link", FlagKind::Bool),
        ("exclude", FlagKind::Repeated),
    ];
    let own: &[(&'static str, FlagKind)] = match keyword {
        "ADD" => &[("checksum", FlagKind::Value), ("keep-git-dir", FlagKind::Bool)],
        _ => &[("from", FlagKind::Value), ("parents", FlagKind::Bool)],
    };
    let flags = parse_flags(keyword, node, &[&common[..], own].concat(), &[])?;
    let words = match &node.json_args {
        Some(words) => words.clone(),
        None => whitespace_separated(&node.args),
    };
    let Some((dest, sources)) = words.split_last().filter(|(_, sources)| !sources.is_empty()) else {
        return Err(invalid_arguments(keyword, node, &format!("expected {keyword} <source>... <destination>")));
    };
    if parser::parse_heredoc_marker(dest).is_some() {
        return Err(invalid_arguments(keyword, node, "the destination cannot be a heredoc"));
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
                keyword,
                flag: format!("--from={from}"),
                problem: "variables are not allowed here; declare a stage with \
                          FROM ${VAR} AS <name> and use that name"
                    .to_string(),
            });
        }
    }
    Ok(Copy {
        sources: paths,
        dest: dest.clone(),
        from,
        link: flags.value("link") == Some("true"),
        chown: non_empty("chown"),
        chmod: non_empty("chmod"),
        heredocs,
        checksum: non_empty("checksum"),
        keep_git_dir: flags.value("keep-git-dir") == Some("true"),
        exclude: flags.values("exclude"),
        parents: flags.value("parents") == Some("true"),
    })
}

/// USER, STOPSIGNAL, MAINTAINER: the rest of the line is the one value.
fn parse_single(keyword: &'static str, node: &Node) -> Result<String, ErrorKind> {
    parse_flags(keyword, node, &[], &[])?;
    if node.args.is_empty() {
        return Err(invalid_arguments(keyword, node, &format!("{keyword} takes exactly one argument")));
    }
    Ok(node.args.clone())
}

fn parse_expose(node: &Node) -> Result<Instruction, ErrorKind> {
    parse_flags("EXPOSE", node, &[], &[])?;
    let mut ports = whitespace_separated(&node.args);
    if ports.is_empty() {
        return Err(invalid_arguments("EXPOSE", node, "expected EXPOSE <port>[/<protocol>] ..."));
    }
    // BuildKit sorts the specs as written, before expanding them.
    ports.sort();
    Ok(Instruction::Expose(ports))
}

fn parse_volume(node: &Node) -> Result<Instruction, ErrorKind> {
    parse_flags("VOLUME", node, &[], &[])?;
    let volumes = match &node.json_args {
        Some(list) => list.iter().map(|v| v.trim().to_string()).collect(),
        None => whitespace_separated(&node.args),
    };
    if volumes.is_empty() || volumes.iter().any(String::is_empty) {
        return Err(invalid_arguments("VOLUME", node, "a volume cannot be an empty string"));
    }
    Ok(Instruction::Volume(volumes))
}

fn parse_shell(node: &Node) -> Result<Instruction, ErrorKind> {
    parse_flags("SHELL", node, &[], &[])?;
    match &node.json_args {
        Some(argv) if !argv.is_empty() => Ok(Instruction::Shell(argv.clone())),
        Some(_) => Err(invalid_arguments("SHELL", node, "the shell cannot be empty")),
        None => Err(invalid_arguments(
            "SHELL",
            node,
            "SHELL requires the JSON form, such as SHELL [\"/bin/bash\", \"-c\"]",
        )),
    }
}

fn parse_onbuild(node: &Node) -> Result<Instruction, ErrorKind> {
    parse_flags("ONBUILD", node, &[], &[])?;
    let (trigger, _) = split_first_word(&node.args);
    let upper = trigger.to_ascii_uppercase();
    match upper.as_str() {
        "" => return Err(invalid_arguments("ONBUILD", node, "expected ONBUILD <instruction>")),
        "ONBUILD" => return Err(invalid_arguments("ONBUILD", node, "chaining ONBUILD via ONBUILD ONBUILD is not allowed")),
        "FROM" | "MAINTAINER" => {
            return Err(invalid_arguments(
                "ONBUILD",
                node,
                &format!("{upper} is not allowed as an ONBUILD trigger"),
            ))
        }
        known if KNOWN_KEYWORDS.contains(&known) => {}
        _ => {
            return Err(ErrorKind::UnknownInstruction {
                keyword: trigger.to_string(),
                suggestion: suggest_keyword(trigger),
            })
        }
    }
    // What the image config keeps, as BuildKit stores it: the line after
    // the keyword, heredoc bodies appended.
    let mut expression = split_first_word(&node.source).1.to_string();
    for heredoc in &node.heredocs {
        expression.push('\n');
        expression.push_str(&heredoc.content);
        expression.push_str(&heredoc.name);
    }
    Ok(Instruction::Onbuild(expression))
}

/// An ONBUILD trigger read back from an image config, as the instruction
/// it runs at the start of a stage built on that image.
pub fn parse_trigger(file_name: &str, line: usize, text: &str, escape: char) -> Result<Instruction, Error> {
    let at = |kind| Error::new(file_name, line, kind);
    let parsed = parser::parse(file_name, text).map_err(|e| at(e.kind))?;
    let [node] = parsed.nodes.as_slice() else {
        return Err(at(ErrorKind::InvalidArguments {
            keyword: "ONBUILD",
            text: text.to_string(),
            problem: "an ONBUILD trigger must be a single instruction".to_string(),
        }));
    };
    match parse_node(node, escape).map_err(at)? {
        Statement::Instruction(instruction) => Ok(instruction),
        Statement::Stage(_) => Err(at(ErrorKind::InvalidArguments {
            keyword: "ONBUILD",
            text: text.to_string(),
            problem: "FROM is not allowed as an ONBUILD trigger".to_string(),
        })),
    }
}

fn parse_healthcheck(node: &Node) -> Result<Healthcheck, ErrorKind> {
    let (kind, rest) = split_first_word(&node.args);
    let kind = kind.to_ascii_uppercase();
    if kind == "NONE" {
        parse_flags("HEALTHCHECK", node, &[], &[])?;
        if !rest.is_empty() {
            return Err(invalid_arguments("HEALTHCHECK", node, "HEALTHCHECK NONE takes no arguments"));
        }
        return Ok(Healthcheck {
            test: vec![kind],
            ..Healthcheck::default()
        });
    }
    let known = [
        ("interval", FlagKind::Value),
        ("timeout", FlagKind::Value),
        ("start-period", FlagKind::Value),
        ("start-interval", FlagKind::Value),
        ("retries", FlagKind::Value),
    ];
    let flags = parse_flags("HEALTHCHECK", node, &known, &[])?;
    if kind != "CMD" {
        return Err(invalid_arguments(
            "HEALTHCHECK",
            node,
            "expected HEALTHCHECK [options] CMD <command>, or HEALTHCHECK NONE",
        ));
    }
    let test = match parser::parse_json_array(rest)? {
        Some(argv) if !argv.is_empty() => [vec!["CMD".to_string()], argv].concat(),
        None if !rest.is_empty() => vec!["CMD-SHELL".to_string(), rest.to_string()],
        _ => return Err(invalid_arguments("HEALTHCHECK", node, "missing command after HEALTHCHECK CMD")),
    };
    let invalid = |name: &str, text: &str, problem: &str| ErrorKind::InvalidFlag {
        keyword: "HEALTHCHECK",
        flag: format!("--{name}={text}"),
        problem: problem.to_string(),
    };
    let duration = |name: &str| -> Result<i64, ErrorKind> {
        let Some(text) = flags.value(name) else { return Ok(0) };
        match parse_duration(text) {
            Some(ns) if ns == 0 || ns >= 1_000_000 => Ok(ns),
            Some(_) => Err(invalid(name, text, "cannot be less than 1ms")),
            None => Err(invalid(name, text, "expected a duration such as 30s, 1m30s or 500ms")),
        }
    };
    let retries = match flags.value("retries") {
        None => 0,
        Some(text) => match text.parse::<i32>() {
            Ok(n) if n >= 0 => i64::from(n),
            _ => return Err(invalid("retries", text, "expected a number of retries, 0 or more")),
        },
    };
    Ok(Healthcheck {
        test,
        interval: duration("interval")?,
        timeout: duration("timeout")?,
        start_period: duration("start-period")?,
        start_interval: duration("start-interval")?,
        retries,
    })
}

/// A Go duration (`1h2m3.5s`, `300ms`, `0`) in nanoseconds; `None` when it
/// is not one.
fn parse_duration(text: &str) -> Option<i64> {
    let (negative, mut rest) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    if rest == "0" {
        return Some(0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total = 0.0;
    while !rest.is_empty() {
        let number_end = rest.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(rest.len());
        let number: f64 = rest[..number_end].parse().ok()?;
        rest = &rest[number_end..];
        let unit_end = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let scale = match &rest[..unit_end] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        rest = &rest[unit_end..];
        total += number * scale;
    }
    let ns = total.round() as i64;
    Some(if negative { -ns } else { ns })
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
                checksum: None,
                keep_git_dir: false,
                exclude: vec![],
                parents: false,
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
                security: Security::Sandbox,
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
            "RUN --mount=type=cache,target=/root/.cargo --mount=type=bind,source=.,target=/src --network=none cargo build\n",
            "RUN [\"/bin/echo\", \"hi\"]\n",
            "RUN [\"broken\" \n",
        ));
        assert_eq!(
            parsed,
            [
                Instruction::Run(Run {
                    command: ShellOrExec::Shell("cargo build".into()),
                    heredocs: vec![],
                    mounts: vec![
                        Mount::parse("type=cache,target=/root/.cargo").unwrap(),
                        Mount::parse("type=bind,source=.,target=/src").unwrap(),
                    ],
                    network: Network::None,
                    security: Security::Sandbox,
                }),
                Instruction::Run(Run {
                    command: ShellOrExec::Exec(vec!["/bin/echo".into(), "hi".into()]),
                    heredocs: vec![],
                    mounts: vec![],
                    network: Network::Default,
                    security: Security::Sandbox,
                }),
                Instruction::Run(Run {
                    command: ShellOrExec::Shell("[\"broken\"".into()),
                    heredocs: vec![],
                    mounts: vec![],
                    network: Network::Default,
                    security: Security::Sandbox,
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
            parse_err("FROM x\nRUN --security=root true\n"),
            "Dockerfile:2: flag \"--security\" on RUN: unknown security mode \"root\": use sandbox or insecure"
        );
        assert_eq!(
            parse_err("FROM x\nRUN --mount=type=cache true\n"),
            "Dockerfile:2: flag \"--mount=type=cache\" on RUN: a cache mount needs a target"
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
                    checksum: None,
                    keep_git_dir: false,
                    exclude: vec![],
                    parents: false,
                }),
                Instruction::Copy(Copy {
                    sources: vec!["with space".into()],
                    dest: "/d st".into(),
                    from: None,
                    link: false,
                    chown: None,
                    chmod: None,
                    heredocs: vec![],
                    checksum: None,
                    keep_git_dir: false,
                    exclude: vec![],
                    parents: false,
                }),
                Instruction::Copy(Copy {
                    sources: vec!["/a".into()],
                    dest: "/b".into(),
                    from: Some("0".into()),
                    link: false,
                    chown: None,
                    chmod: None,
                    heredocs: vec![],
                    checksum: None,
                    keep_git_dir: false,
                    exclude: vec![],
                    parents: false,
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
            parse_err("FROM x\nADD --parents a b\n"),
            "Dockerfile:2: unknown flag \"--parents\" on ADD"
        );
        assert_eq!(
            parse_err("FROM x\nRUN --device=/dev/fuse true\n"),
            "Dockerfile:2: flag \"--device\" on RUN is not supported yet"
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
    fn metadata_instructions() {
        let parsed = instructions(concat!(
            "FROM x\n",
            "user app:app\n",
            "EXPOSE 8080 53/udp $PORT\n",
            "VOLUME [\"/data\", \" /logs \"]\n",
            "VOLUME /a /b\n",
            "STOPSIGNAL SIGINT\n",
            "SHELL [\"/bin/ash\", \"-c\"]\n",
            "MAINTAINER Jane Doe <jane@example.com>\n",
            "ONBUILD   RUN   echo  hi\n",
            "HEALTHCHECK NONE\n",
        ));
        assert_eq!(
            parsed,
            [
                Instruction::User("app:app".into()),
                Instruction::Expose(vec!["$PORT".into(), "53/udp".into(), "8080".into()]),
                Instruction::Volume(vec!["/data".into(), "/logs".into()]),
                Instruction::Volume(vec!["/a".into(), "/b".into()]),
                Instruction::StopSignal("SIGINT".into()),
                Instruction::Shell(vec!["/bin/ash".into(), "-c".into()]),
                Instruction::Maintainer("Jane Doe <jane@example.com>".into()),
                Instruction::Onbuild("RUN   echo  hi".into()),
                Instruction::Healthcheck(Healthcheck {
                    test: vec!["NONE".into()],
                    ..Healthcheck::default()
                }),
            ]
        );
    }

    #[test]
    fn healthcheck_forms() {
        let parsed = instructions(concat!(
            "FROM x\n",
            "HEALTHCHECK --interval=30s --timeout=1m30s --start-period=500ms --retries=3 CMD [\"curl\", \"-f\", \"http://localhost/\"]\n",
            "HEALTHCHECK cmd curl -f http://localhost/ || exit 1\n",
        ));
        assert_eq!(
            parsed[0],
            Instruction::Healthcheck(Healthcheck {
                test: vec!["CMD".into(), "curl".into(), "-f".into(), "http://localhost/".into()],
                interval: 30_000_000_000,
                timeout: 90_000_000_000,
                start_period: 500_000_000,
                start_interval: 0,
                retries: 3,
            })
        );
        assert_eq!(
            parsed[1],
            Instruction::Healthcheck(Healthcheck {
                test: vec!["CMD-SHELL".into(), "curl -f http://localhost/ || exit 1".into()],
                ..Healthcheck::default()
            })
        );
    }

    #[test]
    fn errors_in_metadata_instructions() {
        for (line, expected) in [
            ("HEALTHCHECK NONE x", "HEALTHCHECK NONE takes no arguments"),
            ("HEALTHCHECK --interval=5 CMD true", "expected a duration"),
            ("HEALTHCHECK --interval=10us CMD true", "less than 1ms"),
            ("HEALTHCHECK --retries=-1 CMD true", "0 or more"),
            ("HEALTHCHECK CMD", "missing command"),
            ("HEALTHCHECK RUN true", "expected HEALTHCHECK [options] CMD"),
            ("SHELL /bin/bash -c", "SHELL requires the JSON form"),
            ("ONBUILD ONBUILD RUN true", "chaining ONBUILD"),
            ("ONBUILD FROM x", "FROM is not allowed as an ONBUILD trigger"),
            ("ONBUILD RUNN true", "did you mean RUN"),
            ("VOLUME [\"\"]", "cannot be an empty string"),
            ("USER", "USER takes exactly one argument"),
            ("EXPOSE", "expected EXPOSE"),
            ("ADD --from=a b /c", "unknown flag \"--from\" on ADD"),
            ("COPY --checksum=sha256:0 a /b", "unknown flag \"--checksum\" on COPY"),
        ] {
            let err = parse_err(&format!("FROM x\n{line}\n"));
            assert!(err.starts_with("Dockerfile:2: ") && err.contains(expected), "{line}: {err}");
        }
    }

    #[test]
    fn durations_read_as_go_reads_them() {
        assert_eq!(parse_duration("1h2m3.5s"), Some(3_723_500_000_000));
        assert_eq!(parse_duration("250ms"), Some(250_000_000));
        assert_eq!(parse_duration("0"), Some(0));
        for bad in ["", "5", "1d", "s", "1.2.3s"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn onbuild_triggers_parse_back() {
        assert_eq!(
            parse_trigger("Dockerfile", 4, "ENV A=1", '\\').unwrap(),
            Instruction::Env(vec![("A".into(), "1".into())])
        );
        let err = parse_trigger("Dockerfile", 4, "FROM x", '\\').unwrap_err().to_string();
        assert!(err.starts_with("Dockerfile:4: ") && err.contains("FROM is not allowed"), "{err}");
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
        assert!(parse_err("FROM a AS Bad/Name\n").contains("\"Bad/Name\""), "shown as written");
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
