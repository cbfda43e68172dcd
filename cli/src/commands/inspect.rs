//! `wasmpack inspect`: manifest, config, layers, annotations and the wasm
//! facts of an image in an OCI layout or archive.

use std::path::Path;

use anyhow::{bail, Result};
use clap::Args;
use wasmpack_oci::inspect::{describe, ImageReport};
use wasmpack_oci::layout::{read_image, ImageSource};
use wasmpack_oci::name::is_reference_argument;
use wasmpack_oci::unpack::UnpackLimits;
use wasmpack_registry::pull_image;

use super::{block_on, human_size, print_json, wasm_summary, RegistryArgs};

#[derive(Args)]
pub struct InspectCommand {
    /// An OCI layout folder, an OCI archive, or a registry reference.
    source: String,
    /// Which image of a layout holding several (name, tag or digest).
    #[arg(short, long)]
    name: Option<String>,
    /// Print the report as one JSON object on stdout.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    registry: RegistryArgs,
}

impl InspectCommand {
    pub fn run(self) -> Result<()> {
        let path = Path::new(&self.source);
        // A path that exists is local; a reference names a registry image.
        let image = if path.exists() {
            read_image(&ImageSource::from_path(path), self.name.as_deref())?
        } else if is_reference_argument(&self.source) {
            block_on(pull_image(&self.source, None, &self.registry.options(true)))??
        } else {
            bail!("{}: no such file, folder or image reference", self.source);
        };
        let report = describe(&image, UnpackLimits::from_env()?)?;
        if self.json {
            print_json(&report)
        } else {
            print_report(&report);
            Ok(())
        }
    }
}

fn print_report(r: &ImageReport) {
    println!("Digest:      {}", r.digest);
    println!("MediaType:   {}", r.media_type);
    println!("Platform:    {}", r.platform);
    println!("Config:      {}", r.config_media_type);
    if !r.entrypoint.is_empty() {
        println!("Entrypoint:  {:?}", r.entrypoint);
    }
    if !r.cmd.is_empty() {
        println!("Cmd:         {:?}", r.cmd);
    }
    for env in &r.env {
        println!("Env:         {env}");
    }
    if let Some(dir) = &r.workdir {
        println!("WorkingDir:  {dir}");
    }
    for (k, v) in &r.labels {
        println!("Label:       {k}={v}");
    }
    for (k, v) in &r.annotations {
        println!("Annotation:  {k}={v}");
    }
    for layer in &r.layers {
        println!(
            "Layer:       {} {} ({})",
            layer.digest,
            layer.media_type,
            human_size(layer.size)
        );
        for (k, v) in &layer.annotations {
            println!("             {k}={v}");
        }
    }
    match (&r.wasm, &r.wasm_error) {
        (Some(facts), _) => {
            println!("Wasm:        {}", wasm_summary(facts));
            println!(
                "Start:       {}",
                if facts.has_start {
                    "yes"
                } else {
                    "no (not runnable as a command)"
                }
            );
            println!("Imports:     {}", facts.imports.join(", "));
        }
        (None, reason) => println!(
            "Wasm:        invalid: {}",
            reason.as_deref().unwrap_or("unknown")
        ),
    }
}
