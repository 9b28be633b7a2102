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

#[cfg(test)]
mod tests {
    use super::*;

    const MARK: &str = "@@kdc-1-2@@";

    fn parts(out: &str) -> Vec<(String, String)> {
        split_marked(out.as_bytes(), MARK)
            .into_iter()
            .map(|(n, c)| (n, String::from_utf8(c).unwrap()))
            .collect()
    }

    /// Each section is exactly what its command printed: with or without a last newline,
    /// empty, or holding a line that only looks like a mark of another dump.
    #[test]
    fn splitting_keeps_each_section_exact() {
        let out = format!(
            "noise before\n\n{MARK} a.txt\nline 1\n\nline 2\n\n{MARK} b.txt\nno newline\n\
             {MARK} empty.txt\n\n{MARK} c.log\n@@kdc-9-9@@ forged.txt\n{MARK}x.txt\n\n"
        );
        assert_eq!(
            parts(&out),
            [
                ("a.txt".into(), "line 1\n\nline 2\n".into()),
                ("b.txt".into(), "no newline".into()),
                ("empty.txt".into(), String::new()),
                (
                    "c.log".into(),
                    format!("@@kdc-9-9@@ forged.txt\n{MARK}x.txt\n")
                ),
            ]
        );
        assert!(parts("nothing marked\n").is_empty());
        assert!(parts("").is_empty());
    }

