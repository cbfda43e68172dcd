//! `wasmpack build`: a `.wasm` file (and extra files) into a FROM-scratch
//! wasi/wasm image or a wasm OCI artifact, in an OCI layout or archive.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Args;
use wasmpack_oci::digest::sha256_digest;
use wasmpack_oci::image::{build_image, AotArtifact, Image, ImageFormat, ImageSpec, WasiOs};
use wasmpack_oci::key_value::parse_argument;
use wasmpack_oci::layer::{Compression, LayerContents};
use wasmpack_oci::layout::{save_image, write_archive};
use wasmpack_registry::push_image;
use wasmpack_wasm::{strip_custom_sections, validate};

use super::push::print_push_report;
use super::{block_on, human_size, print_json, wasm_summary, RegistryArgs};

#[derive(Args)]
pub struct BuildCommand {
    /// The entrypoint module.
    wasm: PathBuf,
    /// Where to write: a folder (OCI image layout) or a file ending in `.tar`
    /// (OCI archive, which `docker load` and skopeo read).
    #[arg(short, long, required_unless_present = "push")]
    output: Option<PathBuf>,
    /// Push the image to the registry its tag names.
    #[arg(long, requires = "tag")]
    push: bool,
    #[command(flatten)]
    registry: RegistryArgs,
    /// Image name, e.g. `demo/hello:1` (tag `latest` when omitted).
    #[arg(short, long)]
    tag: Option<String>,
    /// Path of the module inside the image [default: /<file name>].
    #[arg(long)]
    path: Option<String>,
    /// Extra file or folder to place in the image, as HOST_PATH:IMAGE_PATH.
    #[arg(long = "add", value_name = "SRC:DEST")]
    add: Vec<String>,
    /// Arguments passed to the module (the image's CMD); repeat for each.
    #[arg(long = "cmd", value_name = "ARG", allow_hyphen_values = true)]
    cmd: Vec<String>,
    /// Environment variable KEY=VALUE.
    #[arg(long = "env", value_name = "KEY=VALUE")]
    env: Vec<String>,
    /// Image label KEY=VALUE (in the config).
    #[arg(long = "label", value_name = "KEY=VALUE")]
    labels: Vec<String>,
    /// Manifest annotation KEY=VALUE.
    #[arg(long = "annotation", value_name = "KEY=VALUE")]
    annotations: Vec<String>,
    /// Working directory of the module.
    #[arg(long)]
    workdir: Option<String>,
    /// wasi/wasm (what `docker buildx --platform wasi/wasm` writes), wasip1/wasm or wasip2/wasm.
    #[arg(long, default_value = "wasi/wasm")]
    platform: WasiOs,
    /// `image` (a container image) or `artifact` (the CNCF wasm OCI artifact).
    #[arg(long, default_value = "image")]
    format: ImageFormat,
    /// Layer compression: gzip, zstd or none.
    #[arg(long, default_value = "gzip")]
    compression: Compression,
    /// Remove custom sections (debug info, names, producers) from the module.
    #[arg(long)]
    strip: bool,
    /// Add a wasmtime-precompiled layer per target: x86_64, aarch64, riscv64,
    /// s390x or full triples, comma-separated.
    #[arg(long, value_name = "TARGETS", value_delimiter = ',')]
    aot: Vec<String>,
    /// Print the result as one JSON object on stdout.
    #[arg(long)]
    json: bool,
}

#[derive(serde::Serialize)]
struct BuildResult<'a> {
    reference: Option<&'a str>,
    output: Option<&'a Path>,
    digest: &'a str,
    size: u64,
}

