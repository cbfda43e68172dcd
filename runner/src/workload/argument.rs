//! What the user's argument names: a bare module, a precompiled file, an
//! OCI layout or archive, or a registry reference.

use std::io::Read;
use std::path::{Path, PathBuf};

use wasmpack_oci::layout::ImageSource;

use crate::RunError;

/// The user's argument, by what it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    Wasm(PathBuf),
    Precompiled(PathBuf),
    Image(ImageSource),
    Remote(String),
}

impl Input {
    /// A folder is a layout; a file is told apart by its first bytes (wasm,
    /// ELF from wasmtime, else an archive); anything else is a reference.
    pub fn detect(arg: &str) -> Result<Self, RunError> {
        let path = Path::new(arg);
        if path.is_dir() {
            return Ok(Input::Image(ImageSource::Layout(path.to_path_buf())));
        }
        if !path.exists() {
            return Ok(Input::Remote(arg.to_string()));
        }
        let mut magic = [0u8; 4];
        let read = read_prefix(path, &mut magic)?;
        Ok(match &magic[..read] {
            b"\0asm" => Input::Wasm(path.to_path_buf()),
            b"\x7fELF" => Input::Precompiled(path.to_path_buf()),
            _ => Input::Image(ImageSource::Archive(path.to_path_buf())),
        })
    }
}

/// Fills `buf` from the start of the file (less if it is shorter).
pub(super) fn read_prefix(path: &Path, buf: &mut [u8]) -> Result<usize, RunError> {
    let io_err = |source| RunError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(io_err)?;
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..]).map_err(io_err)? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_are_told_apart_by_kind_and_content() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, bytes: &[u8]| {
            let path = dir.path().join(name);
            std::fs::write(&path, bytes).unwrap();
            path
        };
        let wasm = write("a.bin", b"\0asm\x01\0\0\0");
        let elf = write("a.wasm", b"\x7fELF\x02\x01");
        let tar = write("a.tar", b"index.json");
        assert_eq!(
            Input::detect(wasm.to_str().unwrap()).unwrap(),
            Input::Wasm(wasm)
        );
        assert_eq!(
            Input::detect(elf.to_str().unwrap()).unwrap(),
            Input::Precompiled(elf),
            "content, not the name"
        );
        assert_eq!(
            Input::detect(tar.to_str().unwrap()).unwrap(),
            Input::Image(ImageSource::Archive(tar))
        );
        let layout = dir.path().to_str().unwrap();
        assert_eq!(
            Input::detect(layout).unwrap(),
            Input::Image(ImageSource::Layout(dir.path().into()))
        );
        assert_eq!(
            Input::detect("localhost:5000/demo/hello:1").unwrap(),
            Input::Remote("localhost:5000/demo/hello:1".into())
        );
    }
}
