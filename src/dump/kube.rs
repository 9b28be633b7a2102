//! The Kubernetes part of a live dump: what the API server knows (through kubectl on the
//! master, with kubeadm's admin kubeconfig) and what each node's container runtime holds.
//!
//! Every `docker exec` costs the engine CPU, so each part is one shell script that prints its
//! sections one after the other, each opened by a line `<mark> <name>`; the mark is new for
//! every dump, so no container log can forge a section. A cluster without Kubernetes (no admin
//! kubeconfig on the master, no kubeadm configuration on a node) prints nothing, and gets no
//! section and no error.

use std::time::Duration;

use serde::Deserialize;

use super::live::Section;
use crate::cluster::actions::ADMIN_CONF;
use crate::kube::kubeadm::CONFIG_PATH;
use crate::runtime::{ExecRequest, NodeExec, shell_quote};

/// Containers whose logs one `docker exec` fetches, so that each stays well inside its timeout.
const LOGS_PER_EXEC: usize = 10;
/// Internal section of the master's script: kubectl could not reach the API server (its error).
const API_DOWN: &str = ":api-down";
/// Internal section of the master's script: `kubectl get pods -o json`, which lists the logs.
const POD_LIST: &str = ":pods";

/// A mark no container log contains: the dump's time in nanoseconds and kdc's process id.
pub fn new_mark() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("@@kdc-{nanos:x}-{:x}@@", std::process::id())
}

/// A shell script whose output [`split_marked`] splits. `m NAME` opens a section, `k` is
/// kubectl with the admin kubeconfig.
struct Script {
    text: String,
}

impl Script {
    /// A script that prints nothing unless `guard` (a shell test) holds.
    fn new(mark: &str, guard: &str) -> Script {
        Script {
            text: format!(
                "{guard} || exit 0\n\
                 m() {{ printf '\\n%s %s\\n' '{mark}' \"$1\"; }}\n\
                 k() {{ kubectl --kubeconfig {ADMIN_CONF} \"$@\"; }}\n"
            ),
        }
    }

    /// Section `name` holds what `cmd` prints, its errors included.
    fn section(mut self, name: &str, cmd: &str) -> Script {
        self.text
            .push_str(&format!("m {}; {{ {cmd}; }} 2>&1\n", shell_quote(name)));
        self
    }

    fn raw(mut self, text: &str) -> Script {
        self.text.push_str(text);
        self.text.push('\n');
        self
    }

    /// The script, ending with the newline that [`split_marked`] takes off the last section.
    fn finish(self) -> Vec<String> {
        vec!["sh".into(), "-c".into(), self.text + "printf '\\n'\n"]
    }
}

/// The sections of a script's output: each from its mark line to the next one, without the
/// newline the mark function prints before the mark. Text before the first mark is dropped.
pub fn split_marked(out: &[u8], mark: &str) -> Vec<(String, Vec<u8>)> {
    let mut sections: Vec<(String, Vec<u8>)> = Vec::new();
    let prefix = format!("{mark} ");
    let mut pos = 0;
    while pos < out.len() {
        let end = out[pos..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(out.len(), |i| pos + i + 1);
        let line = &out[pos..end];
        let name = line
            .strip_prefix(prefix.as_bytes())
            .map(|n| n.strip_suffix(b"\n").unwrap_or(n));
        match name {
            Some(name) => sections.push((String::from_utf8_lossy(name).into_owned(), Vec::new())),
            None => {
                if let Some((_, content)) = sections.last_mut() {
                    content.extend_from_slice(line);
                }
            }
        }
        pos = end;
    }
    for (_, content) in &mut sections {
        if content.last() == Some(&b'\n') {
            content.pop();
        }
    }
    sections
}

/// One container log to fetch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogTarget {
    pub node: String,
    pub namespace: String,
    pub pod: String,
    pub container: String,
    /// The log of the container's previous run (`kubectl logs --previous`).
    pub previous: bool,
}

