//! The host's cgroup version. kubelet from 1.35 refuses cgroup v1 unless its configuration
//! says `failCgroupV1: false` (KEP 5573), so the kubeadm configuration, `kdc doctor` and `up`
//! need to know which one the host runs.

use std::path::Path;

/// Where Linux mounts the cgroup hierarchy.
pub const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// Whether this machine runs cgroup v1 (see [`cgroup_v1_at`]). It describes the engine's host
/// only when the engine is local; `up` asks the engine itself.
pub fn host_cgroup_v1() -> bool {
    cgroup_v1_at(Path::new(CGROUP_ROOT))
}

/// Whether the cgroup hierarchy mounted at `root` is v1: it exists and has no
/// `cgroup.controllers`, the file the root of every cgroup2 file system holds. A hybrid host
/// (v1 controllers, a cgroup2 tree only under `unified/`) is v1, as kubelet sees it. No
/// hierarchy at all is not v1: there is nothing to tell kubelet.
pub fn cgroup_v1_at(root: &Path) -> bool {
    root.is_dir() && !root.join("cgroup.controllers").exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v2_is_known_by_its_controllers_file_and_hybrid_counts_as_v1() {
        let v2 = tempfile::tempdir().unwrap();
        std::fs::write(v2.path().join("cgroup.controllers"), "cpu memory pids\n").unwrap();
        assert!(!cgroup_v1_at(v2.path()));

        let hybrid = tempfile::tempdir().unwrap();
        for d in ["cpu", "memory", "systemd", "unified"] {
            std::fs::create_dir(hybrid.path().join(d)).unwrap();
        }
        std::fs::write(hybrid.path().join("unified/cgroup.controllers"), "").unwrap();
        assert!(cgroup_v1_at(hybrid.path()));

        assert!(!cgroup_v1_at(&hybrid.path().join("absent")));
    }
}
