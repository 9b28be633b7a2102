#!/usr/bin/env bash
# How many ginkgo processes `kdc e2e` should run on this machine: the same conformance specs on
# the same cluster at several --parallel values, in one run (machines are noisy; compare within
# it). Prints each value's wall time of the specs (kdc's `e2e` action) and its speed-up over the
# first value.
#
#   bash ci/bench-e2e.sh [PARALLEL...]        (default: 2 4 8)
#
# FOCUS (a ginkgo regex) picks the specs; the default is sig-storage's ConfigMap, Secrets and
# Projected conformance specs: ~60 short specs that wait on pods, as most of conformance does.
# The cluster is CLUSTER_ID=48 (brought up once, removed at the end); needs the e2e bundle
# (`kdc image build e2e`).
set -euo pipefail
cd "$(dirname "$0")/.."
values=("$@")
[ "${#values[@]}" -gt 0 ] || values=(2 4 8)
focus="${FOCUS:-\[sig-storage\] (ConfigMap|Secrets|Projected).*\[Conformance\]}"
kdc="${KDC:-target/release/kdc}"
[ -x "$kdc" ] || cargo build --release --quiet
export CLUSTER_ID=48
out="$(mktemp -d)"
trap '"$kdc" clean >/dev/null 2>&1 || true; rm -rf "$out"' EXIT
"$kdc" up >/dev/null
first=""
printf '%-10s %-8s %-10s %s\n' parallel specs seconds speed-up
for p in "${values[@]}"; do
    log="$out/p$p.log"
    if ! "$kdc" e2e --regex "$focus" --parallel "$p" --artifacts "$out/p$p" >"$out/p$p.out" 2>"$log"; then
        tail -n 20 "$out/p$p.out" >&2
        printf 'bench-e2e: the run at --parallel %s failed (above)\n' "$p" >&2
        exit 1
    fi
    # kdc's line for the run's end: "Running N specs … ok (S.Ss)".
    line="$(grep -E 'Running [0-9]+ specs? .* ok \(' "$log" | tail -n1)"
    specs="$(sed -E 's/.*Running ([0-9]+) spec.*/\1/' <<<"$line")"
    secs="$(sed -E 's/.*ok \(([0-9.]+)s\)$/\1/' <<<"$line")"
    first="${first:-$secs}"
    awk -v p="$p" -v n="$specs" -v s="$secs" -v f="$first" 'BEGIN { printf "%-10s %-8s %-10s %.2fx\n", p, n, s, f / s }'
done
