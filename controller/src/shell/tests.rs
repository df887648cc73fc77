//! The tenant reconcile against a mocked API server (tower-test): which requests a steady
//! fleet, a missing child, a deleted workflow, a refused child and a broken reference cause.

use super::apply::FIELD_MANAGER;
use super::cache::{Caches, Undecodable};
use super::metrics::Metrics;
use super::reconcile::{converge, Context, FINALIZER};
use crate::api::Tenant;
use crate::planner::{self, fixtures, ChildKind, World};
use http::{Request, Response, StatusCode};
use http_body_util::BodyExt;
use kube::api::DynamicObject;
use kube::client::Body;
use kube::Client;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::sync::Arc;

/// One request the mocked API server received.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    query: String,
    body: Value,
}

impl Seen {
    fn is_write(&self) -> bool {
        self.method != "GET"
    }
}

/// How the mocked API server answers.
#[derive(Default, Clone)]
struct Server {
    /// Applies to paths ending in one of these get 422 (over quota).
    refuse: &'static [&'static str],
    /// Applies to paths ending in one of these get 503 (a webhook that is down).
    unavailable: &'static [&'static str],
    /// Objects that exist, by path: GETs return them, creates of them conflict.
    existing: Vec<(String, Value)>,
}

fn failure(code: u16, reason: &str, message: &str) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": message, "reason": reason, "code": code})
}

/// A client whose requests are recorded and answered like an API server would: applies
/// echo the object, deletes succeed, refusals as `server` says.
fn mock_api(server: Server) -> (Client, tokio::task::JoinHandle<Vec<Seen>>) {
    let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let server = tokio::spawn(async move {
        let mut handle = std::pin::pin!(handle);
        let mut seen = Vec::new();
        while let Some((request, respond)) = handle.next_request().await {
            let method = request.method().to_string();
            let path = request.uri().path().to_string();
            let query = request.uri().query().unwrap_or_default().to_string();
            let bytes = request.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
            let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            let name = body["metadata"]["name"].as_str().unwrap_or_default();
            let created = format!("{path}/{name}");
            let existing = server.existing.iter().find(|(p, _)| *p == path || (method == "POST" && *p == created));
            let (status, answer) = if server.refuse.iter().any(|name| path.ends_with(name)) && method == "PATCH" {
                let message = "exceeded quota: tenantry-quota, requested: limits.cpu=8, limited: limits.cpu=4";
                (StatusCode::UNPROCESSABLE_ENTITY, failure(422, "Invalid", message))
            } else if server.unavailable.iter().any(|name| path.ends_with(name)) && method == "PATCH" {
                let message =
                    "Internal error occurred: failed calling webhook \"policy.example.com\": connection refused";
                (StatusCode::SERVICE_UNAVAILABLE, failure(503, "ServiceUnavailable", message))
            } else if let Some((_, object)) = existing {
                match method.as_str() {
                    "GET" => (StatusCode::OK, object.clone()),
                    "POST" => (StatusCode::CONFLICT, failure(409, "AlreadyExists", "already exists")),
                    _ => (StatusCode::OK, object.clone()),
                }
            } else {
                match method.as_str() {
                    "PATCH" | "POST" => {
                        // The server answers with the whole object; the name is all a reader needs.
                        let mut object = body.clone();
                        if object.get("metadata").is_none() {
                            let name = path.trim_end_matches("/status").rsplit('/').next().unwrap_or_default();
                            object["metadata"] = json!({ "name": name });
                        }
                        (StatusCode::OK, object)
                    }
                    "DELETE" => (
                        StatusCode::OK,
                        json!({"kind": "Status", "apiVersion": "v1", "status": "Success", "code": 200}),
                    ),
                    _ => (
                        StatusCode::NOT_FOUND,
                        json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404}),
                    ),
                }
            };
            seen.push(Seen { method, path, query, body });
            let response = Response::builder()
                .status(status)
                .header("content-type", "application/json")
                .body(Body::from(serde_json::to_vec(&answer).unwrap_or_default()))
                .expect("a valid response");
            respond.send_response(response);
        }
        seen
    });
    (Client::new(service, "default"), server)
}

