//! `kdc doctor`: checks that the host can run kdc clusters, each failure with its fix.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::runtime::{ContainerSpec, ExecRequest, NodeExec, Privilege, Provider, labels};

/// Images kdc builds offline (`images/`).
pub const IMAGES: [&str; 2] = [crate::images::NODE_IMAGE, crate::images::SUPPORT_IMAGE];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Warn,
    Fail,
}

/// One check's verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    pub check: &'static str,
    pub status: Status,
    pub detail: String,
    /// What to do when the status is not ok.
    pub fix: Option<String>,
}

fn check(
    check: &'static str,
    status: Status,
    detail: impl Into<String>,
    fix: Option<&str>,
) -> Check {
    Check {
        check,
        status,
        detail: detail.into(),
        fix: fix.map(String::from),
    }
}

/// Host facts read from `/proc/sys`, `/sys/fs/cgroup` and PATH (passed in so tests need no
/// host).
#[derive(Debug, Clone, Default)]
pub struct HostLimits {
    pub inotify_watches: Option<u64>,
    pub inotify_instances: Option<u64>,
    pub tun_device: bool,
    /// This machine's cgroup hierarchy is v1 (used when the engine does not say its own).
    pub cgroup_v1: bool,
    /// `go version`'s answer, `None` when there is no `go` on PATH.
    pub go_version: Option<String>,
}

impl HostLimits {
    pub fn read() -> HostLimits {
        let num = |p: &str| {
            std::fs::read_to_string(p)
                .ok()
                .and_then(|s| s.trim().parse().ok())
        };
        HostLimits {
            inotify_watches: num("/proc/sys/fs/inotify/max_user_watches"),
            inotify_instances: num("/proc/sys/fs/inotify/max_user_instances"),
            tun_device: std::path::Path::new("/dev/net/tun").exists(),
            cgroup_v1: crate::kube::host_cgroup_v1(),
            // Where the image recipe looks for Go: PATH, then where setup-host finds or puts it.
            go_version: ["go", "/usr/local/go/bin/go", "/usr/local/lib/kdc/go/bin/go"]
                .into_iter()
                .find_map(|go| {
                    std::process::Command::new(go)
                        .arg("version")
                        .output()
                        .ok()
                        .filter(|o| o.status.success())
                        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
                }),
        }
    }
}

/// The Go that building the Kubernetes node image needs (the newest k8s.io/kubernetes
/// modules declare `go 1.26`).
pub const GO_MIN: (u32, u32) = (1, 26);

/// `go version go1.26.8 linux/amd64` → (1, 26, "1.26.8").
fn go_release(answer: &str) -> Option<(u32, u32, String)> {
    let v = answer.split_whitespace().find_map(|w| {
        w.strip_prefix("go")
            .filter(|r| r.starts_with(|c: char| c.is_ascii_digit()))
    })?;
    let mut parts = v.split(|c: char| !c.is_ascii_digit());
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor, v.to_string()))
}

/// Whether Go can build the Kubernetes node image; only a warning, as nothing else needs it.
pub fn go_check(answer: Option<&str>) -> Check {
    let fix = Some(
        "run `sudo bash ci/setup-host.sh` (it installs Go from the Go module proxy into /usr/local/lib/kdc/go), or put Go 1.26 or newer on PATH",
    );
    match answer.map(|a| (a, go_release(a))) {
        Some((_, Some((major, minor, v)))) if (major, minor) >= GO_MIN => check(
            "go",
            Status::Ok,
            format!("Go {v}: builds the Kubernetes node image (kdc image build node)"),
            None,
        ),
        Some((_, Some((_, _, v)))) => check(
            "go",
            Status::Warn,
            format!(
                "Go {v} is too old to build the Kubernetes node image (needs 1.26 or newer); clusters run without it"
            ),
            fix,
        ),
        Some((a, None)) => check(
            "go",
            Status::Warn,
            format!(
                "`go version` answered {a:?}, not a Go release; building the Kubernetes node image needs Go 1.26 or newer"
            ),
            fix,
        ),
        None => check(
            "go",
            Status::Warn,
            "no go on PATH: needed only to build the Kubernetes node image (kdc image build node), not to run clusters or load a saved image",
            fix,
        ),
    }
}

