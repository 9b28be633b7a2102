//! `kdc ci run`: the cells of a matrix, up to `--jobs` at once, each cluster with its own
//! cluster ID and subnets.
//!
//! **Plan first.** Every cluster of every cell is planned before anything exists: each takes
//! the lowest ID of `--cluster-ids` that no earlier cluster of the run took, whose plan is
//! valid (an ipv6 cell with the 172.18 NAT64 prefix cannot take ID 14 or more) and whose
//! subnets overlap no other cluster's. A cell that sets `CLUSTER_ID` itself keeps it, and a
//! collision is then refused, naming both cells.
//!
//! **Then run.** Each cell is [`crate::suite::cell::run`] under its own event scope (the cell's
//! name), so the terminal prefixes its lines and the JUnit reporter keeps its suites apart; its
//! files go to `<artifacts>/<cell>/`. A cell that fails does not stop the others. When a cell
//! ends, its diagnosis, blob and reproduce command are handed to the caller at once (printed
//! into the CI log while the other cells still run).

use std::collections::BTreeMap;
use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use ipnet::IpNet;
use serde::Serialize;

use super::{Cell, Matrix};
use crate::config::{Config, Layer, Problems};
use crate::plan::Plan;
use crate::report::Emitter;
use crate::runtime::{NodeExec, Provider};
use crate::signal::Stop;
use crate::suite::Suite;
use crate::suite::cell::{self, CellOptions, CellResult};

/// The configuration layer kind of the cluster ID a run gives a cell.
pub const RUN_LAYER: &str = "matrix run";

/// A cell with its clusters planned.
#[derive(Debug, Clone)]
pub struct Planned {
    pub cell: Cell,
    pub suites: Vec<(Suite, Vec<String>)>,
    pub plans: Vec<Plan>,
}

/// Parses `--cluster-ids FIRST-LAST`.
pub fn parse_ids(text: &str) -> Result<RangeInclusive<u8>, String> {
    let bad = || {
        format!(
            "--cluster-ids {text}: expected FIRST-LAST with 1 <= FIRST <= LAST <= 254, such as 60-79"
        )
    };
    let (a, b) = text.split_once('-').ok_or_else(bad)?;
    let (a, b) = (
        a.trim().parse::<u8>().map_err(|_| bad())?,
        b.trim().parse::<u8>().map_err(|_| bad())?,
    );
    if a == 0 || a > b || b > 254 {
        return Err(bad());
    }
    Ok(a..=b)
}

fn overlaps(a: &Plan, b: &Plan) -> Option<(IpNet, IpNet)> {
    for x in &a.network.subnets {
        for y in &b.network.subnets {
            if x.contains(&y.network()) || y.contains(&x.network()) {
                return Some((*x, *y));
            }
        }
    }
    None
}

/// Plans every cluster of `cells` (see the module docs). `config` resolves the layers of one
/// cluster (the suites', the cell's, the run's) over the environment and config file.
pub fn plan_cells(
    cells: &[&Cell],
    suites: &[Suite],
    ids: RangeInclusive<u8>,
    config: &dyn Fn(Vec<Layer>) -> Result<Config, Problems>,
) -> Result<Vec<Planned>, String> {
    let mut out: Vec<Planned> = Vec::new();
    let mut taken: Vec<(String, Plan)> = Vec::new();
    for cell in cells {
        let wanted: Vec<&str> = cell.suites.iter().map(String::as_str).collect();
        let selected = crate::suite::select(suites, &wanted)
            .map_err(|e| format!("cell {}: {e}", cell.name))?;
        let mut layers: Vec<Layer> = selected.iter().map(|(s, _)| s.layer()).collect();
        layers.push(cell.layer());
        let fixed = cell.setting("CLUSTER_ID").is_some() || cell.setting("DIND_LABEL").is_some();
        let mut plans = Vec::new();
        for n in 0..cell.clusters {
            let who = if cell.clusters > 1 {
                format!("cell {} (cluster {})", cell.name, n + 1)
            } else {
                format!("cell {}", cell.name)
            };
            let own = format!("cell {}", cell.name);
            let clash = |plan: &Plan, mine: &[Plan]| -> Option<String> {
                let others = taken
                    .iter()
                    .map(|(o, p)| (o.as_str(), p))
                    .chain(mine.iter().map(|p| (own.as_str(), p)));
                for (other, p) in others {
                    if p.cluster.label == plan.cluster.label {
                        return Some(format!(
                            "both {other} and {who} are cluster {}",
                            plan.cluster.label
                        ));
                    }
                    if let Some((x, y)) = overlaps(p, plan) {
                        return Some(format!(
                            "{who}'s subnet {y} overlaps {other}'s {x} (cluster {})",
                            p.cluster.label
                        ));
                    }
                }
                None
            };
            if fixed && cell.clusters == 1 {
                let cfg = config(layers.clone()).map_err(|p| format!("{who}: {p}"))?;
                let plan = crate::plan::plan(&cfg).map_err(|p| format!("{who}: {p}"))?;
                if let Some(why) = clash(&plan, &plans) {
                    return Err(format!(
                        "cells collide: {why}; give them different CLUSTER_ID or MGMT_CIDRS"
                    ));
                }
                plans.push(plan);
                continue;
            }
            let mut last = String::from("every ID of the range is taken by earlier cells");
            let mut found = None;
            for id in ids.clone() {
                let mut l = layers.clone();
                l.push(
                    Layer::named(
                        RUN_LAYER,
                        &cell.name,
                        [("CLUSTER_ID", id.to_string().as_str())],
                    )
                    .expect("CLUSTER_ID is a setting"),
                );
                let plan = match config(l)
                    .map_err(|p| p.to_string())
                    .and_then(|c| crate::plan::plan(&c).map_err(|p| p.to_string()))
                {
                    Ok(p) => p,
                    Err(e) => {
                        last = format!("with CLUSTER_ID={id}: {e}");
                        continue;
                    }
                };
                if let Some(why) = clash(&plan, &plans) {
                    last = why;
                    continue;
                }
                found = Some(plan);
                break;
            }
            match found {
                Some(p) => plans.push(p),
                None => {
                    return Err(format!(
                        "no cluster ID in {}-{} gives {who} a valid plan beside the other cells (last tried {last}); widen --cluster-ids or run fewer cells",
                        ids.start(),
                        ids.end()
                    ));
                }
            }
        }
        for p in &plans {
            taken.push((format!("cell {}", cell.name), p.clone()));
        }
        out.push(Planned {
            cell: (*cell).clone(),
            suites: selected,
            plans,
        });
    }
    Ok(out)
}

