//! `wasmpack`: build wasm OCI images without a daemon, inspect them, and move
//! them to and from registries, and run them.

mod commands;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "wasmpack",
    version,
    about = "Build, inspect, push, pull and run WebAssembly OCI images"
)]
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
    Run(commands::run::RunCommand),
}

fn main() -> ExitCode {
    let done = |result: anyhow::Result<()>| result.map(|()| ExitCode::SUCCESS);
    let result = match Cli::parse().command {
        Command::Build(c) => done(c.run()),
        Command::Inspect(c) => done(c.run()),
        Command::Push(c) => done(c.run()),
        Command::Pull(c) => done(c.run()),
        // The guest's exit code is the command's.
        Command::Run(c) => c.run(),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            // One line: the context chain, outermost first.
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
