//! `wasmpack pull`: an image from a registry into an OCI layout, verified
//! blob by blob; optionally unpacked.

use std::path::{Path, PathBuf};

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
        // Unpacked files first: their folder was missing or empty, so they
        // can be taken back exactly, whereas a layout may be shared with
        // other images. A failed save takes them back, so the two outputs
        // appear together or not at all.
        let unpacked = match &self.unpack {
            Some(dir) => {
                let existed = dir.exists();
                unpack_image(&image, dir, UnpackLimits::from_env()?)?;
                Some((dir, existed))
            }
            None => None,
        };
        if let Err(err) = save_image(&self.output, &image, Some(&self.reference)) {
            return Err(match unpacked {
                Some((dir, existed)) => take_back(dir, existed, err.into()),
                None => err.into(),
            });
        }
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

/// Removes the files just unpacked into `dir` after `failure`, leaving the
/// empty folder if there was one; a failure to do so is added to `failure`.
fn take_back(dir: &Path, existed: bool, failure: anyhow::Error) -> anyhow::Error {
    let removed = std::fs::remove_dir_all(dir).and_then(|()| {
        if existed {
            std::fs::create_dir(dir)
        } else {
            Ok(())
        }
    });
    match removed {
        Ok(()) => failure,
        Err(e) => failure.context(format!(
            "{}: the unpacked files could not be removed ({e})",
            dir.display()
        )),
    }
}
