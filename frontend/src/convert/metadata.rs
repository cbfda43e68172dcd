//! The instructions that edit the image config: ENV, LABEL, ENTRYPOINT,
//! CMD, USER, EXPOSE, VOLUME, STOPSIGNAL, HEALTHCHECK, SHELL, ONBUILD,
//! MAINTAINER, each with its history entry; and WORKDIR, which also makes
//! the folder.

use wasmpack_proto::pb;

use super::{absolute_in, chown_opt, to_pb, ConvertError, ConvertedStage, Converter, Step};
use crate::dockerfile::{Instruction, ShellOrExec};
use crate::image;
use crate::llb::{self, FileAction};

impl Converter<'_> {
    /// An instruction that only edits the image config (and adds its
    /// history entry).
    pub(super) fn metadata(
        &self,
        stage: &mut ConvertedStage,
        instruction: Instruction,
        step: &Step<'_>,
    ) -> Result<(), ConvertError> {
        let line = step.located.line;
        let history = |stage: &mut ConvertedStage, text: String| {
            stage.image.add_history(text, true, None);
        };
        let config = &mut stage.image.config;
        match instruction {
            Instruction::Arg(_) => {}
            Instruction::Env(pairs) => {
                let mut text = String::from("ENV");
                for (name, value) in &pairs {
                    stage.image.set_env(name, value);
                    text.push_str(&format!(" {name}={value}"));
                }
                history(stage, text);
            }
            Instruction::Label(pairs) => {
                let mut text = String::from("LABEL");
                for (name, value) in pairs {
                    text.push_str(&format!(" {name}={value}"));
                    config.labels.insert(name, value);
                }
                history(stage, text);
            }
            Instruction::Entrypoint(form) => {
                let args = self.with_shell(stage, form);
                history(stage, format!("ENTRYPOINT {args:?}"));
                stage.image.config.entrypoint = Some(args);
                // As in Docker: a new ENTRYPOINT drops an inherited CMD.
                if stage.cmd_line.is_none() {
                    stage.image.config.cmd = None;
                }
                stage.entrypoint_line = Some(line);
            }
            Instruction::Cmd(form) => {
                let args = self.with_shell(stage, form);
                history(stage, format!("CMD {args:?}"));
                stage.image.config.cmd = Some(args);
                // What BuildKit writes for Docker's sake (Windows quoting).
                stage.image.config.args_escaped = true;
                stage.cmd_line = Some(line);
            }
            Instruction::User(user) => {
                config.user = user.clone();
                history(stage, format!("USER {user}"));
            }
            Instruction::Expose(specs) => {
                for spec in &specs {
                    let ports = image::exposed_ports(spec)
                        .map_err(|problem| self.error(line, format!("EXPOSE {spec}: {problem}")))?;
                    config
                        .exposed_ports
                        .extend(ports.into_iter().map(|p| (p, image::Empty {})));
                }
                history(stage, format!("EXPOSE {}", specs.join(" ")));
            }
            Instruction::Volume(volumes) => {
                for volume in &volumes {
                    if volume.is_empty() {
                        return Err(self.error(line, "VOLUME: a volume cannot be an empty string"));
                    }
                    config.volumes.insert(volume.clone(), image::Empty {});
                }
                history(stage, format!("VOLUME {volumes:?}"));
            }
            Instruction::StopSignal(signal) => {
                if !image::is_signal(&signal) {
                    return Err(self.error(
                        line,
                        format!("STOPSIGNAL {signal:?}: not a signal; use a name such as SIGTERM or a number"),
                    ));
                }
                config.stop_signal = signal.clone();
                history(stage, format!("STOPSIGNAL {signal}"));
            }
            Instruction::Healthcheck(check) => {
                config.healthcheck = Some(image::Healthcheck {
                    test: check.test.clone(),
                    interval: check.interval,
                    timeout: check.timeout,
                    start_period: check.start_period,
                    start_interval: check.start_interval,
                    retries: check.retries,
                });
                history(stage, format!("HEALTHCHECK {:?}", check.test));
            }
            Instruction::Shell(shell) => {
                config.shell = shell.clone();
                history(stage, format!("SHELL {shell:?}"));
            }
            // Kept for stages and images built on this one; not run here.
            Instruction::Onbuild(trigger) => config.on_build.push(trigger),
            Instruction::Maintainer(author) => {
                stage.image.author = author.clone();
                history(stage, format!("MAINTAINER {author}"));
            }
            Instruction::Workdir(_)
            | Instruction::Run(_)
            | Instruction::Copy(_)
            | Instruction::Add(_) => {
                unreachable!(
                    "Converter::instruction dispatches the instructions that change the filesystem"
                )
            }
        }
        Ok(())
    }

    pub(super) fn workdir(&self, stage: &mut ConvertedStage, path: &str, step: &Step<'_>) {
        let dir = absolute_in(&stage.image.config.working_dir, path);
        stage.image.config.working_dir = dir.clone();
        if dir != "/" {
            // Owned by the USER in effect, as BuildKit makes it.
            let user = &stage.image.config.user;
            let mkdir = pb::FileActionMkDir {
                path: dir.clone(),
                mode: 0o755,
                make_parents: true,
                timestamp: -1,
                owner: (!user.is_empty()).then(|| chown_opt(user)),
            };
            stage.state = llb::file(
                &stage.state,
                vec![FileAction::Mkdir(mkdir)],
                Some(to_pb(&stage.platform)),
                self.meta(step),
            );
        }
        stage
            .image
            .add_history(format!("WORKDIR {dir}"), dir == "/", None);
    }

    pub(super) fn with_shell(&self, stage: &ConvertedStage, form: ShellOrExec) -> Vec<String> {
        match form {
            ShellOrExec::Exec(args) => args,
            ShellOrExec::Shell(text) => {
                let mut args = match stage.image.config.shell.is_empty() {
                    true => vec!["/bin/sh".to_string(), "-c".to_string()],
                    false => stage.image.config.shell.clone(),
                };
                args.push(text);
                args
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;

    #[test]
    fn entrypoint_drops_inherited_cmd_and_shell_form_uses_the_shell() {
        let text = "FROM scratch AS a\nCMD [\"x\"]\nFROM a\nENTRYPOINT /run.sh\n";
        let stage = convert_text(text, &options()).unwrap();
        assert_eq!(stage.image.config.cmd, None);
        assert_eq!(
            stage.image.config.entrypoint,
            Some(vec!["/bin/sh".into(), "-c".into(), "/run.sh".into()])
        );
        assert_eq!(stage.entrypoint_line, Some(4));
    }
}
