#!/bin/sh
# kdc/support entrypoint: recreate the runtime directories that a `--tmpfs /run`
# (or a fresh volume) would hide, then run the given command (default: sleep).
# kdc itself runs named/tayga with explicit commands and does not rely on this.
set -eu
mkdir -p /run/named /var/cache/bind /var/db/tayga
chown bind:bind /run/named   # named -u bind writes its pid/session key here
exec "$@"
