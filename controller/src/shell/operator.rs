//! Starts the operator: checks the CRDs, competes for the leader lease, runs the tenant
//! controller and the fleet-status loop over shared caches while leading, serves metrics and
//! health, and stops cleanly on SIGTERM or Ctrl-C.
//!
//! A replica that loses the lease, or cannot renew it within the renew deadline, stops its
//! controllers at once and competes again as a follower in the same process: a single
//! replica heals itself after an API server outage, and never lingers leaderless.

use super::cache::{self, Triggers, WatchHealth, Watches};
use super::error::{Error, RunError};
use super::fleet;
use super::http::{self, Endpoints, ProbeState, Role};
use super::lease::{Attempt, LeaderLease, LeaseSettings};
use super::metrics::Metrics;
use super::reconcile::{self, Context};
use crate::api::Tenant;
use crate::crdgen;
use futures::future::{BoxFuture, FutureExt, Shared};
use futures::StreamExt;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::PartialObjectMeta;
use kube::runtime::{controller, Controller};
use kube::{Api, Client, Config};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::registry::Registry;
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// A future every part of the operator waits on to stop.
pub type Shutdown = Shared<BoxFuture<'static, ()>>;

/// How long connecting to the API server may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the client waits for the API server to send anything on a request. Watches are
/// ended by the server every [`cache::WATCH_TIMEOUT_SECONDS`] (40 s) and resumed, so an
/// idle watch never hits this; a connection that went dead is noticed within it.
pub const READ_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a stop waits for the reconciles in flight before it drops them: well inside the
/// 30 s a kubelet gives a pod between SIGTERM and SIGKILL, so the lease is still released.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(15);

/// How long a tenant's reconcile waits for more changes after one arrives, by default: a
/// burst (a GitOps sync declaring a tenant's workflows one by one, its children turning
/// ready) is planned once, and written once, instead of once a change.
pub const DEFAULT_DEBOUNCE: Duration = Duration::from_millis(1000);

/// What the controllers are told.
#[derive(Debug, Clone)]
pub struct ControllerOptions {
    /// Tenants reconciled at once.
    pub concurrency: u16,
    /// How long a tenant's reconcile waits after a change for more changes (each one starts
    /// the wait again); zero reconciles at once.
    pub debounce: Duration,
    /// Partners served; empty serves every partner.
    pub partners: BTreeSet<String>,
    /// This replica's name in Events.
    pub instance: Option<String>,
    /// When open BillingRecords move and close.
    pub billing: crate::planner::ClosingRules,
}

/// Everything `tenantry run` is told.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Controller settings.
    pub controllers: ControllerOptions,
    /// Where `/metrics`, `/healthz` and `/readyz` are served.
    pub metrics_address: SocketAddr,
    /// Leader election, or `None` to reconcile without it (a single replica).
    pub lease: Option<LeaseSettings>,
}

/// `config` with the operator's timeouts: connect within [`CONNECT_TIMEOUT`], hear from the
/// server within [`READ_TIMEOUT`] (counted from each request, not from when a pooled
/// connection went idle). kube-rs sets no read timeout by default, so a request on a dead
/// connection would wait forever.
pub fn with_timeouts(mut config: Config) -> Config {
    config.connect_timeout = Some(CONNECT_TIMEOUT);
    config.read_timeout = Some(READ_TIMEOUT);
    config.reset_reader_on_write = true;
    config
}

/// The client of the kubeconfig or the pod's service account, with [`with_timeouts`].
pub async fn client() -> Result<Client, RunError> {
    let config = Config::infer().await.map_err(|e| RunError::Config(e.to_string()))?;
    Client::try_from(with_timeouts(config)).map_err(|e| RunError::Config(e.to_string()))
}

/// Fails with instructions when a tenantry CRD is missing.
pub async fn check_crds(client: &Client) -> Result<(), RunError> {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let mut missing = Vec::new();
    for crd in crdgen::all() {
        let name = crd.metadata.name.unwrap_or_default();
        match api.get_opt(&name).await {
            Ok(Some(_)) => {}
            Ok(None) => missing.push(name),
            Err(source) => return Err(RunError::CrdLookup { crd: name, source }),
        }
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(RunError::MissingCrds { missing: missing.join(", ") })
    }
}

