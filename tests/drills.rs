//! Failure drills against a real control plane: an API server outage, a lease taken by
//! another identity, a handoff between two replicas, and a clean shutdown. They restart the
//! API server, so they run alone, after the cluster suite:
//!
//! ```sh
//! export KUBECONFIG="$(testenv/up)"
//! cargo test --locked -p tenantry --test drills -- --ignored --test-threads=1
//! ```
//!
//! Each drill installs the CRDs, creates its own partner, tier, tenant and workflow under a
//! unique suffix, runs replicas of the operator in-process with `operator::lead` (a short
//! lease in the `default` namespace, named after the drill), counts the writes each replica
//! sends (lease requests apart), and deletes what it created at the end.

use futures::FutureExt;
use http::Request;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Namespace, ResourceQuota};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::client::{Body, ClientBuilder};
use kube::{Client, Config};
use serde_json::json;
use std::collections::BTreeSet;
use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tenantry::api::{Partner, ServiceTier, Tenant, Workflow};
use tenantry::shell::error::RunError;
use tenantry::shell::http::{ProbeState, Role};
use tenantry::shell::lease::LeaseSettings;
use tenantry::shell::metrics::{Metrics, TransitionLabels};
use tenantry::shell::operator::{self, ControllerOptions, Shutdown};
use tokio::time::Instant;

mod support;

use support::{eventually, unique};

const TEST_MANAGER: &str = "tenantry-drills";
/// How long a drill waits for something the operator should do. Not a performance claim.
const DEADLINE: Duration = Duration::from_secs(90);
/// The drills' lease: short, so that expiry is quick (renew deadline 4 s, retry 0.8 s).
const LEASE: Duration = Duration::from_secs(6);
const LEASE_NAMESPACE: &str = "default";

fn init_logs() {
    support::init_logs("info,kube=warn")
}

async fn base_client() -> Client {
    support::client().await
}

async fn install_crds(client: &Client) {
    support::install_crds(client, TEST_MANAGER).await
}

/// `testenv/restart-apiserver`, from `$TENANTRY_TESTENV_DIR` or the repository's `testenv/`.
/// A drill that needs it fails when it is missing: it must not pass without its outage.
fn testenv_script(name: &str) -> PathBuf {
    let dir = std::env::var_os("TENANTRY_TESTENV_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../testenv"));
    let script = dir.join(name);
    assert!(
        script.is_file(),
        "{} is missing: the outage drill needs the testenv control plane's scripts (set TENANTRY_TESTENV_DIR \
         to the directory holding them)",
        script.display()
    );
    script
}

/// One drill's fleet: a partner, a tier, a tenant and a continuous workflow (a Deployment).
struct Fleet {
    client: Client,
    partner: String,
    tier: String,
    tenant: String,
    namespace: String,
    workflow: String,
}

fn apply_params() -> PatchParams {
    PatchParams::apply(TEST_MANAGER).force()
}

impl Fleet {
    async fn create(test: &str) -> Self {
        let client = base_client().await;
        install_crds(&client).await;
        let suffix = unique(test);
        let fleet = Fleet {
            partner: format!("p-{suffix}"),
            tier: format!("basic-{suffix}"),
            namespace: format!("tenant-{suffix}"),
            tenant: suffix,
            workflow: "orders".into(),
            client,
        };
        let partner = json!({
            "apiVersion": "tenantry.dev/v1alpha1", "kind": "Partner", "metadata": {"name": fleet.partner},
            "spec": {"displayName": "Drill Partner", "branding": {"productName": "Drill Flow"},
                     "currency": "EUR", "invoicePrefix": "DRILL"}
        });
        Api::<Partner>::all(fleet.client.clone())
            .patch(&fleet.partner, &apply_params(), &Patch::Apply(&partner))
            .await
            .expect("partner created");
        let tier = json!({
            "apiVersion": "tenantry.dev/v1alpha1", "kind": "ServiceTier", "metadata": {"name": fleet.tier},
            "spec": {
                "partnerRef": fleet.partner, "displayName": "Basic", "level": 1, "workflowCategories": ["orderToCash"],
                "limits": {"maxWorkflows": 5, "maxConnectedSystems": 3,
                           "namespaceQuota": {"cpu": "2", "memory": "2Gi", "pods": 10},
                           "defaultContainer": {"cpu": "50m", "memory": "64Mi"},
                           "maxContainer": {"cpu": "200m", "memory": "256Mi"}},
                "pricing": {"monthlyBaseFee": 1000}
            }
        });
        Api::<ServiceTier>::all(fleet.client.clone())
            .patch(&fleet.tier, &apply_params(), &Patch::Apply(&tier))
            .await
            .expect("tier created");
        let tenant = json!({
            "apiVersion": "tenantry.dev/v1alpha1", "kind": "Tenant", "metadata": {"name": fleet.tenant},
            "spec": {"partnerRef": fleet.partner, "tierRef": fleet.tier, "displayName": "Drill Tenant",
                     "region": "eu-west-1",
                     "connectedSystems": [{"name": "shop", "type": "storefront", "vendor": "Shopify"}]}
        });
        Api::<Tenant>::all(fleet.client.clone())
            .patch(&fleet.tenant, &apply_params(), &Patch::Apply(&tenant))
            .await
            .expect("tenant created");
        fleet
    }

