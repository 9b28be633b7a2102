#!/usr/bin/env bash
# The matrix runner's parallelism: four bare cells of ci/matrix.toml with `kdc ci run --jobs 1`
# against `--jobs 2`, ROUNDS times each (default 1), alternating. Prints per run the wall time,
# cells per hour, kdc's own CPU time and the machine's CPU use (all cores, from /proc/stat), then
# the medians and the speed-up of --jobs 2.
#
#   bash ci/bench-matrix.sh [ROUNDS]
#
# Needs a built kdc (target/release/kdc, else target/debug/kdc, else kdc on PATH), a running
# Docker engine and kdc's images (ci/setup-host.sh). Clusters take IDs 60-79.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${1:-1}"
kdc=""
for k in "${CARGO_TARGET_DIR:-target}/release/kdc" "${CARGO_TARGET_DIR:-target}/debug/kdc"; do
    if [ -x "$k" ]; then kdc="$k"; break; fi
done
kdc="${kdc:-$(command -v kdc)}" || { echo "bench-matrix: build kdc first (cargo build)" >&2; exit 1; }
cells=(ipv4_bridge ipv6-nat64_bridge dual-stack_bridge dual-stack-v4-svc-net_bridge)
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

busy() { awk '/^cpu /{print $2+$3+$4+$7+$8, $2+$3+$4+$5+$6+$7+$8}' /proc/stat; }

run() { # jobs round
    local jobs="$1" out="$work/$1-$2"
    read -r b0 t0 < <(busy)
    local start end
    start=$(date +%s.%N)
    /usr/bin/time -f '%U %S' -o "$out.time" \
        env CI=true "$kdc" ci run --matrix ci/matrix.toml "${cells[@]}" --jobs "$jobs" \
        --cluster-ids 60-79 --artifacts "$out" >"$out.log" 2>"$out.err" ||
        { echo "bench-matrix: kdc ci run --jobs $jobs failed; see below" >&2; tail -20 "$out.log" "$out.err" >&2; exit 1; }
    end=$(date +%s.%N)
    read -r b1 t1 < <(busy)
    read -r u s < "$out.time"
    awk -v j="$jobs" -v w="$(echo "$end - $start" | bc)" -v u="$u" -v s="$s" \
        -v db="$((b1 - b0))" -v dt="$((t1 - t0))" -v n="${#cells[@]}" -v c="$(nproc)" \
        'BEGIN { printf "--jobs %d: %6.1f s wall, %5.0f cells/hour, kdc CPU %.2f s, machine CPU %3.0f %% of %d cores\n", j, w, n*3600/w, u+s, 100*db/dt, c }' |
        tee -a "$work/results"
}

for r in $(seq 1 "$rounds"); do
    run 1 "$r"
    run 2 "$r"
done
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
w1=$(grep '^--jobs 1' "$work/results" | awk '{print $3}' | median)
w2=$(grep '^--jobs 2' "$work/results" | awk '{print $3}' | median)
awk -v a="$w1" -v b="$w2" -v n="${#cells[@]}" 'BEGIN {
    printf "median: --jobs 1 %.1f s (%.0f cells/hour), --jobs 2 %.1f s (%.0f cells/hour): %.2fx\n", a, n*3600/a, b, n*3600/b, a/b }'
