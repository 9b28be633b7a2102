#!/usr/bin/env bash
# Runs the library's unit tests ROUNDS times (default 3) while a busy loop keeps every core
# occupied, so a test whose outcome depends on thread timing fails here rather than at random
# in a later CI run. Any failing round fails the script.
#
#   bash ci/repeat-under-load.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${1:-3}"
cargo test --locked --lib --no-run -q 2>/dev/null
busy=()
trap 'kill "${busy[@]}" 2>/dev/null || true' EXIT
for _ in $(seq "$(nproc)"); do
    (while :; do :; done) &
    busy+=($!)
done
failed=0
for round in $(seq "$rounds"); do
    if out="$(cargo test --locked --lib -q 2>&1)"; then
        printf 'under load, round %s of %s: %s\n' "$round" "$rounds" "$(grep -E '^test result' <<<"$out" | tail -n1)"
    else
        printf 'under load, round %s of %s FAILED:\n%s\n' "$round" "$rounds" "$out" >&2
        failed=$((failed + 1))
    fi
done
[ "$failed" -eq 0 ] || { echo "$failed of $rounds rounds failed under load" >&2; exit 1; }
