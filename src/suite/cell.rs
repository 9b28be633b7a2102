//! One CI cell: bring the cluster up, run the suites, on any failure dump the cluster into the
//! log (a blob on stdout) and into the artifacts directory, tear it down. Each step is a JUnit
//! case of class `kdc` (`Up`, `Dump`, `Down`), as kubetest2 reports its steps, so a cluster that
//! never came up is a failed test, not a missing report. This is what `kdc test run` runs, and
//! what a matrix will run per cell under its own event scope.

use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::Suite;
use super::pods::{self, Pods};
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
    /// Runs of a failed check after the first (`kdc ci run --retries`); one that then passes
    /// is reported as flaky.
    pub retries: u32,
    /// The most bytes the blob in the log may take (`--max-bytes`): the largest files are cut
    /// from their start to fit; the artifacts get the whole dump.
    pub max_blob_bytes: Option<u64>,
    /// Kubernetes' e2e specs to run after the suites (`kdc e2e`, an e2e cell).
    pub e2e: Option<crate::e2e::E2eOptions>,
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
    /// The failed cases, `Up`, `Dump` and `Down` included: what a diagnosis reads.
    pub failures: Vec<Failure>,
    /// The cluster's containers and their state when the failure was seen, before the dump
    /// (empty when nothing failed).
    pub containers: Vec<Container>,
    /// Files cut from the blob in the log to fit `max_blob_bytes`.
    pub trimmed: Vec<crate::dump::trim::TrimmedFile>,
    /// Cases that failed and then passed on a retry.
    pub flaky: usize,
    /// Where the e2e run's `junit_01.xml` and `e2e.log` went.
    pub e2e_dir: Option<PathBuf>,
}

/// A failed case.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Failure {
    pub class: String,
    pub name: String,
    pub message: String,
}

