//! One e2e run against a cluster that is up, from this host through the API server's published
//! address (as kubetest2 runs e2e.test against kind): the test images into every node's
//! containerd, a dry run that says which specs the focus selects, ginkgo with e2e.test, then
//! each selected spec folded into kdc's report as a case of its `[sig-…]`.
//!
//! ginkgo writes `e2e.log` and e2e.test `junit_01.xml` into `<artifacts>/e2e` (`e2e-2`, … when
//! an earlier run's are there). Progress is read from the log as it grows: ginkgo prints one
//! `•` per finished spec.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::junit::{self, E2eRun, Spec, Status};
use super::{Bundle, E2eOptions, Selection, Skip};
use crate::cluster;
use crate::node;
use crate::plan::Plan;
use crate::report::{Emitter, EventKind, Outcome};
use crate::runtime::{ExecRequest, NodeExec, Provider};
use crate::signal::Stop;
use crate::suite::runner::Stats;

/// Where a node records which bundle's images it holds.
const LOADED_MARK: &str = "/var/lib/kdc/e2e-images";

/// What the run did, for the cell and the summary.
#[derive(Debug, Default)]
pub struct E2eResult {
    pub stats: Stats,
    /// `<artifacts>/e2e…`, once made.
    pub dir: Option<PathBuf>,
    pub interrupted: bool,
}

/// A step of the run that failed before any spec ran: its message.
type StepError = String;

/// The cluster a run tests and where its files go.
pub struct Target<'a> {
    pub provider: &'a dyn Provider,
    pub exec: &'a dyn NodeExec,
    pub plan: &'a Plan,
    /// The artifacts directory: the run's files go to its `e2e` (`e2e-2`, …).
    pub artifacts: &'a Path,
}

/// Runs the e2e specs `opts` selects on the target's cluster and reports each as a case.
/// Steps that fail before the specs run are one failed case of class `kdc` (`E2e`).
pub async fn run(t: &Target<'_>, opts: &E2eOptions, events: &Emitter, stop: &Stop) -> E2eResult {
    let started = Instant::now();
    let mut result = E2eResult::default();
    match run_steps(t, opts, events, stop, &mut result).await {
        Ok(()) => {}
        Err(message) => {
            result.stats.failed += 1;
            events.emit(EventKind::CaseFinished {
                class: crate::report::junit::KDC_CLASS.into(),
                name: "E2e".into(),
                elapsed: started.elapsed(),
                outcome: Outcome::Failed { message },
                output: String::new(),
            });
        }
    }
    result
}

