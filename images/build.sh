#!/usr/bin/env bash
# Build kdc's local images offline from Debian packages (no container registry needed).
#
#   bash images/build.sh [node|support|proxy-base|e2e-base|all]     (default: all; all = node and support)
#
# Each image is built in two steps:
#   1. mmdebstrap --variant=minbase --include=<images/NAME/packages> | docker import
#        -> kdc/NAME-base:bookworm   (the slow part, ~1 min; cached by its own hash)
#   2. docker build images/NAME/ (Dockerfile FROM the base, no apt-get)
#        -> kdc/NAME:bookworm
# Labels on the final image: io.kdc.image=NAME and io.kdc.image.inputs=<sha256 over the
# recipe version, the exact mmdebstrap command line (package list, mirror, suite) and every
# file under images/NAME/>. If the existing image carries the same hash the build is skipped
# ("up to date"). Package updates on the mirror do not change the hash: KDC_IMAGE_FORCE=1
# rebuilds regardless. KDC_DEBIAN_MIRROR overrides the mirror (default: the host's first
# http(s) Debian URI, else http://deb.debian.org/debian).
# Hosts WITH Docker Hub access may use images/NAME/Dockerfile.registry instead.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
suite="bookworm"
recipe_version="2"   # bump to invalidate every image built by an older recipe
force="${KDC_IMAGE_FORCE:-0}"
# The classic builder resolves FROM against local images only; BuildKit may try a registry.
export DOCKER_BUILDKIT=0

log() { printf 'images: %s\n' "$*" >&2; }
die() { printf 'images: ERROR: %s\n' "$*" >&2; exit 1; }

detect_mirror() {
    if [ -n "${KDC_DEBIAN_MIRROR:-}" ]; then
        printf '%s\n' "$KDC_DEBIAN_MIRROR"
        return
    fi
    local uri=""
    # deb822 sources (Debian 12 default), then one-line sources; skip the security archive.
    uri="$(grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null \
        | awk '{print $2}' | grep -v -- '-security' | grep -E '^https?://' | head -n1 || true)"
    if [ -z "$uri" ]; then
        uri="$(grep -hsE '^deb[[:space:]]' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
            | sed -E 's/^deb[[:space:]]+(\[[^]]*\][[:space:]]+)?//' | awk '{print $1}' \
            | grep -v -- '-security' | grep -E '^https?://' | head -n1 || true)"
    fi
    printf '%s\n' "${uri:-http://deb.debian.org/debian}"
}

packages_of() { # name -> comma-separated package list from images/NAME/packages
    local f="$here/$1/packages"
    [ -f "$f" ] || die "missing $f"
    sed 's/#.*//' "$f" | tr -s ' \t\n' '\n' | grep -v '^$' | paste -sd, -
}

label_of() { # image label -> value, or empty when the image or label is missing
    docker image inspect -f "{{ index .Config.Labels \"$2\" }}" "$1" 2>/dev/null \
        | sed 's/^<no value>$//' || true
}

files_digest() { # dir -> one line per file: path and content hash, sorted
    (cd "$1" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
}

build_one() {
    local name="$1" dir="$here/$1"
    [ -f "$dir/Dockerfile" ] || die "missing $dir/Dockerfile"
    local mirror pkgs
    mirror="$(detect_mirror)"
    pkgs="$(packages_of "$name")"
    local image="kdc/$name:$suite" base="kdc/$name-base:$suite"

    # The exact bootstrap command. Docs, man pages and translations are left out
    # (as in Debian's -slim images): ~60 MB less per image, nothing kdc needs.
    local -a bootstrap=(mmdebstrap --quiet --variant=minbase "--include=$pkgs"
        --dpkgopt='path-exclude=/usr/share/man/*'
        --dpkgopt='path-exclude=/usr/share/doc/*'
        --dpkgopt='path-include=/usr/share/doc/*/copyright'
        --dpkgopt='path-exclude=/usr/share/locale/*'
        --dpkgopt='path-include=/usr/share/locale/locale.alias'
        --dpkgopt='path-exclude=/usr/share/info/*'
        # Of the CNI plugins only those kdc's CNI configs use (and portmap): 13 MB, not 46.
        --dpkgopt='path-exclude=/usr/lib/cni/*'
        --dpkgopt='path-include=/usr/lib/cni/bridge'
        --dpkgopt='path-include=/usr/lib/cni/ptp'
        --dpkgopt='path-include=/usr/lib/cni/host-local'
        --dpkgopt='path-include=/usr/lib/cni/loopback'
        --dpkgopt='path-include=/usr/lib/cni/portmap'
        "$suite" - "deb $mirror $suite main")

    local base_hash hash
    base_hash="$(printf 'recipe=%s\ncmd=%s\n' "$recipe_version" "${bootstrap[*]}" \
        | sha256sum | awk '{print $1}')"
    hash="$(printf 'base=%s\n%s\n' "$base_hash" "$(files_digest "$dir")" \
        | sha256sum | awk '{print $1}')"

    if [ "$force" != "1" ] && [ "$(label_of "$image" io.kdc.image.inputs)" = "$hash" ]; then
        log "$image up to date (inputs ${hash:0:12})"
        return 0
    fi

    local t0 old buildlog
    t0=$(date +%s)
    old="$(docker image inspect -f '{{.Id}}' "$image" 2>/dev/null || true)"
    buildlog="$(mktemp)"
    if [ "$force" != "1" ] && [ "$(label_of "$base" io.kdc.base.inputs)" = "$base_hash" ]; then
        log "$base up to date"
    else
        command -v mmdebstrap >/dev/null || die "mmdebstrap not installed (run ci/setup-host.sh)"
        log "bootstrapping $base from $mirror ($pkgs)"
        if ! "${bootstrap[@]}" 2>>"$buildlog" \
            | docker import \
                --change "LABEL io.kdc.image=$name-base" \
                --change "LABEL io.kdc.base.inputs=$base_hash" \
                - "$base" >/dev/null 2>>"$buildlog"; then
            tail -n 30 "$buildlog" >&2
            die "bootstrap of $base failed"
        fi
    fi

    log "building $image"
    if ! docker build \
        --label "io.kdc.image=$name" \
        --label "io.kdc.image.inputs=$hash" \
        --build-arg "BASE=$base" \
        -t "$image" "$dir" >"$buildlog" 2>&1; then
        tail -n 30 "$buildlog" >&2
        die "docker build of $image failed"
    fi
    rm -f "$buildlog"

    # Drop the superseded image if nothing uses it any more (failure is fine).
    local new
    new="$(docker image inspect -f '{{.Id}}' "$image")"
    if [ -n "$old" ] && [ "$old" != "$new" ]; then
        docker rmi "$old" >/dev/null 2>&1 || true
    fi
    log "built $image in $(( $(date +%s) - t0 )) s ($(docker image inspect -f '{{.Size}}' "$image" \
        | awk '{printf "%.0f MB", $1/1000000}'), inputs ${hash:0:12})"
}

target="${1:-all}"
case "$target" in
    node|support|proxy-base|e2e-base|all) ;;
    -h|--help) sed -n '2,18p' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) die "usage: build.sh [node|support|proxy-base|e2e-base|all]" ;;
esac

docker info >/dev/null 2>&1 || die "no Docker daemon answering (run ci/setup-host.sh)"

# Serialise concurrent builds (two setup runs would otherwise race on the same tags).
exec 9>"${TMPDIR:-/tmp}/kdc-images.lock"
flock 9

case "$target" in
    node|support|proxy-base|e2e-base) build_one "$target" ;;
    all) build_one node; build_one support ;;
esac
