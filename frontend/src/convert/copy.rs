//! COPY and ADD: sources from the context, a stage, an image or a named
//! context, heredocs as inline files, and for ADD downloads and git
//! checkouts; `--link` copies onto scratch and merges.

use wasmpack_proto::pb;

use super::source::{git_source, http_source, source_kind, SourceKind};
use super::{absolute_in, chown_opt, to_pb, ConvertError, ConvertedStage, Converter, Step};
use crate::dockerfile;
use crate::llb::{self, FileAction, Meta};

impl Converter<'_> {
    /// COPY, and ADD (`add`): local sources are unpacked when they are
    /// archives, URLs are downloaded, git repositories cloned.
    pub(super) fn copy(
        &self,
        stage: &mut ConvertedStage,
        copy: dockerfile::Copy,
        add: bool,
        step: &Step<'_>,
    ) -> Result<(), ConvertError> {
        let line = step.located.line;
        let keyword = if add { "ADD" } else { "COPY" };
        let platform = Some(to_pb(&stage.platform));
        let source = self.named_source(copy.from.as_deref(), stage, line, "COPY --from")?;
        let count = copy.sources.len() + copy.heredocs.len();
        let dest = absolute_in(&stage.image.config.working_dir, &copy.dest);
        let dest = if (copy.dest.ends_with('/') || copy.dest == "." || copy.dest.is_empty())
            && !dest.ends_with('/')
        {
            format!("{dest}/")
        } else {
            dest
        };
        if count > 1 && !dest.ends_with('/') {
            return Err(self.error(
                line,
                format!(
                    "{keyword} with more than one source needs a destination folder ending in /"
                ),
            ));
        }
        let owner = copy.chown.as_deref().map(chown_opt);
        let (mode, mode_str) = match copy.chmod.as_deref() {
            None => (-1, String::new()),
            Some(text) => match i32::from_str_radix(text, 8) {
                Ok(mode) if text.chars().all(|c| c.is_ascii_digit()) && mode <= 0o7777 => {
                    (mode, String::new())
                }
                _ if self.options.chmod_symbolic && !text.is_empty() => (-1, text.to_string()),
                _ => {
                    return Err(self.error(
                        line,
                        format!("{keyword} --chmod={text}: expected an octal mode such as 755"),
                    ))
                }
            },
        };
        let remote = |src: &str, dest: &str| pb::FileActionCopy {
            owner: owner.clone(),
            mode,
            mode_str: mode_str.clone(),
            create_dest_path: true,
            ..llb::copy_defaults(src, dest)
        };
        let template = |src: String| pb::FileActionCopy {
            follow_symlink: true,
            dir_copy_contents: true,
            attempt_unpack_docker_compatibility: add,
            allow_wildcard: true,
            allow_empty_wildcard: true,
            ..remote(&src, &dest)
        };
        if copy.checksum.is_some()
            && !(copy.sources.len() == 1 && source_kind(&copy.sources[0]) == SourceKind::Http)
        {
            return Err(self.error(line, "ADD --checksum: only for a single http(s) source"));
        }
        let mut actions = Vec::new();
        for src in &copy.sources {
            let action = match (add, source_kind(src)) {
                (true, SourceKind::Http) => {
                    let file = url_file_name(src);
                    FileAction::Copy {
                        from: http_source(
                            src,
                            Some(&file),
                            copy.checksum.as_deref(),
                            self.meta(step),
                        ),
                        copy: remote(&format!("/{file}"), &dest),
                    }
                }
                (true, SourceKind::Git(git)) => FileAction::Copy {
                    from: git_source(&git, copy.keep_git_dir, self.meta(step)),
                    copy: remote("/", &dest),
                },
                (false, SourceKind::Http | SourceKind::Git(_)) => {
                    return Err(self.error(
                        line,
                        format!("COPY {src}: COPY takes no URLs or git repositories; use ADD"),
                    ))
                }
                (_, SourceKind::Local) => {
                    // `--parents`: copy from the pivot (`a/./b` copies b
                    // with its folders; no pivot: from the root) keeping
                    // the matched paths' folders.
                    let (src, include) = match (copy.parents, src.split_once("/./")) {
                        (false, _) => (src.as_str(), Vec::new()),
                        (true, Some((pivot, pattern))) => {
                            (pivot, vec![absolute_in("/", pattern)[1..].to_string()])
                        }
                        (true, None) => ("/", vec![absolute_in("/", src)[1..].to_string()]),
                    };
                    FileAction::Copy {
                        from: source.clone(),
                        copy: pb::FileActionCopy {
                            include_patterns: include,
                            exclude_patterns: copy.exclude.clone(),
                            ..template(absolute_in("/", src))
                        },
                    }
                }
            };
            actions.push(action);
        }
        for heredoc in &copy.heredocs {
            let file = pb::FileActionMkFile {
                path: format!("/{}", heredoc.name),
                mode: 0o644,
                data: heredoc.content.clone().into_bytes(),
                timestamp: -1,
                owner: None,
            };
            let inline = llb::file(
                &None,
                vec![FileAction::Mkfile(file)],
                platform.clone(),
                Meta::named("preparing inline document"),
            );
            let copy = pb::FileActionCopy {
                allow_wildcard: false,
                allow_empty_wildcard: false,
                attempt_unpack_docker_compatibility: false,
                ..template(format!("/{}", heredoc.name))
            };
            actions.push(FileAction::Copy { from: inline, copy });
        }
        if actions.is_empty() {
            return Err(self.error(line, format!("{keyword} needs at least one source")));
        }
        // `--link` (without --chmod, as in BuildKit): the copy is made on
        // scratch and merged on top, so it does not depend on what is below.
        stage.state = if copy.link && self.options.merge_op && copy.chmod.is_none() {
            let layer = llb::file(&None, actions, platform, self.meta(step));
            let link = Meta {
                name: Some(format!("{} (link)", step.progress)),
                ..self.meta(step)
            };
            llb::merge(&[stage.state.clone(), layer], link)
        } else {
            llb::file(&stage.state, actions, platform, self.meta(step))
        };
        stage
            .image
            .add_history(format!("{} # buildkit", step.located.source), false, None);
        Ok(())
    }
}

