//! `wasmpack pull`: an image from a registry into an OCI layout, verified
//! blob by blob; optionally unpacked.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use wasmpack_oci::layout::save_image;
use wasmpack_oci::platform::parse_platform;
use wasmpack_oci::unpack::{unpack_image, UnpackLimits};
use wasmpack_registry::pull_image;

use super::{block_on, print_json, RegistryArgs};

#[derive(Args)]
pub struct PullCommand {
    /// `registry/repository:tag` or `registry/repository@sha256:…`.
    reference: String,
    /// The OCI layout folder to pull into (created, or added to).
    #[arg(short, long)]
    output: PathBuf,
    /// Also unpack the image's files into this (new or empty) folder.
    #[arg(long, value_name = "DIR")]
    unpack: Option<PathBuf>,
    /// The platform to take from a multi-platform image, e.g. wasip2/wasm.
    #[arg(long)]
    platform: Option<String>,
    #[command(flatten)]
    registry: RegistryArgs,
    /// Print the result as one JSON object on stdout.
    #[arg(long)]
    json: bool,
}

#[derive(serde::Serialize)]
struct PullResult<'a> {
    reference: &'a str,
    digest: &'a str,
    size: u64,
}

impl PullCommand {
    pub fn run(self) -> Result<()> {
        let platform = self.platform.as_deref().map(parse_platform).transpose()?;
        let image = block_on(pull_image(
            &self.reference,
            platform.as_ref(),
            &self.registry.options(self.json),
        ))??;
        if let Some(dir) = &self.unpack {
            unpack_image(&image, dir, UnpackLimits::from_env()?)?;
        }
        save_image(&self.output, &image, Some(&self.reference))?;
        if self.json {
            print_json(&PullResult {
                reference: &self.reference,
                digest: &image.manifest.digest,
                size: image.manifest.size,
            })
        } else {
            eprintln!(
                "pulled {}@{} into {}",
                self.reference,
                image.manifest.digest,
                self.output.display()
            );
            Ok(())
        }
    }
}