/// The stored form of what the planner wants, as the API server would hold it after an apply.
fn stored(plan: &planner::Plan) -> Vec<(ChildKind, DynamicObject)> {
    plan.children
        .iter()
        .map(|child| {
            let mut manifest = child.object.to_manifest().expect("json");
            manifest["metadata"]["uid"] =
                json!(format!("uid-{}", child.object.meta().name.clone().unwrap_or_default()));
            manifest["metadata"]["resourceVersion"] = json!("7");
            if child.object.kind() == ChildKind::Deployment {
                // Rolled out: every replica updated and available.
                let replicas = manifest["spec"]["replicas"].clone();
                manifest["metadata"]["generation"] = json!(1);
                manifest["status"] = json!({"observedGeneration": 1, "updatedReplicas": replicas,
                    "availableReplicas": replicas, "conditions": [{"type": "Available", "status": "True"}]});
            }
            (child.object.kind(), serde_json::from_value(manifest).expect("dynamic object"))
        })
        .collect()
}

/// When the settled fleet was reconciled, and when the tests reconcile it again: within the
/// same hour, so its open BillingRecord has nothing new to say.
fn settled_at() -> jiff::Timestamp {
    jiff::Timestamp::from_second(1_793_491_200).expect("2026-11-01T00:00:00Z")
}

/// A fleet already reconciled once: its children exist and its statuses are written.
fn settled_fleet() -> (World, Vec<(ChildKind, DynamicObject)>) {
    let mut world = fixtures::fleet();
    world.tenants[0].metadata.uid = Some("uid-tenant-shop".into());
    world.workflows[0].metadata.uid = Some("uid-workflow-orders".into());
    world.tenants[0].metadata.finalizers = Some(vec![FINALIZER.to_string()]);
    world.tenants[0].metadata.generation = Some(1);
    world.workflows[0].metadata.generation = Some(1);
    let earlier = settled_at();
    let observed = stored(&planner::plan(&world, earlier));
    // The workloads run: the statuses written then say so.
    let caches = Caches::from_snapshot(&world, observed);
    world.workloads = world
        .workflows
        .iter()
        .filter_map(|w| {
            let key = (w.metadata.namespace.clone().unwrap_or_default(), w.metadata.name.clone().unwrap_or_default());
            planner::Catalog::workload(&caches, &key.0, &key.1).map(|state| (key, state))
        })
        .collect();
    let earlier = planner::plan(&world, earlier);
    world.tenants[0].status = earlier.tenants.get("shop").cloned();
    world.billing_records = earlier.billing_records.values().cloned().collect();
    for workflow in &mut world.workflows {
        let key = (
            workflow.metadata.namespace.clone().unwrap_or_default(),
            workflow.metadata.name.clone().unwrap_or_default(),
        );
        workflow.status = earlier.workflows.get(&key).cloned();
    }
    (world, stored(&earlier))
}

async fn reconcile_shop(world: &World, observed: Vec<(ChildKind, DynamicObject)>, server: Server) -> Vec<Seen> {
    reconcile_with(world, Caches::from_snapshot(world, observed), server).await
}

async fn reconcile_with(world: &World, caches: Caches, server: Server) -> Vec<Seen> {
    let (client, server) = mock_api(server);
    let mut registry = prometheus_client::registry::Registry::default();
    let metrics = Arc::new(Metrics::new(&mut registry));
    let ctx = Context::new(client, caches, metrics, BTreeSet::new(), None).with_clock(settled_at);
    let tenant: Tenant = world.tenants[0].clone();
    converge(&tenant, &ctx).await.expect("reconcile succeeds");
    drop(ctx);
    server.await.expect("mock server ends")
}

#[tokio::test]
async fn a_settled_fleet_causes_no_request_at_all() {
    let (world, observed) = settled_fleet();
    let seen = reconcile_shop(&world, observed, Server::default()).await;
    assert!(seen.is_empty(), "an unchanged world writes nothing: {seen:#?}");
}

