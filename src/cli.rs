//! The command line: clap structs, help text, and their conversion into configuration inputs.
//! Nothing here touches Docker or reads the environment.

use std::path::PathBuf;

use clap::{ArgAction, Args, FromArgMatches, Parser, Subcommand};

use crate::config::{Inputs, SETTINGS, Shape};

/// Multi-node Kubernetes clusters in Docker, for CI and local work.
#[derive(Debug, Parser)]
#[command(
    name = "kdc",
    version = crate::version::text(),
    about,
    long_about = None,
    propagate_version = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// Parses the process's command line, printing clap's error and exiting 2 when it cannot
    /// (0 for --help and --version).
    pub fn parse_args() -> Cli {
        Self::parse_from_args(std::env::args_os()).unwrap_or_else(|e| e.exit())
    }

    /// Parses `args` (the program name first). A mistyped subcommand gets at most one
    /// suggestion, see [`refine_suggestion`].
    pub fn parse_from_args<I, T>(args: I) -> Result<Cli, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        Self::try_parse_from(args).map_err(refine_suggestion)
    }
}

/// Keeps only clap's one best suggestion for a mistyped subcommand, and none when two are
/// equally close.
///
/// clap suggests every subcommand above a similarity threshold, so `kdc creat` got
/// "some similar subcommands exist: 'clean', 'create'", offering to delete a cluster to someone
/// who wanted one. kdc has close names with opposite effects (create/clean/delete, up/reup),
/// and a suggestion is a command the user may run without reading twice.
pub fn refine_suggestion(mut err: clap::Error) -> clap::Error {
    use clap::error::{ContextKind, ContextValue};
    let (Some(ContextValue::String(typed)), Some(ContextValue::Strings(candidates))) = (
        err.get(ContextKind::InvalidSubcommand),
        err.get(ContextKind::SuggestedSubcommand),
    ) else {
        return err;
    };
    let score = |c: &String| strsim::jaro(typed, c);
    let best = candidates.iter().map(score).fold(0.0, f64::max);
    let top: Vec<String> = candidates
        .iter()
        .filter(|c| score(c) == best)
        .cloned()
        .collect();
    if top.len() == 1 {
        err.insert(ContextKind::SuggestedSubcommand, ContextValue::Strings(top));
    } else {
        err.remove(ContextKind::SuggestedSubcommand);
    }
    err
}

/// Writes the completion script of `shell` for every kdc command and flag.
pub fn completion(shell: clap_complete::Shell, out: &mut dyn std::io::Write) {
    use clap::CommandFactory;
    clap_complete::generate(shell, &mut Cli::command(), "kdc", out);
}

