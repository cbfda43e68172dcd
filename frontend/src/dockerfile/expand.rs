//! Shell-style word processing the way BuildKit's Dockerfile shell lexer does
//! it: `$VAR`/`${VAR}` expansion with the `-`, `+` and `?` modifiers (with or
//! without `:`), single quotes (literal), double quotes (expansion inside),
//! the escape character, and splitting into words after expansion.
//!
//! Two entry points:
//! - [`Lexer`] expands one word (optionally also splitting it into words), as
//!   the converter does for ENV values, WORKDIR, COPY paths, FROM and so on.
//! - [`split_words`] is the parser-level split used by ARG, ENV and LABEL: it
//!   splits on unquoted whitespace but keeps quotes and escapes in the words,
//!   so that expansion later still sees them.
//!
//! The pattern operators `${VAR#p}`, `${VAR%p}` and `${VAR/p/r}` are rejected
//! with [`ExpandError::PatternNotSupported`] rather than half-implemented.

/// An ordered set of variables (build args and environment) visible to
/// expansion. Setting an existing name replaces its value in place.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Variables {
    entries: Vec<(String, String)>,
}

impl Variables {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    pub fn set(&mut self, name: impl Into<String>, value: impl Into<String>) {
        let name = name.into();
        let value = value.into();
        match self.entries.iter_mut().find(|(key, _)| *key == name) {
            Some(entry) => entry.1 = value,
            None => self.entries.push((name, value)),
        }
    }

    pub fn unset(&mut self, name: &str) {
        self.entries.retain(|(key, _)| key != name);
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for Variables {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut vars = Variables::new();
        for (k, v) in iter {
            vars.set(k, v);
        }
        vars
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ExpandError {
    #[error("missing '}}'")]
    MissingBrace,
    #[error("bad substitution")]
    BadSubstitution,
    #[error("unsupported modifier ({modifier}) in substitution")]
    UnsupportedModifier { modifier: String },
    #[error("pattern substitution ${{{name}{operator}...}} is not supported yet")]
    PatternNotSupported { name: String, operator: char },
    #[error("missing closing {quote} quote")]
    UnterminatedQuote { quote: char },
    #[error("{name}: {message}")]
    Required { name: String, message: String },
    #[error("substitutions nested more than {MAX_NESTING} deep")]
    TooDeep,
}

/// Bound on `${a:-${b:-...}}` nesting, so hostile input gets an error
/// instead of exhausting the stack.
const MAX_NESTING: usize = 64;

/// Settings of one expansion pass. [`Lexer::new`] gives the ordinary
/// Dockerfile behaviour; the other switches serve heredoc detection and
/// heredoc bodies, which BuildKit lexes differently.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lexer {
    /// `\` by default, `` ` `` with `# escape=``.
    pub escape: char,
    /// Keep quote characters in the output (quoting still applies).
    pub keep_quotes: bool,
    /// Keep escape characters in the output (escaping still applies).
    pub keep_escapes: bool,
    /// Treat `'` and `"` as ordinary characters (heredoc bodies).
    pub literal_quotes: bool,
    /// Leave references to unset variables as written instead of emptying them.
    pub keep_unset: bool,
}

impl Lexer {
    pub fn new(escape: char) -> Self {
        Lexer {
            escape,
            keep_quotes: false,
            keep_escapes: false,
            literal_quotes: false,
            keep_unset: false,
        }
    }

    /// Expands `word` as a single string: quotes removed, whitespace kept.
    pub fn expand(&self, word: &str, vars: &Variables) -> Result<String, ExpandError> {
        Ok(self.run(word, vars)?.0)
    }

    /// Expands `word` and splits the result into words. Whitespace coming
    /// from unquoted expansions splits too, as in a shell.
    pub fn expand_words(&self, word: &str, vars: &Variables) -> Result<Vec<String>, ExpandError> {
        Ok(self.run(word, vars)?.1)
    }

    fn run(&self, word: &str, vars: &Variables) -> Result<(String, Vec<String>), ExpandError> {
        let mut scanner = Scanner {
            chars: word.chars().collect(),
            pos: 0,
            depth: 0,
            lexer: self,
            vars,
        };
        scanner.process_until(None, self.keep_escapes)
    }
}

/// Words being collected during one `process_until` call.
#[derive(Default)]
struct Words {
    done: Vec<String>,
    current: String,
    in_word: bool,
}

impl Words {
    fn add_char(&mut self, ch: char) {
        if ch.is_whitespace() {
            // An empty quoted string ("") marks a word but never becomes one,
            // matching BuildKit.
            if self.in_word && !self.current.is_empty() {
                self.done.push(std::mem::take(&mut self.current));
                self.in_word = false;
            }
        } else {
            self.add_raw_char(ch);
        }
    }

    fn add_raw_char(&mut self, ch: char) {
        self.current.push(ch);
        self.in_word = true;
    }

    fn add_unquoted(&mut self, text: &str) {
        text.chars().for_each(|ch| self.add_char(ch));
    }

    fn add_quoted(&mut self, text: &str) {
        self.current.push_str(text);
        self.in_word = true;
    }

    fn finish(mut self) -> Vec<String> {
        if !self.current.is_empty() {
            self.done.push(self.current);
        }
        self.done
    }
}

struct Scanner<'a> {
    chars: Vec<char>,
    pos: usize,
    /// Current `${...}` nesting.
    depth: usize,
    lexer: &'a Lexer,
    vars: &'a Variables,
}

impl Scanner<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<char> {
        let ch = self.peek();
        if ch.is_some() {
            self.pos += 1;
        }
        ch
    }