#[tokio::test]
async fn a_deleted_managed_deployment_is_applied_again() {
    let (world, mut observed) = settled_fleet();
    observed.retain(|(kind, _)| *kind != ChildKind::Deployment);
    let seen = reconcile_shop(&world, observed, Server::default()).await;
    // The workflow no longer runs, and its status says so until the Deployment is back.
    let status = seen.iter().find(|s| s.path.ends_with("workflows/orders/status")).expect("workflow status");
    assert_eq!(condition(&status.body, "Ready").map(|c| c["reason"].clone()), Some(json!("Deploying")));
    let writes: Vec<&Seen> = seen.iter().filter(|s| s.is_write() && !s.path.ends_with("/status")).collect();
    assert_eq!(writes.len(), 1, "{writes:#?}");
    assert_eq!(writes[0].method, "PATCH");
    assert_eq!(writes[0].path, "/apis/apps/v1/namespaces/tenant-shop/deployments/orders");
    assert!(
        writes[0].query.contains(&format!("fieldManager={FIELD_MANAGER}")) && writes[0].query.contains("force=true")
    );
    assert_eq!(writes[0].body["kind"], "Deployment");
    assert_eq!(writes[0].body["metadata"]["labels"]["app.kubernetes.io/managed-by"], "tenantry");
}

#[tokio::test]
async fn an_edited_field_we_own_is_restored() {
    let (world, mut observed) = settled_fleet();
    for (kind, object) in &mut observed {
        if *kind == ChildKind::ResourceQuota {
            object.data["spec"]["hard"]["pods"] = json!("500");
        }
    }
    let seen = reconcile_shop(&world, observed, Server::default()).await;
    assert_eq!(seen.len(), 1, "{seen:#?}");
    assert_eq!(seen[0].path, "/api/v1/namespaces/tenant-shop/resourcequotas/tenantry-quota");
    assert_eq!(seen[0].body["spec"]["hard"]["pods"], "20");
}

#[tokio::test]
async fn a_child_no_longer_desired_is_pruned() {
    let (mut world, observed) = settled_fleet();
    world.workflows[0].spec.trigger = fixtures::schedule("0 2 * * *", None);
    let seen = reconcile_shop(&world, observed, Server::default()).await;
    let deletes: Vec<&Seen> = seen.iter().filter(|s| s.method == "DELETE").collect();
    assert_eq!(deletes.len(), 1, "{deletes:#?}");
    assert_eq!(deletes[0].path, "/apis/apps/v1/namespaces/tenant-shop/deployments/orders");
    assert!(deletes[0].body["preconditions"]["uid"].is_string(), "deletes are pinned to the observed uid");
    assert!(seen.iter().any(|s| s.method == "PATCH" && s.path.ends_with("cronjobs/orders")), "the CronJob replaces it");
    assert!(
        seen.iter().any(|s| s.path.contains("/events") && s.body["reason"] == "Pruned"),
        "a Pruned event is recorded"
    );
}

/// Children of a workflow that is gone carry an ownerReference to an owner that no longer
/// exists: the garbage collector removes them. The operator deletes only objects whose
/// controller is a live owner it knows.
#[tokio::test]
async fn a_deleted_workflows_children_are_left_to_the_garbage_collector() {
    let (mut world, observed) = settled_fleet();
    world.workflows.clear();
    let seen = reconcile_shop(&world, observed, Server::default()).await;
    assert!(seen.iter().all(|s| s.method != "DELETE"), "{seen:#?}");
}

#[tokio::test]
async fn a_labelled_object_we_did_not_create_is_never_pruned() {
    let (world, mut observed) = settled_fleet();
    let (_, template) = observed.iter().find(|(kind, _)| *kind == ChildKind::ConfigMap).cloned().expect("config map");
    let mut copied = template.clone();
    copied.metadata.name = Some("copied-labels".into());
    copied.metadata.uid = Some("uid-copied".into());
    copied.metadata.owner_references = None;
    observed.push((ChildKind::ConfigMap, copied));
    let seen = reconcile_shop(&world, observed, Server::default()).await;
    assert!(seen.is_empty(), "{seen:#?}");
}

