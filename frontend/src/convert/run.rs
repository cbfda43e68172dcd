//! RUN: the command (shell or exec form, heredocs) as an exec on the
//! stage's filesystem, with the stage's environment, user, folder and the
//! `--network`/`--security` modes; each `--mount` comes from
//! [`super::runmount`].

use wasmpack_proto::pb;

use super::{to_pb, ConvertError, ConvertedStage, Converter, Step};
use crate::dockerfile::{self, Network, Security, ShellOrExec, Variables};
use crate::llb::{self, FileAction, Meta, MountKind};

impl Converter<'_> {
    pub(super) fn run(
        &self,
        stage: &mut ConvertedStage,
        run: dockerfile::Run,
        vars: &Variables,
        step: &Step<'_>,
    ) -> Result<(), ConvertError> {
        let platform = Some(to_pb(&stage.platform));
        let mut mounts = Vec::new();
        let form = match (&run.command, run.heredocs.as_slice()) {
            // `RUN <<EOT` alone: the heredoc is the script. With a shebang it
            // runs as a file of its own; otherwise the shell runs the body.
            (ShellOrExec::Shell(text), [heredoc]) if is_heredoc_marker(text) => {
                if heredoc.content.starts_with("#!") {
                    let file = pb::FileActionMkFile {
                        path: format!("/{}", heredoc.name),
                        mode: 0o755,
                        data: heredoc.content.clone().into_bytes(),
                        timestamp: -1,
                        owner: None,
                    };
                    let script = llb::file(
                        &None,
                        vec![FileAction::Mkfile(file)],
                        platform.clone(),
                        Meta::named("preparing inline document"),
                    );
                    mounts.push(llb::Mount {
                        dest: "/dev/pipes/".to_string(),
                        state: script,
                        selector: "/".to_string(),
                        readonly: true,
                        output: false,
                        kind: MountKind::Bind,
                    });
                    ShellOrExec::Exec(vec![format!("/dev/pipes/{}", heredoc.name)])
                } else {
                    ShellOrExec::Shell(heredoc.content.clone())
                }
            }
            // `RUN <<EOT bash` and the like: the shell gets the command with
            // its heredocs put back, and reads them itself.
            (ShellOrExec::Shell(text), heredocs) if !heredocs.is_empty() => {
                let mut script = text.clone();
                for heredoc in heredocs {
                    script.push('\n');
                    script.push_str(&heredoc.content);
                    script.push_str(&heredoc.name);
                }
                ShellOrExec::Shell(script)
            }
            (command, _) => command.clone(),
        };
        let mut env: Vec<String> = vars.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let mut ssh_count = 0;
        for mount in &run.mounts {
            let mount = self.run_mount(stage, mount, &mut ssh_count, step)?;
            // The first SSH socket is the agent programs find by default.
            if let (MountKind::Ssh(_), false) = (
                &mount.kind,
                vars.get("SSH_AUTH_SOCK").is_some() || ssh_count > 1,
            ) {
                env.push(format!("SSH_AUTH_SOCK={}", mount.dest));
            }
            mounts.push(mount);
        }
        let args = self.with_shell(stage, form);
        let exec = llb::Exec {
            args: args.clone(),
            env,
            cwd: match stage.image.config.working_dir.as_str() {
                "" => "/".to_string(),
                dir => dir.to_string(),
            },
            user: stage.image.config.user.clone(),
            network: match run.network {
                Network::Default => pb::NetMode::Unset,
                Network::None => pb::NetMode::None,
                Network::Host => pb::NetMode::Host,
            },
            security: match run.security {
                Security::Sandbox => pb::SecurityMode::Sandbox,
                Security::Insecure => pb::SecurityMode::Insecure,
            },
            mounts,
        };
        let (root, _) = llb::exec(&stage.state, exec, platform, self.meta(step));
        stage.state = root;
        stage
            .image
            .add_history(format!("RUN {} # buildkit", args.join(" ")), false, None);
        Ok(())
    }
}

/// A `RUN` command that is nothing but a heredoc marker (`<<EOT`, `<<-"EOT"`).
fn is_heredoc_marker(text: &str) -> bool {
    let Some(rest) = text.trim().strip_prefix("<<") else {
        return false;
    };
    let rest = rest.strip_prefix('-').unwrap_or(rest);
    let word = rest.trim_matches(|c| c == '"' || c == '\'');
    !word.is_empty() && word.chars().all(|c| c.is_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;

    #[test]
    fn heredoc_runs_follow_buildkit() {
        let text = "FROM rust:1\nRUN <<EOT bash\n  set -e\n  echo hi\nEOT\nRUN <<EOT\n#!/bin/sh\necho script\nEOT\nRUN <<EOT\necho plain\nEOT\n";
        let stage = convert_text(
            text,
            &ConvertOptions {
                stages_on_build_platform: false,
                target_platform: Platform::new("linux", "amd64"),
                ..options()
            },
        )
        .unwrap();
        let args: Vec<Vec<String>> = execs(&stage.state)
            .into_iter()
            .map(|(e, _)| e.meta.unwrap().args)
            .collect();
        assert_eq!(
            args[0],
            vec!["/bin/sh", "-c", "<<EOT bash\n  set -e\n  echo hi\nEOT"]
        );
        assert_eq!(args[1], vec!["/dev/pipes/EOT"]);
        assert_eq!(args[2], vec!["/bin/sh", "-c", "echo plain\n"]);
    }

    #[test]
    fn heredoc_markers_are_recognised() {
        assert!(is_heredoc_marker("<<EOT") && is_heredoc_marker("<<-'EOT'"));
        assert!(!is_heredoc_marker("<<EOT bash"));
    }
}
