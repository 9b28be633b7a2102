//! One `kdc` at a time per cluster, across hosts: the lock is a container on the engine.
//!
//! Creating a container whose name is taken fails atomically on every engine, so the lock is a
//! created (never started) container `kdc-lock<suffix>` whose labels say who holds it, since
//! when and for which command. Two `up`s of one cluster — two CI jobs on one remote engine, or
//! a second terminal — would otherwise race on the same names and fail deep inside Docker. A
//! lock left by a kdc that died on this host (its PID is gone) is taken over; one held from
//! another host is reported with the command that releases it.

use std::collections::BTreeMap;

use std::time::{Duration, Instant};

use crate::runtime::{ContainerSpec, ErrorKind, Provider, ProviderError, labels};

/// The lock container's name for the cluster labelled `label`.
pub fn name(label: &str) -> String {
    format!("kdc-lock{}", crate::plan::suffix_for(label))
}

/// Who holds a lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub pid: Option<u32>,
    pub host: String,
    pub since: String,
    pub command: String,
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let pid = self.pid.map_or("?".to_string(), |p| p.to_string());
        write!(
            f,
            "kdc {} (pid {pid} on {}, since {})",
            self.command, self.host, self.since
        )
    }
}

impl Holder {
    fn from_labels(l: &BTreeMap<String, String>) -> Holder {
        let owner = l.get(labels::LOCK_OWNER).cloned().unwrap_or_default();
        let (pid, host) = owner
            .split_once('@')
            .map_or((None, owner.clone()), |(p, h)| {
                (p.parse().ok(), h.to_string())
            });
        Holder {
            pid,
            host,
            since: l.get(labels::LOCK_SINCE).cloned().unwrap_or_default(),
            command: l.get(labels::LOCK_COMMAND).cloned().unwrap_or_default(),
        }
    }

    /// Whether the holder is certainly gone: it ran on this host and its PID is not alive.
    fn is_gone(&self) -> bool {
        match self.pid {
            Some(pid) if self.host == hostname() => !alive(pid),
            _ => false,
        }
    }
}

/// Why the lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "another {holder} is working on {what}; wait for it to finish. If it is gone, `docker rm {lock}` releases the lock"
    )]
    Held {
        /// `cluster <label>`, or kdc's shared targets.
        what: String,
        holder: Holder,
        lock: String,
    },
    #[error(transparent)]
    Provider(#[from] ProviderError),
}

/// A held lock; release it with [`Lock::release`] (a drop cannot await).
#[derive(Debug)]
pub struct Lock {
    name: String,
}

impl Lock {
    /// Takes the lock of the cluster labelled `label` for `command`, taking over a lock left by
    /// a kdc that died on this host. The lock container is made from `image` (any image the
    /// engine has; it never runs). `Ok(None)` when the engine does not have the image: the
    /// caller goes on unlocked (and reports the missing image itself).
    pub async fn acquire(
        provider: &dyn Provider,
        label: &str,
        image: &str,
        command: &str,
    ) -> Result<Option<Lock>, LockError> {
        let own = BTreeMap::from([
            (label.to_string(), String::new()),
            (labels::CLUSTER.to_string(), label.to_string()),
        ]);
        let what = format!("cluster {label}");
        try_acquire(provider, &name(label), own, &what, image, command).await
    }