/// List responses carry no apiVersion or kind in their items: a restarted operator observes
/// every child that way, and must still find nothing to write.
#[tokio::test]
async fn a_settled_fleet_observed_through_a_list_causes_no_request() {
    let (world, mut observed) = settled_fleet();
    for (_, object) in &mut observed {
        object.types = None;
    }
    let seen = reconcile_shop(&world, observed, Server::default()).await;
    assert!(seen.is_empty(), "a relist writes nothing: {seen:#?}");
}

fn condition(status: &Value, type_: &str) -> Option<Value> {
    status["status"]["conditions"].as_array().and_then(|c| c.iter().find(|c| c["type"] == type_)).cloned()
}

#[tokio::test]
async fn a_namespace_someone_else_created_is_not_taken_over() {
    let (mut world, _) = settled_fleet();
    world.tenants[0].status = None;
    world.workflows[0].status = None;
    let foreign = json!({"apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": "tenant-shop", "uid": "uid-foreign", "labels": {"team": "monitoring"}}});
    let server = Server { existing: vec![("/api/v1/namespaces/tenant-shop".into(), foreign)], ..Server::default() };
    let seen = reconcile_shop(&world, Vec::new(), server).await;
    let writes: Vec<&Seen> =
        seen.iter().filter(|s| s.is_write() && !s.path.ends_with("/status") && !s.path.contains("/events")).collect();
    assert_eq!(writes.len(), 1, "only the create that finds it exists: {writes:#?}");
    assert_eq!((writes[0].method.as_str(), writes[0].path.as_str()), ("POST", "/api/v1/namespaces"));
    let tenant = seen.iter().find(|s| s.path.ends_with("tenants/shop/status")).expect("tenant status");
    let ready = condition(&tenant.body, "Ready").expect("Ready");
    assert_eq!((ready["status"].as_str(), ready["reason"].as_str()), (Some("False"), Some("NamespaceExists")));
    assert!(ready["message"].as_str().unwrap_or_default().contains("'tenant-shop'"), "{ready}");
    assert_eq!(condition(&tenant.body, "Stalled").map(|c| c["status"].clone()), Some(json!("True")));
    let workflow = seen.iter().find(|s| s.path.ends_with("workflows/orders/status")).expect("workflow status");
    assert_eq!(workflow.body["status"]["phase"], "Blocked");
    assert_eq!(workflow.body["status"]["reason"], "NamespaceExists");
}

#[tokio::test]
async fn a_namespace_created_now_is_not_applied_again_in_the_same_reconcile() {
    let (mut world, _) = settled_fleet();
    world.tenants[0].status = None;
    let seen = reconcile_shop(&world, Vec::new(), Server::default()).await;
    let to_the_namespace: Vec<&Seen> = seen
        .iter()
        .filter(|s| s.is_write() && s.path.starts_with("/api/v1/namespaces") && s.path.matches('/').count() <= 4)
        .collect();
    assert_eq!(to_the_namespace.len(), 1, "created once, from the manifest an apply would send: {to_the_namespace:#?}");
    assert_eq!(
        (to_the_namespace[0].method.as_str(), to_the_namespace[0].path.as_str()),
        ("POST", "/api/v1/namespaces")
    );
    assert_eq!(to_the_namespace[0].body["metadata"]["labels"]["app.kubernetes.io/managed-by"], "tenantry");
    assert!(
        seen.iter().any(|s| s.method == "PATCH" && s.path.ends_with("resourcequotas/tenantry-quota")),
        "the rest is applied"
    );
}

#[tokio::test]
async fn a_namespace_we_created_earlier_is_ours() {
    let (mut world, _) = settled_fleet();
    world.tenants[0].status = None;
    let ours = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "tenant-shop", "uid": "uid-ns",
        "ownerReferences": [{"apiVersion": "tenantry.dev/v1alpha1", "kind": "Tenant", "name": "shop",
                             "uid": "uid-tenant-shop", "controller": true}]}});
    let server = Server { existing: vec![("/api/v1/namespaces/tenant-shop".into(), ours)], ..Server::default() };
    let seen = reconcile_shop(&world, Vec::new(), server).await;
    assert!(seen.iter().any(|s| s.method == "PATCH" && s.path.ends_with("resourcequotas/tenantry-quota")));
    let tenant = seen.iter().find(|s| s.path.ends_with("tenants/shop/status")).expect("tenant status");
    assert_eq!(condition(&tenant.body, "Ready").map(|c| c["status"].clone()), Some(json!("True")));
}

