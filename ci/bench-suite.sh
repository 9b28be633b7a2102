#!/usr/bin/env bash
# Benchmark: the ipv6 suite's checks on a running ipv6 cluster (1 master + 2 workers), run by
# `kdc test run ipv6 --use-existing` against the same node and pod commands run one `docker
# exec` after another, as kubeadm-dind-cluster's test script ran its checks. The commands are
# the ones kdc ran, taken from its JUnit (each case's "$ docker exec …" line), so both sides
# do the same work. Also measured: the whole cell (`kdc test run ipv6`: up, checks, down), its
# wall time, kdc's own CPU time and the engine's (dockerd, containerd, shims) CPU time.
# All figures come from the same run on the same machine; ratios are what matter.
#   usage: bash ci/bench-suite.sh [ROUNDS]   (default 5; needs Docker and the kdc images)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
cargo build --release -q
kdc=$PWD/target/release/kdc
export CLUSTER_ID=12 IP_MODE=ipv6 CI=true
work=$(mktemp -d)
trap '"$kdc" clean -q >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

now() { date +%s.%N; }
elapsed() { echo "$(now) - $1" | bc; }
median() { sort -n | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.2f", m}'; }
# CPU seconds (user + system) used so far by the engine: dockerd, containerd and the
# containers' shims (runc itself is short-lived and not counted).
engine_cpu() {
  local t=0 pid
  for pid in $(pgrep -x dockerd) $(pgrep -x containerd) $(pgrep -f containerd-shim); do
    t=$(awk -v t="$t" '{print t + ($14 + $15) / 100}' "/proc/$pid/stat")
  done
  echo "$t"
}

"$kdc" clean -q >/dev/null
"$kdc" up -q --bootstrapper none >/dev/null
# One run to learn the commands.
"$kdc" test run ipv6 --use-existing --artifacts "$work/learn" >/dev/null 2>&1
python3 - "$work/learn/junit_kdc.xml" >"$work/commands.sh" <<'EOF'
import sys, xml.etree.ElementTree as ET
for case in ET.parse(sys.argv[1]).iter("testcase"):
    out = case.findtext("system-out") or ""
    for line in out.splitlines():
        if line.startswith("$ docker exec "):
            print(line[2:] + " >/dev/null 2>&1 || true")
EOF
n=$(wc -l <"$work/commands.sh")
[ "$n" -gt 20 ] || { echo "bench-suite: only $n commands found in the JUnit" >&2; exit 1; }

seq_t=() kdc_t=() seq_e=() kdc_e=()
for r in $(seq "$rounds"); do
  e=$(engine_cpu); t=$(now); bash "$work/commands.sh"; seq_t+=("$(elapsed "$t")"); seq_e+=("$(echo "$(engine_cpu) - $e" | bc)")
  e=$(engine_cpu); t=$(now)
  "$kdc" test run ipv6 --use-existing --artifacts "$work/r$r" >/dev/null 2>&1
  kdc_t+=("$(elapsed "$t")"); kdc_e+=("$(echo "$(engine_cpu) - $e" | bc)")
  echo "round $r: sequential docker exec ${seq_t[-1]}s (engine CPU ${seq_e[-1]}s), kdc ${kdc_t[-1]}s (engine CPU ${kdc_e[-1]}s)" >&2
done
"$kdc" clean -q >/dev/null

cell_t=() cell_cpu=() cell_e=()
for r in $(seq "$rounds"); do
  e=$(engine_cpu); t=$(now)
  /usr/bin/time -f '%U %S' -o "$work/time" "$kdc" test run ipv6 --artifacts "$work/c$r" >/dev/null 2>&1
  cell_t+=("$(elapsed "$t")"); cell_e+=("$(echo "$(engine_cpu) - $e" | bc)")
  cell_cpu+=("$(awk '{print $1 + $2}' "$work/time")")
  echo "round $r: whole cell ${cell_t[-1]}s, kdc CPU ${cell_cpu[-1]}s, engine CPU ${cell_e[-1]}s" >&2
done

s=$(printf '%s\n' "${seq_t[@]}" | median); k=$(printf '%s\n' "${kdc_t[@]}" | median)
se=$(printf '%s\n' "${seq_e[@]}" | median); ke=$(printf '%s\n' "${kdc_e[@]}" | median)
echo "medians over $rounds rounds, ipv6 suite, $n node and pod commands (plus kdc's host checks):"
echo "  sequential docker exec script: ${s}s, engine CPU ${se}s"
echo "  kdc test run --use-existing:   ${k}s, engine CPU ${ke}s   speed-up: $(echo "scale=2; $s / $k" | bc)x (target >= 3)"
echo "  whole cell (kdc test run ipv6: up, checks, down): $(printf '%s\n' "${cell_t[@]}" | median)s," \
  "kdc CPU $(printf '%s\n' "${cell_cpu[@]}" | median)s, engine CPU $(printf '%s\n' "${cell_e[@]}" | median)s"