/// A shutdown future resolved by SIGTERM or Ctrl-C.
pub fn signals() -> Shutdown {
    async {
        let interrupt = tokio::signal::ctrl_c();
        #[cfg(unix)]
        {
            let mut terminate = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(error) => {
                    tracing::warn!(%error, "cannot listen for SIGTERM; stopping on Ctrl-C only");
                    let _ = interrupt.await;
                    return;
                }
            };
            tokio::select! {
                _ = interrupt => {}
                _ = terminate.recv() => {}
            }
        }
        #[cfg(not(unix))]
        let _ = interrupt.await;
        tracing::info!("stop requested; finishing the reconciles in flight");
    }
    .boxed()
    .shared()
}

/// Runs the controllers on `client` until `shutdown` resolves, without leader election.
/// `ready` is set once the caches are filled. This is what the cluster tests start.
pub async fn run_controllers(
    client: Client,
    options: ControllerOptions,
    metrics: Arc<Metrics>,
    ready: Arc<AtomicBool>,
    shutdown: Shutdown,
) -> Result<(), RunError> {
    let probes = ProbeState::default().with_caches_flag(ready);
    probes.set_role(Role::Standalone);
    controllers(client, &options, metrics, &probes, shutdown).await
}

/// Runs the tenant controller and the fleet-status loop until `shutdown` resolves (`Ok`), or
/// until a watch feeding the caches dies (`Err`: the caches no longer follow the cluster).
/// Reports cache sync and signs of life to `probes`.
pub async fn controllers(
    client: Client,
    options: &ControllerOptions,
    metrics: Arc<Metrics>,
    probes: &ProbeState,
    shutdown: Shutdown,
) -> Result<(), RunError> {
    let (tenant_triggers, tenant_trigger_stream) = futures::channel::mpsc::unbounded();
    let triggers = Triggers {
        tenants: tenant_triggers,
        fleet: Arc::new(tokio::sync::Notify::new()),
        queue_depth: metrics.queue_depth.clone(),
    };
    let mut watches = Watches::default();
    let health = WatchHealth { metrics: metrics.clone(), probes: probes.clone() };
    let caches = cache::start(&client, triggers.clone(), health.clone(), &mut watches);
    let result = async {
        // Wait for the caches, alive (beating) while a list is retried, say after a 403.
        let mut filled = std::pin::pin!(caches.wait_until_ready());
        loop {
            probes.controllers.beat();
            tokio::select! {
                result = &mut filled => match result {
                    Ok(()) => break,
                    Err(_) => return Err(RunError::WatchEnded { kind: "a cache".into(), reason: "its writer was dropped".into() }),
                },
                _ = tokio::time::sleep(Duration::from_secs(5)) => {}
                (kind, how) = watches.ended() => return Err(RunError::WatchEnded { kind, reason: how }),
                _ = shutdown.clone() => return Ok(()),
            }
        }
        let partners = if options.partners.is_empty() {
            "all".to_string()
        } else {
            options.partners.iter().cloned().collect::<Vec<_>>().join(",")
        };
        tracing::info!(%partners, concurrency = options.concurrency, "caches filled; reconciling");
        probes.caches_synced.store(true, Ordering::Relaxed);
        let context = Arc::new(Context::new(
            client.clone(),
            caches.clone(),
            metrics.clone(),
            options.partners.clone(),
            options.instance.clone(),
        )
        .with_billing_rules(options.billing));
        let tenants = tenant_controller(&client, options, context.clone(), tenant_trigger_stream, health, shutdown.clone());
        let fleet = fleet::run(context, triggers.fleet.clone(), probes.controllers.clone(), shutdown.clone());
        let overdue = async {
            shutdown.clone().await;
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        };
        tokio::select! {
            _ = futures::future::join(tenants, fleet) => Ok(()),
            (kind, how) = watches.ended() => Err(RunError::WatchEnded { kind, reason: how }),
            _ = overdue => {
                // Dropping the controllers cancels what is in flight; every write is idempotent.
                tracing::warn!(grace_seconds = SHUTDOWN_GRACE.as_secs(), "reconciles still in flight at the end of the grace period; stopping them");
                Ok(())
            }
        }
    }
    .await;
    watches.abort_all();
    probes.caches_synced.store(false, Ordering::Relaxed);
    probes.controllers.disarm();
    result
}

