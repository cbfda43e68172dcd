//! `.dockerignore` files: the exclude patterns BuildKit applies to the
//! build context (the local source's `local.excludepatterns`). The file is
//! read the way Docker's `ignorefile` reads it: `#` lines are comments,
//! lines are trimmed, a leading `!` re-includes, each pattern is cleaned
//! as a slash path and a leading `/` dropped. Matching is BuildKit's
//! (fsutil), so only the list is made here.

/// The patterns of a `.dockerignore`, in order, `!` kept as a prefix.
pub fn parse(text: &str) -> Vec<String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut patterns = Vec::new();
    for line in text.lines() {
        if line.starts_with('#') {
            continue;
        }
        let mut pattern = line.trim();
        if pattern.is_empty() {
            continue;
        }
        let invert = pattern.starts_with('!');
        if invert {
            pattern = pattern[1..].trim();
        }
        if pattern.is_empty() {
            continue;
        }
        let mut cleaned = crate::path::clean(pattern);
        if cleaned.len() > 1 && cleaned.starts_with('/') {
            cleaned.remove(0);
        }
        patterns.push(if invert {
            format!("!{cleaned}")
        } else {
            cleaned
        });
    }
    patterns
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_blank_lines_and_whitespace_are_dropped() {
        let text = "\u{feff}# build output\n\n  target  \n\t*.log\n#not/a/pattern\n";
        assert_eq!(parse(text), ["target", "*.log"]);
    }

    #[test]
    fn exceptions_keep_their_bang_and_are_cleaned_too() {
        assert_eq!(
            parse("*.md\n! README.md\n!./docs//keep.md\n"),
            ["*.md", "!README.md", "!docs/keep.md"]
        );
    }

    #[test]
    fn patterns_are_cleaned_and_lose_a_leading_slash() {
        assert_eq!(
            parse("/node_modules\n./a/./b/\na/../c\n../outside\n/\n**/tmp/..\n"),
            ["node_modules", "a/b", "c", "../outside", "/", "**"]
        );
    }

    #[test]
    fn a_lone_bang_is_no_pattern() {
        assert!(parse("!\n  !  \n").is_empty());
    }
}
