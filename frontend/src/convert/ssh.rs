//! `RUN --mount=type=ssh`: a socket to the client's SSH agent.

use wasmpack_proto::pb;

use super::runmount::file_mount;
use crate::dockerfile::Mount;
use crate::llb::{self, MountKind};

/// The SSH socket `mount` asks for, with BuildKit's defaults: id `default`,
/// at `/run/buildkit/ssh_agent.<n>` for the n-th socket of the RUN
/// (`ssh_count`, counted here), mode 0600. `target` is the mount's target
/// made absolute, empty when none.
pub(super) fn ssh_mount(
    mount: &Mount,
    target: String,
    mode: Option<u32>,
    uid: Option<u32>,
    gid: Option<u32>,
    ssh_count: &mut usize,
) -> llb::Mount {
    let dest = match target.as_str() {
        "" => format!("/run/buildkit/ssh_agent.{ssh_count}"),
        _ => target,
    };
    *ssh_count += 1;
    let ssh = pb::SshOpt {
        id: if mount.id.is_empty() {
            "default".to_string()
        } else {
            mount.id.clone()
        },
        uid: uid.unwrap_or(0),
        gid: gid.unwrap_or(0),
        mode: mode.unwrap_or(0o600),
        optional: !mount.required,
    };
    file_mount(MountKind::Ssh(ssh), dest)
}
