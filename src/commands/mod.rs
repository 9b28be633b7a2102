//! Glue: one function per command that parses its inputs, calls the library and prints. What
//! every command shares — the reporter on stderr, the configuration, the async runtime, the
//! engine connection, writing stdout — is in [`Ctx`].

mod ci;
mod cluster;
mod dump;
mod e2e;
mod image;
mod meta;
mod plan;
mod test;

use std::future::Future;
use std::io::Write;
use std::process::ExitCode;

use crate::cli::{
    CiCommand, Cli, ClusterArgs, Command, CreateCommand, DeleteCommand, ExportCommand, GetCommand,
    GlobalArgs, ImageCommand, Test,
};
use crate::config::{self, Inputs};
use crate::plan::Plan;
use crate::report::{Emitter, Terminal};
use crate::runtime::docker::Docker;
use crate::runtime::endpoint::Endpoint;
use crate::{Env, KdcError};

/// Dispatches a parsed command line. kind's verbs (`create cluster`, `delete cluster`,
/// `export logs`) run the same functions as kdc's own (`up`, `clean`, `dump --dir`).
pub fn run(cli: Cli, env: &Env) -> Result<ExitCode, KdcError> {
    let cx = Ctx::new(&cli.global, env);
    let result = match cli.command {
        Command::Plan(args) => plan::run(&cx, &args),
        Command::Up(args) | Command::Create(CreateCommand::Cluster(args)) => {
            cluster::up(&cx, &args)
        }
        Command::Reup(args) => cluster::reup(&cx, &args),
        Command::Down(args) => cluster::down(&cx, &args),
        Command::Clean(args) | Command::Delete(DeleteCommand::Cluster(args)) => {
            cluster::clean(&cx, &args)
        }
        Command::Status => cluster::status(&cx),
        Command::Get(GetCommand::Clusters) => cluster::get_clusters(&cx),
        Command::Get(GetCommand::Nodes(args)) => cluster::get_nodes(&cx, &args),
        Command::Kubeconfig(args) | Command::Get(GetCommand::Kubeconfig(args)) => {
            e2e::kubeconfig(&cx, &args)
        }
        Command::E2e(args) => e2e::run(&cx, &args, false),
        Command::E2eSerial(args) => e2e::run(&cx, &args, true),
        Command::Export(ExportCommand::Logs(args)) => dump::export_logs(&cx, &args),
        Command::ApiserverPort(args) => cluster::apiserver_port(&cx, &args),
        Command::Doctor => cluster::doctor(&cx),
        Command::Image(ImageCommand::Build {
            which,
            k8s_version,
            force,
            from_registry,
        }) => image::build(&cx, which, k8s_version.as_deref(), force, from_registry),
        Command::Image(ImageCommand::Save {
            k8s_version,
            image,
            output,
        }) => image::save(&cx, k8s_version.as_deref(), image.as_deref(), &output),
        Command::Image(ImageCommand::Load { file }) => image::load(&cx, &file),
        Command::Dump(args) => dump::dump(&cx, &args),
        Command::Dump64(args) => dump::dump64(&cx, &args),
        Command::SplitDump(args) => dump::split(&cx, &args, crate::dump::stage::Input::Text),
        Command::SplitDump64(args) => dump::split(&cx, &args, crate::dump::stage::Input::Log),
        Command::Completion(args) => meta::completion(&cx, args.shell),
        Command::Version => meta::version(&cx),
        Command::Test(Test::List(args)) => test::list(&cx, &args),
        Command::Test(Test::Run(args)) => test::run(&cx, &args),
        Command::Ci(CiCommand::List(args)) => ci::list(&cx, &args),
        Command::Ci(CiCommand::Generate(args)) => ci::generate(&cx, &args),
        Command::Ci(CiCommand::Check(args)) => ci::check(&cx, &args),
        Command::Ci(CiCommand::Run(args)) => ci::run(&cx, &args),
        Command::Report(args) => ci::report(&cx, &args),
    };
    cx.events.finish().map_err(|e| KdcError::Io {
        what: e.what,
        source: e
            .source
            .unwrap_or_else(|| std::io::Error::other("reporter")),
    })?;
    result
}

