//! `wasmpack-frontend`: run by BuildKit as a gateway frontend (the image
//! named on a Dockerfile's `# syntax=` line), talking gRPC on stdin/stdout.
//! `wasmpack-frontend strip FILE` and `wasmpack-frontend precompile TARGET
//! MODULE OUTDIR` are the build steps it adds to strip a module's custom
//! sections and to precompile it for a target.

use std::io::IsTerminal;
use std::process::ExitCode;

use wasmpack_frontend::bridge::{Bridge, Options};
use wasmpack_frontend::{solve, wasm_stage};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("strip") => return strip(&args[1..]),
        Some("precompile") => return precompile(&args[1..]),
        Some(other) => {
            eprintln!("wasmpack-frontend: unknown command {other:?} (`strip FILE` or `precompile TARGET MODULE OUTDIR`)");
            return ExitCode::from(2);
        }
        None => {}
    }
    if std::io::stdin().is_terminal() {
        eprintln!(
            "wasmpack-frontend is a BuildKit frontend: put `# syntax=<its image>` on a Dockerfile's first line \
             and run `docker buildx build --platform wasi/wasm .`"
        );
        return ExitCode::from(2);
    }
    // The gRPC client needs the multi-thread runtime: on the current-thread
    // one it stalls before its first call over stdio.
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("wasmpack-frontend: cannot start: {err}");
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(async {
        let mut bridge = match Bridge::connect().await {
            Ok(bridge) => bridge,
            Err(err) => {
                eprintln!("wasmpack-frontend: {}", one_line(err));
                return ExitCode::FAILURE;
            }
        };
        let outcome = solve::build(&mut bridge, &Options::from_env()).await;
        // A build error goes back through Return: BuildKit shows it as the
        // build's ERROR line, and this process has done its job.
        let returned = match outcome {
            Ok(()) => Ok(()),
            Err(err) => bridge.return_error(one_line(err)).await,
        };
        match returned {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("wasmpack-frontend: {}", one_line(err));
                ExitCode::FAILURE
            }
        }
    });
    // A blocking read of stdin is still pending in tokio's blocking pool;
    // waiting for it would keep BuildKit waiting for this process.
    runtime.shutdown_background();
    code
}

/// Strips custom sections from FILE in place (the frontend's build step).
fn strip(args: &[String]) -> ExitCode {
    let [file] = args else {
        eprintln!("usage: wasmpack-frontend strip FILE");
        return ExitCode::from(2);
    };
    let result = std::fs::read(file)
        .map_err(|e| e.to_string())
        .and_then(|bytes| wasmpack_wasm::strip_custom_sections(&bytes).map_err(|e| e.to_string()))
        .and_then(|(stripped, report)| {
            std::fs::write(file, stripped).map_err(|e| e.to_string())?;
            Ok(report)
        });
    match result {
        Ok(report) => {
            eprintln!(
                "stripped {file}: {} -> {} bytes",
                report.size_before, report.size_after
            );
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("wasmpack-frontend strip {file}: {err}");
            ExitCode::FAILURE
        }
    }
}

/// Precompiles MODULE for TARGET into OUTDIR: the artifact and its layer
/// annotations as JSON (the frontend's AOT build step).
fn precompile(args: &[String]) -> ExitCode {
    let [target, module, out] = args else {
        eprintln!("usage: wasmpack-frontend precompile TARGET MODULE OUTDIR");
        return ExitCode::from(2);
    };
    let out = std::path::Path::new(out);
    let result = std::fs::read(module)
        .map_err(|e| e.to_string())
        .and_then(|wasm| {
            let artifact = wasmpack_aot::precompile(&wasm, target).map_err(|e| e.to_string())?;
            let facts = artifact.facts(&wasmpack_oci::digest::sha256_digest(&wasm));
            let write = |name: &str, bytes: &[u8]| {
                std::fs::write(out.join(name.trim_start_matches('/')), bytes)
                    .map_err(|e| e.to_string())
            };
            write(wasm_stage::PRECOMPILED_ARTIFACT, &artifact.bytes)?;
            write(wasm_stage::PRECOMPILED_FACTS, &facts)?;
            Ok(artifact)
        });
    match result {
        Ok(artifact) => {
            eprintln!(
                "precompiled {module} for {}: {} bytes",
                artifact.target,
                artifact.bytes.len()
            );
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("wasmpack-frontend precompile {module} for {target}: {err}");
            ExitCode::FAILURE
        }
    }
}

/// An error and its causes on one line, outermost first, as the CLI prints
/// them: each message names its own step and leaves the cause to the chain.
fn one_line(err: impl std::error::Error + Send + Sync + 'static) -> String {
    format!("{:#}", anyhow::Error::new(err))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A step whose cause is its source, as the frontend's errors are built.
    #[derive(Debug, thiserror::Error)]
    #[error("reading the Dockerfile")]
    struct Step(#[source] std::io::Error);

    #[test]
    fn each_cause_appears_once() {
        let err = Step(std::io::Error::other("connection reset"));
        assert_eq!(one_line(err), "reading the Dockerfile: connection reset");
    }
}
