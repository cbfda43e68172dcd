//! `KEY=VALUE` text: image config `Env` entries, BuildKit's frontend
//! options, and `--env`/`--label`/`--annotation` arguments.

/// A `KEY=VALUE` argument without a key or without `=`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not KEY=VALUE")]
pub struct KeyValueError(pub String);

/// Split at the first `=`; an entry without one is a key with an empty
/// value, as Docker reads an `Env` entry.
pub fn split(entry: &str) -> (&str, &str) {
    entry.split_once('=').unwrap_or((entry, ""))
}

/// A `KEY=VALUE` a person wrote: the `=` and the key are required.
pub fn parse_argument(arg: &str) -> Result<(String, String), KeyValueError> {
    match arg.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_string(), value.to_string())),
        _ => Err(KeyValueError(arg.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_split_at_the_first_equals_sign() {
        assert_eq!(split("A=b=c"), ("A", "b=c"));
        assert_eq!(split("A="), ("A", ""));
        assert_eq!(split("A"), ("A", ""));
    }

    #[test]
    fn arguments_need_a_key_and_an_equals_sign() {
        assert_eq!(
            parse_argument("A=b=c").unwrap(),
            ("A".to_string(), "b=c".to_string())
        );
        assert_eq!(
            parse_argument("A=").unwrap(),
            ("A".to_string(), String::new())
        );
        for bad in ["=x", "A", ""] {
            assert_eq!(
                parse_argument(bad).unwrap_err(),
                KeyValueError(bad.to_string())
            );
        }
        assert_eq!(
            parse_argument("=x").unwrap_err().to_string(),
            "\"=x\" is not KEY=VALUE"
        );
    }
}