/// A container of the cluster as the failure found it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Container {
    pub name: String,
    /// kdc's role label (`control-plane`, `worker`, the support containers' roles).
    pub role: String,
    pub state: String,
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
    // Every event goes through the tap, which keeps the failures for the result.
    let tap = Tap::new(events.clone());
    let events = &Emitter::new(tap.clone());
    let names: Vec<&str> = suites.iter().map(|(s, _)| s.name.as_str()).collect();
    let name = match &opts.e2e {
        Some(e) if names.is_empty() => (if e.serial {
            "kdc e2e-serial"
        } else {
            "kdc e2e"
        })
        .to_string(),
        Some(_) => format!("kdc test run {} + e2e", names.join(" ")),
        None => format!("kdc test run {}", names.join(" ")),
    };
    events.emit(EventKind::RunStarted { name });
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

    // The suites. On Kubernetes their pod cases run in kdc's pods, started here (a `Pods`
    // step) when a pod case would run, and removed after the checks, also when interrupted.
    if !result.up_failed && !result.interrupted && !suites.is_empty() {
        let routes = crate::cluster::host_routes::container_name(plan);
        let mut target = Target {
            exec,
            plan,
            targets: opts.targets,
            host_possible: opts.host_possible.clone(),
            host_routes: matches!(provider.container(&routes).await, Ok(Some(c)) if c.state == "running"),
            pods: Pods::Sandboxes,
        };
        let kube = match pods::kubernetes(exec, plan).await {
            Ok(kube) => kube,
            Err(why) => {
                events.note(format!("{why}; pod checks run in the CNI sandboxes"));
                false
            }
        };
        if kube {
            target.pods = Pods::Kubernetes(Default::default());
        }
        let kube_pods = kube && runner::wants_pods(&target, suites);
        let checks = async {
            if kube_pods {
                let t = Instant::now();
                events.emit(EventKind::ActionStarted {
                    name: "pods".into(),
                    detail: format!("Starting kdc's pod on each node ({})", plan.master().name),
                });
                let started = pods::start(exec, plan, pods::READY_TIMEOUT).await;
                let problems = started.problems();
                events.emit(EventKind::ActionFinished {
                    name: "pods".into(),
                    detail: "Starting kdc's pod on each node".into(),
                    elapsed: t.elapsed(),
                    error: (!problems.is_empty()).then(|| problems.join("; ")),
                });
                let outcome = if problems.is_empty() {
                    Outcome::Passed
                } else {
                    Outcome::Failed {
                        message: problems.join("; "),
                    }
                };
                step_case(events, "Pods", t, outcome, started.transcript.clone());
                target.pods = Pods::Kubernetes(started.pods);
            }
            run_checks(&target, suites, events, &tap, opts.retries).await
        };
        tokio::select! {
            (stats, flaky) = checks => {
                result.stats = stats;
                result.flaky = flaky;
            }
            // Checks create nothing but kdc's pods, which go below.
            _ = stop.wait() => result.interrupted = true,
        }
        if kube_pods && let Err(why) = pods::delete(exec, plan).await {
            events.note(why);
        }
    }
    if let Some(e2e) = opts
        .e2e
        .as_ref()
        .filter(|_| !result.up_failed && !result.interrupted)
    {
        let r = crate::e2e::run::run(
            &crate::e2e::run::Target {
                provider,
                exec,
                plan,
                artifacts: &opts.artifacts,
            },
            e2e,
            events,
            stop,
        )
        .await;
        result.stats.merge(&r.stats);
        result.interrupted |= r.interrupted;
        result.e2e_dir = r.dir;
    }

    // Dump, before anything is torn down.
    let failed = result.up_failed || result.stats.failed > 0;
    if failed && exists && !result.interrupted {
        let t = Instant::now();
        if let Ok(listed) = provider
            .list_containers(&cluster::spec::cluster_filter(&plan.cluster.label))
            .await
        {
            result.containers = listed
                .into_iter()
                .map(|c| Container {
                    role: c.role().unwrap_or("").to_string(),
                    name: c.name,
                    state: c.state,
                })
                .collect();
            result.containers.sort_by(|a, b| a.name.cmp(&b.name));
        }
        let dir = fresh_dir(&opts.artifacts, "dump");
        match dump(provider, exec, plan, opts, &dir, blob_out).await {
            Ok((summary, trimmed)) => {
                result.trimmed = trimmed;
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
    result.failures = tap.failures();
    result
}

/// Forwards every event to the cell's emitter and keeps each failed case it forwards. While
/// holding (the first run of the checks when retries are allowed), failed check cases are
/// kept back instead: the retries decide whether they are failures or flaky.
#[derive(Clone)]
struct Tap {
    forward: Emitter,
    state: std::sync::Arc<std::sync::Mutex<TapState>>,
}

#[derive(Default)]
struct TapState {
    hold: bool,
    held: Vec<EventKind>,
    failures: Vec<Failure>,
}

impl Tap {
    fn new(forward: Emitter) -> Tap {
        Tap {
            forward,
            state: Default::default(),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, TapState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn hold(&self, on: bool) -> Vec<EventKind> {
        let mut s = self.state();
        s.hold = on;
        std::mem::take(&mut s.held)
    }

    fn failures(&self) -> Vec<Failure> {
        self.state().failures.clone()
    }
}

impl crate::report::Reporter for Tap {
    fn report(&mut self, event: &crate::report::Event) {
        if let EventKind::CaseFinished {
            class,
            name,
            outcome: Outcome::Failed { message },
            ..
        } = &event.kind
        {
            let mut s = self.state();
            if s.hold && class != crate::report::junit::KDC_CLASS {
                s.held.push(event.kind.clone());
                return;
            }
            s.failures.push(Failure {
                class: class.clone(),
                name: name.clone(),
                message: message.clone(),
            });
        }
        self.forward.emit(event.kind.clone());
    }
}

/// The checks, each failed one run again up to `retries` times: a case that then passes is
/// reported as [`Outcome::Flaky`], one that never does as its last failure. Returns the stats
/// (flaky cases count as passed) and how many were flaky.
async fn run_checks(
    target: &Target<'_>,
    suites: &[(Suite, Vec<String>)],
    events: &Emitter,
    tap: &Tap,
    retries: u32,
) -> (Stats, usize) {
    if retries == 0 {
        return (runner::run(target, suites, events).await, 0);
    }
    tap.hold(true);
    let mut stats = runner::run(target, suites, events).await;
    let mut failing = tap.hold(false);
    // (class, name) → the messages of its failed attempts.
    let mut attempts: Vec<((String, String), Vec<String>)> = failing
        .iter()
        .filter_map(|k| match k {
            EventKind::CaseFinished {
                class,
                name,
                outcome: Outcome::Failed { message },
                ..
            } => Some(((class.clone(), name.clone()), vec![message.clone()])),
            _ => None,
        })
        .collect();
    let mut flaky = 0;
    for attempt in 1..=retries {
        if failing.is_empty() {
            break;
        }
        let again: Vec<(Suite, Vec<String>)> = suites
            .iter()
            .filter_map(|(suite, _)| {
                let mut ids: Vec<String> = attempts
                    .iter()
                    .filter(|((class, _), _)| *class == suite.name)
                    .map(|((_, name), _)| name.split(" on ").next().unwrap_or(name).to_string())
                    .collect();
                ids.dedup();
                (!ids.is_empty()).then(|| (suite.clone(), ids))
            })
            .collect();
        events.note(format!(
            "retrying {} failed case{} (retry {attempt} of {retries})",
            attempts.len(),
            crate::text::plural(attempts.len()),
        ));
        let (local, rec) = crate::report::Recorder::emitter();
        runner::run(target, &again, &local).await;
        let mut still = Vec::new();
        for e in rec.events() {
            let EventKind::CaseFinished {
                class,
                name,
                elapsed,
                outcome,
                output,
            } = e.kind
            else {
                continue;
            };
            let key = (class.clone(), name.clone());
            let Some(i) = attempts.iter().position(|(k, _)| *k == key) else {
                continue;
            };
            let (failed_again, outcome) = match outcome {
                Outcome::Failed { message } => {
                    attempts[i].1.push(message.clone());
                    (true, Outcome::Failed { message })
                }
                _ => {
                    let (_, failures) = attempts.remove(i);
                    flaky += 1;
                    stats.failed -= 1;
                    stats.passed += 1;
                    (false, Outcome::Flaky { failures })
                }
            };
            let kind = EventKind::CaseFinished {
                class,
                name,
                elapsed,
                outcome,
                output,
            };
            if failed_again {
                still.push(kind);
            } else {
                events.emit(kind);
            }
        }
        failing = still;
    }
    for kind in failing {
        events.emit(kind);
    }
    (stats, flaky)
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
) -> Result<(String, Vec<crate::dump::trim::TrimmedFile>), String> {
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
    let mut trimmed = Vec::new();
    match opts.max_blob_bytes {
        None => {
            let mut blob =
                BlobWriter::new(&mut *blob_out, 6).map_err(|e| format!("stdout: {e}"))?;
            blob.write_all(&text).map_err(|e| format!("stdout: {e}"))?;
            blob.finish().map_err(|e| format!("stdout: {e}"))?;
        }
        Some(max) => {
            let fitted = crate::dump::trim::fit(&text, 6, max).map_err(|e| e.to_string())?;
            blob_out
                .write_all(&fitted.blob)
                .and_then(|_| blob_out.flush())
                .map_err(|e| format!("stdout: {e}"))?;
            trimmed = fitted.trimmed;
        }
    }
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
    for t in &trimmed {
        s += &format!(
            "trimmed in the log to fit --max-bytes: {} (kept the last {} of {} bytes)\n",
            t.name, t.kept, t.bytes
        );
    }
    for e in errors {
        s += &format!("dump: {e}\n");
    }
    Ok((s, trimmed))
}

/// `<parent>/<name>`, or the first of `<name>-2`, `<name>-3`, … that does not exist.
pub(crate) fn fresh_dir(parent: &std::path::Path, name: &str) -> PathBuf {
    std::iter::once(parent.join(name))
        .chain((2..).map(|n| parent.join(format!("{name}-{n}"))))
        .find(|p| !p.exists())
        .expect("an unbounded sequence has a free name")
}
