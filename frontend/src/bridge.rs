//! The connection to BuildKit: a gRPC client of the LLBBridge service over
//! this process's stdin and stdout (BuildKit starts a gateway frontend as a
//! container and speaks HTTP/2 on its standard streams), and the options
//! BuildKit hands over in the environment.

use std::collections::{BTreeMap, HashSet};
use std::sync::Mutex;

use crate::dockerfile::Warning;
use hyper_util::rt::TokioIo;
use tonic::transport::{Channel, Endpoint, Uri};
use wasmpack_proto::gateway::{self, llb_bridge_client::LlbBridgeClient};
use wasmpack_proto::{fsutil, google, pb};

/// Largest gRPC message either way: LLB with inline files and file reads
/// are chunked well below this.
const MAX_MESSAGE: usize = 64 << 20;

#[derive(Debug, thiserror::Error)]
pub enum BridgeError {
    #[error("cannot reach BuildKit over stdin/stdout")]
    Connect(#[source] tonic::transport::Error),
    #[error("BuildKit {call} failed: {}", .status.message())]
    Call {
        call: &'static str,
        status: tonic::Status,
    },
    #[error("this BuildKit lacks the `{cap}` capability, which {needed_for} needs; use a newer BuildKit (Docker 23 or later)")]
    MissingCap {
        cap: &'static str,
        needed_for: &'static str,
    },
}

impl BridgeError {
    /// The gRPC status code of a failed call (NotFound for a missing file).
    pub fn code(&self) -> Option<tonic::Code> {
        match self {
            BridgeError::Call { status, .. } => Some(status.code()),
            _ => None,
        }
    }
}

fn call(name: &'static str) -> impl FnOnce(tonic::Status) -> BridgeError {
    move |status| BridgeError::Call { call: name, status }
}

/// What the daemon supports, from Ping.
#[derive(Clone, Debug, Default)]
pub struct Caps {
    frontend: HashSet<String>,
    llb: HashSet<String>,
}

impl Caps {
    fn enabled(caps: &[wasmpack_proto::apicaps::ApiCap]) -> HashSet<String> {
        caps.iter()
            .filter(|c| c.enabled)
            .map(|c| c.id.clone())
            .collect()
    }

    pub fn frontend(&self, cap: &str) -> bool {
        self.frontend.contains(cap)
    }

    pub fn llb(&self, cap: &str) -> bool {
        self.llb.contains(cap)
    }

    /// Fails unless every gateway and LLB cap wasmpack cannot do without
    /// is there.
    fn require_basics(&self) -> Result<(), BridgeError> {
        const GATEWAY: &[(&str, &str)] = &[
            ("solve.base", "building"),
            ("return", "returning the image"),
            ("readfile", "reading the Dockerfile"),
            ("resolveimage", "FROM with an image"),
            ("statfile", "checking the wasm entrypoint"),
        ];
        const LLB: &[(&str, &str)] = &[
            ("source.image", "FROM with an image"),
            ("source.local", "reading the build context"),
            ("exec.meta.base", "RUN"),
            ("file.base", "COPY and WORKDIR"),
        ];
        let missing = GATEWAY
            .iter()
            .find(|(cap, _)| !self.frontend(cap))
            .or_else(|| LLB.iter().find(|(cap, _)| !self.llb(cap)));
        match missing {
            Some(&(cap, needed_for)) => Err(BridgeError::MissingCap { cap, needed_for }),
            None => Ok(()),
        }
    }
}

pub struct Bridge {
    client: LlbBridgeClient<Channel>,
    pub caps: Caps,
    /// The platforms of the daemon's workers; the first is BUILDPLATFORM.
    pub worker_platforms: Vec<pb::Platform>,
}

/// Hands out the process's stdin/stdout once; the one HTTP/2 connection
/// lives for the whole build.
fn stdio_connector() -> impl tower::Service<
    Uri,
    Response = TokioIo<tokio::io::Join<tokio::io::Stdin, tokio::io::Stdout>>,
    Error = std::io::Error,
    Future = impl Send,
> + Send
       + 'static {
    let stdio = Mutex::new(Some(tokio::io::join(
        tokio::io::stdin(),
        tokio::io::stdout(),
    )));
    tower::service_fn(move |_: Uri| {
        let taken = stdio.lock().ok().and_then(|mut s| s.take());
        async move {
            taken.map(TokioIo::new).ok_or_else(|| {
                std::io::Error::new(
                    std::io::ErrorKind::BrokenPipe,
                    "the stdio connection to BuildKit is closed",
                )
            })
        }
    })
}

