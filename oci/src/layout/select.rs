//! Which manifest a name means, and how a name is recorded in an index
//! (the tag skopeo reads, the full name containerd and `docker load` read).

use std::collections::HashMap;
use std::path::Path;

use oci_spec::image::{Descriptor, Platform};

use super::LayoutError;
use crate::digest::Blob;
use crate::image::{descriptor_of, ANNOTATION_CONTAINERD_NAME, ANNOTATION_REF_NAME};
use crate::name::normalize_name;

/// Picks the manifest `name` refers to (full reference, tag, or either
/// annotation verbatim), or the only one when no name is given.
pub(super) fn select<'a>(
    root: &Path,
    manifests: &'a [Descriptor],
    name: Option<&str>,
) -> Result<&'a Descriptor, LayoutError> {
    let available = || {
        let names: Vec<String> = manifests
            .iter()
            .map(|d| {
                annotation(d, ANNOTATION_CONTAINERD_NAME)
                    .or_else(|| annotation(d, ANNOTATION_REF_NAME))
                    .map(str::to_string)
                    .unwrap_or_else(|| d.digest().to_string())
            })
            .collect();
        if names.is_empty() {
            "nothing".to_string()
        } else {
            names.join(", ")
        }
    };
    let Some(name) = name else {
        return match manifests {
            [only] => Ok(only),
            _ => Err(LayoutError::Ambiguous {
                path: root.to_path_buf(),
                count: manifests.len(),
                available: available(),
            }),
        };
    };
    let full = normalize_name(name).ok().map(|(full, _)| full);
    manifests
        .iter()
        .find(|d| {
            let containerd = annotation(d, ANNOTATION_CONTAINERD_NAME);
            let ref_name = annotation(d, ANNOTATION_REF_NAME);
            containerd == Some(name)
                || ref_name == Some(name)
                || (full.is_some() && containerd == full.as_deref())
                || d.digest().to_string() == name
        })
        .ok_or_else(|| LayoutError::NoSuchImage {
            path: root.to_path_buf(),
            name: name.to_string(),
            available: available(),
        })
}

/// The index entry for a manifest: its platform, and for a named image the
/// tag (`org.opencontainers.image.ref.name`, which skopeo's `oci:` reads) and
/// the full name (`io.containerd.image.name`, which `docker load` reads).
pub(super) fn named_descriptor(
    manifest: &Blob,
    platform: &Platform,
    name: Option<&str>,
) -> Result<Descriptor, LayoutError> {
    let mut descriptor = descriptor_of(manifest);
    descriptor.set_platform(Some(platform.clone()));
    if let Some(name) = name {
        let (full, tag) = normalize_name(name)?;
        let mut annotations = HashMap::from([(ANNOTATION_CONTAINERD_NAME.to_string(), full)]);
        // A digest-only name has no tag to record.
        if let Some(tag) = tag {
            annotations.insert(ANNOTATION_REF_NAME.to_string(), tag);
        }
        descriptor.set_annotations(Some(annotations));
    }
    Ok(descriptor)
}

/// `demo/hello:1` the way `docker images` shows it (no `docker.io/library/`);
/// none for a digest-only name, which has no tag.
pub(super) fn docker_repo_tag(name: &str) -> Result<Option<String>, LayoutError> {
    let (full, tag) = normalize_name(name)?;
    if tag.is_none() {
        return Ok(None);
    }
    let short = full.strip_prefix("docker.io/").unwrap_or(&full);
    Ok(Some(
        short.strip_prefix("library/").unwrap_or(short).to_string(),
    ))
}

pub(super) fn annotation<'a>(descriptor: &'a Descriptor, key: &str) -> Option<&'a str> {
    descriptor
        .annotations()
        .as_ref()
        .and_then(|a| a.get(key))
        .map(String::as_str)
}