/// The tenant controller: reconciles tenants on their own changes and on `triggers` until
/// `shutdown`, letting the reconciles in flight finish.
fn tenant_controller(
    client: &Client,
    options: &ControllerOptions,
    context: Arc<Context>,
    triggers: futures::channel::mpsc::UnboundedReceiver<kube::runtime::reflector::ObjectRef<PartialObjectMeta<Tenant>>>,
    health: WatchHealth,
    shutdown: Shutdown,
) -> impl std::future::Future<Output = ()> {
    let queue_depth = context.metrics.queue_depth.clone();
    // The controller watches tenants' metadata only: it never fails to decode one. It
    // reconciles a tenant when what is declared of it changes (spec generation, labels,
    // annotations, finalizers; a deletion bumps the generation), not when its own status is
    // written back: the caches trigger it for everything else its plan reads.
    use kube::runtime::{predicates, Predicate, WatchStreamExt};
    let (reader, writer) = kube::runtime::reflector::store();
    let api = Api::<PartialObjectMeta<Tenant>>::all(client.clone());
    let declared = predicates::generation
        .combine(predicates::labels)
        .combine(predicates::annotations)
        .combine(predicates::finalizers);
    let changes = kube::runtime::reflector(writer, kube::runtime::watcher(api, cache::watch_config()))
        .applied_objects()
        .predicate_filter(declared, Default::default());
    Controller::for_stream(changes, reader)
        .with_config(controller::Config::default().concurrency(options.concurrency).debounce(options.debounce))
        .reconcile_on(triggers.inspect(move |_| {
            queue_depth.dec();
        }))
        .graceful_shutdown_on(shutdown)
        .run(reconcile::reconcile, reconcile::error_policy, context)
        .for_each(move |result| {
            match result {
                Ok(_) => health.recovered("Tenant (metadata)"),
                // error_policy logged it, with the tenant and the retry.
                Err(controller::Error::ReconcilerFailed(..)) => {}
                Err(controller::Error::ObjectNotFound(object)) => {
                    tracing::debug!(object = %object.name, "a queued tenant is gone");
                }
                Err(controller::Error::QueueError(error)) => health.failed("Tenant (metadata)", &error),
                Err(error @ controller::Error::RunnerError(_)) => {
                    tracing::error!(%error, "the tenant controller's scheduler failed");
                }
            }
            std::future::ready(())
        })
}

/// `tenantry run`: the client, the CRD check, the HTTP endpoints, then the controllers with
/// or without leader election until SIGTERM or Ctrl-C.
pub async fn run(options: RunOptions) -> Result<(), RunError> {
    let client = client().await?;
    check_crds(&client).await?;
    let mut registry = Registry::default();
    let metrics = Arc::new(Metrics::new(&mut registry));
    let probes = ProbeState::default();
    let shutdown = signals();
    let endpoints = Endpoints { registry: Arc::new(registry), probes: probes.clone() };
    let server = tokio::spawn(http::serve(options.metrics_address, endpoints, shutdown.clone()));

    let result = match options.lease.clone() {
        None => {
            probes.set_role(Role::Standalone);
            controllers(client, &options.controllers, metrics, &probes, shutdown.clone()).await
        }
        Some(settings) => lead(client, settings, options.controllers, metrics, probes, shutdown.clone()).await,
    };
    match server.await {
        Ok(Err(error)) => tracing::warn!(%error, "metrics server stopped"),
        Err(error) => tracing::warn!(%error, "metrics server task failed"),
        Ok(Ok(())) => {}
    }
    result
}

/// Why a leader stopped leading.
#[derive(Debug)]
enum Stepped {
    /// Shutdown was requested: the controllers finished; release the lease and stop.
    Shutdown,
    /// The lease was lost: the controllers were stopped at once; compete again.
    Down(StepDown),
    /// A watch died: the controllers were stopped; release the lease and compete again.
    Failed(RunError),
}

/// Why the renewer gave the lease up.
#[derive(Debug)]
enum StepDown {
    /// Another replica holds it.
    Taken(String),
    /// No renewal succeeded within the renew deadline; the last error, if any.
    Deadline(Option<Error>),
}