async fn run_steps(
    t: &Target<'_>,
    opts: &E2eOptions,
    events: &Emitter,
    stop: &Stop,
    result: &mut E2eResult,
) -> Result<(), StepError> {
    let Target {
        provider,
        exec,
        plan,
        artifacts,
    } = *t;
    // The release the master runs, whatever the configuration says now.
    let image = match provider.container(&plan.master().name).await {
        Ok(Some(c)) => c.image,
        Ok(None) => plan.image.clone(),
        Err(e) => return Err(e.to_string()),
    };
    let release = cluster::image_kubernetes(provider, &image)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| {
            format!(
                "the node image {image} carries no Kubernetes: e2e needs a cluster brought up with the kubeadm bootstrapper"
            )
        })?;
    let bundle = Bundle::open(&opts.bundles, &release)?;
    let selection = Selection::of(opts);
    let skips = bundle.skips();

    step(
        events,
        "e2e-images",
        "Loading the e2e test images into each node's containerd",
        || load_images(exec, plan, &bundle),
    )
    .await?;

    let kubeconfig = step(
        events,
        "e2e-kubeconfig",
        "Writing the e2e run's kubeconfig",
        || kubeconfig(provider, exec, plan),
    )
    .await?;

    let dir = crate::suite::cell::fresh_dir(artifacts, "e2e");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    result.dir = Some(dir.clone());

    // Which specs the focus selects (all of them, also those whose image is missing).
    let dry = dir.join("dry-run");
    let selected = step(
        events,
        "e2e-select",
        &format!(
            "Selecting specs of e2e.test {release}: focus {} skip {}",
            selection.focus,
            if selection.skip.is_empty() {
                "(none)"
            } else {
                &selection.skip
            }
        ),
        || dry_run(&bundle, &selection, kubeconfig.path(), &dry),
    )
    .await?;
    let _ = std::fs::remove_dir_all(&dry);
    let (runnable, missing): (Vec<&Spec>, Vec<&Spec>) = selected
        .specs
        .iter()
        .filter(|s| s.selected())
        .partition(|s| skip_of(&skips, &s.text).is_none());
    if runnable.is_empty() && missing.is_empty() {
        return Err(format!(
            "focus {} (skip {}) selects no spec of e2e.test {release}",
            selection.focus, selection.skip
        ));
    }
    for s in &missing {
        let why = skip_of(&skips, &s.text).expect("partitioned by it");
        let outcome = Outcome::Skipped {
            reason: why.reason.clone(),
        };
        result.stats.add(&outcome);
        events.emit(EventKind::CaseFinished {
            class: super::class_of(s),
            name: s.text.clone(),
            elapsed: Duration::ZERO,
            outcome,
            output: String::new(),
        });
    }
    if runnable.is_empty() {
        return Ok(());
    }

    let patterns: Vec<&str> = skips.iter().map(|s| s.pattern.as_str()).collect();
    let run = selection.skipping(&patterns);
    let argv = ginkgo_argv(&bundle, &run, opts, kubeconfig.path(), &dir);
    let t = Instant::now();
    let detail = format!(
        "Running {} spec{} of e2e.test {release} ({} at a time); log: {}",
        runnable.len(),
        crate::text::plural(runnable.len()),
        if opts.serial { 1 } else { opts.parallel },
        dir.join("e2e.log").display()
    );
    events.emit(EventKind::ActionStarted {
        name: "e2e".into(),
        detail: detail.clone(),
    });
    let status = ginkgo(&argv, &dir, runnable.len(), events, stop).await;
    let interrupted = matches!(status, Ok(None));
    events.emit(EventKind::ActionFinished {
        name: "e2e".into(),
        detail,
        elapsed: t.elapsed(),
        error: match &status {
            Err(e) => Some(e.clone()),
            Ok(None) => Some("interrupted".into()),
            Ok(Some(_)) => None,
        },
    });
    result.interrupted = interrupted;
    let code = status?;

    let report = dir.join("junit_01.xml");
    let parsed = std::fs::File::open(&report)
        .map_err(|e| e.to_string())
        .and_then(|f| junit::parse(std::io::BufReader::new(f)).map_err(|e| e.to_string()));
    let parsed = match parsed {
        Ok(p) => p,
        Err(e) if interrupted => {
            events.note(format!("no JUnit from the interrupted run ({e})"));
            return Ok(());
        }
        Err(e) => {
            return Err(format!(
                "e2e.test wrote no readable {} ({e}); ginkgo exited with {}; the end of {}:\n{}",
                report.display(),
                code.map_or("a signal".into(), |c| c.to_string()),
                dir.join("e2e.log").display(),
                log_tail(&dir.join("e2e.log"), 30)
            ));
        }
    };
    fold(&parsed, events, &mut result.stats);
    if interrupted {
        return Ok(());
    }
    if !parsed.complete {
        return Err(format!(
            "the run was cut off: {}",
            parsed.problems.join("; ")
        ));
    }
    // Specs ginkgo never reached (its --timeout, a failed BeforeSuite) are written as plain
    // skips, like the ones the focus left out: only the dry run's count tells them apart.
    let ran = parsed.selected().count();
    if ran < runnable.len() {
        return Err(format!(
            "{} of the {} selected specs did not run (ginkgo exited with {}); the end of {}:\n{}",
            runnable.len() - ran,
            runnable.len(),
            code.map_or("a signal".into(), |c| c.to_string()),
            dir.join("e2e.log").display(),
            log_tail(&dir.join("e2e.log"), 30)
        ));
    }
    Ok(())
}

/// Runs one step as an action: started, finished (with its error).
async fn step<T, F, Fut>(events: &Emitter, name: &str, detail: &str, f: F) -> Result<T, String>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<T, String>>,
{
    let t = Instant::now();
    events.emit(EventKind::ActionStarted {
        name: name.into(),
        detail: detail.into(),
    });
    let r = f().await;
    events.emit(EventKind::ActionFinished {
        name: name.into(),
        detail: detail.into(),
        elapsed: t.elapsed(),
        error: r.as_ref().err().cloned(),
    });
    r
}

