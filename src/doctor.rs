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

/// Host facts read from `/proc/sys` (passed in so tests need no host).
#[derive(Debug, Clone, Default)]
pub struct HostLimits {
    pub inotify_watches: Option<u64>,
    pub inotify_instances: Option<u64>,
    pub tun_device: bool,
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
        }
    }
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
    let Some((provider, exec)) = engine else {
        out.push(check(
            "docker",
            Status::Fail,
            "no Docker daemon answers",
            Some("start it: sudo bash ci/setup-host.sh, or set DOCKER_HOST"),
        ));
        return out;
    };
    match provider.info().await {
        Ok(i) => out.push(check(
            "docker",
            Status::Ok,
            format!(
                "Docker {} (API {}), {}, cgroup v{}, storage {}",
                i.version, i.api_version, i.os, i.cgroup_version, i.storage_driver
            ),
            None,
        )),
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
        };
        let checks = run(None, &host).await;
        let status: Vec<(&str, Status)> = checks.iter().map(|c| (c.check, c.status)).collect();
        assert_eq!(
            status,
            vec![
                ("inotify", Status::Warn),
                ("tun", Status::Ok),
                ("docker", Status::Fail)
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
}
