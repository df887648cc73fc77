//! `/metrics` (Prometheus text format), `/healthz` (the replica's loops are running: it
//! reconciles or competes for the lease) and `/readyz` (a leader whose caches are filled, or
//! a follower standing by), each answering with a line that says why.

use super::error::RunError;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use prometheus_client::registry::Registry;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// A loop's sign of life: the loop beats it each time round; it is stale when the last beat
/// is older than its limit. A disarmed heartbeat (the loop is not meant to run) is never
/// stale.
#[derive(Clone)]
pub struct Heartbeat {
    last: Arc<Mutex<Option<Instant>>>,
    limit: Duration,
}

impl Heartbeat {
    /// A disarmed heartbeat that goes stale `limit` after a beat.
    pub fn new(limit: Duration) -> Self {
        Heartbeat { last: Arc::default(), limit }
    }

    /// The loop is alive now (arms the heartbeat).
    pub fn beat(&self) {
        *self.last.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
    }

    /// The loop stops on purpose: no longer checked.
    pub fn disarm(&self) {
        *self.last.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// How long ago the loop last beat, if it has gone stale.
    pub fn stale_for(&self) -> Option<Duration> {
        let last = (*self.last.lock().unwrap_or_else(|p| p.into_inner()))?;
        let since = last.elapsed();
        (since > self.limit).then_some(since)
    }
}

/// The replica's role, as `/readyz` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    /// Checking the CRDs, not yet competing.
    Starting,
    /// Competing for the lease while another replica (or nobody reachable) holds it.
    Follower,
    /// Holding the lease and running the controllers.
    Leader,
    /// Running the controllers without leader election.
    Standalone,
    /// Shutting down.
    Stopping,
}

/// What the probes read, shared with the loops that report into it.
#[derive(Clone)]
pub struct ProbeState {
    /// Set once every cache has listed its objects (cleared when the controllers stop).
    pub caches_synced: Arc<AtomicBool>,
    /// Beaten by the lease loop each round (every retry period), as follower and as leader.
    pub lease: Heartbeat,
    /// Beaten by the controllers (the fleet pass, the cache wait) while they run.
    pub controllers: Heartbeat,
    role: Arc<Mutex<Role>>,
    /// Why the replica cannot serve, by source (`watch Deployment`): a forbidden list.
    problems: Arc<Mutex<BTreeMap<String, String>>>,
}

/// How long the lease loop may go without a round before `/healthz` fails.
pub const LEASE_LOOP_STALE: Duration = Duration::from_secs(60);
/// How long the controllers may go without a sign of life (the fleet pass runs at least once
/// a minute) before `/healthz` fails.
pub const CONTROLLERS_STALE: Duration = Duration::from_secs(180);

impl Default for ProbeState {
    fn default() -> Self {
        ProbeState::with_limits(LEASE_LOOP_STALE, CONTROLLERS_STALE)
    }
}

impl ProbeState {
    /// A state whose heartbeats go stale after the given limits.
    pub fn with_limits(lease: Duration, controllers: Duration) -> Self {
        ProbeState {
            caches_synced: Arc::default(),
            lease: Heartbeat::new(lease),
            controllers: Heartbeat::new(controllers),
            role: Arc::new(Mutex::new(Role::Starting)),
            problems: Arc::default(),
        }
    }

    /// The same state, reporting cache sync through `flag` (what `run_controllers` is given).
    pub fn with_caches_flag(mut self, flag: Arc<AtomicBool>) -> Self {
        self.caches_synced = flag;
        self
    }

    /// Sets the role.
    pub fn set_role(&self, role: Role) {
        *self.role.lock().unwrap_or_else(|p| p.into_inner()) = role;
    }

    /// The role.
    pub fn role(&self) -> Role {
        self.role.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Records why the replica cannot serve (`source` such as `watch Deployment`).
    pub fn report_problem(&self, source: &str, problem: String) {
        self.problems.lock().unwrap_or_else(|p| p.into_inner()).insert(source.to_string(), problem);
    }

    /// Clears the problem of `source`, if any.
    pub fn clear_problem(&self, source: &str) {
        self.problems.lock().unwrap_or_else(|p| p.into_inner()).remove(source);
    }

    fn problems(&self) -> Vec<String> {
        self.problems.lock().unwrap_or_else(|p| p.into_inner()).values().cloned().collect()
    }

    /// `/healthz`: `Err` when the replica neither reconciles nor competes: a loop that stopped
    /// beating.
    pub fn health(&self) -> Result<String, String> {
        if let Some(since) = self.lease.stale_for() {
            return Err(format!("the lease loop has not run for {}s", since.as_secs()));
        }
        if let Some(since) = self.controllers.stale_for() {
            return Err(format!("the controllers have not run for {}s", since.as_secs()));
        }
        Ok(format!("ok: {}", describe(&self.role())))
    }

    /// `/readyz`: `Ok` for a follower standing by and for a leader (or a standalone replica)
    /// whose caches are filled; otherwise `Err` with the reason.
    pub fn readiness(&self) -> Result<String, String> {
        let role = self.role();
        match role {
            Role::Follower => Ok("follower: standing by for the lease".into()),
            Role::Leader | Role::Standalone => {
                let problems = self.problems();
                if !problems.is_empty() {
                    Err(format!("{}: not ready: {}", describe(&role), problems.join("; ")))
                } else if !self.caches_synced.load(Ordering::Relaxed) {
                    Err(format!("{}: caches are filling", describe(&role)))
                } else {
                    Ok(format!("{}: caches filled, reconciling", describe(&role)))
                }
            }
            Role::Starting | Role::Stopping => Err(describe(&role).into()),
        }
    }
}

fn describe(role: &Role) -> &'static str {
    match role {
        Role::Starting => "starting",
        Role::Follower => "follower",
        Role::Leader => "leader",
        Role::Standalone => "standalone",
        Role::Stopping => "stopping",
    }
}

