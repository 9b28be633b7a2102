//! Orchestration tests against a recording fake of the two seams.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use std::error::Error as _;

use super::*;
use crate::cluster::spec::HostFacts;
use crate::config::{Inputs, resolve};
use crate::events::Recorder;
use crate::plan::Plan;
use crate::runtime::{
    ContainerSpec, EngineInfo, ErrorKind, ExecOutput, NetworkSpec, NetworkState, Privilege,
    VolumeState,
};

/// An in-memory engine that records every mutating call.
#[derive(Default)]
struct Fake {
    state: Mutex<FakeState>,
    refuse_privileged: bool,
    /// Container names whose start fails.
    fail_start: Vec<String>,
}

#[derive(Default)]
struct FakeState {
    images: Vec<String>,
    networks: BTreeMap<String, NetworkState>,
    volumes: BTreeMap<String, VolumeState>,
    containers: BTreeMap<String, (ContainerSpec, String)>,
    calls: Vec<String>,
}

fn perr(op: &'static str, object: &str, kind: ErrorKind, message: &str) -> ProviderError {
    ProviderError {
        op,
        object: object.into(),
        kind,
        message: message.into(),
    }
}

fn matches(labels: &BTreeMap<String, String>, filter: &str) -> bool {
    match filter.split_once('=') {
        Some((k, v)) => labels.get(k).map(String::as_str) == Some(v),
        None => labels.contains_key(filter),
    }
}

#[async_trait::async_trait]
impl Provider for Fake {
    async fn info(&self) -> Result<EngineInfo, ProviderError> {
        Ok(EngineInfo::default())
    }
    async fn image_labels(
        &self,
        image: &str,
    ) -> Result<Option<BTreeMap<String, String>>, ProviderError> {
        Ok(self
            .state
            .lock()
            .unwrap()
            .images
            .iter()
            .any(|i| i == image)
            .then(BTreeMap::new))
    }
    async fn network(&self, name: &str) -> Result<Option<NetworkState>, ProviderError> {
        Ok(self.state.lock().unwrap().networks.get(name).cloned())
    }
    async fn create_network(&self, spec: &NetworkSpec) -> Result<(), ProviderError> {
        let mut s = self.state.lock().unwrap();
        s.calls.push(format!("network create {}", spec.name));
        let subnets = spec.subnets.iter().map(|(n, _, _)| *n).collect();
        s.networks.insert(
            spec.name.clone(),
            NetworkState {
                name: spec.name.clone(),
                subnets,
                labels: spec.labels.clone(),
            },
        );
        Ok(())
    }
    async fn remove_network(&self, name: &str) -> Result<(), ProviderError> {
        let mut s = self.state.lock().unwrap();
        s.calls.push(format!("network rm {name}"));
        s.networks.remove(name);
        Ok(())
    }
    async fn list_networks(&self, label: &str) -> Result<Vec<NetworkState>, ProviderError> {
        Ok(self
            .state
            .lock()
            .unwrap()
            .networks
            .values()
            .filter(|n| matches(&n.labels, label))
            .cloned()
            .collect())
    }
    async fn volume(&self, name: &str) -> Result<Option<VolumeState>, ProviderError> {
        Ok(self.state.lock().unwrap().volumes.get(name).cloned())
    }
    async fn create_volume(
        &self,
        name: &str,
        labels: &BTreeMap<String, String>,
    ) -> Result<(), ProviderError> {
        let mut s = self.state.lock().unwrap();
        s.calls.push(format!("volume create {name}"));
        s.volumes.insert(
            name.into(),
            VolumeState {
                name: name.into(),
                labels: labels.clone(),
            },
        );
        Ok(())
    }
    async fn remove_volume(&self, name: &str) -> Result<(), ProviderError> {
        let mut s = self.state.lock().unwrap();
        s.calls.push(format!("volume rm {name}"));
        s.volumes.remove(name);
        Ok(())
    }
    async fn list_volumes(&self, label: &str) -> Result<Vec<VolumeState>, ProviderError> {
        Ok(self
            .state
            .lock()
            .unwrap()
            .volumes
            .values()
            .filter(|v| matches(&v.labels, label))
            .cloned()
            .collect())
    }
    async fn run_container(&self, spec: &ContainerSpec) -> Result<String, ProviderError> {
        let mut s = self.state.lock().unwrap();
        if self.refuse_privileged && spec.privilege == Some(Privilege::Privileged) {
            s.calls.push(format!("run {} refused", spec.name));
            return Err(perr(
                "docker start",
                &spec.name,
                ErrorKind::PrivilegedRefused,
                "OCI runtime create failed: unable to apply caps: operation not permitted",
            ));
        }
        if self.fail_start.contains(&spec.name) {
            return Err(perr("docker start", &spec.name, ErrorKind::Other, "boom"));
        }
        s.calls
            .push(format!("run {} {:?}", spec.name, spec.privilege));
        s.containers
            .insert(spec.name.clone(), (spec.clone(), "running".into()));
        Ok(format!("id-{}", spec.name))
    }
    async fn start_container(&self, _name: &str) -> Result<(), ProviderError> {
        Ok(())
    }
    async fn remove_container(&self, name: &str) -> Result<(), ProviderError> {
        let mut s = self.state.lock().unwrap();
        s.calls.push(format!("rm {name}"));
        s.containers.remove(name);
        Ok(())
    }
    async fn list_containers(&self, label: &str) -> Result<Vec<ContainerState>, ProviderError> {
        let s = self.state.lock().unwrap();
        Ok(s.containers
            .values()
            .filter(|(c, _)| matches(&c.labels, label))
            .map(|(c, st)| ContainerState {
                name: c.name.clone(),
                id: String::new(),
                state: st.clone(),
                image: c.image.clone(),
                labels: c.labels.clone(),
                ..Default::default()
            })
            .collect())
    }
    async fn container(&self, name: &str) -> Result<Option<ContainerState>, ProviderError> {
        Ok(self
            .list_containers("")
            .await?
            .into_iter()
            .find(|c| c.name == name))
    }
    async fn describe_container(&self, _name: &str) -> Result<serde_json::Value, ProviderError> {
        Ok(serde_json::Value::Null)
    }
    async fn logs(&self, _name: &str, _tail: Option<usize>) -> Result<Vec<u8>, ProviderError> {
        Ok(b"\x1b[0;32mReached target\x1b[0m Multi-User System\n".to_vec())
    }
}