    /// Processes up to `stop` (consumed) or the end of input when `stop` is
    /// `None`; returns the processed text and its words.
    fn process_until(
        &mut self,
        stop: Option<char>,
        keep_escapes: bool,
    ) -> Result<(String, Vec<String>), ExpandError> {
        let mut result = String::new();
        let mut words = Words::default();
        let quotes_special = !self.lexer.literal_quotes;

        while let Some(ch) = self.peek() {
            if Some(ch) == stop {
                self.next();
                return Ok((result, words.finish()));
            }
            match ch {
                '$' => {
                    let value = self.dollar()?;
                    result.push_str(&value);
                    words.add_unquoted(&value);
                }
                '<' => {
                    let text = self.possible_heredoc();
                    result.push_str(&text);
                    words.add_quoted(&text);
                }
                '\'' if quotes_special => {
                    let text = self.single_quoted()?;
                    result.push_str(&text);
                    words.add_quoted(&text);
                }
                '"' if quotes_special => {
                    let text = self.double_quoted(keep_escapes)?;
                    result.push_str(&text);
                    words.add_quoted(&text);
                }
                _ => {
                    self.next();
                    if ch == self.lexer.escape {
                        if keep_escapes {
                            words.add_raw_char(ch);
                            result.push(ch);
                        }
                        // A trailing escape character is dropped.
                        let Some(escaped) = self.next() else { break };
                        words.add_raw_char(escaped);
                        result.push(escaped);
                    } else {
                        words.add_char(ch);
                        result.push(ch);
                    }
                }
            }
        }
        match stop {
            Some('}') => Err(ExpandError::MissingBrace),
            Some(quote) => Err(ExpandError::UnterminatedQuote { quote }),
            None => Ok((result, words.finish())),
        }
    }

    fn single_quoted(&mut self) -> Result<String, ExpandError> {
        let mut text = String::new();
        self.next();
        if self.lexer.keep_quotes {
            text.push('\'');
        }
        loop {
            match self.next() {
                None => return Err(ExpandError::UnterminatedQuote { quote: '\'' }),
                Some('\'') => {
                    if self.lexer.keep_quotes {
                        text.push('\'');
                    }
                    return Ok(text);
                }
                Some(ch) => text.push(ch),
            }
        }
    }

    fn double_quoted(&mut self, keep_escapes: bool) -> Result<String, ExpandError> {
        let mut text = String::new();
        self.next();
        if self.lexer.keep_quotes {
            text.push('"');
        }
        loop {
            match self.peek() {
                None => return Err(ExpandError::UnterminatedQuote { quote: '"' }),
                Some('"') => {
                    self.next();
                    if self.lexer.keep_quotes {
                        text.push('"');
                    }
                    return Ok(text);
                }
                Some('$') => text.push_str(&self.dollar()?),
                Some(mut ch) => {
                    self.next();
                    if ch == self.lexer.escape {
                        if keep_escapes {
                            text.push(ch);
                        }
                        match self.peek() {
                            // Reported as an unterminated quote on the next turn.
                            None => continue,
                            // Only these can be escaped; before anything else
                            // the escape character stays literal, as in sh.
                            Some(next)
                                if next == '"' || next == '$' || next == self.lexer.escape =>
                            {
                                self.next();
                                ch = next;
                            }
                            Some(_) => {}
                        }
                    }
                    text.push(ch);
                }
            }
        }
    }

