//! Dockerfile text to [`Node`]s, following BuildKit's parser:
//!
//! - Parser directives (`# syntax=`, `# escape=`, `# check=`) are recognised
//!   only in the leading run of `# key=value` lines; any other line (blank,
//!   plain comment, instruction) ends that run.
//! - Comment lines are dropped, also between continuation lines; blank lines
//!   inside a continuation are skipped.
//! - A line ending in the escape character (after trailing blanks) continues
//!   on the next line; an escaped escape character does not continue.
//! - RUN, COPY and ADD (also under ONBUILD) in shell form may carry heredocs;
//!   their bodies follow the instruction, one after another, in the order of
//!   the markers. `<<-` strips leading tabs from the body (done here, as
//!   BuildKit does before using it); a quoted marker turns off expansion.
//! - RUN, CMD, ENTRYPOINT, SHELL, COPY, ADD and VOLUME arguments are exec form
//!   when they are a valid JSON array of strings; any other text, including
//!   invalid JSON, is shell form. A valid JSON array holding non-strings is an
//!   error.
//!
//! Keywords are kept as written and not checked here; meaning is given to
//! them by [`super::instructions`].

use super::expand::{Lexer, Variables};
use super::{Error, ErrorKind};

/// The default escape character; `# escape=`` ` switches to a backtick.
pub const DEFAULT_ESCAPE: char = '\\';

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Directives {
    pub syntax: Option<String>,
    pub escape: char,
    /// Lint configuration; kept for the record, no checks are run.
    pub check: Option<String>,
}

impl Default for Directives {
    fn default() -> Self {
        Directives {
            syntax: None,
            escape: DEFAULT_ESCAPE,
            check: None,
        }
    }
}

/// An inline file introduced by `<<NAME` and ended by a line `NAME`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Heredoc {
    /// The terminator word with quotes removed; COPY uses it as file name.
    pub name: String,
    /// The body, each line with its newline; leading tabs already removed
    /// when `strip_tabs`.
    pub content: String,
    /// False when any part of the marker was quoted (`<<'EOF'`, `<<"EOF"`):
    /// the body is then taken literally.
    pub expand: bool,
    /// Written `<<-NAME`.
    pub strip_tabs: bool,
    /// The file descriptor written before `<<` (`3<<EOF`), 0 when none.
    pub fd: u32,
}

/// One instruction as written, before its keyword is interpreted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    /// 1-based line of the keyword.
    pub start_line: usize,
    /// 1-based last line, including continuation lines and heredoc bodies.
    pub end_line: usize,
    /// The keyword as written (any case).
    pub keyword: String,
    /// Leading `--name[=value]` words, quotes and escapes resolved.
    pub flags: Vec<String>,
    /// The text after keyword and flags, continuations joined, trimmed.
    pub args: String,
    /// The arguments when they are in exec (JSON array) form; `None` for
    /// shell form.
    pub json_args: Option<Vec<String>>,
    pub heredocs: Vec<Heredoc>,
    /// The whole instruction line, continuations joined, trimmed.
    pub source: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParsedFile {
    pub directives: Directives,
    pub nodes: Vec<Node>,
    pub warnings: Vec<Warning>,
}

/// Something the Dockerfile does that works but should not be written so;
/// the frontend passes it to the client as a build warning.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Warning {
    /// Where the instruction it concerns ends.
    pub line: usize,
    pub short: String,
    pub detail: String,
    pub url: String,
}