/// The first skip whose pattern matches the spec.
fn skip_of<'a>(skips: &'a [Skip], text: &str) -> Option<&'a Skip> {
    skips.iter().find(|s| {
        regex::Regex::new(&s.pattern)
            .map(|re| re.is_match(text))
            .unwrap_or(false)
    })
}

/// The bundle's images into every node's containerd at once, unless the node holds them
/// already (its mark names the bundle's inputs).
async fn load_images(exec: &dyn NodeExec, plan: &Plan, bundle: &Bundle) -> Result<(), String> {
    let tar = std::sync::OnceLock::<Vec<u8>>::new();
    let path = bundle.dir.join("images.tar");
    let tar = &tar;
    let path = &path;
    let loads = plan.nodes.iter().map(|n| async move {
        let mark = node::read_file(exec, &n.name, LOADED_MARK).await.unwrap_or_default();
        if String::from_utf8_lossy(&mark).trim() == bundle.inputs {
            return Ok(());
        }
        let data = match tar.get() {
            Some(d) => d.clone(),
            None => {
                let d = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
                let _ = tar.set(d);
                tar.get().expect("just set").clone()
            }
        };
        let script = format!(
            "set -e\nctr -n k8s.io images import --local - >/dev/null\nprintf '%s\\n' '{}' >{LOADED_MARK}\n",
            bundle.inputs
        );
        exec.exec(
            &n.name,
            ExecRequest::new(["bash", "-c", &script])
                .stdin(data)
                .timeout(Duration::from_secs(600)),
        )
        .await
        .and_then(|o| o.ok())
        .map(|_| ())
        .map_err(|e| format!("{}: {e}", n.name))
    });
    futures_util::future::try_join_all(loads).await?;
    Ok(())
}

/// The admin kubeconfig (server at the published address) in a file only this user reads,
/// removed when dropped.
async fn kubeconfig(
    provider: &dyn Provider,
    exec: &dyn NodeExec,
    plan: &Plan,
) -> Result<tempfile::NamedTempFile, String> {
    let text = crate::cluster::actions::kubeconfig::published(provider, exec, plan).await?;
    let mut file = tempfile::Builder::new()
        .prefix("kdc-e2e-kubeconfig-")
        .tempfile()
        .map_err(|e| e.to_string())?;
    std::io::Write::write_all(&mut file, text.as_bytes()).map_err(|e| e.to_string())?;
    Ok(file)
}

/// The flags e2e.test takes in both runs.
fn test_args(bundle: &Bundle, kubeconfig: &Path, report_dir: &Path) -> Vec<String> {
    vec![
        format!("--kubeconfig={}", kubeconfig.display()),
        format!("--kubectl-path={}", bundle.bin("kubectl").display()),
        "--provider=skeleton".into(),
        format!("--report-dir={}", report_dir.display()),
        "--disable-log-dump".into(),
    ]
}

/// e2e.test's dry run: every spec the selection picks, none run.
async fn dry_run(
    bundle: &Bundle,
    selection: &Selection,
    kubeconfig: &Path,
    dir: &Path,
) -> Result<E2eRun, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut args = test_args(bundle, kubeconfig, dir);
    args.push("--ginkgo.dry-run".into());
    args.push(format!("--ginkgo.focus={}", selection.focus));
    if !selection.skip.is_empty() {
        args.push(format!("--ginkgo.skip={}", selection.skip));
    }
    if !selection.labels.is_empty() {
        args.push(format!("--ginkgo.label-filter={}", selection.labels));
    }
    let out = tokio::process::Command::new(bundle.bin("e2e.test"))
        .args(&args)
        .current_dir(dir)
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| format!("{}: {e}", bundle.bin("e2e.test").display()))?;
    let report = dir.join("junit_01.xml");
    let file = std::fs::File::open(&report).map_err(|e| {
        let said = String::from_utf8_lossy(&out.stderr);
        format!(
            "the dry run wrote no {} ({e}); e2e.test said:\n{}",
            report.display(),
            tail(&said, 20)
        )
    })?;
    junit::parse(std::io::BufReader::new(file)).map_err(|e| e.to_string())
}

