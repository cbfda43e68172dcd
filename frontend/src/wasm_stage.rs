//! The rules of a wasm target's final stage: it starts from scratch, its
//! whole filesystem becomes one layer, and the module its ENTRYPOINT names
//! must exist and be valid wasm once the stage is complete.

use std::path::Path;

use wasmpack_proto::pb;
use wasmpack_wasm::{self as wasm, WasmFacts};

use crate::convert::{to_pb, ConvertedStage};
use crate::dockerfile::Platform;
use crate::llb::{self, FileAction, Meta, State};

/// Operating systems of the wasm platforms (`wasi/wasm`, `wasip1/wasm`,
/// `wasip2/wasm`).
const WASM_OSES: &[&str] = &["wasi", "wasip1", "wasip2"];

/// Largest module the frontend reads back to validate.
const MAX_MODULE: i64 = 1 << 30;

/// fsutil's Stat.mode is a Go `os.FileMode`: file types are high bits
/// (dir, symlink, named pipe, socket, device, char device, irregular), and
/// a regular file has none of them.
const GO_MODE_TYPE: u32 = 1 << 31 | 1 << 27 | 1 << 25 | 1 << 24 | 1 << 26 | 1 << 21 | 1 << 19;

/// Read size for the entrypoint module: under the gRPC message limit.
const READ_CHUNK: i64 = 8 << 20;

pub fn is_wasm_platform(platform: &Platform) -> bool {
    platform.architecture == "wasm" && WASM_OSES.contains(&platform.os.as_str())
}

#[derive(Debug, thiserror::Error)]
#[error("{file}:{line}: {message}")]
pub struct WasmStageError {
    pub file: String,
    pub line: usize,
    pub message: String,
}

/// The module to validate: its absolute path in the stage and the line
/// that named it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entrypoint {
    pub path: String,
    pub line: usize,
    /// `ENTRYPOINT` or `CMD`.
    pub keyword: &'static str,
}

/// Checks the final stage's shape and finds the module it runs.
pub fn entrypoint_of(stage: &ConvertedStage, file: &str) -> Result<Entrypoint, WasmStageError> {
    let error = |line, message: String| WasmStageError {
        file: file.to_string(),
        line,
        message,
    };
    let platform = stage.platform.specifier();
    if !stage.from_scratch {
        return Err(error(
            stage.line,
            format!("the final stage of a {platform} image must start FROM scratch: a wasm image holds the module and its files, not an OS"),
        ));
    }
    let config = &stage.image.config;
    let (args, line, keyword) = match (&config.entrypoint, stage.entrypoint_line, &config.cmd, stage.cmd_line) {
        (Some(args), line, _, _) if !args.is_empty() => (args, line, "ENTRYPOINT"),
        (_, _, Some(args), line) if !args.is_empty() => (args, line, "CMD"),
        _ => {
            return Err(error(
                stage.line,
                format!("the final stage of a {platform} image sets no ENTRYPOINT: name the module, as in ENTRYPOINT [\"/app.wasm\"]"),
            ))
        }
    };
    // Inherited from an earlier scratch stage: point at this stage's FROM.
    let line = line.unwrap_or(stage.line);
    if args.len() >= 2 && args[0] == "/bin/sh" && args[1] == "-c" {
        return Err(error(
            line,
            format!("{keyword} in shell form runs /bin/sh, which a wasm image does not have: use the exec form, as in {keyword} [\"/app.wasm\"]"),
        ));
    }
    let dir = match config.working_dir.as_str() {
        "" => "/",
        dir => dir,
    };
    let path = if args[0].starts_with('/') {
        args[0].clone()
    } else {
        format!("{}/{}", dir.trim_end_matches('/'), args[0])
    };
    Ok(Entrypoint {
        path,
        line,
        keyword,
    })
}

/// The stage's whole filesystem as one layer: a single copy onto scratch,
/// so the exporter sees one snapshot with no parent.
pub fn squash(state: &State, platform: &Platform) -> State {
    state.as_ref()?;
    let copy = pb::FileActionCopy {
        dir_copy_contents: true,
        create_dest_path: true,
        ..llb::copy_defaults("/", "/")
    };
    llb::file(
        &None,
        vec![FileAction::Copy {
            from: state.clone(),
            copy,
        }],
        Some(to_pb(platform)),
        Meta::named("[wasmpack] squash the wasm stage into one layer"),
    )
}

/// The frontend's own image, as the root filesystem of its build steps.
fn frontend_tool(frontend_image: &str, build_platform: &Platform, resolve_mode: &str) -> State {
    Some(llb::image(
        format!("docker-image://{frontend_image}"),
        resolve_mode,
        Some(to_pb(build_platform)),
        Meta::named(format!("[internal] load {frontend_image}")),
    ))
}