/// Competes for the lease until `shutdown`: follows while another replica leads, leads while
/// holding it, and after losing it (taken, or not renewed within the renew deadline) stops
/// the controllers at once and competes again. On shutdown the controllers finish what is in
/// flight and the lease is released, so a follower takes over at once. This is what
/// `tenantry run` and the drills start.
pub async fn lead(
    client: Client,
    settings: LeaseSettings,
    options: ControllerOptions,
    metrics: Arc<Metrics>,
    probes: ProbeState,
    shutdown: Shutdown,
) -> Result<(), RunError> {
    let lease = Arc::new(LeaderLease::new(client.clone(), settings));
    let leader_probes = probes.clone();
    let leader_metrics = metrics.clone();
    elect(lease, &metrics, &probes, &shutdown, move |stop| {
        let (client, options, metrics, probes) =
            (client.clone(), options.clone(), leader_metrics.clone(), leader_probes.clone());
        async move { controllers(client, &options, metrics, &probes, stop).await }
    })
    .await
}

/// The election loop of [`lead`], with what runs while leading passed in (the controllers;
/// a recorder in tests). `leader(stop)` must return `Ok` once `stop` resolves; it is dropped
/// on the spot when the lease is lost.
pub(crate) async fn elect<F, Fut>(
    lease: Arc<LeaderLease>,
    metrics: &Metrics,
    probes: &ProbeState,
    shutdown: &Shutdown,
    mut leader: F,
) -> Result<(), RunError>
where
    F: FnMut(Shutdown) -> Fut,
    Fut: std::future::Future<Output = Result<(), RunError>>,
{
    let settings = lease.settings().clone();
    let (name, identity) = (settings.name.as_str(), settings.identity.as_str());
    loop {
        probes.set_role(Role::Follower);
        if !follow(&lease, probes, shutdown).await {
            break;
        }
        tracing::info!(lease = %name, %identity, "acquired the lease; leading");
        metrics.lease_transition("acquired");
        metrics.leader.set(1);
        probes.set_role(Role::Leader);
        let stepped = lead_while_held(&lease, leader(shutdown.clone()), metrics, probes).await;
        metrics.leader.set(0);
        match stepped {
            Stepped::Shutdown => {
                probes.set_role(Role::Stopping);
                release(&lease, metrics).await;
                break;
            }
            Stepped::Down(StepDown::Taken(holder)) => {
                metrics.lease_transition("taken");
                tracing::error!(lease = %name, %holder, "another replica took the lease; stopped reconciling, standing by");
            }
            Stepped::Down(StepDown::Deadline(error)) => {
                metrics.lease_transition("renew_deadline");
                let error = error.map(|e| e.to_string()).unwrap_or_else(|| "renewal timed out".into());
                let deadline_seconds = settings.renew_deadline.as_secs();
                tracing::error!(lease = %name, %error, deadline_seconds, "could not renew the lease in time; stopped reconciling before it expires, competing again");
            }
            Stepped::Failed(error) => {
                tracing::error!(lease = %name, %error, "stopped reconciling; releasing the lease and competing again");
                release(&lease, metrics).await;
                tokio::time::sleep(settings.retry_period).await;
            }
        }
        if shutdown.peek().is_some() {
            break;
        }
    }
    probes.set_role(Role::Stopping);
    probes.lease.disarm();
    Ok(())
}

/// Tries to acquire the lease every retry period until it is held (`true`) or `shutdown`
/// resolves (`false`). Beats the lease heartbeat each round.
async fn follow(lease: &LeaderLease, probes: &ProbeState, shutdown: &Shutdown) -> bool {
    let settings = lease.settings();
    let mut last_holder = String::new();
    let mut unreachable = false;
    loop {
        probes.lease.beat();
        let attempt = tokio::time::timeout(settings.renew_deadline, lease.try_acquire_or_renew()).await;
        match attempt {
            Ok(Ok(Attempt::Held)) => return true,
            Ok(Ok(Attempt::HeldBy(holder))) => {
                if std::mem::take(&mut unreachable) {
                    tracing::info!(lease = %settings.name, "the lease is reachable again");
                }
                if holder != last_holder {
                    tracing::info!(lease = %settings.name, %holder, "standing by while another replica leads");
                    last_holder = holder;
                }
            }
            Ok(Err(error)) if !unreachable => {
                unreachable = true;
                tracing::warn!(lease = %settings.name, %error, "cannot reach the lease; retrying");
            }
            Err(_) if !unreachable => {
                unreachable = true;
                tracing::warn!(lease = %settings.name, "reading the lease timed out; retrying");
            }
            Ok(Err(_)) | Err(_) => {}
        }
        tokio::select! {
            _ = tokio::time::sleep(settings.retry_period) => {}
            _ = shutdown.clone() => return false,
        }
    }
}

