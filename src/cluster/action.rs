//! The action abstraction: `up` is an ordered list of small actions, each with a stable name (the
//! progress line's key, the JUnit case, the error's context), a description for the progress
//! line, and `run`. Adding a step — support containers, kubeadm init — is one new file in
//! `actions/` and one line in the list in [`super::up`].

use std::time::{Duration, Instant};

use super::ledger::Ledger;
use super::spec::HostFacts;
use crate::plan::Plan;
use crate::report::{Emitter, EventKind};
use crate::runtime::{ExecError, NodeExec, Privilege, Provider, ProviderError};
use crate::signal::Stop;

/// What sets Kubernetes up on the machines once they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Bootstrapper {
    /// Machines only: node containers with systemd, no Kubernetes.
    #[default]
    None,
    /// Kubernetes with kubeadm: `init` on the master, `join` on the workers (a node image that
    /// carries Kubernetes: `kdc image build node`).
    Kubeadm,
}

/// What the kubeadm bootstrapper needs beyond the plan.
#[derive(Debug, Clone)]
pub struct KubeOptions {
    pub release: &'static crate::kube::Release,
    pub feature_gates: Option<String>,
    pub kubelet_feature_gates: Option<String>,
    /// The engine host runs cgroup v1.
    pub cgroup_v1: bool,
    /// This run's bootstrap token (`[a-z0-9]{6}.[a-z0-9]{16}`).
    pub token: String,
    /// How long nodes and kube-system pods may take to be Ready.
    pub ready_timeout: Duration,
    /// The kubeconfig file to merge the cluster's context into; `None` leaves the user's alone.
    pub kubeconfig: Option<std::path::PathBuf>,
}

impl KubeOptions {
    /// The options of a CI cell's cluster: the plan's release, the host's cgroup version, a
    /// new token, 300 s to Ready, the user's kubeconfig untouched. `None` when the plan names
    /// no supported release or no token can be made (the image action then says what is wrong).
    pub fn for_cell(plan: &Plan) -> Option<KubeOptions> {
        Some(KubeOptions {
            release: crate::kube::release_for(&plan.k8s_version).ok()?,
            feature_gates: None,
            kubelet_feature_gates: None,
            cgroup_v1: crate::kube::host_cgroup_v1(),
            token: Self::new_token().ok()?,
            ready_timeout: Duration::from_secs(300),
            kubeconfig: None,
        })
    }

    /// A fresh random bootstrap token, from the kernel's random source.
    pub fn new_token() -> std::io::Result<String> {
        use std::io::Read;
        const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
        let mut bytes = [0u8; 22];
        std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
        let pick: String = bytes
            .iter()
            .map(|b| CHARS[usize::from(*b) % CHARS.len()] as char)
            .collect();
        Ok(format!("{}.{}", &pick[..6], &pick[6..]))
    }
}

/// Options of `up` that are not part of the plan.
#[derive(Debug, Clone)]
pub struct UpOptions {
    pub bootstrapper: Bootstrapper,
    /// Set with [`Bootstrapper::Kubeadm`].
    pub kube: Option<KubeOptions>,
    pub host: HostFacts,
    /// How long each node may take to reach systemd `running`.
    pub systemd_timeout: Duration,
    /// Always start fresh: recreate the node volumes.
    pub skip_snapshot: bool,
    /// Keep what was created when `up` fails or is interrupted, and say how to remove it.
    pub retain: bool,
    /// Remove what was created when `up` fails (unless `retain`). A caller that dumps the
    /// failed cluster before removing it itself (a test run) turns this off.
    pub rollback: bool,
    /// Change the engine host's routes and ip6tables as `--host-routes` asks.
    pub host_routes: bool,
}

impl Default for UpOptions {
    /// `kdc up`'s defaults on a host without `/lib/modules`.
    fn default() -> Self {
        UpOptions {
            bootstrapper: Bootstrapper::None,
            kube: None,
            host: crate::cluster::spec::HostFacts { lib_modules: false },
            systemd_timeout: Duration::from_secs(120),
            skip_snapshot: false,
            retain: false,
            rollback: true,
            host_routes: false,
        }
    }
}

/// What the actions found out, for the actions after them and for the caller.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpState {
    /// The host port of the API server, once the volumes action chose it.
    pub apiserver_port: Option<u16>,
    /// Nodes whose volume existed, so they restart from it; nodes that start fresh.
    pub restarted: Vec<String>,
    pub fresh: Vec<String>,
    /// How the nodes were started.
    pub privilege: Option<Privilege>,
    /// Support containers started by this run, with the log line that says each is ready.
    pub awaiting: Vec<(String, &'static str)>,
    /// Each node's pod sandbox addresses (bare clusters with bridge or ptp).
    pub pods: std::collections::BTreeMap<String, Vec<std::net::IpAddr>>,
    /// kubeadm's admin.conf from the master, as written there (server: the node's address).
    pub admin_kubeconfig: Option<String>,
}

impl UpState {
    /// Adds what an action run alongside others found, starting from the same state as this.
    fn merge(&mut self, other: UpState) {
        self.apiserver_port = self.apiserver_port.or(other.apiserver_port);
        self.privilege = self.privilege.or(other.privilege);
        for (mine, theirs) in [
            (&mut self.restarted, other.restarted),
            (&mut self.fresh, other.fresh),
        ] {
            for n in theirs {
                if !mine.contains(&n) {
                    mine.push(n);
                }
            }
        }
        for a in other.awaiting {
            if !self.awaiting.contains(&a) {
                self.awaiting.push(a);
            }
        }
        self.pods.extend(other.pods);
        self.admin_kubeconfig = self.admin_kubeconfig.take().or(other.admin_kubeconfig);
    }
}