impl BuildCommand {
    pub fn run(self) -> Result<()> {
        let image = self.build()?;
        let name = self.tag.as_deref();
        if let Some(output) = &self.output {
            if is_archive(output) {
                write_archive(output, &image, name)?;
            } else {
                save_image(output, &image, name)?;
            }
            if self.json {
                print_json(&BuildResult {
                    reference: name,
                    output: Some(output),
                    digest: &image.manifest.digest,
                    size: image.manifest.size,
                })?;
            } else {
                eprintln!(
                    "wrote {} {} {}",
                    output.display(),
                    name.unwrap_or("(unnamed)"),
                    image.manifest.digest
                );
            }
        }
        if let (true, Some(reference)) = (self.push, name) {
            let report = block_on(push_image(
                &image,
                reference,
                &self.registry.options(self.json),
            ))??;
            // With both an output and --json, the build line came first.
            print_push_report(&report, self.json)?;
        }
        Ok(())
    }

    /// Validates and assembles everything before a single byte is written.
    fn build(&self) -> Result<Image> {
        let bytes = std::fs::read(&self.wasm)
            .with_context(|| format!("reading {}", self.wasm.display()))?;
        let facts = validate(&self.wasm, &bytes)?;
        self.report(format_args!(
            "{}: {}",
            self.wasm.display(),
            wasm_summary(&facts)
        ));
        if let Some(warning) = facts.start_warning() {
            eprintln!("warning: {}: {warning}", self.wasm.display());
        }
        let wasm = if self.strip {
            let (stripped, report) = strip_custom_sections(&bytes)
                .with_context(|| format!("stripping {}", self.wasm.display()))?;
            self.report(format_args!(
                "stripped {} custom sections: {} -> {}",
                report.sections_removed,
                human_size(report.size_before),
                human_size(report.size_after)
            ));
            stripped
        } else {
            bytes
        };
        let file_name = self
            .wasm
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut extra = LayerContents::new();
        for add in &self.add {
            let Some((src, dest)) = add.rsplit_once(':') else {
                bail!("--add {add:?} is not SRC:DEST");
            };
            extra.add_host_path(Path::new(src), dest)?;
        }
        let wasm_path = self.path.clone().unwrap_or(format!("/{file_name}"));
        let wasm_digest = sha256_digest(&wasm);
        let mut aot = Vec::new();
        for target in &self.aot {
            let artifact = wasmpack_aot::precompile(&wasm, target)?;
            self.report(format_args!(
                "precompiled for {}: {}",
                artifact.target,
                human_size(artifact.bytes.len() as u64)
            ));
            let path = wasmpack_aot::artifact_path(&wasm_path, &artifact.target);
            aot.push(AotArtifact {
                facts: Some((
                    wasmpack_aot::facts_path(&path),
                    artifact.facts(&wasm_digest),
                )),
                path,
                annotations: artifact.annotations(&wasm_digest),
                bytes: artifact.bytes,
            });
        }
        let spec = ImageSpec {
            wasm,
            facts: Some(facts),
            wasm_path,
            extra,
            cmd: self.cmd.clone(),
            env: self
                .env
                .iter()
                .map(|e| parse_argument(e).map(|_| e.clone()))
                .collect::<Result<_, _>>()?,
            labels: pairs(&self.labels)?,
            annotations: pairs(&self.annotations)?,
            workdir: self.workdir.clone(),
            os: self.platform,
            format: self.format,
            compression: self.compression,
            epoch: source_date_epoch()?,
            aot,
        };
        Ok(build_image(&spec)?)
    }

    fn report(&self, line: std::fmt::Arguments) {
        if !self.json {
            eprintln!("{line}");
        }
    }
}

fn is_archive(output: &Path) -> bool {
    output.extension().is_some_and(|e| e == "tar")
}

fn pairs(args: &[String]) -> Result<BTreeMap<String, String>> {
    Ok(args
        .iter()
        .map(|a| parse_argument(a))
        .collect::<Result<_, _>>()?)
}

/// `SOURCE_DATE_EPOCH` (the reproducible-builds convention), or 0.
fn source_date_epoch() -> Result<u64> {
    match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(value) if !value.is_empty() => value
            .parse()
            .with_context(|| format!("SOURCE_DATE_EPOCH={value:?} is not a number of seconds")),
        _ => Ok(0),
    }
}