#[tokio::test]
async fn the_operators_own_namespace_is_refused() {
    let (mut world, _) = settled_fleet();
    world.tenants[0].spec.namespace = Some("tenantry-system".into());
    let seen = reconcile_shop(&world, Vec::new(), Server::default()).await;
    // Statuses, Events and the tenant's bill (its workflows are no longer in its namespace);
    // nothing in any namespace.
    let outside_the_namespace =
        |s: &Seen| s.path.ends_with("/status") || s.path.contains("/events") || s.path.contains("/billingrecords/");
    assert!(seen.iter().all(outside_the_namespace), "{seen:#?}");
    let tenant = seen.iter().find(|s| s.path.ends_with("tenants/shop/status")).expect("tenant status");
    assert_eq!(condition(&tenant.body, "Ready").map(|c| c["reason"].clone()), Some(json!("ReservedNamespace")));
}

#[tokio::test]
async fn a_transient_refusal_is_retried_not_stalled() {
    let (mut world, observed) = settled_fleet();
    world.workflows[0].spec.runner.args = vec!["--verbose".into()];
    world.workflows[0].metadata.generation = Some(2);
    let server = Server { unavailable: &["deployments/orders"], ..Server::default() };
    let seen = reconcile_shop(&world, observed, server).await;
    let status = seen.iter().find(|s| s.path.ends_with("workflows/orders/status")).expect("workflow status");
    let ready = condition(&status.body, "Ready").expect("Ready");
    assert_eq!((ready["status"].as_str(), ready["reason"].as_str()), (Some("False"), Some("Retrying")));
    let reconciling = condition(&status.body, "Reconciling").expect("Reconciling");
    assert_eq!(reconciling["status"], "True");
    assert!(condition(&status.body, "Stalled").is_none(), "a webhook that is down needs no human");
    assert_eq!(status.body["status"]["phase"], "Running");
}

#[tokio::test]
async fn an_undecodable_workflow_freezes_its_children_and_says_why() {
    let (mut world, observed) = settled_fleet();
    // Stored, but it does not decode: the typed cache does not hold it.
    world.workflows.clear();
    let caches = Caches::from_snapshot(&world, observed);
    let undecodable = Undecodable {
        uid: Some("uid-workflow-orders".into()),
        generation: Some(3),
        error: "spec.trigger: missing field `schedule`".into(),
        conditions: Vec::new(),
    };
    caches
        .undecodable
        .write()
        .expect("lock")
        .insert(("Workflow".into(), "tenant-shop".into(), "orders".into()), undecodable);
    let seen = reconcile_with(&world, caches, Server::default()).await;
    assert!(seen.iter().all(|s| s.method != "DELETE"), "nothing of it is pruned: {seen:#?}");
    assert!(!seen.iter().any(|s| s.path.contains("deployments") || s.path.contains("orders-definition")));
    let status = seen.iter().find(|s| s.path.ends_with("workflows/orders/status")).expect("its status is written");
    assert!(status.query.contains("fieldManager=tenantry"));
    let ready = condition(&status.body, "Ready").expect("Ready");
    assert_eq!((ready["status"].as_str(), ready["reason"].as_str()), (Some("False"), Some("InvalidSpec")));
    assert!(ready["message"].as_str().unwrap_or_default().contains("missing field"), "{ready}");
    assert_eq!(condition(&status.body, "Stalled").map(|c| c["status"].clone()), Some(json!("True")));
    assert!(status.body["status"].get("phase").is_none(), "only the conditions are patched");
}

