//! Real-cluster tests: they need a Kubernetes API server (1.30 or later) and are ignored by
//! default. Run them with
//!
//! ```sh
//! KUBECONFIG=~/.kube/config cargo test --test cluster -- --ignored --test-threads=4
//! ```
//!
//! Each test installs the CRDs (server-side apply, idempotent), creates its own partner,
//! tiers and tenant under a unique suffix, runs the operator in-process serving only that
//! partner (so tests running in parallel never touch each other's objects), and deletes
//! everything it created at the end, whether it passed or not. The CRDs stay installed:
//! removing them would delete other tests' objects.

use futures::FutureExt;
use http::Request;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::CronJob;
use k8s_openapi::api::core::v1::{ConfigMap, LimitRange, Namespace, ResourceQuota, ServiceAccount};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::client::{Body, ClientBuilder};
use kube::{Client, Config, ResourceExt};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tenantry::api::billing::BillingPhase;
use tenantry::api::{BillingRecord, GovernancePolicy, Partner, ServiceTier, Tenant, Workflow, WorkflowPhase};
use tenantry::shell::metrics::Metrics;
use tenantry::shell::operator::{self, ControllerOptions, Shutdown};

mod support;

use support::{quiet_billing, unique};

const TEST_MANAGER: &str = "tenantry-tests";
/// The longest a test waits for the operator to converge. Not a performance assertion: a
/// deadline after which waiting longer would not help.
const DEADLINE: Duration = Duration::from_secs(90);

async fn base_client() -> Client {
    support::client().await
}

async fn install_crds(client: &Client) {
    support::install_crds(client, TEST_MANAGER).await
}

/// Polls `check` until it returns `Some`, or fails the test at [`DEADLINE`].
async fn eventually<T, F, Fut>(what: &str, check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    support::eventually(what, DEADLINE, check).await
}

/// The operator running in-process, with a count of the writes it sends.
struct RunningOperator {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
    writes: Arc<AtomicUsize>,
    /// Every write, as method and path, for failure messages.
    log: Arc<std::sync::Mutex<Vec<String>>>,
    ready: Arc<AtomicBool>,
}

impl RunningOperator {
    async fn start(partner: &str) -> Self {
        Self::start_with(partner, quiet_billing()).await
    }

    async fn start_with(partner: &str, billing: tenantry::planner::ClosingRules) -> Self {
        let writes = Arc::new(AtomicUsize::new(0));
        let counted = writes.clone();
        let log = Arc::new(std::sync::Mutex::new(Vec::new()));
        let logged = log.clone();
        let config = Config::infer().await.expect("a kubeconfig");
        let count_writes = tower::util::MapRequestLayer::new(move |request: Request<Body>| {
            if request.method() != http::Method::GET {
                counted.fetch_add(1, Ordering::SeqCst);
                let line = format!("{} {}", request.method(), request.uri().path());
                logged.lock().unwrap_or_else(|p| p.into_inner()).push(line);
            }
            request
        });
        let client = ClientBuilder::try_from(config).expect("a client stack").with_layer(&count_writes).build();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let shutdown: Shutdown = async move {
            let _ = stopped.await;
        }
        .boxed()
        .shared();
        let mut registry = prometheus_client::registry::Registry::default();
        let metrics = Arc::new(Metrics::new(&mut registry));
        let options = ControllerOptions {
            concurrency: 2,
            debounce: operator::DEFAULT_DEBOUNCE,
            partners: BTreeSet::from([partner.to_string()]),
            instance: Some(format!("test-{partner}")),
            billing,
        };
        let ready = Arc::new(AtomicBool::new(false));
        let filled = ready.clone();
        let task = tokio::spawn(async move {
            if let Err(error) = operator::run_controllers(client, options, metrics, filled, shutdown).await {
                panic!("the operator failed: {error}");
            }
        });
        RunningOperator { stop, task, writes, log, ready }
    }

    /// Waits until its caches are filled, then until it has made no write for a while.
    async fn settle(&self) {
        let ready = self.ready.clone();
        eventually("the operator's caches are filled", || {
            std::future::ready(ready.load(Ordering::SeqCst).then_some(()))
        })
        .await;
        // Long enough for every tenant to be reconciled once and the fleet pass to run.
        tokio::time::sleep(Duration::from_secs(5)).await;
        settled(&self.writes).await;
    }

    fn writes_made(&self) -> Vec<String> {
        self.log.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        let _ = tokio::time::timeout(Duration::from_secs(30), self.task).await;
    }
}

/// One test's fleet: a partner with a small tier and a larger one, and a tenant on one.
#[derive(Clone)]
struct Fleet {
    client: Client,
    partner: String,
    basic: String,
    plus: String,
    tenant: String,
    namespace: String,
}

fn apply_params() -> PatchParams {
    PatchParams::apply(TEST_MANAGER).force()
}

impl Fleet {
    async fn create(test: &str, tier: Tier) -> Self {
        let client = base_client().await;
        install_crds(&client).await;
        let suffix = unique(test);
        let fleet = Fleet {
            partner: format!("p-{suffix}"),
            basic: format!("basic-{suffix}"),
            plus: format!("plus-{suffix}"),
            namespace: format!("tenant-{suffix}"),
            tenant: suffix,
            client,
        };
        let partners: Api<Partner> = Api::all(fleet.client.clone());
        let partner = json!({
            "apiVersion": "tenantry.dev/v1alpha1", "kind": "Partner", "metadata": {"name": fleet.partner},
            "spec": {"displayName": "Test Partner", "branding": {"productName": "Test Flow", "primaryColor": "#123456"},
                     "currency": "EUR", "invoicePrefix": "TEST"}
        });
        partners.patch(&fleet.partner, &apply_params(), &Patch::Apply(&partner)).await.expect("partner created");
        for (name, level, categories, pods) in [
            (&fleet.basic, 1, json!(["orderToCash"]), 10),
            (&fleet.plus, 2, json!(["orderToCash", "financeCompliance"]), 30),
        ] {
            let tiers: Api<ServiceTier> = Api::all(fleet.client.clone());
            let tier = json!({
                "apiVersion": "tenantry.dev/v1alpha1", "kind": "ServiceTier", "metadata": {"name": name},
                "spec": {
                    "partnerRef": fleet.partner, "displayName": name, "level": level, "workflowCategories": categories,
                    "limits": {"maxWorkflows": 5, "maxConnectedSystems": 3,
                               "namespaceQuota": {"cpu": "2", "memory": "2Gi", "pods": pods},
                               "defaultContainer": {"cpu": "50m", "memory": "64Mi"},
                               "maxContainer": {"cpu": "200m", "memory": "256Mi"}},
                    "pricing": {"monthlyBaseFee": 1000}
                }
            });
            tiers.patch(name, &apply_params(), &Patch::Apply(&tier)).await.expect("tier created");
        }
        fleet
            .apply_tenant(match tier {
                Tier::Basic => &fleet.basic,
                Tier::Plus => &fleet.plus,
            })
            .await;
        fleet.no_foreign_policy().await;
        fleet
    }

    /// Fails with an explanation when a GovernancePolicy the test did not create selects its
    /// tenant (one with an empty selector selects every tenant, such as `fleet-baseline` of
    /// examples/gitops once `testenv/smoke-chart` has applied it): its registries, regions or
    /// freezes would decide the test's workflows.
    async fn no_foreign_policy(&self) {
        let tenants: Api<Tenant> = Api::all(self.client.clone());
        let tenant = tenants.get(&self.tenant).await.expect("the tenant");
        let policies: Api<GovernancePolicy> = Api::all(self.client.clone());
        let foreign: Vec<String> = policies
            .list(&ListParams::default())
            .await
            .expect("policies listed")
            .items
            .iter()
            .filter(|p| p.spec.partner_ref.as_deref() != Some(self.partner.as_str()))
            .filter(|p| tenantry::planner::policy::selects(p, &tenant) == Ok(true))
            .map(|p| p.name_any())
            .collect();
        if !foreign.is_empty() {
            self.clean_up().await;
            panic!(
                "GovernancePolicies {foreign:?} select every test tenant: the cluster suite needs a cluster without \
                 them (delete them, or run the suite on a fresh testenv: testenv/down --purge; testenv/up)"
            );
        }
    }

    async fn apply_tenant(&self, tier: &str) {
        let tenants: Api<Tenant> = Api::all(self.client.clone());
        let tenant = json!({
            "apiVersion": "tenantry.dev/v1alpha1", "kind": "Tenant", "metadata": {"name": self.tenant},
            "spec": {"partnerRef": self.partner, "tierRef": tier, "displayName": "Test Tenant", "region": "eu-west-1",
                     "connectedSystems": [{"name": "shop", "type": "storefront", "vendor": "Shopify"}]}
        });
        tenants.patch(&self.tenant, &apply_params(), &Patch::Apply(&tenant)).await.expect("tenant applied");
    }

    async fn apply_workflow(&self, name: &str, category: &str, template: &str, trigger: serde_json::Value) {
        let workflows: Api<Workflow> = Api::namespaced(self.client.clone(), &self.namespace);
        let workflow = json!({
            "apiVersion": "tenantry.dev/v1alpha1", "kind": "Workflow",
            "metadata": {"name": name, "namespace": self.namespace},
            "spec": {"category": category, "template": template, "trigger": trigger,
                     "runner": {"image": "registry.k8s.io/pause:3.9"}, "connectors": ["shop"]}
        });
        workflows.patch(name, &apply_params(), &Patch::Apply(&workflow)).await.expect("workflow applied");
    }

    fn api<K>(&self) -> Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
            + Clone
            + serde::de::DeserializeOwned
            + std::fmt::Debug,
    {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    async fn tenant_ready(&self) -> Tenant {
        let tenants: Api<Tenant> = Api::all(self.client.clone());
        eventually("the tenant is Ready", || {
            let tenants = tenants.clone();
            let name = self.tenant.clone();
            async move {
                let tenant = tenants.get(&name).await.ok()?;
                let ready = tenant
                    .status
                    .as_ref()?
                    .conditions
                    .iter()
                    .any(|c| c.type_ == "Ready" && format!("{:?}", c.status) == "True");
                ready.then_some(tenant)
            }
        })
        .await
    }

    async fn workflow_phase(&self, name: &str, phase: WorkflowPhase) -> Workflow {
        let workflows: Api<Workflow> = self.api();
        eventually(&format!("workflow {name} is {phase:?}"), || {
            let workflows = workflows.clone();
            let name = name.to_string();
            async move {
                let workflow = workflows.get(&name).await.ok()?;
                (workflow.status.as_ref()?.phase? == phase).then_some(workflow)
            }
        })
        .await
    }

    /// Deletes what the test created: the tenant first (the operator's finalizer removes its
    /// namespace), then the tiers and the partner. Falls back to removing the finalizer by
    /// hand if the operator is no longer there to do it.
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
            let namespaces: Api<Namespace> = Api::all(self.client.clone());
            let _ = namespaces.delete(&self.namespace, &DeleteParams::default()).await;
        }
        let tiers: Api<ServiceTier> = Api::all(self.client.clone());
        let _ = tiers.delete(&self.basic, &DeleteParams::default()).await;
        let _ = tiers.delete(&self.plus, &DeleteParams::default()).await;
        let partners: Api<Partner> = Api::all(self.client.clone());
        let _ = partners.delete(&self.partner, &DeleteParams::default()).await;
        // Bills outlive their tenant by design; the test's own go with the test.
        let records: Api<BillingRecord> = Api::all(self.client.clone());
        let selector = ListParams::default().labels(&format!("tenantry.dev/tenant={}", self.tenant));
        let _ = records.delete_collection(&DeleteParams::default(), &selector).await;
        // Governance policies of the test's partner (a test scopes each of its policies to it).
        let policies: Api<GovernancePolicy> = Api::all(self.client.clone());
        for policy in policies.list(&ListParams::default()).await.map(|l| l.items).unwrap_or_default() {
            if policy.spec.partner_ref.as_deref() == Some(self.partner.as_str()) {
                let _ = policies.delete(&policy.name_any(), &DeleteParams::default()).await;
            }
        }
    }
}

#[derive(Clone, Copy)]
enum Tier {
    Basic,
    Plus,
}

/// Creates a fleet, runs the operator for it, runs `body`, and always cleans up; a failure
/// in `body` fails the test after the cleanup.
async fn with_fleet<F, Fut>(test: &str, tier: Tier, body: F)
where
    F: FnOnce(Fleet, Arc<AtomicUsize>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    with_fleet_billing(test, tier, quiet_billing(), body).await
}

/// Like [`with_fleet`], with the operator closing, refreshing and retiring bills by `rules`.
async fn with_fleet_billing<F, Fut>(test: &str, tier: Tier, rules: tenantry::planner::ClosingRules, body: F)
where
    F: FnOnce(Fleet, Arc<AtomicUsize>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let fleet = Fleet::create(test, tier).await;
    let operator = RunningOperator::start_with(&fleet.partner, rules).await;
    let outcome = tokio::spawn(body(fleet.clone(), operator.writes.clone())).await;
    fleet.clean_up().await;
    operator.stop().await;
    if let Err(error) = outcome {
        if error.is_panic() {
            std::panic::resume_unwind(error.into_panic());
        }
        panic!("the test body did not finish: {error}");
    }
}

/// Like [`with_fleet`], for a test that restarts the operator: `body` gets the first
/// operator and returns the one still running, which is stopped after the cleanup.
async fn with_restarts<F, Fut>(test: &str, body: F)
where
    F: FnOnce(Fleet, RunningOperator) -> Fut,
    Fut: Future<Output = RunningOperator> + Send + 'static,
{
    let fleet = Fleet::create(test, Tier::Basic).await;
    let first = RunningOperator::start(&fleet.partner).await;
    let outcome = tokio::spawn(body(fleet.clone(), first)).await;
    fleet.clean_up().await;
    match outcome {
        Ok(last) => last.stop().await,
        Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
        Err(error) => panic!("the test body did not finish: {error}"),
    }
}

