#!/bin/sh
# Benchmark of `kdc split-dump64` (not a timed test): a ~170 MB job log holding one ~40 MB dump
# among noise. Times, in the same run:
#   kdc    `kdc split-dump64`
#   shell  the original pipeline: sed range | sed '1d;$d' | base64 -d | lzma -dc | awk split
#   floor  `lzma -dc` alone on the extracted blob (the same liblzma; nothing can beat it)
# and reports peak RSS, plus the blob size of `kdc dump64 --level N` against `lzma | base64 -w 100`.
# Targets: kdc <= shell, kdc <= 1.5 x floor, kdc RSS < 64 MB whatever the log size.
# Usage: ci/bench-artifacts.sh [workdir]   (KDC=path/to/kdc to skip the release build)
set -eu
cd "$(dirname "$0")/.."
if [ -z "${KDC:-}" ]; then
  cargo build --release --quiet
  KDC=$PWD/target/release/kdc
fi
W=${1:-$(mktemp -d)}
mkdir -p "$W"
cd "$W"
TIME=/usr/bin/time

echo "workdir: $W"
# ~40 MB dump: journal-like lines in 400 sections (logs compress ~10-20x, like real dumps).
awk 'BEGIN {
  srand(42); print "*** Dumping cluster state ***"
  for (i = 0; i < 330000; i++) {
    if (i % 825 == 0) printf "@@@ pod-kdc-worker%d-kube-system-pod%d--c.log @@@\n", i % 3, i / 825
    printf "May 01 09:%02d:%02d kdc-worker%d kubelet[%d]: I0501 %s.go:%d] \"Syncing pod\" pod=\"kube-system/pod-%x\" took=%dms\n",
      (i / 60) % 60, i % 60, i % 3, 300 + i % 17, (i % 5 ? "pod_workers" : "kuberuntime_manager"),
      i % 2000, int(rand() * 65536), int(rand() * 1000)
  }
}' > dump.txt
# The log: noise, the blob made by the original pipeline, more noise (~170 MB).
noise() {
  awk -v n="$1" -v s="$2" 'BEGIN { srand(s); for (i = 0; i < n; i++)
    printf "[%06d] step %d: go test ./pkg/... ok  \tk8s.io/kubernetes/pkg/%x\t%.3fs\n", i, i % 97, int(rand() * 1e9), rand() * 10 }'
}
{
  noise 1000000 1
  echo '%%% start-base64 %%%'; lzma < dump.txt | base64 -w 100; echo '%%% end-base64 %%%'
  noise 1000000 2
} > job.log
echo "dump: $(wc -c < dump.txt) bytes; log: $(wc -c < job.log) bytes"

sed -n '/^%%% start-base64 %%%$/,/^%%% end-base64 %%%$/p' job.log | sed '1d;$d' | base64 -d > blob.lzma

ROUNDS=${ROUNDS:-5}
measure() { # label, command...: median wall time of $ROUNDS runs (ms resolution), peak RSS
  label=$1; shift
  : > times.out
  i=0
  while [ "$i" -lt "$ROUNDS" ]; do
    rm -rf "out-$label"
    t0=$(date +%s%N)
    $TIME -f "%M" -o rss.out "$@" > /dev/null
    t1=$(date +%s%N)
    echo $(( (t1 - t0) / 1000000 )) >> times.out
    i=$((i + 1))
  done
  ms=$(sort -n times.out | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
  kb=$(cat rss.out)
  secs=$(awk -v ms="$ms" 'BEGIN { printf "%.3f", ms / 1000 }')
  printf '%-6s %6s s  %7d KB peak RSS  (median of %d)\n' "$label" "$secs" "$kb" "$ROUNDS"
  eval "T_$label=$secs; M_$label=$kb"
}

measure kdc "$KDC" split-dump64 -o out-kdc job.log
measure shell sh -c "sed -n '/^%%% start-base64 %%%\$/,/^%%% end-base64 %%%\$/p' job.log | sed '1d;\$d' | base64 -d | lzma -dc |
  (mkdir -p out-shell && cd out-shell && awk 'BEGIN { out = \"/dev/null\" } /^@@@ .* @@@\$/ { out = \$2; next } { print > out }')"
measure floor lzma -dc blob.lzma
diff -r out-kdc out-shell > /dev/null && echo "outputs: identical"

echo "kdc/shell: $(echo "$T_kdc $T_shell" | awk '{ printf "%.2f", $1 / ($2 > 0 ? $2 : 0.01) }')x;" \
  "kdc/floor: $(echo "$T_kdc $T_floor" | awk '{ printf "%.2f", $1 / ($2 > 0 ? $2 : 0.01) }')x;" \
  "kdc RSS: $((M_kdc / 1024)) MB"

# Constant memory: the same blob in a log three times as long.
{ cat job.log; noise 2000000 3; } > long.log
$TIME -f "%M" -o rss.out "$KDC" split-dump64 -o out-long long.log > /dev/null
echo "kdc RSS on a $(($(wc -c < long.log) / 1000000)) MB log: $(($(cat rss.out) / 1024)) MB"
rm -f long.log

echo "blob sizes (bytes, markers included):"
orig=$( { echo '%%% start-base64 %%%'; lzma < dump.txt | base64 -w 100; echo '%%% end-base64 %%%'; } | wc -c)
printf '  %-22s %10d\n' "lzma | base64 -w 100" "$orig"
for l in 0 1 3 6 9; do
  $TIME -f "%e %M" -o time.out "$KDC" dump64 --level "$l" --from dump.txt > blob.txt
  read -r secs kb < time.out
  printf '  %-22s %10d  (%s s, %d MB to compress)\n' "kdc dump64 --level $l" "$(wc -c < blob.txt)" "$secs" "$((kb / 1024))"
done