/// How a cell ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Passed,
    /// Passed, with checks that passed only on a retry.
    Flaky,
    Failed,
    Interrupted,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Passed => "passed",
            Status::Flaky => "flaky",
            Status::Failed => "failed",
            Status::Interrupted => "interrupted",
        }
    }
}

/// One cluster of a cell, as it ran.
#[derive(Debug, Clone, Serialize)]
pub struct ClusterRun {
    pub label: String,
    pub id: u8,
    #[serde(flatten)]
    pub result: CellResult,
    pub diagnosis: Vec<String>,
}

/// One cell, as it ran.
#[derive(Debug, Clone, Serialize)]
pub struct CellRun {
    pub name: String,
    /// The `[[cell]]` it comes from and its dimension values: the report's grid.
    pub base: String,
    pub coords: Vec<(String, String)>,
    pub status: Status,
    pub seconds: f64,
    pub suites: Vec<String>,
    pub settings: BTreeMap<String, String>,
    pub reproduce: String,
    /// Its files, relative to the artifacts directory.
    pub artifacts: String,
    pub clusters: Vec<ClusterRun>,
    /// The blobs of its failed clusters, as printed into the log.
    #[serde(skip)]
    pub blob: Vec<u8>,
}

/// How the run goes.
pub struct RunOptions {
    pub jobs: usize,
    pub artifacts: PathBuf,
    /// The cell options every cluster starts from (its artifacts directory is set per cell).
    pub cell: CellOptions,
}

/// Runs the planned cells; `done` gets each cell as it ends (in the order they end). Returns
/// the cells in matrix order.
#[allow(clippy::too_many_arguments)]
pub async fn run(
    provider: &dyn Provider,
    exec: &dyn NodeExec,
    matrix: &Matrix,
    planned: Vec<Planned>,
    opts: &RunOptions,
    events: &Emitter,
    stop: &Stop,
    done: &mut dyn FnMut(&CellRun),
) -> Vec<CellRun> {
    let order: Vec<String> = planned.iter().map(|p| p.cell.name.clone()).collect();
    let mut finished: Vec<CellRun> = Vec::new();
    let mut stream = futures_util::stream::iter(planned)
        .map(|p| run_cell(provider, exec, matrix, p, opts, events, stop))
        .buffer_unordered(opts.jobs.max(1));
    while let Some(c) = stream.next().await {
        done(&c);
        finished.push(c);
    }
    finished.sort_by_key(|c| order.iter().position(|n| *n == c.name));
    finished
}