    /// Takes the lock of kdc's shared targets, waiting up to `within` while another kdc holds
    /// it: making the targets and attaching a router to them, or removing them after the last
    /// cluster, must not interleave between clusters coming up and going at once.
    pub async fn targets(
        provider: &dyn Provider,
        image: &str,
        command: &str,
        within: Duration,
    ) -> Result<Option<Lock>, LockError> {
        let own = BTreeMap::from([(
            crate::cluster::support::TARGETS_LABEL.to_string(),
            "1".to_string(),
        )]);
        let deadline = Instant::now() + within;
        loop {
            match try_acquire(
                provider,
                TARGETS_LOCK,
                own.clone(),
                "kdc's shared targets",
                image,
                command,
            )
            .await
            {
                Err(LockError::Held { .. }) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                other => return other,
            }
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub async fn release(self, provider: &dyn Provider) -> Result<(), ProviderError> {
        provider.remove_container(&self.name).await
    }
}

/// The lock of kdc's shared targets.
pub const TARGETS_LOCK: &str = "kdc-lock-targets";

/// Creates the lock container `name` carrying `own` labels, or says who holds it.
async fn try_acquire(
    provider: &dyn Provider,
    name: &str,
    own: BTreeMap<String, String>,
    what: &str,
    image: &str,
    command: &str,
) -> Result<Option<Lock>, LockError> {
    let name = name.to_string();
    let mut l = own;
    l.insert(labels::ROLE.into(), "lock".into());
    l.insert(
        labels::LOCK_OWNER.into(),
        format!("{}@{}", std::process::id(), hostname()),
    );
    l.insert(labels::LOCK_SINCE.into(), crate::dump::live::rfc3339_now());
    l.insert(labels::LOCK_COMMAND.into(), command.into());
    let lock = ContainerSpec {
        name: name.clone(),
        image: image.to_string(),
        labels: l,
        network: "none".into(),
        entrypoint: Some(vec!["true".into()]),
        ..Default::default()
    };
    let held = |holder| LockError::Held {
        what: what.to_string(),
        holder,
        lock: name.clone(),
    };
    for _ in 0..2 {
        match provider.create_container(&lock).await {
            Ok(_) => return Ok(Some(Lock { name })),
            Err(e) if e.kind == ErrorKind::NotFound => return Ok(None),
            Err(e) if e.kind == ErrorKind::Conflict => {
                let Some(have) = provider.container(&name).await? else {
                    continue; // released meanwhile
                };
                let holder = Holder::from_labels(&have.labels);
                if holder.is_gone() {
                    provider.remove_container(&name).await?;
                    continue;
                }
                return Err(held(holder));
            }
            Err(e) => return Err(e.into()),
        }
    }
    let holder = match provider.container(&name).await? {
        Some(c) => Holder::from_labels(&c.labels),
        None => Holder {
            pid: None,
            host: "?".into(),
            since: "?".into(),
            command: "?".into(),
        },
    };
    Err(held(holder))
}

/// The holder of a lock container found by `status`, when it is one.
pub fn holder_of(labels: &BTreeMap<String, String>) -> Option<Holder> {
    (labels.get(labels::ROLE).map(String::as_str) == Some("lock"))
        .then(|| Holder::from_labels(labels))
}

fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most buf.len() bytes into buf.
    let ok = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) } == 0;
    if !ok {
        return "unknown".into();
    }
    let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

fn alive(pid: u32) -> bool {
    // SAFETY: kill with signal 0 only checks that the process exists.
    let r = unsafe { libc::kill(pid as libc::pid_t, 0) };
    r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::fake::Fake;

    const LABEL: &str = "cluster-7";
    const IMAGE: &str = "kdc/node:bookworm";

    fn stale(owner: String) -> ContainerSpec {
        ContainerSpec {
            name: "kdc-lock-cluster-7".into(),
            labels: BTreeMap::from([
                (labels::CLUSTER.into(), LABEL.into()),
                (labels::ROLE.into(), "lock".into()),
                (labels::LOCK_OWNER.into(), owner),
                (labels::LOCK_COMMAND.into(), "up".into()),
            ]),
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn a_second_taker_is_told_who_holds_the_lock() {
        let f = Fake::with_image(IMAGE);
        let first = Lock::acquire(&f, LABEL, IMAGE, "up")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(first.name(), "kdc-lock-cluster-7");
        // Held by this live process: refused, naming it and the way out.
        let err = Lock::acquire(&f, LABEL, IMAGE, "clean").await.unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.starts_with(&format!(
                "another kdc up (pid {} on {}, since ",
                std::process::id(),
                hostname()
            )),
            "{msg}"
        );
        assert!(
            msg.ends_with("is working on cluster cluster-7; wait for it to finish. If it is gone, `docker rm kdc-lock-cluster-7` releases the lock"),
            "{msg}"
        );
        first.release(&f).await.unwrap();
        let again = Lock::acquire(&f, LABEL, IMAGE, "clean")
            .await
            .unwrap()
            .unwrap();
        again.release(&f).await.unwrap();
        assert!(f.state().containers.is_empty());
    }

    #[tokio::test]
    async fn a_lock_left_by_a_dead_kdc_on_this_host_is_taken_over() {
        let f = Fake::with_image(IMAGE);
        // A PID that cannot be alive: beyond the kernel's pid_max (at most 2^22).
        f.create_container(&stale(format!("{}@{}", 1 << 23, hostname())))
            .await
            .unwrap();
        let lock = Lock::acquire(&f, LABEL, IMAGE, "up")
            .await
            .unwrap()
            .unwrap();
        let held = f.state().containers["kdc-lock-cluster-7"].0.labels.clone();
        assert_eq!(
            held[labels::LOCK_OWNER],
            format!("{}@{}", std::process::id(), hostname())
        );
        lock.release(&f).await.unwrap();
    }

    #[tokio::test]
    async fn a_lock_from_another_host_is_never_taken_over() {
        let f = Fake::with_image(IMAGE);
        f.create_container(&stale(format!("{}@ci-runner-9", 1 << 23)))
            .await
            .unwrap();
        let err = Lock::acquire(&f, LABEL, IMAGE, "up").await.unwrap_err();
        assert!(
            matches!(&err, LockError::Held { holder, .. } if holder.host == "ci-runner-9"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn no_image_means_no_lock_but_no_error() {
        let f = Fake::default();
        assert!(
            Lock::acquire(&f, LABEL, IMAGE, "clean")
                .await
                .unwrap()
                .is_none()
        );
    }
}