/// Flags every command takes.
#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// More detail on stderr (repeat for more).
    #[arg(short, long, global = true, action = ArgAction::Count)]
    pub verbose: u8,
    /// Only errors on stderr.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Machine-readable JSON on stdout (commands that print data).
    #[arg(long, global = true)]
    pub json: bool,
    /// Config file [default: kdc.toml in the working directory, if present].
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the cluster plan (names, networks, addresses) without touching Docker.
    Plan(PlanArgs),
    /// Bring the cluster up: network, volumes, node containers with systemd. A cluster whose
    /// volumes survived `down` restarts from them (fast); a running one is restarted.
    Up(UpArgs),
    /// Restart the cluster from the volumes `down` kept: `up`, but an error instead of a fresh
    /// start when they are missing (kubeadm-dind-cluster's `reup`).
    Reup(UpArgs),
    /// Remove the node containers; keep volumes, network and support containers for a fast `up`.
    Down(ClusterOnlyArgs),
    /// Remove everything the cluster owns: containers, volumes, network.
    Clean(CleanArgs),
    /// List kdc clusters and their nodes (table, or --json).
    Status,
    /// kind's verb: `kdc create cluster` is `kdc up`.
    #[command(subcommand)]
    Create(CreateCommand),
    /// kind's verb: `kdc delete cluster` is `kdc clean`.
    #[command(subcommand)]
    Delete(DeleteCommand),
    /// List clusters or nodes, one name per line (kind's `get clusters`, `get nodes`).
    #[command(subcommand)]
    Get(GetCommand),
    /// kind's verb: `kdc export logs [DIR]` is `kdc dump --dir DIR` (default: a new temporary
    /// directory), printing the directory.
    #[command(subcommand)]
    Export(ExportCommand),
    /// Print the host port of the cluster's API server.
    ApiserverPort(ClusterOnlyArgs),
    /// Print the cluster's admin kubeconfig, its server at the published API address (what
    /// `up` merges into your kubeconfig under the cluster's context).
    Kubeconfig(ClusterOnlyArgs),
    /// Run Kubernetes' conformance e2e tests (e2e.test of the cluster's release, built offline:
    /// `kdc image build e2e`) against the cluster that is up, in parallel; `[Serial]` and
    /// `[Disruptive]` specs are left to `e2e-serial`. JUnit per spec, the blob on failure.
    E2e(E2eArgs),
    /// `kdc e2e` for the `[Serial]` specs of the focus, one at a time.
    E2eSerial(E2eArgs),
    /// Check that this host can run kdc clusters: Docker, privileges, IPv6, /dev/net/tun,
    /// inotify limits, images. Exits 1 if a check fails.
    Doctor,
    /// kdc's images: build them offline (Kubernetes from the Go module proxy, the rest from
    /// Debian packages), save a node image to a file and load it (a CI cache).
    #[command(subcommand)]
    Image(ImageCommand),
    /// Write a running cluster's state as a text dump (stdout), or as files (--dir).
    Dump(DumpArgs),
    /// The cluster's dump as a blob for a CI log (lzma + base64 at 100 columns between
    /// `%%% start-base64 %%%` and `%%% end-base64 %%%`), readable by the original's split-dump64;
    /// with --from, encode an existing text dump instead.
    Dump64(Dump64Args),
    /// Split a text dump (`@@@ <name> @@@` sections) into files.
    SplitDump(SplitArgs),
    /// Network test suites: the embedded smoke, ipv4, ipv6 and dual-stack suites and your own
    /// files (see the README, "Test suites").
    #[command(subcommand)]
    Test(Test),
    /// Find every blob in a CI log (GitHub Actions, Jenkins, Travis, CircleCI…), decode it and
    /// split it into files: one blob into DIR, several into DIR/1, DIR/2, ….
    SplitDump64(SplitArgs),
    /// The CI matrix (ci/matrix.toml or --matrix FILE): list its cells, generate CircleCI,
    /// GitHub Actions, GitLab CI and Travis configs, check committed ones, run cells here.
    #[command(subcommand)]
    Ci(CiCommand),
    /// Write a self-contained HTML page of a `kdc ci run`'s artifacts directory: the cells as
    /// a grid with their status, times, failing checks, and links to their files.
    Report(ReportArgs),
    /// Print the completion script for a shell, e.g. `source <(kdc completion bash)`.
    Completion(CompletionArgs),
    /// Print kdc's version, the git commit it was built from and the supported Kubernetes
    /// versions (--json for scripts).
    Version,
}

#[derive(Debug, Subcommand)]
pub enum CreateCommand {
    /// Bring the cluster up: the same command, flags and output as `kdc up`.
    Cluster(UpArgs),
}

#[derive(Debug, Subcommand)]
pub enum DeleteCommand {
    /// Remove everything the cluster owns: the same command, flags and output as `kdc clean`.
    Cluster(CleanArgs),
}

#[derive(Debug, Subcommand)]
pub enum ExportCommand {
    /// Write the cluster's dump as files into DIR, or a new temporary directory; prints the
    /// directory on stdout.
    Logs(ExportLogsArgs),
}

