//! The image config the frontend builds up while converting a stage and
//! hands to BuildKit's exporter as `containerimage.config`. Fields the
//! frontend does not touch (from the base image, or Docker extensions such
//! as Healthcheck) are kept as they came.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Where images look for programs when their config sets no PATH; what
/// BuildKit's Dockerfile frontend gives `FROM scratch` images.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

const HISTORY_COMMENT: &str = "buildkit.dockerfile.v0";

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ImageConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(default)]
    pub architecture: String,
    #[serde(default)]
    pub os: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub variant: String,
    #[serde(default)]
    pub config: RunConfig,
    #[serde(default)]
    pub rootfs: RootFs,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<History>,
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RunConfig {
    #[serde(rename = "User", default, skip_serializing_if = "String::is_empty")]
    pub user: String,
    #[serde(rename = "Env", default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<String>,
    #[serde(rename = "Entrypoint", default, skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<String>>,
    #[serde(rename = "Cmd", default, skip_serializing_if = "Option::is_none")]
    pub cmd: Option<Vec<String>>,
    #[serde(rename = "WorkingDir", default, skip_serializing_if = "String::is_empty")]
    pub working_dir: String,
    #[serde(rename = "Labels", default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(rename = "Shell", default, skip_serializing_if = "Vec::is_empty")]
    pub shell: Vec<String>,
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RootFs {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub diff_ids: Vec<String>,
}

impl Default for RootFs {
    fn default() -> Self {
        RootFs {
            kind: "layers".to_string(),
            diff_ids: Vec::new(),
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub created_by: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub comment: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub empty_layer: bool,
}

impl ImageConfig {
    /// The config of a `FROM scratch` stage for `os`/`architecture`: working
    /// folder `/` and the default PATH, as BuildKit's frontend starts one.
    pub fn scratch(os: &str, architecture: &str, variant: &str) -> ImageConfig {
        ImageConfig {
            architecture: architecture.to_string(),
            os: os.to_string(),
            variant: variant.to_string(),
            config: RunConfig {
                env: vec![format!("PATH={DEFAULT_PATH}")],
                working_dir: "/".to_string(),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    pub fn from_json(bytes: &[u8]) -> serde_json::Result<ImageConfig> {
        serde_json::from_slice(bytes)
    }

    pub fn to_json(&self) -> Vec<u8> {
        // Serializing plain data with string keys cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Sets `name` in the environment, replacing an earlier value in place.
    pub fn set_env(&mut self, name: &str, value: &str) {
        let entry = format!("{name}={value}");
        let prefix = format!("{name}=");
        match self.config.env.iter_mut().find(|e| e.starts_with(&prefix) || *e == name) {
            Some(existing) => *existing = entry,
            None => self.config.env.push(entry),
        }
    }

    /// The environment as name/value pairs, in order.
    pub fn env_pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.config.env.iter().map(|e| e.split_once('=').unwrap_or((e.as_str(), "")))
    }

    /// Records an instruction in the history, as BuildKit's frontend does.
    pub fn add_history(&mut self, created_by: String, empty_layer: bool, created: Option<&str>) {
        self.history.push(History {
            created: created.map(str::to_string),
            created_by,
            comment: HISTORY_COMMENT.to_string(),
            empty_layer,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_fields_survive_a_round_trip() {
        let json = br#"{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/bin"],"Healthcheck":{"Test":["NONE"]},"Entrypoint":null},"rootfs":{"type":"layers","diff_ids":["sha256:aa"]},"moby.buildkit.buildinfo.v1":"x"}"#;
        let image = ImageConfig::from_json(json).unwrap();
        assert_eq!(image.config.entrypoint, None);
        let back: Value = serde_json::from_slice(&image.to_json()).unwrap();
        assert_eq!(back["config"]["Healthcheck"]["Test"][0], "NONE");
        assert_eq!(back["moby.buildkit.buildinfo.v1"], "x");
        assert_eq!(back["rootfs"]["diff_ids"][0], "sha256:aa");
    }

    #[test]
    fn env_is_replaced_in_place() {
        let mut image = ImageConfig::scratch("wasi", "wasm", "");
        image.set_env("A", "1");
        image.set_env("PATH", "/x");
        assert_eq!(image.config.env, vec!["PATH=/x", "A=1"]);
        assert_eq!(image.env_pairs().last(), Some(("A", "1")));
    }
}
