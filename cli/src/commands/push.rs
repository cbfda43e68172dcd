//! `wasmpack push`: an image from an OCI layout or archive to a registry.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use wasmpack_oci::layout::{read_image, ImageSource};
use wasmpack_registry::{push_owned_image, PushReport};

use super::{block_on, print_json, RegistryArgs};

#[derive(Args)]
pub struct PushCommand {
    /// The OCI layout folder or OCI archive holding the image.
    source: PathBuf,
    /// Where to push it: `registry/repository:tag`.
    reference: String,
    /// Which image of a layout holding several (name, tag or digest).
    #[arg(short, long)]
    name: Option<String>,
    #[command(flatten)]
    registry: RegistryArgs,
    /// Print the result as one JSON object on stdout.
    #[arg(long)]
    json: bool,
}

impl PushCommand {
    pub fn run(self) -> Result<()> {
        let image = read_image(&ImageSource::from_path(&self.source), self.name.as_deref())?;
        let report = block_on(push_owned_image(
            image,
            &self.reference,
            &self.registry.options(self.json),
        ))??;
        print_push_report(&report, self.json)
    }
}

/// The push result, for people or (`--json`) for pipelines.
pub fn print_push_report(report: &PushReport, json: bool) -> Result<()> {
    if json {
        return print_json(report);
    }
    eprintln!(
        "pushed {}@{} ({} blobs uploaded, {} already there)",
        report.reference, report.digest, report.uploaded, report.skipped
    );
    Ok(())
}
