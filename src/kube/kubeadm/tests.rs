use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::*;
use crate::kube::{SUPPORTED_K8S, release_for};
use crate::plan::for_env;

const MODES: [&str; 3] = ["ipv4", "ipv6", "dual-stack"];

/// The inputs `kdc plan --kubeadm-config` uses on a cgroup v1 host (kdc's CI hosts), with
/// feature gates as given.
fn inputs<'a>(
    plan: &'a Plan,
    release: &'a Release,
    gates: Option<&'a str>,
    kubelet_gates: Option<&'a str>,
) -> KubeadmInputs<'a> {
    KubeadmInputs {
        plan,
        release,
        feature_gates: gates,
        kubelet_feature_gates: kubelet_gates,
        cgroup_v1: true,
        token: WELL_KNOWN_TOKEN,
        published_host: Some(plan.apiserver.host),
    }
}

/// A master and one worker in `mode`.
fn plan_in(mode: &str) -> Plan {
    for_env(&[("IP_MODE", mode), ("NUM_NODES", "1")])
}

/// The documents of one node by kind (`InitConfiguration`, …), parsed back.
fn docs(text: &str) -> BTreeMap<String, Value> {
    let parsed: Vec<Value> = serde_saphyr::from_multiple(text)
        .unwrap_or_else(|e| panic!("not a YAML stream ({e}):\n{text}"));
    let mut by_kind = BTreeMap::new();
    for doc in parsed {
        let kind = doc["kind"].as_str().expect("every document has a kind");
        assert!(
            by_kind.insert(kind.to_string(), doc.clone()).is_none(),
            "{kind} twice"
        );
    }
    by_kind
}

/// The master's and the first worker's documents.
fn master_and_worker(inputs: &KubeadmInputs) -> (BTreeMap<String, Value>, BTreeMap<String, Value>) {
    let plan = inputs.plan;
    (
        docs(&render(inputs, plan.master())),
        docs(&render(inputs, &plan.nodes[1])),
    )
}

/// `extraArgs`/`kubeletExtraArgs` in either API's shape as a map, checking the shape.
fn arg_map(api: KubeadmApi, args: &Value) -> BTreeMap<String, String> {
    match api {
        KubeadmApi::V1beta3 => serde_json::from_value(args.clone())
            .unwrap_or_else(|e| panic!("v1beta3 arguments are a string map ({e}): {args}")),
        KubeadmApi::V1beta4 => args
            .as_array()
            .unwrap_or_else(|| panic!("v1beta4 arguments are a list: {args}"))
            .iter()
            .map(|a| {
                let pair = a.as_object().expect("{name, value}");
                assert_eq!(pair.len(), 2, "{a}");
                (
                    a["name"].as_str().expect("name").to_string(),
                    a["value"].as_str().expect("value is a string").to_string(),
                )
            })
            .collect(),
    }
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/kubeadm")
}

/// `fixtures/kubeadm/<minor>-<mode>.yaml`: what `kdc plan --kubeadm-config` prints for a
/// master and one worker on a cgroup v1 host, for every supported release and IP mode.
/// `KDC_BLESS=1` rewrites them; review the diff before committing it.
#[test]
fn golden_documents_for_every_release_mode_and_role() {
    let bless = std::env::var_os("KDC_BLESS").is_some();
    let mut expected_files = Vec::new();
    let mut stale = Vec::new();
    for release in SUPPORTED_K8S {
        for mode in MODES {
            let plan = plan_in(mode);
            let got = render_nodes(&inputs(&plan, release, None, None), &plan.nodes);
            let name = format!("{}-{mode}.yaml", release.minor);
            let path = fixtures().join(&name);
            expected_files.push(name.clone());
            if bless {
                std::fs::create_dir_all(fixtures()).unwrap();
                std::fs::write(&path, &got).unwrap();
            } else if std::fs::read_to_string(&path).ok().as_deref() != Some(got.as_str()) {
                stale.push(format!("{name}:\n{got}"));
            }
        }
    }
    assert!(
        stale.is_empty(),
        "golden files differ (check, then rewrite with KDC_BLESS=1 cargo test --lib kube::kubeadm):\n{}",
        stale.join("\n")
    );
    let mut present: Vec<String> = std::fs::read_dir(fixtures())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with("kind-"))
        .collect();
    present.sort();
    expected_files.sort();
    assert_eq!(
        present, expected_files,
        "golden files of unsupported releases"
    );
}