/// ginkgo's command line for the real run.
pub fn ginkgo_argv(
    bundle: &Bundle,
    selection: &Selection,
    opts: &E2eOptions,
    kubeconfig: &Path,
    dir: &Path,
) -> Vec<String> {
    let mut argv = vec![
        bundle.bin("ginkgo").display().to_string(),
        format!(
            "--procs={}",
            if opts.serial { 1 } else { opts.parallel.max(1) }
        ),
        format!("--timeout={}s", opts.timeout.as_secs()),
        "--no-color".into(),
        format!("--focus={}", selection.focus),
    ];
    if !selection.skip.is_empty() {
        argv.push(format!("--skip={}", selection.skip));
    }
    if !selection.labels.is_empty() {
        argv.push(format!("--label-filter={}", selection.labels));
    }
    argv.push(bundle.bin("e2e.test").display().to_string());
    argv.push("--".into());
    argv.extend(test_args(bundle, kubeconfig, dir));
    argv
}

/// Runs ginkgo, its output into `<dir>/e2e.log`, reporting progress as the log grows. `Ok(None)`
/// when stopped (ginkgo gets SIGINT, then SIGKILL after 30 s), else its exit code.
async fn ginkgo(
    argv: &[String],
    dir: &Path,
    total: usize,
    events: &Emitter,
    stop: &Stop,
) -> Result<Option<i32>, String> {
    let log_path = dir.join("e2e.log");
    let log =
        std::fs::File::create(&log_path).map_err(|e| format!("{}: {e}", log_path.display()))?;
    let err = log.try_clone().map_err(|e| e.to_string())?;
    let mut child = tokio::process::Command::new(&argv[0])
        .args(&argv[1..])
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .stdout(log)
        .stderr(err)
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("{}: {e}", argv[0]))?;
    let pid = child.id().map(|p| p as i32);
    let mut progress = Progress::default();
    let mut tick = tokio::time::interval(Duration::from_secs(2));
    loop {
        tokio::select! {
            status = child.wait() => {
                progress.read(&log_path, events, total);
                return status.map(|s| Some(s.code().unwrap_or(-1))).map_err(|e| e.to_string());
            }
            _ = tick.tick() => progress.read(&log_path, events, total),
            _ = stop.wait() => {
                if let Some(pid) = pid {
                    // SAFETY: a signal to the process group ginkgo leads; no memory involved.
                    unsafe { libc::kill(-pid, libc::SIGINT) };
                }
                if tokio::time::timeout(Duration::from_secs(30), child.wait()).await.is_err() {
                    if let Some(pid) = pid {
                        // SAFETY: as above.
                        unsafe { libc::kill(-pid, libc::SIGKILL) };
                    }
                    let _ = child.wait().await;
                }
                return Ok(None);
            }
        }
    }
}

/// Counts finished specs in the growing log: ginkgo prints `•` for each, on lines that can
/// stay open for minutes (a row of `S` and `•`).
#[derive(Default)]
struct Progress {
    offset: u64,
    done: usize,
}

/// `•` in UTF-8.
const MARK: &[u8] = "•".as_bytes();

impl Progress {
    fn read(&mut self, path: &Path, events: &Emitter, total: usize) {
        use std::io::{Read, Seek, SeekFrom};
        let Ok(mut f) = std::fs::File::open(path) else {
            return;
        };
        let mut buf = Vec::new();
        if f.seek(SeekFrom::Start(self.offset)).is_err() || f.read_to_end(&mut buf).is_err() {
            return;
        }
        // Leave a mark cut by the end of what was written for the next read.
        let keep = (1..MARK.len())
            .rev()
            .find(|&k| buf.ends_with(&MARK[..k]))
            .unwrap_or(0);
        let whole = &buf[..buf.len() - keep];
        self.offset += whole.len() as u64;
        let done = count_finished(whole);
        if done > 0 {
            self.done += done;
            events.emit(EventKind::ActionProgress {
                name: "e2e".into(),
                done: self.done.min(total),
                total,
            });
        }
    }
}