/// The object, if it exists (the future owns what it needs, so it can be polled repeatedly).
fn exists<K>(api: &Api<K>, name: &str) -> impl Future<Output = Option<K>> + 'static
where
    K: Clone + serde::de::DeserializeOwned + std::fmt::Debug + 'static,
{
    let (api, name) = (api.clone(), name.to_string());
    async move { api.get_opt(&name).await.ok().flatten() }
}

#[tokio::test]
#[ignore = "needs a Kubernetes API server (KUBECONFIG)"]
async fn crds_install_and_bad_objects_are_refused() {
    let client = base_client().await;
    install_crds(&client).await;
    let name = unique("refused");
    let refusals = [
        (
            "Partner with a lowercase currency",
            json!({
                "apiVersion": "tenantry.dev/v1alpha1", "kind": "Partner", "metadata": {"name": name},
                "spec": {"displayName": "x", "branding": {"productName": "x"}, "currency": "euro", "invoicePrefix": "X"}
            }),
            "partners",
        ),
        (
            "Tenant with an unknown system type",
            json!({
                "apiVersion": "tenantry.dev/v1alpha1", "kind": "Tenant", "metadata": {"name": name},
                "spec": {"partnerRef": "p", "tierRef": "t", "displayName": "x", "region": "eu-west-1",
                         "connectedSystems": [{"name": "pos", "type": "pointOfSale", "vendor": "Square"}]}
            }),
            "tenants",
        ),
        (
            "ServiceTier with a negative workflow limit",
            json!({
                "apiVersion": "tenantry.dev/v1alpha1", "kind": "ServiceTier", "metadata": {"name": name},
                "spec": {"partnerRef": "p", "displayName": "x", "level": 1, "workflowCategories": ["orderToCash"],
                         "limits": {"maxWorkflows": -1, "maxConnectedSystems": 1,
                                    "namespaceQuota": {"cpu": "1", "memory": "1Gi", "pods": 1},
                                    "defaultContainer": {}, "maxContainer": {}},
                         "pricing": {"monthlyBaseFee": 1}}
            }),
            "servicetiers",
        ),
        (
            "Workflow with two triggers",
            json!({
                "apiVersion": "tenantry.dev/v1alpha1", "kind": "Workflow", "metadata": {"name": name, "namespace": "default"},
                "spec": {"category": "orderToCash", "template": "order-validation",
                         "trigger": {"schedule": {"cron": "0 * * * *"}, "continuous": {"replicas": 1}},
                         "runner": {"image": "registry.k8s.io/pause:3.9"}}
            }),
            "workflows",
        ),
        (
            "Workflow with an invalid cron",
            json!({
                "apiVersion": "tenantry.dev/v1alpha1", "kind": "Workflow", "metadata": {"name": name, "namespace": "default"},
                "spec": {"category": "orderToCash", "template": "order-validation",
                         "trigger": {"schedule": {"cron": "every day"}}, "runner": {"image": "registry.k8s.io/pause:3.9"}}
            }),
            "workflows",
        ),
    ];
    for (what, object, plural) in refusals {
        let resource = kube::core::ApiResource {
            group: "tenantry.dev".into(),
            version: "v1alpha1".into(),
            api_version: "tenantry.dev/v1alpha1".into(),
            kind: object["kind"].as_str().unwrap_or_default().into(),
            plural: plural.into(),
        };
        let api: Api<kube::api::DynamicObject> = match object["metadata"]["namespace"].as_str() {
            Some(namespace) => Api::namespaced_with(client.clone(), namespace, &resource),
            None => Api::all_with(client.clone(), &resource),
        };
        let dynamic: kube::api::DynamicObject = serde_json::from_value(object).expect("a dynamic object");
        match api.create(&PostParams::default(), &dynamic).await {
            Err(kube::Error::Api(status)) => assert_eq!(status.code, 422, "{what}: refused as invalid, got {status:?}"),
            Ok(created) => {
                let _ = api.delete(&created.name_any(), &DeleteParams::default()).await;
                panic!("{what} was accepted");
            }
            Err(other) => panic!("{what}: unexpected error {other}"),
        }
    }
}

#[tokio::test]
#[ignore = "needs a Kubernetes API server (KUBECONFIG)"]
async fn a_tenant_becomes_an_isolated_namespace() {
    with_fleet("ns", Tier::Basic, |fleet, _| async move {
        let tenant = fleet.tenant_ready().await;
        assert_eq!(tenant.status.as_ref().and_then(|s| s.namespace.clone()), Some(fleet.namespace.clone()));
        let namespaces: Api<Namespace> = Api::all(fleet.client.clone());
        let namespace = eventually("the namespace", || exists(&namespaces, &fleet.namespace)).await;
        let labels = namespace.labels();
        assert_eq!(labels.get("pod-security.kubernetes.io/enforce").map(String::as_str), Some("restricted"));
        assert_eq!(labels.get("tenantry.dev/tenant"), Some(&fleet.tenant));
        let quota = eventually("the quota", || exists(&fleet.api::<ResourceQuota>(), "tenantry-quota")).await;
        let hard = quota.spec.and_then(|s| s.hard).unwrap_or_default();
        assert_eq!(hard.get("pods").map(|q| q.0.as_str()), Some("10"));
        eventually("the limit range", || exists(&fleet.api::<LimitRange>(), "tenantry-limits")).await;
        eventually("the network policy", || exists(&fleet.api::<NetworkPolicy>(), "tenantry-isolation")).await;
        eventually("the runner service account", || exists(&fleet.api::<ServiceAccount>(), "tenantry-runner")).await;
        let branding = eventually("the branding", || exists(&fleet.api::<ConfigMap>(), "tenantry-branding")).await;
        assert_eq!(branding.data.unwrap_or_default().get("productName").map(String::as_str), Some("Test Flow"));
    })
    .await;
}

#[tokio::test]
#[ignore = "needs a Kubernetes API server (KUBECONFIG)"]
async fn a_workflow_becomes_a_cronjob_or_a_deployment() {
    with_fleet("wl", Tier::Basic, |fleet, _| async move {
        fleet.tenant_ready().await;
        fleet
            .apply_workflow("nightly", "orderToCash", "invoice-generation", json!({"schedule": {"cron": "0 2 * * *"}}))
            .await;
        fleet.apply_workflow("router", "orderToCash", "order-routing", json!({"continuous": {"replicas": 1}})).await;
        let cron_job = eventually("the cron job", || exists(&fleet.api::<CronJob>(), "nightly")).await;
        assert_eq!(cron_job.spec.as_ref().map(|s| s.schedule.as_str()), Some("0 2 * * *"));
        assert_eq!(cron_job.spec.as_ref().and_then(|s| s.suspend), Some(false));
        let deployment = eventually("the deployment", || exists(&fleet.api::<Deployment>(), "router")).await;
        assert_eq!(deployment.spec.as_ref().and_then(|s| s.replicas), Some(1));
        eventually("the definition", || exists(&fleet.api::<ConfigMap>(), "router-definition")).await;
        fleet.workflow_phase("router", WorkflowPhase::Running).await;
        fleet.workflow_phase("nightly", WorkflowPhase::Running).await;
    })
    .await;
}

#[tokio::test]
#[ignore = "needs a Kubernetes API server (KUBECONFIG)"]
async fn a_tier_change_moves_quota_and_holds_disallowed_workflows() {
    with_fleet("tier", Tier::Plus, |fleet, _| async move {
        fleet.tenant_ready().await;
        fleet
            .apply_workflow("recon", "financeCompliance", "reconciliation", json!({"continuous": {"replicas": 1}}))
            .await;
        fleet.workflow_phase("recon", WorkflowPhase::Running).await;
        let deployments = fleet.api::<Deployment>();
        eventually("the deployment runs", || {
            let deployments = deployments.clone();
            async move { (exists(&deployments, "recon").await?.spec?.replicas? == 1).then_some(()) }
        })
        .await;

        fleet.apply_tenant(&fleet.basic).await;
        let quotas = fleet.api::<ResourceQuota>();
        eventually("the quota follows the new tier", || {
            let quotas = quotas.clone();
            async move {
                let hard = exists(&quotas, "tenantry-quota").await?.spec?.hard?;
                (hard.get("pods")?.0 == "10").then_some(())
            }
        })
        .await;
        let held = fleet.workflow_phase("recon", WorkflowPhase::Held).await;
        assert_eq!(held.status.and_then(|s| s.reason).as_deref(), Some("TierDisallowsCategory"));
        eventually("the held deployment is scaled to zero, not deleted", || {
            let deployments = deployments.clone();
            async move { (exists(&deployments, "recon").await?.spec?.replicas? == 0).then_some(()) }
        })
        .await;
        let tenants: Api<Tenant> = Api::all(fleet.client.clone());
        let history = eventually("the tier history records the change", || {
            let tenants = tenants.clone();
            let name = fleet.tenant.clone();
            async move {
                let history = tenants.get(&name).await.ok()?.status?.tier_history;
                (history.len() == 2).then_some(history)
            }
        })
        .await;
        assert_eq!((history[0].tier.as_str(), history[1].tier.as_str()), (fleet.plus.as_str(), fleet.basic.as_str()));
    })
    .await;
}

#[tokio::test]
#[ignore = "needs a Kubernetes API server (KUBECONFIG)"]
async fn a_deleted_managed_deployment_comes_back() {
    with_fleet("drift", Tier::Basic, |fleet, _| async move {
        fleet.tenant_ready().await;
        fleet.apply_workflow("router", "orderToCash", "order-routing", json!({"continuous": {"replicas": 1}})).await;
        let deployments = fleet.api::<Deployment>();
        let first = eventually("the deployment", || exists(&deployments, "router")).await;
        deployments.delete("router", &DeleteParams::default()).await.expect("deleted by hand");
        let first_uid = first.uid();
        eventually("the deployment is re-created", || {
            let deployments = deployments.clone();
            let first_uid = first_uid.clone();
            async move {
                let again = exists(&deployments, "router").await?;
                (again.uid() != first_uid && again.metadata.deletion_timestamp.is_none()).then_some(())
            }
        })
        .await;
    })
    .await;
}

#[tokio::test]
#[ignore = "needs a Kubernetes API server (KUBECONFIG)"]
async fn an_edited_field_we_own_is_restored() {
    with_fleet("edit", Tier::Basic, |fleet, _| async move {
        fleet.tenant_ready().await;
        let quotas = fleet.api::<ResourceQuota>();
        eventually("the quota", || exists(&quotas, "tenantry-quota")).await;
        let edit = json!({"spec": {"hard": {"pods": "999"}}});
        quotas.patch("tenantry-quota", &PatchParams::default(), &Patch::Merge(&edit)).await.expect("edited by hand");
        eventually("the quota is restored", || {
            let quotas = quotas.clone();
            async move { (exists(&quotas, "tenantry-quota").await?.spec?.hard?.get("pods")?.0 == "10").then_some(()) }
        })
        .await;
    })
    .await;
}

#[tokio::test]
#[ignore = "needs a Kubernetes API server (KUBECONFIG)"]
async fn a_deleted_workflow_has_its_children_pruned() {
    with_fleet("prune", Tier::Basic, |fleet, _| async move {
        fleet.tenant_ready().await;
        fleet.apply_workflow("router", "orderToCash", "order-routing", json!({"continuous": {"replicas": 1}})).await;
        let deployments = fleet.api::<Deployment>();
        let config_maps = fleet.api::<ConfigMap>();
        eventually("the deployment", || exists(&deployments, "router")).await;
        let workflows: Api<Workflow> = fleet.api();
        workflows.delete("router", &DeleteParams::default()).await.expect("workflow deleted");
        eventually("the deployment and definition are pruned", || {
            let (deployments, config_maps) = (deployments.clone(), config_maps.clone());
            async move {
                let deployment_gone =
                    exists(&deployments, "router").await.is_none_or(|d| d.metadata.deletion_timestamp.is_some());
                let definition_gone = exists(&config_maps, "router-definition").await.is_none();
                (deployment_gone && definition_gone).then_some(())
            }
        })
        .await;
    })
    .await;
}

#[tokio::test]
#[ignore = "needs a Kubernetes API server (KUBECONFIG)"]
async fn deleting_a_tenant_removes_its_namespace() {
    with_fleet("delete", Tier::Basic, |fleet, _| async move {
        fleet.tenant_ready().await;
        let namespaces: Api<Namespace> = Api::all(fleet.client.clone());
        eventually("the namespace", || exists(&namespaces, &fleet.namespace)).await;
        let tenants: Api<Tenant> = Api::all(fleet.client.clone());
        tenants.delete(&fleet.tenant, &DeleteParams::default()).await.expect("tenant deleted");
        eventually("the namespace is gone or going", || {
            let namespaces = namespaces.clone();
            let name = fleet.namespace.clone();
            async move {
                match exists(&namespaces, &name).await {
                    None => Some(()),
                    Some(namespace) => namespace.metadata.deletion_timestamp.map(|_| ()),
                }
            }
        })
        .await;
        eventually("the tenant is released once its namespace is gone", || {
            let tenants = tenants.clone();
            let name = fleet.tenant.clone();
            async move { exists(&tenants, &name).await.is_none().then_some(()) }
        })
        .await;
    })
    .await;
}

/// Waits until the operator has made no write for a few seconds in a row.
async fn settled(writes: &AtomicUsize) {
    let mut last = writes.load(Ordering::SeqCst);
    let mut quiet = 0;
    eventually("the operator settles", || {
        let now = writes.load(Ordering::SeqCst);
        quiet = if now == last { quiet + 1 } else { 0 };
        last = now;
        std::future::ready((quiet >= 8).then_some(()))
    })
    .await;
}

#[tokio::test]
#[ignore = "needs a Kubernetes API server (KUBECONFIG)"]
async fn reconciling_an_unchanged_world_issues_no_write() {
    with_fleet("steady", Tier::Basic, |fleet, writes| async move {
        fleet.tenant_ready().await;
        fleet.apply_workflow("router", "orderToCash", "order-routing", json!({"continuous": {"replicas": 1}})).await;
        fleet
            .apply_workflow("nightly", "orderToCash", "invoice-generation", json!({"schedule": {"cron": "0 2 * * *"}}))
            .await;
        fleet.workflow_phase("router", WorkflowPhase::Running).await;
        fleet.workflow_phase("nightly", WorkflowPhase::Running).await;
        settled(&writes).await;
        // Touch the tenant without changing anything the plan reads: the operator reconciles
        // it again and must find nothing to write.
        let before = writes.load(Ordering::SeqCst);
        let tenants: Api<Tenant> = Api::all(fleet.client.clone());
        let touch = json!({"metadata": {"annotations": {"tenantry.dev/test-touch": unique("t")}}});
        tenants.patch(&fleet.tenant, &PatchParams::default(), &Patch::Merge(&touch)).await.expect("touched");
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert_eq!(writes.load(Ordering::SeqCst), before, "an unchanged world caused writes");
    })
    .await;
}

