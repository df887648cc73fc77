//! The operator against a misbehaving API server, mocked (tower-test) on paused time: the
//! lease state machine (renew deadline, another holder, release, acquire after expiry), the
//! fleet pass going on after a failed patch, and the retry backoff.

use super::cache::Caches;
use super::error::RunError;
use super::fleet;
use super::http::{ProbeState, Role};
use super::lease::{LeaderLease, LeaseSettings};
use super::metrics::Metrics;
use super::operator::{elect, Shutdown};
use super::reconcile::Context;
use crate::planner::fixtures;
use futures::FutureExt;
use http::{Request, Response, StatusCode};
use http_body_util::BodyExt;
use kube::client::Body;
use kube::Client;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

const ME: &str = "replica-a";

/// The one Lease the mocked API server holds, and how the server behaves.
#[derive(Default)]
struct LeaseServer {
    lease: Option<Value>,
    version: u64,
    /// Requests are left unanswered (a server that went away without closing connections).
    down: bool,
    /// When each write by `ME` was accepted.
    my_writes: Vec<Instant>,
}

fn status(code: u16, reason: &str) -> (StatusCode, Value) {
    let body = json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": reason, "code": code});
    (StatusCode::from_u16(code).expect("a status code"), body)
}

impl LeaseServer {
    fn answer(&mut self, method: &str, body: Value) -> (StatusCode, Value) {
        match (method, &self.lease) {
            ("GET", None) => status(404, "NotFound"),
            ("GET", Some(lease)) => (StatusCode::OK, lease.clone()),
            ("POST", Some(_)) => status(409, "AlreadyExists"),
            ("PUT", None) => status(404, "NotFound"),
            ("PUT", Some(lease)) if body["metadata"]["resourceVersion"] != lease["metadata"]["resourceVersion"] => {
                status(409, "Conflict")
            }
            ("POST" | "PUT", _) => {
                self.store(body);
                (StatusCode::OK, self.lease.clone().unwrap_or_default())
            }
            _ => status(405, "MethodNotAllowed"),
        }
    }

    fn store(&mut self, mut lease: Value) {
        self.version += 1;
        lease["metadata"]["resourceVersion"] = json!(self.version.to_string());
        if lease["spec"]["holderIdentity"] == ME {
            self.my_writes.push(Instant::now());
        }
        self.lease = Some(lease);
    }

    fn holder(&self) -> Option<String> {
        self.lease.as_ref().and_then(|l| l["spec"]["holderIdentity"].as_str().map(str::to_string))
    }
}

fn lease_api() -> (Client, Arc<Mutex<LeaseServer>>) {
    let state = Arc::new(Mutex::new(LeaseServer::default()));
    let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let server = state.clone();
    tokio::spawn(async move {
        let mut handle = std::pin::pin!(handle);
        let mut unanswered = Vec::new();
        while let Some((request, respond)) = handle.next_request().await {
            let method = request.method().to_string();
            let bytes = request.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
            let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            let answer = {
                let mut server = server.lock().expect("state");
                (!server.down).then(|| server.answer(&method, body))
            };
            match answer {
                None => unanswered.push(respond),
                Some((code, body)) => respond.send_response(
                    Response::builder()
                        .status(code)
                        .header("content-type", "application/json")
                        .body(Body::from(serde_json::to_vec(&body).unwrap_or_default()))
                        .expect("a response"),
                ),
            }
        }
    });
    (Client::new(service, "default"), state)
}

/// What the fake controllers saw: when each leadership began and ended.
#[derive(Default)]
struct Terms {
    started: Vec<Instant>,
    ended: Vec<Instant>,
}

/// Records the end of a term when the leader future is dropped or returns.
struct EndOfTerm(Arc<Mutex<Terms>>);

impl Drop for EndOfTerm {
    fn drop(&mut self) {
        self.0.lock().expect("terms").ended.push(Instant::now());
    }
}

struct Election {
    server: Arc<Mutex<LeaseServer>>,
    terms: Arc<Mutex<Terms>>,
    metrics: Arc<Metrics>,
    probes: ProbeState,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<Result<(), RunError>>>,
}

