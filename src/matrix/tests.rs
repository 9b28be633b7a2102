use std::path::Path;

use super::*;
use crate::ci::{self, Unit};

fn suites() -> Vec<Suite> {
    crate::suite::load(&[]).unwrap()
}

fn parse(text: &str) -> Result<Matrix, MatrixError> {
    Matrix::parse("m.toml", Path::new("."), text, &suites())
}

fn err(text: &str) -> String {
    parse(text).unwrap_err().to_string()
}

const SMALL: &str = r#"
[[dimension]]
name = "cni"
setting = "CNI_PLUGIN"
values = ["bridge", "ptp"]

[[dimension]]
name = "k8s"
setting = "DIND_K8S_VERSION"
values = ["v1.34", "v1.35"]

[[cell]]
name = "ipv6"
suites = ["ipv6"]

[[cell]]
name = "v4"
suites = ["smoke"]
set = { IP_MODE = "ipv4", NUM_NODES = 1 }
dimensions = ["cni"]

[[exclude]]
cni = "ptp"
k8s = "v1.34"

[[include]]
cell = "v4"
cni = "flannel"

[[override]]
cell = "ipv6"
k8s = "v1.35"
set = { NAT64_V4_SUBNET_PREFIX = "10.100" }
"#;

#[test]
fn cells_cross_the_dimensions_in_file_order_with_rules_applied() {
    let m = parse(SMALL).unwrap();
    let names: Vec<&str> = m.cells.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "ipv6_bridge_v1.34",
            "ipv6_bridge_v1.35",
            "ipv6_ptp_v1.35",
            "v4_bridge",
            "v4_ptp",
            "v4_flannel"
        ]
    );
    let c = &m.cells[1];
    assert_eq!(
        c.settings,
        [
            ("CNI_PLUGIN".to_string(), "bridge".to_string()),
            ("DIND_K8S_VERSION".into(), "v1.35".into()),
            ("NAT64_V4_SUBNET_PREFIX".into(), "10.100".into()),
        ]
    );
    assert_eq!(c.setting("NAT64_V4_SUBNET_PREFIX"), Some("10.100"));
    assert_eq!(m.cells[0].setting("NAT64_V4_SUBNET_PREFIX"), None);
    assert_eq!(m.cells[3].setting("NUM_NODES"), Some("1"));
    assert_eq!(
        m.cells[5].coords,
        [("cni".to_string(), "flannel".to_string())]
    );
}

#[test]
fn a_cells_settings_are_the_named_layer_that_errors_name() {
    let m = parse(SMALL).unwrap();
    let mut inputs = crate::config::Inputs::default().with_env([("CNI_PLUGIN", "weave")]);
    inputs.add(m.cells[3].layer());
    let (value, origin) = inputs.get(crate::config::Key::CniPlugin).unwrap();
    assert_eq!(value, "bridge", "the cell wins over the environment");
    assert_eq!(origin.to_string(), "matrix cell v4_bridge: CNI_PLUGIN");
}

