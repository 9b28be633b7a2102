#!/usr/bin/env bash
# Builds one component of kdc's Kubernetes node image from the Go module proxy, offline from
# any container registry: a throw-away module that requires the component's module at the exact
# version, then `go build` with the version stamped as upstream stamps it.
#
#   bash images/kube/build-go.sh COMPONENT VERSION OUTDIR
#
# COMPONENT: kubernetes (VERSION v1.36.3: kubeadm kubelet kubectl kube-apiserver
# kube-controller-manager kube-scheduler kube-proxy), e2e (e2e.test, ginkgo, agnhost, nonewprivs,
# sample-apiserver of that release), etcd, coredns, containerd (containerd,
# containerd-shim-runc-v2, ctr), runc, crictl, pause (kdc's own, images/kube/pause).
# Binaries land in OUTDIR. Go's module cache and build cache (GOMODCACHE, GOCACHE) are kept
# between builds, so a rebuild compiles only what changed. On failure the compiler's output is
# shown, prefixed with the component's name.
set -euo pipefail
# Go where ci/setup-host.sh finds or puts it, when it is not on PATH.
if ! command -v go >/dev/null; then
    for d in /usr/local/go/bin /usr/local/lib/kdc/go/bin; do
        if [ -x "$d/go" ]; then PATH="$d:$PATH"; break; fi
    done
fi

component="$1" version="$2" out="$3"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
work="${KDC_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kdc}/gomod/$component-$version"
mkdir -p "$work" "$out"
export GOFLAGS=-mod=mod GOTOOLCHAIN="${GOTOOLCHAIN:-local}" GOWORK=off
die() { printf 'build-go: ERROR: %s\n' "$*" >&2; exit 1; }
command -v go >/dev/null || die "no go command (Go 1.26 or newer; ci/setup-host.sh installs it)"

# module PATH VERSION [replace lines...]: writes the throw-away module's go.mod.
module() {
    local path="$1" ver="$2"
    shift 2
    {
        printf 'module kdc.local/build/%s\n\ngo 1.24\n\nrequire %s %s\n' "$component" "$path" "$ver"
        if [ "$#" -gt 0 ]; then
            printf '\nreplace (\n'
            printf '\t%s\n' "$@"
            printf ')\n'
        fi
    } >"$work/go.mod"
    # Records the main packages' dependencies in go.sum (offline afterwards: all is cached).
    printf 'package main\n' >/dev/null
}

# build LDFLAGS CGO TAGS PACKAGE...: one go build for all packages (shared compilation).
build() {
    local ldflags="$1" cgo="$2" tags="$3"
    shift 3
    local log
    log="$(mktemp)"
    if ! (cd "$work" && go mod download "$(sed -n 's/^require \([^ ]*\) .*/\1/p' go.mod)" \
        && CGO_ENABLED="$cgo" go build -trimpath -tags "$tags" -ldflags "$ldflags" -o "$out/" "$@") \
        >"$log" 2>&1; then
        sed "s/^/$component: /" "$log" | tail -n 40 >&2
        rm -f "$log"
        die "building $component $version failed (the lines above are the go command's)"
    fi
    rm -f "$log"
}

