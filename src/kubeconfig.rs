//! The user's kubeconfig. `kdc clean` removes its cluster's entries (the kubeadm bootstrapper
//! adds them), as `kubeadm-dind-cluster clean` did with `kubectl config delete-cluster` and
//! `delete-context`, but without needing kubectl.
//!
//! The file is chosen by kubectl's rules, locked with kubectl's own `<file>.lock` so the two
//! never interleave, and replaced atomically (write a sibling, then rename), so an interrupted
//! `clean` leaves either the old file or the new one. A file that is not YAML is left untouched.

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

/// Why the kubeconfig could not be updated. Each names the file and what to do.
#[derive(Debug, thiserror::Error)]
pub enum KubeconfigError {
    #[error(
        "kubeconfig {} is locked ({} exists); if no kubectl is running, remove the lock file and run again",
        file.display(),
        lock.display()
    )]
    Locked { file: PathBuf, lock: PathBuf },
    #[error("kubeconfig {} is not valid YAML ({reason}); fix or move it, then run again", file.display())]
    Parse { file: PathBuf, reason: String },
    #[error("cannot update kubeconfig {}", file.display())]
    Io {
        file: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// The kubeconfig files kubectl reads: every existing file of `$KUBECONFIG`, else
/// `$HOME/.kube/config`. An entry can live in any of them, and kubectl deletes it where it is.
pub fn files(vars: &[(String, String)]) -> Vec<PathBuf> {
    let var = |k: &str| {
        vars.iter()
            .find(|(n, v)| n == k && !v.is_empty())
            .map(|(_, v)| v.as_str())
    };
    match var("KUBECONFIG") {
        Some(list) => std::env::split_paths(list)
            .filter(|p| !p.as_os_str().is_empty() && p.exists())
            .collect(),
        None => var("HOME")
            .map(|h| Path::new(h).join(".kube/config"))
            .into_iter()
            .collect(),
    }
}

/// The file `up` adds the cluster's context to, as kubectl chooses where to write a new entry:
/// the first file of `$KUBECONFIG`, else `$HOME/.kube/config`.
pub fn target(vars: &[(String, String)]) -> PathBuf {
    let var = |k: &str| {
        vars.iter()
            .find(|(n, v)| n == k && !v.is_empty())
            .map(|(_, v)| v.as_str())
    };
    if let Some(first) =
        var("KUBECONFIG").and_then(|l| std::env::split_paths(l).find(|p| !p.as_os_str().is_empty()))
    {
        return first;
    }
    Path::new(var("HOME").unwrap_or("/root")).join(".kube/config")
}

/// What [`remove`] took out of a kubeconfig.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Removed {
    pub file: PathBuf,
    pub name: String,
    pub clusters: usize,
    pub contexts: usize,
    pub users: usize,
    /// The name was the current context, which is now unset (as `kubectl config
    /// delete-context` leaves it).
    pub was_current: bool,
}

/// Removes the cluster, context and user called `name` from `file`. `None` when the file does
/// not exist or holds none of them, in which case it is not rewritten.
pub fn remove(file: &Path, name: &str) -> Result<Option<Removed>, KubeconfigError> {
    if !file.exists() {
        return Ok(None);
    }
    let _lock = Lock::acquire(file)?;
    // A symlinked kubeconfig is edited where it points, as kubectl does.
    let file = &fs::canonicalize(file).map_err(|source| KubeconfigError::Io {
        file: file.to_path_buf(),
        source,
    })?;
    let io_err = |source| KubeconfigError::Io {
        file: file.to_path_buf(),
        source,
    };
    let text = fs::read_to_string(file).map_err(io_err)?;
    let mut doc: Value = if text.trim().is_empty() {
        Value::Null
    } else {
        serde_saphyr::from_str(&text).map_err(|e| KubeconfigError::Parse {
            file: file.to_path_buf(),
            reason: e.to_string(),
        })?
    };
    let Some(map) = doc.as_object_mut() else {
        return Ok(None);
    };
    let mut drop_named = |key: &str| match map.get_mut(key).and_then(Value::as_array_mut) {
        Some(list) => {
            let before = list.len();
            list.retain(|e| e.get("name").and_then(Value::as_str) != Some(name));
            before - list.len()
        }
        None => 0,
    };
    let (clusters, contexts, users) = (
        drop_named("clusters"),
        drop_named("contexts"),
        drop_named("users"),
    );
    let was_current = map.get("current-context").and_then(Value::as_str) == Some(name);
    if was_current {
        map.insert("current-context".into(), Value::String(String::new()));
    }
    if clusters + contexts + users == 0 && !was_current {
        return Ok(None);
    }
    let out = serde_saphyr::to_string(&doc).map_err(|e| io_err(io::Error::other(e.to_string())))?;
    replace(file, out.as_bytes()).map_err(io_err)?;
    Ok(Some(Removed {
        file: file.to_path_buf(),
        name: name.to_string(),
        clusters,
        contexts,
        users,
        was_current,
    }))
}

