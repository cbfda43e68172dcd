//! Image names: references parsed as registries and Docker parse them, and
//! the full names and tags that layouts, archives and containerd record.
//!
//! References are parsed without oci-spec's regex: oci-spec parses a reference with one large regex whose compilation
//! (Unicode classes, once per process) costs tens of milliseconds of CPU,
//! more than a whole push of a small image to a local registry. The common
//! case, an ASCII reference that is valid, is checked here by hand against
//! the same grammar and built with oci-spec's constructors; anything else
//! (non-ASCII, invalid, too long) goes to oci-spec's own parser, so results
//! and error messages stay exactly oci-spec's.

use oci_spec::distribution::{ParseError, Reference};

/// A name that is no image reference.
#[derive(Debug, thiserror::Error)]
#[error("invalid image name {name:?}: {reason}")]
pub struct NameError {
    pub name: String,
    pub reason: String,
}

/// `s` as oci-spec's `Reference::from_str` parses it.
pub fn parse_reference(s: &str) -> Result<Reference, ParseError> {
    match parse_common(s) {
        Some(reference) => Ok(reference),
        None => s.parse(),
    }
}

/// The full reference (`docker.io/library/hello:latest`) and the tag
/// (`latest`) for a user-given name, as registries and containerd spell them.
/// A name without tag means `latest`; one pinned by digest alone has no tag.
pub fn normalize_name(name: &str) -> Result<(String, Option<String>), NameError> {
    let reference = parse_reference(name).map_err(|e| NameError {
        name: name.to_string(),
        reason: e.to_string(),
    })?;
    let tag = match (reference.tag(), reference.digest()) {
        (Some(tag), _) => Some(tag.to_string()),
        (None, Some(_)) => None,
        (None, None) => Some("latest".to_string()),
    };
    Ok((reference.whole(), tag))
}

/// Whether a command-line argument that names no file is meant as an image
/// reference: it parses as one and does not read as a path (`/`, `./`,
/// `../` or a `.tar` file name), so a mistyped path is reported as missing
/// instead of being looked up on Docker Hub.
pub fn is_reference_argument(arg: &str) -> bool {
    let reads_as_path = arg.starts_with(['/', '.']) || arg.ends_with(".tar");
    !reads_as_path && parse_reference(arg).is_ok()
}

/// The reference when `s` is ASCII and valid; `None` means "ask oci-spec".
fn parse_common(s: &str) -> Option<Reference> {
    if !s.is_ascii() {
        return None;
    }
    let (rest, digest) = match s.split_once('@') {
        Some((rest, digest)) => (rest, Some(digest)),
        None => (s, None),
    };
    if let Some(digest) = digest {
        let (algorithm, hex) = digest.split_once(':')?;
        let hex_len = match algorithm {
            "sha256" => 64,
            "sha384" => 96,
            "sha512" => 128,
            _ => return None,
        };
        if hex.len() != hex_len || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
    }
    // A tag can hold neither '/' nor ':', and the name's last component no
    // ':', so the tag starts at the first ':' after the last '/'.
    let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match rest[last_slash..].find(':') {
        Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
        None => (rest, None),
    };
    if let Some(tag) = tag {
        let ok = (1..=128).contains(&tag.len())
            && tag
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
            && !tag.starts_with(['.', '-']);
        if !ok {
            return None;
        }
    }
    let components: Vec<&str> = name.split('/').collect();
    let (first, others) = components.split_first()?;
    let first_ok = is_path_component(first) || (!others.is_empty() && is_domain(first));
    if !first_ok || !others.iter().all(|c| is_path_component(c)) {
        return None;
    }
    let (registry, repository) = split_registry(name, first);
    if repository.len() > 255 {
        return None;
    }
    let (tag, digest) = (tag.map(str::to_string), digest.map(str::to_string));
    Some(match (tag, digest) {
        (Some(tag), Some(digest)) => {
            Reference::with_tag_and_digest(registry, repository, tag, digest)
        }
        (None, Some(digest)) => Reference::with_digest(registry, repository, digest),
        (tag, None) => {
            Reference::with_tag(registry, repository, tag.unwrap_or_else(|| "latest".into()))
        }
    })
}

/// `[a-z0-9]+` runs joined by exactly one of `.`, `_`, `__` or dashes.
fn is_path_component(c: &str) -> bool {
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let bytes = c.as_bytes();
    if bytes.is_empty() || !alnum(bytes[0]) || !alnum(bytes[bytes.len() - 1]) {
        return false;
    }
    // Every run of non-alphanumerics between two runs must be a separator.
    c.split(|ch: char| ch.is_ascii_lowercase() || ch.is_ascii_digit())
        .filter(|sep| !sep.is_empty())
        .all(|sep| matches!(sep, "." | "_" | "__") || sep.bytes().all(|b| b == b'-'))
}