/// The file name a download is saved under: the URL path's last part.
fn url_file_name(url: &str) -> String {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    let path = path.split_once("://").map_or(path, |(_, rest)| {
        rest.split_once('/').map_or("", |(_, p)| p)
    });
    match path.trim_end_matches('/').rsplit('/').next() {
        Some(name) if !name.is_empty() && name != "." => name.to_string(),
        _ => "__unnamed__".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;

    #[test]
    fn copy_resolves_against_workdir_and_link_merges() {
        let text = "FROM rust:1 AS b\nWORKDIR /src\nCOPY --chown=1000:app --chmod=640 a.txt sub/\nFROM scratch\nCOPY --link --from=b /src/sub/a.txt /a.txt\n";
        let stage = convert_text(text, &options()).unwrap();
        let all = ops(&stage.state);
        let copies: Vec<pb::FileActionCopy> = all
            .iter()
            .filter_map(|op| match &op.op {
                Some(pb::op::Op::File(f)) => Some(f.actions.clone()),
                _ => None,
            })
            .flatten()
            .filter_map(|a| match a.action {
                Some(pb::file_action::Action::Copy(c)) => Some(c),
                _ => None,
            })
            .collect();
        assert_eq!(copies[0].src, "/a.txt");
        assert_eq!(copies[0].dest, "/src/sub/");
        assert_eq!(copies[0].mode, 0o640);
        let owner = copies[0].owner.clone().unwrap();
        assert_eq!(
            owner.user.unwrap().user,
            Some(pb::user_opt::User::ById(1000))
        );
        assert!(matches!(
            owner.group.unwrap().user,
            Some(pb::user_opt::User::ByName(_))
        ));
        assert_eq!(copies[1].src, "/src/sub/a.txt");
        assert!(
            all.iter()
                .any(|op| matches!(op.op, Some(pb::op::Op::Merge(_)))),
            "--link merges"
        );
    }
}
