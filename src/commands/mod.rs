//! One function per command: gather inputs, do the work, print results to stdout.

mod plan;

use std::process::ExitCode;

use crate::cli::{Cli, ClusterArgs, Command, GlobalArgs};
use crate::config::{self, Inputs};
use crate::{Env, KdcError};

/// Dispatches a parsed command line.
pub fn run(cli: Cli, env: &Env) -> Result<ExitCode, KdcError> {
    match cli.command {
        Command::Plan(args) => plan::run(&cli.global, &args, env),
    }
}

/// Resolves the configuration (flags > environment > file > defaults) and prints warnings.
pub fn load_config(global: &GlobalArgs, cluster: &ClusterArgs, env: &Env) -> Result<config::Config, KdcError> {
    let mut inputs = Inputs::default().with_env(env.vars.iter().map(|(k, v)| (k, v))).with_file(global.config.as_deref(), &env.cwd)?;
    cluster.apply(&mut inputs);
    let resolved = config::resolve(&inputs)?;
    if !global.quiet {
        for w in &resolved.warnings {
            eprintln!("warning: {w}");
        }
    }
    Ok(resolved.config)
}
