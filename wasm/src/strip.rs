//! Removing custom sections (DWARF debug info, `name`, `producers`, …).
//!
//! Custom sections never change what a binary does, so dropping them keeps
//! behaviour and validity while often shrinking debug builds several times.
//! Every other section is copied byte for byte; nested modules and components
//! inside a component are stripped the same way, recursively.

use wasm_encoder::{Component, Module, RawSection};
use wasmparser::{Chunk, Encoding, Parser, Payload};

/// What stripping did, for the report `build --strip` prints.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StripReport {
    pub size_before: u64,
    pub size_after: u64,
    pub sections_removed: usize,
}

/// Returns `bytes` without custom sections. `bytes` must be valid wasm (see
/// [`super::validate`]); the error is the parser's own for anything else.
pub fn strip_custom_sections(bytes: &[u8]) -> wasmparser::Result<(Vec<u8>, StripReport)> {
    let mut removed = 0;
    let out = strip_binary(bytes, &mut removed)?;
    let report = StripReport {
        size_before: bytes.len() as u64,
        size_after: out.len() as u64,
        sections_removed: removed,
    };
    Ok((out, report))
}

/// The output being written, in the binary's own encoding.
enum Encoder {
    Module(Module),
    Component(Component),
}

impl Encoder {
    fn raw(&mut self, id: u8, data: &[u8]) {
        let section = RawSection { id, data };
        match self {
            Encoder::Module(m) => {
                m.section(&section);
            }
            Encoder::Component(c) => {
                c.section(&section);
            }
        }
    }

    fn finish(self) -> Vec<u8> {
        match self {
            Encoder::Module(m) => m.finish(),
            Encoder::Component(c) => c.finish(),
        }
    }
}

fn strip_binary(bytes: &[u8], removed: &mut usize) -> wasmparser::Result<Vec<u8>> {
    let mut parser = Parser::new(0);
    let mut offset = 0usize;
    let mut encoder = None;
    loop {
        let (payload, consumed) = match parser.parse(&bytes[offset..], true)? {
            Chunk::Parsed { payload, consumed } => (payload, consumed),
            Chunk::NeedMoreData(_) => unreachable!("eof = true never asks for more data"),
        };
        offset += consumed;
        let section = payload.as_section();
        match payload {
            Payload::Version { encoding, .. } => {
                encoder = Some(match encoding {
                    Encoding::Module => Encoder::Module(Module::new()),
                    Encoding::Component => Encoder::Component(Component::new()),
                });
            }
            Payload::CustomSection(_) => *removed += 1,
            Payload::CodeSectionStart { .. } => {
                // Copy the whole section below; its bodies need no parsing.
                parser.skip_section();
                // The parser has read only the section's header: its size
                // may run past the end of the binary.
                within(bytes, section_range(&section))?;
                offset = usize_of(section_range(&section).end);
                copy(&mut encoder, bytes, section)?;
            }
            Payload::ModuleSection {
                unchecked_range, ..
            }
            | Payload::ComponentSection {
                unchecked_range, ..
            } => {
                let nested = within(bytes, unchecked_range.clone())?;
                // The parser expects the caller to feed the nested binary to
                // a nested parser; the recursive call does that instead.
                offset = usize_of(unchecked_range.end);
                let stripped = strip_binary(nested, removed)?;
                let id = section.map(|(id, _)| id).unwrap_or_default();
                if let Some(enc) = encoder.as_mut() {
                    enc.raw(id, &stripped);
                }
            }
            Payload::End(_) => break,
            _ => copy(&mut encoder, bytes, section)?,
        }
    }
    Ok(encoder.map(Encoder::finish).unwrap_or_default())
}

fn copy(
    encoder: &mut Option<Encoder>,
    bytes: &[u8],
    section: Option<(u8, std::ops::Range<u64>)>,
) -> wasmparser::Result<()> {
    if let (Some(enc), Some((id, range))) = (encoder.as_mut(), section) {
        enc.raw(id, within(bytes, range)?);
    }
    Ok(())
}

