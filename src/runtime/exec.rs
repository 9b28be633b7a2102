//! Commands run in a node: the request, its result, and why it failed.

use std::fmt;
use std::time::Duration;

/// Which output stream a chunk of streamed output came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// Receives a command's output while it runs (a kubeadm init or an e2e run prints for minutes).
pub type OutputSender = tokio::sync::mpsc::UnboundedSender<(Stream, Vec<u8>)>;

/// A command to run in a node.
///
/// With a timeout, the command is run under the node's `timeout(1)`, which kills its whole
/// process group inside the node when the time is up: a command that timed out does not keep
/// running there (a client-side timeout alone would only stop waiting for it). There is no cap
/// besides the one asked for.
#[derive(Debug, Clone, Default)]
pub struct ExecRequest {
    pub argv: Vec<String>,
    pub stdin: Option<Vec<u8>>,
    pub timeout: Option<Duration>,
    /// Output is sent here as it arrives, and collected in the result as well.
    pub stream: Option<OutputSender>,
}

impl ExecRequest {
    pub fn new<I, S>(argv: I) -> ExecRequest
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        ExecRequest {
            argv: argv.into_iter().map(Into::into).collect(),
            ..Default::default()
        }
    }

    pub fn stdin(mut self, data: impl Into<Vec<u8>>) -> ExecRequest {
        self.stdin = Some(data.into());
        self
    }

    pub fn timeout(mut self, timeout: Duration) -> ExecRequest {
        self.timeout = Some(timeout);
        self
    }

    pub fn stream(mut self, to: OutputSender) -> ExecRequest {
        self.stream = Some(to);
        self
    }

    /// The argv that enforces the timeout inside the node: `timeout -k 2 <secs> argv…`.
    /// `timeout` runs the command in its own process group and signals the whole group, so a
    /// shell's children go too; `-k` follows up with SIGKILL for commands that ignore SIGTERM.
    pub fn node_argv(&self) -> Vec<String> {
        match self.timeout {
            None => self.argv.clone(),
            Some(t) => {
                let mut argv = vec![
                    "timeout".to_string(),
                    "-k".to_string(),
                    "2".to_string(),
                    format!("{:.3}", t.as_secs_f64()),
                ];
                argv.extend(self.argv.iter().cloned());
                argv
            }
        }
    }
}

/// `timeout(1)`'s exit status when the time ran out (137 = 128 + SIGKILL after `-k`).
pub const TIMED_OUT_CODES: [i64; 2] = [124, 137];

/// What a command in a node did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExecOutput {
    pub node: String,
    pub argv: Vec<String>,
    pub code: i64,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl ExecOutput {
    /// The output if the command exited 0, else an error carrying the command and its output.
    pub fn ok(self) -> Result<ExecOutput, ExecError> {
        if self.code == 0 {
            Ok(self)
        } else {
            Err(ExecError::Failed(Box::new(self)))
        }
    }

    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// stdout then stderr, as a user would have seen them.
    pub fn combined_text(&self) -> String {
        let mut s = self.stdout_text();
        s.push_str(&String::from_utf8_lossy(&self.stderr));
        s
    }

    /// A shell-pasteable form of the command.
    pub fn command_line(&self) -> String {
        command_line(&self.node, &self.argv)
    }
}

/// `docker exec <node> <argv…>` with arguments quoted where the shell needs it.
pub fn command_line(node: &str, argv: &[String]) -> String {
    let quoted: Vec<String> = argv.iter().map(|a| shell_quote(a)).collect();
    format!("docker exec {node} {}", quoted.join(" "))
}

/// `a` as one shell word.
pub fn shell_quote(a: &str) -> String {
    if !a.is_empty()
        && a.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c))
    {
        a.to_string()
    } else {
        format!("'{}'", a.replace('\'', r"'\''"))
    }
}

/// A command in a node failed to run, exited non-zero, or ran out of time.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// It ran and exited non-zero.
    #[error("{}", DisplayFailed(.0))]
    Failed(Box<ExecOutput>),
    /// It ran out of time and was killed inside the node; what it printed is kept.
    #[error("command \"{}\" timed out after {}s{}", .output.command_line(), .after.as_secs_f64(), tail(&.output.combined_text()))]
    TimedOut {
        output: Box<ExecOutput>,
        after: Duration,
    },
    /// It could not be run at all (the engine refused, the node is gone).
    #[error("command \"{command}\" could not run: {message}")]
    Unrunnable { command: String, message: String },
}

/// The last 20 lines of `text`, indented, after "; output (last lines):".
fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    if lines.is_empty() {
        return String::new();
    }
    let mut s = "; output (last lines):".to_string();
    for line in &lines[lines.len().saturating_sub(20)..] {
        s.push_str("\n    ");
        s.push_str(line);
    }
    s
}

struct DisplayFailed<'a>(&'a ExecOutput);

impl fmt::Display for DisplayFailed<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let o = self.0;
        write!(f, "command \"{}\" exited with {}", o.command_line(), o.code)?;
        let out = String::from_utf8_lossy(if o.stderr.is_empty() {
            &o.stdout
        } else {
            &o.stderr
        })
        .into_owned();
        f.write_str(&tail(&out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_command_shows_pasteable_command_code_and_output() {
        let out = ExecOutput {
            node: "kube-master".into(),
            argv: vec!["sh".into(), "-c".into(), "echo it's; exit 3".into()],
            code: 3,
            stdout: b"it's\n".to_vec(),
            stderr: b"boom\n".to_vec(),
        };
        let err = out.ok().unwrap_err().to_string();
        assert_eq!(
            err,
            "command \"docker exec kube-master sh -c 'echo it'\\''s; exit 3'\" exited with 3; output (last lines):\n    boom"
        );
    }

    #[test]
    fn a_timeout_is_enforced_inside_the_node() {
        let r = ExecRequest::new(["kubeadm", "init"]).timeout(Duration::from_millis(300_500));
        assert_eq!(
            r.node_argv(),
            vec!["timeout", "-k", "2", "300.500", "kubeadm", "init"]
        );
        assert_eq!(ExecRequest::new(["true"]).node_argv(), vec!["true"]);
    }

    #[test]
    fn a_timed_out_command_names_itself_and_its_last_output() {
        let e = ExecError::TimedOut {
            output: Box::new(ExecOutput {
                node: "kube-node-1".into(),
                argv: vec!["sleep".into(), "30".into()],
                code: 124,
                stdout: b"waiting\n".to_vec(),
                stderr: Vec::new(),
            }),
            after: Duration::from_millis(1500),
        };
        assert_eq!(
            e.to_string(),
            "command \"docker exec kube-node-1 sleep 30\" timed out after 1.5s; output (last lines):\n    waiting"
        );
    }
}
