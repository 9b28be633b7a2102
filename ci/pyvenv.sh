# Sourced by the ci/check-*.sh scripts: a python venv with one pinned PyPI package, made on the
# first run (pip needs PyPI) and reused afterwards, offline. The marker is written last, so an
# interrupted install is redone; flock keeps parallel runs (cargo test threads, CI jobs) from
# installing at once.
#
#   ensure_venv VENV PACKAGE VERSION      (calls `die MESSAGE` on failure)
ensure_venv() {
    local venv="$1" package="$2" version="$3"
    local marker="$venv/.$package-$version"
    [ -f "$marker" ] && return 0
    mkdir -p "$(dirname "$venv")"
    (
        if command -v flock >/dev/null; then flock 9; fi
        if [ ! -f "$marker" ]; then
            rm -rf "$venv"
            python3 -m venv "$venv" >&2 ||
                die "cannot create a python venv in $venv: install python3-venv (run ci/setup-host.sh)"
            "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
                "$package==$version" >&2 ||
                die "cannot install $package==$version from PyPI into $venv"
            touch "$marker"
        fi
    ) 9>"$venv.lock"
}