#[test]
fn documents_per_role_without_metadata() {
    let plan = plan_in("ipv4");
    let inputs = inputs(&plan, release_for("1.36").unwrap(), None, None);
    let (master, worker) = master_and_worker(&inputs);
    let kinds = |d: &BTreeMap<String, Value>| d.keys().cloned().collect::<Vec<_>>();
    assert_eq!(
        kinds(&master),
        [
            "ClusterConfiguration",
            "InitConfiguration",
            "KubeProxyConfiguration",
            "KubeletConfiguration"
        ]
    );
    assert_eq!(
        kinds(&worker),
        ["JoinConfiguration", "KubeletConfiguration"]
    );
    for doc in master.values().chain(worker.values()) {
        assert!(
            doc.get("metadata").is_none(),
            "kubeadm rejects metadata: {doc}"
        );
    }
    assert_eq!(
        master["KubeletConfiguration"],
        worker["KubeletConfiguration"]
    );
}

#[test]
fn node_ip_advertise_address_and_endpoint_per_ip_mode() {
    let release = release_for("1.35").unwrap();
    // (mode, extra settings, master node-ip, worker node-ip, endpoint)
    let cases = [
        ("ipv4", None, "10.192.0.2", "10.192.0.3", "10.192.0.2:6443"),
        (
            "ipv6",
            None,
            "fd00:20::2",
            "fd00:20::3",
            "[fd00:20::2]:6443",
        ),
        (
            "dual-stack",
            None,
            "fd00:20::2,10.192.0.2",
            "fd00:20::3,10.192.0.3",
            "[fd00:20::2]:6443",
        ),
        // The service network's family comes first, as kind orders it.
        (
            "dual-stack",
            Some(("SERVICE_CIDR", "10.96.0.0/12")),
            "10.192.0.2,fd00:20::2",
            "10.192.0.3,fd00:20::3",
            "10.192.0.2:6443",
        ),
    ];
    for (mode, extra, master_ip, worker_ip, endpoint) in cases {
        let mut env = vec![("IP_MODE", mode), ("NUM_NODES", "1")];
        env.extend(extra);
        let plan = for_env(&env);
        let (master, worker) = master_and_worker(&inputs(&plan, release, None, None));
        let node_ip = |doc: &Value| {
            arg_map(
                release.kubeadm_api(),
                &doc["nodeRegistration"]["kubeletExtraArgs"],
            )["node-ip"]
                .clone()
        };
        assert_eq!(node_ip(&master["InitConfiguration"]), master_ip, "{mode}");
        assert_eq!(node_ip(&worker["JoinConfiguration"]), worker_ip, "{mode}");
        let advertised = master_ip.split(',').next().unwrap();
        let init = &master["InitConfiguration"];
        assert_eq!(init["localAPIEndpoint"]["advertiseAddress"], advertised);
        assert_eq!(init["localAPIEndpoint"]["bindPort"], 6443);
        assert_eq!(
            master["ClusterConfiguration"]["controlPlaneEndpoint"],
            endpoint
        );
        assert_eq!(
            worker["JoinConfiguration"]["discovery"]["bootstrapToken"],
            json!({"apiServerEndpoint": endpoint, "token": WELL_KNOWN_TOKEN,
                   "unsafeSkipCAVerification": true})
        );
        for (doc, name) in [
            (init, "kube-master"),
            (&worker["JoinConfiguration"], "kube-node-1"),
        ] {
            let reg = &doc["nodeRegistration"];
            assert_eq!(reg["name"], name);
            assert_eq!(reg["criSocket"], CRI_SOCKET);
            assert_eq!(reg["imagePullPolicy"], "Never");
            assert_eq!(doc["skipPhases"], json!(["preflight"]));
        }
    }
}

