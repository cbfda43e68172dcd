//! `RUN --mount=` values: a CSV list of `key=value` fields (and a few bare
//! words), read as BuildKit reads them. Parsed once when the Dockerfile is
//! read, so a wrong key or type is reported before anything runs; the fields
//! that take variables are expanded later with the stage's variables (see
//! [`super::scope`]), and numbers are checked after that.

/// `type=`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MountType {
    #[default]
    Bind,
    Cache,
    Tmpfs,
    Secret,
    Ssh,
}

/// `sharing=` of a cache mount.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Sharing {
    #[default]
    Shared,
    Private,
    Locked,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Mount {
    pub kind: MountType,
    /// `target`/`dst`/`destination`; relative to the working directory.
    pub target: String,
    /// `source`/`src`: a path in `from`, or a secret's id.
    pub source: String,
    /// A stage, image or named context; never holds variables.
    pub from: Option<String>,
    pub readonly: bool,
    /// `id`: a cache's, secret's or SSH agent's id.
    pub id: String,
    pub sharing: Sharing,
    pub required: bool,
    /// Unparsed until expanded: octal `mode`, decimal `uid`/`gid`, tmpfs
    /// `size` (bytes, or with a k/m/g suffix).
    pub mode: Option<String>,
    pub uid: Option<String>,
    pub gid: Option<String>,
    pub size: Option<String>,
}

impl Mount {
    /// Parses one `--mount` value; the error says what is wrong with it.
    pub fn parse(value: &str) -> Result<Mount, String> {
        let mut mount = Mount::default();
        let mut readonly = None;
        for field in csv_fields(value)? {
            let (key, value) = match field.split_once('=') {
                Some((key, value)) => (key.to_ascii_lowercase(), Some(value.to_string())),
                None => (field.to_ascii_lowercase(), None),
            };
            let boolean = |value: &Option<String>| match value
                .as_deref()
                .map(str::to_ascii_lowercase)
                .as_deref()
            {
                None | Some("true") | Some("1") => Ok(true),
                Some("false") | Some("0") => Ok(false),
                Some(other) => Err(format!(
                    "invalid value {other:?} for {key}: expected true or false"
                )),
            };
            let Some(text) = value.clone() else {
                match key.as_str() {
                    "readonly" | "ro" => readonly = Some(true),
                    "readwrite" | "rw" => readonly = Some(false),
                    "required" => mount.required = true,
                    _ => {
                        return Err(format!(
                            "invalid field {field:?}: it must be a key=value pair"
                        ))
                    }
                }
                continue;
            };
            match key.as_str() {
                "type" => {
                    mount.kind = match text.to_ascii_lowercase().as_str() {
                        "bind" => MountType::Bind,
                        "cache" => MountType::Cache,
                        "tmpfs" => MountType::Tmpfs,
                        "secret" => MountType::Secret,
                        "ssh" => MountType::Ssh,
                        _ => {
                            return Err(format!(
                        "unsupported mount type {text:?}: use bind, cache, tmpfs, secret or ssh"
                    ))
                        }
                    }
                }
                "from" => {
                    if text.contains('$') {
                        return Err("from does not take variables; declare a stage with FROM ${VAR} AS <name> and use that name".to_string());
                    }
                    mount.from = Some(text).filter(|t| !t.is_empty());
                }
                "source" | "src" => mount.source = text,
                "target" | "dst" | "destination" => mount.target = text,
                "readonly" | "ro" => readonly = Some(boolean(&value)?),
                "readwrite" | "rw" => readonly = Some(!boolean(&value)?),
                "required" => mount.required = boolean(&value)?,
                "id" => mount.id = text,
                "sharing" => {
                    mount.sharing = match text.to_ascii_lowercase().as_str() {
                        "shared" => Sharing::Shared,
                        "private" => Sharing::Private,
                        "locked" => Sharing::Locked,
                        _ => {
                            return Err(format!(
                                "unsupported sharing value {text:?}: use shared, private or locked"
                            ))
                        }
                    }
                }
                "mode" => mount.mode = Some(text),
                "uid" => mount.uid = Some(text),
                "gid" => mount.gid = Some(text),
                "size" => mount.size = Some(text),
                _ => return Err(format!("unexpected key {key:?} in {field:?}")),
            }
        }
        mount.check(readonly)?;
        Ok(mount)
    }

    /// BuildKit's rules on which fields go with which type.
    fn check(&mut self, readonly: Option<bool>) -> Result<(), String> {
        let kind = format!("{:?}", self.kind).to_ascii_lowercase();
        let file_info = matches!(
            self.kind,
            MountType::Secret | MountType::Ssh | MountType::Cache
        );
        for (name, value) in [("mode", &self.mode), ("uid", &self.uid), ("gid", &self.gid)] {
            if value.is_some() && !file_info {
                return Err(format!("{name} is not allowed for {kind} mounts"));
            }
        }
        if self.size.is_some() && self.kind != MountType::Tmpfs {
            return Err(format!("size is not allowed for {kind} mounts"));
        }
        if self.required && !matches!(self.kind, MountType::Secret | MountType::Ssh) {
            return Err(format!("required is not allowed for {kind} mounts"));
        }
        if self.sharing != Sharing::Shared && self.kind != MountType::Cache {
            return Err(format!("sharing is not allowed for {kind} mounts"));
        }
        self.readonly = readonly.unwrap_or(matches!(
            self.kind,
            MountType::Bind | MountType::Secret | MountType::Ssh
        ));
        match self.kind {
            MountType::Secret if self.from.is_some() => {
                Err("a secret mount cannot have from".to_string())
            }
            MountType::Secret
                if self.source.is_empty() && self.target.is_empty() && self.id.is_empty() =>
            {
                Err("a secret mount needs one of id, source or target".to_string())
            }
            MountType::Secret if !self.source.is_empty() && !self.id.is_empty() => {
                Err("a secret mount takes source or id, not both".to_string())
            }
            MountType::Ssh if !self.source.is_empty() => {
                Err("an ssh mount does not take source".to_string())
            }
            MountType::Bind | MountType::Cache | MountType::Tmpfs if self.target.is_empty() => {
                Err(format!("a {kind} mount needs a target"))
            }
            _ => Ok(()),
        }
    }
}

