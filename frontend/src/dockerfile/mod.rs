//! The Dockerfile front half, split the way BuildKit splits its frontend:
//!
//! - [`parser`]: text to [`Node`]s — parser directives, comments, line
//!   continuations, heredocs, flags, JSON (exec) form detection.
//! - [`instructions`]: nodes to typed [`Instruction`]s grouped into
//!   [`Stage`]s of a [`Dockerfile`].
//! - [`mount`]: `RUN --mount=` values.
//! - [`expand`]: the shell-word lexer (variable expansion, quotes, escapes).
//! - [`scope`]: which variables each expansion sees ([`GlobalScope`] for
//!   FROM, [`StageExpander`] for everything inside a stage).
//!
//! Conversion to LLB is not done here.

pub mod expand;
pub mod ignore;
pub mod instructions;
pub mod mount;
pub mod parser;
pub mod scope;

pub use expand::{split_words, ExpandError, Lexer, Variables};
pub use instructions::{
    ArgDecl, Copy, Dockerfile, GlobalArg, Healthcheck, Instruction, LocatedInstruction, Network,
    Run, Security, ShellOrExec, Stage,
};
pub use mount::{Mount, MountType, Sharing};
pub use parser::{Directives, Heredoc, Node, ParsedFile, Warning};
pub use scope::{AutomaticArgs, GlobalScope, Platform, StageBase, StageExpander};

/// A problem in a Dockerfile, located by file name and 1-based line; shown as
/// `Dockerfile:7: unknown instruction "COPPY": did you mean COPY?`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {kind}")]
pub struct Error {
    pub file: String,
    pub line: usize,
    pub kind: ErrorKind,
}

