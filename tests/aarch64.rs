//! End-to-end: the aarch64 build of `wasmpack`, run under qemu-user, takes
//! an image's aarch64 AOT layer (and only with trust), and compiles for
//! aarch64 otherwise. The image is built on this x86_64 host.

mod support;

use std::process::Output;

use support::{cross_bin, run_on_aarch64, rust_guest, wasmpack};

const TRIPLE: &str = "aarch64-unknown-linux-gnu";

const GUEST: &str = r#"
fn main() {
    let args: Vec<String> = std::env::args().collect();
    println!("argv={:?} greeting={}", args, std::env::var("GREETING").unwrap_or_default());
    std::process::exit(args.len() as i32);
}
"#;

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn the_aarch64_runner_takes_the_aarch64_layer_when_trusted_and_compiles_otherwise() {
    let bin = std::fs::read(cross_bin(TRIPLE, "wasmpack")).unwrap();
    assert_eq!(&bin[..4], b"\x7fELF");
    assert_eq!(
        u16::from_le_bytes([bin[18], bin[19]]),
        183,
        "e_machine is EM_AARCH64"
    );

    let dir = tempfile::tempdir().unwrap();
    let wasm = rust_guest(GUEST, dir.path(), "guest.wasm");
    let build = wasmpack(
        &[
            "build",
            wasm.to_str().unwrap(),
            "-t",
            "demo/guest:1",
            "-o",
            "layout",
            "--aot",
            "x86_64,aarch64",
            "--env",
            "GREETING=hi",
        ],
        dir.path(),
        &[],
    );
    assert!(build.status.success(), "{}", stderr(&build));

    let trusted = run_on_aarch64(dir.path(), &["layout", "-v", "--trust-aot", "--", "a", "b"]);
    let said = stderr(&trusted);
    assert_eq!(trusted.status.code(), Some(3), "{said}");
    assert_eq!(
        String::from_utf8_lossy(&trusted.stdout),
        "argv=[\"/guest.wasm\", \"a\", \"b\"] greeting=hi\n"
    );
    assert!(
        said.contains("using the image's AOT layer") && said.contains(TRIPLE),
        "{said}"
    );
    assert!(
        said.contains("is for x86_64-unknown-linux-gnu"),
        "the x86_64 layer is passed over: {said}"
    );
    assert!(!said.contains("compiled the module"), "{said}");

    let untrusted = run_on_aarch64(dir.path(), &["layout", "-v", "--", "a"]);
    let said = stderr(&untrusted);
    assert_eq!(untrusted.status.code(), Some(2), "{said}");
    assert!(
        said.contains("not trusted") && said.contains("compiled the module"),
        "{said}"
    );
    let again = run_on_aarch64(dir.path(), &["layout", "-v", "--", "a"]);
    assert_eq!(again.status.code(), Some(2));
    assert!(
        stderr(&again).contains("using this machine's compilation"),
        "{}",
        stderr(&again)
    );
}
