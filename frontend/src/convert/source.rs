//! Where filesystems come from: a stage's base (an image resolved through
//! the daemon, or a named context), what `--from` names (an earlier stage,
//! a named context, an image, else the build context), and the remote
//! sources of ADD and `--build-context` (http(s) downloads, git checkouts).

use std::collections::BTreeMap;

use super::{
    absolute_in, stage_index, to_pb, ConvertError, ConvertOptions, ConvertedStage, Converter,
    ImageResolver, NamedContext,
};
use crate::dockerfile::{Platform, Stage, Variables};
use crate::image::ImageConfig;
use crate::llb::{self, Meta, State};

impl Converter<'_> {
    /// A stage that starts from a named context.
    pub(super) async fn context_stage(
        &self,
        index: usize,
        stage: &Stage,
        named: &NamedContext,
        platform: Platform,
        progress: &str,
        resolver: &mut impl ImageResolver,
    ) -> Result<ConvertedStage, ConvertError> {
        match named {
            NamedContext::Image(reference) => {
                self.image_stage(index, stage, reference, platform, progress, resolver)
                    .await
            }
            NamedContext::Files(state) => Ok(ConvertedStage {
                index,
                line: stage.line,
                state: state.clone(),
                image: ImageConfig::scratch(
                    &platform.os,
                    &platform.architecture,
                    platform.variant.as_deref().unwrap_or(""),
                ),
                from_scratch: false,
                base_config: None,
                entrypoint_line: None,
                cmd_line: None,
                vars: Variables::new(),
                platform,
            }),
        }
    }

    pub(super) async fn image_stage(
        &self,
        index: usize,
        stage: &Stage,
        reference: &str,
        platform: Platform,
        progress: &str,
        resolver: &mut impl ImageResolver,
    ) -> Result<ConvertedStage, ConvertError> {
        let (name, _) = wasmpack_oci::name::normalize_name(reference)
            .map_err(|e| self.error(stage.line, format!("FROM {reference}: {e}")))?;
        let pb_platform = to_pb(&platform);
        let (digest, config) = resolver
            .resolve(&name, &pb_platform)
            .await
            .map_err(|e| self.error(stage.line, format!("FROM {reference}: {e}")))?;
        let image = ImageConfig::from_json(&config).map_err(|e| {
            self.error(
                stage.line,
                format!("FROM {reference}: unreadable image config: {e}"),
            )
        })?;
        // Pinned to the digest just resolved, so the build uses exactly the
        // image whose config it read.
        let identifier = if digest.is_empty() || name.contains('@') {
            format!("docker-image://{name}")
        } else {
            format!("docker-image://{name}@{digest}")
        };
        let state = Some(llb::image(
            identifier,
            &self.options.image_resolve_mode,
            Some(pb_platform),
            Meta::at(progress, stage.line, stage.line),
        ));
        let vars = Variables::from_iter(
            image
                .env_pairs()
                .map(|(k, v)| (k.to_string(), v.to_string())),
        );
        Ok(ConvertedStage {
            index,
            line: stage.line,
            state,
            image,
            platform,
            from_scratch: false,
            base_config: Some(config),
            entrypoint_line: None,
            cmd_line: None,
            vars,
        })
    }

    /// The filesystem a `--from` names: an earlier stage, else an image;
    /// the build context when there is none.
    pub(super) fn named_source(
        &self,
        from: Option<&str>,
        stage: &ConvertedStage,
        line: usize,
        what: &str,
    ) -> Result<State, ConvertError> {
        let Some(from) = from else {
            return Ok(self.options.context.clone());
        };
        if let Some(i) = stage_index(self.dockerfile, &from.to_lowercase(), stage.index) {
            return Ok(self.stages[i].as_ref().and_then(|s| s.state.clone()));
        }
        let from = match named_context(self.options, from) {
            Some(NamedContext::Files(state)) => return Ok(state.clone()),
            Some(NamedContext::Image(reference)) => reference.as_str(),
            None => from,
        };
        let (name, _) = wasmpack_oci::name::normalize_name(from).map_err(|e| {
            self.error(
                line,
                format!("{what}={from}: not a stage before this one nor an image: {e}"),
            )
        })?;
        Ok(Some(llb::image(
            format!("docker-image://{name}"),
            &self.options.image_resolve_mode,
            Some(to_pb(&stage.platform)),
            Meta::named(format!("[internal] load {name}")),
        )))
    }
}

