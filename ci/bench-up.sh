#!/usr/bin/env bash
# Benchmark: `kdc up --bootstrapper none` (1 master + 2 workers), fresh and restart (down → up),
# against a plain sequential docker CLI script that creates the same networks, volumes and
# containers one after another, in kubeadm-dind-cluster's order, and waits for systemd in each.
# kdc also starts four support containers (bind9, the router, and the two shared targets, which
# a lone cluster makes and removes itself); the script starts four containers from the support
# image too, before the nodes as the original started bind9 and tayga, but only `sleep` in them
# and does not set up the nodes' routes or pod sandboxes (0.2 s of kdc's time).
# All figures come from the same run on the same machine; ratios are what matter.
#   usage: [SETTLE=35] bash ci/bench-up.sh [ROUNDS]   (default 5; needs Docker and kdc/node:bookworm)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
cargo build --release -q
kdc=target/release/kdc
export CLUSTER_ID=9 NUM_NODES=2 CI=true
image=kdc/node:bookworm
# The flag set kdc uses on this host; privileged mode is refused here, as kdc doctor reports.
if docker run --rm --privileged --entrypoint true "$image" >/dev/null 2>&1; then
  priv=(--privileged --security-opt seccomp=unconfined --security-opt apparmor=unconfined)
else
  priv=(--cap-add ALL --cap-drop SYS_RESOURCE --security-opt seccomp=unconfined --security-opt apparmor=unconfined)
fi

now() { date +%s.%N; }
elapsed() { echo "$(now) - $1" | bc; }

wait_systemd() { # node: poll as a script would
  until [ "$(docker exec "$1" systemctl is-system-running 2>/dev/null)" = running ]; do sleep 0.2; done
}
# kubeadm-dind-cluster's order (seed-spec §1.1): the master, which kubeadm init waits for; then
# the workers one after another; their joins, which wait for them, run in parallel.
sequential_up() {
  docker network create --subnet=10.192.9.0/24 --gateway=10.192.9.1 --label bench=1 bench-net >/dev/null
  docker network create --subnet=198.19.0.0/24 --label bench=1 bench-targets >/dev/null
  for s in bench-dns:bench-net:10.192.9.253 bench-gw:bench-net:10.192.9.254 \
           bench-t1:bench-targets:198.19.0.10 bench-t2:bench-targets:198.19.0.11; do
    IFS=: read -r name net ip <<<"$s"
    docker run -d --name "$name" --net "$net" --ip "$ip" -l bench=1 kdc/support:bookworm sleep infinity >/dev/null
  done
  local i=2 publish=(-p 127.0.0.1::6443) # only the master publishes the API server port
  for n in bench-master bench-node-1 bench-node-2; do
    docker volume create --label bench=1 "vol-$n" >/dev/null
    docker run -d --name "$n" --hostname "$n" --net bench-net --ip "10.192.9.$i" -l bench=1 "${priv[@]}" \
      --tmpfs /run --tmpfs /run/lock --tmpfs /tmp --cgroupns private --tty -v "vol-$n:/var" \
      "${publish[@]}" "$image" >/dev/null
    [ -z "${publish[*]}" ] || wait_systemd "$n"
    publish=()
    i=$((i + 1))
  done
  wait_systemd bench-node-1 & wait_systemd bench-node-2 & wait
}
sequential_clean() {
  docker rm -f bench-master bench-node-1 bench-node-2 bench-dns bench-gw bench-t1 bench-t2 >/dev/null 2>&1 || true
  docker volume rm vol-bench-master vol-bench-node-1 vol-bench-node-2 >/dev/null 2>&1 || true
  docker network rm bench-net bench-targets >/dev/null 2>&1 || true
}

median() { sort -n | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.2f", m}'; }

seq_t=() fresh_t=() restart_t=()
"$kdc" clean -q >/dev/null; sequential_clean
# ext4 skips inodes deleted in the last ~30 s when it allocates new ones, so creating a
# volume's files right after a clean costs more: SETTLE=35 starts every timed run on a settled
# filesystem, as on a fresh CI machine. (Both sides pay the same without it.)
settle() { sleep "${SETTLE:-0}"; }
for r in $(seq "$rounds"); do
  settle; t=$(now); sequential_up; seq_t+=("$(elapsed "$t")"); sequential_clean
  settle; t=$(now); "$kdc" up -q >/dev/null; fresh_t+=("$(elapsed "$t")")
  "$kdc" down -q
  settle; t=$(now); "$kdc" up -q >/dev/null; restart_t+=("$(elapsed "$t")")
  "$kdc" clean -q >/dev/null
  echo "round $r: sequential ${seq_t[-1]}s, kdc fresh ${fresh_t[-1]}s, kdc restart ${restart_t[-1]}s" >&2
done
s=$(printf '%s\n' "${seq_t[@]}" | median)
f=$(printf '%s\n' "${fresh_t[@]}" | median)
re=$(printf '%s\n' "${restart_t[@]}" | median)
echo "medians over $rounds rounds (3 nodes, systemd running in each):"
echo "  sequential docker CLI script: ${s}s"
echo "  kdc up (fresh):               ${f}s   speed-up vs sequential: $(echo "scale=2; $s / $f" | bc)x (target >= 2)"
echo "  kdc up (restart from volumes): ${re}s  speed-up vs fresh:      $(echo "scale=2; $f / $re" | bc)x (target >= 1.5)"