#[test]
fn errors_name_the_file_line_column_and_key() {
    for (text, want) in [
        (
            "[[cell]]\nname = \"a\"\nsuites = [\"smoke\"]\nset = { IP_MODE = \"ipv7\" }\n",
            "m.toml:4:19: cell a: set: IP_MODE=ipv7: not an IP mode; use ipv4, ipv6 or dual-stack",
        ),
        (
            "[[cell]]\nname = \"a\"\nsuites = [\"smoke\"]\nset = { IP_MOD = \"ipv4\" }\n",
            "m.toml:4:9: cell \"a\": set: IP_MOD is not a kdc setting",
        ),
        (
            "[[cell]]\nname = \"a\"\nsuites = [\"nosuch\"]\n",
            "m.toml:3:11: cell \"a\": suites: ",
        ),
        (
            "[[cell]]\nname = \"a\"\nsuits = [\"smoke\"]\n",
            "m.toml:3:1: cell 1: unknown key \"suits\"; known: name, suites, set, dimensions, clusters, bootstrapper, e2e",
        ),
        (
            "[[cell]]\nname = \"A_b\"\nsuites = [\"smoke\"]\n",
            "m.toml:2:8: cell 1: name: \"A_b\" must start with a lowercase letter",
        ),
        (
            "[[cell]]\nname = \"a\"\nsuites = [\"ipv6\"]\nset = { IP_MODE = \"ipv4\" }\n",
            "m.toml:4:19: cell a: set: sets IP_MODE=ipv4, but suite ipv6 needs IP_MODE=ipv6",
        ),
        (
            "[[cell]]\nname = \"a\"\nsuites = [\"smoke\"]\n[[exclude]]\ncell = \"b\"\n",
            "m.toml:4:1: exclude 1: matches no cell",
        ),
        (
            "[[cell]]\nname = \"a\"\nsuites = [\"smoke\"]\nclusters = 9\n",
            "m.toml:4:12: cell \"a\": clusters: must be 1 to 8",
        ),
        (
            "[[cell]]\nname = \"a\"\nsuites = [\"smoke\"]\n[generated]\ngithub = \"../x.yml\"\n",
            "m.toml:5:10: generated.github: must be a relative path",
        ),
        (
            "[[cell]]\nname = \"a\"\nsuites = [\"smoke\"]\n[[cell]]\nname = \"a\"\nsuites = [\"smoke\"]\n",
            "m.toml:4:1: cell \"a\": name: already used by the cell at line 1",
        ),
        (
            "[[cell]]\nname = \"a\"\nbootstrapper = \"kubeadm\"\ne2e = { focus = '[sig-network' }\n",
            "m.toml:4:17: cell \"a\": e2e.focus: not a regex: ",
        ),
        (
            "[[cell]]\nname = \"a\"\ne2e = { focus = 'DNS' }\n",
            "m.toml:1:1: cell \"a\": e2e: runs Kubernetes' e2e tests: the cell needs bootstrapper = \"kubeadm\"",
        ),
        (
            "[[cell]]\nname = \"a\"\nbootstrapper = \"kubeadm\"\ne2e = { skip = 'x' }\n",
            r#"m.toml:4:7: cell "a": missing key "e2e.focus" ({ focus = '\[sig-network\].*\[Conformance\]' })"#,
        ),
        (
            "[[cell]]\nname = \"a\"\nbootstrapper = \"kubeadm\"\ne2e = { focus = 'x', parallel = 0 }\n",
            "m.toml:4:33: cell \"a\": e2e.parallel: must be 1 to 64 processes",
        ),
        (
            "[[cell]]\nname = \"a\"\nbootstrapper = \"kubeadm\"\ne2e = { focus = 'x', nodes = 2 }\n",
            "m.toml:4:22: cell \"a\": e2e: unknown key \"nodes\"; known: focus, skip, serial, parallel",
        ),
        ("cell = [", "m.toml:1:9: not valid TOML"),
        ("", "m.toml:1:1: no cells"),
    ] {
        let got = err(text);
        assert!(got.starts_with(want), "{text}\n got: {got}\nwant: {want}");
    }
}

#[test]
fn unknown_cells_are_named_with_a_suggestion() {
    let m = parse(SMALL).unwrap();
    assert_eq!(
        m.select(&["v4_brigde".into()]).unwrap_err().to_string(),
        "m.toml has no cell \"v4_brigde\"; `kdc ci list` shows the 6 cells (did you mean v4_bridge?)"
    );
    let picked = m
        .select(&["v4_ptp".into(), "ipv6_bridge_v1.34".into()])
        .unwrap();
    let names: Vec<&str> = picked.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["ipv6_bridge_v1.34", "v4_ptp"], "matrix order");
}