#[derive(Debug, Args)]
pub struct ExportLogsArgs {
    #[command(flatten)]
    pub live: LiveDumpArgs,
    /// Where to write the files [default: a new directory kdc-logs-* in $TMPDIR or /tmp].
    #[arg(value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct CompletionArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Subcommand)]
pub enum ImageCommand {
    /// Build kdc's images offline; each is skipped when its inputs are unchanged. node: the
    /// Kubernetes node image kdc/node:<release> (Go module proxy + Debian; needs Go 1.26);
    /// bare: kdc/node:bookworm, machines only; support: bind9 and tayga; all: the three.
    Build {
        #[arg(value_enum, default_value = "all")]
        which: crate::images::Which,
        /// The Kubernetes release of `node` and `all`: 1.36, v1.36 or v1.36.3
        /// [default: DIND_K8S_VERSION, else the default release].
        #[arg(long, value_name = "VERSION")]
        k8s_version: Option<String>,
        /// Rebuild even when the inputs are unchanged (picks up newer Debian packages; the
        /// Kubernetes binaries stay cached by version).
        #[arg(long)]
        force: bool,
        /// Build bare and support from the plain Dockerfile.registry (FROM debian:bookworm),
        /// for hosts with a registry.
        #[arg(long)]
        from_registry: bool,
    },
    /// Write a built Kubernetes node image (and the bases its input hash covers) into a file
    /// for a CI cache, labels and all; gzip-compressed when FILE ends in .gz or .tgz.
    Save {
        /// The release whose node image kdc/node:<release> to save: 1.36, v1.36 or v1.36.3
        /// [default: DIND_K8S_VERSION, else the default release].
        #[arg(long, value_name = "VERSION", conflicts_with = "image")]
        k8s_version: Option<String>,
        /// Save this image alone instead (a node image of your own, DIND_IMAGE).
        #[arg(long, value_name = "REF")]
        image: Option<String>,
        /// The file to write (replaced only once complete).
        #[arg(short, long, value_name = "FILE")]
        output: PathBuf,
    },
    /// Load a file written by `kdc image save` into the engine (gzip or not); the image keeps
    /// its input hash, so `kdc image build node` then finds it up to date.
    Load {
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
}

/// Options of a live dump.
#[derive(Debug, Args)]
pub struct LiveDumpArgs {
    #[command(flatten)]
    pub cluster: ClusterArgs,
    /// Keep secrets (bootstrap tokens, private keys, kubeconfig credentials) instead of redacting them.
    #[arg(long)]
    pub no_redact: bool,
    /// Seconds each command in a node may take.
    #[arg(long, default_value_t = 20, value_name = "SECONDS")]
    pub command_timeout: u64,
}

#[derive(Debug, Args)]
pub struct DumpArgs {
    #[command(flatten)]
    pub live: LiveDumpArgs,
    /// Write the files into DIR instead of a text dump on stdout.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct Dump64Args {
    #[command(flatten)]
    pub live: LiveDumpArgs,
    /// Encode this text dump (`-` for stdin) instead of dumping the running cluster.
    #[arg(long, value_name = "FILE|-")]
    pub from: Option<PathBuf>,
    /// lzma preset: 0 (fast) to 9 (smallest; 9 needs ~700 MB to compress).
    #[arg(long, default_value_t = 6, value_parser = clap::value_parser!(u32).range(0..=9))]
    pub level: u32,
    #[command(flatten)]
    pub max: MaxBlobArgs,
}

/// The blob's budget in a CI log.
#[derive(Debug, Clone, Args)]
pub struct MaxBlobArgs {
    /// Keep the blob at most BYTES (markers included) by cutting the largest files from their
    /// start, keeping their ends; the dump's `kdc-trimmed.txt` says what was cut [env:
    /// KDC_DUMP_MAX_BYTES, which generated CI configs set per provider; default: no limit].
    #[arg(long = "max-bytes", value_name = "BYTES", value_parser = clap::value_parser!(u64).range(4096..))]
    pub max_bytes: Option<u64>,
}

#[derive(Debug, Args)]
pub struct SplitArgs {
    /// Output directory.
    #[arg(
        short = 'o',
        long = "output",
        value_name = "DIR",
        default_value = "cluster-dump"
    )]
    pub dir: PathBuf,
    /// Stop writing after this many decompressed bytes, so a hostile log cannot fill the disk.
    #[arg(long, value_name = "BYTES", default_value_t = crate::dump::DEFAULT_MAX_BYTES)]
    pub max_bytes: u64,
    /// The dump or log to read (`-` or nothing for stdin).
    #[arg(value_name = "FILE|-")]
    pub input: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Test {
    /// List the suites and their checks (text, or --json).
    List(TestListArgs),
    /// Bring the cluster up (or use the running one), run the suites' checks, write JUnit; on a
    /// failure print the dump blob on stdout and write the dump into the artifacts directory;
    /// tear the cluster down unless --retain. Exit 0 only when nothing failed.
    Run(TestRunArgs),
}

#[derive(Debug, Args)]
pub struct TestRunArgs {
    /// What to run: a suite (`ipv6`) or one of its checks (`ipv6/dns64-ipv4only`); repeat for
    /// more. The suite's [cluster] settings (IP_MODE=ipv6) apply unless a flag says otherwise.
    #[arg(value_name = "SUITE[/CHECK]", required = true)]
    pub select: Vec<String>,
    #[command(flatten)]
    pub cluster: ClusterArgs,
    #[command(flatten)]
    pub suites: SuiteFiles,
    /// Where the JUnit file and a failed run's dump go [default: $ARTIFACTS, else ./_artifacts].
    #[arg(long, value_name = "DIR")]
    pub artifacts: Option<PathBuf>,
    /// The JUnit file [default: <artifacts>/junit_kdc.xml].
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Keep the cluster after the run (also after a failed `up`).
    #[arg(long)]
    pub retain: bool,
    /// Run on the cluster that is up: do not bring it up, do not tear it down.
    #[arg(long)]
    pub use_existing: bool,
    /// What `up` runs after the machines: kubeadm when the node image carries Kubernetes (the
    /// kubernetes suite needs it), none otherwise. The cell never touches your kubeconfig.
    #[arg(long, value_enum)]
    pub bootstrapper: Option<crate::cluster::Bootstrapper>,
    /// The targets the checks look up and ping.
    #[arg(long, value_enum, default_value = "local")]
    pub targets: crate::suite::TargetsKind,
    /// Seconds each node may take to reach systemd `running`.
    #[arg(long, default_value_t = 120, value_name = "SECONDS")]
    pub wait_systemd: u64,
    /// As `kdc up --host-routes`; also runs the checks that need the host to reach NAT64.
    #[arg(long)]
    pub host_routes: bool,
    #[command(flatten)]
    pub max: MaxBlobArgs,
}

#[derive(Debug, Subcommand)]
pub enum CiCommand {
    /// The cells the matrix (or one shard of it) would run: name, suites, settings (--json
    /// for scripts).
    List(CiListArgs),
    /// Write a complete CI config for a provider: a job per cell (or shard), image cache,
    /// JUnit and artifacts stored, the dump blob and reproduce command in the log.
    Generate(CiGenerateArgs),
    /// Fail when a file under the matrix's [generated] differs from what it makes, naming the
    /// file and the first differing line.
    Check(CiCheckArgs),
    /// Run cells here or in a CI job: each its own cluster ID and subnets, per-cell artifacts,
    /// one merged JUnit, a summary with each failed cell's reproduce command. Exit 1 when any
    /// cell failed (the others still finish).
    Run(CiRunArgs),
}

/// Which matrix, and the suite files its cells may name.
#[derive(Debug, Clone, Args)]
pub struct MatrixArgs {
    /// The matrix file [default: ci/matrix.toml in the working directory, else kdc's own].
    #[arg(long, value_name = "FILE")]
    pub matrix: Option<PathBuf>,
    #[command(flatten)]
    pub suites: SuiteFiles,
}

#[derive(Debug, Args)]
pub struct CiListArgs {
    #[command(flatten)]
    pub matrix: MatrixArgs,
    /// Only shard I of N (1-based), as `kdc ci run --shard I/N` would run.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,
}

#[derive(Debug, Args)]
pub struct CiGenerateArgs {
    /// The CI system.
    #[arg(value_enum)]
    pub provider: crate::matrix::Provider,
    /// Write the config to FILE instead of stdout (replaced whole, never half-written).
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub matrix: MatrixArgs,
}

#[derive(Debug, Args)]
pub struct CiCheckArgs {
    #[command(flatten)]
    pub matrix: MatrixArgs,
}

#[derive(Debug, Args)]
pub struct CiRunArgs {
    /// The cells to run [default: every cell, or the shard's].
    #[arg(value_name = "CELL")]
    pub cells: Vec<String>,
    #[command(flatten)]
    pub matrix: MatrixArgs,
    /// Run shard I of N (1-based) [default: from the CI system's variables: CIRCLE_NODE_INDEX
    /// and CIRCLE_NODE_TOTAL, CI_NODE_INDEX and CI_NODE_TOTAL, BUILDKITE_PARALLEL_JOB and
    /// BUILDKITE_PARALLEL_JOB_COUNT, or KDC_SHARD=I/N].
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,
    /// Cells at once, each with its own cluster.
    #[arg(short = 'j', long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=16))]
    pub jobs: u16,
    /// Where each cell's files go (DIR/<cell>/), the merged JUnit (DIR/junit_kdc.xml) and the
    /// run's record for `kdc report` [default: $ARTIFACTS, else ./_artifacts].
    #[arg(long, value_name = "DIR")]
    pub artifacts: Option<PathBuf>,
    /// Run a failed check again up to R times; one that then passes is flaky (JUnit
    /// flakyFailure) and does not fail the cell.
    #[arg(long, default_value_t = 0, value_name = "R", value_parser = clap::value_parser!(u32).range(0..=5))]
    pub retries: u32,
    /// The cluster IDs cells may take, FIRST-LAST; each cluster gets the lowest free one whose
    /// plan is valid and whose subnets overlap no other cell's.
    #[arg(long, value_name = "FIRST-LAST", default_value = "1-254")]
    pub cluster_ids: String,
    /// Seconds each node may take to reach systemd `running`.
    #[arg(long, default_value_t = 120, value_name = "SECONDS")]
    pub wait_systemd: u64,
    #[command(flatten)]
    pub max: MaxBlobArgs,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The artifacts directory of a `kdc ci run` (it holds kdc-matrix.json).
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// The page to write [default: DIR/report.html].
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct TestListArgs {
    #[command(flatten)]
    pub suites: SuiteFiles,
}

/// The user's suite files, added to the embedded suites.
#[derive(Debug, Clone, Args)]
pub struct SuiteFiles {
    /// A suite file of your own, in the embedded suites' format; its name is the file stem
    /// (repeat for more).
    #[arg(long = "suite-file", value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum GetCommand {
    /// Every kdc cluster on this engine, one name per line: the name `--name` takes to select
    /// it. Clusters that are down (volumes kept) are listed too; `kdc status` has the details.
    Clusters,
    /// The cluster's node containers, one name per line, master first.
    Nodes(GetNodesArgs),
    /// kind's verb: `kdc get kubeconfig` is `kdc kubeconfig`.
    Kubeconfig(ClusterOnlyArgs),
}

/// `--parallel`: 1 to 64 ginkgo processes.
fn parse_parallel(s: &str) -> Result<usize, String> {
    s.parse::<usize>()
        .ok()
        .filter(|n| (1..=64).contains(n))
        .ok_or_else(|| format!("{s:?} is not a number of processes from 1 to 64"))
}

#[derive(Debug, Args)]
pub struct E2eArgs {
    /// The specs to run, as literal text of their names (the original's escaping) [default:
    /// the conformance specs, `\[Conformance\]`].
    #[arg(value_name = "FOCUS")]
    pub focus: Option<String>,
    /// The specs to leave out, as literal text (added to the parallel run's `[Serial]` and
    /// `[Disruptive]`).
    #[arg(value_name = "SKIP")]
    pub skip: Option<String>,
    /// FOCUS and SKIP are ginkgo regexes, not literal text.
    #[arg(long)]
    pub regex: bool,
    #[command(flatten)]
    pub cluster: ClusterArgs,
    /// Ginkgo processes of the parallel run.
    #[arg(long, default_value_t = crate::e2e::DEFAULT_PARALLEL, value_name = "N",
        value_parser = parse_parallel)]
    pub parallel: usize,
    /// Where the JUnit files, e2e.log and a failed run's dump go [default: $ARTIFACTS, else
    /// ./_artifacts].
    #[arg(long, value_name = "DIR")]
    pub artifacts: Option<PathBuf>,
    /// kdc's JUnit file, one case per spec [default: <artifacts>/junit_kdc.xml].
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Bring the cluster up first and tear it down after (a whole CI cell), instead of running
    /// on the cluster that is up.
    #[arg(long)]
    pub up: bool,
    /// With --up: keep the cluster after the run.
    #[arg(long, requires = "up")]
    pub retain: bool,
    #[command(flatten)]
    pub max: MaxBlobArgs,
}