#[test]
fn cert_sans_hold_loopback_master_addresses_and_the_published_host() {
    let release = release_for("1.36").unwrap();
    let sans = |plan: &Plan, published: Option<IpAddr>| {
        let mut i = inputs(plan, release, None, None);
        i.published_host = published;
        docs(&render(&i, plan.master()))["ClusterConfiguration"]["apiServer"]["certSANs"].clone()
    };
    let v4 = plan_in("ipv4");
    let v6 = plan_in("ipv6");
    let dual = plan_in("dual-stack");
    assert_eq!(
        sans(&v4, Some(v4.apiserver.host)),
        json!(["localhost", "127.0.0.1", "10.192.0.2"])
    );
    assert_eq!(
        sans(&v6, Some(v6.apiserver.host)),
        json!(["localhost", "127.0.0.1", "::1", "fd00:20::2"])
    );
    assert_eq!(
        sans(&dual, Some(dual.apiserver.host)),
        json!(["localhost", "127.0.0.1", "::1", "10.192.0.2", "fd00:20::2"])
    );
    assert_eq!(
        sans(&v4, Some("192.0.2.7".parse().unwrap())),
        json!(["localhost", "127.0.0.1", "10.192.0.2", "192.0.2.7"])
    );
    assert_eq!(
        sans(&v4, None),
        json!(["localhost", "127.0.0.1", "10.192.0.2"])
    );
}

#[test]
fn cluster_configuration_fields() {
    let plan = for_env(&[
        ("IP_MODE", "dual-stack"),
        ("NUM_NODES", "1"),
        ("DIND_LABEL", "ci"),
    ]);
    let release = release_for("1.37").unwrap();
    let (master, _) = master_and_worker(&inputs(&plan, release, None, None));
    let cluster = &master["ClusterConfiguration"];
    assert_eq!(cluster["apiVersion"], "kubeadm.k8s.io/v1beta4");
    assert_eq!(cluster["kubernetesVersion"], "v1.37.2");
    assert_eq!(cluster["clusterName"], "dind-ci");
    assert_eq!(
        cluster["networking"],
        json!({"dnsDomain": "cluster.local", "podSubnet": "10.244.0.0/16,fd00:40::/72",
               "serviceSubnet": "fd00:30::/110"})
    );
    assert_eq!(
        cluster["etcd"],
        json!({"local": {"dataDir": "/var/lib/etcd"}})
    );
    assert_eq!(
        master["KubeProxyConfiguration"]["clusterCIDR"],
        "10.244.0.0/16,fd00:40::/72"
    );
    let kubelet = &master["KubeletConfiguration"];
    assert_eq!(kubelet["clusterDNS"], json!(["fd00:30::a"]));
    assert_eq!(kubelet["cgroupDriver"], "cgroupfs");
}

#[test]
fn api_versions_and_argument_shapes_follow_the_release() {
    let plan = plan_in("ipv6");
    for release in SUPPORTED_K8S {
        let api = release.kubeadm_api();
        let (master, worker) = master_and_worker(&inputs(&plan, release, Some("Zeta=true"), None));
        for doc in [
            &master["InitConfiguration"],
            &master["ClusterConfiguration"],
            &worker["JoinConfiguration"],
        ] {
            assert_eq!(doc["apiVersion"], api.as_str(), "{}", release.version);
        }
        assert_eq!(
            master["KubeletConfiguration"]["apiVersion"],
            "kubelet.config.k8s.io/v1beta1"
        );
        assert_eq!(
            master["KubeProxyConfiguration"]["apiVersion"],
            "kubeproxy.config.k8s.io/v1alpha1"
        );
        let shape_is_map =
            master["InitConfiguration"]["nodeRegistration"]["kubeletExtraArgs"].is_object();
        assert_eq!(
            shape_is_map,
            api == KubeadmApi::V1beta3,
            "{}",
            release.version
        );
        let cluster = &master["ClusterConfiguration"];
        let component = |c: &str| arg_map(api, &cluster[c]["extraArgs"]);
        let expect = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>()
        };
        assert_eq!(
            component("apiServer"),
            expect(&[("feature-gates", "Zeta=true")])
        );
        assert_eq!(
            component("controllerManager"),
            expect(&[
                ("allocate-node-cidrs", "false"),
                ("bind-address", "::"),
                ("enable-hostpath-provisioner", "true"),
                ("feature-gates", "Zeta=true"),
            ])
        );
        assert_eq!(
            component("scheduler"),
            expect(&[("bind-address", "::1"), ("feature-gates", "Zeta=true")])
        );
    }
}

