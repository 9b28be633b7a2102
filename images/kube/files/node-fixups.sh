#!/bin/sh
# Runs at every boot of a kdc Kubernetes node, before containerd and kubelet. A node started
# with --privileged needs none of this; in the capability fallback (hosts that refuse
# --privileged) Docker mounts the cgroup v1 hierarchies and /proc/sys read-only, and runc and
# kubelet must write there. Every step is skipped when already done.
set -eu
say() { echo "kdc-node-fixups: $*"; }

# kubelet's OOM watcher reads the kernel log; a container has none (kind links it the same way).
[ -e /dev/kmsg ] || { ln -s /dev/console /dev/kmsg && say "linked /dev/kmsg to /dev/console"; }

# kubelet sets kernel tunables (vm.overcommit_memory, kernel.panic, ...). They are not
# namespaced: as on kind, they change the host's values.
if awk '$5 == "/proc/sys" && $6 ~ /^ro/ {found=1} END {exit !found}' /proc/self/mountinfo; then
    mount -o remount,rw /proc/sys && say "remounted /proc/sys read-write"
fi

# cgroup v1: make each read-only hierarchy writable. Remounting the bind read-write keeps the
# view Docker gave (the node's private cgroup namespace shows the node's own cgroup as the
# root), so runc and kubelet stay inside it. name=systemd too: kubelet's cgroupfs driver checks
# its cgroups exist in every hierarchy.
awk '{
    for (i = 7; $i != "-"; i++) {}
    if ($(i+1) == "cgroup" && $6 ~ /^ro/) print $5
}' /proc/self/mountinfo | while read -r dir; do
    if mount -o remount,bind,rw "$dir"; then
        say "made $dir writable"
    else
        say "WARNING: could not make $dir writable"
    fi
done

# Volumes with mount propagation (kubelet, CSI) need a shared root.
mount --make-rshared / 2>/dev/null || true
