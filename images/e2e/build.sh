#!/usr/bin/env bash
# Builds the conformance bundle of one Kubernetes release, offline: e2e.test, ginkgo and kubectl of
# that release, and the images its e2e specs run, under exactly the names its image manifest
# (test/utils/image/manifest.go, printed by `e2e.test --list-images`) gives them. No registry.
#
#   bash images/e2e/build.sh [VERSION]     VERSION: 1.36, v1.36 or v1.36.3 (default: 1.36)
#
# Output, in $KDC_CACHE/e2e/<release>/ (KDC_CACHE defaults to ~/.cache/kdc):
#   bin/e2e.test bin/ginkgo bin/kubectl
#   images.tar    every image built, one `docker save` (layers shared); `kdc e2e` imports it into
#                 each node's containerd
#   images.txt    the names in images.tar, one per line
#   unbuilt.txt   the manifest's images kdc does not build: name, a tab, the reason
#   inputs        the input hash: this recipe, kdc/e2e-base's and the node image's inputs, Go
# The bundle is up to date when `inputs` matches, and is replaced whole (never half-written).
# Needs the node image kdc/node:<release> (built first when missing: images/kube/build.sh): the
# etcd, pause and CoreDNS images and kubectl come from it. KDC_IMAGE_FORCE=1 rebuilds.
set -euo pipefail
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
line="$(grep -v '^#' "$images/kube/releases" | awk -v w="$want" '$1 == w || $2 == "v" w' | head -n1)"
[ -n "$line" ] || die "Kubernetes $want is not supported; kdc builds: $(grep -v '^#' "$images/kube/releases" | awk '{printf "%s ", $2}')"
read -r _ release etcd coredns pause _ <<<"$line"
node="kdc/node:$release"
out="$cache/e2e/$release"

docker info >/dev/null 2>&1 || die "no Docker daemon answering (run ci/setup-host.sh)"
command -v go >/dev/null || die "no go command (Go 1.26 or newer; ci/setup-host.sh installs it)"
bash "$images/kube/build.sh" "$release"
bash "$images/build.sh" e2e-base
exec 9>"${TMPDIR:-/tmp}/kdc-images-e2e.lock"
flock 9

label_of() {
    docker image inspect -f "{{ index .Config.Labels \"$2\" }}" "$1" 2>/dev/null | sed 's/^<no value>$//' || true
}
# Contents only, never paths: `kdc image build e2e` runs a copy of this recipe from a temp dir.
hash="$(sha256sum <"$here/build.sh"; sha256sum <"$here/sh/main.go"; sha256sum <"$images/kube/build-go.sh"
    printf '%s\n' "$(go version)" "$(label_of "$node" io.kdc.image.inputs)" \
        "$(label_of kdc/e2e-base:bookworm io.kdc.image.inputs)")"
hash="$(printf '%s' "$hash" | sha256sum | cut -c1-64)"
if [ "$force" != "1" ] && [ "$(cat "$out/inputs" 2>/dev/null)" = "$hash" ]; then
    log "e2e bundle $release up to date (inputs ${hash:0:12})"
    exit 0
fi
t0=$(date +%s)

# 1. The Go programs, cached by their own recipe, the release and Go (not by the images).
bin="$cache/bin/e2e-$release-$( (sha256sum <"$images/kube/build-go.sh"; go version) | sha256sum | cut -c1-12)"
if [ ! -x "$bin/e2e.test" ]; then
    log "building e2e.test, ginkgo and the test images' programs of $release from the Go module proxy"
    t1=$(date +%s)
    rm -rf "$bin.tmp"
    bash "$images/kube/build-go.sh" e2e "$release" "$bin.tmp"
    mv "$bin.tmp" "$bin"
    log "built the e2e programs in $(( $(date +%s) - t1 )) s"
fi