/// The named context `name` stands for: looked up as written, then in
/// Docker's short form (`docker.io/library/alpine:latest` is `alpine`).
pub(super) fn named_context<'o>(
    options: &'o ConvertOptions,
    name: &str,
) -> Option<&'o NamedContext> {
    let contexts = &options.named_contexts;
    if contexts.is_empty() {
        return None;
    }
    contexts.get(name).or_else(|| {
        let (full, _) = wasmpack_oci::name::normalize_name(name).ok()?;
        let short = full
            .strip_prefix("docker.io/library/")
            .or_else(|| full.strip_prefix("docker.io/"))
            .unwrap_or(&full);
        contexts.get(short.strip_suffix(":latest").unwrap_or(short))
    })
}

/// A download: `ADD <url>`, or a named context.
pub(super) fn http_source(
    url: &str,
    file_name: Option<&str>,
    checksum: Option<&str>,
    meta: Meta,
) -> State {
    let mut attrs = BTreeMap::new();
    if let Some(file_name) = file_name {
        attrs.insert("http.filename".to_string(), file_name.to_string());
    }
    if let Some(checksum) = checksum {
        attrs.insert("http.checksum".to_string(), checksum.to_string());
    }
    Some(llb::source(url.to_string(), attrs, None, meta))
}

/// A checkout: `ADD <git ref>`, or a named context.
pub(super) fn git_source(git: &GitSource, keep_git_dir: bool, meta: Meta) -> State {
    let mut attrs = BTreeMap::from([
        ("git.fullurl".to_string(), git.remote.clone()),
        (
            "git.authtokensecret".to_string(),
            "GIT_AUTH_TOKEN".to_string(),
        ),
        (
            "git.authheadersecret".to_string(),
            "GIT_AUTH_HEADER".to_string(),
        ),
    ]);
    if keep_git_dir {
        attrs.insert("git.keepgitdir".to_string(), "true".to_string());
    }
    Some(llb::source(git.identifier(), attrs, None, meta))
}

/// A `--build-context NAME=VALUE` that names a git repository or an http(s)
/// URL, as the filesystem it stands for; `None` for anything else.
pub fn remote_context(name: &str, value: &str) -> Option<State> {
    let meta = Meta::named(format!("[context {name}] {value}"));
    match source_kind(value) {
        // BuildKit keeps the .git folder of a repository given as a context.
        SourceKind::Git(git) => Some(git_source(&git, true, meta)),
        SourceKind::Http => Some(http_source(value, None, None, meta)),
        SourceKind::Local => None,
    }
}

#[derive(Debug, PartialEq, Eq)]
pub(super) enum SourceKind {
    Local,
    Http,
    Git(GitSource),
}

/// A git repository named by an ADD source, as BuildKit recognises one:
/// `git://`, `ssh://`, `git@host:path`, or an http(s) URL whose path ends in
/// `.git`; `#ref[:subdir]` picks what to check out.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct GitSource {
    /// The URL without the fragment.
    remote: String,
    host: String,
    path: String,
    /// `ref` or `ref:subdir`, empty for the default branch.
    fragment: String,
}

impl GitSource {
    /// BuildKit's source identifier: host and path, whatever the protocol.
    fn identifier(&self) -> String {
        let mut id = format!("git://{}{}", self.host, absolute_in("/", &self.path));
        if !self.fragment.is_empty() {
            id.push('#');
            id.push_str(&self.fragment);
        }
        id
    }
}

pub(super) fn source_kind(src: &str) -> SourceKind {
    let (remote, fragment) = src.split_once('#').unwrap_or((src, ""));
    let git = |host: &str, path: &str| {
        SourceKind::Git(GitSource {
            remote: remote.to_string(),
            host: host.to_string(),
            path: path.to_string(),
            fragment: fragment.to_string(),
        })
    };
    if let Some((scheme, rest)) = remote.split_once("://") {
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let host = authority
            .rsplit_once('@')
            .map_or(authority, |(_, host)| host);
        return match scheme {
            "git" | "ssh" => git(host, path),
            "http" | "https" if path.ends_with(".git") => git(host, path),
            "http" | "https" => SourceKind::Http,
            _ => SourceKind::Local,
        };
    }
    // scp-like `user@host:path`.
    match remote.split_once(':') {
        Some((user_host, path)) if !user_host.contains('/') && user_host.contains('@') => git(
            user_host
                .rsplit_once('@')
                .map_or(user_host, |(_, host)| host),
            path,
        ),
        _ => SourceKind::Local,
    }
}
