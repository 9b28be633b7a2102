//! Results and errors of commands run in a node.

use std::fmt;

/// What a command in a node did.
#[derive(Debug, Clone, PartialEq, Eq)]
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

    /// A shell-pasteable form of the command.
    pub fn command_line(&self) -> String {
        command_line(&self.node, &self.argv)
    }
}

/// `docker exec <node> <argv…>` with arguments quoted where the shell needs it.
pub fn command_line(node: &str, argv: &[String]) -> String {
    let quoted: Vec<String> = argv
        .iter()
        .map(|a| {
            if !a.is_empty()
                && a.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c))
            {
                a.clone()
            } else {
                format!("'{}'", a.replace('\'', r"'\''"))
            }
        })
        .collect();
    format!("docker exec {node} {}", quoted.join(" "))
}

/// A command in a node failed to run or exited non-zero.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// It ran and exited non-zero.
    #[error("{}", DisplayFailed(.0))]
    Failed(Box<ExecOutput>),
    /// It could not be run at all (the engine refused, the node is gone, the timeout hit).
    #[error("command \"{command}\" could not run: {message}")]
    Unrunnable { command: String, message: String },
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
        let lines: Vec<&str> = out.lines().collect();
        if !lines.is_empty() {
            write!(f, "; output (last lines):")?;
            for line in &lines[lines.len().saturating_sub(20)..] {
                write!(f, "\n    {line}")?;
            }
        }
        Ok(())
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
}
