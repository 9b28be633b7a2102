//! The CI matrix: `ci/matrix.toml` (or a project's own `--matrix FILE`) into cells.
//!
//! A matrix has base cells (`[[cell]]`: a name, its suites, its settings) and dimensions
//! (`[[dimension]]`: one kdc setting and its values) that cross them; `[[exclude]]` drops
//! crossed cells, `[[include]]` adds combinations the dimensions do not list, and
//! `[[override]]` adds settings (or replaces the suites) of the cells it matches. A cell's
//! settings are ordinary kdc settings under their environment names, applied as the named
//! configuration layer `matrix cell <name>`, so a bad value is reported as coming from that cell.
//!
//! Cell names are the base name followed by the cell's dimension values, joined by `_`, in the
//! order the dimensions are declared — the original's `<name>_<k8s>_<cni>_<cri>` pattern:
//! `ipv6_bridge`, `ipv6-nat64_bridge`. Expansion keeps the file's order, so the list, the
//! shards and the generated configs are the same on every machine.

pub mod diagnose;
mod parse;
pub mod run;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::config::Layer;
use crate::suite::{Suite, SuiteError};

/// kdc's own matrix, compiled in: what `kdc ci` uses when there is no `--matrix` and no
/// `ci/matrix.toml` in the working directory.
pub const OWN: &str = include_str!("../../ci/matrix.toml");
/// Where a project keeps its matrix, relative to the working directory.
pub const DEFAULT_FILE: &str = "ci/matrix.toml";
/// The configuration layer kind of a cell's settings, as errors name it.
pub const LAYER_KIND: &str = "matrix cell";

/// Why a matrix cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum MatrixError {
    /// A malformed file: `file:line:column: <where>: <what>`.
    #[error(transparent)]
    Parse(#[from] SuiteError),
    #[error("cannot read the matrix {path} ({message}); check the path given to --matrix")]
    Read { path: String, message: String },
    /// A cell name on the command line that the matrix does not have.
    #[error("{file} has no cell {name:?}; `kdc ci list` shows the {count} cells{hint}")]
    UnknownCell {
        file: String,
        name: String,
        count: usize,
        hint: String,
    },
    /// `--shard` that is not `I/N` with 1 ≤ I ≤ N.
    #[error("{0}")]
    Shard(String),
}

/// One dimension: a kdc setting and the values the matrix crosses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Dimension {
    pub name: String,
    /// The setting's environment name (`CNI_PLUGIN`).
    pub setting: String,
    pub values: Vec<String>,
}

/// A cell: one CI job's worth of work, what `kdc ci run <name>` runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cell {
    /// `ipv6-nat64_bridge`: the base name, then the dimension values.
    pub name: String,
    /// The `[[cell]]` it was made from.
    pub base: String,
    /// The suites (or `suite/check`) it runs.
    pub suites: Vec<String>,
    /// Its kdc settings, by environment name, in the order they apply (the base cell's, then
    /// the dimensions', then the overrides'; a later one wins).
    pub settings: Vec<(String, String)>,
    /// `(dimension, value)` for each dimension that crosses this cell.
    pub coords: Vec<(String, String)>,
    /// How many clusters the cell brings up side by side (the original's multi-cluster test);
    /// each runs the suites.
    pub clusters: u8,
    /// What sets Kubernetes up on the machines: `none` or `kubeadm` (`kdc up --bootstrapper`).
    pub bootstrapper: String,
    /// Kubernetes' e2e specs the cell runs after its suites (`kdc e2e`), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub e2e: Option<E2eCell>,
}

/// A cell's e2e run: ginkgo regexes, as `kdc e2e --regex` takes them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct E2eCell {
    pub focus: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skip: Option<String>,
    pub serial: bool,
    pub parallel: usize,
}

impl Cell {
    /// The cell's settings as the configuration layer `matrix cell <name>`.
    pub fn layer(&self) -> Layer {
        Layer::named(
            LAYER_KIND,
            &self.name,
            self.settings.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        )
        .expect("settings were checked when the matrix was read")
    }

    /// The value this cell gives a setting, if any (the last one set wins).
    pub fn setting(&self, var: &str) -> Option<&str> {
        self.settings
            .iter()
            .rev()
            .find(|(k, _)| k == var)
            .map(|(_, v)| v.as_str())
    }
}