/// What the cgroup version of the nodes' host means for each supported Kubernetes release.
/// `whose` says where it was read: the engine's host, or this machine.
pub fn cgroup_check(v1: bool, whose: &str) -> Check {
    let minors = |refuse: bool| -> Vec<&str> {
        crate::kube::SUPPORTED_K8S
            .iter()
            .filter(|r| r.refuses_cgroup_v1() == refuse)
            .map(|r| r.minor)
            .collect()
    };
    let detail = if v1 {
        let as_is = minors(false);
        let refuse = minors(true);
        let mut d = format!("cgroup v1 ({whose})");
        if !as_is.is_empty() {
            d += &format!(": Kubernetes {} runs as is", as_is.join(", "));
        }
        if !refuse.is_empty() {
            d += &format!(
                "; {} refuse{} cgroup v1 unless the KubeletConfiguration says failCgroupV1: false (KEP 5573), which kdc sets for {}",
                refuse.join(", "),
                if refuse.len() == 1 { "s" } else { "" },
                if refuse.len() == 1 { "it" } else { "them" },
            );
        }
        d
    } else {
        let all: Vec<&str> = crate::kube::SUPPORTED_K8S.iter().map(|r| r.minor).collect();
        format!(
            "cgroup v2 ({whose}): every supported Kubernetes ({}) runs as is",
            all.join(", ")
        )
    };
    check("cgroup", Status::Ok, detail, None)
}

/// Runs every check; the engine checks only when the engine answers.
pub async fn run(engine: Option<(&dyn Provider, &dyn NodeExec)>, host: &HostLimits) -> Vec<Check> {
    let mut out = Vec::new();
    // Several clusters on one host exhaust the default inotify limits (kind's most common
    // "node did not start" report); kind recommends these values.
    let watches = host.inotify_watches.unwrap_or(0);
    let instances = host.inotify_instances.unwrap_or(0);
    out.push(if watches >= 524_288 && instances >= 512 {
        check("inotify", Status::Ok, format!("max_user_watches {watches}, max_user_instances {instances}"), None)
    } else {
        check(
            "inotify",
            Status::Warn,
            format!("max_user_watches {watches}, max_user_instances {instances}: low for several clusters"),
            Some("sysctl -w fs.inotify.max_user_watches=524288 fs.inotify.max_user_instances=512"),
        )
    });
    out.push(if host.tun_device {
        check(
            "tun",
            Status::Ok,
            "/dev/net/tun exists (needed by tayga for NAT64)",
            None,
        )
    } else {
        check(
            "tun",
            Status::Fail,
            "/dev/net/tun is missing: ipv6 clusters cannot run NAT64",
            Some("modprobe tun"),
        )
    });
    out.push(go_check(host.go_version.as_deref()));
    let Some((provider, exec)) = engine else {
        out.push(check(
            "docker",
            Status::Fail,
            "no Docker daemon answers",
            Some("start it: sudo bash ci/setup-host.sh, or set DOCKER_HOST"),
        ));
        out.push(cgroup_check(host.cgroup_v1, "this machine"));
        return out;
    };
    match provider.info().await {
        Ok(i) => {
            out.push(check(
                "docker",
                Status::Ok,
                format!(
                    "Docker {} (API {}), {}, cgroup v{}, storage {}",
                    i.version, i.api_version, i.os, i.cgroup_version, i.storage_driver
                ),
                None,
            ));
            // The nodes run on the engine's host, which may not be this machine.
            out.push(match i.cgroup_version.trim() {
                "1" => cgroup_check(true, "the Docker engine's host"),
                "2" => cgroup_check(false, "the Docker engine's host"),
                _ => cgroup_check(
                    host.cgroup_v1,
                    "this machine; the engine does not say its own",
                ),
            });
        }
        Err(e) => {
            out.push(check(
                "docker",
                Status::Fail,
                e.to_string(),
                Some("start the daemon: sudo bash ci/setup-host.sh"),
            ));
            return out;
        }
    }
    let mut node_image = false;
    for image in IMAGES {
        match provider.image_labels(image).await {
            Ok(Some(l)) => {
                node_image |= image == IMAGES[0];
                let inputs = l
                    .get(labels::IMAGE_INPUTS)
                    .map(|h| format!(" (inputs {})", &h[..h.len().min(12)]))
                    .unwrap_or_default();
                out.push(check(
                    "image",
                    Status::Ok,
                    format!("{image} present{inputs}"),
                    None,
                ));
            }
            Ok(None) => out.push(check(
                "image",
                Status::Fail,
                format!("{image} is missing"),
                Some("build it offline: sudo bash ci/setup-host.sh (runs images/build.sh)"),
            )),
            Err(e) => out.push(check("image", Status::Fail, e.to_string(), None)),
        }
    }
    let kube = format!(
        "{}:{}",
        crate::images::NODE_REPOSITORY,
        crate::kube::default_release().version
    );
    out.push(match provider.image_labels(&kube).await {
        Ok(Some(l)) => {
            let inputs = l
                .get(labels::IMAGE_INPUTS)
                .map(|h| format!(" (inputs {})", &h[..h.len().min(12)]))
                .unwrap_or_default();
            check("image", Status::Ok, format!("{kube} present{inputs}"), None)
        }
        Ok(None) => check(
            "image",
            Status::Warn,
            format!("{kube} (Kubernetes, the default release) is missing: `kdc up` needs it unless --bootstrapper none"),
            Some("kdc image build node (needs Go), or kdc image load FILE (a file kdc image save wrote)"),
        ),
        Err(e) => check("image", Status::Fail, e.to_string(), None),
    });
    out.push(ipv6_network(provider).await);
    if node_image {
        out.extend(privileged(provider, exec).await);
    }
    out
}

