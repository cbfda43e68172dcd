//! Which images may bring native code: precompiled artifacts run outside
//! the wasm sandbox, so an image's AOT layer is used only when the user
//! trusts where it came from.

use std::path::{Path, PathBuf};

use crate::RunError;

/// The trust list: one `registry/repository` prefix per line
/// (`ghcr.io/acme` trusts `ghcr.io/acme/app`, not `ghcr.io/acme-two/app`);
/// `#` starts a comment.
pub const TRUST_FILE_ENV: &str = "WASMPACK_TRUST_FILE";

#[derive(Debug, Clone, Default)]
pub struct TrustPolicy {
    /// `--trust-aot`: this run trusts the image, wherever it came from.
    pub trust_all: bool,
    pub trusted: Vec<String>,
}

impl TrustPolicy {
    /// `--trust-aot` plus the trust list at `$WASMPACK_TRUST_FILE`, or
    /// `$XDG_CONFIG_HOME/wasmpack/trusted-aot` (`~/.config/...`). A missing
    /// default file means an empty list; a named one must exist.
    pub fn load(trust_all: bool) -> Result<Self, RunError> {
        let (path, required) = match std::env::var_os(TRUST_FILE_ENV) {
            Some(path) => (Some(PathBuf::from(path)), true),
            None => (default_trust_file(), false),
        };
        let trusted = match path {
            Some(path) => match std::fs::read_to_string(&path) {
                Ok(text) => parse_trust_list(&text),
                Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
                Err(source) => return Err(RunError::Io { path, source }),
            },
            None => Vec::new(),
        };
        Ok(Self { trust_all, trusted })
    }

    /// Whether an image from `origin` (`registry/repository`, `None` for a
    /// local file) may bring native code.
    pub fn trusts(&self, origin: Option<&str>) -> bool {
        self.trust_all
            || origin.is_some_and(|origin| {
                self.trusted.iter().any(|prefix| {
                    origin == prefix
                        || origin
                            .strip_prefix(prefix.as_str())
                            .is_some_and(|rest| rest.starts_with('/'))
                })
            })
    }
}

fn default_trust_file() -> Option<PathBuf> {
    let config = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".config")))?;
    Some(config.join("wasmpack").join("trusted-aot"))
}

fn parse_trust_list(text: &str) -> Vec<String> {
    text.lines()
        .map(|line| {
            line.split('#')
                .next()
                .unwrap_or("")
                .trim()
                .trim_end_matches('/')
        })
        .filter(|line| !line.is_empty())
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_trust_whole_path_components_only() {
        let policy = TrustPolicy {
            trust_all: false,
            trusted: parse_trust_list(
                "# ours\nghcr.io/acme/ \n\n127.0.0.1:5000/demo/hello # one repo\n",
            ),
        };
        assert_eq!(
            policy.trusted,
            ["ghcr.io/acme", "127.0.0.1:5000/demo/hello"]
        );
        assert!(policy.trusts(Some("ghcr.io/acme/app")));
        assert!(policy.trusts(Some("127.0.0.1:5000/demo/hello")));
        assert!(
            !policy.trusts(Some("ghcr.io/acme-two/app")),
            "not a path component boundary"
        );
        assert!(!policy.trusts(Some("127.0.0.1:5000/demo/hello2")));
        assert!(!policy.trusts(Some("docker.io/library/hello")));
        assert!(!policy.trusts(None), "a local file needs --trust-aot");
        let all = TrustPolicy {
            trust_all: true,
            ..policy
        };
        assert!(all.trusts(None) && all.trusts(Some("docker.io/library/hello")));
    }
}
