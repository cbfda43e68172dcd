//! What the conversion's unit tests share: a registry that knows the rust
//! images, the options of a wasm build, and readers of the LLB made.

use std::collections::{BTreeMap, HashMap};

use prost::Message;
use wasmpack_proto::pb;

pub(super) use super::{convert, ConvertError, ConvertOptions, ConvertedStage, ImageResolver};
pub(super) use crate::dockerfile::{Dockerfile, Platform};
pub(super) use crate::llb::{self, Meta, State};

pub(super) struct FakeRegistry;

impl ImageResolver for FakeRegistry {
    async fn resolve(
        &mut self,
        reference: &str,
        platform: &pb::Platform,
    ) -> Result<(String, Vec<u8>), String> {
        match reference {
            r if r.starts_with("docker.io/library/rust:") => Ok((
                "sha256:1111111111111111111111111111111111111111111111111111111111111111".to_string(),
                format!(
                    r#"{{"os":"{}","architecture":"{}","config":{{"Env":["PATH=/usr/local/cargo/bin:/usr/bin","CARGO_HOME=/usr/local/cargo"],"WorkingDir":"/"}}}}"#,
                    platform.os, platform.architecture
                )
                .into_bytes(),
            )),
            other => Err(format!("{other}: not found")),
        }
    }
}

pub(super) fn options() -> ConvertOptions {
    ConvertOptions {
        build_args: HashMap::new(),
        build_platform: Platform::new("linux", "amd64"),
        target_platform: Platform::new("wasi", "wasm"),
        target: None,
        context: Some(llb::source(
            "local://context".into(),
            BTreeMap::new(),
            None,
            Meta::default(),
        )),
        image_resolve_mode: "local".to_string(),
        stages_on_build_platform: true,
        merge_op: true,
        chmod_symbolic: true,
        cache_namespace: String::new(),
        named_contexts: HashMap::new(),
    }
}

pub(super) fn convert_text(
    text: &str,
    options: &ConvertOptions,
) -> Result<ConvertedStage, ConvertError> {
    let dockerfile = Dockerfile::parse("Dockerfile", text)?;
    futures_lite_block_on(convert(&dockerfile, options, &mut FakeRegistry))
}

/// The conversion only awaits the resolver, which never pends here.
fn futures_lite_block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime")
        .block_on(future)
}

pub(super) fn ops(state: &State) -> Vec<pb::Op> {
    llb::definition(state, None)
        .def
        .iter()
        .map(|b| pb::Op::decode(b.as_slice()).unwrap())
        .collect()
}

pub(super) fn execs(state: &State) -> Vec<(pb::ExecOp, Option<pb::Platform>)> {
    ops(state)
        .into_iter()
        .filter_map(|op| match op.op {
            Some(pb::op::Op::Exec(e)) => Some((e, op.platform)),
            _ => None,
        })
        .collect()
}