#[tokio::test]
#[ignore = "needs a Kubernetes API server (KUBECONFIG)"]
async fn a_restarted_operator_converges_with_nothing_duplicated() {
    with_restarts("restart", |fleet, first| async move {
        fleet.tenant_ready().await;
        fleet.apply_workflow("router", "orderToCash", "order-routing", json!({"continuous": {"replicas": 1}})).await;
        fleet.workflow_phase("router", WorkflowPhase::Running).await;
        settled(&first.writes).await;
        let tenants: Api<Tenant> = Api::all(fleet.client.clone());
        let before = tenants.get(&fleet.tenant).await.expect("tenant").status.expect("status");
        first.stop().await;

        let second = RunningOperator::start(&fleet.partner).await;
        settled(&second.writes).await;
        let after = tenants.get(&fleet.tenant).await.expect("tenant").status.expect("status");
        assert_eq!(after.tier_history, before.tier_history, "the restart appended no tier history");
        assert_eq!(after.first_value_time, before.first_value_time);
        let managed = ListParams::default().labels(&format!("tenantry.dev/tenant={}", fleet.tenant));
        let deployments = fleet.api::<Deployment>().list(&managed).await.expect("list");
        assert_eq!(deployments.items.len(), 1, "one deployment per workflow");
        let config_maps = fleet.api::<ConfigMap>().list(&managed).await.expect("list");
        assert_eq!(config_maps.items.len(), 2, "branding and one definition");
        second
    })
    .await;
}

/// A restarted operator reads every child through a list, whose items carry no apiVersion or
/// kind: it must still find nothing to write on a fleet that has not changed, statuses and
/// Events included.
#[tokio::test]
#[ignore = "needs a Kubernetes API server (KUBECONFIG)"]
async fn a_restarted_operator_writes_nothing_on_an_unchanged_fleet() {
    with_restarts("quiet", |fleet, first| async move {
        fleet.tenant_ready().await;
        fleet.apply_workflow("router", "orderToCash", "order-routing", json!({"continuous": {"replicas": 1}})).await;
        fleet
            .apply_workflow("nightly", "orderToCash", "invoice-generation", json!({"schedule": {"cron": "0 2 * * *"}}))
            .await;
        fleet.workflow_phase("router", WorkflowPhase::Running).await;
        fleet.workflow_phase("nightly", WorkflowPhase::Running).await;
        first.settle().await;
        first.stop().await;

        let second = RunningOperator::start(&fleet.partner).await;
        second.settle().await;
        let writes = second.writes_made();
        eprintln!("writes by the restarted operator: {}", writes.len());
        assert!(writes.is_empty(), "a restart on an unchanged fleet wrote: {writes:#?}");
        second
    })
    .await;
}

/// A client that records every request that is not a GET (lists and gets are reads).
async fn recording_client() -> (Client, Arc<std::sync::Mutex<Vec<String>>>) {
    let log = Arc::new(std::sync::Mutex::new(Vec::new()));
    let logged = log.clone();
    let config = Config::infer().await.expect("a kubeconfig");
    let record = tower::util::MapRequestLayer::new(move |request: Request<Body>| {
        if request.method() != http::Method::GET {
            let line = format!("{} {}", request.method(), request.uri().path());
            logged.lock().unwrap_or_else(|p| p.into_inner()).push(line);
        }
        request
    });
    (ClientBuilder::try_from(config).expect("a client stack").with_layer(&record).build(), log)
}

/// `tenantry diff` finds nothing on a converged fleet; with the operator stopped and a quota
/// edited and a NetworkPolicy deleted by hand, it reports exactly those two (field by field)
/// and exits 1, without a single write; once an operator runs again, nothing is left.
#[tokio::test]
#[ignore = "needs a Kubernetes API server (KUBECONFIG)"]
async fn diff_reports_exactly_the_drift_made_by_hand_and_never_writes() {
    with_restarts("diff", |fleet, first| async move {
        fleet.tenant_ready().await;
        fleet.apply_workflow("router", "orderToCash", "order-routing", json!({"continuous": {"replicas": 1}})).await;
        fleet.workflow_phase("router", WorkflowPhase::Running).await;
        first.settle().await;
        let untouched = tenantry_cli(&["diff", "--partner", &fleet.partner]);
        assert_eq!(
            untouched.status.code(),
            Some(0),
            "a converged fleet differs:\n{}{}",
            String::from_utf8_lossy(&untouched.stdout),
            String::from_utf8_lossy(&untouched.stderr)
        );
        first.stop().await;

        let quotas = fleet.api::<ResourceQuota>();
        let edit = json!({"spec": {"hard": {"pods": "999"}}});
        quotas.patch("tenantry-quota", &PatchParams::default(), &Patch::Merge(&edit)).await.expect("edited by hand");
        let policies = fleet.api::<NetworkPolicy>();
        policies.delete("tenantry-isolation", &DeleteParams::default()).await.expect("deleted by hand");
        eventually("the policy is gone", || {
            let policies = policies.clone();
            async move { exists(&policies, "tenantry-isolation").await.is_none().then_some(()) }
        })
        .await;

        let (client, writes) = recording_client().await;
        let options = tenantry::commands::diff::Options {
            partners: BTreeSet::from([fleet.partner.clone()]),
            operator_namespace: "tenantry-system".into(),
            billing: tenantry::planner::ClosingRules::default(),
        };
        let diff = tenantry::commands::diff::from_cluster(&client, &options, jiff::Timestamp::now())
            .await
            .expect("the cluster is read");
        let sent = writes.lock().unwrap_or_else(|p| p.into_inner()).clone();
        assert!(sent.is_empty(), "tenantry diff wrote: {sent:?}");
        let text = tenantry::commands::diff::to_text(&diff);
        let summary: Vec<(String, String, String)> =
            diff.children.iter().map(|c| (format!("{:?}", c.action), c.kind.clone(), c.name.clone())).collect();
        let expected =
            [("Change", "ResourceQuota", "tenantry-quota"), ("Create", "NetworkPolicy", "tenantry-isolation")]
                .map(|(a, k, n)| (a.to_string(), k.to_string(), n.to_string()));
        assert_eq!(summary, expected, "{text}");
        let fields: Vec<&str> = diff.children[0].fields.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(fields, ["spec.hard.pods"], "{text}");
        assert!(diff.statuses.is_empty(), "{text}");

        let shown = tenantry_cli(&["diff", "--partner", &fleet.partner]);
        let stdout = String::from_utf8_lossy(&shown.stdout);
        assert_eq!(shown.status.code(), Some(1), "{stdout}{}", String::from_utf8_lossy(&shown.stderr));
        let namespace = &fleet.namespace;
        assert!(stdout.contains(&format!("~ change ResourceQuota {namespace}/tenantry-quota")), "{stdout}");
        assert!(stdout.contains("    - spec.hard.pods: \"999\"\n    + spec.hard.pods: \"10\"\n"), "{stdout}");
        assert!(stdout.contains(&format!("+ create NetworkPolicy {namespace}/tenantry-isolation")), "{stdout}");
        let json = tenantry_cli(&["diff", "--partner", &fleet.partner, "-o", "json"]);
        let parsed: serde_json::Value = serde_json::from_slice(&json.stdout).expect("JSON");
        assert_eq!(parsed["children"].as_array().map(Vec::len), Some(2), "{parsed}");

        let second = RunningOperator::start(&fleet.partner).await;
        second.settle().await;
        let after = tenantry_cli(&["diff", "--partner", &fleet.partner]);
        assert_eq!(after.status.code(), Some(0), "{}", String::from_utf8_lossy(&after.stdout));
        second
    })
    .await;
}

/// The fleet's declared objects as a GitOps repository holds them, in `dir`: apiVersion,
/// kind, name (and namespace) and spec, with neither status nor identity, and no
/// BillingRecords; the tenant on `tier` (its tier in the cluster when `None`).
async fn git_copy(fleet: &Fleet, dir: &std::path::Path, tier: Option<&str>) {
    fn declared<K: serde::Serialize + kube::Resource<DynamicType = ()>>(object: &K) -> String {
        let spec = serde_json::to_value(object).expect("JSON")["spec"].clone();
        let mut metadata = json!({"name": object.meta().name});
        if let Some(namespace) = &object.meta().namespace {
            metadata["namespace"] = json!(namespace);
        }
        let document =
            json!({"apiVersion": K::api_version(&()), "kind": K::kind(&()), "metadata": metadata, "spec": spec});
        format!("---\n{}", serde_yaml::to_string(&document).expect("YAML"))
    }
    let partners: Api<Partner> = Api::all(fleet.client.clone());
    let tiers: Api<ServiceTier> = Api::all(fleet.client.clone());
    let tenants: Api<Tenant> = Api::all(fleet.client.clone());
    let mut text = declared(&partners.get(&fleet.partner).await.expect("partner"));
    for tier in [&fleet.basic, &fleet.plus] {
        text.push_str(&declared(&tiers.get(tier).await.expect("tier")));
    }
    let mut tenant = tenants.get(&fleet.tenant).await.expect("tenant");
    if let Some(tier) = tier {
        tenant.spec.tier_ref = tier.to_string();
    }
    text.push_str(&declared(&tenant));
    for workflow in fleet.api::<Workflow>().list(&ListParams::default()).await.expect("workflows").items {
        text.push_str(&declared(&workflow));
    }
    std::fs::create_dir_all(dir).expect("copy directory");
    std::fs::write(dir.join("fleet.yaml"), text).expect("copy written");
}

