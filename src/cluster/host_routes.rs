//! `--host-routes`: the only changes kdc makes to the engine host's own network, and only when
//! asked. Without them everything in a cluster works (tayga masquerades its pool, so no return
//! route is needed); with them the host itself reaches NAT64-synthesised addresses (a route to
//! the DNS64 prefix through tayga), and in ipv6 mode with real AAAA records, and in dual-stack
//! mode, the cluster's IPv6 traffic leaves the host masqueraded (the original's
//! `setup_external_access_on_host`, narrowed to the cluster's own subnet).
//!
//! The changes belong to a container, `kdc-host-routes<suffix>`, on the host's network with
//! `NET_ADMIN`: its script adds each rule that is not there yet, says what it added, and on
//! `docker stop` deletes exactly those, newest first. A rule that was already there is left
//! alone, before and after. So the rules live exactly as long as that container runs, on the
//! engine's host even when the engine is remote (the original changed the machine running the
//! script). `down`, `clean` and a failed `up` stop it with time to undo; a `docker kill` or
//! `docker rm -f` would not give it that time, and its log then says what it had added.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use ipnet::IpNet;

use super::support::{CONFIG_LABEL, config_hash};
use crate::config::IpMode;
use crate::images::SUPPORT_IMAGE;
use crate::plan::Plan;
use crate::runtime::{ContainerSpec, ContainerState, Provider, ProviderError, labels};

/// The role label of the host routes container.
pub const ROLE: &str = "host-routes";
/// The rules the container holds, one per line, for `status` and the dump.
pub const RULES_LABEL: &str = "io.kdc.host-routes";
/// What the script prints once every rule is in place.
pub const READY: &str = "kdc: host routes ready";
/// How long the script may take to delete its rules when stopped.
pub const STOP_GRACE: Duration = Duration::from_secs(10);

/// One change to the host's network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rule {
    /// `ip -6 route add DST via VIA`.
    Route { dst: IpNet, via: IpAddr },
    /// An ip6tables rule: table, chain and the rule's match and target.
    Ip6tables {
        table: &'static str,
        chain: &'static str,
        rule: String,
    },
}

impl Rule {
    /// The shell commands that test for the rule, add it and delete it.
    fn commands(&self) -> [String; 3] {
        match self {
            Rule::Route { dst, via } => [
                format!("ip -6 route show {dst} | grep -qF 'via {via} '"),
                format!("ip -6 route add {dst} via {via}"),
                format!("ip -6 route del {dst} via {via}"),
            ],
            Rule::Ip6tables { table, chain, rule } => {
                let cmd = |op: &str| format!("ip6tables -w -t {table} {op} {chain} {rule}");
                [cmd("-C"), cmd("-A"), cmd("-D")]
            }
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rule::Route { dst, via } => write!(f, "route {dst} via {via}"),
            Rule::Ip6tables { table, chain, rule } => {
                write!(f, "ip6tables -t {table} {chain} {rule}")
            }
        }
    }
}

/// The rules `--host-routes` adds for the plan: none in ipv4 mode (Docker NATs IPv4 itself).
pub fn rules(plan: &Plan) -> Vec<Rule> {
    let mut out = Vec::new();
    if let (Some(d), Some(nat)) = (&plan.dns64, &plan.nat64) {
        out.push(Rule::Route {
            dst: IpNet::V6(d.prefix),
            via: IpAddr::V6(nat.ipv6),
        });
    }
    let egress = match plan.ip_mode {
        IpMode::Ipv4 => false,
        IpMode::Ipv6 => plan.dns.real_aaaa,
        IpMode::DualStack => true,
    };
    let v6 = plan
        .network
        .subnets
        .iter()
        .find(|n| matches!(n, IpNet::V6(_)));
    if let (true, Some(net)) = (egress, v6) {
        out.push(Rule::Ip6tables {
            table: "nat",
            chain: "POSTROUTING",
            rule: format!("-s {net} ! -d {net} -j MASQUERADE"),
        });
        out.push(Rule::Ip6tables {
            table: "filter",
            chain: "FORWARD",
            rule: format!("-s {net} -j ACCEPT"),
        });
        out.push(Rule::Ip6tables {
            table: "filter",
            chain: "FORWARD",
            rule: format!("-d {net} -j ACCEPT"),
        });
    }
    out
}

