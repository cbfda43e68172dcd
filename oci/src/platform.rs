//! Platforms (`os/arch[/variant]`), as every part of wasmpack reads them:
//! from a command line, a Dockerfile or BuildKit's options, and from an
//! image's config.

use oci_spec::image::{Arch, Os, Platform, PlatformBuilder};
use serde::Deserialize;

/// A platform that is not `os/arch[/variant]`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("platform {0:?} is not OS/ARCH[/VARIANT] (for example wasi/wasm)")]
pub struct PlatformError(pub String);

/// `wasi/wasm`, `linux/amd64`, `linux/arm/v7`: lowercased, with the
/// architecture aliases BuildKit normalizes (`x86_64` is `amd64`,
/// `aarch64` is `arm64`).
pub fn parse_platform(text: &str) -> Result<Platform, PlatformError> {
    let bad = || PlatformError(text.to_string());
    let parts: Vec<&str> = text.split('/').collect();
    let (os, architecture, variant) = match parts.as_slice() {
        [os, arch] => (*os, *arch, None),
        [os, arch, variant] if !variant.is_empty() => (*os, *arch, Some(variant.to_lowercase())),
        _ => return Err(bad()),
    };
    if os.is_empty() || architecture.is_empty() {
        return Err(bad());
    }
    let architecture = match architecture.to_lowercase().as_str() {
        "x86_64" | "x86-64" => "amd64".to_string(),
        "aarch64" => "arm64".to_string(),
        other => other.to_string(),
    };
    let mut builder = PlatformBuilder::default()
        .os(Os::from(os.to_lowercase().as_str()))
        .architecture(Arch::from(architecture.as_str()));
    if let Some(variant) = variant {
        builder = builder.variant(variant);
    }
    Ok(builder
        .build()
        .expect("os and architecture are all a platform needs"))
}

/// `os`/`architecture` from an image or wasm-artifact config; unknown when
/// the config does not say.
pub fn platform_of_config(config: &[u8]) -> Platform {
    #[derive(Deserialize, Default)]
    struct OsArch {
        #[serde(default)]
        os: String,
        #[serde(default)]
        architecture: String,
    }
    let facts: OsArch = serde_json::from_slice(config).unwrap_or_default();
    PlatformBuilder::default()
        .os(Os::from(facts.os.as_str()))
        .architecture(Arch::from(facts.architecture.as_str()))
        .build()
        .expect("os and architecture are all a platform needs")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(text: &str) -> (String, String, Option<String>) {
        let p = parse_platform(text).unwrap();
        (
            p.os().to_string(),
            p.architecture().to_string(),
            p.variant().clone(),
        )
    }

    #[test]
    fn platforms_are_normalized_as_buildkit_normalizes_them() {
        assert_eq!(parts("wasi/wasm"), ("wasi".into(), "wasm".into(), None));
        assert_eq!(parts("wasip2/wasm"), ("wasip2".into(), "wasm".into(), None));
        assert_eq!(
            parts("Linux/X86_64"),
            ("linux".into(), "amd64".into(), None)
        );
        assert_eq!(
            parts("linux/aarch64"),
            ("linux".into(), "arm64".into(), None)
        );
        assert_eq!(
            parts("linux/arm/v7"),
            ("linux".into(), "arm".into(), Some("v7".into()))
        );
    }

    #[test]
    fn anything_else_is_refused_and_named() {
        for text in ["wasm", "", "/wasm", "wasi/", "a/b/c/d", "linux/arm/"] {
            let err = parse_platform(text).unwrap_err();
            assert_eq!(err, PlatformError(text.to_string()));
            assert!(err.to_string().contains("OS/ARCH"), "{err}");
        }
    }

    #[test]
    fn a_config_names_its_platform() {
        let p = platform_of_config(br#"{"os":"wasip1","architecture":"wasm"}"#);
        assert_eq!(
            (p.os().to_string(), p.architecture().to_string()),
            ("wasip1".into(), "wasm".into())
        );
    }
}