/// Strips the module's custom sections as a build step: the frontend's own
/// image runs `strip` on the stage mounted at /stage, so BuildKit caches it
/// and no module bytes travel through LLB.
pub fn strip_step(
    state: &State,
    entry: &Entrypoint,
    frontend_image: &str,
    build_platform: &Platform,
    resolve_mode: &str,
) -> State {
    let exec = llb::Exec {
        args: vec![
            crate::FRONTEND_PATH.to_string(),
            "strip".to_string(),
            format!("/stage{}", entry.path),
        ],
        cwd: "/".to_string(),
        network: pb::NetMode::None,
        mounts: vec![llb::Mount {
            dest: "/stage".to_string(),
            state: state.clone(),
            selector: String::new(),
            readonly: false,
            output: true,
            kind: llb::MountKind::Bind,
        }],
        ..Default::default()
    };
    let tool = frontend_tool(frontend_image, build_platform, resolve_mode);
    let (_, outputs) = llb::exec(
        &tool,
        exec,
        Some(to_pb(build_platform)),
        Meta::named(format!(
            "[wasmpack] strip custom sections from {}",
            entry.path
        )),
    );
    outputs.into_iter().next().flatten()
}

/// What a precompile step leaves in its output.
pub const PRECOMPILED_ARTIFACT: &str = "/module.cwasm";
/// Its facts file (`wasmpack_aot::facts_path`): the layer annotations and
/// the artifact's digest, as a JSON object.
pub const PRECOMPILED_FACTS: &str = "/module.cwasm.json";

/// Precompiles the module for `triple` as a build step on the build
/// platform: the frontend's own image runs `precompile` with only the
/// module mounted (so only its bytes and the frontend image key BuildKit's
/// cache), and leaves [`PRECOMPILED_ARTIFACT`] and [`PRECOMPILED_FACTS`] in
/// the returned state. Steps for several targets run in parallel.
pub fn precompile_step(
    stage: &State,
    entry: &Entrypoint,
    triple: &str,
    frontend_image: &str,
    build_platform: &Platform,
    resolve_mode: &str,
) -> State {
    let exec = llb::Exec {
        args: vec![
            crate::FRONTEND_PATH.to_string(),
            "precompile".to_string(),
            triple.to_string(),
            "/in/module.wasm".to_string(),
            "/out".to_string(),
        ],
        cwd: "/".to_string(),
        network: pb::NetMode::None,
        mounts: vec![
            llb::Mount {
                dest: "/in/module.wasm".to_string(),
                state: stage.clone(),
                selector: entry.path.clone(),
                readonly: true,
                output: false,
                kind: llb::MountKind::Bind,
            },
            llb::Mount {
                dest: "/out".to_string(),
                state: None,
                selector: String::new(),
                readonly: false,
                output: true,
                kind: llb::MountKind::Bind,
            },
        ],
        ..Default::default()
    };
    let tool = frontend_tool(frontend_image, build_platform, resolve_mode);
    let meta = Meta::named(format!("[wasmpack] precompile {} for {triple}", entry.path));
    let (_, outputs) = llb::exec(&tool, exec, Some(to_pb(build_platform)), meta);
    outputs.into_iter().next().flatten()
}

/// `state` plus the artifact of a precompile step and its facts file at
/// their documented paths beside the module: one op, so one more layer of
/// its own.
pub fn add_artifact(
    state: &State,
    precompiled: &State,
    entry: &Entrypoint,
    triple: &str,
    epoch: i64,
    platform: &Platform,
) -> State {
    let dest = wasmpack_aot::artifact_path(&entry.path, triple);
    let copy = |src: &str, dest: &str| FileAction::Copy {
        from: precompiled.clone(),
        copy: pb::FileActionCopy {
            create_dest_path: true,
            mode: 0o644,
            timestamp: epoch,
            ..llb::copy_defaults(src, dest)
        },
    };
    let actions = vec![
        copy(PRECOMPILED_ARTIFACT, &dest),
        copy(PRECOMPILED_FACTS, &wasmpack_aot::facts_path(&dest)),
    ];
    let meta = Meta::named(format!("[wasmpack] add the {triple} artifact as {dest}"));
    llb::file(state, actions, Some(to_pb(platform)), meta)
}

