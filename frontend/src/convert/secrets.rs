//! `RUN --mount=type=secret`: a secret of the client's, as a file.

use wasmpack_proto::pb;

use super::runmount::file_mount;
use crate::dockerfile::Mount;
use crate::llb::{self, MountKind};

/// The secret `mount` names, with BuildKit's defaults: the id from the
/// source, the id or the target's base name; at `/run/secrets/<id>`, mode
/// 0400. `target` is the mount's target made absolute, empty when none.
pub(super) fn secret_mount(
    mount: &Mount,
    target: String,
    mode: Option<u32>,
    uid: Option<u32>,
    gid: Option<u32>,
) -> llb::Mount {
    let id = [&mount.source, &mount.id]
        .into_iter()
        .find(|s| !s.is_empty())
        .cloned()
        .unwrap_or_else(|| base_name(&mount.target).to_string());
    let dest = match target.as_str() {
        "" => format!("/run/secrets/{}", base_name(&id)),
        _ => target,
    };
    let secret = pb::SecretOpt {
        id,
        uid: uid.unwrap_or(0),
        gid: gid.unwrap_or(0),
        mode: mode.unwrap_or(0o400),
        optional: !mount.required,
    };
    file_mount(MountKind::Secret(secret), dest)
}

fn base_name(path: &str) -> &str {
    path.trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or(path)
}
