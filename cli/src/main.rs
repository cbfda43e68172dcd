//! `wasmpack`: build wasm OCI images without a daemon, inspect them, and move
//! them to and from registries.

mod commands;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "wasmpack", version, about = "Build, inspect, push and pull WebAssembly OCI images")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    Build(commands::build::BuildCommand),
    Inspect(commands::inspect::InspectCommand),
    Push(commands::push::PushCommand),
    Pull(commands::pull::PullCommand),
}

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Command::Build(c) => c.run(),
        Command::Inspect(c) => c.run(),
        Command::Push(c) => c.run(),
        Command::Pull(c) => c.run(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // One line: the context chain, outermost first.
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
