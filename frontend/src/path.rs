//! Slash paths, as Go's `path` package treats them (BuildKit's frontend
//! cleans Dockerfile and `.dockerignore` paths with it).

/// Lexical clean of a slash path, as Go's `path.Clean`: no empty or `.`
/// components, `..` folded where it can be, `.` for nothing.
pub fn clean(path: &str) -> String {
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => match parts.last() {
                Some(&last) if last != ".." => {
                    parts.pop();
                }
                _ if rooted => {}
                _ => parts.push(".."),
            },
            other => parts.push(other),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_string(),
        (false, false) => joined,
    }
}

#[cfg(test)]
mod tests {
    use super::clean;

    #[test]
    fn cleans_as_go_path_clean() {
        for (path, cleaned) in [
            ("", "."),
            ("a/./b/", "a/b"),
            ("a/../..", ".."),
            ("../x", "../x"),
            ("/../x", "/x"),
            ("//a//b/..", "/a"),
        ] {
            assert_eq!(clean(path), cleaned, "{path:?}");
        }
    }
}