/// `tenantry diff --dir` previews a pull request that moves a tenant from its tier to a
/// smaller one: a copy of the fleet as Git holds it (specs only) reports nothing; with the
/// tenant moved, it reports exactly what the operator would do (the quota's pods, the tier
/// label of each child it applies, the workload of a workflow the new tier does not allow
/// scaled to zero, and the statuses of the tenant and that workflow), exits 1 and sends no
/// write; the cluster is left as it was.
#[tokio::test]
#[ignore = "needs a Kubernetes API server (KUBECONFIG)"]
async fn diff_dir_previews_a_tier_change_exactly_and_never_writes() {
    with_fleet("diff-dir", Tier::Plus, |fleet, writes| async move {
        fleet.tenant_ready().await;
        fleet.apply_workflow("router", "orderToCash", "order-routing", json!({"continuous": {"replicas": 1}})).await;
        fleet
            .apply_workflow("recon", "financeCompliance", "reconciliation", json!({"continuous": {"replicas": 1}}))
            .await;
        fleet.workflow_phase("router", WorkflowPhase::Running).await;
        fleet.workflow_phase("recon", WorkflowPhase::Running).await;
        settled(&writes).await;
        let root = std::env::temp_dir().join(format!("tenantry-diff-dir-{}", fleet.tenant));
        let (same, moved) = (root.join("same"), root.join("moved"));
        git_copy(&fleet, &same, None).await;
        git_copy(&fleet, &moved, Some(&fleet.basic)).await;
        let path = |dir: &std::path::Path| dir.to_str().expect("a UTF-8 path").to_string();

        // The fleet as it is: nothing to do. (Notes may name other tests' objects, which the
        // copy does not hold; never this fleet's.)
        let unchanged = tenantry_cli(&["diff", "--partner", &fleet.partner, "--dir", &path(&same)]);
        let stdout = String::from_utf8_lossy(&unchanged.stdout).into_owned();
        assert_eq!(unchanged.status.code(), Some(0), "{stdout}{}", String::from_utf8_lossy(&unchanged.stderr));
        assert!(stdout.lines().all(|line| line.starts_with("note: ") && !line.contains(&fleet.tenant)), "{stdout}");

        // The tenant moved to the basic tier, read by a client that records any write.
        let (client, sent) = recording_client().await;
        let options = tenantry::commands::diff::Options {
            partners: BTreeSet::from([fleet.partner.clone()]),
            operator_namespace: "tenantry-system".into(),
            billing: tenantry::planner::ClosingRules::default(),
        };
        let declared = tenantry::input::load_dir(&moved).expect("the copy loads").world;
        let diff = tenantry::commands::diff::from_cluster_with_dir(&client, &options, jiff::Timestamp::now(), declared)
            .await
            .expect("the cluster is read");
        let sent = sent.lock().unwrap_or_else(|p| p.into_inner()).clone();
        assert!(sent.is_empty(), "tenantry diff --dir wrote: {sent:?}");
        let text = tenantry::commands::diff::to_text(&diff);

        // Every child the tenant's tier labels is applied again with the new tier; the quota
        // takes the basic tier's pods, the branding its name, the workflow definitions (and
        // so the pod templates' hash) its name, and the workflow the basic tier does not
        // allow (financeCompliance) is held: its Deployment at zero replicas, kept.
        let tier_label = r#"metadata.labels["tenantry.dev/tier"]"#;
        let hash = r#"spec.template.metadata.annotations["tenantry.dev/definition-hash"]"#;
        let template_tier = r#"spec.template.metadata.labels["tenantry.dev/tier"]"#;
        let definition = r#"data["workflow.yaml"]"#;
        let expected: BTreeMap<(&str, &str), Vec<&str>> = BTreeMap::from([
            (("Namespace", fleet.namespace.as_str()), vec![tier_label]),
            (("ServiceAccount", "tenantry-runner"), vec![tier_label]),
            (("ResourceQuota", "tenantry-quota"), vec![tier_label, "spec.hard.pods"]),
            (("LimitRange", "tenantry-limits"), vec![tier_label]),
            (("NetworkPolicy", "tenantry-isolation"), vec![tier_label]),
            (("ConfigMap", "tenantry-branding"), vec!["data.tierDisplayName", tier_label]),
            (("ConfigMap", "recon-definition"), vec![definition, tier_label]),
            (("ConfigMap", "router-definition"), vec![definition, tier_label]),
            (("Deployment", "recon"), vec![tier_label, "spec.replicas", hash, template_tier]),
            (("Deployment", "router"), vec![tier_label, hash, template_tier]),
        ]);
        let reported: BTreeMap<(&str, &str), Vec<&str>> = diff
            .children
            .iter()
            .map(|child| {
                assert_eq!(format!("{:?}", child.action), "Change", "{text}");
                let mut paths: Vec<&str> = child.fields.iter().map(|f| f.path.as_str()).collect();
                paths.sort();
                ((child.kind.as_str(), child.name.as_str()), paths)
            })
            .collect();
        assert_eq!(reported, expected, "{text}");
        assert_eq!(diff.children.len(), expected.len(), "each object once: {text}");
        let field = |kind: &str, name: &str, path: &str| {
            let child = diff.children.iter().find(|c| c.kind == kind && c.name == name).expect("reported");
            let field = child.fields.iter().find(|f| f.path == path).expect("the field");
            (field.before.clone(), field.after.clone())
        };
        for child in &diff.children {
            let (before, after) = field(&child.kind, &child.name, tier_label);
            assert_eq!((before, after), (Some(json!(fleet.plus)), Some(json!(fleet.basic))), "{text}");
        }
        assert_eq!(field("ResourceQuota", "tenantry-quota", "spec.hard.pods"), (Some(json!("30")), Some(json!("10"))));
        assert_eq!(field("Deployment", "recon", "spec.replicas"), (Some(json!(1)), Some(json!(0))));
        let (before, after) = field("ConfigMap", "recon-definition", definition);
        assert!(before.is_some_and(|b| b.as_str().is_some_and(|b| b.contains(&format!("tier: {}\n", fleet.plus)))));
        assert!(after.is_some_and(|a| a.as_str().is_some_and(|a| a.contains(&format!("tier: {}\n", fleet.basic)))));

        // The statuses: the tenant's spec changed (its conditions observe the next
        // generation) and now holds one workflow; recon is Held by its tier.
        let statuses: BTreeSet<(&str, &str)> =
            diff.statuses.iter().map(|s| (s.kind.as_str(), s.name.as_str())).collect();
        assert_eq!(statuses, BTreeSet::from([("Tenant", fleet.tenant.as_str()), ("Workflow", "recon")]), "{text}");
        let status = |kind: &str, path: &str| {
            let status = diff.statuses.iter().find(|s| s.kind == kind).expect("reported");
            let field = status.fields.iter().find(|f| f.path == path).unwrap_or_else(|| panic!("{path}: {text}"));
            (field.before.clone(), field.after.clone())
        };
        assert_eq!(status("Workflow", "status.phase"), (Some(json!("Running")), Some(json!("Held"))));
        assert_eq!(status("Workflow", "status.reason"), (None, Some(json!("TierDisallowsCategory"))));
        assert_eq!(status("Workflow", "status.conditions[Ready].status"), (Some(json!("True")), Some(json!("False"))));
        assert_eq!(
            status("Workflow", "status.conditions[Stalled].reason"),
            (None, Some(json!("TierDisallowsCategory")))
        );
        let (before, after) = status("Tenant", "status.conditions[Ready].observedGeneration");
        assert_eq!(after.and_then(|a| a.as_i64()), before.and_then(|b| b.as_i64()).map(|b| b + 1), "{text}");
        let (_, message) = status("Tenant", "status.conditions[Ready].message");
        assert!(message.is_some_and(|m| m.as_str().is_some_and(|m| m.contains("1 running, 1 held"))), "{text}");
        assert!(diff.notes.iter().all(|note| !note.contains(&fleet.tenant)), "{:?}", diff.notes);

        // The command says the same and exits 1.
        let shown = tenantry_cli(&["diff", "--partner", &fleet.partner, "--dir", &path(&moved)]);
        let stdout = String::from_utf8_lossy(&shown.stdout).into_owned();
        assert_eq!(shown.status.code(), Some(1), "{stdout}{}", String::from_utf8_lossy(&shown.stderr));
        let namespace = &fleet.namespace;
        assert!(stdout.contains(&format!("~ change ResourceQuota {namespace}/tenantry-quota")), "{stdout}");
        assert!(stdout.contains("    - spec.hard.pods: \"30\"\n    + spec.hard.pods: \"10\"\n"), "{stdout}");
        assert!(stdout.contains(&format!("~ change Deployment {namespace}/recon")), "{stdout}");
        assert!(stdout.contains("    - spec.replicas: 1\n    + spec.replicas: 0\n"), "{stdout}");
        assert!(stdout.contains(&format!("~ status Workflow {namespace}/recon")), "{stdout}");
        let json = tenantry_cli(&["diff", "--partner", &fleet.partner, "--dir", &path(&moved), "-o", "json"]);
        let parsed: serde_json::Value = serde_json::from_slice(&json.stdout).expect("JSON");
        assert_eq!(parsed["children"].as_array().map(Vec::len), Some(expected.len()), "{parsed}");

        // Nothing changed in the cluster: the preview is only a preview.
        let quota = fleet.api::<ResourceQuota>().get("tenantry-quota").await.expect("quota");
        assert_eq!(
            quota.spec.and_then(|s| s.hard).and_then(|h| h.get("pods").cloned()).map(|q| q.0).as_deref(),
            Some("30")
        );
        let recon = fleet.api::<Deployment>().get("recon").await.expect("deployment");
        assert_eq!(recon.spec.and_then(|s| s.replicas), Some(1));
        let tenants: Api<Tenant> = Api::all(fleet.client.clone());
        assert_eq!(tenants.get(&fleet.tenant).await.expect("tenant").spec.tier_ref, fleet.plus);
        let _ = std::fs::remove_dir_all(&root);
    })
    .await;
}

/// The Ready condition of a tenant, once it has one with `reason`.
async fn tenant_condition(client: &Client, tenant: &str, reason: &str) -> tenantry::api::Condition {
    let tenants: Api<Tenant> = Api::all(client.clone());
    eventually(&format!("tenant {tenant} reports {reason}"), || {
        let tenants = tenants.clone();
        let name = tenant.to_string();
        let reason = reason.to_string();
        async move {
            let status = tenants.get(&name).await.ok()?.status?;
            status.conditions.into_iter().find(|c| c.type_ == "Ready" && c.reason == reason)
        }
    })
    .await
}

#[tokio::test]
#[ignore = "needs a Kubernetes API server (KUBECONFIG)"]
async fn a_tenant_never_takes_over_or_deletes_a_namespace_it_did_not_create() {
    with_fleet("foreign", Tier::Basic, |fleet, _| async move {
        let foreign = format!("{}-foreign", fleet.tenant);
        let namespaces: Api<Namespace> = Api::all(fleet.client.clone());
        let namespace = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": foreign, "labels": {"team": "monitoring"}}});
        namespaces.patch(&foreign, &apply_params(), &Patch::Apply(&namespace)).await.expect("namespace created");
        let config_maps: Api<ConfigMap> = Api::namespaced(fleet.client.clone(), &foreign);
        let config_map = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "prometheus"}, "data": {"a": "b"}});
        config_maps.patch("prometheus", &apply_params(), &Patch::Apply(&config_map)).await.expect("config map");
        let deployments: Api<Deployment> = Api::namespaced(fleet.client.clone(), &foreign);
        let deployment = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "prometheus"},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "prometheus"}},
                     "template": {"metadata": {"labels": {"app": "prometheus"}},
                                  "spec": {"containers": [{"name": "p", "image": "registry.k8s.io/pause:3.9"}]}}}});
        deployments.patch("prometheus", &apply_params(), &Patch::Apply(&deployment)).await.expect("deployment");
        let before = namespaces.get(&foreign).await.expect("namespace");

        let intruder = format!("{}-b", fleet.tenant);
        let tenants: Api<Tenant> = Api::all(fleet.client.clone());
        let tenant = json!({
            "apiVersion": "tenantry.dev/v1alpha1", "kind": "Tenant", "metadata": {"name": intruder},
            "spec": {"partnerRef": fleet.partner, "tierRef": fleet.basic, "displayName": "Intruder",
                     "region": "eu-west-1", "namespace": foreign}
        });
        tenants.patch(&intruder, &apply_params(), &Patch::Apply(&tenant)).await.expect("tenant applied");
        let ready = tenant_condition(&fleet.client, &intruder, "NamespaceExists").await;
        assert_eq!(format!("{:?}", ready.status), "False");
        assert!(ready.message.contains(&foreign), "{}", ready.message);
        let stalled = tenants.get(&intruder).await.expect("tenant").status.expect("status").conditions;
        assert!(stalled.iter().any(|c| c.type_ == "Stalled" && c.reason == "NamespaceExists"), "{stalled:?}");
        // Give the operator time to do anything it would do, then check it did nothing.
        tokio::time::sleep(Duration::from_secs(3)).await;
        let after = namespaces.get(&foreign).await.expect("namespace");
        assert_eq!(after.metadata.labels, before.metadata.labels, "no label was added");
        assert_eq!(after.metadata.owner_references, before.metadata.owner_references, "no owner was added");
        assert!(exists(&Api::<ResourceQuota>::namespaced(fleet.client.clone(), &foreign), "tenantry-quota").await.is_none());
        assert!(exists(&Api::<LimitRange>::namespaced(fleet.client.clone(), &foreign), "tenantry-limits").await.is_none());
        assert!(exists(&Api::<NetworkPolicy>::namespaced(fleet.client.clone(), &foreign), "tenantry-isolation").await.is_none());
        assert!(exists(&Api::<ServiceAccount>::namespaced(fleet.client.clone(), &foreign), "tenantry-runner").await.is_none());
        assert!(exists(&config_maps, "tenantry-branding").await.is_none());

        tenants.delete(&intruder, &DeleteParams::default()).await.expect("tenant deleted");
        eventually("the tenant is released", || {
            let tenants = tenants.clone();
            let name = intruder.clone();
            async move { exists(&tenants, &name).await.is_none().then_some(()) }
        })
        .await;
        tokio::time::sleep(Duration::from_secs(2)).await;
        let kept = namespaces.get(&foreign).await.expect("the namespace is still there");
        let still = kept.metadata.deletion_timestamp.is_none();
        let config_map_kept = exists(&config_maps, "prometheus").await.is_some();
        let deployment_kept = exists(&deployments, "prometheus").await.is_some();
        let _ = namespaces.delete(&foreign, &DeleteParams::default()).await;
        assert!(still, "the namespace it did not create was deleted");
        assert!(config_map_kept && deployment_kept, "objects in the namespace were deleted");
    })
    .await;
}

#[tokio::test]
#[ignore = "needs a Kubernetes API server (KUBECONFIG)"]
async fn an_approval_in_a_tenant_namespace_finds_its_workflow() {
    with_fleet("approval", Tier::Basic, |fleet, _| async move {
        fleet.tenant_ready().await;
        fleet.apply_workflow("router", "orderToCash", "order-routing", json!({"continuous": {"replicas": 1}})).await;
        fleet.workflow_phase("router", WorkflowPhase::Running).await;
        let approvals: Api<tenantry::api::Approval> = fleet.api();
        // In the name of whoever the test runs as, which the chart's admission policy demands.
        let (user, _) = whoami(&fleet.client).await;
        let approval = json!({
            "apiVersion": "tenantry.dev/v1alpha1", "kind": "Approval",
            "metadata": {"name": "router-1", "namespace": fleet.namespace},
            "spec": {"workflow": "router", "generation": 1, "comment": "looks good", "approver": {"user": user}}
        });
        approvals.patch("router-1", &apply_params(), &Patch::Apply(&approval)).await.expect("approval applied");
        let ready = eventually("the approval has a status", || {
            let approvals = approvals.clone();
            async move {
                let status = approvals.get("router-1").await.ok()?.status?;
                status.conditions.into_iter().find(|c| c.type_ == "Ready")
            }
        })
        .await;
        assert_ne!(ready.reason, "UnknownWorkflow", "{ready:?}");
        assert_eq!(ready.reason, "Recorded", "{ready:?}");
    })
    .await;
}

