//! One CI cell: bring the cluster up, run the suites, on any failure dump the cluster into the
//! log (a blob on stdout) and into the artifacts directory, tear it down. Each step is a JUnit
//! case of class `kdc` (`Up`, `Dump`, `Down`), as kubetest2 reports its steps, so a cluster that
//! never came up is a failed test, not a missing report. This is what `kdc test run` runs, and
//! what a matrix will run per cell under its own event scope.

use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::Suite;
use super::runner::{self, Stats, Target};
use crate::cluster::{self, UpOptions};
use crate::dump::live::{self, Target as DumpTarget};
use crate::dump::{BlobWriter, DirSink, DumpSink, split_text};
use crate::plan::Plan;
use crate::report::{Emitter, EventKind, Outcome};
use crate::runtime::{NodeExec, Provider};
use crate::signal::Stop;

/// How the cell runs.
#[derive(Debug, Clone)]
pub struct CellOptions {
    pub up: UpOptions,
    /// Run on the cluster that is up; do not bring it up, do not tear it down.
    pub use_existing: bool,
    /// Keep the cluster after the run (and after a failed `up`).
    pub retain: bool,
    pub targets: super::TargetsKind,
    /// `Err(why)` when checks on the host cannot run (a remote engine).
    pub host_possible: Result<(), String>,
    /// Where the dump of a failed run goes (`<artifacts>/dump`, or `dump-2`, … when an
    /// earlier run's dump is there: one is never mixed into another).
    pub artifacts: PathBuf,
    /// Each dump command's limit.
    pub dump_timeout: Duration,
}

/// What the cell did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct CellResult {
    pub stats: Stats,
    /// `up` failed: no check ran.
    pub up_failed: bool,
    /// Where the dump went, when one was made.
    pub dump_dir: Option<PathBuf>,
    pub interrupted: bool,
}

impl CellResult {
    /// Nothing failed, and something was checked: a run in which every check was skipped is a
    /// failure (the original passed silently when its test pod never started).
    pub fn ok(&self) -> bool {
        !self.up_failed && !self.interrupted && self.stats.failed == 0 && self.stats.passed > 0
    }
}

/// Emits one step as a case of class `kdc`.
fn step_case(events: &Emitter, name: &str, started: Instant, outcome: Outcome, output: String) {
    events.emit(EventKind::CaseFinished {
        class: "kdc".into(),
        name: name.into(),
        elapsed: started.elapsed(),
        outcome,
        output,
    });
}

