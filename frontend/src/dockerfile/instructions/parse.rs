//! Nodes to typed instructions: one reader per keyword, each with the
//! argument forms and flags BuildKit accepts, and FROM lines to stages.

use super::flags::{parse_flags, FlagKind};
use super::suggest::suggest;
use super::{
    ArgDecl, Copy, Dockerfile, GlobalArg, Healthcheck, Instruction, LocatedInstruction, Network,
    Run, Security, ShellOrExec, Stage,
};
use crate::dockerfile::expand::{split_words, Lexer, Variables};
use crate::dockerfile::mount::Mount;
use crate::dockerfile::parser::{self, is_separator, split_first_word, Node};
use crate::dockerfile::{Error, ErrorKind};

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
                        Instruction::Arg(args) => {
                            global_args.extend(args.into_iter().map(|arg| GlobalArg {
                                line: node.start_line,
                                arg,
                            }))
                        }
                        other => {
                            return Err(at(ErrorKind::InstructionBeforeFrom {
                                keyword: other.keyword(),
                            }))
                        }
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
    text.split(is_separator)
        .filter(|word| !word.is_empty())
        .map(str::to_string)
        .collect()
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
        return Err(invalid_arguments(
            "ARG",
            node,
            "expected ARG <name>[=<default>] ...",
        ));
    }
    let decls = words
        .into_iter()
        .map(|word| {
            let (name, default) = match word.split_once('=') {
                Some((name, default)) => (name.to_string(), Some(default.to_string())),
                None => (word.clone(), None),
            };
            if name.is_empty() {
                return Err(invalid_arguments(
                    "ARG",
                    node,
                    "an ARG name cannot be empty",
                ));
            }
            Ok(ArgDecl { name, default })
        })
        .collect::<Result<_, _>>()?;
    Ok(Instruction::Arg(decls))
}

