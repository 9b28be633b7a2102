//! kdc: multi-node Kubernetes clusters in Docker for CI and local work — the successor of
//! kubeadm-dind-cluster.
//!
//! The binary is a thin shell around [`run`]. One module per concern: [`config`] turns flags,
//! environment and config file into a validated [`config::Config`]; [`plan`] derives everything
//! about a cluster from it; the commands in [`commands`] do the work.

pub mod ci;
pub mod cli;
pub mod cluster;
pub mod commands;
pub mod config;
pub mod doctor;
pub mod dump;
pub mod e2e;
pub mod error;

pub mod images;
pub mod kube;
pub mod kubeconfig;
pub mod matrix;
pub mod net;
pub mod node;
pub mod plan;
pub mod report;
pub mod runtime;
pub mod signal;
pub mod suite;
pub mod text;
pub mod version;

use std::process::ExitCode;

pub use error::KdcError;

/// What a command needs from the process: taken once in `main`, never read again. Only `Env`
/// reads the environment; everything below gets values from it.
#[derive(Debug, Clone, Default)]
pub struct Env {
    pub vars: Vec<(String, String)>,
    pub cwd: std::path::PathBuf,
    pub stderr_is_terminal: bool,
}

impl Env {
    /// The real process environment and working directory.
    pub fn from_process() -> Env {
        use std::io::IsTerminal;
        Env {
            vars: std::env::vars().collect(),
            cwd: std::env::current_dir().unwrap_or_default(),
            stderr_is_terminal: std::io::stderr().is_terminal(),
        }
    }

    /// A variable's value; empty counts as unset, as in the original's `[[ $X ]]` tests.
    pub fn var(&self, name: &str) -> Option<&str> {
        self.vars
            .iter()
            .rev()
            .find(|(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }

    /// Whether a variable is set to a true value: `CI=false` and `CI=0` are not CI.
    pub fn flag(&self, name: &str) -> bool {
        self.var(name).is_some_and(|v| {
            !matches!(
                v.trim().to_ascii_lowercase().as_str(),
                "false" | "0" | "no" | "n" | "off"
            )
        })
    }

    /// Where temporary files go: `TMPDIR`, else `/tmp` (what `std::env::temp_dir` returns,
    /// from the captured environment).
    pub fn temp_dir(&self) -> std::path::PathBuf {
        self.var("TMPDIR").unwrap_or("/tmp").into()
    }

    /// What the environment says about the Docker engine to use.
    pub fn engine_env(&self) -> runtime::endpoint::EngineEnv {
        runtime::endpoint::EngineEnv {
            docker_host: self.var("DOCKER_HOST").map(String::from),
            docker_context: self.var("DOCKER_CONTEXT").map(String::from),
            tls_verify: self.var("DOCKER_TLS_VERIFY").is_some(),
            tls_no_verify: self.var("DOCKER_TLS").is_some(),
            cert_path: self.var("DOCKER_CERT_PATH").map(std::path::PathBuf::from),
            config_dir: runtime::endpoint::config_dir(self.var("DOCKER_CONFIG"), self.var("HOME")),
        }
    }

    /// What the terminal reporter needs to choose its style.
    pub fn terminal_facts(&self, quiet: bool, verbosity: u8) -> report::terminal::Facts {
        report::terminal::Facts {
            quiet,
            stderr_is_terminal: self.stderr_is_terminal,
            ci: self.flag("CI"),
            dumb: self.var("TERM") == Some("dumb"),
            no_color: self.var("NO_COLOR").is_some(),
            verbosity,
        }
    }
}

/// Runs one parsed command line.
pub fn run(cli: cli::Cli) -> Result<ExitCode, KdcError> {
    commands::run(cli, &Env::from_process())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &[(&str, &str)], tty: bool) -> Env {
        Env {
            vars: vars
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            cwd: std::path::PathBuf::from("/"),
            stderr_is_terminal: tty,
        }
    }

    #[test]
    fn ci_false_is_not_ci_and_no_color_and_dumb_terminals_are_honoured() {
        use report::Style;
        let facts = |vars: &[(&str, &str)]| env(vars, true).terminal_facts(false, 0);
        assert_eq!(Style::detect(&facts(&[])), Style::Terminal);
        assert_eq!(Style::detect(&facts(&[("CI", "true")])), Style::Plain);
        assert_eq!(Style::detect(&facts(&[("CI", "1")])), Style::Plain);
        for not_ci in ["false", "0", "no", "off", ""] {
            assert_eq!(
                Style::detect(&facts(&[("CI", not_ci)])),
                Style::Terminal,
                "CI={not_ci}"
            );
        }
        assert_eq!(Style::detect(&facts(&[("TERM", "dumb")])), Style::Plain);
        assert!(facts(&[("NO_COLOR", "1")]).no_color);
        assert!(!facts(&[("NO_COLOR", "")]).no_color, "empty means unset");
        assert_eq!(
            Style::detect(&env(&[], false).terminal_facts(false, 0)),
            Style::Plain
        );
    }

    #[test]
    fn the_engine_comes_from_the_docker_variables_only_env_reads() {
        let e = env(
            &[
                ("DOCKER_HOST", "tcp://docker:2376"),
                ("DOCKER_TLS_VERIFY", "1"),
                ("DOCKER_CERT_PATH", "/certs/client"),
                ("HOME", "/home/ci"),
            ],
            false,
        )
        .engine_env();
        assert_eq!(e.docker_host.as_deref(), Some("tcp://docker:2376"));
        assert!(e.tls_verify);
        assert_eq!(e.cert_path, Some("/certs/client".into()));
        assert_eq!(e.config_dir, Some("/home/ci/.docker".into()));
    }
}
