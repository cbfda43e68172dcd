//! The image config the frontend builds up while converting a stage and
//! hands to BuildKit's exporter as `containerimage.config`: the OCI config
//! with Docker's extensions (Healthcheck, OnBuild, Shell, ArgsEscaped).
//! Fields the frontend does not touch are kept as they came. Lists and maps
//! read `null` as empty and are left out when empty, as Go's `omitempty`
//! writes them.

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
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub author: String,
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
    #[serde(
        rename = "ExposedPorts",
        default,
        deserialize_with = "null_as_empty",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub exposed_ports: BTreeMap<String, Empty>,
    #[serde(
        rename = "Env",
        default,
        deserialize_with = "null_as_empty",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub env: Vec<String>,
    #[serde(
        rename = "Entrypoint",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub entrypoint: Option<Vec<String>>,
    #[serde(rename = "Cmd", default, skip_serializing_if = "Option::is_none")]
    pub cmd: Option<Vec<String>>,
    #[serde(
        rename = "Volumes",
        default,
        deserialize_with = "null_as_empty",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub volumes: BTreeMap<String, Empty>,
    #[serde(
        rename = "WorkingDir",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub working_dir: String,
    #[serde(
        rename = "Labels",
        default,
        deserialize_with = "null_as_empty",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub labels: BTreeMap<String, String>,
    #[serde(
        rename = "StopSignal",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub stop_signal: String,
    #[serde(
        rename = "ArgsEscaped",
        default,
        skip_serializing_if = "std::ops::Not::not"
    )]
    pub args_escaped: bool,
    #[serde(
        rename = "Healthcheck",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub healthcheck: Option<Healthcheck>,
    #[serde(
        rename = "OnBuild",
        default,
        deserialize_with = "null_as_empty",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub on_build: Vec<String>,
    #[serde(
        rename = "Shell",
        default,
        deserialize_with = "null_as_empty",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub shell: Vec<String>,
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// The `{}` values of ExposedPorts and Volumes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Empty {}

/// Docker's health check; durations in nanoseconds, 0 for the default.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Healthcheck {
    #[serde(
        rename = "Test",
        default,
        deserialize_with = "null_as_empty",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub test: Vec<String>,
    #[serde(rename = "Interval", default, skip_serializing_if = "is_zero")]
    pub interval: i64,
    #[serde(rename = "Timeout", default, skip_serializing_if = "is_zero")]
    pub timeout: i64,
    #[serde(rename = "StartPeriod", default, skip_serializing_if = "is_zero")]
    pub start_period: i64,
    #[serde(rename = "StartInterval", default, skip_serializing_if = "is_zero")]
    pub start_interval: i64,
    #[serde(rename = "Retries", default, skip_serializing_if = "is_zero")]
    pub retries: i64,
}

fn is_zero(value: &i64) -> bool {
    *value == 0
}

fn null_as_empty<'de, D: serde::Deserializer<'de>, T: Default + Deserialize<'de>>(
    deserializer: D,
) -> Result<T, D::Error> {
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
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
        match self
            .config
            .env
            .iter_mut()
            .find(|e| e.starts_with(&prefix) || *e == name)
        {
            Some(existing) => *existing = entry,
            None => self.config.env.push(entry),
        }
    }

    /// The environment as name/value pairs, in order.
    pub fn env_pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.config
            .env
            .iter()
            .map(|e| wasmpack_oci::key_value::split(e))
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

/// The ExposedPorts keys (`80/tcp`) an EXPOSE spec stands for: `port`,
/// `port/proto` or a range `from-to[/proto]`, optionally after the
/// `[ip:]hostport:` that `docker run -p` takes (ignored here), as Docker's
/// port-spec parser reads it.
pub fn exposed_ports(spec: &str) -> Result<Vec<String>, String> {
    let container = spec.rsplit(':').next().unwrap_or(spec);
    let (port, proto) = match container.split_once('/') {
        Some((port, "")) => (port, "tcp".to_string()),
        Some((port, proto)) => (port, proto.to_ascii_lowercase()),
        None => (container, "tcp".to_string()),
    };
    if !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
        return Err(format!("invalid protocol {proto:?}: use tcp, udp or sctp"));
    }
    let number = |text: &str| {
        text.parse::<u16>()
            .map_err(|_| format!("invalid port {text:?}"))
    };
    let (first, last) = match port.split_once('-') {
        Some((first, last)) => (number(first)?, number(last)?),
        None if port.is_empty() => return Err("no port given".to_string()),
        None => (number(port)?, number(port)?),
    };
    if last < first {
        return Err(format!("invalid range {port:?}: it ends before it starts"));
    }
    Ok((first..=last).map(|p| format!("{p}/{proto}")).collect())
}

