//! Running suites against a cluster: the cases of every node and its pod in one command per
//! node, the host's cases in kdc itself, all at once; judging; events for the reporters. On a
//! Kubernetes cluster the pod cases run in kdc's pods instead (see [`super::pods`]): as
//! `kubectl exec` commands in the master's one command.
//!
//! Each `docker exec` costs the engine about 30 ms of CPU, and on two cores that, not the
//! checks, bounds a suite (measured: 17 checks one exec after another 2.1-2.4 s, one exec per
//! node with the checks concurrent inside 0.7-0.9 s). So a node gets one exec: a small runner
//! reads its cases on stdin, runs them all in the background, each under `timeout`, and prints
//! one result line per case at the end, in order. Checks never depend on each other to *run*;
//! `same_as` compares answers afterwards, so every case runs concurrently.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::model::Family;
use super::pods::{self, Pods};
use super::{Answers, Case, Facts, Raw, Run, Suite, TargetsKind, Where, expand, judge, shell};
use crate::cluster::actions::sandboxes;
use crate::plan::Plan;
use crate::report::{Emitter, EventKind, Outcome};
use crate::runtime::{ExecRequest, NodeExec};

/// What a run of suites counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Stats {
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
}

impl Stats {
    pub fn add(&mut self, o: &Outcome) {
        match o {
            Outcome::Passed | Outcome::Flaky { .. } => self.passed += 1,
            Outcome::Failed { .. } => self.failed += 1,
            Outcome::Skipped { .. } => self.skipped += 1,
        }
    }

    /// Adds another run's counts (a cell's e2e specs to its checks').
    pub fn merge(&mut self, other: &Stats) {
        self.passed += other.passed;
        self.failed += other.failed;
        self.skipped += other.skipped;
    }

    pub fn total(&self) -> usize {
        self.passed + self.failed + self.skipped
    }
}

/// Where the suites run and what kdc knows about it beyond the plan.
pub struct Target<'a> {
    pub exec: &'a dyn NodeExec,
    pub plan: &'a Plan,
    pub targets: TargetsKind,
    /// `Err(why)` when kdc cannot reach container addresses from here (a remote engine).
    pub host_possible: Result<(), String>,
    /// Whether the cluster holds host routes (`--host-routes`).
    pub host_routes: bool,
    /// Where pod cases run: the nodes' CNI sandboxes, or kdc's pods on Kubernetes.
    pub pods: Pods,
}

/// The runner inside a node: cases come on stdin as `index<TAB>seconds<TAB>base64 of the
/// command`; each runs under `timeout` in the background (at most 32 at once), its exit code,
/// milliseconds and base64 output go to a file of its own; at the end one line per case, in
/// index order. One `printf` per result into its own file: concurrent cases never interleave.
const NODE_RUNNER: &str = r#"d=$(mktemp -d)
n=0
while IFS=$'\t' read -r i t c; do
  if [ "$n" -ge 32 ]; then wait -n; n=$((n - 1)); fi
  n=$((n + 1))
  ( s=$(date +%s%N)
    o=$(timeout -k 1 "$t" bash -c "$(printf %s "$c" | base64 -d)" 2>&1)
    r=$?
    e=$(date +%s%N)
    printf '%s %s %s\n' "$r" "$(( (e - s) / 1000000 ))" "$(printf %s "$o" | base64 -w0)" > "$d/$i" ) &
done
wait
for f in $(ls "$d" | sort -n); do printf '%s %s\n' "$f" "$(cat "$d/$f")"; done
rm -rf "$d""#;

/// The pods' addresses from each node's kept ADD result (the sandbox action wrote it).
pub async fn pod_facts(
    exec: &dyn NodeExec,
    plan: &Plan,
) -> BTreeMap<String, Result<Vec<IpAddr>, String>> {
    let reads = plan.nodes.iter().map(|n| async move {
        let r = exec
            .exec(&n.name, ExecRequest::new(["cat", sandboxes::RESULT]).timeout(Duration::from_secs(20)))
            .await
            .map_err(|e| e.to_string())
            .and_then(|o| {
                if o.code == 0 {
                    sandboxes::addresses(&o.stdout)
                } else {
                    Err(format!(
                        "{n} has no pod sandbox ({}): bring the cluster up with `kdc up --bootstrapper none`",
                        o.combined_text().trim(),
                        n = n.name
                    ))
                }
            });
        (n.name.clone(), r)
    });
    futures_util::future::join_all(reads)
        .await
        .into_iter()
        .collect()
}

