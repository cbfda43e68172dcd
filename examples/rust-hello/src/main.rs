//! The smallest useful wasm workload: greet whoever is named, say where it
//! runs, and exit with a status the caller can check.

use std::env;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    let name = args.first().map(String::as_str).unwrap_or("world");
    // std names no OS for wasm32-wasip1 (consts::OS is empty there).
    println!("Hello, {name}! (from {}-wasi)", env::consts::ARCH);
    if let Ok(greeting) = env::var("GREETING") {
        println!("{greeting}");
    }
    match env::var("EXIT_CODE").ok().and_then(|c| c.parse::<u8>().ok()) {
        Some(code) => ExitCode::from(code),
        None => ExitCode::SUCCESS,
    }
}