/// Parses Dockerfile `text`; `file_name` is only used in errors.
pub fn parse(file_name: &str, text: &str) -> Result<ParsedFile, Error> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = LineReader {
        lines: text.split_inclusive('\n').collect(),
        next: 0,
    };
    let at = |line: usize| move |kind: ErrorKind| Error::new(file_name, line, kind);

    let directives = parse_directives(&mut reader).map_err(|(line, kind)| at(line)(kind))?;
    let escape = directives.escape;
    let mut nodes = Vec::new();
    let mut warnings = Vec::new();

    while let Some(first) = reader.next_line() {
        let start_line = reader.line_number();
        let first = trim_newline(first).trim_start();
        if is_comment(first) {
            continue;
        }
        let (text, mut ended) = trim_continuation(first, escape);
        if ended && text.is_empty() {
            continue;
        }
        let mut logical = text.to_string();
        let mut empty_continuation_line = false;
        while !ended {
            let Some(next) = reader.next_line() else {
                break;
            };
            // Unlike the first line, continuation lines keep their indentation.
            let next = trim_newline(next);
            if is_comment(next) {
                continue;
            }
            if next.trim_start().is_empty() {
                empty_continuation_line = true;
                continue;
            }
            let (text, next_ended) = trim_continuation(next, escape);
            ended = next_ended;
            logical.push_str(text);
        }
        if logical.trim().is_empty() {
            continue;
        }
        // BuildKit's wording: a warning today, an error some day.
        if empty_continuation_line {
            warnings.push(Warning {
                line: reader.line_number(),
                short: format!("Empty continuation line found in: {logical}"),
                detail: "Empty continuation lines will become errors in a future release"
                    .to_string(),
                url: "https://github.com/moby/moby/pull/33719".to_string(),
            });
        }

        let mut node = node_from_line(&logical, escape).map_err(at(start_line))?;
        if logical.contains("<<") && accepts_heredocs(&node, escape).map_err(at(start_line))? {
            for marker in heredoc_markers(&logical) {
                let heredoc = read_heredoc_body(&mut reader, marker).map_err(at(start_line))?;
                node.heredocs.push(heredoc);
            }
        }
        node.start_line = start_line;
        node.end_line = reader.line_number();
        nodes.push(node);
    }

    if nodes.is_empty() {
        return Err(at(reader.line_number().max(1))(ErrorKind::NoInstructions));
    }
    Ok(ParsedFile {
        directives,
        nodes,
        warnings,
    })
}

struct LineReader<'a> {
    /// Lines with their line endings.
    lines: Vec<&'a str>,
    next: usize,
}

impl<'a> LineReader<'a> {
    fn next_line(&mut self) -> Option<&'a str> {
        let line = self.lines.get(self.next).copied()?;
        self.next += 1;
        Some(line)
    }

    fn peek_line(&self) -> Option<&'a str> {
        self.lines.get(self.next).copied()
    }

    /// 1-based number of the line last read.
    fn line_number(&self) -> usize {
        self.next
    }
}

fn parse_directives(reader: &mut LineReader) -> Result<Directives, (usize, ErrorKind)> {
    let mut directives = Directives::default();
    let mut seen: Vec<String> = Vec::new();
    while let Some((name, value)) = reader.peek_line().and_then(directive) {
        reader.next_line();
        let line = reader.line_number();
        if seen.contains(&name) {
            return Err((line, ErrorKind::DuplicateDirective { name }));
        }
        match name.as_str() {
            "escape" => {
                directives.escape = match value.as_str() {
                    "\\" => '\\',
                    "`" => '`',
                    _ => return Err((line, ErrorKind::InvalidEscape { value })),
                }
            }
            "syntax" => directives.syntax = Some(value),
            _ => directives.check = Some(value),
        }
        seen.push(name);
    }
    Ok(directives)
}

/// `# key = value` with a known key, as (lowercase key, value).
fn directive(line: &str) -> Option<(String, String)> {
    let body = trim_newline(line)
        .trim_start()
        .strip_prefix('#')?
        .trim_start();
    let key_end = body
        .find(|c: char| !c.is_ascii_alphanumeric())
        .unwrap_or(body.len());
    let key = &body[..key_end];
    if !key.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return None;
    }
    let value = body[key_end..]
        .trim_start_matches(|c: char| c.is_ascii_whitespace())
        .strip_prefix('=')?
        .trim_matches(|c: char| c.is_ascii_whitespace());
    let key = key.to_ascii_lowercase();
    let known = matches!(key.as_str(), "syntax" | "escape" | "check");
    (known && !value.is_empty()).then(|| (key, value.to_string()))
}

fn trim_newline(line: &str) -> &str {
    line.trim_end_matches(['\r', '\n'])
}

fn is_comment(line: &str) -> bool {
    line.trim_start().starts_with('#')
}

/// Removes a trailing continuation (escape character plus blanks) and says
/// whether the instruction ends on this line.
fn trim_continuation(line: &str, escape: char) -> (&str, bool) {
    let Some(before) = line.trim_end_matches([' ', '\t']).strip_suffix(escape) else {
        return (line, true);
    };
    if before.ends_with(escape) {
        // An escaped escape character is text, not a continuation.
        return (line, true);
    }
    (before, false)
}

/// The whitespace BuildKit splits keywords and whitespace-separated
/// arguments on (no newline: logical lines have none).
pub(crate) fn is_separator(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\u{b}' | '\u{c}' | '\r')
}

