//! What wasmpack knows about a wasm binary: whether it is valid, what kind
//! it is, which WASI it imports and whether it can be started as a command.

mod strip;

pub use strip::{strip_custom_sections, StripReport};

use std::path::{Path, PathBuf};

use serde::Serialize;
use wasmparser::{Encoding, Parser, Payload, Validator};

/// Why a file is not a usable wasm binary.
#[derive(Debug, thiserror::Error)]
pub enum WasmError {
    #[error("{path}: not a wasm binary (no \\0asm magic at the start)")]
    NotWasm { path: PathBuf },
    #[error("{path}: truncated wasm binary: {message} at byte {offset}")]
    Truncated {
        path: PathBuf,
        message: String,
        offset: u64,
    },
    #[error("{path}: invalid wasm: {message} at byte {offset}")]
    Invalid {
        path: PathBuf,
        message: String,
        offset: u64,
    },
}

/// A core module or a component-model component.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WasmKind {
    Module,
    Component,
}

/// The WASI generation a binary was built against, judged by its imports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WasiVersion {
    /// `wasi_snapshot_preview1` (or the older `wasi_unstable`) core imports.
    Preview1,
    /// `wasi:*` component imports (WASI 0.2 and later).
    Preview2,
}

/// Facts about a validated binary, as `build` and `inspect` report them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WasmFacts {
    pub kind: WasmKind,
    pub wasi: Option<WasiVersion>,
    /// Module: exports `_start`. Component: exports `wasi:cli/run`.
    pub has_start: bool,
    /// Module names (core) or interface names (component) it imports, deduplicated, sorted.
    pub imports: Vec<String>,
    pub size: u64,
}

impl WasmFacts {
    /// The warning to print when the binary cannot run as a command.
    pub fn start_warning(&self) -> Option<&'static str> {
        match (self.has_start, self.kind) {
            (true, _) => None,
            (false, WasmKind::Module) => {
                Some("module exports no `_start`: WASI runtimes cannot run it as a command")
            }
            (false, WasmKind::Component) => Some(
                "component exports no `wasi:cli/run`: WASI runtimes cannot run it as a command",
            ),
        }
    }
}

const MAGIC: &[u8; 4] = b"\0asm";

/// Validates `bytes` (read from `path`, named in errors) and returns its facts.
pub fn validate(path: &Path, bytes: &[u8]) -> Result<WasmFacts, WasmError> {
    if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
        return Err(WasmError::NotWasm {
            path: path.to_path_buf(),
        });
    }
    let classify = |err: wasmparser::BinaryReaderError| {
        let message = err.message().to_string();
        let offset = err.offset();
        // The reader reports every read past the end the same way; that is
        // what a cut-off download or a partial copy looks like.
        if message.contains("unexpected end") || offset >= bytes.len() as u64 {
            WasmError::Truncated {
                path: path.to_path_buf(),
                message,
                offset,
            }
        } else {
            WasmError::Invalid {
                path: path.to_path_buf(),
                message,
                offset,
            }
        }
    };
    Validator::new().validate_all(bytes).map_err(classify)?;
    facts(bytes).map_err(classify)
}

/// Reads imports and exports of an already validated binary.
fn facts(bytes: &[u8]) -> wasmparser::Result<WasmFacts> {
    let mut kind = WasmKind::Module;
    let mut imports = Vec::new();
    let mut has_start = false;
    let mut parser = Parser::new(0);
    let mut offset = 0usize;
    // With eof = true the parser never asks for more data.
    while let wasmparser::Chunk::Parsed { payload, consumed } =
        parser.parse(&bytes[offset..], true)?
    {
        offset += consumed;
        match payload {
            Payload::Version {
                encoding: Encoding::Component,
                ..
            } => kind = WasmKind::Component,
            Payload::ImportSection(section) => {
                for import in section.into_imports() {
                    imports.push(import?.module.to_string());
                }
            }
            Payload::ExportSection(section) => {
                for export in section {
                    has_start |= export?.name == "_start";
                }
            }
            Payload::ComponentImportSection(section) => {
                for import in section {
                    imports.push(import?.name.full_name().into_owned());
                }
            }
            Payload::ComponentExportSection(section) => {
                for export in section {
                    has_start |= is_wasi_cli_run(export?.name.name);
                }
            }
            // Only the outer binary's imports and exports say how it runs:
            // nested modules and components are skipped whole.
            Payload::ModuleSection {
                unchecked_range, ..
            }
            | Payload::ComponentSection {
                unchecked_range, ..
            } => {
                offset = unchecked_range.end as usize;
            }
            // Function bodies say nothing about imports or exports.
            Payload::CodeSectionStart { size, .. } => {
                parser.skip_section();
                offset += size as usize;
            }
            Payload::End(_) => break,
            _ => {}
        }
    }
    imports.sort();
    imports.dedup();
    let wasi = if imports
        .iter()
        .any(|m| m == "wasi_snapshot_preview1" || m == "wasi_unstable")
    {
        Some(WasiVersion::Preview1)
    } else if imports.iter().any(|m| m.starts_with("wasi:")) {
        Some(WasiVersion::Preview2)
    } else {
        None
    };
    Ok(WasmFacts {
        kind,
        wasi,
        has_start,
        imports,
        size: bytes.len() as u64,
    })
}