/// `bytes[range]`, or the parser's end-of-file error when a section's size
/// runs past the end of the binary (which [`super::validate`] refuses, but
/// stripping must not panic on).
fn within(bytes: &[u8], range: std::ops::Range<u64>) -> wasmparser::Result<&[u8]> {
    let start = usize_of(range.start).min(bytes.len());
    let len = usize_of(range.end.saturating_sub(range.start));
    wasmparser::BinaryReader::new(&bytes[start..], start as u64).read_bytes(len)
}

fn section_range(section: &Option<(u8, std::ops::Range<u64>)>) -> std::ops::Range<u64> {
    section.as_ref().map(|(_, r)| r.clone()).unwrap_or(0..0)
}

fn usize_of(n: u64) -> usize {
    // Offsets come from a slice we hold in memory, so they fit.
    n as usize
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_modules::{hello_wasm, HELLO_WAT};
    use crate::validate;
    use std::path::Path;

    #[test]
    fn removes_custom_sections_and_keeps_every_other_byte() {
        let original = hello_wasm();
        let (stripped, report) = strip_custom_sections(&original).unwrap();
        assert_eq!(report.sections_removed, 2);
        assert_eq!(report.size_before, original.len() as u64);
        assert_eq!(report.size_after, stripped.len() as u64);
        let without_custom: String = HELLO_WAT
            .lines()
            .filter(|line| !line.contains("@custom"))
            .collect::<Vec<_>>()
            .join("\n");
        assert_eq!(stripped, wat::parse_str(without_custom).unwrap());
        assert!(validate(Path::new("s.wasm"), &stripped).unwrap().has_start);
    }

    #[test]
    fn strips_custom_sections_inside_nested_modules() {
        let bytes = wat::parse_str(
            r#"(component
                 (core module $m (func (export "f")) (@custom "inner" "x"))
                 (@custom "outer" "y"))"#,
        )
        .unwrap();
        let (stripped, report) = strip_custom_sections(&bytes).unwrap();
        // Ours two, plus the `name` sections wat writes for `$m`.
        assert!(report.sections_removed >= 2, "{report:?}");
        wasmparser::Validator::new()
            .validate_all(&stripped)
            .unwrap();
        let text = wasmprinter::print_bytes(&stripped).unwrap();
        assert!(!text.contains("inner") && !text.contains("outer"), "{text}");
        assert!(text.contains("export \"f\""));
    }

    #[test]
    fn a_binary_without_custom_sections_is_unchanged() {
        let bytes = wat::parse_str(r#"(module (func (export "_start")))"#).unwrap();
        let (stripped, report) = strip_custom_sections(&bytes).unwrap();
        assert_eq!(stripped, bytes);
        assert_eq!(report.sections_removed, 0);
    }

    /// Issue 17, found by the property tests: a code section whose size
    /// runs past the end of the binary made stripping slice out of bounds
    /// and panic. It is the parser's end-of-file error now.
    #[test]
    fn a_section_longer_than_the_binary_is_an_error_not_a_panic() {
        // One `() -> ()` function whose code section claims 32 bytes; one
        // body of 2 follows.
        let code =
            b"\0asm\x01\0\0\0\x01\x04\x01\x60\0\0\x03\x02\x01\0\x0a\x20\x01\x02\0\x0b".as_slice();
        // A component whose core module section claims 64 bytes.
        let nested = b"\0asm\x0d\0\x01\0\x01\x40\0asm\x01\0\0\0".as_slice();
        for bytes in [code, nested] {
            assert!(validate(Path::new("long.wasm"), bytes).is_err());
            let err = strip_custom_sections(bytes).unwrap_err();
            assert!(err.message().contains("end"), "{err}");
        }
        // What the property test found: one byte of hello flipped.
        let mut bytes = hello_wasm();
        let at = 11133617416060505006usize % bytes.len();
        bytes[at] ^= 60;
        assert!(strip_custom_sections(&bytes).is_err());
    }
}