#[derive(Debug, Args)]
pub struct GetNodesArgs {
    #[command(flatten)]
    pub cluster: ClusterArgs,
    /// The nodes of every kdc cluster on this engine.
    #[arg(short = 'A', long)]
    pub all_clusters: bool,
}

/// Commands that only need to know which cluster.
#[derive(Debug, Args)]
pub struct ClusterOnlyArgs {
    #[command(flatten)]
    pub cluster: ClusterArgs,
}

#[derive(Debug, Args)]
pub struct CleanArgs {
    #[command(flatten)]
    pub cluster: ClusterArgs,
    /// Clean every kdc cluster on this Docker engine.
    #[arg(long)]
    pub all: bool,
}

#[derive(Debug, Args)]
pub struct UpArgs {
    #[command(flatten)]
    pub cluster: ClusterArgs,
    /// Keep what was created when `up` fails or is interrupted (for debugging).
    #[arg(long)]
    pub retain: bool,
    /// What to run after the machines are up: kubeadm (Kubernetes) when the node image carries
    /// Kubernetes (`kdc image build node`), none (machines only) otherwise.
    #[arg(long, value_enum)]
    pub bootstrapper: Option<crate::cluster::Bootstrapper>,
    /// The kubeconfig file to add the cluster's context to (default: the first of $KUBECONFIG,
    /// else ~/.kube/config).
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<std::path::PathBuf>,
    /// Seconds every node and kube-system pod may take to be Ready (kubeadm bootstrapper).
    #[arg(long, default_value_t = 300, value_name = "SECONDS")]
    pub wait: u64,
    /// Seconds each node may take to reach systemd `running`.
    #[arg(long, default_value_t = 120, value_name = "SECONDS")]
    pub wait_systemd: u64,
    /// Let the engine's host reach the cluster's NAT64 (a route to the DNS64 prefix), and the
    /// cluster's IPv6 reach out through the host (ip6tables masquerade) where it uses real
    /// IPv6; `down` and `clean` undo exactly what was added.
    #[arg(long)]
    pub host_routes: bool,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub cluster: ClusterArgs,
    /// Print the kubeadm configuration kdc writes into each node (/kind/kubeadm.conf) instead
    /// of the plan; `--k8s-version` picks the release it is written for.
    #[arg(long, conflicts_with = "json")]
    pub kubeadm_config: bool,
    /// With --kubeadm-config: only this node's configuration (kube-master, kube-node-1, …).
    #[arg(long, value_name = "NAME", requires = "kubeadm_config")]
    pub node: Option<String>,
}

