//! What the host side hands the container: the chosen native code as a
//! read-only bind mount at [`CODE_MOUNT`], and what was decided, as JSON in
//! [`HANDOVER_ENV`]. The container believes the code only when
//! [`CODE_MOUNT`] is a mount point: an image can ship files and set
//! variables, but it cannot add mounts, so an image's own file at that path
//! is never loaded.

use std::path::Path;

use serde::{Deserialize, Serialize};

/// Where the chosen code appears in the container: under /dev, which
/// Docker, containerd and Kubernetes mount as a tmpfs, so the mount point
/// can be made even on a read-only root.
pub const CODE_MOUNT: &str = "/dev/wasmpack.cwasm";

/// Set by the host side only: stripped from every spec it prepares, and
/// never passed to the guest.
pub const HANDOVER_ENV: &str = "WASMPACK_SHIM";

/// What the host side decided, for the container's messages.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Handover {
    /// Which code: `image AOT`, `cache hit`, `compiled and cached`, or why
    /// the container compiles for itself.
    pub taken: String,
    /// Why other paths were not taken (shown with `dev.wasmpack.verbose`).
    pub notes: Vec<String>,
    /// Refused artifacts and the like: always shown.
    pub warnings: Vec<String>,
    /// The spec asked for the decision on the container's stderr.
    pub verbose: bool,
}

impl Handover {
    pub fn to_env(&self) -> String {
        // Strings and booleans always serialize.
        let json = serde_json::to_string(self).unwrap_or_default();
        format!("{HANDOVER_ENV}={json}")
    }

    /// The last handover in a process environment, if it has one that reads.
    pub fn from_env(entries: &[String]) -> Option<Self> {
        let prefix = format!("{HANDOVER_ENV}=");
        let json = entries
            .iter()
            .rev()
            .find_map(|kv| kv.strip_prefix(&prefix))?;
        serde_json::from_str(json).ok()
    }

    /// The lines for the container's stderr: the warnings, and with
    /// `verbose` the decision and the notes too.
    pub fn messages(&self) -> Vec<String> {
        let warnings = self
            .warnings
            .iter()
            .map(|w| format!("wasmpack: warning: {w}"));
        if !self.verbose {
            return warnings.collect();
        }
        let decision = std::iter::once(format!("wasmpack: {}", self.taken));
        decision
            .chain(self.notes.iter().map(|n| format!("wasmpack: {n}")))
            .chain(warnings)
            .collect()
    }
}

/// Whether `path` is a mount point in `mountinfo` (the text of
/// `/proc/self/mountinfo`: the fifth field is the mount point, with space,
/// tab, newline and backslash written as octal escapes).
pub fn is_mount_point(mountinfo: &str, path: &str) -> bool {
    mountinfo
        .lines()
        .filter_map(|line| line.split(' ').nth(4))
        .any(|mount_point| unescape(mount_point) == path)
}

/// Whether [`CODE_MOUNT`] was mounted for this container.
pub fn code_is_mounted() -> bool {
    std::fs::read_to_string(Path::new("/proc/self/mountinfo"))
        .is_ok_and(|info| is_mount_point(&info, CODE_MOUNT))
}

/// `\040` -> ` `.
fn unescape(field: &str) -> String {
    let mut out = String::with_capacity(field.len());
    let mut rest = field;
    while let Some(at) = rest.find('\\') {
        out.push_str(&rest[..at]);
        match rest
            .get(at + 1..at + 4)
            .and_then(|digits| u8::from_str_radix(digits, 8).ok())
        {
            Some(byte) => {
                out.push(char::from(byte));
                rest = &rest[at + 4..];
            }
            None => {
                out.push('\\');
                rest = &rest[at + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The environment the guest gets: `K=V` entries, without ours.
pub fn guest_env(entries: &[String]) -> Vec<(String, String)> {
    entries
        .iter()
        .map(|kv| {
            let (key, value) = wasmpack_oci::key_value::split(kv);
            (key.to_string(), value.to_string())
        })
        .filter(|(key, _)| key != HANDOVER_ENV)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTINFO: &str = "\
612 598 0:55 / / rw,relatime - overlay overlay rw,lowerdir=/l,upperdir=/u,workdir=/w
613 612 0:58 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw
614 612 0:59 / /dev rw,nosuid - tmpfs tmpfs rw,size=65536k,mode=755
620 614 254:1 /var/cache/wasmpack/compiled/abc/sha256-1.cwasm /dev/wasmpack.cwasm ro,nosuid,nodev,relatime - ext4 /dev/vda rw
621 612 254:1 /data /my\\040data rw - ext4 /dev/vda rw
";

    #[test]
    fn only_a_mount_point_counts() {
        assert!(is_mount_point(MOUNTINFO, CODE_MOUNT));
        assert!(is_mount_point(MOUNTINFO, "/my data"), "escapes are decoded");
        assert!(!is_mount_point(MOUNTINFO, "/dev/other.cwasm"));
        let without: String = MOUNTINFO
            .lines()
            .filter(|l| !l.contains("wasmpack.cwasm"))
            .collect::<Vec<_>>()
            .join("\n");
        assert!(
            !is_mount_point(&without, CODE_MOUNT),
            "an image's own file there is not a mount"
        );
    }

    #[test]
    fn the_handover_round_trips_and_the_guest_never_sees_it() {
        let handover = Handover {
            taken: "cache hit".into(),
            notes: vec!["AOT layer not trusted".into()],
            warnings: vec!["refused".into()],
            verbose: false,
        };
        let entries = [
            "PATH=/bin".to_string(),
            handover.to_env(),
            "EMPTY".to_string(),
            "A=b=c".to_string(),
        ];
        assert_eq!(Handover::from_env(&entries), Some(handover.clone()));
        assert_eq!(
            guest_env(&entries),
            [
                ("PATH".into(), "/bin".into()),
                ("EMPTY".into(), String::new()),
                ("A".into(), "b=c".into())
            ]
        );
        assert_eq!(Handover::from_env(&entries[..1]), None);
        assert_eq!(
            handover.messages(),
            ["wasmpack: warning: refused"],
            "quiet unless asked"
        );
        let verbose = Handover {
            verbose: true,
            ..handover
        };
        assert_eq!(
            verbose.messages(),
            [
                "wasmpack: cache hit",
                "wasmpack: AOT layer not trusted",
                "wasmpack: warning: refused"
            ]
        );
    }
}
