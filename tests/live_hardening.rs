//! Live tests of the lifecycle's hard cases, each found by trying kdc as a new user would:
//! the engine DOCKER_HOST names, interrupts at any moment, two `up`s at once, clusters whose
//! subnets collide, `--retain` after a failed start, a changed node count.
//!
//! They fail, not skip, when no daemon answers (`KDC_SKIP_LIVE=1` opts out). Cluster IDs 21-29
//! and the labels alpha/beta (ID 12) are theirs alone.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

/// A TCP (or TLS) door to the local engine's socket, as a remote engine would be reached.
struct Door(Child, u16);

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_listening(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "{what} never listened");
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl Door {
    /// Plain TCP: `socat` on a free loopback port.
    fn tcp() -> Door {
        let port = free_port();
        let child = Command::new("socat")
            .args([
                &format!("TCP-LISTEN:{port},bind=127.0.0.1,fork,reuseaddr"),
                "UNIX-CONNECT:/var/run/docker.sock",
            ])
            .stderr(Stdio::null())
            .spawn()
            .expect("socat (ci/setup-host.sh installs it)");
        wait_listening(port, "socat");
        Door(child, port)
    }

    /// TLS as dockerd's `--tlsverify` does it: the engine's certificate `cert`/`key`, and a
    /// client certificate signed by `ca` required. stunnel, because socat cannot resume a TLS
    /// session when it asks for client certificates.
    fn tls(dir: &Path, cert: &Path, key: &Path, ca: &Path) -> Door {
        let port = free_port();
        let conf = dir.join("stunnel.conf");
        std::fs::write(
            &conf,
            format!(
                "foreground = yes\npid =\n[docker]\naccept = 127.0.0.1:{port}\nconnect = /var/run/docker.sock\ncert = {}\nkey = {}\nCAfile = {}\nverifyChain = yes\nrequireCert = yes\n",
                cert.display(),
                key.display(),
                ca.display()
            ),
        )
        .unwrap();
        let child = Command::new("stunnel")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("stunnel (ci/setup-host.sh installs stunnel4)");
        wait_listening(port, "stunnel");
        Door(child, port)
    }
}

impl Drop for Door {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn sh(script: &str, dir: &Path) {
    let o = Command::new("sh")
        .args(["-ec", script])
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(o.status.success(), "{script}: {}", text(&o.stderr));
}

/// A wrong DOCKER_HOST is an error naming it, never a cluster on the local socket.
#[test]
fn live_the_engine_docker_host_names_or_an_error() {
    if !docker_ready() {
        return;
    }
    let vars = [("CLUSTER_ID", "21"), ("NUM_NODES", "0")];
    for (host, says) in [
        (
            "tcp://127.0.0.1:1",
            "error: docker connect tcp://127.0.0.1:1 (from DOCKER_HOST): ",
        ),
        (
            "tcp//127.0.0.1:1",
            "error: DOCKER_HOST=tcp//127.0.0.1:1: not an engine address",
        ),
        (
            "npipe:////./pipe/x",
            "error: DOCKER_HOST=npipe:////./pipe/x: unsupported scheme",
        ),
        (
            "ssh://nobody@host.invalid",
            "Could not resolve hostname host.invalid",
        ),
    ] {
        let mut v = vars.to_vec();
        v.push(("DOCKER_HOST", host));
        let err = fails(kdc(&v, &["up"]));
        assert!(err.contains(says), "{host}: {err}");
        assert_eq!(labelled("cluster-21"), Vec::<String>::new(), "{host}");
    }
}

/// Through a TCP door to the engine, `up` (with its commands in the nodes), `status` and `clean`
/// all work, and `-v` says which engine was used.
#[test]
fn live_a_tcp_engine_runs_a_whole_cluster() {
    if !docker_ready() {
        return;
    }
    let door = Door::tcp();
    let host = format!("tcp://127.0.0.1:{}", door.1);
    let vars = [
        ("CLUSTER_ID", "22"),
        ("NUM_NODES", "0"),
        ("DOCKER_HOST", host.as_str()),
    ];
    ok(kdc(&vars, &["clean"]));
    let out = kdc(&vars, &["up", "-v"]);
    let err = text(&out.stderr);
    ok(out);
    assert!(
        err.contains(&format!("kdc: engine: {host} (from DOCKER_HOST)")),
        "{err}"
    );
    let st: Value = serde_json::from_str(&ok(kdc(&vars, &["status", "--json"]))).unwrap();
    let mine = st
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["label"] == "cluster-22")
        .expect("cluster-22 in status");
    assert_eq!(mine["state"], "running");
    ok(kdc(&vars, &["clean"]));
    assert_eq!(labelled("cluster-22"), Vec::<String>::new());
}