#[test]
fn every_cell_runs_in_exactly_one_shard_and_sizes_differ_by_at_most_one() {
    for cells in 0..20usize {
        let all: Vec<usize> = (0..cells).collect();
        for n in 1..=8 {
            let mut seen = Vec::new();
            let mut sizes = Vec::new();
            for i in 1..=n {
                let picked = Shard { index: i, total: n }.pick(&all);
                sizes.push(picked.len());
                seen.extend(picked.into_iter().copied());
            }
            seen.sort();
            assert_eq!(seen, all, "{cells} cells, {n} shards");
            let (min, max) = (sizes.iter().min().unwrap(), sizes.iter().max().unwrap());
            assert!(max - min <= 1, "{cells} cells, {n} shards: {sizes:?}");
        }
    }
}

#[test]
fn shards_come_from_the_flag_or_the_ci_systems_variables() {
    assert_eq!(Shard::parse("2/4").unwrap(), Shard { index: 2, total: 4 });
    for bad in ["0/4", "5/4", "2", "a/b", "1/0"] {
        assert!(
            Shard::parse(bad)
                .unwrap_err()
                .to_string()
                .starts_with(&format!("--shard {bad}: expected I/N")),
            "{bad}"
        );
    }
    let env = |vars: &'static [(&'static str, &'static str)]| {
        move |k: &str| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    };
    assert_eq!(
        Shard::from_env(env(&[
            ("CIRCLE_NODE_INDEX", "0"),
            ("CIRCLE_NODE_TOTAL", "3")
        ]))
        .unwrap(),
        Some(Shard { index: 1, total: 3 })
    );
    assert_eq!(
        Shard::from_env(env(&[("CI_NODE_INDEX", "3"), ("CI_NODE_TOTAL", "3")])).unwrap(),
        Some(Shard { index: 3, total: 3 })
    );
    assert_eq!(
        Shard::from_env(env(&[("KDC_SHARD", "2/5")])).unwrap(),
        Some(Shard { index: 2, total: 5 })
    );
    assert_eq!(Shard::from_env(env(&[])).unwrap(), None);
    assert_eq!(
        Shard::from_env(env(&[("CI_NODE_INDEX", "0"), ("CI_NODE_TOTAL", "3")]))
            .unwrap_err()
            .to_string(),
        "CI_NODE_INDEX=0 CI_NODE_TOTAL=3: not a shard this CI system would set; pass --shard I/N"
    );
}

#[test]
fn kdcs_own_matrix_holds_its_cells_and_its_committed_configs_are_current() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let m = Matrix::load(None, root, &suites()).unwrap();
    let names: Vec<&str> = m.cells.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "ipv4_bridge",
            "ipv6_bridge",
            "ipv6_ptp",
            "ipv6-nat64_bridge",
            "ipv6-ext-aaaa_bridge",
            "dual-stack_bridge",
            "dual-stack-v4-svc-net_bridge",
            "multi-cluster",
            "k8s-ipv4",
            "k8s-ipv6",
            "k8s-dual-stack",
            "k8s-e2e-network",
            "k8s-e2e-network-ipv6"
        ]
    );
    assert_eq!(m.cells[7].clusters, 3);
    let kube: Vec<&str> = m
        .cells
        .iter()
        .filter(|c| c.bootstrapper == "kubeadm")
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(
        kube,
        [
            "k8s-ipv4",
            "k8s-ipv6",
            "k8s-dual-stack",
            "k8s-e2e-network",
            "k8s-e2e-network-ipv6"
        ]
    );
    let e2e = m.cells[11].e2e.as_ref().expect("an e2e cell");
    assert_eq!(
        e2e.focus,
        r"\[sig-network\] (DNS|Networking|Services) .*\[Conformance\]"
    );
    assert_eq!(
        (e2e.serial, e2e.parallel),
        (false, crate::e2e::DEFAULT_PARALLEL)
    );
    // The nightly matrix: the whole conformance suite, parallel and serial.
    let nightly = Matrix::load(Some(&root.join("ci/nightly.toml")), root, &suites()).unwrap();
    let runs: Vec<(&str, bool)> = nightly
        .cells
        .iter()
        .map(|c| (c.name.as_str(), c.e2e.as_ref().unwrap().serial))
        .collect();
    assert_eq!(
        runs,
        [
            ("conformance", false),
            ("conformance-ipv6", false),
            ("conformance-serial", true)
        ]
    );
    let (checked, stale) = ci::check(&m, &root.join("ci")).unwrap();
    assert_eq!(checked.len(), 4);
    assert_eq!(
        stale,
        vec![],
        "run kdc ci generate for each provider (see ci/matrix.toml)"
    );
    // The compiled-in copy is the same file.
    let own = Matrix::load(None, Path::new("/nonexistent"), &suites()).unwrap();
    assert!(own.own);
    assert_eq!(own.cells, m.cells);
    assert_eq!(own.reproduce("ipv4_bridge"), "kdc ci run ipv4_bridge");
}