impl Bridge {
    /// Connects over stdin/stdout and pings: learns the caps and workers.
    pub async fn connect() -> Result<Bridge, BridgeError> {
        // The URI is never dialled; the connector supplies the stream.
        let channel = Endpoint::from_static("http://buildkit.invalid")
            .connect_with_connector(stdio_connector())
            .await
            .map_err(BridgeError::Connect)?;
        let mut client = LlbBridgeClient::new(channel)
            .max_decoding_message_size(MAX_MESSAGE)
            .max_encoding_message_size(MAX_MESSAGE);
        let pong = client
            .ping(gateway::PingRequest {})
            .await
            .map_err(call("Ping"))?
            .into_inner();
        let caps = Caps {
            frontend: Caps::enabled(&pong.frontend_api_caps),
            llb: Caps::enabled(&pong.llb_caps),
        };
        caps.require_basics()?;
        let worker_platforms = pong.workers.into_iter().flat_map(|w| w.platforms).collect();
        Ok(Bridge {
            client,
            caps,
            worker_platforms,
        })
    }

    /// Definitions handed on by a forwarding frontend (`dockerfile`,
    /// `context`, named contexts); empty when the daemon has no inputs cap.
    pub async fn inputs(&mut self) -> Result<BTreeMap<String, pb::Definition>, BridgeError> {
        if !self.caps.frontend("frontend.inputs") {
            return Ok(BTreeMap::new());
        }
        let response = self
            .client
            .inputs(gateway::InputsRequest {})
            .await
            .map_err(call("Inputs"))?;
        Ok(response.into_inner().definitions)
    }

    /// An image's digest and config JSON, as the daemon resolves it.
    pub async fn resolve_image_config(
        &mut self,
        reference: &str,
        platform: &pb::Platform,
        resolve_mode: &str,
    ) -> Result<(String, Vec<u8>), BridgeError> {
        let request = gateway::ResolveImageConfigRequest {
            r#ref: reference.to_string(),
            platform: Some(platform.clone()),
            resolve_mode: resolve_mode.to_string(),
            log_name: format!("[internal] load metadata for {reference}"),
            ..Default::default()
        };
        let response = self
            .client
            .resolve_image_config(request)
            .await
            .map_err(call("ResolveImageConfig"))?;
        let response = response.into_inner();
        Ok((response.digest, response.config))
    }

    /// Solves a definition; returns the result's reference id.
    pub async fn solve(&mut self, definition: pb::Definition) -> Result<String, BridgeError> {
        let request = gateway::SolveRequest {
            definition: Some(definition),
            allow_result_return: true,
            // The result as a Ref message (id and definition), not the
            // deprecated bare-string form.
            allow_result_array_ref: true,
            ..Default::default()
        };
        let response = self
            .client
            .solve(request)
            .await
            .map_err(call("Solve"))?
            .into_inner();
        let id = match response.result.and_then(|r| r.result) {
            Some(gateway::result::Result::Ref(r)) => r.id,
            _ => response.r#ref,
        };
        Ok(id)
    }

    /// Reads `path` from a solved reference (`range`: offset and length).
    pub async fn read_file(
        &mut self,
        reference: &str,
        path: &str,
        range: Option<(i64, i64)>,
    ) -> Result<Vec<u8>, BridgeError> {
        let request = gateway::ReadFileRequest {
            r#ref: reference.to_string(),
            file_path: path.to_string(),
            range: range.map(|(offset, length)| gateway::FileRange { offset, length }),
        };
        let response = self
            .client
            .read_file(request)
            .await
            .map_err(call("ReadFile"))?;
        Ok(response.into_inner().data)
    }

    pub async fn stat_file(
        &mut self,
        reference: &str,
        path: &str,
    ) -> Result<fsutil::types::Stat, BridgeError> {
        let request = gateway::StatFileRequest {
            r#ref: reference.to_string(),
            path: path.to_string(),
        };
        let response = self
            .client
            .stat_file(request)
            .await
            .map_err(call("StatFile"))?;
        Ok(response.into_inner().stat.unwrap_or_default())
    }

    /// Hands the build's result to the exporter: one filesystem and its
    /// metadata (the image config).
    pub async fn return_result(
        &mut self,
        reference: String,
        definition: pb::Definition,
        metadata: BTreeMap<String, Vec<u8>>,
    ) -> Result<(), BridgeError> {
        let result = gateway::result::Result::Ref(solved(reference, definition));
        self.return_ok(result, metadata).await
    }

    /// Ends a build of several platforms: one result per platform id, and
    /// `metadata` keyed by those ids where it is per platform.
    pub async fn return_results(
        &mut self,
        refs: Vec<(String, String, pb::Definition)>,
        metadata: BTreeMap<String, Vec<u8>>,
    ) -> Result<(), BridgeError> {
        let refs = refs
            .into_iter()
            .map(|(id, reference, definition)| (id, solved(reference, definition)))
            .collect();
        let result = gateway::result::Result::Refs(gateway::RefMap { refs });
        self.return_ok(result, metadata).await
    }

    async fn return_ok(
        &mut self,
        result: gateway::result::Result,
        metadata: BTreeMap<String, Vec<u8>>,
    ) -> Result<(), BridgeError> {
        let request = gateway::ReturnRequest {
            result: Some(gateway::Result {
                result: Some(result),
                metadata,
            }),
            error: None,
        };
        self.client
            .r#return(request)
            .await
            .map_err(call("Return"))?;
        Ok(())
    }