    /// Applies the workflow once the namespace exists (the operator creates it).
    async fn apply_workflow(&self) {
        let namespaces: Api<Namespace> = Api::all(self.client.clone());
        eventually("the tenant's namespace", DEADLINE, || {
            let (namespaces, name) = (namespaces.clone(), self.namespace.clone());
            async move { namespaces.get_opt(&name).await.ok().flatten() }
        })
        .await;
        let workflow = json!({
            "apiVersion": "tenantry.dev/v1alpha1", "kind": "Workflow",
            "metadata": {"name": self.workflow, "namespace": self.namespace},
            "spec": {"category": "orderToCash", "template": "order-validation", "trigger": {"continuous": {"replicas": 1}},
                     "runner": {"image": "registry.k8s.io/pause:3.9"}, "connectors": ["shop"]}
        });
        Api::<Workflow>::namespaced(self.client.clone(), &self.namespace)
            .patch(&self.workflow, &apply_params(), &Patch::Apply(&workflow))
            .await
            .expect("workflow applied");
    }

    fn deployments(&self) -> Api<Deployment> {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    fn quotas(&self) -> Api<ResourceQuota> {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    async fn deployment_exists(&self, within: Duration) {
        let deployments = self.deployments();
        eventually("the workflow's Deployment", within, || {
            let (deployments, name) = (deployments.clone(), self.workflow.clone());
            async move { deployments.get_opt(&name).await.ok().flatten() }
        })
        .await;
    }

    async fn quota_pods(&self) -> Option<String> {
        let quota = self.quotas().get_opt("tenantry-quota").await.ok().flatten()?;
        quota.spec?.hard?.get("pods").map(|q| q.0.clone())
    }

    /// Deletes the Deployment and sets the quota's pods to 999: drift for the leader to repair.
    async fn drift(&self) {
        self.deployments().delete(&self.workflow, &DeleteParams::default()).await.expect("deployment deleted");
        let edit = json!({"spec": {"hard": {"pods": "999"}}});
        self.quotas()
            .patch("tenantry-quota", &PatchParams::default(), &Patch::Merge(&edit))
            .await
            .expect("quota edited");
    }

    /// Waits until the drift is repaired: the Deployment is back and the quota says 10 pods.
    async fn repaired(&self, within: Duration) {
        self.deployment_exists(within).await;
        eventually("the quota restored to 10 pods", within, || async {
            (self.quota_pods().await.as_deref() == Some("10")).then_some(())
        })
        .await;
    }

    /// Deletes the tenant (a leader removes its namespace and finalizer), then the rest; removes
    /// the finalizer by hand if nobody does within the deadline.
    async fn clean_up(&self) {
        let tenants: Api<Tenant> = Api::all(self.client.clone());
        let _ = tenants.delete(&self.tenant, &DeleteParams::default()).await;
        let gone = tokio::time::timeout(DEADLINE, async {
            while tenants.get_opt(&self.tenant).await.ok().flatten().is_some() {
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        })
        .await;
        if gone.is_err() {
            let release = json!({"metadata": {"finalizers": null}});
            let _ = tenants.patch(&self.tenant, &PatchParams::default(), &Patch::Merge(&release)).await;
            let _ = Api::<Namespace>::all(self.client.clone()).delete(&self.namespace, &DeleteParams::default()).await;
        }
        let _ = Api::<ServiceTier>::all(self.client.clone()).delete(&self.tier, &DeleteParams::default()).await;
        let _ = Api::<Partner>::all(self.client.clone()).delete(&self.partner, &DeleteParams::default()).await;
    }
}

/// A replica of the operator running `operator::lead` in-process, with the time of every
/// write it sends (lease requests apart: those are the election, not reconciling).
struct Replica {
    identity: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<Result<(), RunError>>>,
    writes: Arc<Mutex<Vec<Instant>>>,
    metrics: Arc<Metrics>,
    probes: ProbeState,
}

impl Replica {
    async fn start(partner: &str, lease: &str, identity: &str) -> Self {
        let writes = Arc::new(Mutex::new(Vec::new()));
        let recorded = writes.clone();
        let config = operator::with_timeouts(Config::infer().await.expect("a kubeconfig"));
        let record_writes = tower::util::MapRequestLayer::new(move |request: Request<Body>| {
            if request.method() != http::Method::GET && !request.uri().path().contains("/leases") {
                recorded.lock().expect("writes").push(Instant::now());
            }
            request
        });
        let client = ClientBuilder::try_from(config).expect("a client stack").with_layer(&record_writes).build();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let shutdown: Shutdown = async move {
            let _ = stopped.await;
        }
        .boxed()
        .shared();
        let metrics = Arc::new(Metrics::new(&mut prometheus_client::registry::Registry::default()));
        let probes = ProbeState::default();
        let options = ControllerOptions {
            concurrency: 2,
            debounce: operator::DEFAULT_DEBOUNCE,
            partners: BTreeSet::from([partner.to_string()]),
            instance: Some(identity.to_string()),
            // Open bills refreshed daily: writes counted over seconds never meet the hourly refresh.
            billing: tenantry::planner::ClosingRules {
                refresh: jiff::SignedDuration::from_hours(24),
                ..Default::default()
            },
        };
        let settings = LeaseSettings::new(LEASE_NAMESPACE, lease, identity, LEASE);
        let task = tokio::spawn(operator::lead(client, settings, options, metrics.clone(), probes.clone(), shutdown));
        Replica { identity: identity.into(), stop: Some(stop), task: Some(task), writes, metrics, probes }
    }

    fn leading(&self) -> bool {
        self.metrics.leader.get() == 1
    }

    fn transitions(&self, transition: &str) -> u64 {
        self.metrics.lease_transitions.get_or_create(&TransitionLabels { transition: transition.into() }).get()
    }

    fn writes(&self) -> Vec<Instant> {
        self.writes.lock().expect("writes").clone()
    }

    async fn until_leading(&self) {
        eventually(&format!("{} leads", self.identity), DEADLINE, || async { self.leading().then_some(()) }).await;
    }

    /// Requests a shutdown (what SIGTERM does) and returns what `lead` returned.
    async fn shut_down(&mut self) -> Result<(), RunError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let task = self.task.take().expect("running");
        tokio::time::timeout(Duration::from_secs(30), task)
            .await
            .expect("the replica stops within 30 s")
            .expect("the replica's task did not panic")
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

async fn lease_holder(client: &Client, lease: &str) -> Option<String> {
    let leases: Api<Lease> = Api::namespaced(client.clone(), LEASE_NAMESPACE);
    leases.get_opt(lease).await.ok().flatten()?.spec?.holder_identity
}

async fn delete_lease(client: &Client, lease: &str) {
    let _ = Api::<Lease>::namespaced(client.clone(), LEASE_NAMESPACE).delete(lease, &DeleteParams::default()).await;
}

/// Runs `body` on a fresh fleet and lease name, and always cleans up; a failure in `body`
/// fails the drill after the cleanup. `body` hands back the replicas still running, so that
/// one of them removes the tenant's finalizer before it stops.
async fn drill<F, Fut>(test: &str, body: F)
where
    F: FnOnce(Arc<Fleet>, String) -> Fut,
    Fut: Future<Output = Vec<Replica>> + Send + 'static,
{
    init_logs();
    let fleet = Arc::new(Fleet::create(test).await);
    let lease = format!("drill-{}", fleet.tenant);
    let outcome = tokio::spawn(body(fleet.clone(), lease.clone())).await;
    match outcome {
        Ok(replicas) => {
            fleet.clean_up().await;
            for mut replica in replicas {
                let _ = replica.shut_down().await;
            }
            delete_lease(&fleet.client, &lease).await;
        }
        Err(error) => {
            // The body's replicas were dropped (aborted): a fresh one removes the finalizer.
            let mut cleaner = Replica::start(&fleet.partner, &lease, "cleaner").await;
            fleet.clean_up().await;
            let _ = cleaner.shut_down().await;
            delete_lease(&fleet.client, &lease).await;
            if error.is_panic() {
                std::panic::resume_unwind(error.into_panic());
            }
            panic!("the drill did not finish: {error}");
        }
    }
}

#[tokio::test]
#[ignore = "needs the testenv control plane (testenv/up) and restarts its API server"]
async fn an_api_server_outage_with_one_replica_heals_in_the_same_process() {
    let restart = testenv_script("restart-apiserver");
    drill("outage", move |fleet, lease| async move {
        let replica = Replica::start(&fleet.partner, &lease, "solo").await;
        replica.until_leading().await;
        fleet.apply_workflow().await;
        fleet.deployment_exists(DEADLINE).await;

        // Watch the replica's role through the outage.
        let roles = Arc::new(Mutex::new(BTreeSet::new()));
        let watcher = {
            let (roles, probes) = (roles.clone(), replica.probes.clone());
            tokio::spawn(async move {
                loop {
                    roles.lock().expect("roles").insert(format!("{:?}", probes.role()));
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            })
        };
        let status = tokio::task::spawn_blocking(move || std::process::Command::new(&restart).arg("15").status())
            .await
            .expect("restart-apiserver ran")
            .expect("restart-apiserver runs");
        assert!(status.success(), "testenv/restart-apiserver 15 failed: {status}");
        let back = Instant::now();

        // The replica stepped down during the outage, competes again and leads once more.
        assert!(replica.transitions("renew_deadline") >= 1, "it stepped down when it could not renew");
        replica.until_leading().await;
        watcher.abort();
        let roles = roles.lock().expect("roles").clone();
        assert!(roles.contains("Follower"), "competed again as a follower during the outage: {roles:?}");
        assert!(replica.transitions("acquired") >= 2, "re-acquired the lease after the outage");
        assert!(replica.probes.health().is_ok(), "{:?}", replica.probes.health());

        // Leading again, with caches rebuilt from fresh lists, it finds nothing to write: every
        // reconcile in the seconds after re-acquiring compares equal (no apply, no status
        // patch, no Event) until the drill makes drift of its own.
        eventually("the caches filled again", DEADLINE, || async { replica.probes.readiness().is_ok().then_some(()) })
            .await;
        tokio::time::sleep(Duration::from_secs(5)).await;
        let after_outage: Vec<_> = replica.writes().into_iter().filter(|t| *t >= back).collect();
        assert!(
            after_outage.is_empty(),
            "{} writes after re-acquiring the lease, before any drift (the first {:?} after the API server was back)",
            after_outage.len(),
            after_outage.first().map(|t| *t - back)
        );

        // Drift after the outage is repaired within 30 s.
        fleet.drift().await;
        fleet.repaired(Duration::from_secs(30)).await;
        eprintln!("outage drill: leading again and drift repaired {:?} after the API server was back", back.elapsed());
        vec![replica]
    })
    .await;
}

#[tokio::test]
#[ignore = "needs the testenv control plane (testenv/up) and restarts its API server"]
async fn a_lease_taken_by_another_identity_stops_writes_until_it_expires() {
    drill("taken", |fleet, lease| async move {
        let replica = Replica::start(&fleet.partner, &lease, "owner").await;
        replica.until_leading().await;
        fleet.apply_workflow().await;
        fleet.deployment_exists(DEADLINE).await;

        // Another identity writes the lease as its own, once, and never renews.
        let leases: Api<Lease> = Api::namespaced(fleet.client.clone(), LEASE_NAMESPACE);
        let mut taken = leases.get(&lease).await.expect("the lease");
        let spec = taken.spec.get_or_insert_with(Default::default);
        spec.holder_identity = Some("intruder".into());
        spec.renew_time = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime(jiff::Timestamp::now()));
        spec.lease_duration_seconds = Some(i32::try_from(LEASE.as_secs()).expect("seconds"));
        leases.replace(&lease, &PostParams::default(), &taken).await.expect("the lease overwritten");
        let overwritten = Instant::now();

        eventually("the owner stops leading", Duration::from_secs(5), || async { (!replica.leading()).then_some(()) })
            .await;
        assert!(overwritten.elapsed() < LEASE, "stopped before the intruder's lease could expire");
        assert_eq!(replica.transitions("taken"), 1);
        let stopped = Instant::now();
        let writes_before = replica.writes().len();

        // Drift while the intruder holds the lease: nobody may repair it.
        fleet.drift().await;
        let intruder_expires = overwritten + LEASE;
        tokio::time::sleep_until(intruder_expires - Duration::from_millis(500)).await;
        let during: Vec<_> = replica.writes().into_iter().filter(|t| *t > stopped).collect();
        assert!(during.is_empty(), "{} writes while another identity held the lease", during.len());
        assert_eq!(replica.writes().len(), writes_before);
        assert!(fleet.deployments().get_opt(&fleet.workflow).await.expect("readable").is_none());
        assert_eq!(lease_holder(&fleet.client, &lease).await.as_deref(), Some("intruder"));

        // Once the intruder's lease has expired (on the owner's clock), the owner takes it back
        // and repairs the drift.
        replica.until_leading().await;
        let retaken = overwritten.elapsed();
        assert!(retaken >= LEASE, "took the lease back {retaken:?} after it was taken: before it expired");
        fleet.repaired(Duration::from_secs(30)).await;
        eprintln!("taken drill: stopped within {:?}, took the lease back after {retaken:?}", stopped - overwritten);
        vec![replica]
    })
    .await;
}

#[tokio::test]
#[ignore = "needs the testenv control plane (testenv/up) and restarts its API server"]
async fn two_replicas_hand_over_without_overlapping_writes() {
    drill("handoff", |fleet, lease| async move {
        let mut first = Replica::start(&fleet.partner, &lease, "replica-a").await;
        first.until_leading().await;
        fleet.apply_workflow().await;
        fleet.deployment_exists(DEADLINE).await;
        let second = Replica::start(&fleet.partner, &lease, "replica-b").await;
        eventually("replica-b stands by", DEADLINE, || async {
            (second.probes.role() == Role::Follower).then_some(())
        })
        .await;
        assert!(!second.leading());

        let stopping = Instant::now();
        first.shut_down().await.expect("a clean stop returns Ok");
        second.until_leading().await;
        let handed_over = stopping.elapsed();
        fleet.drift().await;
        fleet.repaired(Duration::from_secs(30)).await;

        let (a, b) = (first.writes(), second.writes());
        let last_a = *a.last().expect("replica-a wrote while leading");
        let first_b = *b.first().expect("replica-b wrote after taking over");
        assert!(last_a < first_b, "writes overlap: replica-b wrote {:?} before replica-a's last write", last_a - first_b);
        eprintln!(
            "handoff drill: replica-b led {handed_over:?} after replica-a was told to stop; {:?} between the last write of a and the first of b",
            first_b - last_a
        );
        vec![second]
    })
    .await;
}

#[tokio::test]
#[ignore = "needs the testenv control plane (testenv/up) and restarts its API server"]
async fn a_shutdown_returns_ok_and_releases_the_lease() {
    drill("shutdown", |fleet, lease| async move {
        let mut replica = Replica::start(&fleet.partner, &lease, "stopping").await;
        replica.until_leading().await;
        assert_eq!(lease_holder(&fleet.client, &lease).await.as_deref(), Some("stopping"));
        let result = replica.shut_down().await;
        assert!(result.is_ok(), "a shutdown is the exit-0 path: {result:?}");
        assert_eq!(lease_holder(&fleet.client, &lease).await, None, "the lease is released");
        assert_eq!(replica.transitions("released"), 1);
        assert_eq!(replica.transitions("taken") + replica.transitions("renew_deadline"), 0, "not reported as lost");
        // A fresh replica cleans up the tenant.
        vec![Replica::start(&fleet.partner, &lease, "cleaner").await]
    })
    .await;
}

/// The survival test's fleet size: `TENANTRY_SURVIVAL_TENANTS` (default 200), two scheduled
/// workflows each.
fn survival_tenants() -> usize {
    std::env::var("TENANTRY_SURVIVAL_TENANTS").ok().and_then(|n| n.parse().ok()).unwrap_or(200)
}

/// The operator binary as a separate process, so that it can be SIGKILLed. Its log goes to a
/// file in the temp directory, named in failures.
struct OperatorProcess {
    child: std::process::Child,
    log: PathBuf,
    metrics: String,
}

/// An operator process still running when its handle goes (a drill that failed half-way)
/// is killed, so no operator outlives the test.
impl Drop for OperatorProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl OperatorProcess {
    fn start(partner: &str, name: &str, port: u16) -> Self {
        let log = std::env::temp_dir().join(format!("{name}.log"));
        let file = std::fs::File::create(&log).expect("a log file");
        let metrics = format!("127.0.0.1:{port}");
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_tenantry"))
            .args(["run", "--no-leader-election", "--concurrency", "8", "--partner", partner])
            .args(["--metrics-address", &metrics])
            // Open bills refreshed daily: the 60 s without change never meets the hourly refresh.
            .args(["--billing-refresh-seconds", "86400"])
            .env("RUST_LOG", "info,kube=warn")
            .env("POD_NAMESPACE", "tenantry-system")
            .stdout(file.try_clone().expect("log"))
            .stderr(file)
            .spawn()
            .expect("the tenantry binary starts");
        eprintln!("survival: started {name} (pid {}), log {}", child.id(), log.display());
        OperatorProcess { child, log, metrics }
    }

    /// SIGKILL: no cleanup of any kind.
    fn kill(mut self) {
        self.child.kill().expect("SIGKILL");
        let _ = self.child.wait();
    }

    /// SIGTERM, and the exit status.
    fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let sent = std::process::Command::new("kill").args(["-TERM", &pid]).status().expect("kill runs");
        assert!(sent.success(), "kill -TERM {pid}");
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the operator did not stop within 60 s: {}",
                self.log.display()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The sum of the operator's write counters (applies, prunes, status patches) from
    /// `/metrics`, or `None` when it does not answer.
    fn writes(&self) -> Option<u64> {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(&self.metrics).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        write!(stream, "GET /metrics HTTP/1.0\r\nHost: {}\r\n\r\n", self.metrics).ok()?;
        let mut body = String::new();
        stream.read_to_string(&mut body).ok()?;
        let counters = ["tenantry_applies_total", "tenantry_prunes_total", "tenantry_status_patches_total"];
        let total = body
            .lines()
            .filter(|line| counters.iter().any(|c| line.starts_with(c)))
            .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
            .sum::<f64>();
        Some(total as u64)
    }
}

/// Every object the survival test watches, by kind, namespace and name, with its
/// resourceVersion: the partner's managed children, its tenants and workflows, and the
/// bystander namespace's objects.
async fn resource_versions(
    client: &Client,
    partner: &str,
    bystander: &str,
) -> std::collections::BTreeMap<(String, String, String), String> {
    use kube::api::{DynamicObject, ListParams};
    use kube::core::ApiResource;
    use tenantry::planner::ChildKind;
    let mut versions = std::collections::BTreeMap::new();
    let mut lists: Vec<(ApiResource, ListParams)> = ChildKind::ALL
        .iter()
        .map(|kind| {
            let selector = format!("app.kubernetes.io/managed-by=tenantry,tenantry.dev/partner={partner}");
            (tenantry::shell::apply::api_resource(*kind), ListParams::default().labels(&selector))
        })
        .collect();
    lists.push((ApiResource::erase::<Tenant>(&()), ListParams::default()));
    lists.push((ApiResource::erase::<Workflow>(&()), ListParams::default()));
    for (resource, params) in lists {
        let api: Api<DynamicObject> = Api::all_with(client.clone(), &resource);
        for object in api.list(&params).await.expect("a list").items {
            let namespace = object.metadata.namespace.clone().unwrap_or_default();
            let ours = resource.kind != "Tenant" && resource.kind != "Workflow"
                || object.data.pointer("/spec/partnerRef").and_then(|p| p.as_str()) == Some(partner)
                || namespace.starts_with(&format!("tenant-{partner}-"));
            if ours {
                let key = (resource.kind.clone(), namespace, object.metadata.name.clone().unwrap_or_default());
                versions.insert(key, object.metadata.resource_version.clone().unwrap_or_default());
            }
        }
    }
    for resource in
        [ApiResource::erase::<k8s_openapi::api::core::v1::ConfigMap>(&()), ApiResource::erase::<Deployment>(&())]
    {
        let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), bystander, &resource);
        for object in api.list(&ListParams::default()).await.expect("a list").items {
            let key = (resource.kind.clone(), bystander.to_string(), object.metadata.name.clone().unwrap_or_default());
            versions.insert(key, object.metadata.resource_version.clone().unwrap_or_default());
        }
    }
    let namespace = Api::<Namespace>::all(client.clone()).get(bystander).await.expect("the bystander namespace");
    versions.insert(
        ("Namespace".into(), String::new(), bystander.to_string()),
        namespace.metadata.resource_version.unwrap_or_default(),
    );
    versions
}

/// The bystander's objects that tenantry wrote to: a `tenantry` field manager, an owner
/// reference or a tenantry label on any of them.
async fn written_by_tenantry(client: &Client, bystander: &str) -> Vec<String> {
    use kube::api::{DynamicObject, ListParams};
    use kube::core::ApiResource;
    let mut objects: Vec<DynamicObject> = Vec::new();
    for resource in
        [ApiResource::erase::<k8s_openapi::api::core::v1::ConfigMap>(&()), ApiResource::erase::<Deployment>(&())]
    {
        let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), bystander, &resource);
        objects.extend(api.list(&ListParams::default()).await.expect("a list").items);
    }
    let namespace = Api::<Namespace>::all(client.clone()).get(bystander).await.expect("the bystander namespace");
    let namespace: DynamicObject =
        serde_json::from_value(serde_json::to_value(namespace).expect("json")).expect("dynamic");
    objects.push(namespace);
    objects
        .iter()
        .filter(|object| {
            let meta = &object.metadata;
            let managed = meta.managed_fields.iter().flatten().any(|f| f.manager.as_deref() == Some("tenantry"));
            let owned = meta.owner_references.iter().flatten().any(|o| o.api_version.starts_with("tenantry.dev/"));
            let labelled = meta.labels.iter().flatten().any(|(key, _)| key.starts_with("tenantry.dev/"));
            managed || owned || labelled
        })
        .map(|object| object.metadata.name.clone().unwrap_or_default())
        .collect()
}

