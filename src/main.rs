//! The `kdc` binary: parse the command line, run, print errors, exit.
//! Everything else lives in the library crate so it can be tested without a process.

use std::process::ExitCode;

fn main() -> ExitCode {
    // First, so that a signal at any moment is a clean stop, never a half-created cluster.
    kdc::signal::catch();
    let cli = kdc::cli::Cli::parse_args();
    match kdc::run(cli) {
        Ok(code) => code,
        Err(err) => {
            err.print_to_stderr();
            err.exit_code()
        }
    }
}