stage="$(mktemp -d "${TMPDIR:-/tmp}/kdc-e2e.XXXXXX")"
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/bundle/bin" "$stage/ctx"
cp "$bin/e2e.test" "$bin/ginkgo" "$stage/bundle/bin/"
# kubectl, and the images kubeadm's release runs, from the node image (also after `kdc image load`).
c="$(docker create "$node")"
docker cp -q "$c:/usr/local/bin/kubectl" "$stage/bundle/bin/kubectl"
for t in etcd pause coredns; do docker cp -q "$c:/kind/images/$t.tar" "$stage/$t.tar"; done
docker rm -f "$c" >/dev/null
for t in etcd pause coredns; do docker load -q -i "$stage/$t.tar" >/dev/null; done
c="$(docker create "registry.k8s.io/coredns/coredns:$coredns")"
docker cp -q "$c:/usr/local/bin/coredns" "$stage/ctx/coredns"
docker rm -f "$c" >/dev/null
cp "$bin/agnhost" "$bin/nonewprivs" "$bin/sample-apiserver" "$stage/ctx/"
k8s="$(cd "$stage" && GOFLAGS=-mod=mod go mod download -json "k8s.io/kubernetes@$release" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')"
[ -d "$k8s/test/images" ] || die "k8s.io/kubernetes $release has no test/images in the module cache"
cp "$k8s/test/images/agnhost/porter/localhost.crt" "$k8s/test/images/agnhost/porter/localhost.key" "$stage/ctx/"
cp "$k8s/test/images/kitten/html/kitten.jpg" "$k8s/test/images/nautilus/html/nautilus.jpg" "$stage/ctx/"
cp "$k8s/test/images/kitten/html/data.json" "$stage/ctx/kitten.json"
cp "$k8s/test/images/nautilus/html/data.json" "$stage/ctx/nautilus.json"

# 2. The images, by the manifest's names. Each recipe is a few Dockerfile lines on kdc/e2e-base
#    (Debian), upstream's layout kept where specs look into the image.
"$bin/e2e.test" --list-images >"$stage/manifest.txt" 2>/dev/null \
    || die "e2e.test --list-images failed"
[ -s "$stage/manifest.txt" ] || die "e2e.test --list-images printed nothing"
dockerfile() { # tag, then the Dockerfile's lines after FROM
    local tag="$1"
    shift
    printf '%s\n' "FROM kdc/e2e-base:bookworm" "$@" >"$stage/ctx/Dockerfile"
    docker build -q --label "io.kdc.image.inputs=$hash" -t "$tag" "$stage/ctx" >/dev/null \
        || die "docker build of $tag failed"
}
agnhost_lines=(
    "COPY agnhost /agnhost"
    "COPY coredns /coredns"
    "COPY localhost.crt localhost.key /"
    "RUN ln -s agnhost /agnhost-2 && mkdir /uploads && ln -s /usr/bin/iperf /usr/local/bin/iperf && useradd -u 1000 -M user-defined-in-image && groupadd -g 50000 group-defined-in-image && usermod -a -G group-defined-in-image user-defined-in-image"
    "EXPOSE 80 8080 8081 9376 5000"
    'ENTRYPOINT ["/agnhost"]'
    'CMD ["pause"]'
)
busybox() { # tag: busybox's applets, static, as upstream's image; sh is kdc's shim (sh/main.go):
    # busybox's ash, or a static bash when the environment holds names ash would drop (the
    # Secrets and ConfigMap env specs), so both ash's messages and those variables are as upstream.
    local root="$stage/busybox"
    mkdir -p "$root/bin" "$root/etc" "$root/tmp" "$root/root" "$root/var/spool/mail" "$root/home"
    chmod 1777 "$root/tmp"
    c="$(docker create kdc/e2e-base:bookworm true)"
    docker cp -q "$c:/bin/busybox" "$root/bin/busybox"
    docker cp -q "$c:/bin/bash-static" "$root/bin/bash"
    docker rm -f "$c" >/dev/null
    "$root/bin/busybox" --list | while read -r applet; do
        case "$applet" in busybox | sh | bash) ;; *) ln -sf busybox "$root/bin/$applet" ;; esac
    done
    mkdir -p "$stage/sh"
    cp "$here/sh/main.go" "$stage/sh/"
    printf 'module kdc.local/build/sh\n\ngo 1.24\n' >"$stage/sh/go.mod"
    (cd "$stage/sh" && CGO_ENABLED=0 GOFLAGS= GOWORK=off go build -trimpath -ldflags '-s -w' -o "$root/bin/sh" .) \
        || die "building kdc's sh for the busybox image failed"
    printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n' >"$root/etc/passwd"
    printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
    tar --numeric-owner --owner=0 --group=0 -C "$root" -c . \
        | docker import --change 'CMD ["sh"]' --change "LABEL io.kdc.image.inputs=$hash" - "$1" >/dev/null
}