/// The managed children `tenants` with two scheduled workflows each should have, by kind,
/// namespace and name.
fn children_expected(tenants: &[String]) -> BTreeSet<(String, String, String)> {
    let mut expected = BTreeSet::new();
    for tenant in tenants {
        let namespace = format!("tenant-{tenant}");
        expected.insert(("Namespace".to_string(), String::new(), namespace.clone()));
        for (kind, name) in [
            ("ServiceAccount", "tenantry-runner"),
            ("ResourceQuota", "tenantry-quota"),
            ("LimitRange", "tenantry-limits"),
            ("NetworkPolicy", "tenantry-isolation"),
            ("ConfigMap", "tenantry-branding"),
            ("ConfigMap", "nightly-definition"),
            ("ConfigMap", "monthly-definition"),
            ("CronJob", "nightly"),
            ("CronJob", "monthly"),
        ] {
            expected.insert((kind.to_string(), namespace.clone(), name.to_string()));
        }
    }
    expected
}

/// A fleet of 200 tenants with two scheduled workflows each survives a SIGKILLed operator
/// mid-convergence, a 15 s API server outage while it converges the workflows, and a restart:
/// it ends with exactly the expected children, then writes nothing for a minute, and never
/// touches an object that is not tenantry's.
#[tokio::test]
#[ignore = "needs the testenv control plane (testenv/up): restarts its API server and runs the operator binary"]
async fn a_fleet_of_200_tenants_survives_a_kill_an_outage_and_a_restart() {
    init_logs();
    let restart = testenv_script("restart-apiserver");
    let survival = Survival::create(survival_tenants()).await;
    let (operator, panic) = match std::panic::AssertUnwindSafe(survival.endure(restart)).catch_unwind().await {
        Ok(operator) => (operator, None),
        // Clean up with an operator running: it removes the namespaces and finalizers.
        Err(panic) => {
            let cleaner = OperatorProcess::start(&survival.partner, &format!("{}-cleaner", survival.suffix), 28184);
            (cleaner, Some(panic))
        }
    };
    let gone = survival.clean_up().await;
    let _ = operator.terminate();
    if let Some(panic) = panic {
        std::panic::resume_unwind(panic);
    }
    assert!(gone, "the tenants and their namespaces did not go within 10 minutes");
}

