//! One function per command: gather inputs, do the work, print results to stdout.

mod cluster;
mod dump;
mod plan;

use std::process::ExitCode;

use crate::cli::{Cli, ClusterArgs, Command, GetCommand, GlobalArgs, ImageCommand};
use crate::config::{self, Inputs};
use crate::{Env, KdcError};

/// Dispatches a parsed command line.
pub fn run(cli: Cli, env: &Env) -> Result<ExitCode, KdcError> {
    match cli.command {
        Command::Plan(args) => plan::run(&cli.global, &args, env),
        Command::Up(args) => cluster::up(&cli.global, &args, env),
        Command::Down(args) => cluster::down(&cli.global, &args, env),
        Command::Clean(args) => cluster::clean(&cli.global, &args, env),
        Command::Status | Command::Get(GetCommand::Clusters) => cluster::status(&cli.global),
        Command::ApiserverPort(args) => cluster::apiserver_port(&cli.global, &args, env),
        Command::Doctor => cluster::doctor(&cli.global),
        Command::Image(ImageCommand::Build {
            which,
            force,
            from_registry,
        }) => {
            crate::images::build(which, force, from_registry)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Dump(args) => dump::dump(&cli.global, &args, env),
        Command::Dump64(args) => dump::dump64(&cli.global, &args, env),
        Command::SplitDump(args) => dump::split_dump(&cli.global, &args),
        Command::SplitDump64(args) => dump::split_dump64(&cli.global, &args),
    }
}

/// Resolves the configuration (flags > environment > file > defaults) and prints warnings.
pub fn load_config(
    global: &GlobalArgs,
    cluster: &ClusterArgs,
    env: &Env,
) -> Result<config::Config, KdcError> {
    let mut inputs = Inputs::default()
        .with_env(env.vars.iter().map(|(k, v)| (k, v)))
        .with_file(global.config.as_deref(), &env.cwd);
    cluster.apply(&mut inputs);
    let resolved = config::resolve(&inputs)?;
    if !global.quiet {
        for w in &resolved.warnings {
            eprintln!("warning: {w}");
        }
    }
    Ok(resolved.config)
}