built=()
: >"$stage/bundle/unbuilt.txt"
while read -r name; do
    [ -n "$name" ] || continue
    repo="${name%:*}"
    case "$repo" in
    registry.k8s.io/e2e-test-images/agnhost) dockerfile "$name" "${agnhost_lines[@]}" ;;
    registry.k8s.io/e2e-test-images/kitten | registry.k8s.io/e2e-test-images/nautilus)
        n="${repo##*/}"
        dockerfile "$name" "${agnhost_lines[@]}" "COPY $n.jpg /$n.jpg" "COPY $n.json /data.json" \
            'CMD ["test-webserver"]' ;;
    registry.k8s.io/e2e-test-images/busybox) busybox "$name" ;;
    registry.k8s.io/e2e-test-images/nginx) dockerfile "$name" 'CMD ["nginx", "-g", "daemon off;"]' ;;
    registry.k8s.io/e2e-test-images/nonewprivs)
        dockerfile "$name" "COPY nonewprivs /usr/local/bin/nnp" "RUN chmod 4755 /usr/local/bin/nnp" 'CMD ["nnp"]' ;;
    registry.k8s.io/e2e-test-images/nonroot) dockerfile "$name" "USER 1234" ;;
    registry.k8s.io/e2e-test-images/glibc-dns-testing) dockerfile "$name" "COPY coredns /coredns" ;;
    registry.k8s.io/e2e-test-images/sample-apiserver)
        dockerfile "$name" "COPY sample-apiserver /sample-apiserver" 'ENTRYPOINT ["/sample-apiserver"]' ;;
    registry.k8s.io/etcd) docker tag "registry.k8s.io/etcd:$etcd" "$name" ;;
    registry.k8s.io/pause) docker tag "registry.k8s.io/pause:$pause" "$name" ;;
    *)
        case "$repo" in
        gcr.io/k8s-authenticated-test/* | invalid.*) why="not meant to be pulled: the specs that name it expect the pull to fail" ;;
        */volume/* | */nfs-provisioner) why="a storage server (NFS, iSCSI) that needs kernel modules in the node" ;;
        */sig-storage/* | */*-csi-driver) why="a CSI sidecar or driver image; the CSI specs are not run here" ;;
        */node-perf/* | */perl | */resource-consumer | */apparmor-loader | */ipc-utils | */regression-issue-74839 | */distroless-iptables)
            why="no kdc recipe yet; no conformance spec runs it" ;;
        *) why="no kdc recipe" ;;
        esac
        printf '%s\t%s\n' "$name" "$why" >>"$stage/bundle/unbuilt.txt"
        continue ;;
    esac
    built+=("$name")
done <"$stage/manifest.txt"
[ "${#built[@]}" -gt 5 ] || die "only ${#built[@]} images matched the manifest of $release: $(tr '\n' ' ' <"$stage/manifest.txt")"

printf '%s\n' "${built[@]}" >"$stage/bundle/images.txt"
docker save -o "$stage/bundle/images.tar" "${built[@]}"
printf '%s\n' "$hash" >"$stage/bundle/inputs"
mkdir -p "$(dirname "$out")"
rm -rf "$out.old"
[ ! -e "$out" ] || mv "$out" "$out.old"
mv "$stage/bundle" "$out"
rm -rf "$out.old"
log "built the e2e bundle $release in $(( $(date +%s) - t0 )) s: ${#built[@]} images ($(du -m "$out/images.tar" | cut -f1) MB), $(wc -l <"$out/unbuilt.txt") not built; $out"