/// The survival drill's fleet: one partner and tier, `tenants` tenants, and a bystander
/// namespace with a ConfigMap and a Deployment that are not tenantry's.
struct Survival {
    client: Client,
    started: Instant,
    suffix: String,
    partner: String,
    tier: String,
    tenants: Vec<String>,
    bystander: String,
}

impl Survival {
    async fn create(count: usize) -> Self {
        let client = base_client().await;
        install_crds(&client).await;
        let suffix = unique("surv");
        let partner = format!("p-{suffix}");
        let survival = Survival {
            started: Instant::now(),
            tier: format!("t-{suffix}"),
            tenants: (0..count).map(|i| format!("{partner}-{i:03}")).collect(),
            bystander: format!("bystander-{suffix}"),
            partner,
            suffix,
            client,
        };
        survival.create_bystander().await;
        survival.create_fleet().await;
        survival
    }

    fn api<K>(&self, namespace: Option<&str>) -> Api<kube::api::DynamicObject>
    where
        K: kube::Resource<DynamicType = ()>,
    {
        let resource = kube::core::ApiResource::erase::<K>(&());
        match namespace {
            Some(namespace) => Api::namespaced_with(self.client.clone(), namespace, &resource),
            None => Api::all_with(self.client.clone(), &resource),
        }
    }