/// Splits at the first run of separators: (first word, rest).
pub(crate) fn split_first_word(text: &str) -> (&str, &str) {
    match text.find(is_separator) {
        Some(end) => (&text[..end], text[end..].trim_start_matches(is_separator)),
        None => (text, ""),
    }
}

fn node_from_line(line: &str, escape: char) -> Result<Node, ErrorKind> {
    let source = line.trim();
    let (keyword, rest) = split_first_word(source);
    let (flags, args) = extract_flags(rest, escape);
    let args = args.trim();
    let json_args = if takes_json_form(keyword) {
        parse_json_array(args)?
    } else {
        None
    };
    Ok(Node {
        start_line: 0,
        end_line: 0,
        keyword: keyword.to_string(),
        flags,
        args: args.to_string(),
        json_args,
        heredocs: Vec::new(),
        source: source.to_string(),
    })
}

fn takes_json_form(keyword: &str) -> bool {
    ["run", "cmd", "entrypoint", "shell", "copy", "add", "volume"]
        .iter()
        .any(|k| keyword.eq_ignore_ascii_case(k))
}

pub(crate) fn parse_json_array(args: &str) -> Result<Option<Vec<String>>, ErrorKind> {
    if !args.starts_with('[') {
        return Ok(None);
    }
    let Ok(values) = serde_json::from_str::<Vec<serde_json::Value>>(args) else {
        return Ok(None);
    };
    values
        .into_iter()
        .map(|value| match value {
            serde_json::Value::String(s) => Ok(s),
            _ => Err(ErrorKind::JsonNotStrings {
                text: args.to_string(),
            }),
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// Takes the leading `--flag` words off `line`; returns them and the rest.
/// A bare `--` ends the flags and is dropped.
fn extract_flags(line: &str, escape: char) -> (Vec<String>, &str) {
    let mut flags = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut had_quotes = false;
    let mut quote: Option<char> = None;
    let mut chars = line.char_indices();

    while let Some((pos, ch)) = chars.next() {
        if !in_word {
            if ch.is_whitespace() {
                continue;
            }
            if !line[pos..].starts_with("--") {
                return (flags, &line[pos..]);
            }
            in_word = true;
        }
        if let Some(open) = quote {
            if ch == open {
                quote = None;
            } else if ch == escape {
                word.extend(chars.next().map(|(_, c)| c));
            } else {
                word.push(ch);
            }
            continue;
        }
        if ch.is_whitespace() {
            if word == "--" {
                return (flags, &line[pos..]);
            }
            if had_quotes || !word.is_empty() {
                flags.push(std::mem::take(&mut word));
            }
            in_word = false;
            had_quotes = false;
        } else if ch == '\'' || ch == '"' {
            quote = Some(ch);
            had_quotes = true;
        } else if ch == escape {
            word.extend(chars.next().map(|(_, c)| c));
        } else {
            word.push(ch);
        }
    }
    if in_word && word != "--" && (had_quotes || !word.is_empty()) {
        flags.push(word);
    }
    (flags, "")
}

/// RUN, COPY and ADD in shell form take heredocs, also as ONBUILD triggers.
fn accepts_heredocs(node: &Node, escape: char) -> Result<bool, ErrorKind> {
    let (keyword, json_form) = if node.keyword.eq_ignore_ascii_case("onbuild") {
        let trigger = node_from_line(&node.args, escape)?;
        (trigger.keyword, trigger.json_args.is_some())
    } else {
        (node.keyword.clone(), node.json_args.is_some())
    };
    let takes_heredocs = ["run", "copy", "add"]
        .iter()
        .any(|k| keyword.eq_ignore_ascii_case(k));
    Ok(takes_heredocs && !json_form)
}

/// Heredoc markers on an instruction line, in order, with empty bodies.
fn heredoc_markers(line: &str) -> Vec<Heredoc> {
    let lexer = Lexer {
        keep_quotes: true,
        keep_escapes: true,
        keep_unset: true,
        ..Lexer::new(DEFAULT_ESCAPE)
    };
    // A line the shell lexer cannot split (an open quote) has no heredocs.
    let Ok(words) = lexer.expand_words(line, &Variables::new()) else {
        return Vec::new();
    };
    words
        .iter()
        .filter_map(|word| parse_heredoc_marker(word))
        .collect()
}

/// Reads a marker such as `<<EOF`, `<<-'EOF'`, `3<<"E"OF` or `<< EOF`;
/// `None` when `word` is not one, including when its quotes do not pair up.
/// Heredoc markers always use `\` as escape character, whatever the escape
/// directive says.
pub(crate) fn parse_heredoc_marker(word: &str) -> Option<Heredoc> {
    let digits_end = word
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(word.len());
    let rest = word[digits_end..].strip_prefix("<<")?;
    let (strip_tabs, rest) = match rest.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, rest),
    };
    let rest = rest.trim_start_matches(|c: char| c.is_ascii_whitespace());
    if rest.is_empty() || rest.contains('<') {
        return None;
    }

    let lexer = Lexer {
        keep_unset: true,
        ..Lexer::new(DEFAULT_ESCAPE)
    };
    let vars = Variables::new();
    let words = lexer.expand_words(rest, &vars).ok()?;
    let [name] = words.as_slice() else {
        return None;
    };
    // Lexing again with quotes kept tells whether any part was quoted.
    let raw_words = Lexer {
        keep_quotes: true,
        ..lexer
    }
    .expand_words(rest, &vars)
    .ok()?;
    let [raw_name] = raw_words.as_slice() else {
        return None;
    };
    let quote_count = |s: &str| s.chars().filter(|c| matches!(c, '\'' | '"')).count();

    Some(Heredoc {
        name: name.clone(),
        content: String::new(),
        expand: quote_count(name) == quote_count(raw_name),
        strip_tabs,
        fd: word[..digits_end].parse().unwrap_or(0),
    })
}

fn read_heredoc_body(reader: &mut LineReader, marker: Heredoc) -> Result<Heredoc, ErrorKind> {
    let mut content = String::new();
    while let Some(line) = reader.next_line() {
        let mut candidate = trim_newline(line);
        if marker.strip_tabs {
            candidate = candidate.trim_start_matches('\t');
        }
        if candidate == marker.name {
            if marker.strip_tabs {
                content = content
                    .split_inclusive('\n')
                    .map(|l| l.trim_start_matches('\t'))
                    .collect();
            }
            return Ok(Heredoc { content, ..marker });
        }
        content.push_str(line);
    }
    Err(ErrorKind::UnterminatedHeredoc { name: marker.name })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_ok(text: &str) -> ParsedFile {
        match parse("Dockerfile", text) {
            Ok(parsed) => parsed,
            Err(err) => panic!("{err}"),
        }
    }

    fn only_node(text: &str) -> Node {
        let mut nodes = parse_ok(text).nodes;
        assert_eq!(nodes.len(), 1, "{nodes:#?}");
        nodes.remove(0)
    }

    #[test]
    fn directives_at_the_top() {
        let parsed =
            parse_ok("# syntax=docker/dockerfile:1\n#Escape = `\n# check=skip=all\nFROM a\n");
        assert_eq!(
            parsed.directives,
            Directives {
                syntax: Some("docker/dockerfile:1".into()),
                escape: '`',
                check: Some("skip=all".into()),
            }
        );
        assert_eq!(parsed.nodes[0].start_line, 4);
    }

    #[test]
    fn directives_end_at_first_other_line() {
        // After a plain comment, a blank line or an unknown key, `# escape=`
        // is just a comment.
        for text in [
            "# hello\n# escape=`\nFROM a\n",
            "\n# escape=`\nFROM a\n",
            "# foo=bar\n# escape=`\nFROM a\n",
            "FROM a\n# escape=`\n",
        ] {
            assert_eq!(parse_ok(text).directives.escape, '\\', "{text:?}");
        }
    }

    #[test]
    fn directive_errors() {
        let err = parse("Dockerfile", "# escape=x\nFROM a\n").unwrap_err();
        assert_eq!(err.line, 1);
        assert_eq!(
            err.to_string(),
            "Dockerfile:1: invalid escape directive \"x\": the escape character must be \\ or `"
        );
        let err = parse("Dockerfile", "# syntax=a\n# syntax=b\nFROM a\n").unwrap_err();
        assert_eq!(err.line, 2);
        assert_eq!(
            err.kind,
            ErrorKind::DuplicateDirective {
                name: "syntax".into()
            }
        );
    }

    #[test]
    fn continuations_join_lines() {
        let node = only_node("RUN apt-get update && \\\n    apt-get install -y \\\n  curl\n");
        assert_eq!(node.args, "apt-get update &&     apt-get install -y   curl");
        assert_eq!((node.start_line, node.end_line), (1, 3));
    }

    #[test]
    fn continuation_with_trailing_blanks_and_escaped_escape() {
        let parsed = parse_ok("RUN a \\  \t\n b\nRUN c \\\\\nRUN d\n");
        let args: Vec<_> = parsed.nodes.iter().map(|n| n.args.as_str()).collect();
        assert_eq!(args, ["a  b", "c \\\\", "d"]);
    }

    #[test]
    fn comments_and_empty_lines_inside_continuations() {
        let node = only_node("RUN one \\\n# a comment\n\n   \n  # indented comment\n two\n");
        assert_eq!(node.args, "one  two");
        assert_eq!((node.start_line, node.end_line), (1, 6));
    }

    #[test]
    fn empty_continuation_lines_are_warned_about() {
        let parsed = parse_ok(
            "FROM a\nRUN echo a \\\n\n  # note\n  b\nRUN echo \\\n  # only a comment\n  c\n",
        );
        assert_eq!(parsed.warnings.len(), 1, "{:?}", parsed.warnings);
        let warning = &parsed.warnings[0];
        assert_eq!(warning.line, 5);
        assert_eq!(
            warning.short,
            "Empty continuation line found in: RUN echo a   b"
        );
    }

    #[test]
    fn continuation_at_end_of_file() {
        let node = only_node("FROM a\\");
        assert_eq!(node.args, "a");
    }

    #[test]
    fn backtick_escape_directive() {
        let parsed = parse_ok("# escape=`\nFROM a\nRUN dir C:\\ `\n  /w\nCOPY --chown=a`:b x y\n");
        assert_eq!(parsed.nodes[1].args, "dir C:\\   /w");
        assert_eq!(
            (parsed.nodes[1].start_line, parsed.nodes[1].end_line),
            (3, 4)
        );
        assert_eq!(parsed.nodes[2].flags, ["--chown=a:b"]);
    }

    #[test]
    fn keywords_keep_case_and_leading_whitespace_is_ignored() {
        let parsed = parse_ok("  from a\n\tRuN echo hi\n");
        assert_eq!(parsed.nodes[0].keyword, "from");
        assert_eq!(parsed.nodes[1].keyword, "RuN");
        assert_eq!(parsed.nodes[1].args, "echo hi");
    }

    #[test]
    fn flags_are_taken_off_the_front() {
        let node =
            only_node("COPY --link --from=build --chmod=755 --chown=\"a b\" -- --odd /dst\n");
        assert_eq!(
            node.flags,
            ["--link", "--from=build", "--chmod=755", "--chown=a b"]
        );
        assert_eq!(node.args, "--odd /dst");
        let node = only_node("FROM --platform=$BUILDPLATFORM rust AS b\n");
        assert_eq!(node.flags, ["--platform=$BUILDPLATFORM"]);
        assert_eq!(node.args, "rust AS b");
    }

    #[test]
    fn json_form_and_shell_form() {
        let parsed = parse_ok(concat!(
            "CMD [ \"/hello.wasm\", \"--x\" ]\n",
            "CMD [\"unterminated\"\n",
            "CMD ['single']\n",
            "RUN echo [\"not\", \"json\"]\n",
            "ENV A=[\"b\"]\n",
        ));
        let forms: Vec<_> = parsed.nodes.iter().map(|n| n.json_args.clone()).collect();
        assert_eq!(
            forms,
            [
                Some(vec!["/hello.wasm".to_string(), "--x".to_string()]),
                None,
                None,
                None,
                None
            ]
        );
        assert_eq!(parsed.nodes[1].args, "[\"unterminated\"");
    }

    #[test]
    fn json_array_of_non_strings_is_an_error() {
        let err = parse("Dockerfile", "FROM a\nCMD [\"a\", 1]\n").unwrap_err();
        assert_eq!(err.line, 2);
        assert_eq!(
            err.to_string(),
            "Dockerfile:2: [\"a\", 1]: a JSON (exec form) array must contain only strings"
        );
    }

    #[test]
    fn heredoc_basic() {
        let node = only_node("RUN <<EOT bash\n    set -ex\n    echo $HOME\nEOT\n");
        assert_eq!(node.args, "<<EOT bash");
        assert_eq!(
            node.heredocs,
            [Heredoc {
                name: "EOT".into(),
                content: "    set -ex\n    echo $HOME\n".into(),
                expand: true,
                strip_tabs: false,
                fd: 0,
            }]
        );
        assert_eq!((node.start_line, node.end_line), (1, 4));
    }

    #[test]
    fn heredoc_body_is_not_parsed() {
        let parsed = parse_ok("RUN <<EOF\n# not a comment\nFROM nope \\\nEOF\nRUN after\n");
        assert_eq!(parsed.nodes.len(), 2);
        assert_eq!(
            parsed.nodes[0].heredocs[0].content,
            "# not a comment\nFROM nope \\\n"
        );
        assert_eq!(parsed.nodes[1].start_line, 5);
    }

    #[test]
    fn several_heredocs_on_one_line() {
        let node = only_node("COPY <<X <<Y /dest/\nY\nX\nX\nY\n");
        let bodies: Vec<_> = node
            .heredocs
            .iter()
            .map(|h| (h.name.as_str(), h.content.as_str()))
            .collect();
        assert_eq!(bodies, [("X", "Y\n"), ("Y", "X\n")]);
        assert_eq!(node.end_line, 5);
    }

    #[test]
    fn quoted_heredoc_markers_turn_off_expansion() {
        let cases = [
            ("<<EOF", "EOF", true),
            ("<<'EOF'", "EOF", false),
            ("<<\"EOF\"", "EOF", false),
            ("<<E\"O\"F", "EOF", false),
            ("<<eo\\'f", "eo'f", true),
            ("<<'one two'", "one two", false),
            ("<<$EOF", "$EOF", true),
            ("<<  EOF", "EOF", true),
        ];
        for (marker, name, expand) in cases {
            let text = format!("RUN {marker}\nbody\n{name}\n");
            let node = only_node(&text);
            assert_eq!(node.heredocs.len(), 1, "{marker}");
            assert_eq!(node.heredocs[0].name, name, "{marker}");
            assert_eq!(node.heredocs[0].expand, expand, "{marker}");
            assert_eq!(node.heredocs[0].content, "body\n", "{marker}");
        }
    }

    #[test]
    fn dash_heredoc_strips_leading_tabs() {
        let node = only_node("RUN <<-EOT sh\n\tone\n\t\ttwo\n  three\n\tEOT\n");
        let heredoc = &node.heredocs[0];
        assert!(heredoc.strip_tabs);
        assert_eq!(heredoc.content, "one\ntwo\n  three\n");
        // Without the dash, tabs stay and an indented terminator is body text.
        let node = only_node("RUN <<EOT\n\tone\n\tEOT\nEOT\n");
        assert_eq!(node.heredocs[0].content, "\tone\n\tEOT\n");
    }

    #[test]
    fn heredoc_file_descriptor() {
        let node = only_node("RUN 3<<EOF cat /dev/fd/3\nx\nEOF\n");
        assert_eq!(node.heredocs[0].fd, 3);
    }

    #[test]
    fn things_that_are_not_heredocs() {
        for text in [
            "RUN [\"<<EOF\"]\nEOF\n",
            "RUN echo \"<<EOF\"\nEOF\n",
            "RUN cat <<<EOF\nEOF\n",
            "USER <<EOF\nEOF\n",
            "RUN <<EOF sh\"\nEOF\n",
        ] {
            let parsed = parse_ok(text);
            assert!(parsed.nodes[0].heredocs.is_empty(), "{text:?}");
            assert_eq!(parsed.nodes.len(), 2, "{text:?}");
        }
    }

    #[test]
    fn onbuild_trigger_takes_heredocs() {
        let node = only_node("ONBUILD RUN <<EOF\necho hi\nEOF\n");
        assert_eq!(node.heredocs[0].content, "echo hi\n");
    }

    #[test]
    fn unterminated_heredoc() {
        let err = parse("Dockerfile", "FROM a\nRUN <<EOF\necho\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "Dockerfile:2: heredoc \"EOF\" never ends: add a line containing only EOF"
        );
    }

    #[test]
    fn empty_and_comment_only_files() {
        for text in ["", "\n\n", "# just a comment\n", "# syntax=x\n"] {
            let err = parse("Dockerfile", text).unwrap_err();
            assert_eq!(err.kind, ErrorKind::NoInstructions, "{text:?}");
        }
    }

    #[test]
    fn byte_order_mark_and_crlf() {
        let parsed =
            parse_ok("\u{feff}# escape=`\r\nFROM a `\r\n  AS b\r\nRUN <<EOF\r\nx\r\nEOF\r\n");
        assert_eq!(parsed.directives.escape, '`');
        assert_eq!(parsed.nodes[0].args, "a   AS b");
        assert_eq!(parsed.nodes[1].heredocs[0].content, "x\r\n");
    }
}
