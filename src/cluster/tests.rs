//! Orchestration tests against a recording fake of the two seams.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use std::error::Error as _;

use super::*;
use crate::cluster::spec::HostFacts;
use crate::config::{Inputs, resolve};
use crate::plan::Plan;
use crate::report::{EventKind, Recorder};
use crate::runtime::fake::Fake;
use crate::runtime::{ContainerSpec, NetworkState, Privilege, VolumeState};
use crate::signal::Stop;

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
        skip_snapshot: false,
        retain: false,
    }
}

fn fake_with_image(plan: &Plan) -> Fake {
    Fake::with_image(&plan.image)
}

async fn run_up(f: &Fake, plan: &Plan) -> (Result<UpOutcome, ClusterError>, Recorder) {
    run_up_with(f, plan, &opts(), &Stop::manual()).await
}

async fn run_up_with(
    f: &Fake,
    plan: &Plan,
    options: &UpOptions,
    stop: &Stop,
) -> (Result<UpOutcome, ClusterError>, Recorder) {
    let (events, rec) = Recorder::emitter();
    let r = up(f, f, plan, options, &events, stop).await;
    (r, rec)
}

fn started(rec: &Recorder) -> Vec<String> {
    rec.actions_started()
}

/// The engine's mutating calls, without the commands run in nodes.
fn engine_calls(f: &Fake) -> Vec<String> {
    f.calls()
        .into_iter()
        .filter(|c| !c.starts_with("exec "))
        .collect()
}

/// Containers, volumes and networks the fake engine holds.
fn left(f: &Fake) -> Vec<String> {
    let s = f.state();
    s.containers
        .keys()
        .chain(s.volumes.keys())
        .chain(s.networks.keys())
        .cloned()
        .collect()
}

#[tokio::test]
async fn fresh_up_creates_network_and_volumes_then_all_nodes() {
    let plan = plan_for(&[("APISERVER_PORT", "40123")]);
    let f = fake_with_image(&plan);
    let (r, rec) = run_up(&f, &plan).await;
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
    let calls = engine_calls(&f);
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
    let s = f.state();
    assert_eq!(
        s.volumes["kubeadm-dind-kube-master"].labels["io.kdc.apiserver-port"],
        "40123"
    );
}

#[tokio::test]
async fn refused_privileged_mode_falls_back_to_capabilities_and_says_so() {
    let plan = plan_for(&[]);
    let mut f = fake_with_image(&plan);
    f.refuse_privileged = true;
    let (r, rec) = run_up(&f, &plan).await;
    assert_eq!(r.unwrap().privilege, Privilege::AllCapsButSysResource);
    assert!(rec.notes().iter().any(|m| m.contains(
        "refused privileged containers (OCI runtime create failed: unable to apply caps"
    )));
    let calls = engine_calls(&f);
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
    run_up(&f, &plan).await.0.unwrap();
    assert_eq!(
        f.state().volumes["kdc-engine"].labels["io.kdc.privileged"],
        "refused"
    );
    f.state().calls.clear();
    let (r, rec) = run_up(&f, &plan).await;
    assert_eq!(r.unwrap().privilege, Privilege::AllCapsButSysResource);
    let calls = engine_calls(&f);
    assert!(!calls.iter().any(|c| c.ends_with("refused")), "{calls:?}");
    assert!(
        rec.notes()
            .iter()
            .any(|m| m.contains("docker volume rm kdc-engine"))
    );
    let (events, _) = Recorder::emitter();
    clean(&f, &plan.cluster.label, &events).await.unwrap();
    assert!(
        f.state().volumes.contains_key("kdc-engine"),
        "engine facts survive clean"
    );
}

#[tokio::test]
async fn second_up_restarts_from_volumes_and_keeps_the_port() {
    let plan = plan_for(&[]);
    let f = fake_with_image(&plan);
    let (r1, _) = run_up(&f, &plan).await;
    let first = r1.unwrap();
    f.state().calls.clear();
    let (events, _) = Recorder::emitter();
    down(&f, &plan.cluster.label, &events).await.unwrap();
    let (r2, rec2) = run_up(&f, &plan).await;
    let second = r2.unwrap();
    assert!(second.restarted);
    assert_eq!(second.apiserver_port, first.apiserver_port);
    let calls = engine_calls(&f);
    assert!(
        !calls
            .iter()
            .any(|c| c.starts_with("volume") || c.starts_with("network")),
        "{calls:?}"
    );
    assert!(
        !started(&rec2).iter().any(|a| a == "remove-old-nodes"),
        "down removed them already"
    );
}

#[tokio::test]
async fn up_on_a_running_cluster_replaces_its_nodes() {
    let plan = plan_for(&[]);
    let f = fake_with_image(&plan);
    run_up(&f, &plan).await.0.unwrap();
    let (r, rec) = run_up(&f, &plan).await;
    assert!(r.unwrap().restarted);
    assert!(started(&rec).iter().any(|a| a == "remove-old-nodes"));
    assert_eq!(f.state().containers.len(), 3);
}