/// Leads until shutdown, a step-down or a dead watch. The renewer runs beside `leader`; when
/// it gives up, `leader` is dropped on the spot (reconciles in flight are cancelled), well
/// before a follower may take the lease.
async fn lead_while_held(
    lease: &Arc<LeaderLease>,
    leader: impl std::future::Future<Output = Result<(), RunError>>,
    metrics: &Metrics,
    probes: &ProbeState,
) -> Stepped {
    let (gave_up, step_down) = tokio::sync::oneshot::channel::<StepDown>();
    let renewer = tokio::spawn(renew(lease.clone(), probes.clone(), metrics.lease_renew_failures.clone(), gave_up));
    // Stops the renewer however this future ends, dropped included: a renewer that outlived
    // its controllers would hold the lease for nobody.
    let _renewer = AbortOnDrop(renewer);
    // Only a reason counts: a renewer that is aborted (after a shutdown) says nothing.
    let step_down = async move {
        match step_down.await {
            Ok(reason) => reason,
            Err(_) => std::future::pending().await,
        }
    };
    let stepped = tokio::select! {
        result = leader => match result {
            Ok(()) => Stepped::Shutdown,
            Err(error) => Stepped::Failed(error),
        },
        reason = step_down => Stepped::Down(reason),
    };
    probes.caches_synced.store(false, Ordering::Relaxed);
    probes.controllers.disarm();
    stepped
}

/// Aborts a task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Renews the held lease every retry period, each attempt bounded by what is left of the
/// renew deadline. Sends why it gave up: another holder, or no renewal within the deadline.
async fn renew(
    lease: Arc<LeaderLease>,
    probes: ProbeState,
    failures: Counter,
    gave_up: tokio::sync::oneshot::Sender<StepDown>,
) {
    let settings = lease.settings();
    // Counted from when the last successful attempt was sent, when the server may have
    // written it: conservative.
    let mut renewed_at = Instant::now();
    let mut last_error = None;
    loop {
        probes.lease.beat();
        tokio::time::sleep(settings.retry_period).await;
        let sent = Instant::now();
        let left = settings.renew_deadline.saturating_sub(renewed_at.elapsed());
        match tokio::time::timeout(left, lease.try_acquire_or_renew()).await {
            Ok(Ok(Attempt::Held)) => {
                if last_error.take().is_some() {
                    tracing::info!(lease = %settings.name, "renewed the lease again");
                }
                renewed_at = sent;
            }
            Ok(Ok(Attempt::HeldBy(holder))) => {
                let _ = gave_up.send(StepDown::Taken(holder));
                return;
            }
            Ok(Err(error)) => {
                failures.inc();
                tracing::warn!(lease = %settings.name, %error, "renewing the lease failed; retrying until the renew deadline");
                last_error = Some(error);
            }
            Err(_) => {
                failures.inc();
            }
        }
        if renewed_at.elapsed() >= settings.renew_deadline {
            let _ = gave_up.send(StepDown::Deadline(last_error));
            return;
        }
    }
}

/// Releases the lease after the controllers stopped, so a follower takes over at once.
async fn release(lease: &LeaderLease, metrics: &Metrics) {
    let settings = lease.settings();
    match tokio::time::timeout(settings.renew_deadline, lease.release()).await {
        Ok(Ok(())) => {
            metrics.lease_transition("released");
            tracing::info!(lease = %settings.name, "released the lease");
        }
        Ok(Err(error)) => {
            tracing::warn!(lease = %settings.name, %error, "could not release the lease; a follower takes over when it expires")
        }
        Err(_) => {
            tracing::warn!(lease = %settings.name, "releasing the lease timed out; a follower takes over when it expires")
        }
    }
}