/// Whether `text` names a signal as STOPSIGNAL takes it: a number above 0,
/// or a Linux signal name with or without `SIG`.
pub fn is_signal(text: &str) -> bool {
    if let Ok(number) = text.parse::<u32>() {
        return number > 0;
    }
    const NAMES: [&str; 35] = [
        "ABRT", "ALRM", "BUS", "CHLD", "CLD", "CONT", "FPE", "HUP", "ILL", "INT", "IO", "IOT",
        "KILL", "PIPE", "POLL", "PROF", "PWR", "QUIT", "SEGV", "STKFLT", "STOP", "SYS", "TERM",
        "TRAP", "TSTP", "TTIN", "TTOU", "UNUSED", "URG", "USR1", "USR2", "VTALRM", "WINCH", "XCPU",
        "XFSZ",
    ];
    let upper = text.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    // Real-time signals: RTMIN, RTMIN+1..15, RTMAX-14..1, RTMAX.
    let realtime = |prefix: &str, sign: char| {
        name.strip_prefix(prefix).is_some_and(|rest| {
            rest.is_empty()
                || rest
                    .strip_prefix(sign)
                    .and_then(|n| n.parse::<u8>().ok())
                    .is_some_and(|n| (1..=15).contains(&n))
        })
    };
    NAMES.contains(&name) || realtime("RTMIN", '+') || realtime("RTMAX", '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_fields_survive_a_round_trip() {
        let json = br#"{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/bin"],"Healthcheck":{"Test":["NONE"]},"Entrypoint":null,"OnBuild":null,"Volumes":null,"Domainname":""},"rootfs":{"type":"layers","diff_ids":["sha256:aa"]},"moby.buildkit.buildinfo.v1":"x"}"#;
        let image = ImageConfig::from_json(json).unwrap();
        assert_eq!(image.config.entrypoint, None);
        let back: Value = serde_json::from_slice(&image.to_json()).unwrap();
        assert_eq!(
            back["config"]["Healthcheck"],
            serde_json::json!({"Test": ["NONE"]})
        );
        assert_eq!(back["config"]["Domainname"], "");
        // null and empty lists are left out, as Go's omitempty does.
        assert!(back["config"].get("OnBuild").is_none() && back["config"].get("Volumes").is_none());
        assert_eq!(back["moby.buildkit.buildinfo.v1"], "x");
        assert_eq!(back["rootfs"]["diff_ids"][0], "sha256:aa");
    }

    #[test]
    fn exposed_port_specs() {
        assert_eq!(exposed_ports("80").unwrap(), ["80/tcp"]);
        assert_eq!(exposed_ports("53/UDP").unwrap(), ["53/udp"]);
        assert_eq!(
            exposed_ports("8000-8002").unwrap(),
            ["8000/tcp", "8001/tcp", "8002/tcp"]
        );
        assert_eq!(exposed_ports("127.0.0.1:8080:80/udp").unwrap(), ["80/udp"]);
        assert!(exposed_ports("80/ftp").unwrap_err().contains("protocol"));
        assert!(exposed_ports("http").unwrap_err().contains("invalid port"));
        assert!(exposed_ports("9-1").unwrap_err().contains("ends before"));
        assert!(exposed_ports("70000").is_err());
    }

    #[test]
    fn signals() {
        for good in ["SIGTERM", "term", "9", "SIGRTMIN+3", "RTMAX", "SIGRTMAX-14"] {
            assert!(is_signal(good), "{good}");
        }
        for bad in ["0", "SIGNOPE", "RTMIN+16", "", "-1"] {
            assert!(!is_signal(bad), "{bad}");
        }
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