/// `kdc-host-routes<suffix>`.
pub fn container_name(plan: &Plan) -> String {
    format!("kdc-host-routes{}", plan.cluster.suffix)
}

/// Adds the rules given in `$RULES` (lines of `test<TAB>add<TAB>delete`), records the delete
/// command of each one it added, and on SIGTERM deletes those newest first. A rule it cannot
/// add undoes the others and ends the container (exit 1, the reason in its log).
const SCRIPT: &str = r#"set -u
tab=$(printf '\t')
added=""
undo() {
  printf '%s' "$added" | tac | while IFS= read -r del; do
    [ -n "$del" ] || continue
    if out=$(sh -c "$del" 2>&1); then echo "kdc: removed: $del"; else echo "kdc: could not remove: $del: $out"; fi
  done
  added=""
}
sleeper=""
trap 'undo; echo "kdc: host routes removed"; [ -z "$sleeper" ] || kill "$sleeper"; exit 0' TERM INT
while IFS="$tab" read -r test add del; do
  [ -n "$add" ] || continue
  if sh -c "$test" >/dev/null 2>&1; then
    echo "kdc: already there, left alone: $add"
  elif out=$(sh -c "$add" 2>&1); then
    added="$added$del
"
    echo "kdc: added: $add"
  else
    echo "kdc: cannot add: $add: $out"
    undo
    exit 1
  fi
done <<EOF
$RULES
EOF
sleep infinity &
sleeper=$!
echo "kdc: host routes ready"
wait "$sleeper"
"#;

/// The container that holds `rules`.
pub fn spec(plan: &Plan, rules: &[Rule]) -> ContainerSpec {
    let lines: Vec<String> = rules.iter().map(|r| r.commands().join("\t")).collect();
    let env = vec![format!("RULES={}", lines.join("\n"))];
    let mut l: BTreeMap<String, String> = super::spec::cluster_labels(plan);
    l.insert(labels::ROLE.into(), ROLE.into());
    l.insert(
        RULES_LABEL.into(),
        rules
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n"),
    );
    l.insert(
        CONFIG_LABEL.into(),
        config_hash(&[SUPPORT_IMAGE, SCRIPT, &env.join("\n")]),
    );
    ContainerSpec {
        name: container_name(plan),
        image: SUPPORT_IMAGE.into(),
        labels: l,
        network: "host".into(),
        env,
        cmd: Some(vec!["sh".into(), "-c".into(), SCRIPT.into()]),
        cap_add: vec!["NET_ADMIN".into(), "NET_RAW".into()],
        stop_signal: Some("SIGTERM".into()),
        ..Default::default()
    }
}

/// Another cluster's host routes that hold a route of `rules` (a host has one route per
/// prefix, and clusters share the default DNS64 prefix): its label and the route.
pub async fn taken(
    provider: &dyn Provider,
    label: &str,
    rules: &[Rule],
) -> Result<Option<(String, String)>, ProviderError> {
    let wanted: Vec<String> = rules
        .iter()
        .filter_map(|r| match r {
            Rule::Route { dst, .. } => Some(format!("route {dst} ")),
            Rule::Ip6tables { .. } => None,
        })
        .collect();
    for c in provider
        .list_containers(&format!("{}={ROLE}", labels::ROLE))
        .await?
    {
        let owner = c.labels.get(labels::CLUSTER).cloned().unwrap_or_default();
        if owner == label {
            continue;
        }
        let held = c.labels.get(RULES_LABEL).map(String::as_str).unwrap_or("");
        if let Some(line) = held
            .lines()
            .find(|l| wanted.iter().any(|w| l.starts_with(w.as_str())))
        {
            return Ok(Some((owner, line.to_string())));
        }
    }
    Ok(None)
}

/// Whether `c` is a host routes container.
pub fn holds_routes(c: &ContainerState) -> bool {
    c.role() == Some(ROLE)
}

