#!/usr/bin/env bash
# Checks a JUnit file the way CI systems will read it.
#
#   ci/check-junit.sh FILE [TESTS FAILURES SKIPPED]
#
# 1. Schema: `xmllint --noout --schema ci/junit-10.xsd FILE`. junit-10.xsd is Jenkins
#    xunit-plugin's schema (MIT, (c) 2014 Gregory Boissinot), the strictest one in use. It is
#    vendored unchanged, licence header included, so the check works in any clone, not only
#    beside the workspace's shared/ directory; its sha256 is checked below so an edit is
#    noticed (update both if the schema is ever replaced on purpose).
# 2. A real consumer: PyPI junitparser reads every suite and case. Each <testsuite>'s
#    tests/failures/errors/skipped must agree with its cases, and every case needs a name, a
#    classname and a time. Given TESTS FAILURES SKIPPED, the totals over all suites must match.
#
# junitparser lives in a venv, $KDC_JUNIT_VENV or <repo>/target/junit-venv, made on the first
# run (pip needs PyPI) and reused afterwards: a second run is offline and takes well under a
# second. Needs xmllint (Debian libxml2-utils) and python3 with venv: ci/setup-host.sh installs
# both.
set -euo pipefail

die() { printf 'check-junit: %s\n' "$*" >&2; exit 1; }

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
xsd="$repo_root/ci/junit-10.xsd"
xsd_sha256=a1a816f58d1bf95ebabf371994df0b9246dee66ea9572fbec4f9296f1b2c0ff6
junitparser_version=5.0.3
venv="${KDC_JUNIT_VENV:-$repo_root/target/junit-venv}"

case $# in
    1 | 4) ;;
    *) die "usage: ci/check-junit.sh FILE [TESTS FAILURES SKIPPED]" ;;
esac
file="$1"
[ -f "$file" ] || die "$file: no such file"
if [ $# -eq 4 ]; then
    for n in "$2" "$3" "$4"; do
        [[ "$n" =~ ^[0-9]+$ ]] || die "expected counts must be numbers, got '$n'"
    done
fi

command -v xmllint >/dev/null ||
    die "xmllint not found: install libxml2-utils (run ci/setup-host.sh)"
command -v python3 >/dev/null ||
    die "python3 not found: install python3 and python3-venv (run ci/setup-host.sh)"
[ -f "$xsd" ] || die "$xsd is missing: restore it from git"
actual_sha256="$(sha256sum "$xsd" | cut -d' ' -f1)"
[ "$actual_sha256" = "$xsd_sha256" ] ||
    die "$xsd changed (sha256 $actual_sha256): the check is only meaningful against the unmodified schema"

# 1. The schema.
if ! out="$(xmllint --noout --schema "$xsd" "$file" 2>&1)"; then
    # The first errors say what is wrong; thousands of repeats of the same one would not.
    # (|| true: head closing the pipe early is not a failure of this script.)
    printf '%s\n' "$out" | head -n 20 >&2 || true
    lines="$(printf '%s\n' "$out" | wc -l)"
    [ "$lines" -le 20 ] || printf '... %d more lines\n' "$((lines - 20))" >&2
    die "$file does not validate against junit-10.xsd (errors above)"
fi

# 2. junitparser, installed once (ci/pyvenv.sh).
# shellcheck source=ci/pyvenv.sh
. "$repo_root/ci/pyvenv.sh"
ensure_venv "$venv" junitparser "$junitparser_version"

"$venv/bin/python" - "$file" "${@:2}" <<'PY'
import sys
from junitparser import JUnitXml, TestSuite, Failure, Error, Skipped

path, expected = sys.argv[1], sys.argv[2:]
xml = JUnitXml.fromfile(path)
suites = [xml] if isinstance(xml, TestSuite) else list(xml)
problems = []
totals = {"tests": 0, "failures": 0, "skipped": 0}
for suite in suites:
    cases = list(suite)
    counted = {
        "tests": len(cases),
        "failures": sum(any(isinstance(r, Failure) for r in c.result) for c in cases),
        "errors": sum(any(isinstance(r, Error) for r in c.result) for c in cases),
        "skipped": sum(any(isinstance(r, Skipped) for r in c.result) for c in cases),
    }
    for key, n in counted.items():
        declared = getattr(suite, key)
        if (declared or 0) != n:
            problems.append(f"suite {suite.name!r}: {key}={declared} but its cases say {n}")
    for c in cases:
        for attr in ("name", "classname", "time"):
            if getattr(c, attr) is None:
                problems.append(f"suite {suite.name!r}: a case has no {attr}")
    for key in totals:
        totals[key] += counted[key]
if expected:
    want = dict(zip(("tests", "failures", "skipped"), map(int, expected)))
    if want != totals:
        problems.append(f"expected {want}, found {totals}")
if problems:
    sys.exit("check-junit: " + path + ":\n  " + "\n  ".join(problems))
print(f"check-junit: {path}: valid; {len(suites)} suites, "
      f"{totals['tests']} tests, {totals['failures']} failures, {totals['skipped']} skipped")
PY
