//! `wasmpack run`: run an image (layout, archive or registry reference), a
//! module or a precompiled artifact, with WASI.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::Args;
use wasmpack_oci::key_value::parse_argument;
use wasmpack_oci::unpack::UnpackLimits;
use wasmpack_runner::workload::{load, Input};
use wasmpack_runner::{one_line, LocalCache, RunOptions, Runner, TrustPolicy};

use super::{block_on, RegistryArgs};

/// Run a wasm image, module (.wasm) or precompiled artifact (.cwasm).
///
/// An image's precompiled layer for this host is used when it matches this
/// engine and the image is trusted (--trust-aot or the trust file);
/// otherwise the module is compiled, and the compilation kept in a local
/// cache for the next start.
#[derive(Args)]
pub struct RunCommand {
    /// OCI layout folder, OCI archive, registry reference, .wasm or .cwasm.
    image: String,
    /// Arguments for the guest; they replace the image's CMD.
    #[arg(last = true)]
    args: Vec<String>,
    /// The image to run when a layout or archive holds several.
    #[arg(long)]
    name: Option<String>,
    /// Run this module of the image instead of its ENTRYPOINT; the image's
    /// CMD is dropped (as with `docker run --entrypoint`).
    #[arg(long, value_name = "PATH")]
    entrypoint: Option<String>,
    /// Set an environment variable for the guest (after the image's).
    #[arg(long, short = 'e', value_name = "KEY=VALUE")]
    env: Vec<String>,
    /// Preopen a host folder for the guest, read-write (HOST:GUEST or PATH).
    #[arg(long, value_name = "HOST:GUEST")]
    dir: Vec<String>,
    /// Trust this image (or .cwasm file) to bring native code.
    #[arg(long)]
    trust_aot: bool,
    /// Use no local cache: compile the module, unpack the image afresh.
    #[arg(long)]
    no_cache: bool,
    /// Largest linear memory the guest may grow to (bytes, or with K, M, G).
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    max_memory: Option<usize>,
    /// Stop the guest after this long (500ms, 10s, 2m; plain numbers are seconds).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    timeout: Option<Duration>,
    /// Say which code runs (AOT layer, cache, compiled) and why.
    #[arg(short, long)]
    verbose: bool,
    #[command(flatten)]
    registry: RegistryArgs,
}

impl RunCommand {
    pub fn run(self) -> Result<ExitCode> {
        let input = Input::detect(&self.image)?;
        let cache = if self.no_cache {
            None
        } else {
            LocalCache::default_location()
        };
        let layers = cache.as_ref().map(LocalCache::layers);
        let workload = block_on(load(
            &input,
            self.name.as_deref(),
            self.entrypoint.as_deref(),
            &self.registry.options(false),
            layers.as_ref(),
            UnpackLimits::from_env()?,
        ))??;
        let runner = Runner::new(TrustPolicy::load(self.trust_aot)?, cache)?;
        let prepared = runner.prepare(&workload)?;
        for warning in &prepared.warnings {
            eprintln!("warning: {warning}");
        }
        if self.verbose {
            for note in &prepared.notes {
                eprintln!("wasmpack: {note}");
            }
        }
        let mut env = workload.env.clone();
        for arg in &self.env {
            let (key, value) = parse_argument(arg)?;
            env.retain(|(k, _)| *k != key);
            env.push((key, value));
        }
        let options = RunOptions {
            args: workload.argv(&self.args),
            env,
            rootfs: workload
                .rootfs
                .as_ref()
                .map(|rootfs| rootfs.path().to_path_buf()),
            dirs: self.dir.iter().map(|d| preopen(d)).collect(),
            max_memory: self.max_memory,
            timeout: self.timeout,
        };
        match runner.run(&prepared, &options) {
            Ok(code) => Ok(ExitCode::from(code as u8)),
            Err(error) => match error.guest_exit_code() {
                Some(code) => {
                    eprintln!("error: {}", one_line(&error));
                    Ok(ExitCode::from(code))
                }
                None => Err(error.into()),
            },
        }
    }
}

/// `HOST:GUEST`, or one path for both.
fn preopen(arg: &str) -> (PathBuf, String) {
    match arg.split_once(':') {
        Some((host, guest)) => (PathBuf::from(host), guest.to_string()),
        None => (PathBuf::from(arg), arg.to_string()),
    }
}

/// `65536`, `512K`, `64M`, `1G` (binary units, as Docker's --memory).
fn parse_size(text: &str) -> Result<usize> {
    let lower = text.trim().to_ascii_lowercase();
    let digits = lower.trim_end_matches(['b', 'i']);
    let (number, shift) = match digits.chars().last() {
        Some('k') => (&digits[..digits.len() - 1], 10),
        Some('m') => (&digits[..digits.len() - 1], 20),
        Some('g') => (&digits[..digits.len() - 1], 30),
        _ => (digits, 0),
    };
    let Ok(value) = number.parse::<usize>() else {
        bail!("{text:?} is not a size (65536, 512K, 64M, 1G)");
    };
    value
        .checked_shl(shift)
        .filter(|v| v >> shift == value)
        .context("size too large")
}

/// `500ms`, `10s`, `2m`, or seconds.
fn parse_duration(text: &str) -> Result<Duration> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit() && c != '.') {
        Some(i) => text.split_at(i),
        None => (text, "s"),
    };
    let value: f64 = number
        .parse()
        .ok()
        .filter(|v: &f64| v.is_finite() && *v >= 0.0)
        .with_context(|| format!("{text:?} is not a duration (500ms, 10s, 2m)"))?;
    let seconds = match unit {
        "ms" => value / 1000.0,
        "s" => value,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        _ => bail!("{text:?}: unknown unit {unit:?} (ms, s, m, h)"),
    };
    Ok(Duration::from_secs_f64(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_durations_parse_or_say_why_not() {
        assert_eq!(parse_size("65536").unwrap(), 65536);
        assert_eq!(parse_size("512K").unwrap(), 512 << 10);
        assert_eq!(parse_size("64m").unwrap(), 64 << 20);
        assert_eq!(parse_size("1GiB").unwrap(), 1 << 30);
        assert!(parse_size("lots").is_err());
        assert!(parse_size("99999999999999999999G").is_err());
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("2").unwrap(), Duration::from_secs(2));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert!(parse_duration("10 years").is_err());
        assert!(parse_duration("-1s").is_err());
    }

    #[test]
    fn preopens_name_host_and_guest() {
        assert_eq!(
            preopen("/tmp/data:/data"),
            (PathBuf::from("/tmp/data"), "/data".to_string())
        );
        assert_eq!(preopen("/srv"), (PathBuf::from("/srv"), "/srv".to_string()));
    }
}