async fn ipv6_network(provider: &dyn Provider) -> Check {
    let name = format!("kdc-doctor-{}", std::process::id());
    let spec = crate::runtime::NetworkSpec {
        name: name.clone(),
        ipv6: true,
        subnets: vec![(
            "fd00:dc::/64".parse().unwrap(),
            "fd00:dc::1".parse().unwrap(),
            None,
        )],
        labels: BTreeMap::new(),
    };
    let result = provider.create_network(&spec).await;
    let _ = provider.remove_network(&name).await;
    match result {
        Ok(()) => check("ipv6", Status::Ok, "IPv6 networks can be created", None),
        Err(e) => check(
            "ipv6",
            Status::Fail,
            format!("cannot create an IPv6 network: {e}"),
            Some("enable IPv6 in the daemon (ip6tables present, IPv6 not disabled in the kernel)"),
        ),
    }
}

/// Privileged mode, and the capability fallback kdc uses where it is refused.
async fn privileged(provider: &dyn Provider, exec: &dyn NodeExec) -> Vec<Check> {
    let mut out = Vec::new();
    for (privilege, what) in [
        (Privilege::Privileged, "privileged containers"),
        (Privilege::AllCapsButSysResource, "capability fallback"),
    ] {
        let name = format!("kdc-doctor-{}-{}", std::process::id(), out.len());
        let spec = ContainerSpec {
            name: name.clone(),
            image: IMAGES[0].to_string(),
            entrypoint: Some(vec!["sleep".into(), "60".into()]),
            privilege: Some(privilege),
            network: "bridge".into(),
            devices: vec!["/dev/net/tun".into()],
            ..Default::default()
        };
        let run = provider.run_container(&spec).await;
        let tun = match &run {
            Ok(_) => exec
                .exec(&name, ExecRequest::new(["test", "-c", "/dev/net/tun"]))
                .await
                .is_ok_and(|o| o.code == 0),
            Err(_) => false,
        };
        let _ = provider.remove_container(&name).await;
        match (run, privilege) {
            (Ok(_), _) => out.push(check(
                "privilege",
                Status::Ok,
                format!(
                    "{what} work{}",
                    if tun {
                        "; /dev/net/tun is usable inside"
                    } else {
                        ""
                    }
                ),
                None,
            )),
            (Err(e), Privilege::Privileged) => out.push(check(
                "privilege",
                Status::Warn,
                format!(
                    "{what} are refused ({}); kdc falls back to capabilities",
                    e.message.lines().next().unwrap_or_default()
                ),
                None,
            )),
            (Err(e), _) => out.push(check(
                "privilege",
                Status::Fail,
                format!("{what}: refused too: {e}"),
                Some("run Docker as root on a host that allows CAP_SYS_ADMIN and NET_ADMIN"),
            )),
        }
        if out.last().is_some_and(|c| c.status == Status::Ok) {
            break;
        }
    }
    out
}