async fn run_cell(
    provider: &dyn Provider,
    exec: &dyn NodeExec,
    matrix: &Matrix,
    p: Planned,
    opts: &RunOptions,
    events: &Emitter,
    stop: &Stop,
) -> CellRun {
    let started = Instant::now();
    let dir = opts.artifacts.join(&p.cell.name);
    let many = p.plans.len() > 1;
    let mut record = CellRun {
        name: p.cell.name.clone(),
        base: p.cell.base.clone(),
        coords: p.cell.coords.clone(),
        status: Status::Interrupted,
        seconds: 0.0,
        suites: p.cell.suites.clone(),
        settings: p.cell.settings.iter().cloned().collect(),
        reproduce: matrix.reproduce(&p.cell.name),
        artifacts: p.cell.name.clone(),
        clusters: Vec::new(),
        blob: Vec::new(),
    };
    if stop.requested() {
        return record;
    }
    let runs = p.plans.iter().map(|plan| {
        let mut cell_opts = opts.cell.clone();
        if p.cell.bootstrapper == "kubeadm" {
            cell_opts.up.bootstrapper = crate::cluster::Bootstrapper::Kubeadm;
            cell_opts.up.kube = crate::cluster::KubeOptions::for_cell(plan);
        }
        cell_opts.artifacts = if many {
            dir.join(&plan.cluster.label)
        } else {
            dir.clone()
        };
        let scope = if many {
            format!("{}/{}", p.cell.name, plan.cluster.label)
        } else {
            p.cell.name.clone()
        };
        let scoped = events.scoped(scope);
        let suites = &p.suites;
        async move {
            let mut blob = Vec::new();
            let r = cell::run(
                provider, exec, plan, suites, &cell_opts, &scoped, stop, &mut blob,
            )
            .await;
            (plan, r, blob)
        }
    });
    let results = futures_util::future::join_all(runs).await;
    for (plan, mut r, blob) in results {
        record.blob.extend_from_slice(&blob);
        // Relative to the artifacts directory, as the record and the report link it.
        r.dump_dir = r.dump_dir.map(|d| {
            d.strip_prefix(&opts.artifacts)
                .map(PathBuf::from)
                .unwrap_or(d)
        });
        record.clusters.push(ClusterRun {
            label: plan.cluster.label.clone(),
            id: plan.cluster.id,
            diagnosis: super::diagnose::diagnose(&plan.cluster.label, &r),
            result: r,
        });
    }
    record.seconds = started.elapsed().as_secs_f64();
    record.status = if record.clusters.iter().any(|c| c.result.interrupted) {
        Status::Interrupted
    } else if record.clusters.iter().any(|c| !c.result.ok()) {
        Status::Failed
    } else if record.clusters.iter().any(|c| c.result.flaky > 0) {
        Status::Flaky
    } else {
        Status::Passed
    };
    record
}

/// What `kdc report` reads: `<artifacts>/kdc-matrix.json`.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Record {
    pub matrix: String,
    pub shard: Option<String>,
    pub jobs: usize,
    pub seconds: f64,
    /// The merged JUnit file, relative to the artifacts directory.
    pub junit: String,
    pub cells: Vec<serde_json::Value>,
}

/// The record file's name in the artifacts directory.
pub const RECORD: &str = "kdc-matrix.json";

/// One line per cell and the reproduce commands of the failed ones: the run's summary.
pub fn summary(cells: &[CellRun], elapsed: Duration, jobs: usize) -> String {
    let count = |s: Status| cells.iter().filter(|c| c.status == s).count();
    let mut s = format!(
        "{} cell{}: {} passed, {} flaky, {} failed{} ({} at once, {:.0}s)\n",
        cells.len(),
        crate::text::plural(cells.len()),
        count(Status::Passed),
        count(Status::Flaky),
        count(Status::Failed),
        match count(Status::Interrupted) {
            0 => String::new(),
            n => format!(", {n} interrupted"),
        },
        jobs,
        elapsed.as_secs_f64()
    );
    let width = cells.iter().map(|c| c.name.len()).max().unwrap_or(0);
    for c in cells {
        let (mut passed, mut failed, mut skipped) = (0, 0, 0);
        for k in &c.clusters {
            passed += k.result.stats.passed;
            failed += k.result.stats.failed;
            skipped += k.result.stats.skipped;
        }
        s += &format!(
            "  {:<11} {:<width$}  {passed} passed, {failed} failed, {skipped} skipped  {:.1}s\n",
            c.status.as_str().to_uppercase(),
            c.name,
            c.seconds
        );
    }
    let failed: Vec<&CellRun> = cells
        .iter()
        .filter(|c| c.status == Status::Failed)
        .collect();
    if !failed.is_empty() {
        s += "reproduce a failed cell here with:\n";
        for c in failed {
            s += &format!("  {}\n", c.reproduce);
        }
    }
    s
}

/// The text printed into the log when a cell failed: its diagnosis, then its blob, then the
/// command that reproduces it.
pub fn failure_text(c: &CellRun) -> Vec<u8> {
    let mut out = format!("=== cell {} {} ===\n", c.name, c.status.as_str()).into_bytes();
    for k in &c.clusters {
        for line in &k.diagnosis {
            out.extend_from_slice(format!("diagnosis: {line}\n").as_bytes());
        }
    }
    out.extend_from_slice(&c.blob);
    out.extend_from_slice(format!("reproduce: {}\n", c.reproduce).as_bytes());
    out
}