#[test]
fn ipv6_bind_addresses_only_in_ipv6_mode() {
    let release = release_for("1.35").unwrap();
    for mode in MODES {
        let plan = plan_in(mode);
        let (master, _) = master_and_worker(&inputs(&plan, release, None, None));
        let ipv6 = mode == "ipv6";
        let kubelet = &master["KubeletConfiguration"];
        assert_eq!(kubelet.get("address").is_some(), ipv6, "{mode}");
        if ipv6 {
            assert_eq!(kubelet["address"], "::");
            assert_eq!(kubelet["healthzBindAddress"], "::");
        } else {
            assert!(kubelet.get("healthzBindAddress").is_none(), "{mode}");
        }
        let cluster = &master["ClusterConfiguration"];
        let cm = arg_map(
            release.kubeadm_api(),
            &cluster["controllerManager"]["extraArgs"],
        );
        assert_eq!(cm.contains_key("bind-address"), ipv6, "{mode}");
        // Without feature gates and outside ipv6 mode the scheduler has no arguments at all.
        assert_eq!(
            cluster["scheduler"].get("extraArgs").is_some(),
            ipv6,
            "{mode}"
        );
    }
}

#[test]
fn fail_cgroup_v1_only_on_v1_hosts_with_releases_that_refuse_it() {
    let plan = plan_in("ipv4");
    for release in SUPPORTED_K8S {
        for cgroup_v1 in [false, true] {
            let mut i = inputs(&plan, release, None, None);
            i.cgroup_v1 = cgroup_v1;
            let (master, worker) = master_and_worker(&i);
            let want = (cgroup_v1 && release.minor_number() >= 35).then_some(json!(false));
            for d in [&master, &worker] {
                assert_eq!(
                    d["KubeletConfiguration"].get("failCgroupV1").cloned(),
                    want,
                    "{} cgroup v1: {cgroup_v1}",
                    release.version
                );
            }
            assert_eq!(i.allows_cgroup_v1(), want.is_some());
        }
    }
}

#[test]
fn feature_gates_reach_their_documents() {
    let plan = plan_in("ipv4");
    let release = release_for("1.36").unwrap();
    let (master, worker) = master_and_worker(&inputs(
        &plan,
        release,
        Some("Beta=true, Alpha=false"),
        Some("KubeletOnly=true"),
    ));
    let cluster = &master["ClusterConfiguration"];
    for component in ["apiServer", "controllerManager", "scheduler"] {
        assert_eq!(
            arg_map(release.kubeadm_api(), &cluster[component]["extraArgs"])["feature-gates"],
            "Alpha=false,Beta=true",
            "{component}"
        );
    }
    assert_eq!(
        master["KubeProxyConfiguration"]["featureGates"],
        json!({"Alpha": false, "Beta": true})
    );
    for d in [&master, &worker] {
        assert_eq!(
            d["KubeletConfiguration"]["featureGates"],
            json!({"KubeletOnly": true})
        );
    }

    let (plain, _) = master_and_worker(&inputs(&plan, release, None, None));
    let text = serde_json::to_string(&plain).unwrap();
    assert!(!text.contains("feature-gates"), "{text}");
    assert!(!text.contains("featureGates"), "{text}");
}

#[test]
fn kubelet_and_kube_proxy_settings() {
    let plan = plan_in("ipv4");
    let (master, _) = master_and_worker(&inputs(&plan, release_for("1.34").unwrap(), None, None));
    assert_eq!(
        master["KubeletConfiguration"],
        json!({
            "apiVersion": "kubelet.config.k8s.io/v1beta1",
            "kind": "KubeletConfiguration",
            "cgroupDriver": "cgroupfs",
            "containerRuntimeEndpoint": CRI_SOCKET,
            "failSwapOn": false,
            "imageGCHighThresholdPercent": 100,
            "evictionHard": {"nodefs.available": "0%", "nodefs.inodesFree": "0%",
                             "imagefs.available": "0%"},
            "clusterDNS": ["10.96.0.10"],
            "clusterDomain": "cluster.local",
            "resolvConf": "/etc/kdc/resolv.conf",
        })
    );
    assert_eq!(
        master["KubeProxyConfiguration"],
        json!({
            "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
            "kind": "KubeProxyConfiguration",
            "mode": "iptables",
            "clusterCIDR": "10.244.0.0/16",
            "conntrack": {"maxPerCore": 0},
            "iptables": {"minSyncPeriod": "1s"},
        })
    );
}