# kube_module VERSION: the throw-away module requiring k8s.io/kubernetes at VERSION; sets $ld to
# upstream's version stamps.
kube_module() {
    local version="$1" minor staging v
    minor="${version#v1.}"; minor="${minor%%.*}"
    staging="v0.${version#v1.}"
    # k8s.io/kubernetes replaces its staging modules with local paths, which a module that
    # requires it does not inherit: pin every one to the matching v0.Y.Z.
    mapfile -t pins < <(go mod download -json "k8s.io/kubernetes@$version" \
        | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p' | xargs sed -n '/^replace (/,/^)/p' \
        | awk -v s="$staging" '$2 == "=>" && $3 ~ /^\.\/staging/ {print $1 " => " $1 " " s}')
    [ "${#pins[@]}" -gt 20 ] || die "could not read the staging modules of k8s.io/kubernetes $version"
    module k8s.io/kubernetes "$version" "${pins[@]}"
    v=k8s.io/component-base/version
    ld="-s -w -X $v.gitVersion=$version -X $v.gitMajor=1 -X $v.gitMinor=$minor"
    ld+=" -X $v.gitTreeState=clean -X $v.gitCommit=0000000000000000000000000000000000000000"
    ld+=" -X $v.buildDate=1970-01-01T00:00:00Z"
    ld+=" -X k8s.io/client-go/pkg/version.gitVersion=$version -X k8s.io/client-go/pkg/version.gitMajor=1"
    ld+=" -X k8s.io/client-go/pkg/version.gitMinor=$minor"
}

case "$component" in
kubernetes)
    kube_module "$version"
    pkgs=()
    for c in kubeadm kubelet kubectl kube-apiserver kube-controller-manager kube-scheduler kube-proxy; do
        pkgs+=("k8s.io/kubernetes/cmd/$c")
    done
    build "$ld" 0 "" "${pkgs[@]}"
    ;;
e2e)
    # The conformance tests of the same release (VERSION v1.36.3): e2e.test (`go test -c`),
    # ginkgo at the version that release requires, and the Go programs of its test images
    # (agnhost, nonewprivs, sample-apiserver).
    kube_module "$version"
    build "$ld" 0 "" k8s.io/kubernetes/test/images/agnhost k8s.io/kubernetes/test/images/nonewprivs \
        k8s.io/sample-apiserver github.com/onsi/ginkgo/v2/ginkgo
    log="$(mktemp)"
    if ! (cd "$work" && CGO_ENABLED=0 go test -c -trimpath -ldflags "$ld" -o "$out/e2e.test" \
        k8s.io/kubernetes/test/e2e) >"$log" 2>&1; then
        sed "s/^/e2e.test: /" "$log" | tail -n 40 >&2
        rm -f "$log"
        die "building e2e.test $version failed (the lines above are the go command's)"
    fi
    rm -f "$log"
    ;;
etcd)
    module go.etcd.io/etcd/server/v3 "$version"
    build "-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA=kdc" 0 "" go.etcd.io/etcd/server/v3
    mv "$out/v3" "$out/etcd" 2>/dev/null || true
    [ -x "$out/etcd" ] || mv "$out/server" "$out/etcd"
    ;;
coredns)
    module github.com/coredns/coredns "$version"
    build "-s -w -X github.com/coredns/coredns/coremain.GitCommit=kdc" 0 "" github.com/coredns/coredns
    ;;
containerd)
    module github.com/containerd/containerd/v2 "$version"
    c=github.com/containerd/containerd/v2
    build "-s -w -X $c/version.Version=$version -X $c/version.Revision=kdc -X $c/version.Package=github.com/containerd/containerd/v2" \
        0 "no_btrfs no_devmapper no_zfs" "$c/cmd/containerd" "$c/cmd/containerd-shim-runc-v2" "$c/cmd/ctr"
    ;;
runc)
    # runc's nsenter is C (cgo); seccomp needs libseccomp-dev at build time.
    module github.com/opencontainers/runc "$version"
    build "-s -w -X main.version=${version#v} -X main.gitCommit=kdc" 1 "seccomp urfave_cli_no_docs" \
        github.com/opencontainers/runc
    ;;
crictl)
    module sigs.k8s.io/cri-tools "$version"
    build "-s -w -X sigs.k8s.io/cri-tools/pkg/version.Version=$version" 0 "" sigs.k8s.io/cri-tools/cmd/crictl
    ;;
pause)
    mkdir -p "$work"
    cp "$here/pause/main.go" "$work/main.go"
    printf 'module kdc.local/build/pause\n\ngo 1.24\n' >"$work/go.mod"
    (cd "$work" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=$version" -o "$out/pause" .) \
        || die "building pause failed"
    ;;
*) die "unknown component $component" ;;
esac