/// Runs the cell. `blob_out` receives the dump blob of a failed run (stdout, the CI log).
#[allow(clippy::too_many_arguments)]
pub async fn run(
    provider: &dyn Provider,
    exec: &dyn NodeExec,
    plan: &Plan,
    suites: &[(Suite, Vec<String>)],
    opts: &CellOptions,
    events: &Emitter,
    stop: &Stop,
    blob_out: &mut (dyn Write + Send),
) -> CellResult {
    let run_started = Instant::now();
    let names: Vec<&str> = suites.iter().map(|(s, _)| s.name.as_str()).collect();
    events.emit(EventKind::RunStarted {
        name: format!("kdc test run {}", names.join(" ")),
    });
    let mut result = CellResult::default();

    // Up: the cluster comes up, or is there already; a failure is a failed `Up` case.
    let t = Instant::now();
    // A failed `up` leaves its cluster for the dump (Down removes it); a missing one has none.
    let failed_up: Option<(String, String, bool)> = if opts.use_existing {
        match cluster::node_names(provider, &plan.cluster.label).await {
            Ok(n) if !n.is_empty() => None,
            Ok(_) => Some((
                format!(
                    "--use-existing: cluster {} has no node containers; run `{}`",
                    plan.cluster.label,
                    plan.cluster.command("up")
                ),
                String::new(),
                false,
            )),
            Err(e) => Some((e.to_string(), String::new(), false)),
        }
    } else {
        let up = UpOptions {
            retain: false,
            rollback: false,
            ..opts.up.clone()
        };
        match cluster::up(provider, exec, plan, &up, events, stop).await {
            Ok(outcome) => {
                let summary = cluster::summary::render(plan, Some(&outcome));
                step_case(events, "Up", t, Outcome::Passed, summary);
                None
            }
            Err(cluster::ClusterError::Interrupted) => {
                result.interrupted = true;
                None
            }
            Err(e) => {
                let chain = crate::error::DisplayChain(&e).to_string();
                Some((e.to_string(), chain, true))
            }
        }
    };
    // Whether there is a cluster to dump.
    let mut exists = true;
    if let Some((message, output, left)) = failed_up {
        result.up_failed = true;
        exists = left;
        step_case(events, "Up", t, Outcome::Failed { message }, output);
    }

    // The suites.
    if !result.up_failed && !result.interrupted {
        let routes = crate::cluster::host_routes::container_name(plan);
        let target = Target {
            exec,
            plan,
            targets: opts.targets,
            host_possible: opts.host_possible.clone(),
            host_routes: matches!(provider.container(&routes).await, Ok(Some(c)) if c.state == "running"),
        };
        tokio::select! {
            stats = runner::run(&target, suites, events) => result.stats = stats,
            // Checks create nothing: abandoning them loses nothing.
            _ = stop.wait() => result.interrupted = true,
        }
    }

    // Dump, before anything is torn down.
    let failed = result.up_failed || result.stats.failed > 0;
    if failed && exists && !result.interrupted {
        let t = Instant::now();
        let dir = fresh_dir(&opts.artifacts, "dump");
        match dump(provider, exec, plan, opts, &dir, blob_out).await {
            Ok(summary) => {
                result.dump_dir = Some(dir);
                step_case(events, "Dump", t, Outcome::Passed, summary);
            }
            Err(message) => step_case(
                events,
                "Dump",
                t,
                Outcome::Failed { message },
                String::new(),
            ),
        }
    }

    // Down.
    if !opts.use_existing && !opts.retain {
        let t = Instant::now();
        match cluster::clean(provider, &plan.cluster.label, &plan.image, events).await {
            Ok(c) => step_case(
                events,
                "Down",
                t,
                Outcome::Passed,
                format!(
                    "removed {} containers, {} volumes, {} networks\n",
                    c.containers.len(),
                    c.volumes.len(),
                    c.networks.len()
                ),
            ),
            Err(e) => step_case(
                events,
                "Down",
                t,
                Outcome::Failed {
                    message: crate::error::DisplayChain(&e).to_string(),
                },
                String::new(),
            ),
        }
    } else if opts.retain && !opts.use_existing {
        events.note(format!(
            "keeping cluster {} (--retain); remove it with `{}`",
            plan.cluster.label,
            plan.cluster.command("clean")
        ));
    }
    events.emit(EventKind::RunFinished {
        elapsed: run_started.elapsed(),
        ok: result.ok(),
    });
    result
}

/// The cluster's dump: a blob into the log and the files into `dir`. Returns a line for the
/// Dump case's output.
async fn dump(
    provider: &dyn Provider,
    exec: &dyn NodeExec,
    plan: &Plan,
    opts: &CellOptions,
    dir: &std::path::Path,
    blob_out: &mut (dyn Write + Send),
) -> Result<String, String> {
    let ip_mode = plan.ip_mode.to_string();
    let target = DumpTarget {
        label: &plan.cluster.label,
        ip_mode: &ip_mode,
        redact: true,
        timeout: opts.dump_timeout,
    };
    let (text, errors) = live::text_dump(provider, exec, &target)
        .await
        .map_err(|e| format!("cannot dump cluster {}: {e}", plan.cluster.label))?;
    let mut blob = BlobWriter::new(&mut *blob_out, 6).map_err(|e| format!("stdout: {e}"))?;
    blob.write_all(&text).map_err(|e| format!("stdout: {e}"))?;
    blob.finish().map_err(|e| format!("stdout: {e}"))?;
    let mut sink = DirSink::deferred(dir, crate::dump::DEFAULT_MAX_BYTES);
    let report = split_text(&text[..], &mut sink);
    if let Some(p) = report.problems.first() {
        return Err(format!("{}: {p}", dir.display()));
    }
    let mut s = format!(
        "the dump blob ({} bytes of text) is in the log between the %%% markers (`kdc split-dump64` reads it back); {} files in {}\n",
        text.len(),
        sink.files(),
        dir.display()
    );
    for e in errors {
        s += &format!("dump: {e}\n");
    }
    Ok(s)
}

/// `<parent>/<name>`, or the first of `<name>-2`, `<name>-3`, … that does not exist.
fn fresh_dir(parent: &std::path::Path, name: &str) -> PathBuf {
    std::iter::once(parent.join(name))
        .chain((2..).map(|n| parent.join(format!("{name}-{n}"))))
        .find(|p| !p.exists())
        .expect("an unbounded sequence has a free name")
}