impl LogTarget {
    /// The original's `pod-<node>-<ns>-<pod>--<container>.log`; the previous run's log adds
    /// `.previous` before `.log`.
    pub fn file_name(&self) -> String {
        let previous = if self.previous { ".previous" } else { "" };
        format!(
            "pod-{}-{}-{}--{}{previous}.log",
            self.node, self.namespace, self.pod, self.container
        )
    }

    fn command(&self) -> String {
        let mut argv = vec![
            "k",
            "logs",
            "-n",
            &self.namespace,
            &self.pod,
            "-c",
            &self.container,
        ];
        if self.previous {
            argv.push("--previous");
        }
        argv.iter()
            .map(|a| shell_quote(a))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

#[derive(Deserialize)]
struct PodList {
    items: Vec<Pod>,
}

#[derive(Deserialize)]
struct Pod {
    metadata: PodMeta,
    spec: PodSpec,
    #[serde(default)]
    status: PodStatus,
}

#[derive(Deserialize)]
struct PodMeta {
    name: String,
    namespace: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PodSpec {
    #[serde(default)]
    node_name: Option<String>,
    #[serde(default)]
    init_containers: Vec<Named>,
    #[serde(default)]
    containers: Vec<Named>,
}

#[derive(Deserialize)]
struct Named {
    name: String,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct PodStatus {
    #[serde(default)]
    init_container_statuses: Vec<ContainerStatus>,
    #[serde(default)]
    container_statuses: Vec<ContainerStatus>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ContainerStatus {
    name: String,
    #[serde(default)]
    restart_count: u64,
}

/// Whether `s` can be put into a file name as it is; Kubernetes names always can.
fn plain(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with('.')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

/// The logs of every container of every scheduled pod, init containers first as the pod runs
/// them, each followed by its previous run's log when it restarted. Pods not on a node have no
/// logs; a name that cannot be a file name is reported instead.
pub fn log_targets(pods_json: &[u8]) -> Result<(Vec<LogTarget>, Vec<String>), String> {
    let list: PodList = serde_json::from_slice(pods_json).map_err(|e| e.to_string())?;
    let (mut targets, mut refused) = (Vec::new(), Vec::new());
    for pod in list.items {
        let Some(node) = pod.spec.node_name.filter(|n| !n.is_empty()) else {
            continue;
        };
        let statuses: Vec<&ContainerStatus> = pod
            .status
            .init_container_statuses
            .iter()
            .chain(&pod.status.container_statuses)
            .collect();
        for c in pod.spec.init_containers.iter().chain(&pod.spec.containers) {
            let names = [&node, &pod.metadata.namespace, &pod.metadata.name, &c.name];
            if !names.iter().all(|n| plain(n)) {
                refused.push(format!(
                    "container {}/{}/{} on {node}: not a name for a file; its log is left out",
                    pod.metadata.namespace, pod.metadata.name, c.name
                ));
                continue;
            }
            let restarts = statuses
                .iter()
                .find(|s| s.name == c.name)
                .map_or(0, |s| s.restart_count);
            for previous in [false, true] {
                if previous && restarts == 0 {
                    continue;
                }
                targets.push(LogTarget {
                    node: node.clone(),
                    namespace: pod.metadata.namespace.clone(),
                    pod: pod.metadata.name.clone(),
                    container: c.name.clone(),
                    previous,
                });
            }
        }
    }
    Ok((targets, refused))
}

/// The master's script: the cluster's state, or why kubectl cannot get it.
fn state_script(mark: &str) -> Vec<String> {
    Script::new(
        mark,
        &format!("[ -s {ADMIN_CONF} ] && command -v kubectl >/dev/null"),
    )
    .raw("if v=$(k --request-timeout=5s get --raw /version 2>&1); then")
    .section("kubectl-all.txt", "k get all --all-namespaces -o wide")
    .section("describe-all.txt", "k describe all --all-namespaces")
    .section("nodes.txt", "k get nodes -o wide; echo; k describe nodes")
    .section(
        "events.txt",
        "k get events --all-namespaces --sort-by=.lastTimestamp",
    )
    .raw(&format!(
        "m {POD_LIST}; k get pods --all-namespaces -o json\nelse m {API_DOWN}; printf '%s\\n' \"$v\"; fi"
    ))
    .finish()
}

/// A script printing the logs of `targets`.
fn logs_script(mark: &str, targets: &[LogTarget]) -> Vec<String> {
    targets
        .iter()
        .fold(Script::new(mark, "true"), |s, t| {
            s.section(&t.file_name(), &t.command())
        })
        .finish()
}

/// The Kubernetes sections of one node: its containers and images as the container runtime
/// lists them, and the kubeadm configuration kdc wrote. Nothing for a node without one.
pub async fn node_sections(
    exec: &dyn NodeExec,
    node: &str,
    mark: &str,
    timeout: Duration,
) -> (Vec<Section>, Vec<String>) {
    let argv = Script::new(mark, &format!("[ -e {CONFIG_PATH} ]"))
        .section(&format!("crictl-ps-a-{node}.txt"), "crictl ps -a")
        .section(&format!("crictl-images-{node}.txt"), "crictl images")
        .section(
            &format!("kubeadm-conf-{node}.yaml"),
            &format!("cat {CONFIG_PATH}"),
        )
        .finish();
    match exec
        .exec(node, ExecRequest::new(argv).timeout(timeout))
        .await
    {
        Ok(o) => (sections(split_marked(&o.stdout, mark)), Vec::new()),
        Err(e) => (
            Vec::new(),
            vec![format!("{node}: crictl and kubeadm.conf: {e}")],
        ),
    }
}

fn sections(parts: Vec<(String, Vec<u8>)>) -> Vec<Section> {
    parts
        .into_iter()
        .map(|(name, content)| Section { name, content })
        .collect()
}

/// The cluster's sections, through kubectl on `master`: every container's log, then
/// `kubectl-all.txt`, `describe-all.txt`, `nodes.txt` and `events.txt`. An API server that does
/// not answer costs one line in the errors, and no section.
pub async fn cluster_sections(
    exec: &dyn NodeExec,
    master: &str,
    mark: &str,
    timeout: Duration,
) -> (Vec<Section>, Vec<String>) {
    let mut errors = Vec::new();
    let run = |argv: Vec<String>| exec.exec(master, ExecRequest::new(argv).timeout(timeout));
    let state = match run(state_script(mark)).await {
        Ok(o) => split_marked(&o.stdout, mark),
        Err(e) => return (Vec::new(), vec![format!("{master}: kubectl: {e}")]),
    };
    let (mut state_sections, mut pods) = (Vec::new(), None);
    for (name, content) in state {
        match name.as_str() {
            API_DOWN => {
                let why = String::from_utf8_lossy(&content);
                let why = why.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
                errors.push(format!(
                    "{master}: kubectl could not reach the API server, so the dump has no \
                     Kubernetes objects or container logs: {why}"
                ));
            }
            POD_LIST => pods = Some(content),
            _ => state_sections.push(Section { name, content }),
        }
    }
    let targets = match pods.map(|p| log_targets(&p)) {
        None => Vec::new(),
        Some(Ok((targets, refused))) => {
            errors.extend(refused.into_iter().map(|r| format!("{master}: {r}")));
            targets
        }
        Some(Err(e)) => {
            errors.push(format!("{master}: cannot read the pod list: {e}"));
            Vec::new()
        }
    };
    let mut logs = Vec::new();
    for chunk in targets.chunks(LOGS_PER_EXEC) {
        match run(logs_script(mark, chunk)).await {
            Ok(o) => logs.extend(sections(split_marked(&o.stdout, mark))),
            Err(e) => errors.push(format!(
                "{master}: the logs of {} and {} more: {e}",
                chunk[0].file_name(),
                chunk.len() - 1
            )),
        }
    }
    logs.extend(state_sections);
    (logs, errors)
}