    /// A build warning the client shows with the build (BuildKit's warning
    /// channel), attached to the vertex `digest` and to `line` of `source`.
    pub async fn warn(
        &mut self,
        digest: String,
        warning: &Warning,
        source: pb::SourceInfo,
    ) -> Result<(), BridgeError> {
        let line = i32::try_from(warning.line).unwrap_or(i32::MAX);
        let position = pb::Position { line, character: 0 };
        let request = gateway::WarnRequest {
            digest,
            level: 1,
            short: warning.short.clone().into_bytes(),
            detail: vec![warning.detail.clone().into_bytes()],
            url: warning.url.clone(),
            info: Some(source),
            ranges: vec![pb::Range {
                start: Some(position),
                end: Some(position),
            }],
        };
        self.client.warn(request).await.map_err(call("Warn"))?;
        Ok(())
    }

    /// Fails the build with `message`, which BuildKit prints as its ERROR.
    pub async fn return_error(&mut self, message: String) -> Result<(), BridgeError> {
        let request = gateway::ReturnRequest {
            result: None,
            error: Some(google::rpc::Status {
                // Unknown: BuildKit prints the message without a code prefix.
                code: tonic::Code::Unknown as i32,
                message,
                details: Vec::new(),
            }),
        };
        self.client
            .r#return(request)
            .await
            .map_err(call("Return"))?;
        Ok(())
    }
}

/// A solved result as the gateway returns it: its reference and the
/// definition it came from.
fn solved(reference: String, definition: pb::Definition) -> gateway::Ref {
    gateway::Ref {
        id: reference,
        def: Some(definition),
    }
}

/// The options BuildKit passes a gateway frontend: `BUILDKIT_FRONTEND_OPT_<n>`
/// variables holding `key=value`, plus the session id.
#[derive(Clone, Debug, Default)]
pub struct Options {
    pub opts: BTreeMap<String, String>,
    pub session_id: String,
}

impl Options {
    pub fn from_env() -> Options {
        Self::from_vars(std::env::vars())
    }

    pub fn from_vars(vars: impl IntoIterator<Item = (String, String)>) -> Options {
        let mut options = Options::default();
        for (name, value) in vars {
            if name == "BUILDKIT_SESSION_ID" {
                options.session_id = value;
            } else if name.starts_with("BUILDKIT_FRONTEND_OPT_") {
                let (key, value) = wasmpack_oci::key_value::split(&value);
                options.opts.insert(key.to_string(), value.to_string());
            }
        }
        options
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.opts.get(key).map(String::as_str)
    }

    /// `--build-arg` values.
    pub fn build_args(&self) -> std::collections::HashMap<String, String> {
        self.opts
            .iter()
            .filter_map(|(k, v)| Some((k.strip_prefix("build-arg:")?.to_string(), v.clone())))
            .collect()
    }

    /// A build option given as `--opt NAME=…` or as `--build-arg BUILD_ARG=…`
    /// (buildx has no `--opt`).
    pub fn wasmpack_option(&self, opt: &str, build_arg: &str) -> Option<&str> {
        self.get(opt)
            .or_else(|| self.get(&format!("build-arg:{build_arg}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_come_from_numbered_variables_and_build_args_are_split_out() {
        let vars = [
            ("BUILDKIT_FRONTEND_OPT_0", "filename=Dockerfile"),
            ("BUILDKIT_FRONTEND_OPT_1", "build-arg:GREETING=a=b"),
            ("BUILDKIT_FRONTEND_OPT_2", "platform=wasi/wasm"),
            ("BUILDKIT_FRONTEND_OPT_3", "build-arg:WASMPACK_STRIP=1"),
            ("BUILDKIT_SESSION_ID", "abc"),
            ("PATH", "/bin"),
        ];
        let options = Options::from_vars(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        assert_eq!(options.get("platform"), Some("wasi/wasm"));
        assert_eq!(options.session_id, "abc");
        assert_eq!(
            options.build_args().get("GREETING").map(String::as_str),
            Some("a=b")
        );
        assert_eq!(
            options.wasmpack_option("wasm-strip", "WASMPACK_STRIP"),
            Some("1")
        );
        assert_eq!(options.opts.len(), 4);
    }

    #[test]
    fn a_missing_basic_cap_is_named() {
        let mut caps = Caps::default();
        for cap in [
            "solve.base",
            "return",
            "readfile",
            "resolveimage",
            "statfile",
        ] {
            caps.frontend.insert(cap.to_string());
        }
        for cap in ["source.image", "source.local", "exec.meta.base"] {
            caps.llb.insert(cap.to_string());
        }
        let err = caps.require_basics().unwrap_err().to_string();
        assert!(err.contains("`file.base`") && err.contains("COPY"), "{err}");
        caps.llb.insert("file.base".to_string());
        assert!(caps.require_basics().is_ok());
    }
}