/// Whether pod cases can run here, and why not: kdc's sandboxes are made by the bridge and ptp
/// plugins only; on Kubernetes kubelet runs the pods, whatever the plugin.
fn pods_possible(target: &Target<'_>) -> Result<(), String> {
    let plan = target.plan;
    if matches!(target.pods, Pods::Kubernetes(_)) || plan.cni_plugin.supports_ipv6_pods() {
        Ok(())
    } else {
        Err(format!(
            "CNI_PLUGIN={} needs Kubernetes to run pods; kdc's pod sandboxes are for bridge and ptp",
            plan.cni_plugin.as_str()
        ))
    }
}

/// The facts of the target, with these pods.
fn facts<'a>(
    target: &Target<'a>,
    pods: BTreeMap<String, Result<Vec<IpAddr>, String>>,
) -> Facts<'a> {
    let plan = target.plan;
    let mut facts = Facts::new(plan, plan.dns.real_aaaa);
    facts.targets = target.targets;
    facts.pods = pods;
    facts.pods_possible = pods_possible(target);
    facts.host_possible = target.host_possible.clone();
    facts.host_routes = target.host_routes;
    facts
}

/// Whether the selected checks have a pod case that would run on this cluster if every node
/// had a pod: then kdc starts its pods on a Kubernetes cluster (on every node, since a pod case
/// may name another node's pod address). The pods stand in with their nodes' addresses here.
pub fn wants_pods(target: &Target<'_>, suites: &[(Suite, Vec<String>)]) -> bool {
    let stand_in = target
        .plan
        .nodes
        .iter()
        .map(|n| (n.name.clone(), Ok(n.addresses.clone())))
        .collect();
    let facts = facts(target, stand_in);
    suites
        .iter()
        .flat_map(|(suite, checks)| expand(suite, checks, &facts))
        .any(|c| matches!(c.place, Where::Pod(_)) && c.skip.is_none())
}