/// What an action works with: the two seams, the plan, the options, the ledger, the events, and
/// what earlier actions found.
pub struct ActionContext<'a> {
    pub provider: &'a dyn Provider,
    pub exec: &'a dyn NodeExec,
    pub plan: &'a Plan,
    pub options: &'a UpOptions,
    pub ledger: &'a Ledger,
    pub events: Emitter,
    pub stop: Stop,
    pub state: UpState,
}

impl ActionContext<'_> {
    /// The kubeadm bootstrapper's options; an action of that bootstrapper without them is a
    /// bug in the list of actions.
    pub fn kube(&self) -> Result<&KubeOptions, ActionError> {
        self.options.kube.as_ref().ok_or_else(|| {
            ActionError::Check("the kubeadm bootstrapper's options are missing".into())
        })
    }
}

/// Why an action failed.
#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    #[error(transparent)]
    Provider(#[from] ProviderError),
    #[error(transparent)]
    Exec(#[from] ExecError),
    /// A condition kdc checked itself, with the fix in the message.
    #[error("{0}")]
    Check(String),
    /// A signal asked kdc to stop.
    #[error("interrupted")]
    Interrupted,
}

/// A failed cluster command: which action failed, and why.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("{detail} failed")]
    Action {
        detail: String,
        #[source]
        source: ActionError,
    },
    #[error("interrupted")]
    Interrupted,
}

/// One step of `up`.
#[async_trait::async_trait]
pub trait Action: Send + Sync {
    /// The stable id: progress line key, JUnit case, error context.
    fn name(&self) -> &'static str;
    /// The progress line, e.g. "Creating network kubeadm-dind-net".
    fn describe(&self, cx: &ActionContext<'_>) -> String;
    async fn run(&self, cx: &mut ActionContext<'_>) -> Result<(), ActionError>;
    /// For [`Together`]: the actions run at the same time, each with its own progress line.
    fn parts(&self) -> &[Box<dyn Action>] {
        &[]
    }
}

/// Actions that need nothing from each other, run at the same time (the support containers
/// and the nodes: on two cores the engine's container starts overlap their waits).
pub struct Together(pub Vec<Box<dyn Action>>);

#[async_trait::async_trait]
impl Action for Together {
    fn name(&self) -> &'static str {
        "together"
    }

    fn describe(&self, cx: &ActionContext<'_>) -> String {
        let parts: Vec<String> = self.0.iter().map(|a| a.describe(cx)).collect();
        parts.join("; ")
    }

    async fn run(&self, cx: &mut ActionContext<'_>) -> Result<(), ActionError> {
        for a in &self.0 {
            a.run(cx).await?;
        }
        Ok(())
    }

    fn parts(&self) -> &[Box<dyn Action>] {
        &self.0
    }
}

/// Runs the actions in order, one progress line each; stops at the first failure, and before
/// the next action once a stop was requested.
pub async fn run_actions(
    actions: &[Box<dyn Action>],
    cx: &mut ActionContext<'_>,
) -> Result<(), ClusterError> {
    for action in actions {
        if cx.stop.requested() {
            return Err(ClusterError::Interrupted);
        }
        if !action.parts().is_empty() {
            run_together(action.parts(), cx).await?;
            continue;
        }
        let detail = action.describe(cx);
        let events = cx.events.clone();
        step(&events, action.name(), detail, action.run(cx)).await?;
    }
    Ok(())
}

/// Runs `parts` at the same time, each on its own copy of the state, and lets every one finish
/// (a part cancelled mid-request would leave its progress line open); the first error wins.
async fn run_together(
    parts: &[Box<dyn Action>],
    cx: &mut ActionContext<'_>,
) -> Result<(), ClusterError> {
    let runs = parts.iter().map(|action| {
        let mut sub = ActionContext {
            provider: cx.provider,
            exec: cx.exec,
            plan: cx.plan,
            options: cx.options,
            ledger: cx.ledger,
            events: cx.events.clone(),
            stop: cx.stop.clone(),
            state: cx.state.clone(),
        };
        async move {
            let detail = action.describe(&sub);
            let events = sub.events.clone();
            let r = step(&events, action.name(), detail, action.run(&mut sub)).await;
            (r, sub.state)
        }
    });
    let mut first_error = None;
    for (r, state) in futures_util::future::join_all(runs).await {
        match r {
            Ok(()) => cx.state.merge(state),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    first_error.map_or(Ok(()), Err)
}

/// Runs one named step, reporting its start and end; also used by `down` and `clean`.
pub async fn step<T>(
    events: &Emitter,
    name: &str,
    detail: String,
    work: impl std::future::Future<Output = Result<T, ActionError>>,
) -> Result<T, ClusterError> {
    events.emit(EventKind::ActionStarted {
        name: name.to_string(),
        detail: detail.clone(),
    });
    let start = Instant::now();
    let result = work.await;
    events.emit(EventKind::ActionFinished {
        name: name.to_string(),
        detail: detail.clone(),
        elapsed: start.elapsed(),
        error: result.as_ref().err().map(ToString::to_string),
    });
    result.map_err(|source| match source {
        ActionError::Interrupted => ClusterError::Interrupted,
        source => ClusterError::Action {
            detail: lowercase_first(&detail),
            source,
        },
    })
}

fn lowercase_first(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_lowercase().chain(c).collect())
        .unwrap_or_default()
}
