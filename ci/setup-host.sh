#!/usr/bin/env bash
# Prepare a fresh Debian 12 host for kdc: Docker engine, host tools, sysctls, local images.
# Needs root and Debian's package mirror only (no container registry). Idempotent: a second
# run installs nothing, starts nothing, rebuilds nothing and takes a few seconds.
set -euo pipefail

log() { printf 'setup-host: %s\n' "$*" >&2; }
warn() { printf 'setup-host: WARNING: %s\n' "$*" >&2; }
die() { printf 'setup-host: ERROR: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root"

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dockerd_log=/var/log/kdc-dockerd.log
export DEBIAN_FRONTEND=noninteractive

# 1. Packages. docker.io: engine + CLI; mmdebstrap: offline image builds; libxml2-utils:
#    xmllint for JUnit schema checks; python3, python3-venv: the venv in which ci/check-junit.sh
#    runs junitparser, a real JUnit consumer; hyperfine: benchmarks; time: GNU /usr/bin/time (RSS);
#    socat, stunnel4, openssl, openssh: the live tests reach the engine over tcp://, TLS and
#    ssh:// (stunnel, not socat, for TLS: socat cannot resume a session with client certs).
#    gcc, libc6-dev, libseccomp-dev: runc's cgo parts and seccomp, for the Kubernetes node image;
#    chromium: the live matrix test renders `kdc report`'s page in headless Chromium.
packages=(docker.io iptables iproute2 mmdebstrap xz-utils libxml2-utils python3 python3-venv hyperfine procps time socat stunnel4 openssl openssh-server openssh-client gcc libc6-dev libseccomp-dev ca-certificates curl chromium)
missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$p")
    fi
done
if [ "${#missing[@]}" -gt 0 ]; then
    log "installing: ${missing[*]}"
    aptlog="$(mktemp)"
    # apt-get update only when something is missing: keeps the second run offline and fast.
    if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"; } \
        >"$aptlog" 2>&1; then
        tail -n 30 "$aptlog" >&2
        die "package installation failed"
    fi
    rm -f "$aptlog"
else
    log "packages present"
fi

# 2. Docker daemon. `docker info` answering is the only test that matters.
docker_ok() { timeout 20 docker info >/dev/null 2>&1; }
if docker_ok; then
    log "docker daemon answering"
else
    if [ -d /run/systemd/system ] && systemctl start docker >/dev/null 2>&1; then
        # A systemd host: the packaged unit is the right way to run it.
        log "started docker.service"
    elif pgrep -x dockerd >/dev/null; then
        # Already starting (e.g. a concurrent run): just wait for it below.
        log "dockerd already running, waiting for it"
    else
        log "starting dockerd in the background (log: $dockerd_log)"
        # setsid: own session, so the daemon outlives this script and its caller's job control.
        setsid nohup dockerd >>"$dockerd_log" 2>&1 </dev/null &
    fi
    for _ in $(seq 1 60); do
        docker_ok && break
        sleep 1
    done
    if ! docker_ok; then
        warn "dockerd did not answer within 60 s; last lines of $dockerd_log:"
        tail -n 40 "$dockerd_log" >&2 || true
        die "no Docker daemon"
    fi
    log "docker daemon up"
fi

# 3. inotify limits: every node runs systemd, kubelet and friends, which all watch files;
#    the defaults (8192 watches / 128 instances) run out with a few nodes.
raise_sysctl() {
    local key="$1" want="$2" cur
    cur="$(sysctl -n "$key" 2>/dev/null || echo 0)"
    if [ "$cur" -ge "$want" ] 2>/dev/null; then
        log "sysctl $key = $cur"
    elif sysctl -q -w "$key=$want" >/dev/null 2>&1; then
        log "sysctl $key: $cur -> $want"
    else
        warn "could not raise $key from $cur to $want (continuing)"
    fi
}
raise_sysctl fs.inotify.max_user_watches 524288
raise_sysctl fs.inotify.max_user_instances 512

# 4. Go, the build tool of the Kubernetes node image (kdc itself is Rust). A Go of at least
#    $go_min on PATH or in /usr/local/go is used; otherwise the Go toolchain module
#    (golang.org/toolchain, what GOTOOLCHAIN downloads) is fetched from the Go module proxy
#    into /usr/local/lib/kdc/go.
go_min=1.26
go_want=1.26.8
go_ok() { # go binary -> true when its version is at least go_min
    local v
    v="$("$1" env GOVERSION 2>/dev/null)" || return 1
    v="${v#go}"
    [ "$(printf '%s\n%s\n' "$go_min" "$v" | sort -V | head -n1)" = "$go_min" ]
}
go_bin=""
for g in "$(command -v go || true)" /usr/local/go/bin/go /usr/local/lib/kdc/go/bin/go; do
    if [ -n "$g" ] && [ -x "$g" ] && go_ok "$g"; then go_bin="$g"; break; fi
done
if [ -z "$go_bin" ]; then
    proxy="$(printf '%s' "${GOPROXY:-https://proxy.golang.org}" | cut -d, -f1)"
    zip="$proxy/golang.org/toolchain/@v/v0.0.1-go$go_want.linux-$(dpkg --print-architecture).zip"
    log "installing Go $go_want from the Go module proxy ($zip)"
    tmp="$(mktemp -d)"
    curl -fsSL --retry 3 -o "$tmp/go.zip" "$zip" || die "could not download $zip"
    python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' "$tmp/go.zip" "$tmp/x"
    rm -rf /usr/local/lib/kdc/go
    mkdir -p /usr/local/lib/kdc
    mv "$tmp"/x/golang.org/toolchain@*/ /usr/local/lib/kdc/go
    chmod -R a+rX /usr/local/lib/kdc/go
    chmod a+x /usr/local/lib/kdc/go/bin/* /usr/local/lib/kdc/go/pkg/tool/*/* 2>/dev/null || true
    rm -rf "$tmp"
    go_bin=/usr/local/lib/kdc/go/bin/go
    go_ok "$go_bin" || die "the Go installed in /usr/local/lib/kdc/go does not run"
fi
export PATH="$(dirname "$go_bin"):$PATH"
log "go: $("$go_bin" version)"

# 5. Local images, built offline from Debian packages and the Go module proxy; skipped when
#    their inputs are unchanged. The Kubernetes node image of the default release is the
#    long one (about 25 minutes on 2 cores with empty Go caches; seconds when up to date).
log "images"
bash "$repo_root/images/build.sh" all
bash "$repo_root/images/kube/build.sh"
log "done"
