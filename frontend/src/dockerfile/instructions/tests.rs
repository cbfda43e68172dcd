//! Nodes to instructions and stages, through [`Dockerfile::parse`]: every
//! instruction's forms, flags and errors.

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
    dockerfile.stages[0]
        .instructions
        .iter()
        .map(|i| i.instruction.clone())
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Docker's Rust-to-wasm walkthrough, in the shape its guide uses.
const RUST_WASM_WALKTHROUGH: &str = include_str!("../../../testdata/rust-to-wasm.Dockerfile");

#[test]
fn rust_to_wasm_walkthrough() {
    let dockerfile = parse_ok(RUST_WASM_WALKTHROUGH);
    assert_eq!(
        dockerfile.directives.syntax.as_deref(),
        Some("docker/dockerfile:1")
    );
    assert!(dockerfile.global_args.is_empty());
    let heads: Vec<_> = dockerfile
        .stages
        .iter()
        .map(|s| {
            (
                s.name.as_deref(),
                s.from.as_str(),
                s.platform.as_deref(),
                s.line,
            )
        })
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
    assert_eq!(
        build[2].source,
        "RUN cargo build --target wasm32-wasi --release"
    );

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
    assert_eq!(
        dockerfile.stages[0].instructions[1].instruction,
        Instruction::Workdir("/x".into())
    );
}

#[test]
fn global_args_and_several_args_per_line() {
    let dockerfile = parse_ok("ARG A B=\"two words\"\nARG C=\nFROM x\nARG D=1 E\n");
    let globals: Vec<_> = dockerfile
        .global_args
        .iter()
        .map(|g| (g.line, g.arg.name.as_str(), g.arg.default.as_deref()))
        .collect();
    assert_eq!(
        globals,
        [
            (1, "A", None),
            (1, "B", Some("\"two words\"")),
            (2, "C", Some(""))
        ]
    );
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
            Instruction::Label(pairs(&[
                ("org.opencontainers.image.title", "\"hello\""),
                ("version", "1")
            ])),
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
    assert_eq!(
        parse_err("FROM x\nENV\n"),
        "Dockerfile:2: ENV \"\": expected <name>=<value> ..."
    );
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
    assert_eq!(
        parse_err("FROM x\nRUN\n"),
        "Dockerfile:2: RUN \"\": expected a command to run"
    );
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
    let heredocs: Vec<_> = copy
        .heredocs
        .iter()
        .map(|h| (h.name.as_str(), h.content.as_str(), h.expand))
        .collect();
    assert_eq!(
        heredocs,
        [
            ("one.txt", "first $A\n", true),
            ("two.txt", "second $A\n", false)
        ]
    );
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
    assert_eq!(
        parse_err("FROM x\nFROBNICATE\n"),
        "Dockerfile:2: unknown instruction \"FROBNICATE\""
    );
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
            test: vec![
                "CMD".into(),
                "curl".into(),
                "-f".into(),
                "http://localhost/".into()
            ],
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
            test: vec![
                "CMD-SHELL".into(),
                "curl -f http://localhost/ || exit 1".into()
            ],
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
        (
            "ONBUILD FROM x",
            "FROM is not allowed as an ONBUILD trigger",
        ),
        ("ONBUILD RUNN true", "did you mean RUN"),
        ("VOLUME [\"\"]", "cannot be an empty string"),
        ("USER", "USER takes exactly one argument"),
        ("EXPOSE", "expected EXPOSE"),
        ("ADD --from=a b /c", "unknown flag \"--from\" on ADD"),
        (
            "COPY --checksum=sha256:0 a /b",
            "unknown flag \"--checksum\" on COPY",
        ),
    ] {
        let err = parse_err(&format!("FROM x\n{line}\n"));
        assert!(
            err.starts_with("Dockerfile:2: ") && err.contains(expected),
            "{line}: {err}"
        );
    }
}

#[test]
fn onbuild_triggers_parse_back() {
    assert_eq!(
        parse_trigger("Dockerfile", 4, "ENV A=1", '\\').unwrap(),
        Instruction::Env(vec![("A".into(), "1".into())])
    );
    let err = parse_trigger("Dockerfile", 4, "FROM x", '\\')
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("Dockerfile:4: ") && err.contains("FROM is not allowed"),
        "{err}"
    );
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
    assert!(
        parse_err("FROM a AS Bad/Name\n").contains("\"Bad/Name\""),
        "shown as written"
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
    assert_eq!(
        parse_err("FROM a\nWORKDIR --x=1 /a\n"),
        "Dockerfile:2: unknown flag \"--x\" on WORKDIR"
    );
}

#[test]
fn errors_report_the_first_line_of_a_continued_instruction() {
    let err = Dockerfile::parse(
        "build/Dockerfile.wasm",
        "FROM a\nRUN true\nCOPY \\\n  --bogus \\\n  a b\n",
    )
    .unwrap_err();
    assert_eq!(err.file, "build/Dockerfile.wasm");
    assert_eq!(err.line, 3);
}
