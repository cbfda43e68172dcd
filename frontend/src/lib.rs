//! wasmpack's BuildKit frontend. For now only the Dockerfile front half:
//! text to parsed nodes to typed, stage-grouped instructions, plus the
//! variable expansion the LLB converter applies while it walks a stage.

pub mod dockerfile;