/// Host labels (letters of either case, digits, inner dashes) joined by
/// dots, with an optional `:port`.
fn is_domain(d: &str) -> bool {
    let (host, port) = match d.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (d, None),
    };
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    host.split('.').all(label_ok)
        && port.is_none_or(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

/// Registry and repository the way Docker normalizes a name: the first
/// component is a registry only when it looks like a host (a dot, a port,
/// or `localhost`); Docker Hub names get `library/` when they have no
/// namespace.
fn split_registry(name: &str, first: &str) -> (String, String) {
    let has_registry = name.contains('/') && (first.contains(['.', ':']) || first == "localhost");
    let (registry, repository) = if has_registry {
        (first, &name[first.len() + 1..])
    } else {
        ("docker.io", name)
    };
    let registry = if registry == "index.docker.io" {
        "docker.io"
    } else {
        registry
    };
    if registry == "docker.io" && !repository.contains('/') {
        (registry.to_string(), format!("library/{repository}"))
    } else {
        (registry.to_string(), repository.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA256: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789ABCDEF";

    fn oci_spec(s: &str) -> Result<Reference, ParseError> {
        s.parse()
    }

    #[test]
    fn common_references_skip_the_regex_and_agree_with_oci_spec() {
        let digest_ref = format!("127.0.0.1:5000/demo/app@{SHA256}");
        let both = format!("localhost/app:v1@{SHA256}");
        let sha384 = format!("app@sha384:{}", "ab".repeat(48));
        let sha512 = format!("app:1@sha512:{}", "cd".repeat(64));
        let cases = [
            "hello",
            "hello:1",
            "demo/hello:1",
            "docker.io/hello",
            "index.docker.io/library/hello:latest",
            "ghcr.io/org/team/app:v1.2.3-rc_1",
            "localhost:5000/app",
            "localhost/app:tag",
            "127.0.0.1:41234/bench/m:1",
            "Registry.Example-1.com:443/a__b/c--d/e.f:T_1",
            "test.com:5000",
            "exa_mple.com/a",
            "a:latest",
            &digest_ref,
            &both,
            &sha384,
            &sha512,
        ];
        for s in cases {
            let fast =
                parse_common(s).unwrap_or_else(|| panic!("{s}: not handled without the regex"));
            assert_eq!(Ok(fast), oci_spec(s), "{s}");
        }
    }

    #[test]
    fn arguments_that_read_as_paths_are_not_references() {
        for arg in ["demo/hello:1", "127.0.0.1:5000/demo/hello", "hello"] {
            assert!(is_reference_argument(arg), "{arg}");
        }
        for arg in [
            "missing.tar",
            "./out",
            "../out",
            "/tmp/out",
            "Not A Reference",
        ] {
            assert!(!is_reference_argument(arg), "{arg}");
        }
    }

    #[test]
    fn everything_else_gets_oci_spec_answers_and_errors() {
        let long_repo = format!("example.com/{}", "a".repeat(256));
        let short_sha384 = format!("a@sha384:{}", "ab".repeat(32));
        let long_sha256 = format!("a@sha256:{}", "ab".repeat(48));
        let cases = [
            "",
            "Hello",
            "demo/Hello",
            "a//b",
            "/a",
            "a/",
            "a:",
            "a:-tag",
            "a:.tag",
            "a:ta/g",
            "a@sha256:abc",
            "a@md5:0123456789abcdef0123456789abcdef",
            "a@sha256",
            "a___b",
            "a..b",
            "-a",
            "a-",
            "a.-b",
            "-example.com/a",
            "example.com:/a",
            "example.com:50a/a",
            "[::1]:5000/a",
            "a:tagé",
            "é/a",
            &long_repo,
            &short_sha384,
            &long_sha256,
        ];
        for s in cases {
            assert!(parse_common(s).is_none(), "{s:?} must go to oci-spec");
            assert_eq!(parse_reference(s), oci_spec(s), "{s:?}");
        }
        assert_eq!(
            parse_reference("a___b"),
            Err(ParseError::ReferenceInvalidFormat)
        );
    }

    /// Strings built from the grammar's pieces, valid and not: whenever the
    /// hand parser answers, oci-spec gives the same reference.
    #[test]
    fn generated_references_agree_with_oci_spec() {
        let pieces = [
            "a",
            "b",
            "z",
            "0",
            "9",
            "A",
            "Z",
            ".",
            "_",
            "__",
            "-",
            "--",
            "/",
            ":",
            "@",
            "5000",
            "localhost",
            "docker.io",
            "index.docker.io",
            "library",
            "sha256:",
            SHA256,
            "é",
        ];
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let (mut handled, mut total) = (0, 0);
        for _ in 0..40_000 {
            let len = 1 + next() % 8;
            let s: String = (0..len)
                .map(|_| pieces[(next() % pieces.len() as u64) as usize])
                .collect();
            total += 1;
            if let Some(fast) = parse_common(&s) {
                handled += 1;
                assert_eq!(Ok(fast), oci_spec(&s), "{s:?}");
            } else if let Ok(reference) = oci_spec(&s) {
                // Only non-ASCII input may be valid yet left to oci-spec.
                assert!(
                    !s.is_ascii(),
                    "{s:?} is valid ({reference}) but was not handled"
                );
            }
        }
        assert!(
            handled > total / 50,
            "the generator should produce valid references too: {handled}/{total}"
        );
    }
}