#[test]
fn render_nodes_is_one_stream_with_a_comment_per_node() {
    let plan = for_env(&[("NUM_NODES", "2")]);
    let text = render_nodes(
        &inputs(&plan, release_for("1.36").unwrap(), None, None),
        &plan.nodes,
    );
    let comments: Vec<&str> = text.lines().filter(|l| l.starts_with('#')).collect();
    assert_eq!(
        comments,
        [
            "# kube-master: /kind/kubeadm.conf",
            "# kube-node-1: /kind/kubeadm.conf",
            "# kube-node-2: /kind/kubeadm.conf"
        ]
    );
    let all: Vec<Value> = serde_saphyr::from_multiple(&text).unwrap();
    assert_eq!(all.len(), 4 + 2 + 2);
}

#[test]
fn gates_parse_into_a_sorted_map() {
    assert_eq!(
        gates("B=true, A=false"),
        BTreeMap::from([("A".to_string(), false), ("B".to_string(), true)])
    );
    assert_eq!(gates_arg(&gates("B=true,A=false")), "A=false,B=true");
}

/// Fields kind sets to other values than kdc, and why. Each must differ in some case.
const DIFFERENT: &[(&str, &str)] = &[
    (
        "ClusterConfiguration.controlPlaneEndpoint",
        "kind names the master container (Docker's DNS); kdc gives its address, valid before any name service and in every IP mode",
    ),
    (
        "JoinConfiguration.discovery.bootstrapToken.apiServerEndpoint",
        "the control-plane endpoint, as above",
    ),
    (
        "ClusterConfiguration.apiServer.certSANs",
        "kdc adds both loopbacks and the master's addresses to kind's [localhost, published host] (a superset, checked)",
    ),
    (
        "ClusterConfiguration.apiServer.extraArgs.runtime-config",
        "kind always passes its runtime config, empty here; kdc has no such setting and passes none",
    ),
    (
        "InitConfiguration.nodeRegistration.kubeletExtraArgs.provider-id",
        "kind://docker/<cluster>/<node> names kind's provider; kdc's nodes have no cloud provider",
    ),
    (
        "JoinConfiguration.nodeRegistration.kubeletExtraArgs.provider-id",
        "as above",
    ),
    (
        "InitConfiguration.nodeRegistration.kubeletExtraArgs.node-labels",
        "kind passes its per-node labels, empty here; kdc has no node labels",
    ),
    (
        "JoinConfiguration.nodeRegistration.kubeletExtraArgs.node-labels",
        "as above",
    ),
    (
        "KubeletConfiguration.cgroupDriver",
        "kind: systemd; kdc's nodes run runc with cgroupfs, the systemd hierarchy being read-only in the non-privileged fallback",
    ),
    (
        "KubeletConfiguration.cgroupRoot",
        "kind's entrypoint makes a /kubelet cgroup for it; kdc's nodes do not, so kubelet keeps its default",
    ),
];

/// Fields kdc sets that kind leaves out, and why. Each must be set in some case.
const ADDED: &[(&str, &str)] = &[
    (
        "InitConfiguration.nodeRegistration.name",
        "kubeadm's default (the host name), made explicit",
    ),
    ("JoinConfiguration.nodeRegistration.name", "as above"),
    (
        "InitConfiguration.nodeRegistration.imagePullPolicy",
        "Never: there is no registry, every image is in the node",
    ),
    (
        "JoinConfiguration.nodeRegistration.imagePullPolicy",
        "as above",
    ),
    (
        "ClusterConfiguration.controllerManager.extraArgs.allocate-node-cidrs",
        "false: kdc's CNI configurations hold each node's pod subnet from the plan, and the IPv6 /72 pod network with /80 per node is not what the controller's defaults can split",
    ),
    (
        "ClusterConfiguration.networking.dnsDomain",
        "kubeadm's default, explicit",
    ),
    (
        "ClusterConfiguration.etcd.local.dataDir",
        "kubeadm's default, explicit",
    ),
    (
        "KubeletConfiguration.containerRuntimeEndpoint",
        "containerd's socket, explicit",
    ),
    (
        "KubeletConfiguration.resolvConf",
        "kdc's name server (bind9, DNS64 in ipv6 mode) for CoreDNS to forward to; the node's 127.0.0.11 is unreachable from pods",
    ),
    (
        "KubeletConfiguration.clusterDNS",
        "the plan's DNS service address (kubeadm's default, explicit)",
    ),
    (
        "KubeletConfiguration.clusterDomain",
        "kubeadm's default, explicit",
    ),
    (
        "KubeletConfiguration.failCgroupV1",
        "false on cgroup v1 hosts from 1.35, which kubelet refuses otherwise (KEP 5573)",
    ),
    (
        "KubeProxyConfiguration.clusterCIDR",
        "the pod subnets (kubeadm's default, explicit)",
    ),
];

