//! Choosing an image's precompiled artifact: it must be for this host's
//! target, this wasmtime and these engine settings, compiled from exactly
//! the module in the image, intact, and from a trusted image.

use std::collections::BTreeMap;

use wasmpack_aot::{
    ANNOTATION_ENGINE_HASH, ANNOTATION_TARGET, ANNOTATION_WASMTIME_VERSION, ANNOTATION_WASM_DIGEST,
};

/// What the artifacts are matched against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostEngine {
    pub triple: String,
    pub wasmtime_version: String,
    pub engine_hash: String,
}

/// An AOT layer as the manifest describes it.
#[derive(Debug, Clone, Default)]
pub struct AotCandidate {
    pub layer_digest: String,
    pub annotations: BTreeMap<String, String>,
    /// Why the layer's content cannot be used, when its blob failed
    /// verification or does not hold the artifact.
    pub defect: Option<String>,
}

/// The outcome for one candidate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Usable,
    /// Not for this host or engine: an ordinary reason to compile.
    Skip(String),
    /// Tampered or mismatched: worth a warning.
    Refuse(String),
}

/// Judges `candidate` for `host`, for the image's module `wasm_digest`.
pub fn judge(
    candidate: &AotCandidate,
    host: &HostEngine,
    wasm_digest: &str,
    trusted: bool,
) -> Verdict {
    let annotation = |key: &str| {
        candidate
            .annotations
            .get(key)
            .map(String::as_str)
            .unwrap_or("")
    };
    let layer = short(&candidate.layer_digest);
    let target = annotation(ANNOTATION_TARGET);
    if target != host.triple {
        return Verdict::Skip(format!(
            "AOT layer {layer} is for {target}, this host is {}",
            host.triple
        ));
    }
    if let Some(defect) = &candidate.defect {
        return Verdict::Refuse(format!("AOT layer {layer} refused: {defect}"));
    }
    let version = annotation(ANNOTATION_WASMTIME_VERSION);
    if version != host.wasmtime_version {
        return Verdict::Skip(format!(
            "AOT layer {layer} was made by wasmtime {version}, this runner has {}",
            host.wasmtime_version
        ));
    }
    if annotation(ANNOTATION_ENGINE_HASH) != host.engine_hash {
        return Verdict::Skip(format!(
            "AOT layer {layer} was compiled with other engine settings (compatibility hash differs)"
        ));
    }
    let source = annotation(ANNOTATION_WASM_DIGEST);
    if source != wasm_digest {
        return Verdict::Refuse(format!(
            "AOT layer {layer} refused: compiled from {} but the image's module is {}",
            short(source),
            short(wasm_digest)
        ));
    }
    if !trusted {
        return Verdict::Skip(format!(
            "AOT layer {layer} matches this host but the image is not trusted to bring native code \
             (--trust-aot, or list its repository in the trust file)"
        ));
    }
    Verdict::Usable
}

/// The first usable candidate, and what was said about the others.
pub fn choose(
    candidates: &[AotCandidate],
    host: &HostEngine,
    wasm_digest: &str,
    trusted: bool,
) -> (Option<usize>, Vec<Verdict>) {
    let mut verdicts = Vec::new();
    for (index, candidate) in candidates.iter().enumerate() {
        match judge(candidate, host, wasm_digest, trusted) {
            Verdict::Usable => return (Some(index), verdicts),
            other => verdicts.push(other),
        }
    }
    (None, verdicts)
}

/// `sha256:0123456789ab` for messages. The digest may come from an image's
/// annotations, so it is cut after 19 characters, never inside one.
fn short(digest: &str) -> &str {
    match digest.char_indices().nth(19) {
        Some((end, _)) => &digest[..end],
        None => digest,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WASM: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";

    fn host() -> HostEngine {
        HostEngine {
            triple: "x86_64-unknown-linux-gnu".into(),
            wasmtime_version: "48.0.8".into(),
            engine_hash: "abc".into(),
        }
    }

    fn candidate(target: &str, version: &str, hash: &str, wasm: &str) -> AotCandidate {
        AotCandidate {
            layer_digest: format!("sha256:{target}"),
            annotations: BTreeMap::from([
                (ANNOTATION_TARGET.into(), target.into()),
                (ANNOTATION_WASMTIME_VERSION.into(), version.into()),
                (ANNOTATION_ENGINE_HASH.into(), hash.into()),
                (ANNOTATION_WASM_DIGEST.into(), wasm.into()),
            ]),
            defect: None,
        }
    }

    #[test]
    fn the_matching_layer_of_a_trusted_image_is_chosen() {
        let candidates = [
            candidate("aarch64-unknown-linux-gnu", "48.0.8", "abc", WASM),
            candidate("x86_64-unknown-linux-gnu", "48.0.8", "abc", WASM),
        ];
        let (chosen, verdicts) = choose(&candidates, &host(), WASM, true);
        assert_eq!(chosen, Some(1));
        assert!(matches!(&verdicts[..], [Verdict::Skip(why)] if why.contains("aarch64")));
    }

    #[test]
    fn every_mismatch_has_its_reason_and_untrusted_images_compile() {
        let h = host();
        let skip = |c: AotCandidate, trusted: bool, needle: &str| match judge(&c, &h, WASM, trusted)
        {
            Verdict::Skip(why) => assert!(why.contains(needle), "{why}"),
            other => panic!("expected a skip about {needle}: {other:?}"),
        };
        skip(
            candidate("x86_64-unknown-linux-gnu", "47.0.0", "abc", WASM),
            true,
            "wasmtime 47.0.0",
        );
        skip(
            candidate("x86_64-unknown-linux-gnu", "48.0.8", "zzz", WASM),
            true,
            "engine settings",
        );
        skip(
            candidate("x86_64-unknown-linux-gnu", "48.0.8", "abc", WASM),
            false,
            "not trusted",
        );
        skip(AotCandidate::default(), true, "this host is x86_64");
    }

    #[test]
    fn tampered_or_mismatched_artifacts_are_refused_even_when_trusted() {
        let h = host();
        let other = "sha256:2222222222222222222222222222222222222222222222222222222222222222";
        let mismatched = candidate("x86_64-unknown-linux-gnu", "48.0.8", "abc", other);
        assert!(
            matches!(judge(&mismatched, &h, WASM, true), Verdict::Refuse(why) if why.contains("compiled from sha256:222"))
        );
        let mut tampered = candidate("x86_64-unknown-linux-gnu", "48.0.8", "abc", WASM);
        tampered.defect = Some("blob does not match its descriptor".into());
        assert!(
            matches!(judge(&tampered, &h, WASM, true), Verdict::Refuse(why) if why.contains("does not match"))
        );
        assert_eq!(choose(&[mismatched, tampered], &h, WASM, true).0, None);
    }

    #[test]
    fn image_controlled_digests_are_shortened_without_panicking() {
        assert_eq!(short(WASM), "sha256:111111111111");
        assert_eq!(short("sha256:ab"), "sha256:ab");
        // Multibyte characters across the cut: an annotation is any UTF-8.
        assert_eq!(short("sha256:ééééééééééééééé"), "sha256:éééééééééééé");
        // Byte 19 falls inside the fourth '€' (3 bytes each).
        let forged = candidate(
            &host().triple,
            "48.0.8",
            "abc",
            "sha256:a€€€€€€€€€€€€€€€€€€€",
        );
        let verdict = judge(&forged, &host(), WASM, true);
        assert!(
            matches!(&verdict, Verdict::Refuse(why) if why.contains("sha256:a€€€€€€€€€€€ ")),
            "{verdict:?}"
        );
    }
}