/// One flag per setting of [`SETTINGS`] that has a flag; built from the table so that flags,
/// environment variables and config keys cannot drift apart.
#[derive(Debug, Clone, Default)]
pub struct ClusterArgs {
    values: Vec<(crate::config::Key, String)>,
}

impl ClusterArgs {
    /// Adds the flags to `inputs` (the highest layer).
    pub fn apply(&self, inputs: &mut Inputs) {
        for (key, value) in &self.values {
            inputs.set_flag(*key, value.clone());
        }
    }
}

impl FromArgMatches for ClusterArgs {
    fn from_arg_matches(m: &clap::ArgMatches) -> Result<Self, clap::Error> {
        let mut values = Vec::new();
        for s in SETTINGS {
            let Some(flag) = s.flag else { continue };
            match s.shape {
                Shape::Value => {
                    if let Some(v) = m.get_one::<String>(flag) {
                        values.push((s.key, v.clone()));
                    }
                }
                Shape::Switch => {
                    if m.get_flag(flag) {
                        values.push((s.key, "true".to_string()));
                    }
                }
            }
        }
        Ok(ClusterArgs { values })
    }

    fn update_from_arg_matches(&mut self, m: &clap::ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(m)?;
        Ok(())
    }
}

impl Args for ClusterArgs {
    fn augment_args(cmd: clap::Command) -> clap::Command {
        SETTINGS.iter().fold(cmd, |cmd, s| {
            let Some(flag) = s.flag else { return cmd };
            let help = format!("{} [env: {}] [default: {}]", s.help, s.env, s.default);
            let mut arg = clap::Arg::new(flag)
                .long(flag)
                .help(help)
                .help_heading("Cluster");
            if s.key == crate::config::Key::Label {
                // kind's name for the same thing, so `kdc create cluster --name x` works as
                // `kind create cluster --name x` does.
                arg = arg.visible_alias("name").short('n');
            }
            cmd.arg(match s.shape {
                Shape::Value => arg.value_name("VALUE").action(ArgAction::Set),
                Shape::Switch => arg.action(ArgAction::SetTrue),
            })
        })
    }

    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        Self::augment_args(cmd)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Key;