/// The Ready condition of a workflow, once `check` accepts its status.
async fn workflow_until(
    fleet: &Fleet,
    name: &str,
    what: &str,
    deadline: Duration,
    check: impl Fn(&tenantry::api::WorkflowStatus) -> bool,
) -> tenantry::api::WorkflowStatus {
    let workflows: Api<Workflow> = fleet.api();
    let until = tokio::time::Instant::now() + deadline;
    loop {
        if let Some(status) = workflows.get(name).await.ok().and_then(|w| w.status) {
            if check(&status) {
                return status;
            }
        }
        assert!(tokio::time::Instant::now() < until, "gave up waiting for: workflow {name} {what}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn ready_is(status: &tenantry::api::WorkflowStatus, value: &str) -> bool {
    status.conditions.iter().any(|c| c.type_ == "Ready" && format!("{:?}", c.status) == value)
}

/// Ready means running: a continuous workflow is Ready only once its Deployment is Available
/// (kwok runs its pods), and a scheduled one reports when its last run was scheduled.
#[tokio::test]
#[ignore = "needs a Kubernetes API server (KUBECONFIG)"]
async fn a_workflow_is_ready_when_its_workload_runs() {
    with_fleet("running", Tier::Basic, |fleet, _| async move {
        fleet.tenant_ready().await;
        fleet.apply_workflow("router", "orderToCash", "order-routing", json!({"continuous": {"replicas": 1}})).await;
        fleet
            .apply_workflow(
                "minutely",
                "orderToCash",
                "invoice-generation",
                json!({"schedule": {"cron": "*/1 * * * *"}}),
            )
            .await;
        workflow_until(&fleet, "router", "is Ready", DEADLINE, |s| ready_is(s, "True")).await;
        let deployment = fleet.api::<Deployment>().get("router").await.expect("deployment");
        let available = deployment.status.and_then(|s| s.conditions).unwrap_or_default();
        assert!(
            available.iter().any(|c| c.type_ == "Available" && c.status == "True"),
            "Ready before the Deployment is Available: {available:?}"
        );
        let status =
            workflow_until(&fleet, "minutely", "has run", Duration::from_secs(150), |s| s.last_run_time.is_some())
                .await;
        assert!(ready_is(&status, "True"), "{status:?}");
    })
    .await;
}

/// The record of the current month, once the operator has written it with `phase`.
async fn record_in_phase(client: &Client, name: &str, phase: BillingPhase) -> BillingRecord {
    let records: Api<BillingRecord> = Api::all(client.clone());
    eventually(&format!("BillingRecord {name} is {phase:?}"), || {
        let records = records.clone();
        let name = name.to_string();
        async move {
            let record = records.get(&name).await.ok()?;
            (record.status.as_ref()?.phase? == phase).then_some(record)
        }
    })
    .await
}

fn current_record(fleet: &Fleet) -> String {
    let now = jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC);
    format!("{}-{:04}-{:02}", fleet.tenant, now.year(), now.month())
}

#[tokio::test]
#[ignore = "needs a Kubernetes API server (KUBECONFIG)"]
async fn a_tenant_gets_an_open_bill_for_the_month_with_its_run_rate() {
    with_fleet("bill-open", Tier::Basic, |fleet, _| async move {
        fleet.tenant_ready().await;
        let record = record_in_phase(&fleet.client, &current_record(&fleet), BillingPhase::Open).await;
        assert_eq!(record.spec.tenant_ref, fleet.tenant);
        assert_eq!(record.spec.partner_ref, fleet.partner);
        assert_eq!(record.spec.currency, "EUR");
        assert!(record.metadata.owner_references.is_none(), "bills outlive their tenant");
        let recurring = record.spec.recurring.clone().expect("the run-rate");
        assert_eq!((recurring.tier.as_deref(), recurring.total), (Some(fleet.basic.as_str()), 1000));
        let total: i64 = record.spec.line_items.iter().map(|l| l.amount).sum();
        assert_eq!(record.spec.total, total, "the lines add up");
        assert!(record.status.as_ref().and_then(|s| s.estimated_month_total).is_some());
        // The tenant's status carries the history the bill is computed from.
        let tenants: Api<Tenant> = Api::all(fleet.client.clone());
        let tenant = tenants.get(&fleet.tenant).await.expect("tenant");
        let history = tenant.status.expect("status").tier_history;
        assert_eq!(history.last().map(|h| h.tier.as_str()), Some(fleet.basic.as_str()));
    })
    .await;
}

#[tokio::test]
#[ignore = "needs a Kubernetes API server (KUBECONFIG)"]
async fn a_closed_bill_refuses_every_change_even_from_an_admin() {
    with_fleet("bill-closed", Tier::Basic, |fleet, _| async move {
        // A record of a month long gone, written and closed by hand as the admin.
        let name = format!("{}-2020-01", fleet.tenant);
        let records: Api<BillingRecord> = Api::all(fleet.client.clone());
        let record = json!({
            "apiVersion": "tenantry.dev/v1alpha1", "kind": "BillingRecord",
            "metadata": {"name": name, "labels": {"tenantry.dev/tenant": fleet.tenant}},
            "spec": {"tenantRef": fleet.tenant, "partnerRef": fleet.partner, "period": "2020-01", "currency": "EUR",
                     "lineItems": [{"layer": "platform", "description": "base fee", "quantityMilli": 1000,
                                    "unitPrice": 1000, "amount": 1000}],
                     "total": 1000}
        });
        records.patch(&name, &apply_params(), &Patch::Apply(&record)).await.expect("record created");
        let closed = json!({"apiVersion": "tenantry.dev/v1alpha1", "kind": "BillingRecord", "metadata": {"name": name},
                            "status": {"phase": "Closed", "closedAt": "2020-02-01T01:00:00Z"}});
        records.patch_status(&name, &apply_params(), &Patch::Apply(&closed)).await.expect("record closed");
        let edit = json!({"spec": {"total": 1}});
        let refused = records.patch(&name, &PatchParams::default(), &Patch::Merge(&edit)).await;
        match refused {
            Err(kube::Error::Api(status)) => assert_eq!(status.code, 422, "{status:?}"),
            other => panic!("a closed record accepted an edit: {other:?}"),
        }
        let reopen = json!({"status": {"phase": "Open"}});
        let refused = records.patch_status(&name, &PatchParams::default(), &Patch::Merge(&reopen)).await;
        assert!(matches!(refused, Err(kube::Error::Api(ref s)) if s.code == 422), "reopened: {refused:?}");
        let stored = records.get(&name).await.expect("record");
        assert_eq!(stored.spec.total, 1000);
    })
    .await;
}

#[tokio::test]
#[ignore = "needs a Kubernetes API server (KUBECONFIG)"]
async fn a_deleted_tenants_last_bill_is_closed_and_stays() {
    with_fleet("bill-final", Tier::Basic, |fleet, _| async move {
        fleet.tenant_ready().await;
        let name = current_record(&fleet);
        record_in_phase(&fleet.client, &name, BillingPhase::Open).await;
        let tenants: Api<Tenant> = Api::all(fleet.client.clone());
        tenants.delete(&fleet.tenant, &DeleteParams::default()).await.expect("tenant deleted");
        eventually("the tenant is gone", || {
            let tenants = tenants.clone();
            let tenant = fleet.tenant.clone();
            async move { tenants.get_opt(&tenant).await.ok().and_then(|t| t.is_none().then_some(())) }
        })
        .await;
        let record = record_in_phase(&fleet.client, &name, BillingPhase::Closed).await;
        let closed_at = record.status.as_ref().and_then(|s| s.closed_at.clone()).expect("closedAt");
        assert!(!closed_at.is_empty());
        let recurring = record.spec.recurring.expect("the run-rate");
        assert_eq!(recurring.total, 0, "a deleted tenant has churned");
    })
    .await;
}

/// Runs come from the CronJob's Jobs: kwok completes the Job's pod, the Job completes, and the
/// workflow counts a succeeded run; the counts stay once the Job is gone.
#[tokio::test]
#[ignore = "needs a Kubernetes API server (KUBECONFIG) that completes Jobs' pods (testenv's kwok)"]
async fn a_scheduled_workflow_counts_its_runs_from_its_jobs() {
    with_fleet("runs", Tier::Basic, |fleet, _| async move {
        fleet.tenant_ready().await;
        fleet
            .apply_workflow(
                "minutely",
                "orderToCash",
                "invoice-generation",
                json!({"schedule": {"cron": "*/1 * * * *"}}),
            )
            .await;
        let status = workflow_until(&fleet, "minutely", "counts a succeeded run", Duration::from_secs(150), |s| {
            s.runs.as_ref().is_some_and(|r| r.succeeded >= 1)
        })
        .await;
        let runs = status.runs.clone().expect("runs");
        assert_eq!(runs.failed, 0, "kwok's pods exit 0: {runs:?}");
        // The tenant counts the same runs into the month, by its own mark.
        let tenants: Api<Tenant> = Api::all(fleet.client.clone());
        let usage = eventually("the tenant's usage counts the run", || {
            let tenants = tenants.clone();
            let tenant = fleet.tenant.clone();
            async move {
                let status = tenants.get(&tenant).await.ok()?.status?;
                let runs: i64 = status.usage.iter().map(|u| u.runs).sum();
                (runs >= 1).then_some(status)
            }
        })
        .await;
        assert_eq!(usage.runs_counted.first().map(|c| c.workflow.as_str()), Some("minutely"), "{usage:?}");
        assert!(runs.counted_through.is_some(), "{runs:?}");
        assert!(status.last_run_time.is_some(), "{status:?}");

        // Every Job deleted (as the history limits would): the counts do not go down.
        let jobs: Api<k8s_openapi::api::batch::v1::Job> = fleet.api();
        let params = kube::api::DeleteParams::background();
        let _ = jobs.delete_collection(&params, &kube::api::ListParams::default()).await;
        tokio::time::sleep(Duration::from_secs(3)).await;
        let after = fleet.api::<Workflow>().get("minutely").await.expect("workflow").status.expect("status");
        let after = after.runs.expect("runs");
        assert!(after.succeeded >= runs.succeeded, "counts went down from {runs:?} to {after:?}");
    })
    .await;
}

/// The partner, its tiers, the tenant, its workflows and its BillingRecords as `kubectl get
/// -o yaml` would dump them into a GitOps directory (without `managedFields`).
async fn dump_fleet(fleet: &Fleet, dir: &std::path::Path) {
    fn document<K: serde::Serialize + kube::Resource>(mut object: K) -> String {
        object.meta_mut().managed_fields = None;
        format!("---\n{}", serde_yaml::to_string(&object).expect("YAML"))
    }
    let partners: Api<Partner> = Api::all(fleet.client.clone());
    let tiers: Api<ServiceTier> = Api::all(fleet.client.clone());
    let tenants: Api<Tenant> = Api::all(fleet.client.clone());
    let records: Api<BillingRecord> = Api::all(fleet.client.clone());
    let mut text = document(partners.get(&fleet.partner).await.expect("partner"));
    for tier in [&fleet.basic, &fleet.plus] {
        text.push_str(&document(tiers.get(tier).await.expect("tier")));
    }
    text.push_str(&document(tenants.get(&fleet.tenant).await.expect("tenant")));
    for workflow in fleet.api::<Workflow>().list(&ListParams::default()).await.expect("workflows").items {
        text.push_str(&document(workflow));
    }
    let mine = ListParams::default().labels(&format!("tenantry.dev/tenant={}", fleet.tenant));
    for record in records.list(&mine).await.expect("records").items {
        text.push_str(&document(record));
    }
    std::fs::create_dir_all(dir).expect("dump directory");
    std::fs::write(dir.join("fleet.yaml"), text).expect("dump written");
}

/// `tenantry` itself, as a user runs it (KUBECONFIG is inherited).
fn tenantry_cli(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_tenantry")).args(args).output().expect("tenantry runs")
}

fn stdout_of(output: &std::process::Output, what: &str) -> String {
    assert!(output.status.success(), "{what}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The invoices of one partner in `tenantry bill -o json` output.
fn invoices_of(json: &str, partner: &str) -> Vec<serde_json::Value> {
    let all: Vec<serde_json::Value> = serde_json::from_str(json).expect("JSON invoices");
    all.into_iter().filter(|invoice| invoice["partner"] == partner).collect()
}

/// The instant an open record is billed up to.
fn billed_up_to(record: &BillingRecord) -> Option<String> {
    record.status.as_ref()?.billed_until.clone()
}

/// `tenantry bill --cluster` and `tenantry revenue --cluster` print what they print for a
/// directory holding a dump of the same objects: records of past months closed by the
/// operator from a backdated tier history, the open month's, invoices and revenue with the
/// partner's cost model. Then `--mark-exported` annotates a closed month (the CRD's freeze
/// of closed records leaves metadata alone), and the operator's retention deletes that
/// month's exported record and no other, and does not compute it again.
#[tokio::test]
#[ignore = "needs a Kubernetes API server (KUBECONFIG)"]
async fn billing_commands_read_the_cluster_as_they_read_a_directory() {
    // Refreshed hourly as the directory's plan is; exported records go a day after their month.
    let rules = tenantry::planner::ClosingRules {
        retention: Some(jiff::SignedDuration::from_hours(24)),
        ..tenantry::planner::ClosingRules::default()
    };
    with_fleet_billing("bill-cli", Tier::Basic, rules, |fleet, _| async move {
        use tenantry::planner::billing::Period;
        let partners: Api<Partner> = Api::all(fleet.client.clone());
        let partner = json!({
            "apiVersion": "tenantry.dev/v1alpha1", "kind": "Partner", "metadata": {"name": fleet.partner},
            "spec": {"displayName": "Test Partner", "branding": {"productName": "Test Flow", "primaryColor": "#123456"},
                     "currency": "EUR", "invoicePrefix": "TEST",
                     "costModel": {"cpuCoreMonth": 2400, "memoryGibMonth": 310,
                                   "supportPerTenant": [{"tierLevel": 1, "monthly": 150}, {"tierLevel": 2, "monthly": 420}]}}
        });
        partners.patch(&fleet.partner, &apply_params(), &Patch::Apply(&partner)).await.expect("cost model");
        fleet.tenant_ready().await;
        fleet.apply_workflow("yearly", "orderToCash", "invoice-generation", json!({"schedule": {"cron": "0 0 1 1 *"}})).await;
        fleet.workflow_phase("yearly", WorkflowPhase::Running).await;

        // A tier history reaching three months back: basic, an upgrade to plus in the middle
        // of a month, and back to basic (the tenant's tier now).
        let current = Period::containing(jiff::Timestamp::now());
        let [m3, m2, m1] = [current.previous().previous().previous(), current.previous().previous(), current.previous()];
        let since = |period: Period, hours: i64| {
            tenantry::planner::format_time(period.start() + jiff::SignedDuration::from_hours(hours))
        };
        let history = json!({
            "apiVersion": "tenantry.dev/v1alpha1", "kind": "Tenant", "metadata": {"name": fleet.tenant},
            "status": {"tierHistory": [
                {"tier": fleet.basic, "level": 1, "since": since(m3, 4 * 24)},
                {"tier": fleet.plus, "level": 2, "since": since(m2, 10 * 24 + 12)},
                {"tier": fleet.basic, "level": 1, "since": since(m1, 2 * 24)},
            ]}
        });
        let tenants: Api<Tenant> = Api::all(fleet.client.clone());
        tenants.patch_status(&fleet.tenant, &apply_params(), &Patch::Apply(&history)).await.expect("history seeded");
        let name = |period: Period| format!("{}-{period}", fleet.tenant);
        for month in [m3, m2, m1] {
            record_in_phase(&fleet.client, &name(month), BillingPhase::Closed).await;
        }
        let plus_month = record_in_phase(&fleet.client, &name(m2), BillingPhase::Closed).await;
        assert_eq!(plus_month.spec.line_items.iter().filter(|l| l.amount != 0).count(), 2, "basic, then plus");
        let closed = |t: Tenant| t.status.and_then(|s| s.billing_closed_through);
        eventually("the tenant records its closed months", || {
            let tenants = tenants.clone();
            let tenant = fleet.tenant.clone();
            async move { (closed(tenants.get(&tenant).await.ok()?)? == m1.to_string()).then_some(()) }
        })
        .await;

        // The open record billed up to the current hour (a reconcile after an hour boundary
        // moves it; touching the tenant asks for one).
        let records: Api<BillingRecord> = Api::all(fleet.client.clone());
        let mut touches = 0;
        let at = eventually("the open record is billed up to this hour", || {
            touches += 1;
            let (records, tenants) = (records.clone(), tenants.clone());
            let (open, tenant) = (name(current), fleet.tenant.clone());
            async move {
                let now = jiff::Timestamp::now();
                let hour = tenantry::planner::format_time(tenantry::planner::ClosingRules::default().billed_until(now));
                let record = records.get(&open).await.ok()?;
                if billed_up_to(&record).as_deref() == Some(hour.as_str()) && record.spec.consumption.is_some() {
                    return Some(tenantry::planner::format_time(now));
                }
                let touch = json!({"metadata": {"labels": {"tenantry.dev/test-touch": touches.to_string()}}});
                let _ = tenants.patch(&tenant, &PatchParams::default(), &Patch::Merge(&touch)).await;
                None
            }
        })
        .await;
        let open = records.get(&name(current)).await.expect("open record");
        let consumption = open.spec.consumption.clone().expect("consumption");
        assert_eq!(consumption.tiers.first().map(|t| t.level), Some(1), "{consumption:?}");
        let adoption = open.spec.recurring.clone().and_then(|r| r.adoption).expect("Jobs listed: runs observed");
        assert_eq!((adoption.deployed, adoption.with_recent_run), (1, 0), "a yearly workflow that has not run");

        let dir = std::env::temp_dir().join(format!("tenantry-dump-{}", fleet.tenant));
        dump_fleet(&fleet, &dir).await;
        let dir_text = dir.to_str().expect("utf-8 path").to_string();
        for output in ["table", "json", "csv"] {
            let args = |source: &str| -> Vec<String> {
                let mut args = vec!["revenue".to_string()];
                args.push(source.to_string());
                args.extend(["--partner", &fleet.partner, "--at", &at, "--months", "6", "-o", output].map(String::from));
                args
            };
            let cluster: Vec<String> = args("--cluster");
            let directory: Vec<String> = args(&dir_text);
            let from_cluster = stdout_of(&tenantry_cli(&cluster.iter().map(String::as_str).collect::<Vec<_>>()), "revenue --cluster");
            let from_dir = stdout_of(&tenantry_cli(&directory.iter().map(String::as_str).collect::<Vec<_>>()), "revenue DIR");
            assert_eq!(from_cluster, from_dir, "revenue -o {output}");
        }
        let revenue: serde_json::Value = serde_json::from_str(&stdout_of(
            &tenantry_cli(&["revenue", "--cluster", "--partner", &fleet.partner, "--at", &at, "-o", "json"]),
            "revenue",
        ))
        .expect("JSON");
        let last = revenue[0]["months"].as_array().and_then(|m| m.last()).cloned().expect("a month");
        assert!(last["grossMargin"].is_i64(), "a cost model and consumption give a margin: {last}");
        for (period, open) in [(m1.to_string(), false), (current.to_string(), true)] {
            let mut args = vec!["--period", &period, "--at", &at, "-o", "json"];
            if open {
                args.push("--include-open");
            }
            let cluster = stdout_of(&tenantry_cli(&[&["bill", "--cluster"][..], &args].concat()), "bill --cluster");
            let directory = stdout_of(&tenantry_cli(&[&["bill", dir_text.as_str()][..], &args].concat()), "bill DIR");
            let invoices = invoices_of(&cluster, &fleet.partner);
            assert_eq!(invoices.len(), 1, "{period}: {cluster}");
            assert_eq!(invoices, invoices_of(&directory, &fleet.partner), "bill --period {period}");
        }
        let _ = std::fs::remove_dir_all(&dir);

        // How big a record is as the API server serves it.
        for month in [m2, current] {
            let path = format!("/apis/tenantry.dev/v1alpha1/billingrecords/{}", name(month));
            let served = fleet.client.request_text(http::Request::get(path).body(Vec::new()).expect("request")).await;
            let served = served.expect("the record");
            eprintln!("footprint: BillingRecord {} is {} bytes as served (with managedFields)", name(month), served.len());
        }

        // Export the oldest month: only its Closed records are annotated.
        let m3_text = m3.to_string();
        let marked = tenantry_cli(&["bill", "--cluster", "--period", &m3_text, "--mark-exported"]);
        let stderr = String::from_utf8_lossy(&marked.stderr).into_owned();
        assert!(marked.status.success(), "{stderr}");
        assert!(stderr.contains("exported"), "{stderr}");
        // Retention: the exported month goes (the fleet pass runs at least once a minute);
        // the unexported ones and the open one stay.
        eventually("the exported record is deleted by retention", || {
            let records = records.clone();
            let gone = name(m3);
            async move { records.get_opt(&gone).await.ok()?.is_none().then_some(()) }
        })
        .await;
        for month in [m2, m1, current] {
            assert!(records.get_opt(&name(month)).await.expect("read").is_some(), "{} was kept", name(month));
        }
        // Reconciled again, the tenant does not bill the deleted month anew.
        let touch = json!({"metadata": {"labels": {"tenantry.dev/test-touch": "after-retention"}}});
        tenants.patch(&fleet.tenant, &PatchParams::default(), &Patch::Merge(&touch)).await.expect("touched");
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert!(records.get_opt(&name(m3)).await.expect("read").is_none(), "{} came back", name(m3));
    })
    .await;
}

// ---------------------------------------------------------------------------------------
// Governance: the RBAC the operator binds, the chart's admission policy on Approvals, and the
// approval, freeze and registry gates, against a real API server.
//
// People act through the admin's kubeconfig with impersonation headers (`Impersonate-User`,
// `Impersonate-Group`): the API server then authorizes and admits each request as that user
// with exactly those groups (plus `system:authenticated`), which is all RBAC and the
// admission policy look at. The identities are testenv's (`approver@example.com` in
// `tenantry-approvers` and `finance-approvers`, `user@example.com` in `tenant-users`,
// `nobody@example.com`), but impersonation needs no token of theirs, so the suite runs
// against any cluster whose admin may impersonate (kind, k3d, a cloud cluster), and it gives
// a second approver that testenv has no token for.

const APPROVER: (&str, &[&str]) = ("approver@example.com", &["tenantry-approvers", "finance-approvers"]);
const SECOND_APPROVER: (&str, &[&str]) = ("second-approver@example.com", &["finance-approvers"]);
const USER: (&str, &[&str]) = ("user@example.com", &["tenant-users"]);
const NOBODY: (&str, &[&str]) = ("nobody@example.com", &[]);

/// A client that acts as `who` (user name and groups).
async fn client_as(who: (&str, &[&str])) -> Client {
    let mut config = Config::infer().await.expect("a kubeconfig");
    config.auth_info.impersonate = Some(who.0.to_string());
    config.auth_info.impersonate_groups = Some(who.1.iter().map(|g| g.to_string()).collect());
    Client::try_from(config).expect("a client")
}

/// Who the API server says `client` is (`kubectl auth whoami`): user name and groups.
async fn whoami(client: &Client) -> (String, Vec<String>) {
    use k8s_openapi::api::authentication::v1::SelfSubjectReview;
    let reviews: Api<SelfSubjectReview> = Api::all(client.clone());
    let review = reviews.create(&PostParams::default(), &SelfSubjectReview::default()).await.expect("a self review");
    let info = review.status.and_then(|s| s.user_info).unwrap_or_default();
    (info.username.unwrap_or_default(), info.groups.unwrap_or_default())
}

/// The chart's template `file` as plain YAML documents: Helm templating is kept on lines of
/// its own there (labels, the values toggle), which are dropped.
fn chart_documents(file: &str) -> Vec<serde_json::Value> {
    use serde::Deserialize;
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../charts/tenantry/templates").join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let plain: String =
        text.lines().filter(|line| !line.trim_start().starts_with("{{")).map(|line| format!("{line}\n")).collect();
    serde_yaml::Deserializer::from_str(&plain)
        .map(|document| serde_json::Value::deserialize(document).expect("the chart's YAML parses"))
        .filter(|document| !document.is_null())
        .collect()
}

/// The API resource of a chart object's kind.
fn chart_resource(kind: &str) -> kube::core::ApiResource {
    use k8s_openapi::api::admissionregistration::v1::{ValidatingAdmissionPolicy, ValidatingAdmissionPolicyBinding};
    use k8s_openapi::api::rbac::v1::ClusterRole;
    match kind {
        "ClusterRole" => kube::core::ApiResource::erase::<ClusterRole>(&()),
        "ValidatingAdmissionPolicy" => kube::core::ApiResource::erase::<ValidatingAdmissionPolicy>(&()),
        "ValidatingAdmissionPolicyBinding" => kube::core::ApiResource::erase::<ValidatingAdmissionPolicyBinding>(&()),
        other => panic!("the chart's governance files hold an unexpected kind {other}"),
    }
}

/// The chart's governance objects this process installed, and how many tests use them.
static CHART_GOVERNANCE: tokio::sync::Mutex<(usize, Vec<(kube::core::ApiResource, String)>)> =
    tokio::sync::Mutex::const_new((0, Vec::new()));

/// Installs what the Helm chart ships for governance (the tenant ClusterRoles and the Approval
/// admission policy with its binding) for one more test, as the CRDs are installed: applied
/// from the chart's own files. The last test of this process to release them deletes those
/// that did not exist before the first one installed them (a cluster with the chart keeps
/// its own). Returns once the API server enforces the policy.
async fn acquire_chart_governance(client: &Client) {
    let mut shared = CHART_GOVERNANCE.lock().await;
    if shared.0 == 0 {
        install_crds(client).await;
        for document in
            chart_documents("tenant-roles.yaml").into_iter().chain(chart_documents("approval-identity.yaml"))
        {
            let resource = chart_resource(document["kind"].as_str().unwrap_or_default());
            let name = document["metadata"]["name"].as_str().expect("named").to_string();
            let api: Api<kube::api::DynamicObject> = Api::all_with(client.clone(), &resource);
            let existed = api.get_opt(&name).await.expect("a get").is_some();
            api.patch(&name, &apply_params(), &Patch::Apply(&document))
                .await
                .unwrap_or_else(|e| panic!("the API server refused the chart's {} {name}: {e}", resource.kind));
            if !existed {
                shared.1.push((resource, name));
            }
        }
        // The policy takes effect once the API server has loaded it: until a forged approval
        // (a dry run) is refused, it is not there yet.
        let approvals: Api<tenantry::api::Approval> = Api::namespaced(client.clone(), "default");
        let forged: tenantry::api::Approval = serde_json::from_value(json!({
            "apiVersion": "tenantry.dev/v1alpha1", "kind": "Approval", "metadata": {"name": "forged"},
            "spec": {"workflow": "w", "generation": 1, "approver": {"user": "someone-else@example.com"}}
        }))
        .expect("an approval");
        eventually("the approval identity policy is enforced", || {
            let (approvals, forged) = (approvals.clone(), forged.clone());
            async move {
                let refused = approvals.create(&PostParams { dry_run: true, ..PostParams::default() }, &forged).await;
                matches!(refused, Err(kube::Error::Api(ref s)) if s.message.contains("tenantry-approval-identity"))
                    .then_some(())
            }
        })
        .await;
    }
    shared.0 += 1;
}

async fn release_chart_governance(client: &Client) {
    let mut shared = CHART_GOVERNANCE.lock().await;
    shared.0 -= 1;
    if shared.0 == 0 {
        for (resource, name) in shared.1.drain(..).rev() {
            let api: Api<kube::api::DynamicObject> = Api::all_with(client.clone(), &resource);
            let _ = api.delete(&name, &DeleteParams::default()).await;
        }
    }
}

/// [`with_fleet`] with the chart's governance objects installed for the test.
async fn with_governance<F, Fut>(test: &str, body: F)
where
    F: FnOnce(Fleet, Arc<AtomicUsize>) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let client = base_client().await;
    acquire_chart_governance(&client).await;
    let test = test.to_string();
    let outcome = tokio::spawn(async move { with_fleet(&test, Tier::Basic, body).await }).await;
    release_chart_governance(&client).await;
    if let Err(error) = outcome {
        if error.is_panic() {
            std::panic::resume_unwind(error.into_panic());
        }
        panic!("the test did not finish: {error}");
    }
}

impl Fleet {
    /// Applies a governance policy scoped to this fleet's partner (so that it selects no
    /// other test's tenants); `spec` is the rest of its spec.
    async fn apply_policy(&self, name: &str, spec: serde_json::Value) -> String {
        let name = format!("{name}-{}", self.tenant);
        let mut spec = spec;
        spec["partnerRef"] = json!(self.partner);
        let policy = json!({
            "apiVersion": "tenantry.dev/v1alpha1", "kind": "GovernancePolicy", "metadata": {"name": name}, "spec": spec
        });
        let policies: Api<GovernancePolicy> = Api::all(self.client.clone());
        policies.patch(&name, &apply_params(), &Patch::Apply(&policy)).await.expect("policy applied");
        name
    }

    /// Waits until the tenant's status says `policy` applies to it (or no longer does).
    async fn policy_applies(&self, policy: &str, applies: bool) {
        let tenants: Api<Tenant> = Api::all(self.client.clone());
        eventually(&format!("policy {policy} applies to the tenant: {applies}"), || {
            let (tenants, name, policy) = (tenants.clone(), self.tenant.clone(), policy.to_string());
            async move {
                let listed = tenants.get(&name).await.ok()?.status?.policies;
                (listed.contains(&policy) == applies).then_some(())
            }
        })
        .await;
    }

    /// Applies the continuous workflow `name` with runner `args` (a change of them is a new
    /// generation).
    async fn apply_continuous(&self, name: &str, args: &[&str]) {
        let workflows: Api<Workflow> = self.api();
        let workflow = json!({
            "apiVersion": "tenantry.dev/v1alpha1", "kind": "Workflow",
            "metadata": {"name": name, "namespace": self.namespace},
            "spec": {"category": "orderToCash", "template": "order-routing", "trigger": {"continuous": {"replicas": 1}},
                     "runner": {"image": "registry.k8s.io/pause:3.9", "args": args}, "connectors": ["shop"]}
        });
        workflows.patch(name, &apply_params(), &Patch::Apply(&workflow)).await.expect("workflow applied");
    }

    /// The workflow's status once `check` accepts it.
    async fn workflow_status(
        &self,
        name: &str,
        what: &str,
        check: impl Fn(&tenantry::api::WorkflowStatus) -> bool,
    ) -> tenantry::api::WorkflowStatus {
        workflow_until(self, name, what, DEADLINE, check).await
    }
}

/// An Approval of `generation` of `workflow`, in `who`'s name.
fn approval(name: &str, workflow: &str, generation: i64, who: (&str, &[&str]), groups: &[&str]) -> serde_json::Value {
    json!({
        "apiVersion": "tenantry.dev/v1alpha1", "kind": "Approval", "metadata": {"name": name},
        "spec": {"workflow": workflow, "generation": generation, "comment": "reviewed",
                 "approver": {"user": who.0, "groups": groups}}
    })
}

/// Creates `approval` in the fleet's namespace as `who`: what `kubectl create -f` sends.
async fn create_approval(
    fleet: &Fleet,
    who: (&str, &[&str]),
    approval: serde_json::Value,
) -> Result<tenantry::api::Approval, kube::Error> {
    let approvals: Api<tenantry::api::Approval> = Api::namespaced(client_as(who).await, &fleet.namespace);
    let approval: tenantry::api::Approval = serde_json::from_value(approval).expect("an approval");
    approvals.create(&PostParams::default(), &approval).await
}

/// The refusal's status, or a failure naming what was accepted.
fn refused<T: std::fmt::Debug>(what: &str, result: Result<T, kube::Error>) -> Box<kube::core::Status> {
    match result {
        Err(kube::Error::Api(status)) => Box::new((*status).clone()),
        other => panic!("{what}: expected a refusal, got {other:?}"),
    }
}

fn is_phase(status: &tenantry::api::WorkflowStatus, phase: WorkflowPhase, reason: Option<&str>) -> bool {
    status.phase == Some(phase) && status.reason.as_deref() == reason
}

/// The subjects of the RoleBinding `name` in the fleet's namespace, once it has some.
async fn role_binding_subjects(fleet: &Fleet, name: &str) -> Vec<(String, String)> {
    use k8s_openapi::api::rbac::v1::RoleBinding;
    let bindings: Api<RoleBinding> = fleet.api();
    let binding = eventually(&format!("RoleBinding {name}"), || exists(&bindings, name)).await;
    assert_eq!((binding.role_ref.kind.as_str(), binding.role_ref.name.as_str()), ("ClusterRole", name));
    assert_eq!(binding.metadata.labels.unwrap_or_default().get("tenantry.dev/tenant"), Some(&fleet.tenant));
    binding.subjects.unwrap_or_default().into_iter().map(|s| (s.kind, s.name)).collect()
}

#[tokio::test]
#[ignore = "needs a Kubernetes API server (KUBECONFIG)"]
async fn only_granted_approvers_create_approvals_and_only_in_their_own_name() {
    with_governance("approvers", |fleet, writes| async move {
        use k8s_openapi::api::rbac::v1::RoleBinding;
        let viewers = json!([{"kind": "User", "name": USER.0},
                             {"kind": "ServiceAccount", "name": "dashboard", "namespace": "monitoring"}]);
        let policy = fleet
            .apply_policy(
                "finance",
                json!({"rbac": [{"role": "approver", "subjects": [{"kind": "Group", "name": "finance-approvers"}]},
                                {"role": "viewer", "subjects": viewers}]}),
            )
            .await;
        fleet.tenant_ready().await;
        fleet.policy_applies(&policy, true).await;
        assert_eq!(
            role_binding_subjects(&fleet, "tenantry-approver").await,
            [("Group".into(), "finance-approvers".into())]
        );
        assert_eq!(
            role_binding_subjects(&fleet, "tenantry-viewer").await,
            [("ServiceAccount".into(), "dashboard".into()), ("User".into(), USER.0.to_string())]
        );
        fleet.apply_continuous("router", &[]).await;
        fleet.workflow_status("router", "runs", |s| is_phase(s, WorkflowPhase::Running, None)).await;
        // The bindings as the API server stores them are what the operator wants: reconciling
        // the tenant again writes nothing.
        settled(&writes).await;
        let before = writes.load(Ordering::SeqCst);
        let tenants: Api<Tenant> = Api::all(fleet.client.clone());
        let touch = json!({"metadata": {"annotations": {"tenantry.dev/test-touch": unique("t")}}});
        tenants.patch(&fleet.tenant, &PatchParams::default(), &Patch::Merge(&touch)).await.expect("touched");
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert_eq!(writes.load(Ordering::SeqCst), before, "an unchanged tenant with RoleBindings caused writes");

        // RBAC: someone the policy does not make an approver is refused by the API server,
        // even in their own name; so is someone with no grant at all.
        let status = refused(
            "user creates an approval",
            create_approval(&fleet, USER, approval("by-user", "router", 1, USER, &[])).await,
        );
        assert_eq!(status.code, 403, "{status:?}");
        assert!(status.message.contains("cannot create resource \"approvals\""), "{}", status.message);
        let status = refused(
            "nobody creates an approval",
            create_approval(&fleet, NOBODY, approval("by-nobody", "router", 1, NOBODY, &[])).await,
        );
        assert_eq!(status.code, 403, "{status:?}");
        // The viewer reads the approvals, and cannot write one.
        let as_user: Api<tenantry::api::Approval> = Api::namespaced(client_as(USER).await, &fleet.namespace);
        as_user.list(&ListParams::default()).await.expect("a viewer lists approvals");

        // The approver, in their own name and a group they are in: accepted.
        let created =
            create_approval(&fleet, APPROVER, approval("by-approver", "router", 1, APPROVER, &["finance-approvers"]))
                .await
                .expect("the approver creates an approval in their own name");
        assert_eq!(created.spec.approver.user, APPROVER.0);

        // The admission policy: not in another's name, not with a group one is not in.
        let status = refused(
            "an approval in another's name",
            create_approval(&fleet, APPROVER, approval("forged", "router", 1, ("boss@example.com", &[]), &[])).await,
        );
        assert_eq!(status.code, 403, "{status:?}");
        assert!(status.message.contains("tenantry-approval-identity"), "{}", status.message);
        assert!(
            status.message.contains(APPROVER.0) && status.message.contains("boss@example.com"),
            "{}",
            status.message
        );
        let status = refused(
            "an approval with a group the approver is not in",
            create_approval(
                &fleet,
                APPROVER,
                approval("borrowed", "router", 1, APPROVER, &["finance-approvers", "auditors"]),
            )
            .await,
        );
        assert_eq!(status.code, 403, "{status:?}");
        assert!(
            status.message.contains("auditors") && !status.message.contains("finance-approvers,"),
            "{}",
            status.message
        );

        // Nobody changes an approval afterwards: the approver may not patch or delete it
        // (RBAC), and even the admin cannot change its spec (the CRD's rule).
        let as_approver: Api<tenantry::api::Approval> = Api::namespaced(client_as(APPROVER).await, &fleet.namespace);
        let reword = json!({"spec": {"comment": "changed my mind"}});
        let status = refused(
            "the approver rewords an approval",
            as_approver.patch("by-approver", &PatchParams::default(), &Patch::Merge(&reword)).await,
        );
        assert_eq!(status.code, 403, "{status:?}");
        let status = refused(
            "the approver deletes an approval",
            as_approver.delete("by-approver", &DeleteParams::default()).await,
        );
        assert_eq!(status.code, 403, "{status:?}");
        let approvals: Api<tenantry::api::Approval> = fleet.api();
        for (what, patch) in [
            ("rewords", json!({"spec": {"comment": "changed my mind"}})),
            ("moves to another generation", json!({"spec": {"generation": 2}})),
            ("changes the approver", json!({"spec": {"approver": {"user": "admin-did-it"}}})),
        ] {
            let status = refused(
                &format!("the admin {what}"),
                approvals.patch("by-approver", &PatchParams::default(), &Patch::Merge(&patch)).await,
            );
            assert_eq!(status.code, 422, "{status:?}");
            assert!(status.message.contains("never changes after creation"), "{}", status.message);
        }
        let stored = approvals.get("by-approver").await.expect("the approval");
        assert_eq!((stored.spec.comment.as_deref(), stored.spec.generation), (Some("reviewed"), 1));

        // The grant withdrawn: its RoleBinding is pruned, and the approver refused again.
        fleet.apply_policy("finance", json!({"rbac": [{"role": "viewer", "subjects": viewers}]})).await;
        let bindings: Api<RoleBinding> = fleet.api();
        eventually("the approver RoleBinding is pruned", || {
            let bindings = bindings.clone();
            async move { exists(&bindings, "tenantry-approver").await.is_none().then_some(()) }
        })
        .await;
        assert!(exists(&bindings, "tenantry-viewer").await.is_some(), "the viewer binding stays");
        let status = refused(
            "a former approver creates an approval",
            create_approval(&fleet, APPROVER, approval("late", "router", 1, APPROVER, &[])).await,
        );
        assert_eq!(status.code, 403, "{status:?}");
    })
    .await;
}

/// The Deployment and definition of a workflow as they stand: what must not move while a new
/// generation waits.
#[derive(Debug, PartialEq)]
struct Rollout {
    uid: String,
    deployment_generation: Option<i64>,
    replicas: Option<i32>,
    template: String,
    definition_hash: Option<String>,
    definition: String,
}

async fn rollout_of(fleet: &Fleet, name: &str) -> Rollout {
    let deployment = fleet.api::<Deployment>().get(name).await.expect("the deployment");
    let spec = deployment.spec.clone().expect("a spec");
    let template = spec.template.clone();
    let definition = fleet.api::<ConfigMap>().get(&format!("{name}-definition")).await.expect("the definition");
    Rollout {
        uid: deployment.uid().unwrap_or_default(),
        deployment_generation: deployment.metadata.generation,
        replicas: spec.replicas,
        definition_hash: template
            .metadata
            .as_ref()
            .and_then(|m| m.annotations.as_ref())
            .and_then(|a| a.get("tenantry.dev/definition-hash").cloned()),
        template: serde_json::to_string(&template).unwrap_or_default(),
        definition: definition.data.unwrap_or_default().get("workflow.yaml").cloned().unwrap_or_default(),
    }
}

#[tokio::test]
#[ignore = "needs a Kubernetes API server (KUBECONFIG)"]
async fn a_held_generation_waits_for_its_approvals_while_the_deployed_one_runs() {
    with_governance("held", |fleet, _| async move {
        let rule = |min: i32| {
            json!({"approvals": [{"categories": ["orderToCash"], "minApprovals": min,
                                  "approvers": [{"kind": "Group", "name": "finance-approvers"}]}],
                   "rbac": [{"role": "approver", "subjects": [{"kind": "Group", "name": "finance-approvers"}]}]})
        };
        let policy = fleet.apply_policy("four-eyes", rule(1)).await;
        fleet.tenant_ready().await;
        fleet.policy_applies(&policy, true).await;
        role_binding_subjects(&fleet, "tenantry-approver").await;

        // Generation 1, never deployed: held, and nothing runs.
        fleet.apply_continuous("router", &[]).await;
        let held = fleet
            .workflow_status("router", "is held for approval", |s| {
                is_phase(s, WorkflowPhase::Held, Some("AwaitingApproval"))
            })
            .await;
        assert_eq!(held.deployed_generation, None, "{held:?}");
        assert!(exists(&fleet.api::<Deployment>(), "router").await.is_none(), "a never-approved workflow runs nothing");
        create_approval(&fleet, APPROVER, approval("router-1", "router", 1, APPROVER, &["finance-approvers"]))
            .await
            .expect("approval of generation 1");
        let running = fleet
            .workflow_status("router", "runs generation 1", |s| {
                is_phase(s, WorkflowPhase::Running, None) && s.deployed_generation == Some(1)
            })
            .await;
        assert!(running.decisions.iter().any(|d| d.reason == "Approved" && d.generation == Some(1)), "{running:?}");
        eventually("the deployment of generation 1", || {
            let fleet = fleet.clone();
            async move { exists(&fleet.api::<Deployment>(), "router").await.map(|_| ()) }
        })
        .await;
        let before = rollout_of(&fleet, "router").await;
        assert!(before.definition.contains("generation: 1\n"), "{}", before.definition);
        assert_eq!(before.replicas, Some(1));

        // Generation 2: held, while generation 1 keeps running exactly as it was.
        fleet.apply_continuous("router", &["--dry-run=false"]).await;
        let held = fleet
            .workflow_status("router", "holds generation 2", |s| {
                s.observed_generation == Some(2) && is_phase(s, WorkflowPhase::Held, Some("AwaitingApproval"))
            })
            .await;
        assert_eq!(held.deployed_generation, Some(1), "{held:?}");
        // An approval of generation 1, even by another approver, does not release generation 2.
        create_approval(
            &fleet,
            SECOND_APPROVER,
            approval("router-1-again", "router", 1, SECOND_APPROVER, &["finance-approvers"]),
        )
        .await
        .expect("a second approval of generation 1");
        tokio::time::sleep(Duration::from_secs(5)).await;
        let still = fleet.api::<Workflow>().get("router").await.expect("workflow").status.expect("status");
        assert!(is_phase(&still, WorkflowPhase::Held, Some("AwaitingApproval")), "{still:?}");
        assert_eq!(rollout_of(&fleet, "router").await, before, "the deployed generation was touched while held");

        // A rule of a group counts approvals given as that group: without it, the approver's
        // approval does not count (and its status says so).
        create_approval(&fleet, APPROVER, approval("router-2-no-group", "router", 2, APPROVER, &[]))
            .await
            .expect("an approval without the group");
        let approvals: Api<tenantry::api::Approval> = fleet.api();
        let not_counted = eventually("the approval without the group is reported", || {
            let approvals = approvals.clone();
            async move {
                let status = approvals.get("router-2-no-group").await.ok()?.status?;
                status.conditions.into_iter().find(|c| c.type_ == "Ready")
            }
        })
        .await;
        assert_eq!(not_counted.reason, "NotAnApprover", "{not_counted:?}");
        let still = fleet.api::<Workflow>().get("router").await.expect("workflow").status.expect("status");
        assert!(is_phase(&still, WorkflowPhase::Held, Some("AwaitingApproval")), "{still:?}");
        create_approval(&fleet, APPROVER, approval("router-2", "router", 2, APPROVER, &["finance-approvers"]))
            .await
            .expect("approval of generation 2");
        fleet
            .workflow_status("router", "runs generation 2", |s| {
                is_phase(s, WorkflowPhase::Running, None) && s.deployed_generation == Some(2)
            })
            .await;
        let second = rollout_of(&fleet, "router").await;
        assert_eq!(second.uid, before.uid, "rolled, not replaced");
        assert!(second.definition.contains("generation: 2\n"), "{}", second.definition);
        assert_ne!(second.definition_hash, before.definition_hash, "the new definition rolls the pods");

        // Two distinct approvers: one approver's two approvals count once.
        fleet.apply_policy("four-eyes", rule(2)).await;
        fleet.apply_continuous("router", &["--dry-run=true"]).await;
        fleet
            .workflow_status("router", "holds generation 3", |s| {
                s.observed_generation == Some(3) && is_phase(s, WorkflowPhase::Held, Some("AwaitingApproval"))
            })
            .await;
        create_approval(&fleet, APPROVER, approval("router-3", "router", 3, APPROVER, &["finance-approvers"]))
            .await
            .expect("first");
        create_approval(&fleet, APPROVER, approval("router-3-again", "router", 3, APPROVER, &["finance-approvers"]))
            .await
            .expect("the same approver once more");
        let waiting = fleet
            .workflow_status("router", "counts one approver of two", |s| {
                let expected = format!("(1 so far: {})", APPROVER.0);
                s.conditions.iter().any(|c| c.type_ == "Ready" && c.message.contains(&expected))
            })
            .await;
        assert!(is_phase(&waiting, WorkflowPhase::Held, Some("AwaitingApproval")), "{waiting:?}");
        tokio::time::sleep(Duration::from_secs(3)).await;
        let still = fleet.api::<Workflow>().get("router").await.expect("workflow").status.expect("status");
        assert_eq!(still.deployed_generation, Some(2), "{still:?}");
        assert_eq!(rollout_of(&fleet, "router").await, second);
        create_approval(
            &fleet,
            SECOND_APPROVER,
            approval("router-3-second", "router", 3, SECOND_APPROVER, &["finance-approvers"]),
        )
        .await
        .expect("a second approver");
        let released = fleet
            .workflow_status("router", "runs generation 3", |s| {
                is_phase(s, WorkflowPhase::Running, None) && s.deployed_generation == Some(3)
            })
            .await;
        let approved = released.decisions.iter().rev().find(|d| d.reason == "Approved").expect("approved");
        assert!(approved.message.contains(APPROVER.0) && approved.message.contains(SECOND_APPROVER.0), "{approved:?}");
    })
    .await;
}

#[tokio::test]
#[ignore = "needs a Kubernetes API server (KUBECONFIG)"]
async fn a_change_freeze_holds_a_new_generation_and_releases_it_on_its_own() {
    with_governance("freeze", |fleet, _| async move {
        fleet.tenant_ready().await;
        fleet.apply_continuous("router", &[]).await;
        fleet
            .workflow_status("router", "runs generation 1", |s| {
                is_phase(s, WorkflowPhase::Running, None) && s.deployed_generation == Some(1)
            })
            .await;
        let now = jiff::Timestamp::now();
        let start = now - jiff::SignedDuration::from_secs(60);
        let end = jiff::Timestamp::from_second(now.as_second() + 40).expect("an instant");
        let policy = fleet
            .apply_policy(
                "freeze",
                json!({"changeFreezes": [{"name": "release-week",
                                          "window": {"start": start.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
                                                     "end": end.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()}}]}),
            )
            .await;
        fleet.policy_applies(&policy, true).await;
        let before = rollout_of(&fleet, "router").await;

        fleet.apply_continuous("router", &["--dry-run=false"]).await;
        let held = fleet
            .workflow_status("router", "is frozen", |s| {
                s.observed_generation == Some(2) && is_phase(s, WorkflowPhase::Held, Some("ChangeFreeze"))
            })
            .await;
        assert!(jiff::Timestamp::now() < end, "the freeze ended before the test saw it hold: too slow a cluster");
        let until: jiff::Timestamp = held.frozen_until.as_deref().expect("frozenUntil").parse().expect("an instant");
        assert_eq!(until, end, "{held:?}");
        assert_eq!(held.deployed_generation, Some(1));
        assert_eq!(rollout_of(&fleet, "router").await, before, "the deployed generation was touched while frozen");

        // Nothing else changes: the operator wakes itself up when the freeze ends.
        let wait = Duration::from_secs((end.as_second() - jiff::Timestamp::now().as_second()).max(0) as u64);
        let released = workflow_until(&fleet, "router", "runs generation 2 after the freeze", wait + DEADLINE, |s| {
            is_phase(s, WorkflowPhase::Running, None) && s.deployed_generation == Some(2)
        })
        .await;
        assert!(jiff::Timestamp::now() >= end, "released before the freeze ended: {released:?}");
        assert!(released.frozen_until.is_none(), "{released:?}");
        assert!(released.decisions.iter().any(|d| d.reason == "Released" && d.generation == Some(2)), "{released:?}");
        assert!(rollout_of(&fleet, "router").await.definition.contains("generation: 2\n"));

        let events: Api<k8s_openapi::api::events::v1::Event> = fleet.api();
        let listed = events.list(&ListParams::default()).await.expect("events").items;
        assert!(
            listed.iter().any(|e| e.reason.as_deref() == Some("ChangeFreeze")
                && e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some("router")),
            "no ChangeFreeze event for the workflow: {:?}",
            listed.iter().map(|e| (e.reason.clone(), e.note.clone())).collect::<Vec<_>>()
        );
    })
    .await;
}

#[tokio::test]
#[ignore = "needs a Kubernetes API server (KUBECONFIG)"]
async fn an_image_registry_policy_scales_a_running_workflow_to_zero_and_back() {
    with_governance("registry", |fleet, _| async move {
        fleet.tenant_ready().await;
        fleet.apply_continuous("router", &[]).await;
        fleet.workflow_status("router", "runs", |s| is_phase(s, WorkflowPhase::Running, None)).await;
        let before = rollout_of(&fleet, "router").await;
        assert_eq!(before.replicas, Some(1));

        let policy =
            fleet.apply_policy("registries", json!({"allowedImageRegistries": ["registry.tenantry.dev"]})).await;
        let blocked = fleet
            .workflow_status("router", "is blocked", |s| is_phase(s, WorkflowPhase::Blocked, Some("ImageNotAllowed")))
            .await;
        let message = blocked.conditions.iter().find(|c| c.type_ == "Ready").map(|c| c.message.clone());
        assert!(
            message.as_deref().is_some_and(|m| m.contains(&policy) && m.contains("registry.k8s.io/pause")),
            "{message:?}"
        );
        let deployments = fleet.api::<Deployment>();
        eventually("the deployment is scaled to zero", || {
            let deployments = deployments.clone();
            async move { (exists(&deployments, "router").await?.spec?.replicas? == 0).then_some(()) }
        })
        .await;
        let stopped = rollout_of(&fleet, "router").await;
        assert_eq!(stopped.uid, before.uid, "scaled down, not deleted and re-created");
        assert_eq!((stopped.template, stopped.definition), (before.template.clone(), before.definition.clone()));

        let policies: Api<GovernancePolicy> = Api::all(fleet.client.clone());
        policies.delete(&policy, &DeleteParams::default()).await.expect("policy deleted");
        fleet.workflow_status("router", "runs again", |s| is_phase(s, WorkflowPhase::Running, None)).await;
        eventually("the deployment is scaled back up", || {
            let deployments = deployments.clone();
            async move { (exists(&deployments, "router").await?.spec?.replicas? == 1).then_some(()) }
        })
        .await;
        assert_eq!(rollout_of(&fleet, "router").await.uid, before.uid);
    })
    .await;
}

/// The Done-when of SLA attainment (docs/sla.md): a continuous workflow whose Deployment is
/// scaled away for part of the month falls below its tier's 99.5 % target, the tenant and the
/// workflow get `SLABreached`, and the previous month, whose history (backdated as the billing
/// tests do) carries half a day without an available replica, closes with its service credit.
#[tokio::test]
#[ignore = "needs a Kubernetes API server (KUBECONFIG)"]
async fn a_deployment_scaled_away_breaches_the_sla_and_the_closed_month_carries_the_credit() {
    // Figures are measured up to the last refresh step (at most an hour): a short one here.
    let rules = tenantry::planner::ClosingRules { refresh: jiff::SignedDuration::from_secs(2), ..Default::default() };
    with_fleet_billing("sla", Tier::Basic, rules, |fleet, _| async move {
        use tenantry::planner::billing::Period;
        let tiers: Api<ServiceTier> = Api::all(fleet.client.clone());
        let sla = json!({"spec": {"sla": {"availabilityTarget": "99.5", "exceptionResponseMinutes": 60,
            "creditBands": [{"belowPercent": "99.5", "creditPercent": 10}, {"belowPercent": "99", "creditPercent": 25}]}}});
        tiers.patch(&fleet.basic, &PatchParams::default(), &Patch::Merge(&sla)).await.expect("the tier's SLA");
        fleet.tenant_ready().await;
        fleet.apply_workflow("router", "orderToCash", "order-routing", json!({"continuous": {"replicas": 1}})).await;
        fleet.workflow_phase("router", WorkflowPhase::Running).await;
        let tenants: Api<Tenant> = Api::all(fleet.client.clone());
        let status_of = |tenants: Api<Tenant>, name: String| async move { tenants.get(&name).await.ok()?.status };
        eventually("the router's Deployment is observed available", || {
            let fut = status_of(tenants.clone(), fleet.tenant.clone());
            async move {
                let status = fut.await?;
                status.workflow_activity.iter().any(|a| a.workflow == "router" && a.available_since.is_some()).then_some(())
            }
        })
        .await;

        // Scaled away, again and again for a few seconds (the operator scales it back each time).
        let deployments = fleet.api::<Deployment>();
        let away = json!({"spec": {"replicas": 0}});
        let until = std::time::Instant::now() + Duration::from_secs(8);
        while std::time::Instant::now() < until {
            let _ = deployments.patch("router", &PatchParams::default(), &Patch::Merge(&away)).await;
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        let status = eventually("the tenant's attainment falls below its target", || {
            let fut = status_of(tenants.clone(), fleet.tenant.clone());
            async move {
                let status = fut.await?;
                let breached = status.conditions.iter().any(|c| c.type_ == "SLABreached" && c.status == tenantry::api::ConditionStatus::True);
                (status.sla.as_ref()?.breached && breached).then_some(status)
            }
        })
        .await;
        let sla = status.sla.clone().expect("status.sla");
        assert_eq!((sla.target_pcm, sla.workflow.as_deref(), sla.measure.as_deref()), (Some(99_500), Some("router"), Some("availability")));
        assert!(sla.attainment_pcm.unwrap_or(100_000) < 99_500, "{sla:?}");
        assert!(status.unavailability.iter().any(|u| u.workflow == "router"), "{:?}", status.unavailability);
        let workflow = fleet.workflow_phase("router", WorkflowPhase::Running).await;
        let workflow_sla = workflow.status.as_ref().and_then(|s| s.sla.clone()).expect("the workflow's figure");
        assert!(workflow_sla.breached, "{workflow_sla:?}");

        // Last month: on basic from its 2nd day, the router available from then, and
        // unavailable for twelve hours on the 10th: 98.1 %, below 99 %: 25 % of the base fee.
        let last = Period::containing(jiff::Timestamp::now()).previous();
        let at = |hours: i64| tenantry::planner::format_time(last.start() + jiff::SignedDuration::from_hours(hours));
        let mut activity = serde_json::to_value(&status.workflow_activity).expect("json");
        activity.as_array_mut().expect("a list").insert(
            0,
            json!({"workflow": "router", "since": at(24), "until": tenantry::planner::format_time(last.end()),
                   "availableSince": at(24), "scheduled": false}),
        );
        let mut unavailability = serde_json::to_value(&status.unavailability).expect("json");
        unavailability.as_array_mut().expect("a list").insert(
            0,
            json!({"workflow": "router", "cause": "Unavailable", "since": at(9 * 24), "until": at(9 * 24 + 12)}),
        );
        let history = json!({
            "apiVersion": "tenantry.dev/v1alpha1", "kind": "Tenant", "metadata": {"name": fleet.tenant},
            "status": {"tierHistory": [{"tier": fleet.basic, "level": 1, "since": at(24)}],
                       "workflowActivity": activity, "unavailability": unavailability}
        });
        tenants.patch_status(&fleet.tenant, &apply_params(), &Patch::Apply(&history)).await.expect("history seeded");
        let closed = record_in_phase(&fleet.client, &format!("{}-{last}", fleet.tenant), BillingPhase::Closed).await;
        let amount = |layer| closed.spec.line_items.iter().find(|l| l.layer == layer).map(|l| l.amount);
        use tenantry::api::billing::BillingLayer;
        let platform = amount(BillingLayer::Platform).expect("a platform line");
        let expected_platform = (1000 * (last.seconds() - 86_400) * 2 + last.seconds()) / (2 * last.seconds());
        assert_eq!(platform, expected_platform, "{closed:?}");
        assert_eq!(amount(BillingLayer::SlaCredit), Some(-((platform * 25 + 50) / 100)), "{closed:?}");
        assert_eq!(closed.spec.total, closed.spec.line_items.iter().map(|l| l.amount).sum::<i64>());
    })
    .await;
}