/// Which CI provider a generated config is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    Circleci,
    Github,
    Gitlab,
    Travis,
}

impl Provider {
    pub const ALL: [Provider; 4] = [
        Provider::Circleci,
        Provider::Github,
        Provider::Gitlab,
        Provider::Travis,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Circleci => "circleci",
            Provider::Github => "github",
            Provider::Gitlab => "gitlab",
            Provider::Travis => "travis",
        }
    }

    /// The blob budget a generated config gives `kdc ci run` (`KDC_DUMP_MAX_BYTES`): under
    /// what the provider's log keeps. Travis stops a log at 4 MB and GitLab's default job log
    /// limit is 4 MB; CircleCI shows at most 400,000 characters of a step in its page (the
    /// rest only in the downloaded log); GitHub keeps long logs, and its viewer struggles past
    /// a few megabytes.
    pub fn max_blob_bytes(self) -> u64 {
        match self {
            Provider::Travis | Provider::Gitlab => 3_000_000,
            Provider::Circleci => 350_000,
            Provider::Github => 5_000_000,
        }
    }
}

impl std::fmt::Display for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How generated configs install kdc and prepare the host; `[ci]` in the matrix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CiSettings {
    /// Shell that installs kdc (default: `cargo install --locked --path .`, kdc's own checkout).
    pub install: String,
    /// Shell that prepares the host (default: `sudo bash ci/setup-host.sh`).
    pub setup: String,
    /// Jobs per provider: 0 runs one job per cell; N runs N shards (`--shard I/N`, from the
    /// provider's parallel-node variables where it has them).
    pub shards: usize,
    /// `--jobs` of each CI job.
    pub jobs: usize,
}

impl Default for CiSettings {
    fn default() -> Self {
        CiSettings {
            install: "cargo install --locked --path .".into(),
            setup: "sudo bash ci/setup-host.sh".into(),
            shards: 0,
            jobs: 1,
        }
    }
}

/// A matrix read and expanded.
#[derive(Debug, Clone, Serialize)]
pub struct Matrix {
    /// The file as messages name it (`ci/matrix.toml`, or `<kdc's own matrix>`).
    pub file: String,
    /// Where `generated` paths are relative to: the matrix file's directory.
    #[serde(skip)]
    pub dir: PathBuf,
    /// Whether this is kdc's own compiled-in matrix (its reproduce commands need no --matrix).
    #[serde(skip)]
    pub own: bool,
    pub dimensions: Vec<Dimension>,
    pub cells: Vec<Cell>,
    pub ci: CiSettings,
    /// Where `kdc ci check` expects each provider's generated file, relative to `dir`.
    pub generated: Vec<(Provider, String)>,
}

impl Matrix {
    /// Reads `path`; with none, `ci/matrix.toml` in `cwd` if present, else kdc's own matrix.
    pub fn load(path: Option<&Path>, cwd: &Path, suites: &[Suite]) -> Result<Matrix, MatrixError> {
        // Messages and reproduce commands show the path as the user gave it.
        let given = match path {
            Some(p) => Some((cwd.join(p), p.display().to_string())),
            None => Some((cwd.join(DEFAULT_FILE), DEFAULT_FILE.to_string()))
                .filter(|(p, _)| p.is_file()),
        };
        let Some((path, shown)) = given else {
            return parse::parse(
                "<kdc's own matrix>",
                Path::new(DEFAULT_FILE).parent().unwrap(),
                OWN,
                suites,
            )
            .map(|m| Matrix { own: true, ..m });
        };
        let text = std::fs::read_to_string(&path).map_err(|e| MatrixError::Read {
            path: shown.clone(),
            message: e.to_string(),
        })?;
        let dir = path.parent().unwrap_or(Path::new(".")).to_path_buf();
        parse::parse(&shown, &dir, &text, suites)
    }

    /// Parses a matrix from text (tests, and `load`).
    pub fn parse(
        file: &str,
        dir: &Path,
        text: &str,
        suites: &[Suite],
    ) -> Result<Matrix, MatrixError> {
        parse::parse(file, dir, text, suites)
    }