    fn possible_heredoc(&mut self) -> String {
        self.next();
        if self.peek() != Some('<') {
            return "<".to_string();
        }
        self.next();
        // `<< EOF` stays one word so heredoc detection can see it.
        let mut text = "<<".to_string();
        while let Some(ch @ (' ' | '\t' | '\r')) = self.peek() {
            text.push(ch);
            self.next();
        }
        text
    }

    fn lookup(&self, name: &str) -> Option<&str> {
        self.vars.get(name)
    }

    fn dollar(&mut self) -> Result<String, ExpandError> {
        self.next();
        if self.peek() != Some('{') {
            let name = self.name();
            if name.is_empty() {
                return Ok("$".to_string());
            }
            return Ok(match self.lookup(&name) {
                Some(value) => value.to_string(),
                None if self.lexer.keep_unset => format!("${name}"),
                None => String::new(),
            });
        }

        self.next();
        match self.peek() {
            None => return Err(ExpandError::MissingBrace),
            Some('{' | '}' | ':') => return Err(ExpandError::BadSubstitution),
            Some(_) => {}
        }
        let name = self.name();
        match self.next() {
            None => Err(ExpandError::MissingBrace),
            Some('}') => Ok(match self.lookup(&name) {
                Some(value) => value.to_string(),
                None if self.lexer.keep_unset => format!("${{{name}}}"),
                None => String::new(),
            }),
            Some(':') => match self.next() {
                None => Err(ExpandError::MissingBrace),
                Some(op @ ('-' | '+' | '?')) => self.modifier(&name, op, true),
                Some(op) => Err(ExpandError::UnsupportedModifier {
                    modifier: format!(":{op}"),
                }),
            },
            Some(op @ ('-' | '+' | '?')) => self.modifier(&name, op, false),
            Some(operator @ ('#' | '%' | '/')) => {
                Err(ExpandError::PatternNotSupported { name, operator })
            }
            Some(op) => Err(ExpandError::UnsupportedModifier {
                modifier: op.to_string(),
            }),
        }
    }

    /// `${name-word}`, `${name+word}`, `${name?word}`; with `colon`, an empty
    /// value counts as unset.
    fn modifier(&mut self, name: &str, op: char, colon: bool) -> Result<String, ExpandError> {
        if self.depth == MAX_NESTING {
            return Err(ExpandError::TooDeep);
        }
        self.depth += 1;
        let word = self.process_until(Some('}'), false);
        self.depth -= 1;
        let (word, _) = word.map_err(|err| match err {
            ExpandError::TooDeep => err,
            _ if self.peek().is_none() => ExpandError::MissingBrace,
            _ => err,
        })?;
        let value = self.lookup(name);
        if value.is_none() && self.lexer.keep_unset {
            let colon = if colon { ":" } else { "" };
            return Ok(format!("${{{name}{colon}{op}{word}}}"));
        }
        let missing = match value {
            None => true,
            Some(v) => colon && v.is_empty(),
        };
        match op {
            '-' => Ok(if missing {
                word
            } else {
                value.unwrap_or_default().to_string()
            }),
            '+' => Ok(if missing { String::new() } else { word }),
            _ => {
                if !missing {
                    return Ok(value.unwrap_or_default().to_string());
                }
                let message = if !word.is_empty() {
                    word
                } else if value.is_none() {
                    "is not allowed to be unset".to_string()
                } else {
                    "is not allowed to be empty".to_string()
                };
                Err(ExpandError::Required {
                    name: name.to_string(),
                    message,
                })
            }
        }
    }

    /// A variable name: letters, digits and `_`; or a run of digits
    /// (positional); or one special parameter character.
    fn name(&mut self) -> String {
        let mut name = String::new();
        while let Some(ch) = self.peek() {
            if name.is_empty() && ch.is_numeric() {
                while let Some(digit) = self.peek().filter(|c| c.is_numeric()) {
                    name.push(digit);
                    self.next();
                }
                return name;
            }
            if name.is_empty() && matches!(ch, '@' | '*' | '#' | '?' | '-' | '$' | '!' | '0') {
                self.next();
                return ch.to_string();
            }
            if !(ch.is_alphanumeric() || ch == '_') {
                break;
            }
            name.push(ch);
            self.next();
        }
        name
    }
}