#[test]
fn check_names_the_file_and_the_first_differing_line() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!("{SMALL}\n[generated]\ngithub = \"gh.yml\"\ntravis = \"t.yml\"\n");
    let m = Matrix::parse("m.toml", dir.path(), &text, &suites()).unwrap();
    for (p, f) in [(Provider::Github, "gh.yml"), (Provider::Travis, "t.yml")] {
        std::fs::write(dir.path().join(f), ci::generate(&m, p).unwrap()).unwrap();
    }
    assert_eq!(ci::check(&m, dir.path()).unwrap().1, vec![]);
    // A hand edit on line 9 of the workflow.
    let gh = dir.path().join("gh.yml");
    let edited = std::fs::read_to_string(&gh).unwrap().replacen(
        "timeout-minutes: 60",
        "timeout-minutes: 90",
        1,
    );
    std::fs::write(&gh, edited).unwrap();
    let stale = ci::check(&m, dir.path()).unwrap().1;
    assert_eq!(stale.len(), 1);
    assert_eq!(
        stale[0].to_string(),
        format!(
            "{}:11: differs from what the matrix makes: has \"    timeout-minutes: 90\", expected \"    timeout-minutes: 60\"; run `kdc ci generate github -o {}`",
            gh.display(),
            gh.display()
        )
    );
    std::fs::remove_file(dir.path().join("t.yml")).unwrap();
    let stale = ci::check(&m, dir.path()).unwrap().1;
    assert_eq!(stale[1].line, 1);
    assert_eq!(stale[1].found, None, "a missing file is stale at line 1");
}

/// Every provider's config, per cell and sharded, twice the same, and valid against the
/// provider's schema (`ci/check-ci-configs.sh`: PyPI check-jsonschema, required, not optional).
#[test]
fn generated_configs_are_deterministic_and_valid_for_every_provider() {
    let dir = tempfile::tempdir().unwrap();
    let mut args = Vec::new();
    for shards in [0, 3] {
        let mut m = parse(SMALL).unwrap();
        m.ci.shards = shards;
        m.ci.jobs = 2;
        assert_eq!(ci::units(&m).len(), if shards == 0 { 6 } else { 3 });
        for p in Provider::ALL {
            let a = ci::generate(&m, p).unwrap();
            assert_eq!(a, ci::generate(&m, p).unwrap(), "{p} is deterministic");
            assert!(a.contains(&format!("kdc ci generate {p}")), "{p}: header");
            assert!(
                a.contains(&p.max_blob_bytes().to_string()),
                "{p}: blob budget"
            );
            match ci::units(&m)[0] {
                Unit::Cell(_) => assert!(a.contains("ipv6_ptp_v1.35"), "{p}: every cell"),
                Unit::Shard(..) => assert!(a.contains("3"), "{p}: three shards"),
            }
            let f = dir.path().join(format!("{p}-{shards}.yml"));
            std::fs::write(&f, &a).unwrap();
            args.push(format!("{p}={}", f.display()));
        }
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("ci/check-ci-configs.sh");
    let out = std::process::Command::new("bash")
        .arg(&script)
        .args(&args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout)
            .matches(": valid against")
            .count(),
        8
    );
}