#[tokio::test]
async fn network_with_other_subnets_is_an_error_naming_both() {
    let plan = plan_for(&[]);
    let f = fake_with_image(&plan);
    f.state().networks.insert(
        "kubeadm-dind-net".into(),
        NetworkState {
            name: "kubeadm-dind-net".into(),
            subnets: vec!["fd00:20::/64".parse().unwrap()],
            labels: BTreeMap::new(),
        },
    );
    let (r, _) = run_up(&f, &plan).await;
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
    f.state().volumes.insert(
        "unrelated".into(),
        VolumeState {
            name: "unrelated".into(),
            labels: BTreeMap::new(),
        },
    );
    let (r, rec) = run_up(&f, &plan).await;
    let msg = crate::error::DisplayChain(&r.unwrap_err()).to_string();
    assert!(
        msg.contains(
            "starting 3 node containers failed\ncaused by:\n  - docker start kube-node-2: boom"
        ),
        "{msg}"
    );
    assert!(rec.events().iter().any(|e| matches!(
        &e.kind,
        EventKind::ActionFinished {
            name,
            error: Some(_),
            ..
        } if name == "nodes"
    )));
    assert!(
        !rec.events()
            .iter()
            .any(|e| matches!(&e.kind, EventKind::Warning { .. })),
        "the rollback met no problem"
    );
    let s = f.state();
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
    let (r, _) = run_up(&f, &plan).await;
    assert!(
        r.unwrap_err()
            .source()
            .unwrap()
            .to_string()
            .contains("kdc image build node")
    );
    assert!(f.state().calls.is_empty());
}