/// Splits `text` on unquoted whitespace, keeping quotes and escapes in the
/// words (they are dealt with when each word is expanded). An escape
/// character at the very end is dropped. Single quotes disable escaping.
pub fn split_words(text: &str, escape: char) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    // A word that had quotes is kept even if it ends up empty.
    let mut had_quotes = false;
    let mut quote: Option<char> = None;
    let mut chars = text.chars().peekable();

    while let Some(ch) = chars.next() {
        match quote {
            None if ch.is_whitespace() => {
                if had_quotes || !current.is_empty() {
                    words.push(std::mem::take(&mut current));
                }
                had_quotes = false;
            }
            None => {
                if ch == '\'' || ch == '"' {
                    quote = Some(ch);
                    had_quotes = true;
                }
                current.push(ch);
                if ch == escape {
                    if let Some(escaped) = chars.next() {
                        current.push(escaped);
                    } else {
                        current.pop();
                    }
                }
            }
            Some(q) => {
                if ch == q {
                    quote = None;
                }
                if ch == escape && q != '\'' {
                    match chars.next() {
                        Some(escaped) => {
                            current.push(ch);
                            current.push(escaped);
                        }
                        // BuildKit drops a trailing escape and leaves the quote open.
                        None => quote = None,
                    }
                    continue;
                }
                current.push(ch);
            }
        }
    }
    if had_quotes || !current.is_empty() {
        words.push(current);
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Variables {
        pairs.iter().map(|(k, v)| (*k, *v)).collect()
    }

    fn expand(word: &str, env: &[(&str, &str)]) -> Result<String, ExpandError> {
        Lexer::new('\\').expand(word, &vars(env))
    }

    #[test]
    fn plain_and_braced_variables() {
        let env = [("A", "apple"), ("B_2", "banana")];
        assert_eq!(expand("$A-${B_2}!", &env).unwrap(), "apple-banana!");
        assert_eq!(expand("x${A}y$A", &env).unwrap(), "xappleyapple");
        assert_eq!(expand("$", &env).unwrap(), "$");
        assert_eq!(expand("a $ b", &env).unwrap(), "a $ b");
    }

    #[test]
    fn unknown_variables_expand_to_empty() {
        assert_eq!(expand("[$NOPE][${NOPE}]", &[]).unwrap(), "[][]");
    }

    #[test]
    fn default_and_alternative_modifiers() {
        let env = [("SET", "v"), ("EMPTY", "")];
        assert_eq!(expand("${SET:-d}", &env).unwrap(), "v");
        assert_eq!(expand("${EMPTY:-d}", &env).unwrap(), "d");
        assert_eq!(expand("${EMPTY-d}", &env).unwrap(), "");
        assert_eq!(expand("${UNSET-d}", &env).unwrap(), "d");
        assert_eq!(expand("${UNSET:-$SET/x}", &env).unwrap(), "v/x");
        assert_eq!(expand("${SET:+alt}", &env).unwrap(), "alt");
        assert_eq!(expand("${EMPTY:+alt}", &env).unwrap(), "");
        assert_eq!(expand("${EMPTY+alt}", &env).unwrap(), "alt");
        assert_eq!(expand("${UNSET+alt}", &env).unwrap(), "");
    }

    #[test]
    fn required_modifier_errors() {
        let env = [("EMPTY", ""), ("SET", "v")];
        assert_eq!(expand("${SET:?boom}", &env).unwrap(), "v");
        assert_eq!(
            expand("${UNSET:?need it}", &env).unwrap_err().to_string(),
            "UNSET: need it"
        );
        assert_eq!(
            expand("${UNSET?}", &env).unwrap_err().to_string(),
            "UNSET: is not allowed to be unset"
        );
        assert_eq!(
            expand("${EMPTY:?}", &env).unwrap_err().to_string(),
            "EMPTY: is not allowed to be empty"
        );
        assert_eq!(expand("${EMPTY?}", &env).unwrap(), "");
    }

    #[test]
    fn quotes() {
        let env = [("A", "x y")];
        assert_eq!(expand("'$A'", &env).unwrap(), "$A");
        assert_eq!(expand("\"$A\"", &env).unwrap(), "x y");
        assert_eq!(expand("\"it's\"", &env).unwrap(), "it's");
        assert_eq!(expand(r#""a\"b\$A\\c\d""#, &env).unwrap(), r#"a"b$A\c\d"#);
        assert_eq!(expand(r"\$A \'", &env).unwrap(), "$A '");
        assert_eq!(
            expand("'open", &env).unwrap_err(),
            ExpandError::UnterminatedQuote { quote: '\'' }
        );
        assert_eq!(
            expand("\"open", &env).unwrap_err(),
            ExpandError::UnterminatedQuote { quote: '"' }
        );
    }

    #[test]
    fn backtick_escape() {
        let lexer = Lexer::new('`');
        let env = vars(&[("A", "1")]);
        assert_eq!(lexer.expand(r"C:\dir\`$A", &env).unwrap(), r"C:\dir\$A");
        assert_eq!(lexer.expand("\"``\"", &env).unwrap(), "`");
    }

    #[test]
    fn syntax_errors() {
        assert_eq!(expand("${", &[]).unwrap_err(), ExpandError::MissingBrace);
        assert_eq!(expand("${A", &[]).unwrap_err(), ExpandError::MissingBrace);
        assert_eq!(
            expand("${A:-x", &[]).unwrap_err(),
            ExpandError::MissingBrace
        );
        assert_eq!(
            expand("${}", &[]).unwrap_err(),
            ExpandError::BadSubstitution
        );
        assert_eq!(
            expand("${:a}", &[]).unwrap_err(),
            ExpandError::BadSubstitution
        );
        assert_eq!(
            expand("${A:x}", &[]).unwrap_err(),
            ExpandError::UnsupportedModifier {
                modifier: ":x".into()
            }
        );
        assert_eq!(
            expand("${A%.*}", &[]).unwrap_err().to_string(),
            "pattern substitution ${A%...} is not supported yet"
        );
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let depth = 10_000;
        let word = format!("{}x{}", "${A:-\"".repeat(depth), "\"}".repeat(depth));
        assert_eq!(expand(&word, &[]).unwrap_err(), ExpandError::TooDeep);
        let word = format!(
            "{}x{}",
            "${A:-".repeat(MAX_NESTING),
            "}".repeat(MAX_NESTING)
        );
        assert_eq!(expand(&word, &[]).unwrap(), "x");
    }

    #[test]
    fn word_splitting_after_expansion() {
        let lexer = Lexer::new('\\');
        let env = vars(&[("A", "one two")]);
        assert_eq!(
            lexer.expand_words("x $A", &env).unwrap(),
            ["x", "one", "two"]
        );
        assert_eq!(
            lexer.expand_words("\"$A\" z", &env).unwrap(),
            ["one two", "z"]
        );
        assert_eq!(lexer.expand_words("a\\ b", &env).unwrap(), ["a b"]);
        // An empty quoted string does not make a word, as in BuildKit.
        assert_eq!(lexer.expand_words("\"\" x", &env).unwrap(), ["x"]);
    }

    #[test]
    fn keep_unset_leaves_references_alone() {
        let lexer = Lexer {
            keep_unset: true,
            ..Lexer::new('\\')
        };
        let env = vars(&[("A", "1")]);
        assert_eq!(
            lexer.expand("$A $B ${C} ${D:-x}", &env).unwrap(),
            "1 $B ${C} ${D:-x}"
        );
    }

    #[test]
    fn heredoc_operator_stays_one_word() {
        let lexer = Lexer::new('\\');
        assert_eq!(
            lexer
                .expand_words("cat << EOF > f", &Variables::new())
                .unwrap(),
            ["cat", "<< EOF", ">", "f"]
        );
    }

    #[test]
    fn split_words_keeps_quotes_and_escapes() {
        assert_eq!(
            split_words(r#"a=1 b="x y" c='$z w' d=e\ f"#, '\\'),
            ["a=1", "b=\"x y\"", "c='$z w'", r"d=e\ f"]
        );
        assert_eq!(split_words("  x  \"\"  ", '\\'), ["x", "\"\""]);
        assert_eq!(split_words(r"tail\", '\\'), ["tail"]);
        assert_eq!(split_words(r"a`  b", '`'), ["a` ", "b"]);
        assert_eq!(split_words(r"'a\' b", '\\'), [r"'a\'", "b"]);
    }

    #[test]
    fn variables_replace_in_place() {
        let mut v = vars(&[("A", "1"), ("B", "2")]);
        v.set("A", "3");
        assert_eq!(v.iter().collect::<Vec<_>>(), [("A", "3"), ("B", "2")]);
        assert_eq!(v.get("B"), Some("2"));
        assert_eq!(v.get("C"), None);
    }
}
