#!/usr/bin/env bash
# Builds kdc's Kubernetes node image for one release, offline: every binary from the Go module
# proxy (images/kube/build-go.sh), every image kubeadm runs under exactly the name kubeadm asks
# for, the rest from Debian packages (images/build.sh). No container registry is used.
#
#   bash images/kube/build.sh [VERSION]     VERSION: 1.36, v1.36 or v1.36.3 (default: 1.36)
#
# Produces:
#   registry.k8s.io/{kube-apiserver,kube-controller-manager,kube-scheduler,kube-proxy}:<release>,
#   registry.k8s.io/etcd:<etcd>, registry.k8s.io/coredns/coredns:<coredns>,
#   registry.k8s.io/pause:<pause>   — in the engine, and saved into the node image;
#   kdc/node:<release>                — kdc/node:bookworm plus kubeadm, kubelet, kubectl,
#   containerd, runc, crictl, their configuration and units, and /kind/images/*.tar, which `kdc up`
#   imports into each node's containerd (kubeadm never pulls: imagePullPolicy Never).
# Labels on kdc/node:<release>: io.kdc.image=node, io.kdc.kubernetes=<release> and
# io.kdc.image.inputs=<sha256 over this recipe, the release's line in images/kube/releases, the Go
# version and the base images' inputs>. An image with the same hash is up to date and nothing is
# built ("up to date", well under a second). Binaries are cached by component and version in
# $KDC_CACHE (default ~/.cache/kdc/bin); Go's module and build caches are kept too.
# KDC_IMAGE_FORCE=1 rebuilds the images (not the cached binaries: remove $KDC_CACHE/bin for that).
set -euo pipefail
# Go where ci/setup-host.sh finds or puts it, when it is not on PATH.
if ! command -v go >/dev/null; then
    for d in /usr/local/go/bin /usr/local/lib/kdc/go/bin; do
        if [ -x "$d/go" ]; then PATH="$d:$PATH"; break; fi
    done
fi

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
images="$(cd "$here/.." && pwd)"
cache="${KDC_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kdc}"
force="${KDC_IMAGE_FORCE:-0}"
export DOCKER_BUILDKIT=0
log() { printf 'images: %s\n' "$*" >&2; }
die() { printf 'images: ERROR: %s\n' "$*" >&2; exit 1; }

want="${1:-1.36}"
want="${want#v}"
line="$(grep -v '^#' "$here/releases" | awk -v w="$want" '$1 == w || $2 == "v" w' | head -n1)"
[ -n "$line" ] || die "Kubernetes $want is not supported; kdc builds: $(grep -v '^#' "$here/releases" | awk '{printf "%s ", $2}')"
read -r minor release etcd coredns pause containerd runc crictl <<<"$line"
image="kdc/node:$release"

docker info >/dev/null 2>&1 || die "no Docker daemon answering (run ci/setup-host.sh)"
exec 9>"${TMPDIR:-/tmp}/kdc-images-kube.lock"
flock 9

# The bases first: their input hashes are inputs of this image.
bash "$images/build.sh" node
bash "$images/build.sh" proxy-base
label_of() {
    docker image inspect -f "{{ index .Config.Labels \"$2\" }}" "$1" 2>/dev/null | sed 's/^<no value>$//' || true
}
go_version="$(go version 2>/dev/null || echo none)"
hash="$( { printf 'release=%s\ngo=%s\nnode=%s\nproxy=%s\n' "$line" "$go_version" \
        "$(label_of kdc/node:bookworm io.kdc.image.inputs)" "$(label_of kdc/proxy-base:bookworm io.kdc.image.inputs)"
    (cd "$here" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum); } | sha256sum | awk '{print $1}')"
if [ "$force" != "1" ] && [ "$(label_of "$image" io.kdc.image.inputs)" = "$hash" ]; then
    log "$image up to date (inputs ${hash:0:12})"
    exit 0
fi

t0=$(date +%s)
# 1. Binaries, each cached by component, version and the build script's own hash (of the
# contents and relative names only: kdc runs the recipe from a new temporary directory each time).
recipe="$(cd "$here" && sha256sum build-go.sh pause/main.go | sha256sum | cut -c1-12)"
bin_of() { # component version -> directory holding its binaries (built if missing)
    local dir="$cache/bin/$1-$2-$recipe"
    if [ ! -e "$dir/.complete" ]; then
        local t=$(date +%s)
        log "building $1 $2 from the Go module proxy"
        rm -rf "$dir"
        # A command substitution does not stop at a failure (bash clears -e there): without the
        # `||`, a failed build would be marked complete and cached, empty.
        bash "$here/build-go.sh" "$1" "$2" "$dir.tmp" || die "building $1 $2 failed (its error is above)"
        touch "$dir.tmp/.complete"
        mv "$dir.tmp" "$dir"
        log "built $1 $2 in $(( $(date +%s) - t )) s"
    fi
    printf '%s\n' "$dir"
}
k8s="$(bin_of kubernetes "$release")"
etcd_bin="$(bin_of etcd "v${etcd%-*}")"
coredns_bin="$(bin_of coredns "$coredns")"
containerd_bin="$(bin_of containerd "$containerd")"
runc_bin="$(bin_of runc "$runc")"
crictl_bin="$(bin_of crictl "$crictl")"
pause_bin="$(bin_of pause "$pause")"