/// Runs the selected checks of `suites` on the target and judges them; every case is reported
/// as a `CaseFinished` event (class = the suite's name).
pub async fn run(target: &Target<'_>, suites: &[(Suite, Vec<String>)], events: &Emitter) -> Stats {
    let plan = target.plan;
    let pods = match &target.pods {
        Pods::Kubernetes(pods) => pods.clone(),
        Pods::Sandboxes if pods_possible(target).is_ok() => pod_facts(target.exec, plan).await,
        Pods::Sandboxes => BTreeMap::new(),
    };
    let mut facts = facts(target, pods);
    if target.targets == TargetsKind::Internet {
        facts.target_addresses = internet_targets().await;
    }
    let cases: Vec<Case> = suites
        .iter()
        .flat_map(|(suite, checks)| expand(suite, checks, &facts))
        .collect();
    let total = cases.len();
    let detail = format!(
        "Running {total} check{} of {}",
        crate::text::plural(total),
        suites
            .iter()
            .map(|(s, _)| s.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    events.emit(EventKind::ActionStarted {
        name: "checks".into(),
        detail: detail.clone(),
    });
    let started = Instant::now();
    let raws = execute(target, &cases, events, total).await;
    // Every answer is recorded before any case is judged, so `same_as` finds the answer it
    // compares with whatever the order.
    let mut answers = Answers::default();
    for (case, ran) in cases.iter().zip(&raws) {
        if let Fate::Done(raw) = ran {
            answers.record(case, raw);
        }
    }
    let mut stats = Stats::default();
    for (case, ran) in cases.iter().zip(&raws) {
        let (outcome, elapsed, output) = match ran {
            Fate::Skipped(reason) => (
                Outcome::Skipped {
                    reason: reason
                        .clone()
                        .or_else(|| case.skip.clone())
                        .unwrap_or_default(),
                },
                Duration::ZERO,
                String::new(),
            ),
            Fate::Done(raw) => (
                judge(case, raw, &answers),
                raw.elapsed,
                transcript(case, raw, target),
            ),
            Fate::Lost(why) => (
                Outcome::Failed {
                    message: format!("{}: {why}", super::describe(case)),
                },
                Duration::ZERO,
                String::new(),
            ),
            Fate::Unrun(raw, why) => (
                Outcome::Failed {
                    message: format!("{}: {why}", super::describe(case)),
                },
                raw.elapsed,
                transcript(case, raw, target),
            ),
        };
        stats.add(&outcome);
        events.emit(EventKind::CaseFinished {
            class: case.suite.clone(),
            name: case.name(),
            elapsed,
            outcome,
            output,
        });
    }
    events.emit(EventKind::ActionFinished {
        name: "checks".into(),
        detail,
        elapsed: started.elapsed(),
        error: (stats.failed > 0).then(|| format!("{} failed", stats.failed)),
    });
    stats
}

/// Where a node or pod case runs and the command it runs there: its node, or on Kubernetes
/// for a pod case the master, with `kubectl exec` into the node's pod. `None` for host cases.
fn placement(case: &Case, target: &Target<'_>) -> Option<(String, String)> {
    let cmd = shell(case)?;
    match (&case.place, &target.pods) {
        (Where::Pod(n), Pods::Kubernetes(_)) => {
            let inner = super::checks::command(case)?;
            Some((
                target.plan.master().name.clone(),
                pods::exec_command(n, &inner),
            ))
        }
        (place, _) => Some((place.node()?.to_string(), cmd)),
    }
}

/// What a case ran and what came back, for JUnit's system-out.
fn transcript(case: &Case, raw: &Raw, target: &Target<'_>) -> String {
    let ran = match placement(case, target) {
        Some((node, cmd)) => {
            format!(
                "$ docker exec {node} bash -c {}",
                crate::runtime::shell_quote(&cmd)
            )
        }
        None => format!("kdc: {}", super::describe(case)),
    };
    format!(
        "{ran}\n{}\n(exit {}, {:.3}s{})\n",
        raw.output.trim_end(),
        raw.code,
        raw.elapsed.as_secs_f64(),
        if raw.timed_out { ", timed out" } else { "" }
    )
}

/// What became of a case.
#[derive(Debug, Clone)]
enum Fate {
    /// Skipped before it ran (its reason is the case's), or found impossible when it ran.
    Skipped(Option<String>),
    Done(Raw),
    /// The node's runner could not run it or gave no result: why.
    Lost(String),
    /// Its command ran but could not run the check (kubectl could not exec into the pod): what
    /// came back, and why.
    Unrun(Raw, String),
}

/// Runs every case that is not skipped: one exec per node, the host's in kdc, all at once.
async fn execute(target: &Target<'_>, cases: &[Case], events: &Emitter, total: usize) -> Vec<Fate> {
    let mut by_node: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    let mut host = Vec::new();
    // Pod cases whose pod is not there: why.
    let mut missing: Vec<(usize, String)> = Vec::new();
    for (i, c) in cases.iter().enumerate() {
        if c.skip.is_some() {
            continue;
        }
        if let (Where::Pod(n), Pods::Kubernetes(pods)) = (&c.place, &target.pods) {
            match pods.get(n) {
                Some(Ok(_)) => {}
                Some(Err(why)) => {
                    missing.push((i, why.clone()));
                    continue;
                }
                None => {
                    missing.push((i, format!("kdc started no pod on {n}")));
                    continue;
                }
            }
        }
        match placement(c, target) {
            Some((node, _)) => by_node.entry(node).or_default().push(i),
            None => host.push(i),
        }
    }
    let done = std::sync::atomic::AtomicUsize::new(0);
    let progress = |n: usize| {
        let d = done.fetch_add(n, std::sync::atomic::Ordering::SeqCst) + n;
        events.emit(EventKind::ActionProgress {
            name: "checks".into(),
            done: d,
            total,
        });
    };
    let nodes = by_node.iter().map(|(node, idx)| {
        let progress = &progress;
        async move {
            let r = run_on_node(target, node, cases, idx).await;
            progress(idx.len());
            r
        }
    });
    let hosts = host.iter().map(|&i| {
        let progress = &progress;
        async move {
            let r = (i, run_on_host(target.plan, &cases[i]).await);
            progress(1);
            r
        }
    });
    let (node_results, host_results) = futures_util::future::join(
        futures_util::future::join_all(nodes),
        futures_util::future::join_all(hosts),
    )
    .await;
    let mut out: Vec<Fate> = vec![Fate::Skipped(None); cases.len()];
    for results in node_results {
        for (i, ran) in results {
            out[i] = ran;
        }
    }
    for (i, ran) in host_results {
        out[i] = ran;
    }
    for (i, why) in missing {
        out[i] = Fate::Lost(why);
    }
    out
}

/// One exec in `node` running the cases `idx` concurrently.
async fn run_on_node(
    target: &Target<'_>,
    node: &str,
    cases: &[Case],
    idx: &[usize],
) -> Vec<(usize, Fate)> {
    let exec = target.exec;
    let mut input = String::new();
    let mut longest = Duration::ZERO;
    for &i in idx {
        let c = &cases[i];
        let (_, cmd) = placement(c, target).expect("node and pod cases have a command");
        longest = longest.max(c.timeout);
        input += &format!(
            "{i}\t{:.3}\t{}\n",
            c.timeout.as_secs_f64(),
            STANDARD.encode(cmd)
        );
    }
    let req = ExecRequest::new(["bash", "-c", NODE_RUNNER])
        .stdin(input)
        .timeout(longest + Duration::from_secs(15));
    let lost_all = |why: String| -> Vec<(usize, Fate)> {
        idx.iter().map(|&i| (i, Fate::Lost(why.clone()))).collect()
    };
    let out = match exec.exec(node, req).await {
        Ok(o) if o.code == 0 => o,
        Ok(o) => {
            return lost_all(format!(
                "the check runner in {node} failed (exit {}): {}",
                o.code,
                super::judge::summary(&o.combined_text())
            ));
        }
        Err(e) => return lost_all(format!("the checks could not run in {node}: {e}")),
    };
    let mut results: Vec<(usize, Fate)> = Vec::new();
    for line in out.stdout_text().lines() {
        let mut f = line.splitn(4, ' ');
        let (Some(i), Some(rc), Some(ms), b64) = (f.next(), f.next(), f.next(), f.next()) else {
            continue;
        };
        let (Ok(i), Ok(code), Ok(ms)) = (i.parse::<usize>(), rc.parse::<i64>(), ms.parse::<u64>())
        else {
            continue;
        };
        if !idx.contains(&i) {
            continue;
        }
        let output = STANDARD
            .decode(b64.unwrap_or("").trim())
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        let elapsed = Duration::from_millis(ms);
        let raw = Raw {
            code,
            output,
            elapsed,
            // `timeout` exits 124 (137 after its KILL); a command may exit 124 itself, but
            // not only after its whole time.
            timed_out: matches!(code, 124 | 137) && elapsed >= cases[i].timeout,
        };
        let fate = match (&cases[i].place, &target.pods) {
            (Where::Pod(n), Pods::Kubernetes(_)) => match pods::exec_result(raw.clone(), n) {
                Ok(raw) => Fate::Done(raw),
                Err(why) => Fate::Unrun(raw, why),
            },
            _ => Fate::Done(raw),
        };
        results.push((i, fate));
    }
    // A case without a result line: the runner died before printing it.
    for &i in idx {
        if !results.iter().any(|(j, _)| *j == i) {
            results.push((
                i,
                Fate::Lost(format!(
                    "no result from the check runner in {node}: {}",
                    super::judge::summary(&out.combined_text())
                )),
            ));
        }
    }
    results
}

/// A host case, run by kdc itself: lookups ask the cluster's bind9 directly, pings use kdc's
/// own ICMP. Reported in the shape node cases have (see [`Raw`]); a ping this process may not
/// send is a skip with the way to allow it.
async fn run_on_host(plan: &Plan, case: &Case) -> Fate {
    let started = Instant::now();
    let done = |code: i64, output: String, timed_out: bool| {
        Fate::Done(Raw {
            code,
            output,
            elapsed: started.elapsed(),
            timed_out,
        })
    };
    match &case.run {
        Run::Lookup { name, family, .. } => {
            let server = host_dns(plan);
            match crate::net::dns::lookup(server, name, dns_family(*family), case.timeout).await {
                Ok(addrs) => done(0, addrs.iter().map(|a| format!("{a}\n")).collect(), false),
                Err(e) => done(
                    1,
                    e.to_string(),
                    matches!(e, crate::net::dns::LookupError::Timeout { .. }),
                ),
            }
        }
        Run::Ping { to, family } => {
            let addr = match to.parse::<IpAddr>() {
                Ok(a) => a,
                Err(_) => {
                    let fam = dns_family(*family);
                    match crate::net::dns::lookup(host_dns(plan), to, fam, case.timeout).await {
                        Ok(a) if !a.is_empty() => a[0],
                        Ok(_) => return done(2, format!("{to}: no address"), false),
                        Err(e) => return done(2, e.to_string(), false),
                    }
                }
            };
            match crate::net::icmp::ping(addr, case.timeout).await {
                Ok(rtt) => done(
                    0,
                    format!("reply from {addr} in {:.3} ms", rtt.as_secs_f64() * 1000.0),
                    false,
                ),
                Err(e @ crate::net::icmp::PingError::NotPermitted { .. }) => {
                    Fate::Skipped(Some(e.to_string()))
                }
                Err(e) => done(1, e.to_string(), false),
            }
        }
        Run::Command { .. } => done(2, "commands do not run on the host".into(), false),
    }
}

/// The address kdc asks bind9 at from the host: its first (IPv4 where it has one).
fn host_dns(plan: &Plan) -> IpAddr {
    plan.dns.addresses[0]
}

fn dns_family(f: Family) -> crate::net::dns::Family {
    match f {
        Family::V4 => crate::net::dns::Family::A,
        Family::V6 => crate::net::dns::Family::Aaaa,
    }
}

/// The internet targets' addresses, resolved on this host (`--targets internet`).
async fn internet_targets() -> BTreeMap<String, Result<Vec<IpAddr>, String>> {
    let mut out = BTreeMap::new();
    for name in [super::INTERNET_IPV4ONLY, super::INTERNET_DUALSTACK] {
        let r = tokio::net::lookup_host((name, 0))
            .await
            .map(|it| {
                let mut v: Vec<IpAddr> = it.map(|s| s.ip()).collect();
                v.dedup();
                v
            })
            .map_err(|e| format!("cannot resolve {name} on this host: {e}"));
        out.insert(name.to_string(), r);
    }
    out
}