    /// Pods as the API lists them: an init container, a container that restarted, a pod not
    /// yet on a node, a container without status yet.
    const PODS: &str = r#"{"apiVersion":"v1","kind":"List","items":[
      {"metadata":{"name":"web-1","namespace":"default"},
       "spec":{"nodeName":"kube-node-1","initContainers":[{"name":"setup"}],
               "containers":[{"name":"app"},{"name":"sidecar"}]},
       "status":{"initContainerStatuses":[{"name":"setup","restartCount":0}],
                 "containerStatuses":[{"name":"app","restartCount":3},
                                      {"name":"sidecar","restartCount":0}]}},
      {"metadata":{"name":"pending","namespace":"default"},
       "spec":{"containers":[{"name":"app"}]},"status":{"phase":"Pending"}},
      {"metadata":{"name":"coredns-5d78c9869d-abcde","namespace":"kube-system"},
       "spec":{"nodeName":"kube-master","containers":[{"name":"coredns"}]},
       "status":{}}
    ]}"#;

    #[test]
    fn every_container_log_of_scheduled_pods_with_previous_runs() {
        let (targets, refused) = log_targets(PODS.as_bytes()).unwrap();
        assert!(refused.is_empty(), "{refused:?}");
        let names: Vec<String> = targets.iter().map(LogTarget::file_name).collect();
        assert_eq!(
            names,
            [
                "pod-kube-node-1-default-web-1--setup.log",
                "pod-kube-node-1-default-web-1--app.log",
                "pod-kube-node-1-default-web-1--app.previous.log",
                "pod-kube-node-1-default-web-1--sidecar.log",
                "pod-kube-master-kube-system-coredns-5d78c9869d-abcde--coredns.log",
            ]
        );
        assert_eq!(
            targets[2].command(),
            "k logs -n default web-1 -c app --previous"
        );
        assert_eq!(targets[1].command(), "k logs -n default web-1 -c app");
    }

    #[test]
    fn a_name_that_cannot_be_a_file_is_reported_not_written() {
        let pods = r#"{"items":[{"metadata":{"name":"../x","namespace":"default"},
            "spec":{"nodeName":"n","containers":[{"name":"c"}]}}]}"#;
        let (targets, refused) = log_targets(pods.as_bytes()).unwrap();
        assert!(targets.is_empty());
        assert_eq!(
            refused,
            ["container default/../x/c on n: not a name for a file; its log is left out"]
        );
        assert!(log_targets(b"error: You must be logged in").is_err());
    }

    /// The script a real shell runs, with a kubectl that prints its arguments (and no newline
    /// after the last log), splits back into one section per container.
    #[test]
    fn the_logs_script_run_by_a_shell_splits_into_one_file_per_container() {
        let dir = tempfile::tempdir().unwrap();
        let kubectl = dir.path().join("kubectl");
        std::fs::write(
            &kubectl,
            "#!/bin/sh\nshift 2\necho \"$*\"\n[ \"$7\" = --previous ] && printf 'tail'\nexit 0\n",
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&kubectl, std::fs::Permissions::from_mode(0o755)).unwrap();
        let (targets, _) = log_targets(PODS.as_bytes()).unwrap();
        let argv = logs_script(MARK, &targets[..3]);
        let out = std::process::Command::new(&argv[0])
            .args(&argv[1..])
            .env(
                "PATH",
                format!(
                    "{}:{}",
                    dir.path().display(),
                    std::env::var("PATH").unwrap()
                ),
            )
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        let got: Vec<(String, String)> = split_marked(&out.stdout, MARK)
            .into_iter()
            .map(|(n, c)| (n, String::from_utf8(c).unwrap()))
            .collect();
        assert_eq!(
            got,
            [
                (
                    "pod-kube-node-1-default-web-1--setup.log".into(),
                    "logs -n default web-1 -c setup\n".into()
                ),
                (
                    "pod-kube-node-1-default-web-1--app.log".into(),
                    "logs -n default web-1 -c app\n".into()
                ),
                (
                    "pod-kube-node-1-default-web-1--app.previous.log".into(),
                    "logs -n default web-1 -c app --previous\ntail".into()
                ),
            ]
        );
    }

    /// Nodes that run the dump's scripts as a Kubernetes cluster would: the master's kubectl
    /// answers (or not: `api_up`), every node has crictl and a kubeadm configuration with a
    /// bootstrap token, each log says whose it is. Other commands get the fake's default.
    fn kube_nodes(api_up: bool) -> crate::runtime::fake::Handler {
        std::sync::Arc::new(move |node: &str, req: &ExecRequest| {
            let script = req.argv.last().cloned().unwrap_or_default();
            let re = regex::Regex::new(r"@@kdc-[0-9a-f]+-[0-9a-f]+@@").unwrap();
            let Some(mark) = re.find(&script).map(|m| m.as_str().to_string()) else {
                return Ok(crate::runtime::fake::Fake::systemd_running(req));
            };
            let m = |name: &str| format!("\n{mark} {name}\n");
            let out = if script.contains("get --raw /version") && api_up {
                [
                    m("kubectl-all.txt") + "NAMESPACE     NAME\n",
                    m("describe-all.txt") + "Name:         coredns\n",
                    m("nodes.txt") + "kube-master   Ready\n",
                    m("events.txt") + "LAST SEEN   TYPE\n",
                    m(POD_LIST) + PODS + "\n",
                ]
                .concat()
            } else if script.contains("get --raw /version") {
                m(API_DOWN)
                    + "\nThe connection to the server 10.192.0.2:6443 was refused - did you \
                       specify the right host or port?\n"
            } else if script.contains("crictl") {
                [
                    m(&format!("crictl-ps-a-{node}.txt")) + "CONTAINER  IMAGE\n",
                    m(&format!("crictl-images-{node}.txt")) + "IMAGE  TAG\n",
                    m(&format!("kubeadm-conf-{node}.yaml"))
                        + "bootstrapTokens:\n- token: abcdef.0123456789abcdef\n",
                ]
                .concat()
            } else {
                let names = script.lines().filter_map(|l| l.strip_prefix("m "));
                names
                    .map(|l| l.split(';').next().unwrap())
                    .map(|name| m(name) + &format!("log of {name}\n"))
                    .collect()
            };
            Ok((0, out + "\n", String::new()))
        })
    }

    fn names(sections: &[Section]) -> Vec<&str> {
        sections.iter().map(|s| s.name.as_str()).collect()
    }

    fn content<'a>(sections: &'a [Section], name: &str) -> &'a str {
        let s = sections.iter().find(|s| s.name == name);
        std::str::from_utf8(&s.unwrap_or_else(|| panic!("no {name}")).content).unwrap()
    }

    async fn dump_of(
        handler: Option<crate::runtime::fake::Handler>,
    ) -> (Vec<Section>, Vec<String>, Vec<String>) {
        let (fake, label) = super::super::live::tests::fake_cluster(handler).await;
        let before = fake.calls().len();
        let (sections, errors) =
            super::super::live::collect(&fake, &fake, &label, true, Duration::from_secs(5))
                .await
                .unwrap();
        (sections, errors, fake.calls()[before..].to_vec())
    }

    /// The cluster's objects and every container log through the master, each node's runtime
    /// and kubeadm.conf (its token redacted), in one exec per node and a few on the master.
    #[tokio::test]
    async fn a_kubernetes_cluster_gets_its_objects_logs_and_runtimes() {
        let (sections, errors, calls) = dump_of(Some(kube_nodes(true))).await;
        assert!(errors.is_empty(), "{errors:?}");
        let all = names(&sections);
        for node in ["kube-master", "kube-node-1", "kube-node-2"] {
            for file in ["crictl-ps-a", "crictl-images"] {
                assert!(
                    all.contains(&format!("{file}-{node}.txt").as_str()),
                    "{all:?}"
                );
            }
            let conf = content(&sections, &format!("kubeadm-conf-{node}.yaml"));
            assert_eq!(conf, "bootstrapTokens:\n- token: [REDACTED]\n");
        }
        let kube: Vec<&str> = all
            .iter()
            .copied()
            .skip_while(|n| !n.starts_with("pod-kube-node-1-default"))
            .collect();
        assert_eq!(
            kube,
            [
                "pod-kube-node-1-default-web-1--setup.log",
                "pod-kube-node-1-default-web-1--app.log",
                "pod-kube-node-1-default-web-1--app.previous.log",
                "pod-kube-node-1-default-web-1--sidecar.log",
                "pod-kube-master-kube-system-coredns-5d78c9869d-abcde--coredns.log",
                "kubectl-all.txt",
                "describe-all.txt",
                "nodes.txt",
                "events.txt",
            ]
        );
        assert_eq!(
            content(&sections, "pod-kube-node-1-default-web-1--app.previous.log"),
            "log of pod-kube-node-1-default-web-1--app.previous.log\n"
        );
        assert_eq!(content(&sections, "nodes.txt"), "kube-master   Ready\n");
        let scripts = |node: &str| {
            calls
                .iter()
                .filter(|c| c.starts_with(&format!("exec {node} sh -c")) && c.contains("@@kdc-"))
                .count()
        };
        assert_eq!((scripts("kube-master"), scripts("kube-node-1")), (3, 1));
    }

    /// An API server that does not answer: the nodes' sections are all there, and one line says
    /// why the cluster's are not.
    #[tokio::test]
    async fn an_api_server_that_is_down_costs_one_error_line() {
        let (sections, errors, calls) = dump_of(Some(kube_nodes(false))).await;
        assert_eq!(
            errors,
            [
                "kube-master: kubectl could not reach the API server, so the dump has no \
                 Kubernetes objects or container logs: The connection to the server \
                 10.192.0.2:6443 was refused - did you specify the right host or port?"
            ]
        );
        let all = names(&sections);
        for want in [
            "crictl-ps-a-kube-node-2.txt",
            "kubeadm-conf-kube-master.yaml",
            "service-kube-master-kubelet.log",
        ] {
            assert!(all.contains(&want), "{want} not in {all:?}");
        }
        assert!(
            !all.iter()
                .any(|n| n.starts_with("pod-kube-") && n.ends_with(".log")
                    || n.starts_with("kubectl-")),
            "{all:?}"
        );
        assert_eq!(all.last(), Some(&"errors.txt"));
        assert!(!calls.iter().any(|c| c.contains(" logs -n ")), "{calls:?}");
    }

    /// Nodes without Kubernetes print nothing for the dump's scripts: no section, no error, and
    /// no log is asked for.
    #[tokio::test]
    async fn a_cluster_without_kubernetes_gets_no_kubernetes_sections() {
        let (sections, errors, calls) = dump_of(None).await;
        assert!(errors.is_empty(), "{errors:?}");
        let all = names(&sections);
        assert!(
            !all.iter().any(|n| n.starts_with("crictl-")
                || n.starts_with("kubeadm-conf-")
                || [
                    "kubectl-all.txt",
                    "describe-all.txt",
                    "nodes.txt",
                    "events.txt"
                ]
                .contains(n)
                || n.ends_with(".log") && n.starts_with("pod-")),
            "{all:?}"
        );
        assert!(all.contains(&"ip-a-kube-master.txt"), "{all:?}");
        assert!(!calls.iter().any(|c| c.contains(" logs -n ")), "{calls:?}");
    }
}
