#!/bin/sh
# Runs once at image build time, inside the image, offline (no apt-get).
# Turns a Debian rootfs into a container-friendly systemd node: masks units that
# cannot work without real hardware/kernel access, so that `systemctl
# is-system-running` reports "running" instead of "degraded".
set -eu

# Units that need ttys, udev, kernel modules, a writable root block device,
# special kernel filesystems or periodic maintenance: none apply in a container.
systemctl mask \
    getty.target console-getty.service getty@tty1.service serial-getty@.service \
    systemd-udevd.service systemd-udevd-control.socket systemd-udevd-kernel.socket \
    systemd-udev-trigger.service systemd-udev-settle.service systemd-hwdb-update.service \
    systemd-modules-load.service kmod-static-nodes.service \
    systemd-remount-fs.service systemd-firstboot.service systemd-machine-id-commit.service \
    systemd-binfmt.service proc-sys-fs-binfmt_misc.automount proc-sys-fs-binfmt_misc.mount \
    sys-kernel-config.mount sys-kernel-debug.mount sys-kernel-tracing.mount \
    sys-fs-fuse-connections.mount dev-hugepages.mount dev-mqueue.mount \
    systemd-journald-audit.socket systemd-pstore.service systemd-repart.service \
    systemd-pcrphase.service systemd-pcrphase-sysinit.service \
    systemd-ask-password-wall.path systemd-ask-password-console.path \
    e2scrub_reap.service e2scrub_all.timer fstrim.timer \
    apt-daily.timer apt-daily-upgrade.timer dpkg-db-backup.timer
systemctl set-default multi-user.target

# journald: the kernel ring buffer is the host's; don't read it.
mkdir -p /etc/systemd/journald.conf.d
printf '[Journal]\nReadKMsg=no\n' > /etc/systemd/journald.conf.d/10-kdc.conf

# Empty machine-id: systemd generates a fresh one per container at boot.
: > /etc/machine-id
rm -f /var/lib/dbus/machine-id

# Sanity checks (fail the build early rather than at cluster start).
test -x /lib/systemd/systemd
for b in ip iptables ping socat dig getent timeout base64; do command -v "$b" >/dev/null; done
for p in bridge ptp host-local loopback; do test -x "/usr/lib/cni/$p"; done