/// Every leaf of `doc` under `prefix` as `path → value`; `extraArgs` and `kubeletExtraArgs`
/// in either API shape become `….extraArgs.<name>` (the shapes are checked elsewhere); lists
/// are leaves.
fn flatten(prefix: &str, doc: &Value, out: &mut BTreeMap<String, Value>) {
    let key = prefix.rsplit('.').next().unwrap_or_default();
    match doc {
        Value::Array(list) if key.ends_with("xtraArgs") => {
            for arg in list {
                let name = arg["name"].as_str().expect("argument name");
                out.insert(format!("{prefix}.{name}"), arg["value"].clone());
            }
        }
        Value::Object(map) => {
            for (k, v) in map {
                flatten(&format!("{prefix}.{k}"), v, out);
            }
        }
        leaf => {
            out.insert(prefix.to_string(), leaf.clone());
        }
    }
}

/// The documents of kind's rendering and of kdc's (the master's, and the worker's
/// JoinConfiguration), flattened.
fn flat(docs: impl IntoIterator<Item = Value>) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    for doc in docs {
        let kind = doc["kind"].as_str().unwrap().to_string();
        flatten(&kind, &doc, &mut out);
    }
    out
}

/// kdc's documents agree with kind's rendering of the same inputs
/// (`fixtures/kubeadm/kind-*.yaml`), one ipv4 and one ipv6 case per kubeadm API version:
/// every field kind sets has kind's value unless [`DIFFERENT`] says why not, and every field
/// kdc adds is in [`ADDED`] with its reason.
#[test]
fn kind_agrees_field_by_field() {
    let mut differed = Vec::new();
    let mut added = Vec::new();
    for (minor, mode) in [
        ("1.35", "ipv4"),
        ("1.35", "ipv6"),
        ("1.36", "ipv4"),
        ("1.36", "ipv6"),
    ] {
        let case = format!("{minor}-{mode}");
        let text = std::fs::read_to_string(fixtures().join(format!("kind-{case}.yaml"))).unwrap();
        let kind = flat(serde_saphyr::from_multiple::<Value>(&text).unwrap());
        let plan = plan_in(mode);
        let gates = Some("Alpha=false,Beta=true");
        let (master, mut worker) =
            master_and_worker(&inputs(&plan, release_for(minor).unwrap(), gates, gates));
        let ours = flat(
            master
                .into_values()
                .chain(worker.remove("JoinConfiguration")),
        );
        for (path, want) in &kind {
            match DIFFERENT.iter().find(|(p, _)| p == path) {
                Some(_) => {
                    assert_ne!(
                        ours.get(path),
                        Some(want),
                        "{case}: {path} is listed as different but agrees"
                    );
                    differed.push(path.as_str().to_owned());
                }
                None => assert_eq!(ours.get(path), Some(want), "{case}: {path}"),
            }
        }
        for path in ours.keys().filter(|p| !kind.contains_key(*p)) {
            assert!(
                ADDED.iter().any(|(p, _)| p == path),
                "{case}: kdc sets {path}, which kind does not: add it to ADDED with the reason"
            );
            added.push(path.clone());
        }
        let sans = |m: &BTreeMap<String, Value>| {
            m["ClusterConfiguration.apiServer.certSANs"]
                .as_array()
                .unwrap()
                .clone()
        };
        for san in sans(&kind) {
            assert!(sans(&ours).contains(&san), "{case}: certSAN {san} missing");
        }
    }
    for (path, why) in DIFFERENT.iter().chain(ADDED) {
        assert!(
            differed.contains(&path.to_string()) || added.contains(&path.to_string()),
            "{path} ({why}) is listed but never differs: remove it"
        );
    }
}
