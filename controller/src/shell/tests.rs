//! The tenant reconcile against a mocked API server (tower-test): which requests a steady
//! fleet, a missing child, a deleted workflow, a refused child and a broken reference cause.

use super::apply::FIELD_MANAGER;
use super::cache::Caches;
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

/// A client whose requests are recorded and answered like an API server would: applies
/// echo the object, deletes succeed, anything whose path ends in one of `refuse` gets 422.
fn mock_api(refuse: &'static [&'static str]) -> (Client, tokio::task::JoinHandle<Vec<Seen>>) {
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
            let (status, answer) = if refuse.iter().any(|name| path.ends_with(name)) && method == "PATCH" {
                let message = "exceeded quota: tenantry-quota, requested: limits.cpu=8, limited: limits.cpu=4";
                (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": message, "reason": "Invalid", "code": 422}),
                )
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
            (child.object.kind(), serde_json::from_value(manifest).expect("dynamic object"))
        })
        .collect()
}

/// A fleet already reconciled once: its children exist and its statuses are written.
fn settled_fleet() -> (World, Vec<(ChildKind, DynamicObject)>) {
    let mut world = fixtures::fleet();
    world.tenants[0].metadata.finalizers = Some(vec![FINALIZER.to_string()]);
    world.tenants[0].metadata.generation = Some(1);
    world.workflows[0].metadata.generation = Some(1);
    let earlier = planner::plan(&world, "2026-11-01T00:00:00Z".parse().expect("instant"));
    world.tenants[0].status = earlier.tenants.get("shop").cloned();
    for workflow in &mut world.workflows {
        let key = (
            workflow.metadata.namespace.clone().unwrap_or_default(),
            workflow.metadata.name.clone().unwrap_or_default(),
        );
        workflow.status = earlier.workflows.get(&key).cloned();
    }
    (world, stored(&earlier))
}

async fn reconcile_shop(
    world: &World,
    observed: Vec<(ChildKind, DynamicObject)>,
    refuse: &'static [&'static str],
) -> Vec<Seen> {
    let (client, server) = mock_api(refuse);
    let caches = Caches::from_snapshot(world, observed);
    let mut registry = prometheus_client::registry::Registry::default();
    let metrics = Arc::new(Metrics::new(&mut registry));
    let ctx = Context::new(client, caches, metrics, BTreeSet::new(), None);
    let tenant: Tenant = world.tenants[0].clone();
    converge(&tenant, &ctx).await.expect("reconcile succeeds");
    drop(ctx);
    server.await.expect("mock server ends")
}

#[tokio::test]
async fn a_settled_fleet_causes_no_request_at_all() {
    let (world, observed) = settled_fleet();
    let seen = reconcile_shop(&world, observed, &[]).await;
    assert!(seen.is_empty(), "an unchanged world writes nothing: {seen:#?}");
}

#[tokio::test]
async fn a_deleted_managed_deployment_is_applied_again() {
    let (world, mut observed) = settled_fleet();
    observed.retain(|(kind, _)| *kind != ChildKind::Deployment);
    let seen = reconcile_shop(&world, observed, &[]).await;
    let writes: Vec<&Seen> = seen.iter().filter(|s| s.is_write()).collect();
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
    let seen = reconcile_shop(&world, observed, &[]).await;
    assert_eq!(seen.len(), 1, "{seen:#?}");
    assert_eq!(seen[0].path, "/api/v1/namespaces/tenant-shop/resourcequotas/tenantry-quota");
    assert_eq!(seen[0].body["spec"]["hard"]["pods"], "20");
}

#[tokio::test]
async fn a_deleted_workflow_has_its_children_pruned() {
    let (mut world, observed) = settled_fleet();
    world.workflows.clear();
    let seen = reconcile_shop(&world, observed, &[]).await;
    let deletes: BTreeSet<String> = seen.iter().filter(|s| s.method == "DELETE").map(|s| s.path.clone()).collect();
    assert_eq!(
        deletes,
        BTreeSet::from([
            "/api/v1/namespaces/tenant-shop/configmaps/orders-definition".to_string(),
            "/apis/apps/v1/namespaces/tenant-shop/deployments/orders".to_string(),
        ])
    );
    let delete = seen.iter().find(|s| s.method == "DELETE").expect("a delete");
    assert!(delete.body["preconditions"]["uid"].is_string(), "deletes are pinned to the observed uid");
    assert!(
        seen.iter().any(|s| s.path.contains("/events") && s.body["reason"] == "Pruned"),
        "a Pruned event is recorded"
    );
}

#[tokio::test]
async fn a_refused_child_is_reported_on_its_owner_and_holds_up_nothing_else() {
    let (mut world, observed) = settled_fleet();
    world.workflows[0].spec.runner.args = vec!["--verbose".into()];
    world.workflows[0].metadata.generation = Some(2);
    let seen = reconcile_shop(&world, observed, &["deployments/orders"]).await;
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
    let seen = reconcile_shop(&world, observed, &[]).await;
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