/// What a command works with.
pub struct Ctx<'a> {
    pub global: &'a GlobalArgs,
    pub env: &'a Env,
    /// Progress, notes and warnings for stderr.
    pub events: Emitter,
}

impl<'a> Ctx<'a> {
    fn new(global: &'a GlobalArgs, env: &'a Env) -> Ctx<'a> {
        let facts = env.terminal_facts(global.quiet, global.verbose);
        Ctx {
            global,
            env,
            events: Emitter::new(Terminal::stderr(&facts)),
        }
    }

    /// The configuration: flags > environment > file > defaults; warnings go to the reporter.
    pub fn config(&self, cluster: &ClusterArgs) -> Result<config::Config, KdcError> {
        self.config_with(cluster, Vec::new())
    }

    /// The configuration with named layers (a suite's `[cluster]` settings) between the
    /// environment and the flags.
    pub fn config_with(
        &self,
        cluster: &ClusterArgs,
        layers: Vec<config::Layer>,
    ) -> Result<config::Config, KdcError> {
        let mut inputs = Inputs::default()
            .with_env(self.env.vars.iter().map(|(k, v)| (k, v)))
            .with_file(self.global.config.as_deref(), &self.env.cwd);
        for l in layers {
            inputs.add(l);
        }
        cluster.apply(&mut inputs);
        let resolved = config::resolve(&inputs)?;
        for w in &resolved.warnings {
            self.events.warn(w.clone());
        }
        Ok(resolved.config)
    }

    /// The configured cluster's plan.
    pub fn plan(&self, cluster: &ClusterArgs) -> Result<Plan, KdcError> {
        Ok(crate::plan::plan(&self.config(cluster)?)?)
    }

    /// Runs async work to completion on the one runtime kdc uses (two worker threads: the
    /// machines it runs on have two cores).
    pub fn block_on<T>(
        &self,
        work: impl Future<Output = Result<T, KdcError>>,
    ) -> Result<T, KdcError> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|source| KdcError::Io {
                what: "the async runtime (threads, timers)".into(),
                source,
            })?;
        rt.block_on(work)
    }

    /// Like [`Ctx::block_on`] for work that can be dropped at any point (it only reads): a
    /// signal ends it at once with exit 130.
    pub fn block_on_interruptible<T>(
        &self,
        work: impl Future<Output = Result<T, KdcError>>,
    ) -> Result<T, KdcError> {
        self.block_on(async {
            tokio::select! {
                r = work => r,
                _ = crate::signal::interrupted() => Err(KdcError::Interrupted),
            }
        })
    }

    /// The Docker engine this command talks to (DOCKER_HOST, DOCKER_CONTEXT, the docker CLI's
    /// current context, or the local socket).
    pub fn endpoint(&self) -> Result<Endpoint, KdcError> {
        Ok(crate::runtime::endpoint::resolve(&self.env.engine_env())?)
    }

    /// Connects to the Docker engine; `-v` says which, `-vv` shows its requests.
    pub async fn engine(&self) -> Result<Docker, KdcError> {
        self.connect(&self.endpoint()?).await
    }

    /// Connects to the engine at `endpoint`.
    pub async fn connect(&self, endpoint: &Endpoint) -> Result<Docker, KdcError> {
        self.events.debug(1, format!("engine: {endpoint}"));
        Ok(Docker::connect(endpoint).await?.traced(&self.events))
    }

    /// Writes a result to stdout.
    pub fn print(&self, text: &str) -> Result<(), KdcError> {
        let mut out = std::io::stdout().lock();
        out.write_all(text.as_bytes())
            .and_then(|_| out.flush())
            .map_err(|source| KdcError::Io {
                what: "stdout".into(),
                source,
            })
    }

    /// Writes a result to stdout as pretty JSON.
    pub fn print_json(&self, value: &impl serde::Serialize) -> Result<(), KdcError> {
        let text = serde_json::to_string_pretty(value).map_err(|e| KdcError::Io {
            what: "JSON for stdout".into(),
            source: std::io::Error::other(e),
        })?;
        self.print(&(text + "\n"))
    }
}