/// Reads a kubeconfig file as a JSON value (an empty or missing file is `Null`).
fn load(file: &Path) -> Result<Value, KubeconfigError> {
    let text = match fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => String::new(),
        Err(source) => {
            return Err(KubeconfigError::Io {
                file: file.to_path_buf(),
                source,
            });
        }
    };
    if text.trim().is_empty() {
        return Ok(Value::Null);
    }
    serde_saphyr::from_str(&text).map_err(|e| KubeconfigError::Parse {
        file: file.to_path_buf(),
        reason: e.to_string(),
    })
}

/// Adds the cluster of kubeadm's `admin.conf` (`admin`, its text) to `file` as the cluster,
/// context and user `name`, with `server` as the API address the host reaches, and makes it the
/// current context, as `kubectl config set-cluster/set-credentials/set-context/use-context`
/// would. Entries of other names and every other value are kept; a missing file is created with
/// mode 0600. Under kubectl's lock, replaced atomically.
pub fn merge(
    file: &Path,
    name: &str,
    admin: &str,
    server: &str,
) -> Result<PathBuf, KubeconfigError> {
    let admin_doc: Value = serde_saphyr::from_str(admin).map_err(|e| KubeconfigError::Parse {
        file: PathBuf::from("/etc/kubernetes/admin.conf"),
        reason: e.to_string(),
    })?;
    let first = |key: &str, inner: &str| admin_doc[key][0][inner].clone();
    let mut cluster = first("clusters", "cluster");
    let user = first("users", "user");
    if !cluster.is_object() || !user.is_object() {
        return Err(KubeconfigError::Parse {
            file: PathBuf::from("/etc/kubernetes/admin.conf"),
            reason: "no cluster or user entry".into(),
        });
    }
    cluster["server"] = Value::String(server.to_string());
    if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).map_err(|source| KubeconfigError::Io {
            file: dir.to_path_buf(),
            source,
        })?;
    }
    if !file.exists() {
        fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(file)
            .map_err(|source| KubeconfigError::Io {
                file: file.to_path_buf(),
                source,
            })?;
    }
    let _lock = Lock::acquire(file)?;
    let file = &fs::canonicalize(file).map_err(|source| KubeconfigError::Io {
        file: file.to_path_buf(),
        source,
    })?;
    let mut doc = load(file)?;
    if doc.is_null() {
        doc = serde_json::json!({"apiVersion": "v1", "kind": "Config", "preferences": {}});
    }
    let Some(map) = doc.as_object_mut() else {
        return Err(KubeconfigError::Parse {
            file: file.clone(),
            reason: "not a mapping".into(),
        });
    };
    let mut upsert = |key: &str, inner: &str, value: Value| {
        let entry = serde_json::json!({"name": name, inner: value});
        let list = map.entry(key).or_insert_with(|| Value::Array(Vec::new()));
        if !list.is_array() {
            *list = Value::Array(Vec::new());
        }
        let list = list.as_array_mut().expect("an array");
        match list.iter_mut().find(|e| e["name"] == name) {
            Some(e) => *e = entry,
            None => list.push(entry),
        }
    };
    upsert("clusters", "cluster", cluster);
    upsert("users", "user", user);
    upsert(
        "contexts",
        "context",
        serde_json::json!({"cluster": name, "user": name}),
    );
    map.insert("current-context".into(), Value::String(name.to_string()));
    let io_err = |source| KubeconfigError::Io {
        file: file.clone(),
        source,
    };
    let out = serde_saphyr::to_string(&doc).map_err(|e| io_err(io::Error::other(e.to_string())))?;
    replace(file, out.as_bytes()).map_err(io_err)?;
    Ok(file.clone())
}

/// Writes `data` to a sibling of `file` with its permissions and owner, then renames it over
/// `file`. Where that cannot be done — a bind-mounted file (devcontainers) cannot be renamed
/// over, and only root can hand a new file to another user — the file is rewritten in place,
/// as kubectl always does.
fn replace(file: &Path, data: &[u8]) -> io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let meta = fs::metadata(file)?;
    let name = file.file_name().unwrap_or_default().to_string_lossy();
    let tmp = file.with_file_name(format!(".{name}.kdc-{}", std::process::id()));
    let atomic = (|| {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        f.set_permissions(fs::Permissions::from_mode(meta.permissions().mode()))?;
        std::os::unix::fs::fchown(&f, Some(meta.uid()), Some(meta.gid()))?;
        f.write_all(data)?;
        f.sync_all()?;
        fs::rename(&tmp, file)
    })();
    if atomic.is_ok() {
        return Ok(());
    }
    let _ = fs::remove_file(&tmp);
    let mut f = fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(file)?;
    f.write_all(data)?;
    f.sync_all()
}

/// kubectl's lock: `<file>.lock`, created exclusively, removed when done.
struct Lock(PathBuf);

