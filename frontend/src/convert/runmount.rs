//! `RUN --mount`: bind (from the context, a stage or an image), cache and
//! tmpfs mounts, with BuildKit's defaults; secrets and SSH sockets are in
//! [`super::secrets`] and [`super::ssh`].

use wasmpack_proto::pb;

use super::secrets::secret_mount;
use super::ssh::ssh_mount;
use super::{absolute_in, chown_opt, to_pb, ConvertError, ConvertedStage, Converter, Step};
use crate::dockerfile::mount::parse_size;
use crate::dockerfile::{Mount, MountType, Sharing};
use crate::llb::{self, FileAction, Meta, MountKind};

impl Converter<'_> {
    /// One `RUN --mount`, with BuildKit's defaults: cache ids default to the
    /// target, secrets to `/run/secrets/<id>` (mode 0400), SSH sockets to
    /// `/run/buildkit/ssh_agent.<n>` (mode 0600).
    pub(super) fn run_mount(
        &self,
        stage: &ConvertedStage,
        mount: &Mount,
        ssh_count: &mut usize,
        step: &Step<'_>,
    ) -> Result<llb::Mount, ConvertError> {
        let line = step.located.line;
        let invalid = |problem: String| self.error(line, format!("RUN --mount: {problem}"));
        let number =
            |field: &Option<String>, radix: u32, name: &str| -> Result<Option<u32>, ConvertError> {
                field
                    .as_deref()
                    .map(|text| {
                        u32::from_str_radix(text, radix)
                            .map_err(|_| invalid(format!("invalid {name} {text:?}")))
                    })
                    .transpose()
            };
        let (mode, uid, gid) = (
            number(&mount.mode, 8, "mode")?,
            number(&mount.uid, 10, "uid")?,
            number(&mount.gid, 10, "gid")?,
        );
        let target = if mount.target.is_empty() {
            String::new()
        } else {
            absolute_in(&stage.image.config.working_dir, &mount.target)
        };
        match mount.kind {
            MountType::Secret => return Ok(secret_mount(mount, target, mode, uid, gid)),
            MountType::Ssh => return Ok(ssh_mount(mount, target, mode, uid, gid, ssh_count)),
            _ if target == "/" => {
                return Err(invalid(format!(
                    "cannot mount over / (target {:?})",
                    mount.target
                )))
            }
            _ => {}
        }
        let mut state = match (mount.kind, mount.from.as_deref()) {
            (MountType::Tmpfs, _) | (MountType::Cache, None) => None,
            (_, from) => self.named_source(from, stage, line, "RUN --mount from")?,
        };
        let mut selector = absolute_in("/", &mount.source);
        if selector == "/" {
            selector.clear();
            // An empty cache owned and permissioned as asked.
            if uid.is_some() || gid.is_some() || mode.is_some() {
                let mkdir = pb::FileActionMkDir {
                    path: "/cache".to_string(),
                    mode: mode.unwrap_or(0o755) as i32,
                    make_parents: false,
                    timestamp: -1,
                    owner: Some(chown_opt(&format!(
                        "{}:{}",
                        uid.unwrap_or(0),
                        gid.unwrap_or(0)
                    ))),
                };
                state = llb::file(
                    &state,
                    vec![FileAction::Mkdir(mkdir)],
                    Some(to_pb(&stage.platform)),
                    Meta::named("[internal] settings cache mount permissions"),
                );
                selector = "/cache".to_string();
            }
        }
        let kind = match mount.kind {
            MountType::Cache => MountKind::Cache {
                // Namespaced as BuildKit's frontend does, so both share caches.
                id: format!(
                    "{}/{}",
                    self.options.cache_namespace,
                    if mount.id.is_empty() {
                        crate::path::clean(&mount.target)
                    } else {
                        mount.id.clone()
                    }
                ),
                sharing: match mount.sharing {
                    Sharing::Shared => pb::CacheSharingOpt::Shared,
                    Sharing::Private => pb::CacheSharingOpt::Private,
                    Sharing::Locked => pb::CacheSharingOpt::Locked,
                },
            },
            MountType::Tmpfs => MountKind::Tmpfs {
                size: match mount.size.as_deref() {
                    None => 0,
                    Some(text) => {
                        parse_size(text).ok_or_else(|| invalid(format!("invalid size {text:?}")))?
                    }
                },
            },
            _ => MountKind::Bind,
        };
        Ok(llb::Mount {
            dest: target,
            state,
            selector,
            readonly: mount.readonly,
            output: false,
            kind,
        })
    }
}

/// A mount of a single file BuildKit provides (a secret, an SSH socket):
/// no filesystem of its own.
pub(super) fn file_mount(kind: MountKind, dest: String) -> llb::Mount {
    llb::Mount {
        dest,
        state: None,
        selector: String::new(),
        readonly: false,
        output: false,
        kind,
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;

    #[test]
    fn run_mounts_take_buildkits_defaults() {
        let text = concat!(
            "FROM rust:1 AS tools\n",
            "FROM rust:1\n",
            "WORKDIR /src\n",
            "RUN --security=insecure --network=none \\\n",
            "    --mount=type=secret,id=token \\\n",
            "    --mount=type=ssh \\\n",
            "    --mount=type=cache,target=target,sharing=locked,uid=1000 \\\n",
            "    --mount=type=tmpfs,target=/tmp,size=1m \\\n",
            "    --mount=from=tools,source=/usr/bin,target=/tools \\\n",
            "    make\n",
        );
        let stage = convert_text(
            text,
            &ConvertOptions {
                cache_namespace: "ns".to_string(),
                ..options()
            },
        )
        .unwrap();
        let (exec, _) = execs(&stage.state).pop().unwrap();
        assert_eq!(exec.security, pb::SecurityMode::Insecure as i32);
        assert_eq!(exec.network, pb::NetMode::None as i32);
        let meta = exec.meta.unwrap();
        assert!(meta.remove_mount_stubs_recursive);
        assert!(
            meta.env
                .contains(&"SSH_AUTH_SOCK=/run/buildkit/ssh_agent.0".to_string()),
            "{:?}",
            meta.env
        );
        // Root first, then folders by destination, then secrets and sockets.
        let dests: Vec<&str> = exec.mounts.iter().map(|m| m.dest.as_str()).collect();
        assert_eq!(
            dests,
            [
                "/",
                "/src/target",
                "/tmp",
                "/tools",
                "/run/secrets/token",
                "/run/buildkit/ssh_agent.0"
            ]
        );
        let cache = &exec.mounts[1];
        // The id namespaced and defaulting to the target as written; an
        // owner asked for makes a prepared folder the mount's source.
        assert_eq!(
            cache.cache_opt,
            Some(pb::CacheOpt {
                id: "ns/target".to_string(),
                sharing: pb::CacheSharingOpt::Locked as i32,
            })
        );
        assert_eq!(
            (cache.selector.as_str(), cache.output, cache.readonly),
            ("/cache", -1, false)
        );
        assert_eq!(
            exec.mounts[2].tmpfs_opt,
            Some(pb::TmpfsOpt { size: 1 << 20 })
        );
        assert_eq!(
            (exec.mounts[3].selector.as_str(), exec.mounts[3].readonly),
            ("/usr/bin", true)
        );
        let secret = exec.mounts[4].secret_opt.clone().unwrap();
        assert_eq!(
            (secret.id.as_str(), secret.mode, secret.optional),
            ("token", 0o400, true)
        );
        let ssh = exec.mounts[5].ssh_opt.clone().unwrap();
        assert_eq!((ssh.id.as_str(), ssh.mode), ("default", 0o600));
    }
}
