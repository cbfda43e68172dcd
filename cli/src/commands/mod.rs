//! One module per subcommand: a clap struct and its `run`, thin over the
//! library.

pub mod build;
pub mod inspect;
pub mod pull;
pub mod push;
pub mod run;

use std::io::IsTerminal;
use std::time::Duration;

use anyhow::Result;
use wasmpack_registry::{RegistryOptions, TransferLimits};

/// Options shared by every command that talks to a registry.
#[derive(clap::Args)]
pub struct RegistryArgs {
    /// Use plain http (for a registry on localhost without TLS).
    #[arg(long)]
    pub insecure: bool,
    /// The slowest a pull's transfer may average over each 10 s, in bytes
    /// per second (0: no floor).
    #[arg(long, env = "WASMPACK_REGISTRY_MIN_RATE", value_name = "BYTES_PER_SEC",
          default_value_t = TransferLimits::default().min_rate)]
    pub registry_min_rate: u64,
    /// The seconds a pull's transfer may take, plus its size at the
    /// minimum rate (0: no deadline).
    #[arg(long, env = "WASMPACK_REGISTRY_TIMEOUT", value_name = "SECONDS",
          default_value_t = TransferLimits::default().timeout.as_secs())]
    pub registry_timeout: u64,
}

impl RegistryArgs {
    /// Progress bars only where someone watches them (a terminal) and no
    /// JSON is expected.
    pub fn options(&self, json: bool) -> RegistryOptions {
        RegistryOptions {
            insecure: self.insecure,
            progress: shows_progress(json, std::io::stderr().is_terminal()),
            limits: TransferLimits {
                min_rate: self.registry_min_rate,
                timeout: Duration::from_secs(self.registry_timeout),
                ..TransferLimits::default()
            },
        }
    }
}

fn shows_progress(json: bool, stderr_is_terminal: bool) -> bool {
    !json && stderr_is_terminal
}

/// Runs a registry transfer to completion. The multi-thread runtime, since
/// the HTTP client spawns its connection tasks onto it.
pub fn block_on<F: std::future::Future>(future: F) -> Result<F::Output> {
    Ok(tokio::runtime::Runtime::new()?.block_on(future))
}

/// Prints `value` as one line of JSON on stdout, for CI pipelines.
pub fn print_json(value: &impl serde::Serialize) -> Result<()> {
    println!("{}", serde_json::to_string(value)?);
    Ok(())
}

/// `Module, WASI Preview1, 54.4 kB`: what build and inspect say of a module.
pub fn wasm_summary(facts: &wasmpack_wasm::WasmFacts) -> String {
    let wasi = facts
        .wasi
        .map(|w| format!("{w:?}"))
        .unwrap_or_else(|| "none".into());
    format!("{:?}, WASI {wasi}, {}", facts.kind, human_size(facts.size))
}

/// `1.2 MB` style sizes for people (decimal units, as registries show them).
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "kB", "MB", "GB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_bars_only_on_a_terminal_and_never_with_json() {
        assert!(shows_progress(false, true));
        assert!(!shows_progress(false, false), "piped or in CI: quiet");
        assert!(!shows_progress(true, true), "--json output stays clean");
        assert!(!shows_progress(true, false));
    }
}
