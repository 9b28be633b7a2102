//! The `kdc` binary: parse the command line, run, print errors, exit.
//! Everything else lives in the library crate so it can be tested without a process.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = kdc::cli::Cli::parse();
    match kdc::run(cli) {
        Ok(code) => code,
        Err(err) => {
            err.print_to_stderr();
            err.exit_code()
        }
    }
}