#[tokio::test]
async fn a_refused_child_is_reported_on_its_owner_and_holds_up_nothing_else() {
    let (mut world, observed) = settled_fleet();
    world.workflows[0].spec.runner.args = vec!["--verbose".into()];
    world.workflows[0].metadata.generation = Some(2);
    let seen = reconcile_shop(&world, observed, Server { refuse: &["deployments/orders"], ..Server::default() }).await;
    assert!(
        seen.iter().any(|s| s.method == "PATCH" && s.path.ends_with("configmaps/orders-definition")),
        "the definition is still applied"
    );
    let status =
        seen.iter().find(|s| s.path.ends_with("workflows/orders/status")).expect("the workflow's status is patched");
    let ready = status.body["status"]["conditions"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["type"] == "Ready"))
        .cloned()
        .expect("Ready");
    assert_eq!(ready["status"], "False");
    assert_eq!(ready["reason"], "ApplyFailed");
    assert!(ready["message"].as_str().unwrap_or_default().contains("exceeded quota"), "{ready}");
    let stalled =
        status.body["status"]["conditions"].as_array().and_then(|c| c.iter().find(|c| c["type"] == "Stalled")).cloned();
    assert_eq!(stalled.map(|c| c["reason"].clone()), Some(json!("ApplyFailed")), "a refusal needs a human: Stalled");
    assert_eq!(status.body["status"]["deployedGeneration"], json!(1), "generation 2 was refused: 1 still runs");
}

#[tokio::test]
async fn a_broken_tier_reference_writes_only_the_status() {
    let (mut world, observed) = settled_fleet();
    world.tenants[0].spec.tier_ref = "platinum".into();
    let seen = reconcile_shop(&world, observed, Server::default()).await;
    assert!(
        seen.iter().all(|s| s.path.ends_with("/status") || s.path.contains("/events")),
        "no child is touched: {seen:#?}"
    );
    let tenant_status =
        seen.iter().find(|s| s.path == "/apis/tenantry.dev/v1alpha1/tenants/shop/status").expect("tenant status");
    let conditions = tenant_status.body["status"]["conditions"].as_array().cloned().unwrap_or_default();
    assert!(conditions.iter().any(|c| c["type"] == "Ready" && c["reason"] == "UnknownTier"));
    assert!(conditions.iter().any(|c| c["type"] == "Stalled" && c["status"] == "True"));
}

#[tokio::test]
async fn a_month_without_a_bill_gets_one_spec_first_then_status() {
    let (mut world, observed) = settled_fleet();
    world.billing_records.clear();
    let seen = reconcile_shop(&world, observed, Server::default()).await;
    let bills: Vec<&Seen> = seen.iter().filter(|s| s.path.contains("/billingrecords/")).collect();
    let paths: Vec<(&str, &str)> = bills.iter().map(|s| (s.method.as_str(), s.path.as_str())).collect();
    assert_eq!(
        paths,
        vec![
            ("PATCH", "/apis/tenantry.dev/v1alpha1/billingrecords/shop-2026-11"),
            ("PATCH", "/apis/tenantry.dev/v1alpha1/billingrecords/shop-2026-11/status"),
        ],
        "the spec is written before the status that could close it"
    );
    assert_eq!(bills[0].body["spec"]["tenantRef"], json!("shop"));
    assert!(bills[0].body["metadata"].get("ownerReferences").is_none(), "bills outlive their tenant");
    assert_eq!(bills[1].body["status"]["phase"], json!("Open"));
}

#[tokio::test]
async fn a_closed_bill_is_never_written_again() {
    let (mut world, observed) = settled_fleet();
    for record in &mut world.billing_records {
        record.spec.total += 1; // whatever it says, it is final
        if let Some(status) = record.status.as_mut() {
            status.phase = Some(crate::api::billing::BillingPhase::Closed);
        }
    }
    assert!(!world.billing_records.is_empty());
    let seen = reconcile_shop(&world, observed, Server::default()).await;
    let bills: Vec<&Seen> = seen.iter().filter(|s| s.path.contains("billingrecords")).collect();
    assert!(bills.is_empty(), "{bills:#?}");
}

/// When November's record closes: the end of its month and its hour of grace.
fn november_closes() -> jiff::Timestamp {
    "2026-12-01T01:00:00Z".parse().expect("an instant")
}

