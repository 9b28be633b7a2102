//! What this `up` created, so that a failed or interrupted `up` removes exactly that and nothing
//! else (unless `--retain`).
//!
//! Every resource is recorded *before* it is requested: the engine may act on a request whose
//! answer never arrives (an interrupt, a timeout), and a resource recorded too late would leak.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crate::runtime::{ErrorKind, Provider, labels};

/// A resource `up` asked the engine for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Created {
    Network(String),
    Volume(String),
    Container(String),
    /// A container that undoes its changes to the engine's host when stopped (the host
    /// routes): stopped, with time to do that, before it is removed.
    Undoing(String),
}

impl std::fmt::Display for Created {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Created::Network(n) => write!(f, "network {n}"),
            Created::Volume(v) => write!(f, "volume {v}"),
            Created::Container(c) | Created::Undoing(c) => write!(f, "container {c}"),
        }
    }
}

/// The record, shared by the concurrent tasks of one `up`.
#[derive(Debug, Clone, Default)]
pub struct Ledger(Arc<Mutex<Vec<Created>>>);

impl Ledger {
    /// The entries, also after a task panicked while holding the lock: what it recorded is
    /// still true, and a rollback must see it.
    fn entries_mut(&self) -> MutexGuard<'_, Vec<Created>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn record(&self, c: Created) {
        let mut entries = self.entries_mut();
        if !entries.contains(&c) {
            entries.push(c);
        }
    }

    /// What was recorded, oldest first.
    pub fn entries(&self) -> Vec<Created> {
        self.entries_mut().clone()
    }

    /// Removes what was created, newest first. Errors are collected, not fatal: remove all we
    /// can, and say what is left.
    ///
    /// The engine may finish a create after the client gave up on it, so containers are removed
    /// until none of the recorded ones is listed any more, and a volume still in use by a
    /// container that was being removed is tried again.
    pub async fn rollback(&self, provider: &dyn Provider) -> Vec<String> {
        let created = std::mem::take(&mut *self.entries_mut());
        let mut errors = Vec::new();
        for c in created.iter().rev() {
            if let Created::Undoing(n) = c
                && let Err(e) = provider
                    .stop_container(n, super::host_routes::STOP_GRACE)
                    .await
            {
                errors.push(e.to_string());
            }
        }
        let containers: Vec<&str> = created
            .iter()
            .filter_map(|c| match c {
                Created::Container(n) | Created::Undoing(n) => Some(n.as_str()),
                _ => None,
            })
            .collect();
        for attempt in 0..20 {
            errors.clear();
            for name in containers.iter().rev() {
                if let Err(e) = provider.remove_container(name).await {
                    errors.push(e.to_string());
                }
            }
            let listed = match provider.list_containers(labels::CLUSTER).await {
                Ok(l) => l,
                Err(e) => {
                    errors.push(e.to_string());
                    break;
                }
            };
            if !listed.iter().any(|c| containers.contains(&c.name.as_str())) {
                break;
            }
            if attempt < 19 {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        for c in created.iter().rev() {
            for attempt in 0..10 {
                let r = match c {
                    Created::Container(_) | Created::Undoing(_) => break,
                    Created::Volume(v) => provider.remove_volume(v).await,
                    Created::Network(n) => provider.remove_network(n).await,
                };
                match r {
                    Err(e) if e.kind == ErrorKind::InUse && attempt < 9 => {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                    Err(e) => {
                        errors.push(e.to_string());
                        break;
                    }
                    Ok(()) => break,
                }
            }
        }
        errors
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A task that panicked while recording must not hide the record from the rollback.
    #[test]
    fn a_poisoned_ledger_keeps_its_entries() {
        let ledger = Ledger::default();
        ledger.record(Created::Network("n".into()));
        let held = ledger.clone();
        let _ = std::thread::spawn(move || {
            let _guard = held.0.lock().unwrap();
            panic!("a task failed while holding the ledger");
        })
        .join();
        assert!(ledger.0.is_poisoned());
        ledger.record(Created::Volume("v".into()));
        ledger.record(Created::Volume("v".into()));
        assert_eq!(
            ledger.entries(),
            vec![Created::Network("n".into()), Created::Volume("v".into())]
        );
    }

    /// A container that undoes host changes is stopped (its script deletes them) before any
    /// container is removed.
    #[tokio::test]
    async fn rollback_stops_an_undoing_container_before_removing_anything() {
        use crate::runtime::ContainerSpec;
        let f = crate::runtime::fake::Fake::default();
        for n in ["node", "routes"] {
            let spec = ContainerSpec {
                name: n.into(),
                labels: [(labels::CLUSTER.to_string(), "c".to_string())].into(),
                ..Default::default()
            };
            f.run_container(&spec).await.unwrap();
        }
        let ledger = Ledger::default();
        ledger.record(Created::Container("node".into()));
        ledger.record(Created::Undoing("routes".into()));
        assert_eq!(ledger.rollback(&f).await, Vec::<String>::new());
        let calls: Vec<String> = f.calls().into_iter().skip(2).collect();
        assert_eq!(calls, ["stop routes", "rm routes", "rm node"]);
    }
}