impl Error {
    pub(crate) fn new(file: &str, line: usize, kind: ErrorKind) -> Self {
        Error {
            file: file.to_string(),
            line,
            kind,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ErrorKind {
    #[error("file with no instructions")]
    NoInstructions,
    #[error("parser directive {name:?} appears twice: only one is allowed")]
    DuplicateDirective { name: String },
    #[error("invalid escape directive {value:?}: the escape character must be \\ or `")]
    InvalidEscape { value: String },
    #[error("heredoc {name:?} never ends: add a line containing only {name}")]
    UnterminatedHeredoc { name: String },
    #[error("{text}: a JSON (exec form) array must contain only strings")]
    JsonNotStrings { text: String },
    #[error("unknown instruction {keyword:?}{}", did_you_mean(suggestion))]
    UnknownInstruction {
        keyword: String,
        suggestion: Option<String>,
    },
    #[error("unknown flag {flag:?} on {keyword}{}", did_you_mean(suggestion))]
    UnknownFlag {
        keyword: &'static str,
        flag: String,
        suggestion: Option<String>,
    },
    #[error("flag {flag:?} on {keyword} is not supported yet")]
    UnsupportedFlag { keyword: &'static str, flag: String },
    #[error("flag {flag:?} on {keyword}: {problem}")]
    InvalidFlag {
        keyword: &'static str,
        flag: String,
        problem: String,
    },
    #[error("{keyword} {text:?}: {problem}")]
    InvalidArguments {
        keyword: &'static str,
        text: String,
        problem: String,
    },
    #[error(
        "invalid stage name {name:?}: it must start with a letter and contain only \
         letters, digits, '-', '_' and '.'"
    )]
    InvalidStageName { name: String },
    #[error("{keyword} before the first FROM: only ARG may come before FROM")]
    InstructionBeforeFrom { keyword: &'static str },
    #[error("no FROM instruction: a Dockerfile needs at least one stage")]
    NoStages,
    /// The lexer's reason is part of this message, not a cause below it:
    /// the whole error reaches buildx as one line.
    #[error("cannot expand {text:?}: {reason}")]
    Expansion { text: String, reason: ExpandError },
    #[error("{what} {text:?} expands to an empty string")]
    EmptyAfterExpansion { what: &'static str, text: String },
}

fn did_you_mean(suggestion: &Option<String>) -> String {
    suggestion
        .as_ref()
        .map(|s| format!(": did you mean {s}?"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    /// xorshift64*: a fixed-seed generator, so failures reproduce.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    /// Pieces that reach the parser's and lexer's special cases.
    const FRAGMENTS: &[&str] = &[
        "FROM ",
        "from ",
        "RUN ",
        "COPY ",
        "ENV ",
        "ARG ",
        "LABEL ",
        "WORKDIR ",
        "CMD ",
        "ENTRYPOINT ",
        "ONBUILD ",
        "ADD ",
        "AS ",
        "# escape=`\n",
        "# escape=\\\n",
        "# syntax=x\n",
        "# check=skip=all\n",
        "#",
        "\\",
        "`",
        "\n",
        "\r\n",
        " ",
        "\t",
        "<<",
        "<<-",
        "3<<",
        "EOF",
        "EOF\n",
        "\tEOF\n",
        "'",
        "\"",
        "$",
        "${",
        "}",
        ":-",
        ":+",
        ":?",
        "-",
        "+",
        "?",
        "%",
        "[",
        "]",
        ",",
        "[\"a\"]",
        "[1]",
        "--from=",
        "--link",
        "--mount=",
        "--mount=type=cache,target=/c,id=$A",
        "type=secret,",
        "\"target=/a,b\"",
        "--network=",
        "--security=insecure",
        "--interval=1m30s",
        "--retries=",
        "--checksum=",
        "NONE",
        "CMD-SHELL",
        "http://h/x",
        "git@h:r.git#main:sub",
        "--platform=$BUILDPLATFORM",
        "--",
        "=",
        "a",
        "x y",
        "0",
        "é",
        "\u{feff}",
        "\u{85}",
        "\u{a0}",
        "\0",
    ];

    const KEYWORDS: &[&str] = &[
        "FROM",
        "ARG",
        "ENV",
        "LABEL",
        "WORKDIR",
        "RUN",
        "COPY",
        "ADD",
        "CMD",
        "ENTRYPOINT",
        "USER",
        "EXPOSE",
        "VOLUME",
        "STOPSIGNAL",
        "HEALTHCHECK",
        "SHELL",
        "ONBUILD",
        "MAINTAINER",
        "run",
    ];

    fn random_fragments(rng: &mut Rng, max: usize, text: &mut String) {
        for _ in 0..rng.below(max) {
            if rng.below(10) == 0 {
                // Any char at all, now and then.
                text.extend(char::from_u32(rng.next() as u32 % 0x11_0000));
            } else {
                text.push_str(FRAGMENTS[rng.below(FRAGMENTS.len())]);
            }
        }
    }

    /// Half free-form soup, half lines that start with a supported keyword
    /// after a FROM, so instruction parsing and expansion get exercised too.
    fn random_input(rng: &mut Rng) -> String {
        let mut text = String::new();
        if rng.below(2) == 0 {
            random_fragments(rng, 80, &mut text);
            return text;
        }
        text.push_str("FROM a\n");
        for _ in 0..rng.below(8) {
            text.push_str(KEYWORDS[rng.below(KEYWORDS.len())]);
            text.push(' ');
            random_fragments(rng, 10, &mut text);
            text.push('\n');
        }
        text
    }

    /// Runs everything the converter will run on `text`; errors are fine,
    /// panics are not.
    fn exercise(text: &str) {
        let automatic = AutomaticArgs {
            build_platform: Platform::new("linux", "amd64"),
            target_platform: Platform::new("wasi", "wasm"),
        };
        for escape in ['\\', '`'] {
            let lexer = Lexer::new(escape);
            let _ = lexer.expand(text, &Variables::new());
            let _ = lexer.expand_words(text, &Variables::new());
            let _ = split_words(text, escape);
        }
        let Ok(dockerfile) = Dockerfile::parse("Dockerfile", text) else {
            return;
        };
        let build_args = HashMap::from([("a".to_string(), "x y".to_string())]);
        let Ok(scope) = dockerfile.global_scope(&build_args, &automatic) else {
            return;
        };
        for stage in &dockerfile.stages {
            let _ = scope.resolve_base(stage);
            let mut expander = scope.stage_expander(Variables::new());
            for instruction in &stage.instructions {
                // And the checks the converter makes on expanded values.
                match expander.expand(instruction) {
                    Ok(Instruction::Expose(ports)) => {
                        for port in ports {
                            let _ = crate::image::exposed_ports(&port);
                        }
                    }
                    Ok(Instruction::StopSignal(signal)) => {
                        let _ = crate::image::is_signal(&signal);
                    }
                    Ok(Instruction::Run(run)) => {
                        for size in run.mounts.iter().filter_map(|m| m.size.as_deref()) {
                            let _ = mount::parse_size(size);
                        }
                    }
                    Ok(Instruction::Onbuild(trigger)) => {
                        let _ = instructions::parse_trigger("Dockerfile", 1, &trigger, '\\');
                    }
                    _ => {}
                }
            }
        }
    }

    /// Random and adversarial inputs through everything the converter runs
    /// on a Dockerfile: no panic, and no loop — a watchdog fails the test,
    /// naming the input, if one input takes more than 10 seconds.
    #[test]
    fn never_panics_nor_hangs_on_arbitrary_input() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        use std::sync::{Arc, Mutex};
        use std::time::{Duration, Instant};

        let done = Arc::new(AtomicUsize::new(0));
        let current = Arc::new(Mutex::new(String::new()));
        let worker = {
            let (done, current) = (done.clone(), current.clone());
            std::thread::spawn(move || {
                let mut rng = Rng(0x5eed_cafe_f00d_d00d);
                let mut inputs: Vec<String> = (0..20_000).map(|_| random_input(&mut rng)).collect();
                // Inputs a generator is unlikely to assemble.
                inputs.push(format!(
                    "FROM a\nRUN {}x{}",
                    "${A:-".repeat(100_000),
                    "}".repeat(100_000)
                ));
                inputs.push(format!(
                    "FROM a\nCMD {}{}",
                    "[".repeat(100_000),
                    "]".repeat(100_000)
                ));
                inputs.push(format!("FROM a\nRUN x{}", " \\\n".repeat(50_000)));
                inputs.push(format!(
                    "FROM a\nONBUILD {}RUN <<E\nE\n",
                    "ONBUILD ".repeat(10_000)
                ));
                inputs.push(format!("FROM a\nRUN --mount={} x\n", "\"".repeat(100_001)));
                inputs.push(format!(
                    "FROM a\nHEALTHCHECK --interval={} CMD x\n",
                    "1h".repeat(50_000)
                ));
                for input in inputs {
                    *current.lock().unwrap() = input.clone();
                    exercise(&input);
                    done.fetch_add(1, Ordering::SeqCst);
                }
            })
        };
        let (mut last, mut since) = (0, Instant::now());
        while !worker.is_finished() {
            std::thread::sleep(Duration::from_millis(50));
            let now = done.load(Ordering::SeqCst);
            if now != last {
                (last, since) = (now, Instant::now());
            }
            let stuck = current
                .lock()
                .unwrap()
                .chars()
                .take(300)
                .collect::<String>();
            assert!(
                since.elapsed() < Duration::from_secs(10),
                "input {now} takes over 10 s: {stuck:?}"
            );
        }
        assert!(
            worker.join().is_ok(),
            "a panic on input {}: {:?}",
            done.load(Ordering::SeqCst),
            current.lock().unwrap()
        );
    }
}