/// Reconciles the fixture tenant at `clock` and returns what converging it returned, the
/// metrics it counted and the requests it sent.
async fn converge_at(
    world: &World,
    observed: Vec<(ChildKind, DynamicObject)>,
    server: Server,
    clock: fn() -> jiff::Timestamp,
) -> (Result<kube::runtime::controller::Action, super::error::Error>, Arc<Metrics>, Vec<Seen>) {
    let (client, server) = mock_api(server);
    let metrics = Arc::new(Metrics::new(&mut prometheus_client::registry::Registry::default()));
    let ctx = Context::new(client, Caches::from_snapshot(world, observed), metrics.clone(), BTreeSet::new(), None)
        .with_clock(clock);
    let result = converge(&world.tenants[0], &ctx).await;
    drop(ctx);
    (result, metrics, server.await.expect("mock server ends"))
}

fn billing_write_errors(metrics: &Metrics, phase: &str, operation: &str, reason: &str) -> u64 {
    let labels =
        super::metrics::BillingWriteLabels { phase: phase.into(), operation: operation.into(), reason: reason.into() };
    metrics.billing_write_errors.get_or_create(&labels).get()
}

#[tokio::test]
async fn a_bill_that_cannot_close_fails_the_reconcile_and_is_counted_as_a_close_failure() {
    let (world, observed) = settled_fleet();
    // The status patch that would close November is refused (422, as the CRD's validation
    // refuses a record that someone else closed with other amounts).
    let server = Server { refuse: &["billingrecords/shop-2026-11/status"], ..Server::default() };
    let (result, metrics, seen) = converge_at(&world, observed, server, november_closes).await;
    let error = result.expect_err("a month that cannot close fails the reconcile, which is retried");
    assert!(error.to_string().starts_with("patching the status of BillingRecord shop-2026-11"), "{error}");
    let closing = seen.iter().find(|s| s.path.ends_with("billingrecords/shop-2026-11/status")).expect("tried");
    assert_eq!(closing.body["status"]["phase"], json!("Closed"), "the refused write was the one closing it");
    assert_eq!(billing_write_errors(&metrics, "Closed", "status_patch", "invalid"), 1);
    assert_eq!(billing_write_errors(&metrics, "Open", "status_patch", "invalid"), 0);
    assert_eq!(billing_write_errors(&metrics, "Closed", "apply", "invalid"), 0, "its spec was written");
    assert_eq!(
        seen.iter().filter(|s| s.path.contains("billingrecords/shop-2026-12")).count(),
        0,
        "the writes stop at the first failure: December is written on the retry"
    );
}

#[tokio::test]
async fn a_bill_that_cannot_be_written_while_open_is_counted_as_such() {
    let (mut world, observed) = settled_fleet();
    world.billing_records.clear();
    let server = Server { unavailable: &["billingrecords/shop-2026-11"], ..Server::default() };
    let (result, metrics, _) = converge_at(&world, observed, server, settled_at).await;
    let error = result.expect_err("the reconcile fails");
    assert!(error.is_transient(), "a webhook that is down passes on its own: {error}");
    assert_eq!(billing_write_errors(&metrics, "Open", "apply", "transient"), 1);
    assert_eq!(billing_write_errors(&metrics, "Closed", "apply", "transient"), 0);
}

#[tokio::test]
async fn a_bill_written_without_failure_counts_no_error() {
    let (world, observed) = settled_fleet();
    let (result, metrics, seen) = converge_at(&world, observed, Server::default(), november_closes).await;
    result.expect("the reconcile succeeds");
    let closed = seen.iter().find(|s| s.path.ends_with("billingrecords/shop-2026-11/status")).expect("closed");
    assert_eq!(closed.body["status"]["phase"], json!("Closed"));
    let mut text = String::new();
    let mut registry = prometheus_client::registry::Registry::default();
    registry.register("probe", "", metrics.billing_write_errors.clone());
    prometheus_client::encoding::text::encode(&mut text, &registry).expect("encodes");
    assert!(!text.lines().any(|l| l.starts_with("probe_total{")), "no failure counted: {text}");
}