/// What the endpoints read: the metrics registry and the probe state.
#[derive(Clone)]
pub struct Endpoints {
    /// The metrics registry.
    pub registry: Arc<Registry>,
    /// What `/healthz` and `/readyz` answer from.
    pub probes: ProbeState,
}

async fn metrics(State(endpoints): State<Endpoints>) -> impl IntoResponse {
    let mut body = String::new();
    match prometheus_client::encoding::text::encode(&mut body, &endpoints.registry) {
        Ok(()) => (StatusCode::OK, [(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], body),
        Err(_) => {
            (StatusCode::INTERNAL_SERVER_ERROR, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], String::new())
        }
    }
}

fn answer(result: Result<String, String>) -> (StatusCode, String) {
    match result {
        Ok(text) => (StatusCode::OK, text),
        Err(text) => (StatusCode::SERVICE_UNAVAILABLE, text),
    }
}

async fn healthz(State(endpoints): State<Endpoints>) -> impl IntoResponse {
    answer(endpoints.probes.health())
}

async fn readyz(State(endpoints): State<Endpoints>) -> impl IntoResponse {
    answer(endpoints.probes.readiness())
}

/// The routes, for `serve` and for tests.
pub fn router(endpoints: Endpoints) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(endpoints)
}

/// Binds `address` and serves until `shutdown` resolves.
pub async fn serve(
    address: SocketAddr,
    endpoints: Endpoints,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), RunError> {
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .map_err(|source| RunError::Serve { address: address.to_string(), source })?;
    tracing::info!(%address, "serving /metrics, /healthz and /readyz");
    axum::serve(listener, router(endpoints))
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(|source| RunError::Serve { address: address.to_string(), source })
}

#[cfg(test)]
mod tests {
    use super::{answer, ProbeState, Role};
    use axum::http::StatusCode;
    use std::sync::atomic::Ordering;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn healthz_fails_when_a_loop_stops_beating() {
        let probes = ProbeState::with_limits(Duration::from_secs(30), Duration::from_secs(180));
        assert!(probes.health().is_ok(), "nothing armed yet: starting is healthy");
        probes.lease.beat();
        tokio::time::advance(Duration::from_secs(20)).await;
        assert!(probes.health().is_ok());
        tokio::time::advance(Duration::from_secs(11)).await;
        let (code, body) = answer(probes.health());
        assert_eq!(code, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert!(body.contains("lease loop has not run for 31s"), "{body}");
        probes.lease.beat();
        assert!(probes.health().is_ok(), "a new round heals it");
        probes.controllers.beat();
        tokio::time::advance(Duration::from_secs(181)).await;
        probes.lease.beat();
        assert!(probes.health().unwrap_err().contains("controllers"));
        probes.controllers.disarm();
        assert!(probes.health().is_ok(), "controllers stopped on purpose (follower) are not checked");
    }

    #[test]
    fn readyz_says_what_the_replica_does_and_why_not() {
        let probes = ProbeState::default();
        assert_eq!(probes.readiness(), Err("starting".into()));
        probes.set_role(Role::Follower);
        assert!(probes.readiness().unwrap().starts_with("follower"));
        probes.set_role(Role::Leader);
        assert_eq!(probes.readiness(), Err("leader: caches are filling".into()));
        probes.caches_synced.store(true, Ordering::Relaxed);
        assert!(probes.readiness().is_ok());
        probes.report_problem("watch Deployment", "forbidden to list deployments (403): no RBAC".into());
        let reason = probes.readiness().unwrap_err();
        assert!(reason.contains("forbidden to list deployments"), "{reason}");
        probes.clear_problem("watch Deployment");
        assert!(probes.readiness().is_ok());
    }
}