stage="$(mktemp -d "${TMPDIR:-/tmp}/kdc-kube-image.XXXXXX")"
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/node/bin" "$stage/node/images"

# 2. The images kubeadm runs. A static Go binary and the little a process expects around it.
rootfs_image() { # name tag binary-path entrypoint [link at the root]
    local dir="$stage/rootfs-${1//\//-}" bin entry="$4"
    bin="$(basename "$3")"
    mkdir -p "$dir/usr/local/bin" "$dir/etc" "$dir/tmp" "$dir/var/run"
    chmod 1777 "$dir/tmp"
    printf 'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/:/sbin/nologin\n' >"$dir/etc/passwd"
    printf 'root:x:0:\nnobody:x:65534:\n' >"$dir/etc/group"
    printf 'hosts: files dns\n' >"$dir/etc/nsswitch.conf"
    cp "$3" "$dir/usr/local/bin/"
    # kubeadm's CoreDNS deployment and containerd's sandboxes run /coredns and /pause, the
    # paths of upstream's images.
    if [ -n "${5:-}" ]; then
        ln -s "usr/local/bin/$bin" "$dir/$5"
        entry="/$5"
    fi
    tar --numeric-owner --owner=0 --group=0 -C "$dir" -c . \
        | docker import --change "ENTRYPOINT [\"$entry\"]" --change "ENV PATH=/usr/local/bin:/usr/bin:/bin" \
            --change "LABEL io.kdc.image.inputs=$hash" - "registry.k8s.io/$1:$2" >/dev/null
}
for c in kube-apiserver kube-controller-manager kube-scheduler; do
    rootfs_image "$c" "$release" "$k8s/$c" "/usr/local/bin/$c"
done
rootfs_image etcd "$etcd" "$etcd_bin/etcd" /usr/local/bin/etcd
rootfs_image coredns/coredns "$coredns" "$coredns_bin/coredns" /usr/local/bin/coredns coredns
rootfs_image pause "$pause" "$pause_bin/pause" /usr/local/bin/pause pause
# kube-proxy calls iptables, conntrack and ipset: Debian's, from kdc/proxy-base.
mkdir -p "$stage/proxy"
cp "$k8s/kube-proxy" "$stage/proxy/"
printf 'FROM kdc/proxy-base:bookworm\nCOPY kube-proxy /usr/local/bin/kube-proxy\nENTRYPOINT ["/usr/local/bin/kube-proxy"]\n' >"$stage/proxy/Dockerfile"
docker build -q --label "io.kdc.image.inputs=$hash" -t "registry.k8s.io/kube-proxy:$release" "$stage/proxy" >/dev/null

# One archive per image: `kdc up` imports into each node only what its role runs.
save() { docker save "$1" -o "$stage/node/images/$2.tar"; }
save "registry.k8s.io/kube-apiserver:$release" kube-apiserver
save "registry.k8s.io/kube-controller-manager:$release" kube-controller-manager
save "registry.k8s.io/kube-scheduler:$release" kube-scheduler
save "registry.k8s.io/kube-proxy:$release" kube-proxy
save "registry.k8s.io/etcd:$etcd" etcd
save "registry.k8s.io/coredns/coredns:$coredns" coredns
save "registry.k8s.io/pause:$pause" pause

# 3. The node image.
for b in kubeadm kubelet kubectl; do cp "$k8s/$b" "$stage/node/bin/"; done
cp "$containerd_bin"/containerd "$containerd_bin"/containerd-shim-runc-v2 "$containerd_bin"/ctr \
    "$runc_bin/runc" "$crictl_bin/crictl" "$stage/node/bin/"
cp -r "$here/files" "$stage/node/files"
sed -i "s|PAUSE_IMAGE|registry.k8s.io/pause:$pause|" "$stage/node/files/containerd.toml"
printf '%s\n' "$release" >"$stage/node/version"
cp "$here/node.Dockerfile" "$stage/node/Dockerfile"
buildlog="$stage/build.log"
if ! docker build --build-arg "RELEASE=$release" \
    --label "io.kdc.image=node" --label "io.kdc.kubernetes=$release" \
    --label "io.kdc.image.inputs=$hash" -t "$image" "$stage/node" >"$buildlog" 2>&1; then
    tail -n 30 "$buildlog" >&2
    die "docker build of $image failed"
fi
log "built $image in $(( $(date +%s) - t0 )) s ($(docker image inspect -f '{{.Size}}' "$image" \
    | awk '{printf "%.0f MB", $1/1000000}'), inputs ${hash:0:12})"