    /// The cells named, in matrix order; all of them for no names.
    pub fn select(&self, names: &[String]) -> Result<Vec<&Cell>, MatrixError> {
        if names.is_empty() {
            return Ok(self.cells.iter().collect());
        }
        for n in names {
            if !self.cells.iter().any(|c| &c.name == n) {
                let close: Vec<&str> = self
                    .cells
                    .iter()
                    .map(|c| c.name.as_str())
                    .filter(|c| strsim::jaro(c, n) > 0.85)
                    .collect();
                return Err(MatrixError::UnknownCell {
                    file: self.file.clone(),
                    name: n.clone(),
                    count: self.cells.len(),
                    hint: if close.is_empty() {
                        String::new()
                    } else {
                        format!(" (did you mean {}?)", close.join(" or "))
                    },
                });
            }
        }
        Ok(self
            .cells
            .iter()
            .filter(|c| names.contains(&c.name))
            .collect())
    }

    /// The one command that reproduces `cell` on a laptop.
    pub fn reproduce(&self, cell: &str) -> String {
        format!("kdc ci run{} {cell}", self.matrix_arg())
    }

    /// ` --matrix FILE` when kdc would not find this matrix by itself, else nothing.
    pub fn matrix_arg(&self) -> String {
        if self.own || self.file == DEFAULT_FILE {
            String::new()
        } else {
            format!(" --matrix {}", self.file)
        }
    }
}

/// One shard of N: `--shard I/N`, I from 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Shard {
    pub index: usize,
    pub total: usize,
}

impl Shard {
    /// Parses `I/N`.
    pub fn parse(text: &str) -> Result<Shard, MatrixError> {
        let bad = || {
            MatrixError::Shard(format!(
                "--shard {text}: expected I/N with 1 <= I <= N, such as 2/4 (the second of four shards)"
            ))
        };
        let (i, n) = text.split_once('/').ok_or_else(bad)?;
        let (index, total) = (
            i.trim().parse::<usize>().map_err(|_| bad())?,
            n.trim().parse::<usize>().map_err(|_| bad())?,
        );
        if index == 0 || index > total {
            return Err(bad());
        }
        Ok(Shard { index, total })
    }

    /// The shard the CI provider's variables name, if any: CircleCI's `CIRCLE_NODE_INDEX` /
    /// `CIRCLE_NODE_TOTAL` (0-based), GitLab's `CI_NODE_INDEX` / `CI_NODE_TOTAL` (1-based),
    /// Buildkite's `BUILDKITE_PARALLEL_JOB` / `BUILDKITE_PARALLEL_JOB_COUNT` (0-based), and
    /// kdc's own `KDC_SHARD` (`I/N`), which the generated GitHub and Travis configs set.
    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> Result<Option<Shard>, MatrixError> {
        if let Some(s) = var("KDC_SHARD") {
            return Shard::parse(&s).map(Some).map_err(|e| {
                MatrixError::Shard(format!(
                    "KDC_SHARD: {}",
                    e.to_string().trim_start_matches("--shard ")
                ))
            });
        }
        for (index, total, base) in [
            ("CIRCLE_NODE_INDEX", "CIRCLE_NODE_TOTAL", 0),
            ("CI_NODE_INDEX", "CI_NODE_TOTAL", 1),
            ("BUILDKITE_PARALLEL_JOB", "BUILDKITE_PARALLEL_JOB_COUNT", 0),
        ] {
            let (Some(i), Some(n)) = (var(index), var(total)) else {
                continue;
            };
            let parsed = (i.trim().parse::<usize>(), n.trim().parse::<usize>());
            return match parsed {
                (Ok(i), Ok(n)) if i >= base && i - base < n => Ok(Some(Shard {
                    index: i - base + 1,
                    total: n,
                })),
                _ => Err(MatrixError::Shard(format!(
                    "{index}={i} {total}={n}: not a shard this CI system would set; pass --shard I/N"
                ))),
            };
        }
        Ok(None)
    }

    /// The cells of this shard: every N-th cell from the I-th, so each cell is in exactly one
    /// shard and shard sizes differ by at most one.
    pub fn pick<'a, T>(&self, cells: &'a [T]) -> Vec<&'a T> {
        cells
            .iter()
            .skip(self.index - 1)
            .step_by(self.total)
            .collect()
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.total)
    }
}
