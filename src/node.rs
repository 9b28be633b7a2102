//! Things done inside a node, written once: run a command, write, read and copy files, wait for
//! systemd. Everything goes through the [`NodeExec`] seam (as kind's `nodeutils`), so actions
//! that use these helpers are tested with the recording fake.

use std::time::{Duration, Instant};

use crate::runtime::{ExecError, ExecOutput, ExecRequest, NodeExec, Provider};

/// Runs `argv` in `node`; a non-zero exit is an error carrying the command and its output.
pub async fn run(exec: &dyn NodeExec, node: &str, argv: &[&str]) -> Result<ExecOutput, ExecError> {
    exec.exec(node, ExecRequest::new(argv.iter().copied()))
        .await?
        .ok()
}

/// Writes `contents` to `path` in `node` with `mode`, creating the directory. The file appears
/// whole or not at all: it is written beside its place and renamed over it.
pub async fn write_file(
    exec: &dyn NodeExec,
    node: &str,
    path: &str,
    contents: &[u8],
    mode: u32,
) -> Result<(), ExecError> {
    let script = r#"set -e; d=$(dirname "$1"); mkdir -p "$d"; t="$1.kdc-new"; cat > "$t"; chmod "$2" "$t"; mv -f "$t" "$1""#;
    let mode = format!("{mode:o}");
    let req = ExecRequest::new(["sh", "-c", script, "write-file", path, &mode]).stdin(contents);
    exec.exec(node, req).await?.ok().map(|_| ())
}

/// The contents of `path` in `node`.
pub async fn read_file(exec: &dyn NodeExec, node: &str, path: &str) -> Result<Vec<u8>, ExecError> {
    Ok(run(exec, node, &["cat", path]).await?.stdout)
}

/// Copies `path` from node `from` to the same path in node `to`, keeping `mode`.
pub async fn copy_file(
    exec: &dyn NodeExec,
    from: &str,
    to: &str,
    path: &str,
    mode: u32,
) -> Result<(), ExecError> {
    let data = read_file(exec, from, path).await?;
    write_file(exec, to, path, &data, mode).await
}

/// systemd's state when a node is usable: `running`, or `degraded` (some unit failed; the caller
/// reports which).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Booted {
    Running,
    Degraded,
}

/// Waits until systemd in a node has finished booting. `systemctl is-system-running --wait`
/// answers the moment boot ends, in one exec per node instead of a poll every few hundred
/// milliseconds (each exec costs the engine a process start, on a host that is busy booting the
/// nodes). It returns at once while systemd is not reachable yet, hence the loop.
pub async fn wait_for_systemd(
    exec: &dyn NodeExec,
    provider: &dyn Provider,
    node: &str,
    timeout: Duration,
) -> Result<Booted, String> {
    let deadline = Instant::now() + timeout;
    let mut last: String;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let req = ExecRequest::new(["systemctl", "is-system-running", "--wait"]).timeout(left);
        match exec.exec(node, req).await {
            Ok(out) => {
                let state = out.stdout_text().trim().to_string();
                match state.as_str() {
                    "running" => return Ok(Booted::Running),
                    "degraded" => return Ok(Booted::Degraded),
                    _ => last = state,
                }
            }
            Err(ExecError::TimedOut { .. }) => last = "still booting".to_string(),
            Err(e) => last = e.to_string(),
        }
        if Instant::now() >= deadline {
            let log = provider
                .logs(node, Some(25))
                .await
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default();
            let log: String = log
                .lines()
                .map(|l| format!("\n    {}", crate::text::strip_ansi(l)))
                .collect();
            return Err(format!(
                "systemd in {node} did not come up within {}s (last state: {last}); the node's console (docker logs {node}) ends with:{log}\n  hint: check `kdc doctor` (inotify limits, privileges)",
                timeout.as_secs()
            ));
        }
        // systemd answers on D-Bus a few tens of milliseconds into boot; ask again soon.
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// The failed units of a degraded node, comma-separated.
pub async fn failed_units(exec: &dyn NodeExec, node: &str) -> String {
    run(
        exec,
        node,
        &["systemctl", "--failed", "--no-legend", "--plain"],
    )
    .await
    .map(|o| {
        o.stdout_text()
            .lines()
            .filter_map(|l| l.split_whitespace().next())
            .collect::<Vec<_>>()
            .join(", ")
    })
    .unwrap_or_default()
}