/// The facts files of several precompile steps gathered in one state
/// (`/0.json`, `/1.json`, ...): solving it runs the steps, in parallel.
pub fn gather_facts(precompiled: &[State], platform: &Platform) -> State {
    let actions = precompiled
        .iter()
        .enumerate()
        .map(|(i, from)| FileAction::Copy {
            from: from.clone(),
            copy: llb::copy_defaults(PRECOMPILED_FACTS, &format!("/{i}.json")),
        })
        .collect();
    llb::file(
        &None,
        actions,
        Some(to_pb(platform)),
        Meta::named("[wasmpack] gather the precompiled artifacts' facts"),
    )
}

/// Reads back and validates the entrypoint module of a solved stage.
pub async fn validate(
    bridge: &mut crate::bridge::Bridge,
    reference: &str,
    entry: &Entrypoint,
    file: &str,
) -> Result<WasmFacts, WasmStageError> {
    let error = |message: String| WasmStageError {
        file: file.to_string(),
        line: entry.line,
        message: format!("{} {}: {message}", entry.keyword, entry.path),
    };
    let stat = bridge
        .stat_file(reference, &entry.path)
        .await
        .map_err(|e| match e.code() {
            Some(tonic::Code::NotFound) => {
                error("no such file in the final stage (was it copied there?)".to_string())
            }
            _ => error(format!("cannot check the file: {e}")),
        })?;
    if stat.mode & GO_MODE_TYPE != 0 {
        return Err(error("is not a regular file".to_string()));
    }
    if stat.size > MAX_MODULE {
        return Err(error(format!(
            "is {} bytes, more than the {} wasmpack validates",
            stat.size, MAX_MODULE
        )));
    }
    let mut bytes = Vec::with_capacity(stat.size as usize);
    while (bytes.len() as i64) < stat.size {
        let offset = bytes.len() as i64;
        let chunk = bridge
            .read_file(
                reference,
                &entry.path,
                Some((offset, READ_CHUNK.min(stat.size - offset))),
            )
            .await
            .map_err(|e| error(format!("cannot read the file: {e}")))?;
        if chunk.is_empty() {
            break;
        }
        bytes.extend_from_slice(&chunk);
    }
    wasm::validate(Path::new(&entry.path), &bytes).map_err(|e| {
        // The packager's message starts with the path, already said above.
        let text = e.to_string();
        let prefix = format!("{}: ", entry.path);
        error(text.strip_prefix(&prefix).unwrap_or(&text).to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::convert::{convert, ConvertOptions, ImageResolver};
    use crate::dockerfile::Dockerfile;

    struct NoImages;

    impl ImageResolver for NoImages {
        async fn resolve(
            &mut self,
            reference: &str,
            _: &pb::Platform,
        ) -> Result<(String, Vec<u8>), String> {
            match reference {
                "docker.io/library/busybox:latest" => Ok((
                    String::new(),
                    br#"{"os":"linux","architecture":"amd64"}"#.to_vec(),
                )),
                _ => Err("no images in this test".to_string()),
            }
        }
    }

    fn final_stage(text: &str) -> ConvertedStage {
        let dockerfile = Dockerfile::parse("Dockerfile", text).unwrap();
        let options = ConvertOptions {
            build_args: Default::default(),
            build_platform: Platform::new("linux", "amd64"),
            target_platform: Platform::new("wasi", "wasm"),
            target: None,
            context: None,
            image_resolve_mode: "default".to_string(),
            stages_on_build_platform: true,
            merge_op: true,
            chmod_symbolic: true,
            cache_namespace: String::new(),
            named_contexts: std::collections::HashMap::new(),
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        runtime
            .block_on(convert(&dockerfile, &options, &mut NoImages))
            .unwrap()
    }

    #[test]
    fn entrypoint_may_come_before_the_copy_and_relative_paths_use_workdir() {
        let stage = final_stage(
            "FROM scratch\nENTRYPOINT [\"/hello.wasm\"]\nCOPY hello.wasm /hello.wasm\n",
        );
        let entry = entrypoint_of(&stage, "Dockerfile").unwrap();
        assert_eq!(
            entry,
            Entrypoint {
                path: "/hello.wasm".into(),
                line: 2,
                keyword: "ENTRYPOINT"
            }
        );
        let stage = final_stage("FROM scratch\nWORKDIR /app\nCMD [\"bin/app.wasm\", \"x\"]\n");
        let entry = entrypoint_of(&stage, "Dockerfile").unwrap();
        assert_eq!(
            (entry.path.as_str(), entry.keyword, entry.line),
            ("/app/bin/app.wasm", "CMD", 3)
        );
    }

    #[test]
    fn the_final_stage_rules_are_errors_with_lines() {
        let err = entrypoint_of(
            &final_stage("FROM busybox\nENTRYPOINT [\"/a.wasm\"]\n"),
            "Dockerfile",
        )
        .unwrap_err();
        assert_eq!(err.line, 1);
        assert!(err.to_string().contains("must start FROM scratch"), "{err}");
        let err =
            entrypoint_of(&final_stage("FROM scratch\nCOPY a /a\n"), "Dockerfile").unwrap_err();
        assert!(
            err.to_string().starts_with("Dockerfile:1: ")
                && err.message.contains("sets no ENTRYPOINT"),
            "{err}"
        );
        let err = entrypoint_of(
            &final_stage("FROM scratch\n\nENTRYPOINT /a.wasm\n"),
            "Dockerfile",
        )
        .unwrap_err();
        assert_eq!(err.line, 3);
        assert!(err.message.contains("shell form"), "{err}");
    }

    #[test]
    fn squash_is_one_copy_onto_scratch() {
        let stage = final_stage("FROM scratch\nCOPY a /a\nCOPY b /b\n");
        let squashed = squash(&stage.state, &stage.platform);
        let def = llb::definition(&squashed, None);
        use prost::Message;
        let last = pb::Op::decode(def.def[def.def.len() - 2].as_slice()).unwrap();
        let Some(pb::op::Op::File(file)) = last.op else {
            panic!("file op")
        };
        assert_eq!(file.actions.len(), 1);
        assert_eq!(file.actions[0].input, -1, "onto scratch");
        assert_eq!(last.platform.unwrap().os, "wasi");
        assert!(squash(&None, &stage.platform).is_none());
    }

    #[test]
    fn precompile_sees_only_the_module_and_its_artifact_lands_beside_it() {
        use prost::Message;
        let stage = final_stage(
            "FROM scratch\nCOPY hello.wasm /hello.wasm\nENTRYPOINT [\"/hello.wasm\"]\n",
        );
        let entry = entrypoint_of(&stage, "Dockerfile").unwrap();
        let triple = "aarch64-unknown-linux-gnu";
        let step = precompile_step(
            &stage.state,
            &entry,
            triple,
            "docker.io/wasmpack/frontend:dev",
            &Platform::new("linux", "amd64"),
            "default",
        );
        let with_artifact = add_artifact(&stage.state, &step, &entry, triple, 7, &stage.platform);
        let def = llb::definition(&with_artifact, None);
        let ops: Vec<pb::Op> = def
            .def
            .iter()
            .map(|bytes| pb::Op::decode(bytes.as_slice()).unwrap())
            .collect();

        let exec = ops.iter().find_map(|op| match &op.op {
            Some(pb::op::Op::Exec(exec)) => Some(exec),
            _ => None,
        });
        let exec = exec.expect("an exec op");
        let meta = exec.meta.as_ref().unwrap();
        assert_eq!(
            meta.args[1..],
            ["precompile", triple, "/in/module.wasm", "/out"]
        );
        assert_eq!(exec.network, pb::NetMode::None as i32);
        let module = exec
            .mounts
            .iter()
            .find(|m| m.dest == "/in/module.wasm")
            .unwrap();
        assert_eq!(
            (module.selector.as_str(), module.readonly),
            ("/hello.wasm", true)
        );
        let out = exec.mounts.iter().find(|m| m.dest == "/out").unwrap();
        assert_eq!((out.input, out.readonly), (-1, false), "a fresh output");

        let Some(pb::op::Op::File(file)) = &ops[ops.len() - 2].op else {
            panic!("the copy is last")
        };
        let copies: Vec<&pb::FileActionCopy> = file
            .actions
            .iter()
            .filter_map(|action| match &action.action {
                Some(pb::file_action::Action::Copy(copy)) => Some(copy),
                _ => None,
            })
            .collect();
        let artifact = "/hello.aarch64-unknown-linux-gnu.cwasm";
        assert_eq!(
            (copies[0].src.as_str(), copies[0].dest.as_str()),
            (PRECOMPILED_ARTIFACT, artifact)
        );
        let facts = "/hello.aarch64-unknown-linux-gnu.cwasm.json";
        assert_eq!(
            (copies[1].src.as_str(), copies[1].dest.as_str()),
            (PRECOMPILED_FACTS, facts)
        );
        assert!(copies
            .iter()
            .all(|copy| (copy.mode, copy.timestamp) == (0o644, 7)));
        assert_eq!(file.actions.len(), 2, "one op, so one layer");
    }

    #[test]
    fn wasm_platforms() {
        for (text, wasm) in [
            ("wasi", true),
            ("wasip1", true),
            ("wasip2", true),
            ("linux", false),
        ] {
            assert_eq!(is_wasm_platform(&Platform::new(text, "wasm")), wasm);
        }
        assert!(!is_wasm_platform(&Platform::new("wasi", "amd64")));
    }
}