    #[test]
    fn cli_is_well_formed() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn cluster_flags_map_to_keys() {
        let cli = Cli::try_parse_from([
            "kdc",
            "plan",
            "--ip-mode",
            "ipv6",
            "--skip-snapshot",
            "--num-nodes",
            "3",
        ])
        .unwrap();
        let Command::Plan(args) = cli.command else {
            panic!("not plan")
        };
        let mut inputs = Inputs::default();
        args.cluster.apply(&mut inputs);
        assert_eq!(inputs.get(Key::IpMode).unwrap().0, "ipv6");
        assert_eq!(inputs.get(Key::SkipSnapshot).unwrap().0, "true");
        assert_eq!(inputs.get(Key::NumNodes).unwrap().0, "3");
        assert!(inputs.get(Key::Label).is_none());
    }

    fn label_of(args: &[&str]) -> Option<String> {
        let cli = Cli::parse_from_args(args).unwrap();
        let Command::Plan(args) = cli.command else {
            panic!("not plan")
        };
        let mut inputs = Inputs::default();
        args.cluster.apply(&mut inputs);
        inputs.get(Key::Label).map(|v| v.0.to_string())
    }

    #[test]
    fn name_and_n_are_the_label_flag() {
        for args in [
            ["kdc", "plan", "--label", "foo"],
            ["kdc", "plan", "--name", "foo"],
            ["kdc", "plan", "-n", "foo"],
        ] {
            assert_eq!(label_of(&args).as_deref(), Some("foo"), "{args:?}");
        }
    }

