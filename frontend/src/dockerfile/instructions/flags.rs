//! Instruction flags (`--name[=value]`), as BuildKit's `bflag.go` reads
//! them: each instruction declares its flags and their kinds; an unknown
//! flag (with a suggestion), one given twice or a value of the wrong kind
//! is an error, which the caller places at the instruction's line.

use super::suggest::suggest;
use crate::dockerfile::parser::Node;
use crate::dockerfile::ErrorKind;

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum FlagKind {
    /// `--name`, `--name=true`, `--name=false`.
    Bool,
    /// `--name=value`, at most once.
    Value,
    /// `--name=value`, any number of times.
    Repeated,
}

/// Flag values by name, in the order given; bools hold "true" or "false".
pub(super) struct Flags(Vec<(&'static str, String)>);

impl Flags {
    pub(super) fn value(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    pub(super) fn values(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(n, _)| *n == name)
            .map(|(_, v)| v.clone())
            .collect()
    }
}

pub(super) fn parse_flags(
    keyword: &'static str,
    node: &Node,
    known: &[(&'static str, FlagKind)],
    not_supported_yet: &[&str],
) -> Result<Flags, ErrorKind> {
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