/// ENV and LABEL: `name=value ...`, or the legacy `name value` form (one
/// pair; the value is the rest of the line) when the first word has no `=`.
fn parse_pairs(
    keyword: &'static str,
    node: &Node,
    escape: char,
) -> Result<Vec<(String, String)>, ErrorKind> {
    parse_flags(keyword, node, &[], &[])?;
    let words = split_words(&node.args, escape);
    let Some(first) = words.first() else {
        return Err(invalid_arguments(
            keyword,
            node,
            "expected <name>=<value> ...",
        ));
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
        return Err(invalid_arguments(
            "WORKDIR",
            node,
            "expected WORKDIR <path>",
        ));
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
        &[
            ("mount", FlagKind::Repeated),
            ("network", FlagKind::Value),
            ("security", FlagKind::Value),
        ],
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
        .map(|value| {
            Mount::parse(value).map_err(|problem| invalid(format!("--mount={value}"), problem))
        })
        .collect::<Result<_, _>>()?;
    let command = command_form(node);
    if matches!(&command, ShellOrExec::Shell(s) if s.is_empty())
        || matches!(&command, ShellOrExec::Exec(argv) if argv.is_empty())
    {
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
        return Err(invalid_arguments(
            keyword,
            node,
            "expected a command; write [] to clear it",
        ));
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
        "ADD" => &[
            ("checksum", FlagKind::Value),
            ("keep-git-dir", FlagKind::Bool),
        ],
        _ => &[("from", FlagKind::Value), ("parents", FlagKind::Bool)],
    };
    let flags = parse_flags(keyword, node, &[&common[..], own].concat(), &[])?;
    let words = match &node.json_args {
        Some(words) => words.clone(),
        None => whitespace_separated(&node.args),
    };
    let Some((dest, sources)) = words
        .split_last()
        .filter(|(_, sources)| !sources.is_empty())
    else {
        return Err(invalid_arguments(
            keyword,
            node,
            &format!("expected {keyword} <source>... <destination>"),
        ));
    };
    if parser::parse_heredoc_marker(dest).is_some() {
        return Err(invalid_arguments(
            keyword,
            node,
            "the destination cannot be a heredoc",
        ));
    }

    let mut paths = Vec::new();
    let mut heredocs = Vec::new();
    for source in sources {
        let heredoc = parser::parse_heredoc_marker(source)
            .and_then(|marker| node.heredocs.iter().find(|h| h.name == marker.name));
        match heredoc {
            Some(heredoc) => heredocs.push(heredoc.clone()),
            None => paths.push(source.clone()),
        }
    }

    let non_empty = |name| {
        flags
            .value(name)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
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
        return Err(invalid_arguments(
            keyword,
            node,
            &format!("{keyword} takes exactly one argument"),
        ));
    }
    Ok(node.args.clone())
}

fn parse_expose(node: &Node) -> Result<Instruction, ErrorKind> {
    parse_flags("EXPOSE", node, &[], &[])?;
    let mut ports = whitespace_separated(&node.args);
    if ports.is_empty() {
        return Err(invalid_arguments(
            "EXPOSE",
            node,
            "expected EXPOSE <port>[/<protocol>] ...",
        ));
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
        return Err(invalid_arguments(
            "VOLUME",
            node,
            "a volume cannot be an empty string",
        ));
    }
    Ok(Instruction::Volume(volumes))
}

fn parse_shell(node: &Node) -> Result<Instruction, ErrorKind> {
    parse_flags("SHELL", node, &[], &[])?;
    match &node.json_args {
        Some(argv) if !argv.is_empty() => Ok(Instruction::Shell(argv.clone())),
        Some(_) => Err(invalid_arguments(
            "SHELL",
            node,
            "the shell cannot be empty",
        )),
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
        "" => {
            return Err(invalid_arguments(
                "ONBUILD",
                node,
                "expected ONBUILD <instruction>",
            ))
        }
        "ONBUILD" => {
            return Err(invalid_arguments(
                "ONBUILD",
                node,
                "chaining ONBUILD via ONBUILD ONBUILD is not allowed",
            ))
        }
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
pub fn parse_trigger(
    file_name: &str,
    line: usize,
    text: &str,
    escape: char,
) -> Result<Instruction, Error> {
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
            return Err(invalid_arguments(
                "HEALTHCHECK",
                node,
                "HEALTHCHECK NONE takes no arguments",
            ));
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
        _ => {
            return Err(invalid_arguments(
                "HEALTHCHECK",
                node,
                "missing command after HEALTHCHECK CMD",
            ))
        }
    };
    let invalid = |name: &str, text: &str, problem: &str| ErrorKind::InvalidFlag {
        keyword: "HEALTHCHECK",
        flag: format!("--{name}={text}"),
        problem: problem.to_string(),
    };
    let duration = |name: &str| -> Result<i64, ErrorKind> {
        let Some(text) = flags.value(name) else {
            return Ok(0);
        };
        match parse_duration(text) {
            Some(ns) if ns == 0 || ns >= 1_000_000 => Ok(ns),
            Some(_) => Err(invalid(name, text, "cannot be less than 1ms")),
            None => Err(invalid(
                name,
                text,
                "expected a duration such as 30s, 1m30s or 500ms",
            )),
        }
    };
    let retries = match flags.value("retries") {
        None => 0,
        Some(text) => match text.parse::<i32>() {
            Ok(n) if n >= 0 => i64::from(n),
            _ => {
                return Err(invalid(
                    "retries",
                    text,
                    "expected a number of retries, 0 or more",
                ))
            }
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
        let number_end = rest
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(rest.len());
        let number: f64 = rest[..number_end].parse().ok()?;
        rest = &rest[number_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
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

fn suggest_keyword(keyword: &str) -> Option<String> {
    let suggestion = suggest(&keyword.to_ascii_uppercase(), &KNOWN_KEYWORDS)?;
    // Match the writer's style: lower case if they wrote lower case.
    Some(if keyword == keyword.to_ascii_uppercase() {
        suggestion.to_string()
    } else {
        suggestion.to_ascii_lowercase()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_go_reads_them() {
        assert_eq!(parse_duration("1h2m3.5s"), Some(3_723_500_000_000));
        assert_eq!(parse_duration("250ms"), Some(250_000_000));
        assert_eq!(parse_duration("0"), Some(0));
        for bad in ["", "5", "1d", "s", "1.2.3s"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }
}
