//! Starts the operator: checks the CRDs, elects a leader, runs the tenant controller and the
//! fleet-status loop over shared caches, serves metrics and health, and stops cleanly on
//! SIGTERM or Ctrl-C.

use super::apply::ServerFeatures;
use super::cache::{self, Triggers};
use super::error::Error;
use super::fleet;
use super::http::{self, Health};
use super::lease::{Attempt, LeaderLease, LeaseSettings};
use super::metrics::Metrics;
use super::reconcile::{self, Context};
use crate::api::Tenant;
use crate::crdgen;
use futures::future::{BoxFuture, FutureExt, Shared};
use futures::StreamExt;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::PartialObjectMeta;
use kube::runtime::{controller, watcher, Controller};
use kube::{Api, Client};
use prometheus_client::registry::Registry;
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// A future every part of the operator waits on to stop.
pub type Shutdown = Shared<BoxFuture<'static, ()>>;

/// What the controllers are told.
#[derive(Debug, Clone)]
pub struct ControllerOptions {
    /// Tenants reconciled at once.
    pub concurrency: u16,
    /// Partners served; empty serves every partner.
    pub partners: BTreeSet<String>,
    /// This replica's name in Events.
    pub instance: Option<String>,
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

/// Fails with instructions when a tenantry CRD is missing.
pub async fn check_crds(client: &Client) -> Result<(), Error> {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let mut missing = Vec::new();
    for crd in crdgen::all() {
        let name = crd.metadata.name.unwrap_or_default();
        match api.get_opt(&name).await {
            Ok(Some(_)) => {}
            Ok(None) => missing.push(name),
            Err(e) => return Err(Error::kube(format!("looking up CRD {name}"), e)),
        }
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(Error::MissingCrds { missing: missing.join(", ") })
    }
}

/// What the API server serves, from its version; everything when the version is unknown.
async fn server_features(client: &Client) -> ServerFeatures {
    match client.apiserver_version().await {
        Ok(info) => {
            let features = ServerFeatures::for_version(&info.major, &info.minor);
            if !features.cronjob_time_zone {
                tracing::warn!(version = %info.git_version, "this API server ignores CronJob timeZone: schedules run in the controller manager's time zone");
            }
            features
        }
        Err(error) => {
            tracing::warn!(%error, "cannot read the API server version; assuming a current one");
            ServerFeatures::default()
        }
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

/// Runs the controllers on `client` until `shutdown` resolves. `ready` is set once the
/// caches are filled. This is what `tenantry run` and the cluster tests start.
pub async fn run_controllers(
    client: Client,
    options: ControllerOptions,
    metrics: Arc<Metrics>,
    ready: Arc<AtomicBool>,
    shutdown: Shutdown,
) -> Result<(), Error> {
    let (tenant_triggers, tenant_trigger_stream) = futures::channel::mpsc::unbounded();
    let triggers = Triggers {
        tenants: tenant_triggers,
        fleet: Arc::new(tokio::sync::Notify::new()),
        queue_depth: metrics.queue_depth.clone(),
    };
    let mut watches = tokio::task::JoinSet::new();
    let caches = cache::start(&client, triggers.clone(), &mut watches);
    tokio::select! {
        filled = caches.wait_until_ready() => if filled.is_err() {
            return Ok(());
        },
        _ = shutdown.clone() => return Ok(()),
    }
    tracing::info!(partners = ?options.partners, concurrency = options.concurrency, "caches filled; reconciling");
    ready.store(true, Ordering::Relaxed);

    let features = server_features(&client).await;
    let context = Arc::new(
        Context::new(
            client.clone(),
            caches.clone(),
            metrics.clone(),
            options.partners.clone(),
            options.instance.clone(),
        )
        .with_features(features),
    );
    let queue_depth = metrics.queue_depth.clone();
    // The controller watches tenants' metadata only: it never fails to decode one.
    let tenant_controller =
        Controller::new(Api::<PartialObjectMeta<Tenant>>::all(client.clone()), watcher::Config::default())
            .with_config(controller::Config::default().concurrency(options.concurrency))
            .reconcile_on(tenant_trigger_stream.inspect(move |_| {
                queue_depth.dec();
            }))
            .graceful_shutdown_on(shutdown.clone())
            .run(reconcile::reconcile, reconcile::error_policy, context.clone())
            .for_each(|result| async move {
                if let Err(error) = result {
                    tracing::debug!(%error, "controller event");
                }
            });
    let fleet_loop = fleet::run(context, triggers.fleet.clone(), shutdown.clone());
    tokio::join!(tenant_controller, fleet_loop);
    watches.abort_all();
    Ok(())
}

/// `tenantry run`: everything above, with leader election and the HTTP endpoints.
pub async fn run(options: RunOptions) -> Result<(), Error> {
    let client = Client::try_default().await.map_err(|e| Error::Config(e.to_string()))?;
    check_crds(&client).await?;
    let mut registry = Registry::default();
    let metrics = Arc::new(Metrics::new(&mut registry));
    let ready = Arc::new(AtomicBool::new(false));
    let shutdown = signals();
    let health = Health { registry: Arc::new(registry), ready: ready.clone() };
    let server = tokio::spawn(http::serve(options.metrics_address, health, shutdown.clone()));

    let result = match options.lease.clone() {
        None => run_controllers(client, options.controllers, metrics, ready, shutdown.clone()).await,
        Some(settings) => lead(client, settings, options.controllers, metrics, ready, shutdown.clone()).await,
    };
    match server.await {
        Ok(Err(error)) => tracing::warn!(%error, "metrics server stopped"),
        Err(error) => tracing::warn!(%error, "metrics server task failed"),
        Ok(Ok(())) => {}
    }
    result
}

/// Waits for the lease, reconciles while holding it, and stops if it is lost.
async fn lead(
    client: Client,
    settings: LeaseSettings,
    options: ControllerOptions,
    metrics: Arc<Metrics>,
    ready: Arc<AtomicBool>,
    shutdown: Shutdown,
) -> Result<(), Error> {
    let lease = Arc::new(LeaderLease::new(client.clone(), settings.clone()));
    // A follower is ready: it serves its role by standing by.
    ready.store(true, Ordering::Relaxed);
    let mut last_holder = String::new();
    loop {
        match lease.try_acquire_or_renew().await {
            Ok(Attempt::Held) => break,
            Ok(Attempt::HeldBy(holder)) => {
                if holder != last_holder {
                    tracing::info!(lease = %settings.name, %holder, "standing by while another replica leads");
                    last_holder = holder;
                }
            }
            Err(error) => tracing::warn!(%error, "cannot reach the lease; retrying"),
        }
        tokio::select! {
            _ = tokio::time::sleep(settings.renew_every()) => {}
            _ = shutdown.clone() => return Ok(()),
        }
    }
    tracing::info!(lease = %settings.name, identity = %settings.identity, "acquired the lease; leading");
    metrics.leader.set(1);
    ready.store(false, Ordering::Relaxed);

    let (lost_sender, lost) = tokio::sync::oneshot::channel::<()>();
    let renewer = {
        let lease = lease.clone();
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            let mut last_renewal = tokio::time::Instant::now();
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(lease.settings().renew_every()) => {}
                    _ = shutdown.clone() => return,
                }
                match lease.try_acquire_or_renew().await {
                    Ok(Attempt::Held) => last_renewal = tokio::time::Instant::now(),
                    Ok(Attempt::HeldBy(holder)) => {
                        tracing::error!(%holder, "another replica took the lease");
                        let _ = lost_sender.send(());
                        return;
                    }
                    Err(error) if last_renewal.elapsed() > lease.settings().duration => {
                        tracing::error!(%error, "could not renew the lease before it expired");
                        let _ = lost_sender.send(());
                        return;
                    }
                    Err(error) => tracing::warn!(%error, "lease renewal failed; retrying"),
                }
            }
        })
    };
    let lost_flag = Arc::new(AtomicBool::new(false));
    let stop: Shutdown = {
        let (shutdown, lost_flag) = (shutdown.clone(), lost_flag.clone());
        async move {
            tokio::select! {
                _ = shutdown => {}
                _ = lost => lost_flag.store(true, Ordering::Relaxed),
            }
        }
        .boxed()
        .shared()
    };
    let result = run_controllers(client, options, metrics.clone(), ready, stop).await;
    renewer.abort();
    metrics.leader.set(0);
    if lost_flag.load(Ordering::Relaxed) {
        return Err(Error::LostLease(settings.name));
    }
    if let Err(error) = lease.release().await {
        tracing::warn!(%error, "could not release the lease; a follower takes over when it expires");
    }
    result
}