/// One CSV record, as Go's encoding/csv reads it: fields split on commas,
/// a field starting with `"` runs to the closing quote (`""` is a quote).
fn csv_fields(text: &str) -> Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        let mut field = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    Some('"') => break,
                    Some(c) => field.push(c),
                    None => return Err(format!("unterminated quote in {text:?}")),
                }
            }
            if !matches!(chars.peek(), None | Some(',')) {
                return Err(format!("extraneous text after a quoted field in {text:?}"));
            }
        } else {
            while let Some(c) = chars.next_if(|c| *c != ',') {
                if c == '"' {
                    return Err(format!("a quote inside an unquoted field in {text:?}"));
                }
                field.push(c);
            }
        }
        fields.push(field);
        if chars.next().is_none() {
            return Ok(fields);
        }
    }
}

/// A tmpfs `size=`: bytes, or with a k, m, g, t or p suffix (powers of
/// 1024, an optional trailing `b`/`ib`), as Docker's units.RAMInBytes.
pub fn parse_size(text: &str) -> Option<i64> {
    let lower = text.trim().to_ascii_lowercase();
    let digits_end = lower
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(lower.len());
    let (number, unit) = lower.split_at(digits_end);
    let number: f64 = number.parse().ok()?;
    let unit = unit.trim_end_matches("ib").trim_end_matches('b');
    let scale = match unit {
        "" => 1u64,
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        "t" => 1 << 40,
        "p" => 1 << 50,
        _ => return None,
    };
    Some((number * scale as f64) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_per_type() {
        let bind = Mount::parse("target=/src").unwrap();
        assert_eq!((bind.kind, bind.readonly), (MountType::Bind, true));
        let cache =
            Mount::parse("type=cache,target=/root/.cache,id=c,sharing=locked,mode=0700,uid=1000")
                .unwrap();
        assert_eq!(
            (cache.kind, cache.readonly, cache.id.as_str(), cache.sharing),
            (MountType::Cache, false, "c", Sharing::Locked)
        );
        assert_eq!(
            (cache.mode.as_deref(), cache.uid.as_deref()),
            (Some("0700"), Some("1000"))
        );
        let secret = Mount::parse("type=secret,id=tok,required").unwrap();
        assert_eq!(
            (secret.kind, secret.required, secret.readonly),
            (MountType::Secret, true, true)
        );
        let rw = Mount::parse("type=bind,from=build,source=/out,target=/in,rw").unwrap();
        assert_eq!((rw.from.as_deref(), rw.readonly), (Some("build"), false));
        assert_eq!(
            Mount::parse("type=tmpfs,dst=/t,size=64m")
                .unwrap()
                .size
                .as_deref(),
            Some("64m")
        );
        assert_eq!(Mount::parse("type=ssh").unwrap().kind, MountType::Ssh);
    }

    #[test]
    fn quoted_fields() {
        let mount = Mount::parse(r#""target=/a,b",type=bind"#).unwrap();
        assert_eq!(mount.target, "/a,b");
        assert!(Mount::parse(r#""target=/a"#)
            .unwrap_err()
            .contains("unterminated"));
    }

    #[test]
    fn errors_say_what_is_wrong() {
        for (value, expected) in [
            ("type=volume,target=/a", "unsupported mount type \"volume\""),
            ("target=/a,colour=red", "unexpected key \"colour\""),
            ("target=/a,mode=0700", "mode is not allowed for bind mounts"),
            (
                "type=cache,target=/a,required",
                "required is not allowed for cache mounts",
            ),
            ("type=secret", "needs one of id, source or target"),
            ("type=secret,id=a,source=b", "source or id, not both"),
            ("type=ssh,source=x", "does not take source"),
            ("type=cache", "a cache mount needs a target"),
            ("target=/a,from=$STAGE", "does not take variables"),
            ("target=/a,ro=maybe", "expected true or false"),
            (
                "target=/a,sharing=locked",
                "sharing is not allowed for bind mounts",
            ),
            ("target=/a,bogus", "must be a key=value pair"),
        ] {
            let err = Mount::parse(value).unwrap_err();
            assert!(err.contains(expected), "{value}: {err}");
        }
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("1024"), Some(1024));
        assert_eq!(parse_size("64m"), Some(64 << 20));
        assert_eq!(parse_size("1.5k"), Some(1536));
        assert_eq!(parse_size("2GiB"), Some(2 << 30));
        assert_eq!(parse_size("lots"), None);
    }
}