/// DOCKER_TLS_VERIFY with DOCKER_CERT_PATH reaches a TLS engine that requires client
/// certificates; a certificate from another CA is refused.
#[test]
fn live_a_tls_engine_with_client_certificates() {
    if !docker_ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    sh(
        r#"
        gen_ca() { openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=$1" -keyout "$1.key" -out "$1.pem" 2>/dev/null; }
        sign() { # name ca san
            openssl req -newkey rsa:2048 -nodes -subj "/CN=$1" -keyout "$1.key" -out "$1.csr" 2>/dev/null
            printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth,clientAuth\n' "$3" > "$1.ext"
            openssl x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2.key" -CAcreateserial -days 2 -extfile "$1.ext" -out "$1.pem" 2>/dev/null
        }
        gen_ca ca; gen_ca other
        sign server ca "DNS:localhost,IP:127.0.0.1"
        sign client ca "DNS:client"
        sign stranger other "DNS:client"
        mkdir good bad
        cp ca.pem good/ca.pem; cp client.pem good/cert.pem; cp client.key good/key.pem
        cp ca.pem bad/ca.pem; cp stranger.pem bad/cert.pem; cp stranger.key bad/key.pem
        "#,
        dir.path(),
    );
    let p = |f: &str| dir.path().join(f);
    let door = Door::tls(dir.path(), &p("server.pem"), &p("server.key"), &p("ca.pem"));
    let host = format!("tcp://127.0.0.1:{}", door.1);
    let good = p("good");
    let vars = [
        ("DOCKER_HOST", host.as_str()),
        ("DOCKER_TLS_VERIFY", "1"),
        ("DOCKER_CERT_PATH", good.to_str().unwrap()),
    ];
    let out = kdc(&vars, &["status", "--json"]);
    assert!(serde_json::from_str::<Value>(&ok(out)).unwrap().is_array());
    let bad = p("bad");
    let vars = [
        ("DOCKER_HOST", host.as_str()),
        ("DOCKER_TLS_VERIFY", "1"),
        ("DOCKER_CERT_PATH", bad.to_str().unwrap()),
    ];
    let err = fails(kdc(&vars, &["status"]));
    assert!(
        err.contains(&format!("error: docker connect {host} (from DOCKER_HOST)")),
        "{err}"
    );
    // Without TLS, the TLS door does not answer HTTP.
    let err = fails(kdc(&[("DOCKER_HOST", host.as_str())], &["status"]));
    assert!(err.contains("docker connect"), "{err}");
}

/// The docker CLI's current context, and DOCKER_CONTEXT, choose the engine as for `docker`.
#[test]
fn live_the_docker_cli_context_chooses_the_engine() {
    if !docker_ready() {
        return;
    }
    let door = Door::tcp();
    let config = tempfile::tempdir().unwrap();
    let host = format!("tcp://127.0.0.1:{}", door.1);
    // What `docker context create viadoor --docker host=…` and `docker context use viadoor`
    // write.
    let o = Command::new("docker")
        .env("DOCKER_CONFIG", config.path())
        .args([
            "context",
            "create",
            "viadoor",
            "--docker",
            &format!("host={host}"),
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    let o = Command::new("docker")
        .env("DOCKER_CONFIG", config.path())
        .args(["context", "use", "viadoor"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    let cfg = config.path().to_str().unwrap();
    let out = kdc(&[("DOCKER_CONFIG", cfg)], &["status", "-v"]);
    let err = text(&out.stderr);
    ok(out);
    assert!(
        err.contains(&format!(
            "engine: {host} (from docker context viadoor (current in the docker CLI's config))"
        )),
        "{err}"
    );
    let out = kdc(
        &[("DOCKER_CONFIG", cfg), ("DOCKER_CONTEXT", "default")],
        &["status", "-v"],
    );
    assert!(
        text(&out.stderr)
            .contains("engine: unix:///var/run/docker.sock (from DOCKER_CONTEXT=default)"),
        "{}",
        text(&out.stderr)
    );
    let err = fails(kdc(
        &[("DOCKER_CONFIG", cfg), ("DOCKER_CONTEXT", "nosuch")],
        &["status"],
    ));
    assert!(
        err.contains("error: DOCKER_CONTEXT=nosuch: no docker context named nosuch"),
        "{err}"
    );
}

/// An engine reached over ssh (bollard runs `ssh … docker system dial-stdio`), through a real
/// sshd on a loopback port with a key of its own. ssh reads its configuration from the user's
/// real home, so the test puts an `ssh` first on PATH that adds `-F` with its own.
#[test]
fn live_an_ssh_engine() {
    if !docker_ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let d = dir.path().display();
    sh(
        &format!(
            r#"
            mkdir -p bin keys /run/sshd
            ssh-keygen -q -t ed25519 -N '' -f keys/host
            ssh-keygen -q -t ed25519 -N '' -f keys/client
            cp keys/client.pub keys/authorized
            cat > sshd_config <<END
Port {port}
ListenAddress 127.0.0.1
HostKey {d}/keys/host
AuthorizedKeysFile {d}/keys/authorized
PermitRootLogin prohibit-password
PasswordAuthentication no
UsePAM no
StrictModes no
PidFile {d}/sshd.pid
END
            cat > ssh_config <<END
Host kdc-engine
  HostName 127.0.0.1
  Port {port}
  User root
  IdentityFile {d}/keys/client
  IdentitiesOnly yes
  StrictHostKeyChecking no
  UserKnownHostsFile /dev/null
  LogLevel ERROR
END
            printf '#!/bin/sh\nexec /usr/bin/ssh -F {d}/ssh_config "$@"\n' > bin/ssh
            chmod +x bin/ssh
            "#
        ),
        dir.path(),
    );
    let mut sshd = Command::new("/usr/sbin/sshd")
        .args(["-D", "-e", "-f"])
        .arg(dir.path().join("sshd_config"))
        .stderr(Stdio::null())
        .spawn()
        .expect("sshd (ci/setup-host.sh installs openssh-server)");
    wait_listening(port, "sshd");
    let path = format!(
        "{}:{}",
        dir.path().join("bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = kdc(
        &[("DOCKER_HOST", "ssh://kdc-engine"), ("PATH", path.as_str())],
        &["status", "--json", "-v"],
    );
    let _ = sshd.kill();
    let _ = sshd.wait();
    let err = text(&out.stderr);
    let json: Value = serde_json::from_str(&ok(out)).unwrap();
    assert!(json.is_array());
    assert!(
        err.contains("engine: ssh://kdc-engine (from DOCKER_HOST)"),
        "{err}"
    );
}

/// `up` interrupted by SIGINT, SIGTERM or SIGHUP at any moment — before, during and after each
/// request — leaves nothing, and `clean` right after succeeds.
#[test]
fn live_an_interrupted_up_leaves_nothing_at_any_moment() {
    if !docker_ready() {
        return;
    }
    let vars = [("CLUSTER_ID", "23"), ("NUM_NODES", "2")];
    ok(kdc(&vars, &["clean"]));
    let delays = [10, 30, 50, 80, 120, 180, 250, 400, 700, 1000];
    for (i, ms) in delays.iter().enumerate() {
        let signal = ["INT", "TERM", "HUP"][i % 3];
        let mut child = kdc_command(&vars, &["up"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(*ms));
        Command::new("kill")
            .args([&format!("-{signal}"), &child.id().to_string()])
            .status()
            .unwrap();
        let status = child.wait().unwrap();
        let mut err = String::new();
        std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
        // Exit 130 (stopped and cleaned up), or 0 when `up` had finished before the signal.
        match status.code() {
            Some(130) => assert_eq!(
                labelled("cluster-23"),
                Vec::<String>::new(),
                "SIG{signal} after {ms} ms left something:\n{err}"
            ),
            Some(0) => {}
            other => panic!("SIG{signal} after {ms} ms: exit {other:?}\n{err}"),
        }
        ok(kdc(&vars, &["clean"]));
        assert_eq!(labelled("cluster-23"), Vec::<String>::new());
    }
}

/// Two `up`s of one cluster at once: the second is told that another kdc is working on it.
#[test]
fn live_two_ups_of_one_cluster_at_once() {
    if !docker_ready() {
        return;
    }
    let vars = [("CLUSTER_ID", "24"), ("NUM_NODES", "1")];
    ok(kdc(&vars, &["clean"]));
    // A holder on another host: deterministic, and never taken over.
    docker(&[
        "create",
        "--name",
        "kdc-lock-cluster-24",
        "--label",
        "io.kdc.cluster=cluster-24",
        "--label",
        "io.kdc.role=lock",
        "--label",
        "io.kdc.lock.owner=4242@ci-runner-7",
        "--label",
        "io.kdc.lock.since=2026-11-30T12:00:00Z",
        "--label",
        "io.kdc.lock.command=up",
        "--network",
        "none",
        "kdc/node:bookworm",
    ]);
    let err = fails(kdc(&vars, &["up"]));
    assert!(
        err.contains("another kdc up (pid 4242 on ci-runner-7, since 2026-11-30T12:00:00Z) is working on cluster cluster-24; wait for it to finish. If it is gone, `docker rm kdc-lock-cluster-24` releases the lock"),
        "{err}"
    );
    let err = fails(kdc(&vars, &["clean"]));
    assert!(err.contains("is working on cluster cluster-24"), "{err}");
    docker(&["rm", "kdc-lock-cluster-24"]);
    // Two real ones started together: one brings the cluster up, the other waits for nothing
    // and says why (or, if it came second, restarts the finished cluster).
    let runs: Vec<_> = (0..2)
        .map(|_| {
            std::thread::spawn(move || kdc(&[("CLUSTER_ID", "24"), ("NUM_NODES", "1")], &["up"]))
        })
        .collect();
    let outs: Vec<_> = runs.into_iter().map(|r| r.join().unwrap()).collect();
    let good = outs.iter().filter(|o| o.status.success()).count();
    assert!(good >= 1, "neither up succeeded");
    for o in outs.iter().filter(|o| !o.status.success()) {
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(1));
        assert!(err.contains("is working on cluster cluster-24"), "{err}");
    }
    ok(kdc(&vars, &["clean"]));
    assert_eq!(labelled("cluster-24"), Vec::<String>::new());
}

/// `DIND_LABEL=alpha` and `DIND_LABEL=beta` both get cluster ID 12 from their names: the
/// second `up` names the first cluster and the fix, and creates nothing.
#[test]
fn live_clusters_whose_subnets_collide() {
    if !docker_ready() {
        return;
    }
    let alpha = [("DIND_LABEL", "alpha"), ("NUM_NODES", "0")];
    let beta = [("DIND_LABEL", "beta"), ("NUM_NODES", "0")];
    ok(kdc(&alpha, &["clean"]));
    ok(kdc(&beta, &["clean"]));
    ok(kdc(&alpha, &["up"]));
    let err = fails(kdc(&beta, &["up"]));
    assert!(
        err.contains("the plan's subnet 10.192.12.0/24 overlaps 10.192.12.0/24 of the existing network kubeadm-dind-net-alpha, which belongs to kdc cluster alpha (ID 12); this cluster beta has ID 12"),
        "{err}"
    );
    assert_eq!(labelled("beta"), Vec::<String>::new());
    ok(kdc(&alpha, &["clean"]));
}

/// A node that fails to start (its API port is taken): without --retain nothing stays; with
/// it, everything stays, the failed container too, and the note gives the exact clean command.
#[test]
fn live_retain_keeps_the_node_that_failed_to_start() {
    if !docker_ready() {
        return;
    }
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let vars = [
        ("CLUSTER_ID", "25"),
        ("NUM_NODES", "1"),
        ("APISERVER_PORT", port.as_str()),
    ];
    ok(kdc(&vars, &["clean"]));
    let err = fails(kdc(&vars, &["up"]));
    assert!(err.contains("docker start kube-master-cluster-25"), "{err}");
    assert!(
        err.contains("hint: the API server's host port is taken"),
        "{err}"
    );
    assert_eq!(labelled("cluster-25"), Vec::<String>::new());
    let err = fails(kdc(&vars, &["up", "--retain"]));
    let state = docker(&[
        "inspect",
        "-f",
        "{{.State.Status}}",
        "kube-master-cluster-25",
    ]);
    assert_eq!(
        state.trim(),
        "created",
        "the master that failed to start is kept"
    );
    assert!(
        err.contains("keeping what was created (--retain): network kubeadm-dind-net-cluster-25, volume kubeadm-dind-kube-master-cluster-25"),
        "{err}"
    );
    assert!(
        err.contains("remove it all with `CLUSTER_ID=25 kdc clean`"),
        "{err}"
    );
    drop(taken);
    ok(kdc(&[("CLUSTER_ID", "25")], &["clean"]));
    assert_eq!(labelled("cluster-25"), Vec::<String>::new());
}

/// `NUM_NODES=1 up; down; up` (2 nodes) keeps the master's data and port and adds a fresh
/// node; shrinking again keeps the removed node's volume, which status reports and clean
/// removes.
#[test]
fn live_a_changed_node_count_loses_nothing() {
    if !docker_ready() {
        return;
    }
    let one = [("CLUSTER_ID", "26"), ("NUM_NODES", "1")];
    let two = [("CLUSTER_ID", "26"), ("NUM_NODES", "2")];
    ok(kdc(&one, &["clean"]));
    ok(kdc(&one, &["up"]));
    let port = ok(kdc(&one, &["apiserver-port"]));
    docker(&[
        "exec",
        "kube-master-cluster-26",
        "sh",
        "-c",
        "echo kept > /var/kdc-marker",
    ]);
    ok(kdc(&one, &["down"]));
    let st: Value = serde_json::from_str(&ok(kdc(&one, &["status", "--json"]))).unwrap();
    let mine = |st: &Value| {
        st.as_array()
            .unwrap()
            .iter()
            .find(|c| c["label"] == "cluster-26")
            .cloned()
            .unwrap()
    };
    assert_eq!(mine(&st)["state"], "down");
    let out = kdc(&two, &["up"]);
    let err = text(&out.stderr);
    let summary = ok(out);
    assert!(
        summary.contains("Nodes: 3 (2 restarted from volumes; fresh: kube-node-2-cluster-26)"),
        "{summary}"
    );
    assert!(err.contains("kube-node-2-cluster-26 start fresh"), "{err}");
    assert_eq!(
        docker(&["exec", "kube-master-cluster-26", "cat", "/var/kdc-marker"]).trim(),
        "kept"
    );
    assert_eq!(ok(kdc(&two, &["apiserver-port"])), port);
    ok(kdc(&two, &["down"]));
    let err = text(&kdc(&one, &["up"]).stderr);
    assert!(
        err.contains("kept the volume of nodes this cluster no longer has (NUM_NODES is 1): kubeadm-dind-kube-node-2-cluster-26; `CLUSTER_ID=26 kdc clean` removes them"),
        "{err}"
    );
    let st: Value = serde_json::from_str(&ok(kdc(&one, &["status", "--json"]))).unwrap();
    let c = mine(&st);
    assert_eq!(c["state"], "partial");
    assert_eq!(
        c["leftovers"][0],
        "volume kubeadm-dind-kube-node-2-cluster-26 of kube-node-2-cluster-26, which has no container (a node removed by a smaller NUM_NODES)"
    );
    let table = ok(kdc(&one, &["status"]));
    assert!(
        table.contains("  left over: volume kubeadm-dind-kube-node-2-cluster-26"),
        "{table}"
    );
    ok(kdc(&one, &["clean"]));
    assert_eq!(labelled("cluster-26"), Vec::<String>::new());
}

/// A long step shows progress: in CI logs a line per step, and the nodes counted as they come.
#[test]
fn live_plain_progress_lines_in_ci() {
    if !docker_ready() {
        return;
    }
    let vars = [("CLUSTER_ID", "27"), ("NUM_NODES", "2")];
    ok(kdc(&vars, &["clean"]));
    let mut child = kdc_command(&vars, &["up"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lines: Vec<String> = BufReader::new(child.stderr.take().unwrap())
        .lines()
        .map(Result::unwrap)
        .collect();
    assert!(child.wait().unwrap().success(), "{lines:?}");
    for want in [
        "kdc: Ensuring node image kdc/node:bookworm ...",
        "kdc: Creating network kubeadm-dind-net-cluster-27 ...",
        "kdc: Starting 3 node containers ...",
        "kdc: Waiting for systemd in 3 nodes ...",
    ] {
        assert!(lines.iter().any(|l| l == want), "{want} in {lines:?}");
    }
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("kdc: Waiting for systemd in 3 nodes ... ok (")),
        "{lines:?}"
    );
    ok(kdc(&vars, &["clean"]));
}