/// Answers `systemctl is-system-running` with a fixed state.
struct FakeExec(&'static str);

#[async_trait::async_trait]
impl NodeExec for FakeExec {
    async fn exec(
        &self,
        node: &str,
        argv: &[&str],
        _stdin: Option<Vec<u8>>,
    ) -> Result<ExecOutput, ExecError> {
        let out = if argv.contains(&"is-system-running") {
            format!("{}\n", self.0)
        } else {
            String::new()
        };
        Ok(ExecOutput {
            node: node.into(),
            argv: argv.iter().map(|s| s.to_string()).collect(),
            code: 0,
            stdout: out.into_bytes(),
            stderr: vec![],
        })
    }
}

fn plan_for(vars: &[(&str, &str)]) -> Plan {
    crate::plan::plan(
        &resolve(&Inputs::default().with_env(vars.iter().copied()))
            .unwrap()
            .config,
    )
    .unwrap()
}

fn opts() -> UpOptions {
    UpOptions {
        host: HostFacts { lib_modules: false },
        systemd_timeout: Duration::from_millis(500),
    }
}

fn fake_with_image(plan: &Plan) -> Fake {
    let f = Fake::default();
    f.state.lock().unwrap().images.push(plan.image.clone());
    f
}

async fn run_up(
    f: &Fake,
    exec: &FakeExec,
    plan: &Plan,
    ledger: &Ledger,
) -> (Result<UpOutcome, ClusterError>, Recorder) {
    let mut rec = Recorder::default();
    let r = up(f, exec, plan, &opts(), false, ledger, &mut rec).await;
    (r, rec)
}

fn started(rec: &Recorder) -> Vec<&'static str> {
    rec.0
        .iter()
        .filter_map(|e| match e {
            Event::ActionStarted { name, .. } => Some(*name),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn fresh_up_creates_network_and_volumes_then_all_nodes() {
    let plan = plan_for(&[("APISERVER_PORT", "40123")]);
    let f = fake_with_image(&plan);
    let ledger = Ledger::default();
    let (r, rec) = run_up(&f, &FakeExec("running"), &plan, &ledger).await;
    let out = r.unwrap();
    assert_eq!(
        out,
        UpOutcome {
            apiserver_port: 40123,
            restarted: false,
            privilege: Privilege::Privileged
        }
    );
    assert_eq!(
        started(&rec),
        vec!["image", "network", "volumes", "nodes", "systemd"]
    );
    let calls = f.state.lock().unwrap().calls.clone();
    assert_eq!(calls[0], "network create kubeadm-dind-net");
    assert_eq!(
        &calls[1..4],
        &[
            "volume create kubeadm-dind-kube-master",
            "volume create kubeadm-dind-kube-node-1",
            "volume create kubeadm-dind-kube-node-2"
        ]
    );
    let mut nodes = calls[4..].to_vec();
    nodes.sort();
    assert_eq!(
        nodes,
        vec![
            "run kube-master Some(Privileged)",
            "run kube-node-1 Some(Privileged)",
            "run kube-node-2 Some(Privileged)"
        ]
    );
    let s = f.state.lock().unwrap();
    assert_eq!(
        s.volumes["kubeadm-dind-kube-master"].labels["io.kdc.apiserver-port"],
        "40123"
    );
    assert_eq!(
        ledger.lock().unwrap().len(),
        7,
        "network, 3 volumes, 3 containers recorded for rollback"
    );
}

#[tokio::test]
async fn refused_privileged_mode_falls_back_to_capabilities_and_says_so() {
    let plan = plan_for(&[]);
    let mut f = fake_with_image(&plan);
    f.refuse_privileged = true;
    let (r, rec) = run_up(&f, &FakeExec("running"), &plan, &Ledger::default()).await;
    assert_eq!(r.unwrap().privilege, Privilege::AllCapsButSysResource);
    assert!(rec.0.iter().any(|e| matches!(e, Event::Note { message } if message.contains("refused privileged containers (OCI runtime create failed: unable to apply caps"))));
    let calls = f.state.lock().unwrap().calls.clone();
    assert_eq!(
        calls.iter().filter(|c| c.ends_with("refused")).count(),
        3,
        "each node tries once, concurrently: {calls:?}"
    );
    assert_eq!(
        calls
            .iter()
            .filter(|c| c.contains("AllCapsButSysResource"))
            .count(),
        3
    );
}

#[tokio::test]
async fn a_recorded_refusal_skips_the_privileged_attempt_next_time() {
    let plan = plan_for(&[]);
    let mut f = fake_with_image(&plan);
    f.refuse_privileged = true;
    run_up(&f, &FakeExec("running"), &plan, &Ledger::default())
        .await
        .0
        .unwrap();
    assert_eq!(
        f.state.lock().unwrap().volumes["kdc-engine"].labels["io.kdc.privileged"],
        "refused"
    );
    f.state.lock().unwrap().calls.clear();
    let (r, rec) = run_up(&f, &FakeExec("running"), &plan, &Ledger::default()).await;
    assert_eq!(r.unwrap().privilege, Privilege::AllCapsButSysResource);
    let calls = f.state.lock().unwrap().calls.clone();
    assert!(!calls.iter().any(|c| c.ends_with("refused")), "{calls:?}");
    assert!(rec.0.iter().any(
        |e| matches!(e, Event::Note { message } if message.contains("docker volume rm kdc-engine"))
    ));
    let mut r2 = Recorder::default();
    clean(&f, &plan.cluster.label, &mut r2).await.unwrap();
    assert!(
        f.state.lock().unwrap().volumes.contains_key("kdc-engine"),
        "engine facts survive clean"
    );
}

#[tokio::test]
async fn second_up_restarts_from_volumes_and_keeps_the_port() {
    let plan = plan_for(&[]);
    let f = fake_with_image(&plan);
    let (r1, _) = run_up(&f, &FakeExec("running"), &plan, &Ledger::default()).await;
    let first = r1.unwrap();
    f.state.lock().unwrap().calls.clear();
    let mut rec = Recorder::default();
    down(&f, &plan.cluster.label, &mut rec).await.unwrap();
    let (r2, rec2) = run_up(&f, &FakeExec("running"), &plan, &Ledger::default()).await;
    let second = r2.unwrap();
    assert!(second.restarted);
    assert_eq!(second.apiserver_port, first.apiserver_port);
    let calls = f.state.lock().unwrap().calls.clone();
    assert!(
        !calls
            .iter()
            .any(|c| c.starts_with("volume") || c.starts_with("network")),
        "{calls:?}"
    );
    assert!(
        !started(&rec2).contains(&"remove-old-nodes"),
        "down removed them already"
    );
}

#[tokio::test]
async fn up_on_a_running_cluster_replaces_its_nodes() {
    let plan = plan_for(&[]);
    let f = fake_with_image(&plan);
    run_up(&f, &FakeExec("running"), &plan, &Ledger::default())
        .await
        .0
        .unwrap();
    let (r, rec) = run_up(&f, &FakeExec("running"), &plan, &Ledger::default()).await;
    assert!(r.unwrap().restarted);
    assert!(started(&rec).contains(&"remove-old-nodes"));
    assert_eq!(f.state.lock().unwrap().containers.len(), 3);
}

#[tokio::test]
async fn network_with_other_subnets_is_an_error_naming_both() {
    let plan = plan_for(&[]);
    let f = fake_with_image(&plan);
    f.state.lock().unwrap().networks.insert(
        "kubeadm-dind-net".into(),
        NetworkState {
            name: "kubeadm-dind-net".into(),
            subnets: vec!["fd00:20::/64".parse().unwrap()],
            labels: BTreeMap::new(),
        },
    );
    let (r, _) = run_up(&f, &FakeExec("running"), &plan, &Ledger::default()).await;
    let msg = crate::error::DisplayChain(&r.unwrap_err()).to_string();
    assert!(
        msg.starts_with("error: creating network kubeadm-dind-net failed\ncaused by:"),
        "{msg}"
    );
    assert!(
        msg.contains("exists with subnets [fd00:20::/64] but the plan needs [10.192.0.0/24]"),
        "{msg}"
    );
}

#[tokio::test]
async fn failure_rolls_back_everything_created_and_nothing_else() {
    let plan = plan_for(&[]);
    let mut f = fake_with_image(&plan);
    f.fail_start = vec!["kube-node-2".into()];
    f.state.lock().unwrap().volumes.insert(
        "unrelated".into(),
        VolumeState {
            name: "unrelated".into(),
            labels: BTreeMap::new(),
        },
    );
    let ledger = Ledger::default();
    let (r, rec) = run_up(&f, &FakeExec("running"), &plan, &ledger).await;
    assert!(r.is_err());
    assert!(rec.0.iter().any(|e| matches!(
        e,
        Event::ActionFinished {
            name: "nodes",
            error: Some(_),
            ..
        }
    )));
    assert!(rollback(&f, &ledger).await.is_empty());
    let s = f.state.lock().unwrap();
    assert!(
        s.containers.is_empty() && s.networks.is_empty(),
        "left behind: {:?} {:?}",
        s.containers.keys(),
        s.networks.keys()
    );
    assert_eq!(s.volumes.keys().collect::<Vec<_>>(), vec!["unrelated"]);
}

#[tokio::test]
async fn missing_image_stops_before_creating_anything() {
    let plan = plan_for(&[]);
    let f = Fake::default();
    let (r, _) = run_up(&f, &FakeExec("running"), &plan, &Ledger::default()).await;
    assert!(
        r.unwrap_err()
            .source()
            .unwrap()
            .to_string()
            .contains("kdc image build node")
    );
    assert!(f.state.lock().unwrap().calls.is_empty());
}

#[tokio::test]
async fn systemd_timeout_reports_the_console_tail_without_colour_codes() {
    let plan = plan_for(&[("NUM_NODES", "0")]);
    let f = fake_with_image(&plan);
    let (r, _) = run_up(&f, &FakeExec("starting"), &plan, &Ledger::default()).await;
    let msg = r.unwrap_err().source().unwrap().to_string();
    assert!(
        msg.contains("systemd in kube-master did not come up within 0s (last state: starting)"),
        "{msg}"
    );
    assert!(
        msg.contains("\n    Reached target Multi-User System"),
        "{msg}"
    );
}

#[tokio::test]
async fn down_removes_only_this_clusters_nodes_and_clean_removes_all_it_owns() {
    let a = plan_for(&[]);
    let b = plan_for(&[("CLUSTER_ID", "20")]);
    let f = fake_with_image(&a);
    run_up(&f, &FakeExec("running"), &a, &Ledger::default())
        .await
        .0
        .unwrap();
    run_up(&f, &FakeExec("running"), &b, &Ledger::default())
        .await
        .0
        .unwrap();
    // A foreign container carrying only the legacy bare label key must survive.
    let foreign = ContainerSpec {
        name: "foreign".into(),
        labels: BTreeMap::from([(a.cluster.label.clone(), String::new())]),
        ..Default::default()
    };
    f.run_container(&foreign).await.unwrap();
    let mut rec = Recorder::default();
    assert_eq!(down(&f, &a.cluster.label, &mut rec).await.unwrap(), 3);
    {
        let s = f.state.lock().unwrap();
        assert!(
            s.containers.contains_key("foreign")
                && s.containers.contains_key("kube-master-cluster-20")
        );
        assert!(!s.containers.contains_key("kube-master"));
        assert!(
            s.volumes.contains_key("kubeadm-dind-kube-master")
                && s.networks.contains_key("kubeadm-dind-net")
        );
    }
    assert_eq!(
        all_labels(&f).await.unwrap(),
        vec!["cluster-20".to_string(), a.cluster.label.clone()]
    );
    let cleaned = clean(&f, "cluster-20", &mut rec).await.unwrap();
    assert_eq!(cleaned.containers.len(), 3);
    assert_eq!(cleaned.volumes.len(), 3);
    assert_eq!(
        cleaned.networks,
        vec!["kubeadm-dind-net-cluster-20".to_string()]
    );
    let s = f.state.lock().unwrap();
    assert!(!s.containers.keys().any(|k| k.ends_with("cluster-20")));
    assert!(!s.volumes.keys().any(|k| k.ends_with("cluster-20")));
}

#[tokio::test]
async fn status_groups_nodes_by_cluster_master_first() {
    let plan = plan_for(&[("DIND_LABEL", "third")]);
    let f = fake_with_image(&plan);
    run_up(&f, &FakeExec("running"), &plan, &Ledger::default())
        .await
        .0
        .unwrap();
    let st = status(&f).await.unwrap();
    assert_eq!(st.len(), 1);
    assert_eq!(st[0].label, "third");
    let names: Vec<&str> = st[0].nodes.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(
        names,
        vec![
            "kube-master-third",
            "kube-node-1-third",
            "kube-node-2-third"
        ]
    );
}

#[test]
fn strip_ansi_removes_colour_and_carriage_returns() {
    assert_eq!(
        strip_ansi("[  \x1b[0;32mOK\x1b[0m  ] Reached\r"),
        "[  OK  ] Reached"
    );
}