/// Renders checks as lines: `✓ docker: …`, `! inotify: … (fix: …)`, `✗ image: …`.
pub fn render(checks: &[Check]) -> String {
    let mut s = String::new();
    for c in checks {
        let mark = match c.status {
            Status::Ok => "ok  ",
            Status::Warn => "warn",
            Status::Fail => "FAIL",
        };
        s += &format!("{mark} {:<10} {}\n", c.check, c.detail);
        if let Some(fix) = &c.fix {
            s += &format!("     {:<10} fix: {fix}\n", "");
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn without_engine_reports_docker_failure_and_host_limits() {
        let host = HostLimits {
            inotify_watches: Some(8192),
            inotify_instances: Some(128),
            tun_device: true,
            cgroup_v1: false,
            go_version: None,
        };
        let checks = run(None, &host).await;
        let status: Vec<(&str, Status)> = checks.iter().map(|c| (c.check, c.status)).collect();
        assert_eq!(
            status,
            vec![
                ("inotify", Status::Warn),
                ("tun", Status::Ok),
                ("go", Status::Warn),
                ("docker", Status::Fail),
                ("cgroup", Status::Ok),
            ]
        );
        let text = render(&checks);
        assert!(
            text.contains("warn inotify    max_user_watches 8192, max_user_instances 128"),
            "{text}"
        );
        assert!(
            text.contains("fix: sysctl -w fs.inotify.max_user_watches=524288"),
            "{text}"
        );
        assert!(
            text.contains("FAIL docker     no Docker daemon answers"),
            "{text}"
        );
    }

    #[test]
    fn cgroup_v1_says_which_releases_need_fail_cgroup_v1_false_and_that_kdc_sets_it() {
        let c = cgroup_check(true, "the Docker engine's host");
        assert_eq!(c.status, Status::Ok);
        assert_eq!(
            c.detail,
            "cgroup v1 (the Docker engine's host): Kubernetes 1.34 runs as is; 1.35, 1.36, 1.37 refuse cgroup v1 unless the KubeletConfiguration says failCgroupV1: false (KEP 5573), which kdc sets for them"
        );
        let c = cgroup_check(false, "this machine");
        assert_eq!(
            c.detail,
            "cgroup v2 (this machine): every supported Kubernetes (1.34, 1.35, 1.36, 1.37) runs as is"
        );
    }

    #[test]
    fn go_is_needed_only_to_build_the_node_image_and_must_be_1_26() {
        let ok = go_check(Some("go version go1.26.8 linux/amd64"));
        assert_eq!((ok.status, ok.fix.is_none()), (Status::Ok, true), "{ok:?}");
        assert!(ok.detail.starts_with("Go 1.26.8: builds"), "{ok:?}");
        let old = go_check(Some("go version go1.22.12 linux/amd64"));
        assert_eq!(old.status, Status::Warn);
        assert!(old.detail.contains("Go 1.22.12 is too old"), "{old:?}");
        assert!(old.fix.as_deref().unwrap().contains("Go 1.26 or newer"));
        let rc = go_check(Some("go version go1.27rc1 linux/arm64"));
        assert_eq!(rc.status, Status::Ok, "{rc:?}");
        let none = go_check(None);
        assert_eq!(none.status, Status::Warn);
        assert!(none.detail.contains("needed only to build"), "{none:?}");
        let odd = go_check(Some("devel"));
        assert_eq!(odd.status, Status::Warn);
        assert!(odd.detail.contains("\"devel\""), "{odd:?}");
    }

    #[tokio::test]
    async fn the_engines_cgroup_version_wins_over_this_machines() {
        let fake = crate::runtime::fake::Fake::default();
        let host = HostLimits {
            cgroup_v1: true,
            go_version: Some("go version go1.26.8 linux/amd64".into()),
            ..Default::default()
        };
        let cgroup = |checks: Vec<Check>| {
            checks
                .into_iter()
                .find(|c| c.check == "cgroup")
                .unwrap()
                .detail
        };
        let unsaid = cgroup(run(Some((&fake, &fake)), &host).await);
        assert!(
            unsaid.starts_with("cgroup v1 (this machine; the engine does not say its own)"),
            "{unsaid}"
        );
        fake.state().info.cgroup_version = "2".into();
        let engine = cgroup(run(Some((&fake, &fake)), &host).await);
        assert!(
            engine.starts_with("cgroup v2 (the Docker engine's host)"),
            "{engine}"
        );
        let checks = run(Some((&fake, &fake)), &host).await;
        let image = checks
            .iter()
            .find(|c| c.detail.contains(crate::kube::default_release().version))
            .unwrap();
        assert_eq!(image.status, Status::Warn, "{image:?}");
        assert!(
            image
                .fix
                .as_deref()
                .unwrap()
                .contains("kdc image build node")
        );
    }
}