/// Stops the host routes containers `names`, giving each time to undo its rules, and removes
/// them.
pub async fn release(provider: &dyn Provider, names: &[String]) -> Result<(), ProviderError> {
    for name in names {
        provider.stop_container(name, STOP_GRACE).await?;
        provider.remove_container(name).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::plan::for_env as plan;

    fn shown(p: &Plan) -> Vec<String> {
        rules(p).iter().map(ToString::to_string).collect()
    }

    #[test]
    fn the_rules_of_each_mode() {
        assert!(rules(&plan(&[])).is_empty(), "ipv4: Docker does it all");
        assert_eq!(
            shown(&plan(&[("IP_MODE", "ipv6"), ("CLUSTER_ID", "3")])),
            ["route fd00:10:64:ff9b::/96 via fd00:20:3::200"]
        );
        assert_eq!(
            shown(&plan(&[
                ("IP_MODE", "ipv6"),
                ("CLUSTER_ID", "3"),
                ("DIND_ALLOW_AAAA_USE", "true")
            ])),
            [
                "route fd00:10:64:ff9b::/96 via fd00:20:3::200",
                "ip6tables -t nat POSTROUTING -s fd00:20:3::/64 ! -d fd00:20:3::/64 -j MASQUERADE",
                "ip6tables -t filter FORWARD -s fd00:20:3::/64 -j ACCEPT",
                "ip6tables -t filter FORWARD -d fd00:20:3::/64 -j ACCEPT",
            ]
        );
        assert_eq!(
            shown(&plan(&[("IP_MODE", "dual-stack")])),
            [
                "ip6tables -t nat POSTROUTING -s fd00:20::/64 ! -d fd00:20::/64 -j MASQUERADE",
                "ip6tables -t filter FORWARD -s fd00:20::/64 -j ACCEPT",
                "ip6tables -t filter FORWARD -d fd00:20::/64 -j ACCEPT",
            ]
        );
        let r = &rules(&plan(&[("IP_MODE", "dual-stack")]))[0];
        assert_eq!(
            r.commands(),
            [
                "ip6tables -w -t nat -C POSTROUTING -s fd00:20::/64 ! -d fd00:20::/64 -j MASQUERADE",
                "ip6tables -w -t nat -A POSTROUTING -s fd00:20::/64 ! -d fd00:20::/64 -j MASQUERADE",
                "ip6tables -w -t nat -D POSTROUTING -s fd00:20::/64 ! -d fd00:20::/64 -j MASQUERADE",
            ]
        );
    }

    /// Runs the container's script here with file "rules" in `dir`: `test -e`, `touch`, `rm`.
    fn script(dir: &std::path::Path, files: &[&str]) -> std::process::Child {
        let rules: Vec<String> = files
            .iter()
            .map(|f| {
                let p = dir.join(f);
                let p = p.display();
                format!("test -e {p}\ttouch {p} && test {f} != bad\trm {p}")
            })
            .collect();
        std::process::Command::new("sh")
            .args(["-c", SCRIPT])
            .env("RULES", rules.join("\n"))
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    }

    fn read_line(out: &mut impl std::io::BufRead) -> String {
        let mut l = String::new();
        out.read_line(&mut l).unwrap();
        l
    }

    /// The script adds what is missing, leaves what was there, and on SIGTERM removes exactly
    /// what it added; an add that fails undoes the others and exits 1.
    #[test]
    fn the_script_undoes_exactly_what_it_added() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("b"), "mine").unwrap();
        let mut child = script(dir.path(), &["a", "b", "c"]);
        let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
        let d = dir.path().display();
        assert_eq!(
            read_line(&mut out),
            format!("kdc: added: touch {d}/a && test a != bad\n")
        );
        assert_eq!(
            read_line(&mut out),
            format!("kdc: already there, left alone: touch {d}/b && test b != bad\n")
        );
        assert_eq!(
            read_line(&mut out),
            format!("kdc: added: touch {d}/c && test c != bad\n")
        );
        assert_eq!(read_line(&mut out), format!("{READY}\n"));
        // SAFETY: kill(2) on our own child, which has not been waited for.
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        let mut rest = String::new();
        std::io::Read::read_to_string(&mut out, &mut rest).unwrap();
        assert_eq!(
            rest,
            format!("kdc: removed: rm {d}/c\nkdc: removed: rm {d}/a\nkdc: host routes removed\n")
        );
        assert!(child.wait().unwrap().success());
        let left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(left, ["b"]);

        let dir = tempfile::tempdir().unwrap();
        let child = script(dir.path(), &["a", "bad", "c"]);
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(1));
        let d = dir.path().display();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            format!(
                "kdc: added: touch {d}/a && test a != bad\nkdc: cannot add: touch {d}/bad && test bad != bad: \nkdc: removed: rm {d}/a\n"
            )
        );
    }
}