/// Starts the election loop with a 15 s lease (renew deadline 10 s, retry 2 s) and fake
/// controllers that run until told to stop.
fn start_election() -> Election {
    let (client, server) = lease_api();
    let settings = LeaseSettings::new("tenantry-system", "tenantry-controller", ME, Duration::from_secs(15));
    let lease = Arc::new(LeaderLease::new(client, settings));
    let terms = Arc::new(Mutex::new(Terms::default()));
    let metrics = Arc::new(Metrics::new(&mut prometheus_client::registry::Registry::default()));
    let probes = ProbeState::default();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let shutdown: Shutdown = async move {
        let _ = stopped.await;
    }
    .boxed()
    .shared();
    let task = {
        let (terms, metrics, probes) = (terms.clone(), metrics.clone(), probes.clone());
        tokio::spawn(async move {
            elect(lease, &metrics, &probes, &shutdown, |stop| {
                let terms = terms.clone();
                async move {
                    terms.lock().expect("terms").started.push(Instant::now());
                    let _end = EndOfTerm(terms);
                    stop.await;
                    Ok(())
                }
            })
            .await
        })
    };
    Election { server, terms, metrics, probes, stop: Some(stop), task: Some(task) }
}

impl Election {
    /// Requests a shutdown and waits for the election loop to return.
    async fn shut_down(&mut self) -> Result<(), RunError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.task.take().expect("running").await.expect("the election ends")
    }
    fn started(&self) -> usize {
        self.terms.lock().expect("terms").started.len()
    }
    fn ended(&self) -> usize {
        self.terms.lock().expect("terms").ended.len()
    }
    async fn until(&self, what: &str, check: impl Fn(&Self) -> bool) -> Instant {
        let deadline = Instant::now() + Duration::from_secs(120);
        while !check(self) {
            assert!(Instant::now() < deadline, "gave up waiting for: {what}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Instant::now()
    }
    fn transitions(&self, transition: &str) -> u64 {
        self.metrics
            .lease_transitions
            .get_or_create(&super::metrics::TransitionLabels { transition: transition.into() })
            .get()
    }
}

#[tokio::test(start_paused = true)]
async fn a_leader_that_cannot_renew_steps_down_before_the_lease_can_be_taken_then_leads_again() {
    let mut election = start_election();
    election.until("leading", |e| e.started() == 1).await;
    assert_eq!(election.probes.role(), Role::Leader);
    election.until("a renewal", |e| e.server.lock().expect("state").my_writes.len() >= 3).await;

    // The API server goes away without closing connections: requests hang.
    election.server.lock().expect("state").down = true;
    election.until("stepping down", |e| e.ended() == 1).await;
    let stepped_down = election.terms.lock().expect("terms").ended[0];
    let last_renewal = *election.server.lock().expect("state").my_writes.last().expect("renewals");
    let margin = stepped_down - last_renewal;
    assert!(
        margin <= Duration::from_secs(10),
        "stopped {margin:?} after the last renewal: not within the renew deadline"
    );
    assert!(margin < Duration::from_secs(15), "a follower may take the lease 15 s after it: {margin:?}");
    assert_eq!(election.transitions("renew_deadline"), 1);
    assert_eq!(election.probes.role(), Role::Follower, "competing again, not a zombie");
    assert!(election.probes.health().is_ok(), "the lease loop keeps running as a follower");

    // The server is back: the same process leads again, without a restart.
    election.server.lock().expect("state").down = false;
    election.until("leading again", |e| e.started() == 2).await;
    assert_eq!(election.transitions("acquired"), 2);

    let result = election.shut_down().await;
    assert!(result.is_ok(), "a shutdown is a clean stop: {result:?}");
    assert_eq!(election.server.lock().expect("state").holder(), None, "the lease is released on shutdown");
    assert_eq!(election.transitions("released"), 1);
    assert_eq!(election.ended(), 2);
}

#[tokio::test(start_paused = true)]
async fn another_holder_stops_the_leader_which_takes_over_only_once_that_lease_expired() {
    let mut election = start_election();
    election.until("leading", |e| e.started() == 1).await;

    // Another replica writes the lease as its own, and then never renews.
    let taken = {
        let mut server = election.server.lock().expect("state");
        let mut lease = server.lease.clone().expect("a lease");
        lease["spec"]["holderIdentity"] = json!("replica-b");
        lease["spec"]["renewTime"] = json!(jiff::Timestamp::now().to_string());
        server.store(lease);
        Instant::now()
    };
    election.until("stepping down", |e| e.ended() == 1).await;
    let stopped = election.terms.lock().expect("terms").ended[0];
    assert!(stopped - taken <= Duration::from_secs(3), "stopped within a retry period: {:?}", stopped - taken);
    assert_eq!(election.transitions("taken"), 1);
    assert_eq!(election.probes.role(), Role::Follower);
    assert!(election.probes.readiness().is_ok(), "a follower standing by is ready");

    election.until("leading again", |e| e.started() == 2).await;
    let again = election.terms.lock().expect("terms").started[1];
    assert!(
        again - taken >= Duration::from_secs(15),
        "took the lease {:?} after replica-b wrote it: before it expired",
        again - taken
    );
    assert!(again - taken <= Duration::from_secs(20), "took over late: {:?}", again - taken);
    assert_eq!(election.server.lock().expect("state").holder().as_deref(), Some(ME));

    assert!(election.shut_down().await.is_ok());
    assert_eq!(election.server.lock().expect("state").holder(), None);
}

#[tokio::test(start_paused = true)]
async fn a_shutdown_while_following_leaves_the_other_holders_lease_alone() {
    let (client, server) = lease_api();
    server.lock().expect("state").store(json!({
        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": {"name": "tenantry-controller", "namespace": "tenantry-system"},
        "spec": {"holderIdentity": "replica-b", "leaseDurationSeconds": 15, "renewTime": "2026-01-01T00:00:00.000000Z"}
    }));
    let settings = LeaseSettings::new("tenantry-system", "tenantry-controller", ME, Duration::from_secs(15));
    let lease = Arc::new(LeaderLease::new(client, settings));
    let metrics = Metrics::new(&mut prometheus_client::registry::Registry::default());
    let probes = ProbeState::default();
    let shutdown: Shutdown = tokio::time::sleep(Duration::from_secs(5)).boxed().shared();
    let led = elect(lease, &metrics, &probes, &shutdown, |_| async { panic!("a follower does not lead") }).await;
    assert!(led.is_ok());
    assert_eq!(server.lock().expect("state").holder().as_deref(), Some("replica-b"));
}

/// A mocked API server for status patches: the first patch fails with `first_failure`, the
/// others succeed. Returns the paths patched.
fn status_api(first_failure: u16) -> (Client, tokio::task::JoinHandle<Vec<(String, u16)>>) {
    let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let server = tokio::spawn(async move {
        let mut handle = std::pin::pin!(handle);
        let mut seen = Vec::new();
        while let Some((request, respond)) = handle.next_request().await {
            let path = request.uri().path().to_string();
            let bytes = request.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
            let mut body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            let (code, answer) = if seen.is_empty() {
                status(first_failure, "ServiceUnavailable")
            } else {
                body["metadata"] = json!({"name": path.trim_end_matches("/status").rsplit('/').next()});
                (StatusCode::OK, body)
            };
            seen.push((path, code.as_u16()));
            respond.send_response(
                Response::builder()
                    .status(code)
                    .header("content-type", "application/json")
                    .body(Body::from(serde_json::to_vec(&answer).unwrap_or_default()))
                    .expect("a response"),
            );
        }
        seen
    });
    (Client::new(service, "default"), server)
}

#[tokio::test]
async fn the_fleet_pass_goes_on_after_a_failed_patch_and_reports_it() {
    let (client, server) = status_api(503);
    let world = fixtures::fleet();
    let metrics = Arc::new(Metrics::new(&mut prometheus_client::registry::Registry::default()));
    let ctx = Context::new(client, Caches::from_snapshot(&world, Vec::new()), metrics.clone(), BTreeSet::new(), None);
    let failures = fleet::once(&ctx).await;
    drop(ctx);
    let seen = server.await.expect("the mock ends");
    assert!(seen.len() >= 2, "a partner and a tier status at least: {seen:?}");
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert!(failures[0].is_transient(), "a 503 passes on its own");
    assert!(failures[0].to_string().starts_with("patching the status of "), "{}", failures[0]);
    assert!(seen[1..].iter().all(|(_, code)| *code == 200), "every other status was still written: {seen:?}");
    let failed_kind = if seen[0].0.contains("/partners/") { "Partner" } else { "ServiceTier" };
    assert_eq!(super::metrics::Metrics::kind(&metrics.status_patch_errors, failed_kind).get(), 1);
}

#[tokio::test]
async fn retries_back_off_per_tenant_and_a_success_resets_them() {
    let (client, _server) = status_api(503);
    let metrics = Arc::new(Metrics::new(&mut prometheus_client::registry::Registry::default()));
    let ctx =
        Context::new(client, Caches::from_snapshot(&fixtures::fleet(), Vec::new()), metrics, BTreeSet::new(), None);
    let waits: Vec<u64> = (0..11).map(|_| ctx.next_retry("shop").as_secs()).collect();
    assert_eq!(waits, [2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300]);
    assert_eq!(ctx.next_retry("other").as_secs(), 2, "each tenant backs off on its own");
    assert_eq!(ctx.record_success("shop"), Duration::from_secs(300), "a success returns the resync interval");
    assert_eq!(ctx.next_retry("shop").as_secs(), 2, "and forgets the failures");
}

#[test]
fn a_forbidden_list_is_a_readiness_reason_and_a_metric_until_the_watch_works() {
    use super::cache::WatchHealth;
    use super::metrics::WatchLabels;
    use kube::runtime::watcher;
    let metrics = Arc::new(Metrics::new(&mut prometheus_client::registry::Registry::default()));
    let probes = ProbeState::default();
    probes.set_role(Role::Leader);
    probes.caches_synced.store(true, std::sync::atomic::Ordering::Relaxed);
    let health = WatchHealth { metrics: metrics.clone(), probes: probes.clone() };
    let forbidden = kube::Error::Api(Box::new(
        kube::core::Status::failure("deployments.apps is forbidden: User \"tenantry\" cannot list", "Forbidden")
            .with_code(403),
    ));
    health.failed("Deployment", &watcher::Error::InitialListFailed(forbidden));
    let reason = probes.readiness().expect_err("not ready while a list is forbidden");
    assert!(reason.contains("forbidden to list Deployment (403)"), "{reason}");
    let counted = |reason: &str| {
        metrics.watch_errors.get_or_create(&WatchLabels { kind: "Deployment".into(), reason: reason.into() }).get()
    };
    assert_eq!(counted("forbidden"), 1);
    health.failed("ConfigMap", &watcher::Error::WatchFailed(kube::Error::Service("connection reset".into())));
    assert_eq!(
        metrics.watch_errors.get_or_create(&WatchLabels { kind: "ConfigMap".into(), reason: "transient".into() }).get(),
        1
    );
    assert!(probes.readiness().unwrap_err().contains("Deployment"), "a transient failure adds no reason");
    health.recovered("Deployment");
    assert!(probes.readiness().is_ok());
}

#[test]
fn a_cleanup_not_done_is_a_short_requeue_and_a_finalizer_failure_names_itself() {
    use super::error::Error;
    use super::reconcile::{finalizer_outcome, FinalizerStep};
    use kube::runtime::controller::Action;
    use kube::runtime::finalizer::Error as Finalizer;
    let pending = Finalizer::CleanupFailed(FinalizerStep::NotDone("namespace tenant-shop is still terminating".into()));
    assert_eq!(finalizer_outcome("shop", Err(pending)).expect("not an error"), Action::requeue(Duration::from_secs(5)));
    let conflict = kube::Error::Api(Box::new(kube::core::Status::failure("conflict", "Conflict").with_code(409)));
    let failed = finalizer_outcome("shop", Err(Finalizer::RemoveFinalizer(conflict))).expect_err("an error");
    assert!(matches!(failed, Error::Finalizer { ref tenant, .. } if tenant == "shop"), "{failed:?}");
    assert!(failed.to_string().starts_with("updating the finalizer of tenant shop"), "{failed}");
    assert!(failed.is_transient());
}