/// Finished specs in a piece of ginkgo's output.
pub fn count_finished(out: &[u8]) -> usize {
    out.windows(MARK.len()).filter(|w| *w == MARK).count()
}

/// Each selected spec as a case: class its sig, name its text, a failure's first error line as
/// the message and the failures' text as its output.
pub fn fold(run: &E2eRun, events: &Emitter, stats: &mut Stats) {
    for spec in run.selected() {
        let outcome = match spec.status {
            Status::Passed => Outcome::Passed,
            Status::Skipped | Status::Pending => Outcome::Skipped {
                reason: spec
                    .skip_reason
                    .clone()
                    .unwrap_or_else(|| format!("{:?}", spec.status).to_lowercase()),
            },
            _ => Outcome::Failed {
                message: junit::first_error_line(spec)
                    .unwrap_or_else(|| format!("{:?}", spec.status).to_lowercase()),
            },
        };
        stats.add(&outcome);
        let output = spec
            .failures
            .iter()
            .map(|f| f.text.trim_end().to_string())
            .collect::<Vec<_>>()
            .join("\n");
        events.emit(EventKind::CaseFinished {
            class: super::class_of(spec),
            name: spec.text.clone(),
            elapsed: spec.elapsed,
            outcome,
            output,
        });
    }
}

fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

fn log_tail(path: &Path, n: usize) -> String {
    std::fs::read(path)
        .map(|b| tail(&String::from_utf8_lossy(&b), n))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_finished_specs_in_ginkgo_output_also_on_an_open_line() {
        let out =
            "SSSS•SS•\n• [FAILED] [12.3 seconds]\n[sig-network] DNS\n•• [TIMEDOUT] [600 s]\nS";
        assert_eq!(count_finished(out.as_bytes()), 5);
        assert_eq!(count_finished(b"SSSSSSS"), 0);
        // A mark cut by the end of a read is counted once, by the next.
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("e2e.log");
        let (events, seen) = crate::report::Recorder::emitter();
        let mut p = Progress::default();
        std::fs::write(&log, [b"SS".as_slice(), MARK, &MARK[..2]].concat()).unwrap();
        p.read(&log, &events, 10);
        assert_eq!(p.done, 1);
        std::fs::write(&log, [b"SS".as_slice(), MARK, MARK, b"S"].concat()).unwrap();
        p.read(&log, &events, 10);
        assert_eq!(p.done, 2);
        let last = seen.events().into_iter().last().unwrap().kind;
        assert_eq!(
            last,
            EventKind::ActionProgress {
                name: "e2e".into(),
                done: 2,
                total: 10
            }
        );
    }

    #[test]
    fn ginkgo_runs_the_bundle_with_the_selection() {
        let bundle = Bundle {
            dir: PathBuf::from("/b"),
            release: "v1.36.3".into(),
            inputs: "h".into(),
            images: vec![],
            unbuilt: vec![],
        };
        let opts = E2eOptions::new(PathBuf::from("/b"));
        let sel = Selection::of(&opts).skipping(&["NFS"]);
        let argv = ginkgo_argv(&bundle, &sel, &opts, Path::new("/k"), Path::new("/a/e2e"));
        assert_eq!(
            argv,
            [
                "/b/bin/ginkgo",
                "--procs=4",
                "--timeout=86400s",
                "--no-color",
                r"--focus=\[Conformance\]",
                r"--skip=\[Serial\]|\[Disruptive\]|NFS",
                "/b/bin/e2e.test",
                "--",
                "--kubeconfig=/k",
                "--kubectl-path=/b/bin/kubectl",
                "--provider=skeleton",
                "--report-dir=/a/e2e",
                "--disable-log-dump",
            ]
        );
        let serial = E2eOptions {
            serial: true,
            ..opts
        };
        let argv = ginkgo_argv(
            &bundle,
            &Selection::of(&serial),
            &serial,
            Path::new("/k"),
            Path::new("/a"),
        );
        assert_eq!(argv[1], "--procs=1");
        assert!(!argv.iter().any(|a| a.starts_with("--skip=")), "{argv:?}");
        assert_eq!(argv[5], "--label-filter=Serial", "{argv:?}");
    }
}
