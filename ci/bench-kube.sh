#!/usr/bin/env bash
# The kubeadm bootstrapper's speed, against kubeadm's own work measured in the same run.
#
#   bash ci/bench-kube.sh [ROUNDS]      (default 3; cluster ID 39, its own kubeconfig)
#
# Each round: a fresh 3-node `kdc up` of the default release, `kdc down`, a restore `kdc up`,
# `kdc clean`. From the progress lines (one per action, with its duration) it prints each
# action's median, and:
#   floor   = kubeadm init + the slowest kubeadm join (the joins run at once) + the wait until
#             every node and kube-system pod is Ready, all inside the same fresh up;
#   fresh   = the whole fresh `kdc up` (wall); target fresh/floor <= 1.25;
#   restore = the whole restore `kdc up`; target fresh/restore >= 3.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${1:-3}"
kdc="${KDC:-target/release/kdc}"
[ -x "$kdc" ] || cargo build --release --quiet
work="$(mktemp -d)"
trap 'CLUSTER_ID=39 KUBECONFIG="$work/config" "$kdc" clean >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
export CLUSTER_ID=39 KUBECONFIG="$work/config" CI=true
"$kdc" clean >/dev/null 2>&1 || true

secs() { # log action-text -> seconds of that action's "ok (Ns)" line
    grep -F "$2" "$1" | sed -n 's/.* ok (\([0-9.]*\)s)$/\1/p' | tail -n1
}
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
wall() { # command... -> runs it, prints its wall seconds
    local t0 t1
    t0=$(date +%s.%N)
    "$@" >/dev/null 2>>"$work/log"
    t1=$(date +%s.%N)
    awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f\n", b - a}'
}
for r in $(seq "$rounds"); do
    : >"$work/log"
    fresh=$(wall "$kdc" up)
    cp "$work/log" "$work/fresh-$r.log"
    "$kdc" down >/dev/null 2>&1
    : >"$work/log"
    restore=$(wall "$kdc" up)
    cp "$work/log" "$work/restore-$r.log"
    "$kdc" clean >/dev/null 2>&1
    f="$work/fresh-$r.log"
    init=$(secs "$f" "(kubeadm init)")
    join=$(secs "$f" "(kubeadm join)")
    ready=$(secs "$f" "kube-system pod to be Ready")
    floor=$(awk -v a="$init" -v b="$join" -v c="$ready" 'BEGIN {printf "%.2f", a + b + c}')
    echo "round $r: fresh $fresh s (images $(secs "$f" "containerd ..."), init $init, join $join, ready $ready: floor $floor), restore $restore s" >&2
    printf '%s %s %s\n' "$fresh" "$floor" "$restore" >>"$work/rounds"
done
fresh=$(cut -d' ' -f1 "$work/rounds" | median)
floor=$(cut -d' ' -f2 "$work/rounds" | median)
restore=$(cut -d' ' -f3 "$work/rounds" | median)
echo "medians of $rounds rounds: fresh up $fresh s, kubeadm floor $floor s, restore up $restore s"
awk -v f="$fresh" -v l="$floor" -v r="$restore" 'BEGIN {
    printf "fresh / floor = %.2fx (target <= 1.25)\nfresh / restore = %.2fx (target >= 3)\n", f / l, f / r }'
