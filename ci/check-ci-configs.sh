#!/usr/bin/env bash
# Validates generated CI configs against their providers' schemas with PyPI check-jsonschema
# (its vendored SchemaStore schemas: vendor.circle-ci, vendor.github-workflows, vendor.gitlab-ci,
# vendor.travis), offline once installed.
#
#   ci/check-ci-configs.sh PROVIDER=FILE...      e.g. github=ci/generated/github.yml
#
# check-jsonschema lives in a venv, $KDC_CI_VENV or <repo>/target/ci-venv, made on the first run
# (pip needs PyPI) and reused afterwards, as ci/check-junit.sh does with junitparser.
set -euo pipefail

die() { printf 'check-ci-configs: %s\n' "$*" >&2; exit 1; }

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
version=0.39.0
venv="${KDC_CI_VENV:-$repo_root/target/ci-venv}"
[ $# -gt 0 ] || die "usage: ci/check-ci-configs.sh PROVIDER=FILE... (providers: circleci github gitlab travis)"
command -v python3 >/dev/null ||
    die "python3 not found: install python3 and python3-venv (run ci/setup-host.sh)"

# shellcheck source=ci/pyvenv.sh
. "$repo_root/ci/pyvenv.sh"
ensure_venv "$venv" check-jsonschema "$version"

status=0
for arg in "$@"; do
    provider="${arg%%=*}"
    file="${arg#*=}"
    case "$provider" in
        circleci) schema=vendor.circle-ci ;;
        github) schema=vendor.github-workflows ;;
        gitlab) schema=vendor.gitlab-ci ;;
        travis) schema=vendor.travis ;;
        *) die "$arg: unknown provider $provider (circleci github gitlab travis)" ;;
    esac
    [ -f "$file" ] || die "$file: no such file"
    if "$venv/bin/check-jsonschema" --builtin-schema "$schema" "$file" >/dev/null 2>"$venv.err"; then
        echo "check-ci-configs: $file: valid against $schema"
    else
        "$venv/bin/check-jsonschema" --builtin-schema "$schema" "$file" >&2 || true
        echo "check-ci-configs: $file: NOT valid against $schema" >&2
        status=1
    fi
done
exit $status