    #[test]
    fn kind_verbs_take_the_flags_of_the_commands_they_stand_for() {
        let cli = Cli::parse_from_args([
            "kdc",
            "create",
            "cluster",
            "--name",
            "x",
            "--retain",
            "--wait-systemd",
            "9",
        ])
        .unwrap();
        let Command::Create(CreateCommand::Cluster(up)) = cli.command else {
            panic!("not create cluster")
        };
        assert!(up.retain);
        assert_eq!(up.wait_systemd, 9);
        let cli = Cli::parse_from_args(["kdc", "delete", "cluster", "--all"]).unwrap();
        let Command::Delete(DeleteCommand::Cluster(clean)) = cli.command else {
            panic!("not delete cluster")
        };
        assert!(clean.all);
        let cli = Cli::parse_from_args(["kdc", "get", "nodes", "-A"]).unwrap();
        let Command::Get(GetCommand::Nodes(nodes)) = cli.command else {
            panic!("not get nodes")
        };
        assert!(nodes.all_clusters);
        let cli = Cli::parse_from_args(["kdc", "export", "logs", "out", "--name", "x"]).unwrap();
        let Command::Export(ExportCommand::Logs(logs)) = cli.command else {
            panic!("not export logs")
        };
        assert_eq!(logs.dir, Some(PathBuf::from("out")));
    }

