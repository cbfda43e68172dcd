//! Property tests of validation and stripping (issue 17, "Fuzzing, kept
//! running"): proptest rather than cargo-fuzz, which needs a nightly
//! toolchain. Arbitrary bytes, and mutations of a valid module (bytes
//! flipped, inserted, removed, truncated; custom sections of any name and
//! payload added at section boundaries), never make [`validate`] or
//! [`strip_custom_sections`] panic, and stripping a module that validates
//! gives one that still validates.
//!
//! `cargo test` runs [`DEFAULT_CASES`] cases per property; set
//! `PROPTEST_CASES` for a longer run (see bench/RESULTS.md).

use std::path::Path;

use proptest::prelude::*;

use super::test_modules::hello_wasm;
use super::test_modules::proptest_config as config;
use super::*;

/// Cases per property per `cargo test`: about 0.15 s for both.
const DEFAULT_CASES: u32 = 1024;

/// One change to a binary.
#[derive(Debug, Clone)]
enum Mutation {
    /// XOR the byte at (index modulo the length) with a non-zero value.
    Flip(usize, u8),
    Insert(usize, Vec<u8>),
    Remove(usize, usize),
    Truncate(usize),
    /// A custom section (name, payload) at the end or right after the header.
    Custom {
        name: Vec<u8>,
        payload: Vec<u8>,
        after_header: bool,
    },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let name = prop_oneof![
        prop::sample::select(vec![
            b"name".to_vec(),
            b"producers".to_vec(),
            b".debug_info".to_vec(),
            b"target_features".to_vec(),
            b"component-type".to_vec(),
            b"".to_vec(),
        ]),
        prop::collection::vec(any::<u8>(), 0..12),
    ];
    prop_oneof![
        4 => (any::<usize>(), 1..=255u8).prop_map(|(at, x)| Mutation::Flip(at, x)),
        2 => (any::<usize>(), prop::collection::vec(any::<u8>(), 1..8))
            .prop_map(|(at, bytes)| Mutation::Insert(at, bytes)),
        2 => (any::<usize>(), 1..8usize).prop_map(|(at, n)| Mutation::Remove(at, n)),
        1 => any::<usize>().prop_map(Mutation::Truncate),
        3 => (name, prop::collection::vec(any::<u8>(), 0..32), any::<bool>()).prop_map(
            |(name, payload, after_header)| Mutation::Custom {
                name,
                payload,
                after_header,
            }
        ),
    ]
}

fn leb128(mut n: usize, out: &mut Vec<u8>) {
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn apply(bytes: &mut Vec<u8>, mutation: &Mutation) {
    let len = bytes.len();
    match mutation {
        Mutation::Flip(at, x) if len > 0 => bytes[at % len] ^= x,
        Mutation::Flip(..) => {}
        Mutation::Insert(at, new) => {
            let at = at % (len + 1);
            bytes.splice(at..at, new.iter().copied());
        }
        Mutation::Remove(at, n) if len > 0 => {
            let at = at % len;
            bytes.drain(at..(at + n).min(len));
        }
        Mutation::Remove(..) => {}
        Mutation::Truncate(at) => bytes.truncate(at % (len + 1)),
        Mutation::Custom {
            name,
            payload,
            after_header,
        } => {
            let mut body = Vec::new();
            leb128(name.len(), &mut body);
            body.extend_from_slice(name);
            body.extend_from_slice(payload);
            let mut section = vec![0];
            leb128(body.len(), &mut section);
            section.extend(body);
            let at = if *after_header { 8.min(len) } else { len };
            bytes.splice(at..at, section);
        }
    }
}

/// The property: no panic (the test harness catches one), and a module
/// that validates strips to one that validates, as small or smaller.
fn check(bytes: &[u8]) {
    let valid = validate(Path::new("fuzz.wasm"), bytes).is_ok();
    let stripped = strip_custom_sections(bytes);
    if valid {
        let (out, report) = stripped.expect("a valid module strips");
        if let Err(err) = validate(Path::new("stripped.wasm"), &out) {
            panic!("stripping a valid module made it invalid: {err}");
        }
        assert!(report.size_after <= report.size_before);
        assert_eq!(report.size_after, out.len() as u64);
        // Stripping again finds nothing more to remove.
        let (again, report) = strip_custom_sections(&out).unwrap();
        assert_eq!((again, report.sections_removed), (out, 0));
    }
}

proptest! {
    #![proptest_config(config(DEFAULT_CASES))]

    #[test]
    fn arbitrary_bytes_neither_panic_nor_strip_to_invalid(
        bytes in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..256),
            // The magic and a version, then anything.
            prop::collection::vec(any::<u8>(), 0..256).prop_map(|tail| {
                let mut bytes = b"\0asm\x01\0\0\0".to_vec();
                bytes.extend(tail);
                bytes
            }),
        ],
    ) {
        check(&bytes);
    }

    #[test]
    fn mutated_modules_neither_panic_nor_strip_to_invalid(
        mutations in prop::collection::vec(mutation(), 1..6),
    ) {
        let mut bytes = hello_wasm();
        for mutation in &mutations {
            apply(&mut bytes, mutation);
        }
        check(&bytes);
    }
}

/// Custom sections added anywhere between sections keep a module valid,
/// and stripping removes them all.
#[test]
fn added_custom_sections_are_all_stripped() {
    let mut bytes = hello_wasm();
    for after_header in [true, false] {
        apply(
            &mut bytes,
            &Mutation::Custom {
                name: "odd name ✓".as_bytes().to_vec(),
                payload: vec![1, 2, 3],
                after_header,
            },
        );
    }
    validate(Path::new("custom.wasm"), &bytes).unwrap();
    let (_, report) = strip_custom_sections(&bytes).unwrap();
    assert_eq!(report.sections_removed, 4, "two of hello's and two added");
}