impl Lock {
    /// Tries a few times with kind's back-off (0, 1, 50, 100 ms) before giving up.
    fn acquire(file: &Path) -> Result<Lock, KubeconfigError> {
        let mut lock = file.as_os_str().to_owned();
        lock.push(".lock");
        let lock = PathBuf::from(lock);
        for wait in [0, 1, 50, 100] {
            std::thread::sleep(Duration::from_millis(wait));
            match fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&lock)
            {
                Ok(_) => return Ok(Lock(lock)),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(source) => {
                    return Err(KubeconfigError::Io { file: lock, source });
                }
            }
        }
        Err(KubeconfigError::Locked {
            file: file.to_path_buf(),
            lock,
        })
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWO: &str = "apiVersion: v1
clusters:
- cluster:
    insecure-skip-tls-verify: true
    server: http://127.0.0.1:32768
  name: dind
- cluster:
    certificate-authority-data: LS0tLS1CRUdJTg==
    server: https://127.0.0.1:6443
  name: kind-kind
contexts:
- context:
    cluster: dind
  name: dind
- context:
    cluster: kind-kind
    user: kind-kind
  name: kind-kind
current-context: dind
kind: Config
preferences: {}
users:
- name: kind-kind
  user:
    token: abc
";

    fn vars(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn files_follow_kubectl() {
        let tmp = tempfile::tempdir().unwrap();
        let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
        let list = format!("{}:{}", a.display(), b.display());
        assert_eq!(
            files(&vars(&[("KUBECONFIG", &list)])),
            Vec::<PathBuf>::new()
        );
        fs::write(&b, "").unwrap();
        assert_eq!(files(&vars(&[("KUBECONFIG", &list)])), vec![b.clone()]);
        fs::write(&a, "").unwrap();
        assert_eq!(files(&vars(&[("KUBECONFIG", &list)])), [a, b]);
        assert_eq!(
            files(&vars(&[("KUBECONFIG", ""), ("HOME", "/home/u")])),
            [PathBuf::from("/home/u/.kube/config")]
        );
        assert_eq!(files(&[]), Vec::<PathBuf>::new());
    }

    #[test]
    fn a_symlinked_kubeconfig_is_edited_where_it_points() {
        let tmp = tempfile::tempdir().unwrap();
        let real = tmp.path().join("real");
        let link = tmp.path().join("link");
        fs::write(&real, TWO).unwrap();
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let removed = remove(&link, "dind").unwrap().unwrap();
        assert_eq!(
            (removed.file, removed.clusters, removed.contexts),
            (fs::canonicalize(&real).unwrap(), 1, 1)
        );
        assert!(
            fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert!(!fs::read_to_string(&real).unwrap().contains("name: dind\n"));
        assert!(!tmp.path().join("link.lock").exists());
    }

    #[test]
    fn removes_only_the_named_entries() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("config");
        fs::write(&file, TWO).unwrap();
        fs::set_permissions(&file, fs::Permissions::from_mode(0o600)).unwrap();
        // Root (as in CI) cleaning another user's file must leave it theirs.
        // SAFETY: geteuid has no preconditions.
        let root = unsafe { libc::geteuid() } == 0;
        if root {
            std::os::unix::fs::chown(&file, Some(65534), Some(65534)).unwrap();
        }
        let removed = remove(&file, "dind").unwrap().unwrap();
        if root {
            use std::os::unix::fs::MetadataExt;
            assert_eq!(fs::metadata(&file).unwrap().uid(), 65534);
        }
        assert_eq!(
            (removed.clusters, removed.contexts, removed.users),
            (1, 1, 0)
        );
        assert!(removed.was_current);
        let after: Value = serde_saphyr::from_str(&fs::read_to_string(&file).unwrap()).unwrap();
        let mut want: Value = serde_saphyr::from_str(TWO).unwrap();
        for key in ["clusters", "contexts"] {
            want[key].as_array_mut().unwrap().remove(0);
        }
        want["current-context"] = Value::String(String::new());
        assert_eq!(after, want);
        assert_eq!(
            fs::metadata(&file).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let left: Vec<_> = fs::read_dir(tmp.path()).unwrap().collect();
        assert_eq!(left.len(), 1, "no lock or temporary file left");
        // Nothing left to remove: the file is not rewritten.
        let before = fs::metadata(&file).unwrap().modified().unwrap();
        assert_eq!(remove(&file, "dind").unwrap(), None);
        assert_eq!(fs::metadata(&file).unwrap().modified().unwrap(), before);
    }

    #[test]
    fn missing_empty_locked_and_broken_files() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("config");
        assert_eq!(remove(&file, "dind").unwrap(), None);
        fs::write(&file, "").unwrap();
        assert_eq!(remove(&file, "dind").unwrap(), None);

        fs::write(&file, TWO).unwrap();
        fs::write(tmp.path().join("config.lock"), "").unwrap();
        let err = remove(&file, "dind").unwrap_err().to_string();
        assert!(err.contains("config.lock exists"), "{err}");
        assert_eq!(fs::read_to_string(&file).unwrap(), TWO);
        fs::remove_file(tmp.path().join("config.lock")).unwrap();

        let broken = "clusters: [\n  - name: dind\n";
        fs::write(&file, broken).unwrap();
        let err = remove(&file, "dind").unwrap_err().to_string();
        assert!(err.contains("is not valid YAML"), "{err}");
        assert_eq!(fs::read_to_string(&file).unwrap(), broken);
    }
}