    /// What clap suggests for `args`, or None when it suggests nothing (or parsing works).
    fn suggestions(args: &[&str]) -> Option<Vec<String>> {
        use clap::error::{ContextKind, ContextValue};
        match Cli::parse_from_args(args)
            .err()?
            .get(ContextKind::SuggestedSubcommand)
        {
            Some(ContextValue::Strings(s)) => Some(s.clone()),
            _ => None,
        }
    }

    /// Every typo one slip away from `word`: a letter dropped, doubled, or swapped with the next.
    fn typos(word: &str) -> Vec<String> {
        let c: Vec<char> = word.chars().collect();
        let mut out = Vec::new();
        for i in 0..c.len() {
            let mut t = c.clone();
            t.remove(i);
            out.push(t.iter().collect());
            let mut t = c.clone();
            t.insert(i, c[i]);
            out.push(t.iter().collect());
            if i + 1 < c.len() {
                let mut t = c.clone();
                t.swap(i, i + 1);
                out.push(t.iter().collect());
            }
        }
        out
    }

    /// A slip on a command that makes a cluster never suggests one that removes it, and the
    /// other way round; without the filter, `kdc creat` suggested `clean`.
    #[test]
    fn typos_never_suggest_the_opposite_command() {
        let making = ["create", "up", "reup"];
        let removing = ["clean", "delete", "down"];
        for (words, opposite) in [(making, removing), (removing, making)] {
            for word in words {
                for typo in typos(word) {
                    let Some(s) = suggestions(&["kdc", &typo]) else {
                        continue;
                    };
                    assert_eq!(s.len(), 1, "{typo}: {s:?}");
                    assert!(!opposite.contains(&s[0].as_str()), "{typo} -> {s:?}");
                }
            }
        }
        assert_eq!(suggestions(&["kdc", "creat"]), Some(vec!["create".into()]));
        assert_eq!(suggestions(&["kdc", "craete"]), Some(vec!["create".into()]));
        assert_eq!(
            suggestions(&["kdc", "get", "clustrs"]),
            Some(vec!["clusters".into()])
        );
    }

    #[test]
    fn equally_close_candidates_give_no_suggestion() {
        use clap::error::{ContextKind, ContextValue, ErrorKind};
        let mut err = clap::Error::new(ErrorKind::InvalidSubcommand);
        err.insert(
            ContextKind::InvalidSubcommand,
            ContextValue::String("ab".into()),
        );
        err.insert(
            ContextKind::SuggestedSubcommand,
            ContextValue::Strings(vec!["ax".into(), "xb".into()]),
        );
        let err = refine_suggestion(err);
        assert!(err.get(ContextKind::SuggestedSubcommand).is_none());
    }

    #[test]
    fn test_list_takes_several_suite_files() {
        let cli = Cli::try_parse_from([
            "kdc",
            "test",
            "list",
            "--suite-file",
            "a.toml",
            "--json",
            "--suite-file",
            "b/c.toml",
        ])
        .unwrap();
        let Command::Test(Test::List(args)) = cli.command else {
            panic!("not test list")
        };
        assert_eq!(
            args.suites.files,
            [PathBuf::from("a.toml"), PathBuf::from("b/c.toml")]
        );
        assert!(cli.global.json);
    }
}