    async fn create_bystander(&self) {
        let bystander = &self.bystander;
        apply(
            self.api::<Namespace>(None),
            bystander,
            json!({
                "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": bystander}
            }),
        )
        .await;
        apply(
            self.api::<k8s_openapi::api::core::v1::ConfigMap>(Some(bystander)),
            "settings",
            json!({
                "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings", "namespace": bystander,
                    "labels": {"app.kubernetes.io/managed-by": "someone-else"}},
                "data": {"a": "b"}
            }),
        )
        .await;
        apply(
            self.api::<Deployment>(Some(bystander)),
            "idle",
            json!({
                "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "idle", "namespace": bystander},
                "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "idle"}},
                         "template": {"metadata": {"labels": {"app": "idle"}},
                                      "spec": {"containers": [{"name": "c", "image": "registry.k8s.io/pause:3.9"}]}}}
            }),
        )
        .await;
    }

    async fn create_fleet(&self) {
        use futures::StreamExt;
        let (partner, tier) = (&self.partner, &self.tier);
        apply(
            self.api::<Partner>(None),
            partner,
            json!({
                "apiVersion": "tenantry.dev/v1alpha1", "kind": "Partner", "metadata": {"name": partner},
                "spec": {"displayName": "Survival", "branding": {"productName": "Survival Flow"}, "currency": "EUR",
                         "invoicePrefix": "SURV"}
            }),
        )
        .await;
        apply(self.api::<ServiceTier>(None), tier, json!({
            "apiVersion": "tenantry.dev/v1alpha1", "kind": "ServiceTier", "metadata": {"name": tier},
            "spec": {"partnerRef": partner, "displayName": "Basic", "level": 1, "workflowCategories": ["orderToCash"],
                     "limits": {"maxWorkflows": 5, "maxConnectedSystems": 3,
                                "namespaceQuota": {"cpu": "2", "memory": "2Gi", "pods": 10},
                                "defaultContainer": {"cpu": "50m", "memory": "64Mi"},
                                "maxContainer": {"cpu": "200m", "memory": "256Mi"}},
                     "pricing": {"monthlyBaseFee": 1000}}
        }))
        .await;
        let tenants = self.api::<Tenant>(None);
        futures::stream::iter(self.tenants.iter())
            .map(|name| {
                let body = json!({
                    "apiVersion": "tenantry.dev/v1alpha1", "kind": "Tenant", "metadata": {"name": name},
                    "spec": {"partnerRef": partner, "tierRef": tier, "displayName": "Survival Tenant",
                             "region": "eu-west-1",
                             "connectedSystems": [{"name": "shop", "type": "storefront", "vendor": "Shopify"}]}
                });
                apply(tenants.clone(), name, body)
            })
            .buffer_unordered(16)
            .collect::<Vec<()>>()
            .await;
    }

    /// Two scheduled workflows in every tenant's namespace.
    async fn create_workflows(&self) {
        use futures::StreamExt;
        let workflows = self.tenants.iter().flat_map(|t| [(t, "nightly", "0 2 * * *"), (t, "monthly", "0 3 1 * *")]);
        futures::stream::iter(workflows)
            .map(|(tenant, name, cron)| {
                let namespace = format!("tenant-{tenant}");
                let body = json!({
                    "apiVersion": "tenantry.dev/v1alpha1", "kind": "Workflow",
                    "metadata": {"name": name, "namespace": namespace},
                    "spec": {"category": "orderToCash", "template": "invoice-generation",
                             "trigger": {"schedule": {"cron": cron}},
                             "runner": {"image": "registry.k8s.io/pause:3.9"}, "connectors": ["shop"]}
                });
                apply(self.api::<Workflow>(Some(&namespace)), name, body)
            })
            .buffer_unordered(16)
            .collect::<Vec<()>>()
            .await;
    }

    /// How many of the fleet's namespaces exist.
    async fn namespaces(&self) -> usize {
        let selector = format!("tenantry.dev/partner={}", self.partner);
        let namespaces: Api<Namespace> = Api::all(self.client.clone());
        namespaces.list(&kube::api::ListParams::default().labels(&selector)).await.map(|l| l.items.len()).unwrap_or(0)
    }

    async fn until_namespaces(&self, at_least: usize, within: Duration) {
        eventually(&format!("{at_least} tenant namespaces"), within, || async {
            (self.namespaces().await >= at_least).then_some(())
        })
        .await;
    }

    /// The drill itself: SIGKILL, outage, restart, then the checks. Returns the operator
    /// still running.
    async fn endure(&self, restart: PathBuf) -> OperatorProcess {
        let count = self.tenants.len();
        // 1. SIGKILL the operator mid-convergence (a third of the namespaces made).
        let first = OperatorProcess::start(&self.partner, &format!("{}-first", self.suffix), 28181);
        self.until_namespaces(count / 3, Duration::from_secs(300)).await;
        first.kill();
        let made = self.namespaces().await;
        eprintln!(
            "survival: SIGKILLed the first operator with {made} namespaces made, {:?} in",
            self.started.elapsed()
        );

        // 2. A second operator converges the tenants; the workflows come once their namespaces
        //    do, and the API server goes away for 15 s while it converges them.
        let second = OperatorProcess::start(&self.partner, &format!("{}-second", self.suffix), 28182);
        self.until_namespaces(count, Duration::from_secs(600)).await;
        self.create_workflows().await;
        let outage = tokio::task::spawn_blocking(move || std::process::Command::new(&restart).arg("15").status())
            .await
            .expect("restart-apiserver ran")
            .expect("restart-apiserver runs");
        assert!(outage.success(), "testenv/restart-apiserver 15 failed: {outage}");
        eprintln!("survival: API server back after a 15 s outage, {:?} in", self.started.elapsed());

        // 3. A restart: SIGTERM, then a fresh process.
        let stopped = second.terminate();
        assert!(stopped.success(), "SIGTERM is a clean stop: {stopped}");
        let third = OperatorProcess::start(&self.partner, &format!("{}-third", self.suffix), 28183);
        self.until_everything_ready().await;
        self.assert_exact_children().await;
        let before = self.assert_settled(&third).await;
        self.assert_bystander_untouched(&before).await;
        third
    }

    /// Every tenant Ready with two running workflows, every workflow Ready.
    async fn until_everything_ready(&self) {
        let count = self.tenants.len();
        let ready = |conditions: &[tenantry::api::Condition]| {
            conditions.iter().any(|c| c.type_ == "Ready" && format!("{:?}", c.status) == "True")
        };
        let tenants: Api<Tenant> = Api::all(self.client.clone());
        let workflows: Api<Workflow> = Api::all(self.client.clone());
        let prefix = format!("tenant-{}-", self.partner);
        eventually("every tenant and workflow Ready", Duration::from_secs(600), || async {
            let tenants_ready = tenants
                .list(&Default::default())
                .await
                .ok()?
                .items
                .into_iter()
                .filter(|t| t.spec.partner_ref == self.partner)
                .filter_map(|t| t.status)
                .filter(|s| s.workflows.as_ref().is_some_and(|w| w.running == 2) && ready(&s.conditions))
                .count();
            let workflows_ready = workflows
                .list(&Default::default())
                .await
                .ok()?
                .items
                .into_iter()
                .filter(|w| w.metadata.namespace.as_deref().is_some_and(|ns| ns.starts_with(&prefix)))
                .filter(|w| w.status.as_ref().is_some_and(|s| ready(&s.conditions)))
                .count();
            (tenants_ready == count && workflows_ready == 2 * count).then_some(())
        })
        .await;
        eprintln!("survival: converged {:?} in", self.started.elapsed());
    }

    /// Exactly the expected children: nothing missing, nothing duplicated or left over.
    async fn assert_exact_children(&self) {
        let versions = resource_versions(&self.client, &self.partner, &self.bystander).await;
        let observed: BTreeSet<_> = versions
            .keys()
            .filter(|(kind, namespace, name)| {
                kind != "Tenant" && kind != "Workflow" && namespace != &self.bystander && name != &self.bystander
            })
            .cloned()
            .collect();
        let expected = children_expected(&self.tenants);
        let missing: Vec<_> = expected.difference(&observed).take(5).collect();
        let extra: Vec<_> = observed.difference(&expected).take(5).collect();
        assert!(missing.is_empty() && extra.is_empty(), "missing {missing:?}, unexpected {extra:?}");
        let mut by_kind = std::collections::BTreeMap::<String, usize>::new();
        for (kind, _, _) in &observed {
            *by_kind.entry(kind.clone()).or_default() += 1;
        }
        eprintln!("survival: children by kind {by_kind:?}");
    }

    /// Nothing written for a minute, by the operator or on its behalf. Returns the objects
    /// compared, with their resourceVersions.
    async fn assert_settled(
        &self,
        operator: &OperatorProcess,
    ) -> std::collections::BTreeMap<(String, String, String), String> {
        tokio::time::sleep(Duration::from_secs(10)).await;
        self.until_quotas_are_counted().await;
        let before = resource_versions(&self.client, &self.partner, &self.bystander).await;
        let writes_before = operator.writes();
        tokio::time::sleep(Duration::from_secs(60)).await;
        let after = resource_versions(&self.client, &self.partner, &self.bystander).await;
        let writes_after = operator.writes();
        let changed: Vec<_> =
            before.iter().filter(|(k, v)| after.get(*k) != Some(*v)).map(|(k, _)| k.clone()).take(10).collect();
        eprintln!(
            "survival: {} objects compared over 60 s, {} changed; operator writes {writes_before:?} -> {writes_after:?}",
            before.len(),
            changed.len()
        );
        assert!(changed.is_empty(), "objects changed while settled: {changed:?}");
        assert_eq!(before.len(), after.len(), "objects appeared or went while settled");
        assert_eq!(writes_before, writes_after, "the operator counted writes while settled");
        before
    }

    /// Waits until the cluster's quota controller has written the status of every quota of the
    /// fleet: its first status write changes a quota's resourceVersion, and after an API
    /// server outage on a loaded machine it can come more than a minute after the quota.
    async fn until_quotas_are_counted(&self) {
        let quotas: Api<ResourceQuota> = Api::all(self.client.clone());
        let selector = format!("app.kubernetes.io/managed-by=tenantry,tenantry.dev/partner={}", self.partner);
        let params = kube::api::ListParams::default().labels(&selector);
        eventually("every quota counted by the quota controller", Duration::from_secs(180), || {
            let (quotas, params) = (quotas.clone(), params.clone());
            async move {
                let listed = quotas.list(&params).await.ok()?;
                let counted = |quota: &ResourceQuota| {
                    let hard = quota.spec.as_ref().and_then(|s| s.hard.as_ref());
                    hard.is_some() && quota.status.as_ref().and_then(|s| s.hard.as_ref()) == hard
                };
                listed.items.iter().all(counted).then_some(())
            }
        })
        .await;
    }

    /// The bystander's objects are all there, and the operator never wrote to one of them.
    async fn assert_bystander_untouched(&self, seen: &std::collections::BTreeMap<(String, String, String), String>) {
        let bystander = &self.bystander;
        for (kind, namespace, name) in [
            ("Namespace", "", bystander.as_str()),
            ("ConfigMap", bystander.as_str(), "settings"),
            ("Deployment", bystander.as_str(), "idle"),
        ] {
            let key = (kind.to_string(), namespace.to_string(), name.to_string());
            assert!(seen.contains_key(&key), "{key:?} is gone");
        }
        let touched = written_by_tenantry(&self.client, bystander).await;
        assert!(touched.is_empty(), "tenantry wrote to the bystander: {touched:?}");
    }

    /// Deletes the fleet's tenants (an operator must be running to release them), waits up to
    /// ten minutes for them and their namespaces to go, then deletes the tier, the partner,
    /// the bystander and the fleet's BillingRecords. Whether everything went in time.
    async fn clean_up(&self) -> bool {
        let tenants = self.api::<Tenant>(None);
        for name in &self.tenants {
            let _ = tenants.delete(name, &DeleteParams::background()).await;
        }
        let left = || async {
            let listed = tenants.list(&Default::default()).await;
            let tenants_left = listed.map_or(true, |l| {
                l.items
                    .iter()
                    .any(|t| t.data.pointer("/spec/partnerRef").and_then(|p| p.as_str()) == Some(&self.partner))
            });
            tenants_left || self.namespaces().await > 0
        };
        let gone = tokio::time::timeout(Duration::from_secs(600), async {
            while left().await {
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
        })
        .await
        .is_ok();
        if !gone {
            for name in &self.tenants {
                let release = json!({"metadata": {"finalizers": null}});
                let _ = tenants.patch(name, &PatchParams::default(), &Patch::Merge(&release)).await;
            }
        }
        eprintln!("survival: cleaned up {:?} in (in time: {gone})", self.started.elapsed());
        let _ = Api::<ServiceTier>::all(self.client.clone()).delete(&self.tier, &DeleteParams::default()).await;
        let _ = Api::<Partner>::all(self.client.clone()).delete(&self.partner, &DeleteParams::default()).await;
        let _ = Api::<Namespace>::all(self.client.clone()).delete(&self.bystander, &DeleteParams::default()).await;
        let records: Api<tenantry::api::BillingRecord> = Api::all(self.client.clone());
        let selector = kube::api::ListParams::default().labels(&format!("tenantry.dev/partner={}", self.partner));
        let _ = records.delete_collection(&DeleteParams::default(), &selector).await;
        gone
    }
}

/// Server-side applies `body` as `name` through `api`; the test fails if it is refused.
async fn apply(api: Api<kube::api::DynamicObject>, name: &str, body: serde_json::Value) {
    api.patch(name, &apply_params(), &Patch::Apply(&body)).await.unwrap_or_else(|e| panic!("{name}: {e}"));
}
