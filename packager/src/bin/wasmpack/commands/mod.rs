//! One module per subcommand: a clap struct and its `run`, thin over the
//! library.

pub mod build;
pub mod inspect;

use anyhow::{bail, Result};

/// Splits `KEY=VALUE` (for `--env`, `--label`, `--annotation`).
pub fn key_value(arg: &str) -> Result<(String, String)> {
    match arg.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => bail!("{arg:?} is not KEY=VALUE"),
    }
}

/// Prints `value` as one line of JSON on stdout, for CI pipelines.
pub fn print_json(value: &impl serde::Serialize) -> Result<()> {
    println!("{}", serde_json::to_string(value)?);
    Ok(())
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