/// `wasi:cli/run` with or without a version suffix (`@0.2.0`).
fn is_wasi_cli_run(name: &str) -> bool {
    name.split('@').next() == Some("wasi:cli/run")
}

/// Small modules and property-test settings for unit tests, here and in the
/// crates that build on this one (feature `test-modules`).
#[cfg(any(test, feature = "test-modules"))]
pub mod test_modules {
    /// A preview1 command module: imports `proc_exit`, exports `_start` and
    /// memory, and carries two custom sections (the lines that mention `@custom`).
    pub const HELLO_WAT: &str = r#"
        (module
          (import "wasi_snapshot_preview1" "proc_exit" (func (param i32)))
          (memory (export "memory") 1)
          (func (export "_start") (call 0 (i32.const 0)))
          (@custom "producers" "wasmpack-test")
          (@custom ".debug_info" "\00\01\02\03")
        )"#;

    pub fn hello_wasm() -> Vec<u8> {
        wat::parse_str(HELLO_WAT).expect("test module parses")
    }

    /// Property tests' settings: `PROPTEST_CASES` when set (a long run),
    /// else `default` cases (what every `cargo test` runs), and no failure
    /// files: a crash found becomes a named regression test instead.
    pub fn proptest_config(default: u32) -> proptest::test_runner::Config {
        let cases = std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|cases| cases.parse().ok())
            .unwrap_or(default);
        proptest::test_runner::Config {
            cases,
            failure_persistence: None,
            ..proptest::test_runner::Config::default()
        }
    }
}

#[cfg(test)]
mod proptests;

#[cfg(test)]
mod tests {
    use super::test_modules::hello_wasm;
    use super::*;

    #[test]
    fn reports_a_preview1_command_module() {
        let facts = validate(Path::new("hello.wasm"), &hello_wasm()).unwrap();
        assert_eq!(facts.kind, WasmKind::Module);
        assert_eq!(facts.wasi, Some(WasiVersion::Preview1));
        assert!(facts.has_start);
        assert_eq!(facts.start_warning(), None);
        assert_eq!(facts.imports, vec!["wasi_snapshot_preview1".to_string()]);
    }

    #[test]
    fn warns_about_a_library_module_without_start() {
        let bytes = wat::parse_str(r#"(module (func (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add))"#).unwrap();
        let facts = validate(Path::new("lib.wasm"), &bytes).unwrap();
        assert!(!facts.has_start);
        assert_eq!(facts.wasi, None);
        assert!(facts.start_warning().unwrap().contains("_start"));
    }

    #[test]
    fn reports_a_preview2_command_component() {
        let bytes = wat::parse_str(
            r#"(component
                 (import "wasi:cli/stdout@0.2.0" (instance))
                 (core module $m (func (export "run") (result i32) i32.const 0))
                 (core instance $i (instantiate $m))
                 (func $run (result (result)) (canon lift (core func $i "run")))
                 (instance $inst (export "run" (func $run)))
                 (export "wasi:cli/run@0.2.0" (instance $inst))
               )"#,
        )
        .unwrap();
        let facts = validate(Path::new("app.wasm"), &bytes).unwrap();
        assert_eq!(facts.kind, WasmKind::Component);
        assert_eq!(facts.wasi, Some(WasiVersion::Preview2));
        assert!(facts.has_start);
    }

    #[test]
    fn rejects_a_file_that_is_not_wasm_and_names_it() {
        let err = validate(Path::new("dir/readme.txt"), b"hello world").unwrap_err();
        assert!(matches!(err, WasmError::NotWasm { .. }));
        assert!(err
            .to_string()
            .starts_with("dir/readme.txt: not a wasm binary"));
        assert!(matches!(
            validate(Path::new("e"), b"").unwrap_err(),
            WasmError::NotWasm { .. }
        ));
    }

    #[test]
    fn rejects_a_truncated_binary() {
        let bytes = hello_wasm();
        for cut in [6, bytes.len() / 2, bytes.len() - 1] {
            let err = validate(Path::new("cut.wasm"), &bytes[..cut]).unwrap_err();
            assert!(
                matches!(err, WasmError::Truncated { .. }),
                "cut at {cut}: {err}"
            );
            assert!(err.to_string().contains("cut.wasm"));
        }
    }

    #[test]
    fn rejects_an_invalid_module_with_the_reason() {
        // Well-formed binary, but the function returns an i64 where i32 is declared.
        let bytes = wat::parse_str(r#"(module (func (result i32) i64.const 1))"#).unwrap();
        let err = validate(Path::new("bad.wasm"), &bytes).unwrap_err();
        assert!(matches!(err, WasmError::Invalid { .. }), "{err}");
        assert!(err.to_string().contains("type mismatch"), "{err}");
    }
}
