//! Orchestration tests against a recording fake of the two seams.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use std::error::Error as _;

use super::*;
use crate::plan::Plan;
use crate::report::{EventKind, Recorder};
use crate::runtime::fake::Fake;
use crate::runtime::{ContainerSpec, NetworkState, Privilege, VolumeState};
use crate::signal::Stop;

use crate::plan::for_env as plan_for;

fn opts() -> UpOptions {
    UpOptions {
        systemd_timeout: Duration::from_millis(500),
        ..UpOptions::default()
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
            restarted: vec![],
            fresh: vec![
                "kube-master".into(),
                "kube-node-1".into(),
                "kube-node-2".into()
            ],
            privilege: Privilege::Privileged,
            bootstrapper: Bootstrapper::None,
            host_routes: vec![],
        }
    );
    assert_eq!(
        started(&rec),
        vec![
            "image",
            "network",
            "volumes",
            "support",
            "nodes",
            "systemd",
            "support-ready",
            "node-network",
            "sandboxes"
        ]
    );
    let mut calls = engine_calls(&f);
    assert_eq!(
        (calls.remove(0), calls.pop().unwrap()),
        ("create kdc-lock".to_string(), "rm kdc-lock".to_string()),
        "up holds the cluster's lock from first to last"
    );
    assert_eq!(calls[0], "network create kubeadm-dind-net");
    assert_eq!(
        &calls[1..4],
        &[
            "volume create kubeadm-dind-kube-master",
            "volume create kubeadm-dind-kube-node-1",
            "volume create kubeadm-dind-kube-node-2"
        ]
    );
    // Under the targets' lock: the shared targets, bind9 and the router (created, connected to
    // the targets, started; concurrently with bind9); then the nodes, all at once.
    let mut rest = calls[4..].to_vec();
    rest.sort();
    assert_eq!(
        rest,
        vec![
            "create kdc-gw",
            "create kdc-lock-targets",
            "network connect kdc-targets kdc-gw",
            "network create kdc-targets",
            "rm kdc-lock-targets",
            "run bind9 None",
            "run kdc-target-dualstack None",
            "run kdc-target-ipv4only None",
            "run kube-master Some(Privileged)",
            "run kube-node-1 Some(Privileged)",
            "run kube-node-2 Some(Privileged)",
            "start kdc-gw",
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
        rec.notes().is_empty(),
        "the full note is said once per engine: {:?}",
        rec.notes()
    );
    assert!(rec.events().iter().any(|e| matches!(
        &e.kind,
        EventKind::Debug { level: 0, message } if message.contains("`docker volume rm kdc-engine` tries again")
    )));
    let (events, _) = Recorder::emitter();
    clean(&f, &plan.cluster.label, &plan.image, &events)
        .await
        .unwrap();
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
    down(&f, &plan.cluster.label, &plan.image, &events)
        .await
        .unwrap();
    let (r2, rec2) = run_up(&f, &plan).await;
    let second = r2.unwrap();
    assert_eq!(second.restarted.len(), 3);
    assert!(second.fresh.is_empty());
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
    assert_eq!(r.unwrap().restarted.len(), 3);
    assert!(started(&rec).iter().any(|a| a == "remove-old-nodes"));
    let mut containers: Vec<String> = f.state().containers.keys().cloned().collect();
    containers.sort();
    assert_eq!(
        containers,
        [
            "bind9",
            "kdc-gw",
            "kdc-target-dualstack",
            "kdc-target-ipv4only",
            "kube-master",
            "kube-node-1",
            "kube-node-2"
        ],
        "bind9 and the router, running with the same configuration, are kept"
    );
    let support_calls: Vec<String> = f
        .calls()
        .into_iter()
        .filter(|c| c.contains("bind9") || c.contains("kdc-gw"))
        .collect();
    assert_eq!(support_calls.len(), 4, "made once: {support_calls:?}");
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
    assert_eq!(
        f.calls(),
        ["create kdc-lock"],
        "only the lock was tried, which needs the image too"
    );
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
    assert_eq!(
        down(&f, &a.cluster.label, &a.image, &events).await.unwrap(),
        3
    );
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
    let cleaned = clean(&f, "cluster-20", &b.image, &events).await.unwrap();
    assert_eq!(
        cleaned.containers,
        [
            "bind9-cluster-20",
            "kdc-gw-cluster-20",
            "kube-master-cluster-20",
            "kube-node-1-cluster-20",
            "kube-node-2-cluster-20"
        ]
    );
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

/// `get clusters` lists a cluster that is down (volumes, network, bind9 and router only) beside
/// running ones; `get nodes` lists node containers only, not support containers.
#[tokio::test]
async fn clusters_lists_down_clusters_and_nodes_only_node_containers() {
    let up_plan = plan_for(&[("DIND_LABEL", "third"), ("NUM_NODES", "1")]);
    let down_plan = plan_for(&[("CLUSTER_ID", "20"), ("NUM_NODES", "0")]);
    let f = fake_with_image(&up_plan);
    run_up(&f, &up_plan).await.0.unwrap();
    run_up(&f, &down_plan).await.0.unwrap();
    let (events, _) = Recorder::emitter();
    down(&f, "cluster-20", &down_plan.image, &events)
        .await
        .unwrap();
    let all = status(&f).await.unwrap();
    let summary: Vec<(&str, usize, usize)> = all
        .iter()
        .map(|c| (c.label.as_str(), c.nodes.len(), c.support.len()))
        .collect();
    assert_eq!(summary, vec![("cluster-20", 0, 2), ("third", 2, 2)]);
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
    down(&f, "cluster-15", &one.image, &events).await.unwrap();
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

/// `DIND_LABEL=bar` (ID 3 from its hash) and `DIND_LABEL=foo-3` (ID 3 from its name) want the
/// same subnets; the second `up` names the first cluster and the fix before creating anything.
#[tokio::test]
async fn a_subnet_taken_by_another_cluster_is_named_before_anything_is_created() {
    let bar = plan_for(&[("DIND_LABEL", "bar")]);
    let foo = plan_for(&[("DIND_LABEL", "foo-3")]);
    assert_eq!((bar.cluster.id, foo.cluster.id), (3, 3));
    let f = fake_with_image(&bar);
    run_up(&f, &bar).await.0.unwrap();
    let before = left(&f);
    let (r, _) = run_up(&f, &foo).await;
    let msg = crate::error::DisplayChain(&r.unwrap_err()).to_string();
    assert!(
        msg.contains("the plan's subnet 10.192.3.0/24 overlaps 10.192.3.0/24 of the existing network kubeadm-dind-net-bar, which belongs to kdc cluster bar (ID 3); this cluster foo-3 has ID 3. Give one of them another ID"),
        "{msg}"
    );
    assert!(msg.contains("`DIND_LABEL=bar kdc clean`"), "{msg}");
    assert_eq!(left(&f), before, "nothing created, nothing removed");
}

#[tokio::test]
async fn a_subnet_taken_by_a_foreign_network_says_how_to_avoid_it() {
    let plan = plan_for(&[]);
    let f = fake_with_image(&plan);
    f.state().networks.insert(
        "corp-vpn".into(),
        NetworkState {
            name: "corp-vpn".into(),
            subnets: vec!["10.192.0.0/16".parse().unwrap()],
            labels: BTreeMap::new(),
        },
    );
    let (r, _) = run_up(&f, &plan).await;
    let msg = r.unwrap_err().source().unwrap().to_string();
    assert_eq!(
        msg,
        "the plan's subnet 10.192.0.0/24 overlaps 10.192.0.0/16 of the existing network corp-vpn, which kdc did not make; choose other subnets (CLUSTER_ID, MGMT_CIDRS, NAT64_V4_SUBNET_PREFIX) or remove that network (`docker network rm corp-vpn`)"
    );
}

/// NUM_NODES grew after `down`: the existing nodes keep their volumes (the master's data and
/// API port included) and only the new node starts fresh.
#[tokio::test]
async fn more_nodes_keep_the_old_volumes_and_add_fresh_ones() {
    let one = plan_for(&[("NUM_NODES", "1")]);
    let two = plan_for(&[]);
    let f = fake_with_image(&one);
    let first = run_up(&f, &one).await.0.unwrap();
    let (events, _) = Recorder::emitter();
    down(&f, &one.cluster.label, &one.image, &events)
        .await
        .unwrap();
    f.state().calls.clear();
    let (r, rec) = run_up(&f, &two).await;
    let second = r.unwrap();
    assert_eq!(second.restarted, ["kube-master", "kube-node-1"]);
    assert_eq!(second.fresh, ["kube-node-2"]);
    assert_eq!(second.apiserver_port, first.apiserver_port);
    let calls = engine_calls(&f);
    assert!(
        !calls.iter().any(|c| c.starts_with("volume rm")),
        "no volume is discarded: {calls:?}"
    );
    assert!(calls.contains(&"volume create kubeadm-dind-kube-node-2".to_string()));
    assert!(
        rec.notes()
            .contains(&"kube-master, kube-node-1 restart from their volumes; kube-node-2 start fresh (no volume yet)".to_string()),
        "{:?}",
        rec.notes()
    );
}

/// NUM_NODES shrank: the removed node's volume is kept and named, `status` reports it, and
/// `clean` removes it with the rest.
#[tokio::test]
async fn fewer_nodes_keep_the_removed_nodes_volume_and_say_so() {
    let two = plan_for(&[]);
    let one = plan_for(&[("NUM_NODES", "1")]);
    let f = fake_with_image(&two);
    run_up(&f, &two).await.0.unwrap();
    let (events, _) = Recorder::emitter();
    down(&f, &two.cluster.label, &two.image, &events)
        .await
        .unwrap();
    let (r, rec) = run_up(&f, &one).await;
    assert_eq!(r.unwrap().restarted.len(), 2);
    assert!(f.state().volumes.contains_key("kubeadm-dind-kube-node-2"));
    assert!(
        rec.notes().contains(&"kept the volume of nodes this cluster no longer has (NUM_NODES is 1): kubeadm-dind-kube-node-2; `kdc clean` removes them with the rest of the cluster".to_string()),
        "{:?}",
        rec.notes()
    );
    let st = status(&f).await.unwrap();
    assert_eq!(st[0].state, crate::cluster::status::State::Partial);
    assert_eq!(
        st[0].leftovers,
        [
            "volume kubeadm-dind-kube-node-2 of kube-node-2, which has no container (a node removed by a smaller NUM_NODES)"
        ]
    );
    let cleaned = clean(&f, &one.cluster.label, &one.image, &events)
        .await
        .unwrap();
    assert!(
        cleaned
            .volumes
            .contains(&"kubeadm-dind-kube-node-2".to_string())
    );
    assert_eq!(left(&f), Vec::<String>::new());
}

/// Every cluster with its state, ID, mode and port; the default cluster by its context name;
/// natural order.
#[tokio::test]
async fn status_shows_running_and_down_clusters_in_natural_order() {
    let plans = [
        plan_for(&[("CLUSTER_ID", "11"), ("NUM_NODES", "0")]),
        plan_for(&[("CLUSTER_ID", "5"), ("IP_MODE", "ipv6"), ("NUM_NODES", "1")]),
        plan_for(&[("APISERVER_PORT", "40100"), ("NUM_NODES", "0")]),
    ];
    let f = fake_with_image(&plans[0]);
    for p in &plans {
        run_up(&f, p).await.0.unwrap();
    }
    let (events, _) = Recorder::emitter();
    down(&f, "cluster-5", &plans[1].image, &events)
        .await
        .unwrap();
    let st = status(&f).await.unwrap();
    let rows: Vec<String> = st
        .iter()
        .map(|c| {
            format!(
                "{} {:?} {:?} {} {}",
                c.name,
                c.id,
                c.ip_mode,
                c.state.as_str(),
                c.nodes.len()
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            r#"cluster-5 Some(5) Some("ipv6") down: volumes kept 0"#,
            r#"cluster-11 Some(11) Some("ipv4") running 1"#,
            r#"dind Some(0) Some("ipv4") running 1"#,
        ]
    );
    assert_eq!(st[2].apiserver_port, Some(40100));
    assert!(
        st[0].apiserver_port.is_some(),
        "known from the master's volume"
    );
    assert_eq!(
        st[1].nodes[0].addresses,
        vec!["10.192.11.2".parse::<std::net::IpAddr>().unwrap()]
    );
    let text = crate::cluster::status::render(&st);
    assert!(
        text.contains(
            "\n  volumes: kubeadm-dind-kube-master-cluster-5, kubeadm-dind-kube-node-1-cluster-5\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("  kube-master-cluster-11     control-plane  running   10.192.11.2\n"),
        "{text}"
    );
}

/// `down` keeps bind9 and the router; the next `up` keeps them when they run as planned and
/// recreates a stopped one or one made from another configuration.
#[tokio::test]
async fn support_containers_survive_down_and_are_recreated_when_stale() {
    let plan = plan_for(&[("IP_MODE", "ipv6"), ("NUM_NODES", "0")]);
    let f = fake_with_image(&plan);
    run_up(&f, &plan).await.0.unwrap();
    let (events, _) = Recorder::emitter();
    down(&f, &plan.cluster.label, &plan.image, &events)
        .await
        .unwrap();
    assert!(f.state().containers.contains_key("bind9"));
    assert!(f.state().containers.contains_key("tayga"));
    // bind9 stopped, tayga made from another configuration.
    f.state().containers.get_mut("bind9").unwrap().1 = "exited".into();
    f.state()
        .containers
        .get_mut("tayga")
        .unwrap()
        .0
        .labels
        .insert(crate::cluster::support::CONFIG_LABEL.into(), "old".into());
    f.state().calls.clear();
    let (r, rec) = run_up(&f, &plan).await;
    r.unwrap();
    let calls = engine_calls(&f);
    for want in [
        "rm bind9",
        "run bind9 None",
        "rm tayga",
        "create tayga",
        "start tayga",
    ] {
        assert!(calls.contains(&want.to_string()), "{want} in {calls:?}");
    }
    assert!(started(&rec).iter().any(|a| a == "support-ready"));
    // A third `up` keeps both.
    f.state().calls.clear();
    run_up(&f, &plan).await.0.unwrap();
    assert!(
        !engine_calls(&f)
            .iter()
            .any(|c| c.contains("bind9") || c.contains("tayga")),
        "{:?}",
        engine_calls(&f)
    );
}

/// `apiserver-port` reads the master's published port, after `down` the port its volume
/// records, and after `clean` says there is nothing to tell.
#[tokio::test]
async fn apiserver_port_survives_down_and_is_missing_after_clean() {
    let plan = plan_for(&[("CLUSTER_ID", "13"), ("NUM_NODES", "0")]);
    let f = fake_with_image(&plan);
    let port = run_up(&f, &plan).await.0.unwrap().apiserver_port;
    assert_eq!(apiserver_port(&f, &plan).await.unwrap(), Ok(port));
    let (events, _) = Recorder::emitter();
    down(&f, &plan.cluster.label, &plan.image, &events)
        .await
        .unwrap();
    assert!(!f.state().containers.contains_key("kube-master-cluster-13"));
    assert_eq!(apiserver_port(&f, &plan).await.unwrap(), Ok(port));
    clean(&f, &plan.cluster.label, &plan.image, &events)
        .await
        .unwrap();
    assert_eq!(
        apiserver_port(&f, &plan).await.unwrap(),
        Err(NotUp {
            cluster: "cluster-13".into(),
            why: Absence::Nothing,
        })
    );
    // A volume that records no port (made by something else) is not "nothing".
    f.state().volumes.insert(
        plan.master().volume.clone(),
        VolumeState {
            name: plan.master().volume.clone(),
            labels: BTreeMap::new(),
        },
    );
    assert_eq!(
        apiserver_port(&f, &plan).await.unwrap().unwrap_err().why,
        Absence::NoPort
    );
}

/// `--host-routes` on an ipv6 cluster: a container on the host's network holds the route to
/// the DNS64 prefix through tayga; `down` stops it (so it deletes the route) before removing
/// it, and keeps bind9 and tayga; an `up` without the flag takes the routes away again.
#[tokio::test]
async fn host_routes_are_held_by_a_container_that_down_stops_first() {
    let plan = plan_for(&[("IP_MODE", "ipv6")]);
    let f = fake_with_image(&plan);
    let with = with_host_routes();
    let (r, rec) = run_up_with(&f, &plan, &with, &Stop::manual()).await;
    let out = r.unwrap();
    assert_eq!(
        out.host_routes,
        ["route fd00:10:64:ff9b::/96 via fd00:20::200"]
    );
    assert_eq!(
        started(&rec).last().map(String::as_str),
        Some("host-routes")
    );
    let spec = f.state().containers["kdc-host-routes"].0.clone();
    assert_eq!(spec.network, "host");
    assert_eq!(spec.cap_add, ["NET_ADMIN", "NET_RAW"]);
    assert_eq!(spec.stop_signal.as_deref(), Some("SIGTERM"));
    assert_eq!(
        spec.env,
        [
            "RULES=ip -6 route show fd00:10:64:ff9b::/96 | grep -qF 'via fd00:20::200 '\tip -6 route add fd00:10:64:ff9b::/96 via fd00:20::200\tip -6 route del fd00:10:64:ff9b::/96 via fd00:20::200"
        ]
    );
    let summary = summary::render(&plan, Some(&out));
    assert!(
        summary.contains("Host routes: kdc-host-routes holds route fd00:10:64:ff9b::/96 via fd00:20::200 on the engine's host (down and clean remove them)\n"),
        "{summary}"
    );

    // A second `up` with the flag keeps the running container.
    let before = engine_calls(&f).len();
    run_up_with(&f, &plan, &with, &Stop::manual())
        .await
        .0
        .unwrap();
    assert!(
        !engine_calls(&f)[before..]
            .iter()
            .any(|c| c.contains("kdc-host-routes")),
        "{:?}",
        &engine_calls(&f)[before..]
    );

    let (events, _) = Recorder::emitter();
    let before = engine_calls(&f).len();
    down(&f, &plan.cluster.label, &plan.image, &events)
        .await
        .unwrap();
    let calls: Vec<String> = engine_calls(&f)[before..]
        .iter()
        .filter(|c| c.contains("kdc-host-routes"))
        .cloned()
        .collect();
    assert_eq!(calls, ["stop kdc-host-routes", "rm kdc-host-routes"]);
    assert!(f.state().containers.contains_key("bind9"));
    assert!(f.state().containers.contains_key("tayga"));

    // Up with the flag again, then without it: the second removes the routes.
    run_up_with(&f, &plan, &with, &Stop::manual())
        .await
        .0
        .unwrap();
    let before = engine_calls(&f).len();
    let (r, rec) = run_up(&f, &plan).await;
    assert!(r.unwrap().host_routes.is_empty());
    assert_eq!(
        started(&rec).last().map(String::as_str),
        Some("host-routes")
    );
    let calls: Vec<String> = engine_calls(&f)[before..]
        .iter()
        .filter(|c| c.contains("kdc-host-routes"))
        .cloned()
        .collect();
    assert_eq!(calls, ["stop kdc-host-routes", "rm kdc-host-routes"]);
    // A later `up` without the flag has nothing to remove and no such step.
    let (_, rec) = run_up(&f, &plan).await;
    assert!(!started(&rec).iter().any(|a| a == "host-routes"));
}

/// An ipv4 cluster needs nothing from the host: `--host-routes` says so and adds nothing.
#[tokio::test]
async fn host_routes_on_an_ipv4_cluster_add_nothing_and_say_so() {
    let plan = plan_for(&[]);
    let f = fake_with_image(&plan);
    let with = with_host_routes();
    let (r, rec) = run_up_with(&f, &plan, &with, &Stop::manual()).await;
    r.unwrap();
    assert!(!f.state().containers.contains_key("kdc-host-routes"));
    assert_eq!(
        rec.notes(),
        [
            "--host-routes: an ipv4 cluster needs no change to the host (Docker routes and NATs IPv4 itself)"
        ]
    );
}

/// `clean` stops the host routes container before it removes anything, and lists it.
#[tokio::test]
async fn clean_undoes_host_routes_first() {
    let plan = plan_for(&[("IP_MODE", "dual-stack")]);
    let f = fake_with_image(&plan);
    let with = with_host_routes();
    run_up_with(&f, &plan, &with, &Stop::manual())
        .await
        .0
        .unwrap();
    let before = engine_calls(&f).len();
    let (events, _) = Recorder::emitter();
    let cleaned = clean(&f, &plan.cluster.label, &plan.image, &events)
        .await
        .unwrap();
    assert!(cleaned.containers.contains(&"kdc-host-routes".to_string()));
    let calls = &engine_calls(&f)[before..];
    let first_rm = calls.iter().position(|c| c.starts_with("rm ")).unwrap();
    assert_eq!(calls[first_rm - 1], "stop kdc-host-routes", "{calls:?}");
    assert_eq!(calls[first_rm], "rm kdc-host-routes", "{calls:?}");
}

/// Two ipv6 clusters share the default DNS64 prefix, and a host has one route per prefix: the
/// second `--host-routes` is refused, naming the cluster that holds it, and leaves nothing.
#[tokio::test]
async fn a_second_cluster_cannot_take_the_same_host_route() {
    let a = plan_for(&[("IP_MODE", "ipv6"), ("CLUSTER_ID", "3")]);
    let b = plan_for(&[("IP_MODE", "ipv6"), ("CLUSTER_ID", "4")]);
    let f = fake_with_image(&a);
    let with = with_host_routes();
    run_up_with(&f, &a, &with, &Stop::manual()).await.0.unwrap();
    let err = run_up_with(&f, &b, &with, &Stop::manual())
        .await
        .0
        .unwrap_err();
    assert_eq!(
        crate::error::DisplayChain(&err).to_string(),
        "error: adding 1 route to the engine's host (--host-routes) failed\ncaused by:\n  - cluster cluster-3 holds the host's route fd00:10:64:ff9b::/96 via fd00:20:3::200, and a host has one route per prefix; give this cluster another DNS64_PREFIX, or bring it up without --host-routes\n"
    );
    assert!(
        !f.state()
            .containers
            .keys()
            .any(|n| n.ends_with("cluster-4"))
    );
}

/// The support containers and the nodes start together: both progress lines open before
/// either closes, and what each found (the nodes' privilege, the support containers to
/// await) reaches the actions after them.
#[tokio::test]
async fn support_and_nodes_start_together() {
    let plan = plan_for(&[("IP_MODE", "ipv6")]);
    let f = fake_with_image(&plan);
    let (r, rec) = run_up(&f, &plan).await;
    assert_eq!(r.unwrap().privilege, Privilege::Privileged);
    let order: Vec<String> = rec
        .events()
        .into_iter()
        .filter_map(|e| match e.kind {
            EventKind::ActionStarted { name, .. } if name == "support" || name == "nodes" => {
                Some(format!("start {name}"))
            }
            EventKind::ActionFinished { name, .. } if name == "support" || name == "nodes" => {
                Some(format!("end {name}"))
            }
            _ => None,
        })
        .collect();
    assert_eq!(&order[..2], ["start support", "start nodes"], "{order:?}");
    let awaited: Vec<String> = rec
        .events()
        .into_iter()
        .filter_map(|e| match e.kind {
            EventKind::ActionStarted { name, detail } if name == "support-ready" => Some(detail),
            _ => None,
        })
        .collect();
    assert_eq!(awaited, ["Waiting for bind9 and tayga"]);
}

/// When one of the actions run together fails, the other still finishes (its line closes)
/// and the failure is the one reported.
#[tokio::test]
async fn a_failure_beside_another_action_lets_that_one_finish() {
    let plan = plan_for(&[]);
    let mut f = fake_with_image(&plan);
    f.fail_start = vec!["kube-node-2".into()];
    let (r, rec) = run_up(&f, &plan).await;
    let err = r.unwrap_err();
    assert_eq!(err.to_string(), "starting 3 node containers failed");
    let finished: Vec<(String, bool)> = rec
        .events()
        .into_iter()
        .filter_map(|e| match e.kind {
            EventKind::ActionFinished { name, error, .. } => Some((name, error.is_none())),
            _ => None,
        })
        .collect();
    assert!(
        finished.contains(&("support".to_string(), true)),
        "{finished:?}"
    );
    assert!(
        finished.contains(&("nodes".to_string(), false)),
        "{finished:?}"
    );
}

fn with_host_routes() -> UpOptions {
    UpOptions {
        host_routes: true,
        ..opts()
    }
}

/// The kubeadm bootstrapper against the fake: kind's order, workers joined at once, a failing
/// step's command and output in the error, and the cluster removed unless `--retain`.
mod kubeadm {
    use super::*;
    use crate::runtime::{ExecError, ExecRequest};

    fn kube_plan() -> Plan {
        plan_for(&[("APISERVER_PORT", "40123")])
    }

    fn kube_fake(plan: &Plan) -> Fake {
        let f = fake_with_image(plan);
        f.state().image_labels.push((
            plan.image.clone(),
            KUBERNETES_LABEL.into(),
            plan.k8s_version.clone(),
        ));
        f
    }

    fn kube_opts(plan: &Plan) -> UpOptions {
        UpOptions {
            bootstrapper: Bootstrapper::Kubeadm,
            kube: Some(KubeOptions {
                token: "abcdef.0123456789abcdef".into(),
                ready_timeout: Duration::from_millis(300),
                ..KubeOptions::for_cell(plan).unwrap()
            }),
            ..opts()
        }
    }

    /// Answers kubectl's readiness query with every node and a kube-system pod Ready.
    fn ready(plan: &Plan) -> String {
        let mut items: Vec<serde_json::Value> = plan
            .nodes
            .iter()
            .map(|n| {
                serde_json::json!({"kind": "Node", "metadata": {"name": n.hostname},
                "status": {"conditions": [{"type": "Ready", "status": "True"}]}})
            })
            .collect();
        items.push(
            serde_json::json!({"kind": "Pod", "metadata": {"name": "coredns-1"},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}}),
        );
        serde_json::json!({ "items": items }).to_string()
    }

    type Answer = Result<(i64, String, String), ExecError>;

    fn handler(
        plan: &Plan,
        fail: Option<&'static str>,
    ) -> impl Fn(&str, &ExecRequest) -> Answer + use<> {
        let ready = ready(plan);
        move |_, req: &ExecRequest| {
            let line = req.argv.join(" ");
            if let Some(f) = fail
                && line.contains(f)
            {
                return Ok((
                    1,
                    String::new(),
                    format!("error execution phase {f}: it broke\n"),
                ));
            }
            if line.contains("test -s") {
                // A fresh cluster: nothing from kubeadm on the volumes yet.
                return Ok((1, String::new(), String::new()));
            }
            if line.contains("get nodes,pods") {
                return Ok((0, ready.clone(), String::new()));
            }
            if line.contains("cat /etc/kubernetes/admin.conf") {
                return Ok((0, "apiVersion: v1\nclusters:\n- name: k\n  cluster:\n    server: https://10.192.0.2:6443\nusers:\n- name: u\n  user:\n    token: t\n".into(), String::new()));
            }
            Ok(Fake::systemd_running(req))
        }
    }

    /// The commands run in nodes that matter to kubeadm, in order.
    fn kube_commands(f: &Fake) -> Vec<String> {
        f.calls()
            .into_iter()
            .filter(|c| {
                c.contains("kubeadm") || c.contains("images import") || c.contains("kubectl")
            })
            .map(|c| {
                let node = c.split_whitespace().nth(1).unwrap_or_default().to_string();
                let what = [
                    "kubeadm init",
                    "kubeadm join",
                    "images import",
                    "apply -f",
                    "get nodes,pods",
                    "kubeadm.conf",
                ]
                .into_iter()
                .find(|w| c.contains(w))
                .unwrap_or("other");
                format!("{node}: {what}")
            })
            .collect()
    }

    #[tokio::test]
    async fn kubeadm_steps_run_in_kinds_order() {
        let plan = kube_plan();
        let mut f = kube_fake(&plan);
        f.handler = Arc::new(handler(&plan, None));
        let (r, rec) = run_up_with(&f, &plan, &kube_opts(&plan), &Stop::manual()).await;
        r.unwrap();
        let steps = started(&rec);
        let kube: Vec<&str> = steps
            .iter()
            .map(String::as_str)
            .skip_while(|s| *s != "kube-images")
            .collect();
        assert_eq!(
            kube,
            [
                "kube-images",
                "kubeadm-config",
                "kubeadm-init",
                "storage-class",
                "kubeadm-join",
                "wait-ready",
                "kubeconfig"
            ]
        );
        let cmds = kube_commands(&f);
        let init = cmds
            .iter()
            .position(|c| c == "kube-master: kubeadm init")
            .unwrap();
        let joins: Vec<usize> = cmds
            .iter()
            .enumerate()
            .filter(|(_, c)| c.ends_with("kubeadm join"))
            .map(|(i, _)| i)
            .collect();
        assert_eq!(joins.len(), 2, "{cmds:?}");
        assert!(joins.iter().all(|j| *j > init), "{cmds:?}");
        // Both workers join at once: nothing else runs between their joins.
        assert_eq!(joins[1] - joins[0], 1, "{cmds:?}");
    }

    #[tokio::test]
    async fn a_failed_kubeadm_init_names_its_command_and_output_and_removes_the_cluster() {
        let plan = kube_plan();
        let mut f = kube_fake(&plan);
        f.handler = Arc::new(handler(&plan, Some("kubeadm init")));
        let (r, _) = run_up_with(&f, &plan, &kube_opts(&plan), &Stop::manual()).await;
        let e = r.unwrap_err();
        let chain = format!(
            "{e} / {}",
            e.source().map(ToString::to_string).unwrap_or_default()
        );
        assert!(chain.contains("kubeadm init"), "{chain}");
        assert!(
            chain.contains("docker exec kube-master kubeadm init --config /kind/kubeadm.conf"),
            "{chain}"
        );
        assert!(
            chain.contains("error execution phase kubeadm init: it broke"),
            "{chain}"
        );
        assert!(
            left(&f).iter().all(|n| !n.starts_with("kube")),
            "{:?}",
            left(&f)
        );
        // With --retain, everything stays for a look.
        let mut f = kube_fake(&plan);
        f.handler = Arc::new(handler(&plan, Some("kubeadm join")));
        let options = UpOptions {
            retain: true,
            ..kube_opts(&plan)
        };
        let (r, _) = run_up_with(&f, &plan, &options, &Stop::manual()).await;
        assert!(r.is_err());
        assert!(
            left(&f).iter().any(|n| n == "kube-master"),
            "{:?}",
            left(&f)
        );
    }

    #[tokio::test]
    async fn a_node_image_without_kubernetes_is_refused_before_any_container() {
        let plan = kube_plan();
        let f = fake_with_image(&plan);
        let (r, _) = run_up_with(&f, &plan, &kube_opts(&plan), &Stop::manual()).await;
        let e = r.unwrap_err();
        let text = format!("{}", e.source().unwrap());
        assert!(text.contains("carries no Kubernetes"), "{text}");
        assert!(
            text.contains("kdc image build node --k8s-version v1.36.3"),
            "{text}"
        );
        assert!(left(&f).is_empty(), "{:?}", left(&f));
    }

    #[tokio::test]
    async fn not_ready_in_time_names_what_is_not_ready() {
        let plan = kube_plan();
        let mut f = kube_fake(&plan);
        let base = handler(&plan, None);
        f.handler = Arc::new(move |n: &str, req: &ExecRequest| {
            if req.argv.join(" ").contains("get nodes,pods") {
                let list = serde_json::json!({"items": [{"kind": "Node", "metadata": {"name": "kube-master"},
                    "status": {"conditions": [{"type": "Ready", "status": "False", "reason": "KubeletNotReady",
                    "message": "container runtime network not ready"}]}}]});
                return Ok((0, list.to_string(), String::new()));
            }
            base(n, req)
        });
        let (r, _) = run_up_with(&f, &plan, &kube_opts(&plan), &Stop::manual()).await;
        let e = r.unwrap_err();
        let text = format!("{}", e.source().unwrap());
        assert!(text.contains("node kube-master: Ready=False (KubeletNotReady: container runtime network not ready)"), "{text}");
        assert!(text.contains("node kube-node-1: not registered"), "{text}");
    }
}