#[tokio::test]
async fn systemd_timeout_reports_the_console_tail_without_colour_codes() {
    let plan = plan_for(&[("NUM_NODES", "0")]);
    let mut f = fake_with_image(&plan);
    f.handler = Arc::new(|_, _| Ok((0, "starting\n".into(), String::new())));
    let (r, _) = run_up(&f, &plan).await;
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
    run_up(&f, &a).await.0.unwrap();
    run_up(&f, &b).await.0.unwrap();
    // A foreign container carrying only the legacy bare label key must survive.
    let foreign = ContainerSpec {
        name: "foreign".into(),
        labels: BTreeMap::from([(a.cluster.label.clone(), String::new())]),
        ..Default::default()
    };
    f.run_container(&foreign).await.unwrap();
    let (events, _) = Recorder::emitter();
    assert_eq!(down(&f, &a.cluster.label, &events).await.unwrap(), 3);
    {
        let s = f.state();
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
    let cleaned = clean(&f, "cluster-20", &events).await.unwrap();
    assert_eq!(cleaned.containers.len(), 3);
    assert_eq!(cleaned.volumes.len(), 3);
    assert_eq!(
        cleaned.networks,
        vec!["kubeadm-dind-net-cluster-20".to_string()]
    );
    let s = f.state();
    assert!(!s.containers.keys().any(|k| k.ends_with("cluster-20")));
    assert!(!s.volumes.keys().any(|k| k.ends_with("cluster-20")));
}

#[tokio::test]
async fn status_groups_nodes_by_cluster_master_first() {
    let plan = plan_for(&[("DIND_LABEL", "third")]);
    let f = fake_with_image(&plan);
    run_up(&f, &plan).await.0.unwrap();
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

/// `get clusters` lists a cluster that is down (volumes and network only) beside running ones,
/// with no nodes; `get nodes` lists node containers only, not support containers.
#[tokio::test]
async fn clusters_lists_down_clusters_and_nodes_only_node_containers() {
    let up_plan = plan_for(&[("DIND_LABEL", "third"), ("NUM_NODES", "1")]);
    let down_plan = plan_for(&[("CLUSTER_ID", "20"), ("NUM_NODES", "0")]);
    let f = fake_with_image(&up_plan);
    run_up(&f, &up_plan).await.0.unwrap();
    run_up(&f, &down_plan).await.0.unwrap();
    let (events, _) = Recorder::emitter();
    down(&f, "cluster-20", &events).await.unwrap();
    let support = ContainerSpec {
        name: "bind9-third".into(),
        labels: BTreeMap::from([
            (labels::CLUSTER.to_string(), "third".to_string()),
            (labels::ROLE.to_string(), "dns64".to_string()),
        ]),
        ..Default::default()
    };
    f.run_container(&support).await.unwrap();
    let all = clusters(&f).await.unwrap();
    let summary: Vec<(&str, usize)> = all
        .iter()
        .map(|c| (c.label.as_str(), c.nodes.len()))
        .collect();
    assert_eq!(summary, vec![("cluster-20", 0), ("third", 3)]);
    let names = |nodes: Vec<ClusterNode>| -> Vec<(String, String, String)> {
        nodes
            .into_iter()
            .map(|n| (n.cluster, n.node.name, n.node.role))
            .collect()
    };
    let third = vec![
        (
            "third".to_string(),
            "kube-master-third".to_string(),
            "control-plane".to_string(),
        ),
        (
            "third".to_string(),
            "kube-node-1-third".to_string(),
            "worker".to_string(),
        ),
    ];
    assert_eq!(names(nodes(&f, Some("third")).await.unwrap()), third);
    assert_eq!(names(nodes(&f, None).await.unwrap()), third);
    assert_eq!(names(nodes(&f, Some("cluster-20")).await.unwrap()), vec![]);
}

/// `reup` restarts only when every node volume of the plan exists.
#[tokio::test]
async fn missing_volumes_names_the_volumes_a_restart_lacks() {
    let one = plan_for(&[("CLUSTER_ID", "15"), ("NUM_NODES", "1")]);
    let two = plan_for(&[("CLUSTER_ID", "15"), ("NUM_NODES", "2")]);
    let f = fake_with_image(&one);
    assert_eq!(
        missing_volumes(&f, &one).await.unwrap(),
        vec![
            "kubeadm-dind-kube-master-cluster-15",
            "kubeadm-dind-kube-node-1-cluster-15"
        ]
    );
    run_up(&f, &one).await.0.unwrap();
    let (events, _) = Recorder::emitter();
    down(&f, "cluster-15", &events).await.unwrap();
    assert_eq!(
        missing_volumes(&f, &one).await.unwrap(),
        Vec::<String>::new()
    );
    assert_eq!(
        missing_volumes(&f, &two).await.unwrap(),
        vec!["kubeadm-dind-kube-node-2-cluster-15"]
    );
}

/// An engine that acted on a request whose answer never arrived (a reset connection, an
/// interrupt): what it made must still be removed, so every resource is recorded before it is
/// requested — the volumes too.
#[tokio::test]
async fn resources_whose_answer_was_lost_are_rolled_back_too() {
    for lost in [
        "kubeadm-dind-net",
        "kubeadm-dind-kube-node-1",
        "kubeadm-dind-kube-node-2",
        "kube-node-1",
    ] {
        let plan = plan_for(&[]);
        let mut f = fake_with_image(&plan);
        f.lose_answer = vec![lost.to_string()];
        let (r, _) = run_up(&f, &plan).await;
        let err = r.unwrap_err();
        let chain = crate::error::DisplayChain(&err).to_string();
        assert!(chain.contains("connection reset"), "{lost}: {chain}");
        assert_eq!(left(&f), Vec::<String>::new(), "{lost} leaked");
    }
}

/// A stop request (a signal) during `up` lets the engine requests in flight finish, ends before
/// the next step or while waiting, and removes everything this run created.
#[tokio::test]
async fn a_stop_request_ends_up_and_removes_what_it_made() {
    let plan = plan_for(&[]);
    let mut f = fake_with_image(&plan);
    let stop = Stop::manual();
    let asked = stop.clone();
    // systemd never finishes booting; the first question about it is when the user gives up.
    f.handler = Arc::new(move |_, _| {
        asked.request();
        Ok((0, "starting\n".into(), String::new()))
    });
    let options = UpOptions {
        systemd_timeout: Duration::from_secs(600),
        ..opts()
    };
    let started_at = std::time::Instant::now();
    let (r, _) = run_up_with(&f, &plan, &options, &stop).await;
    assert!(matches!(r, Err(ClusterError::Interrupted)), "{r:?}");
    assert!(started_at.elapsed() < Duration::from_secs(5));
    assert_eq!(left(&f), Vec::<String>::new());
}

/// With --retain a failed `up` removes nothing and says what it kept.
#[tokio::test]
async fn retain_keeps_what_was_created() {
    let plan = plan_for(&[]);
    let mut f = fake_with_image(&plan);
    f.fail_start = vec!["kube-node-2".into()];
    let options = UpOptions {
        retain: true,
        ..opts()
    };
    let (r, rec) = run_up_with(&f, &plan, &options, &Stop::manual()).await;
    assert!(matches!(r, Err(ClusterError::Action { .. })), "{r:?}");
    let kept = left(&f);
    for want in [
        "kube-master",
        "kube-node-1",
        "kubeadm-dind-net",
        "kubeadm-dind-kube-node-2",
    ] {
        assert!(kept.iter().any(|k| k == want), "{want} in {kept:?}");
    }
    assert!(
        rec.notes()
            .iter()
            .any(|n| n.starts_with("keeping what was created (--retain): network kubeadm-dind-net, volume kubeadm-dind-kube-master")),
        "{:?}",
        rec.notes()
    );
}
