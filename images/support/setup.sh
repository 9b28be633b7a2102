#!/bin/sh
# Runs once at image build time, inside the image, offline (no apt-get).
set -eu
install -m 0755 /usr/local/lib/kdc/entrypoint.sh /usr/local/bin/kdc-support-entrypoint
mkdir -p /run/named /var/db/tayga
chown bind:bind /run/named
# Sanity checks: the binaries kdc runs must exist and start.
named -v >/dev/null
for b in tayga ip iptables ip6tables ping dig; do command -v "$b" >/dev/null; done
