//! Decides, for one tenant, which children to apply and which to prune, then does it with
//! server-side apply under one field manager. The decision is pure and tested without a
//! cluster; the execution is tested against a mocked API server.

use super::index::{owner_of, ChildRef};
use super::stored::StoredChild;
use crate::planner::quantity;
use crate::planner::{Child, ChildKind, OwnerKey, WorkloadState};
use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::CronJob;
use k8s_openapi::api::core::v1::{ConfigMap, LimitRange, Namespace, ResourceQuota, ServiceAccount};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::rbac::v1::RoleBinding;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::api::{DeleteParams, DynamicObject, Patch, PatchParams, Preconditions};
use kube::core::ApiResource;
use kube::{Api, Client};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// The field manager of every write tenantry makes.
pub const FIELD_MANAGER: &str = "tenantry";

/// The API resource of a child kind, for dynamic requests.
pub fn api_resource(kind: ChildKind) -> ApiResource {
    match kind {
        ChildKind::Namespace => ApiResource::erase::<Namespace>(&()),
        ChildKind::ServiceAccount => ApiResource::erase::<ServiceAccount>(&()),
        ChildKind::RoleBinding => ApiResource::erase::<RoleBinding>(&()),
        ChildKind::ResourceQuota => ApiResource::erase::<ResourceQuota>(&()),
        ChildKind::LimitRange => ApiResource::erase::<LimitRange>(&()),
        ChildKind::NetworkPolicy => ApiResource::erase::<NetworkPolicy>(&()),
        ChildKind::ConfigMap => ApiResource::erase::<ConfigMap>(&()),
        ChildKind::Deployment => ApiResource::erase::<Deployment>(&()),
        ChildKind::CronJob => ApiResource::erase::<CronJob>(&()),
    }
}

/// Whether a kind is namespaced.
pub fn namespaced(kind: ChildKind) -> bool {
    kind != ChildKind::Namespace
}

/// An object of a managed kind as observed in the cluster.
#[derive(Debug, Clone)]
pub struct Observed {
    /// Its reference.
    pub reference: ChildRef,
    /// Its UID, so a prune never deletes a newer object of the same name.
    pub uid: Option<String>,
    /// The tenantry object its labels say it belongs to.
    pub owner: Option<OwnerKey>,
    /// The UID of its controller ownerReference: the only proof that tenantry created it for
    /// one of its owners. Labels can be copied; a UID cannot.
    pub controller_uid: Option<String>,
    /// The object as JSON, with the `apiVersion` and `kind` of the kind it was watched as.
    pub manifest: Value,
}

impl Observed {
    /// Reads an observed object of `kind` as the caches store it.
    pub fn from_stored(kind: ChildKind, object: &StoredChild) -> Self {
        let metadata = object.metadata();
        let mut manifest = object.data();
        if let Some(fields) = manifest.as_object_mut() {
            fields.insert("metadata".into(), serde_json::to_value(&metadata).unwrap_or(Value::Null));
        }
        Self::from_manifest(kind, &metadata, manifest)
    }

    /// Reads an observed object of `kind`.
    pub fn from_dynamic(kind: ChildKind, object: &DynamicObject) -> Self {
        let manifest = serde_json::to_value(object).unwrap_or(Value::Null);
        Self::from_manifest(kind, &object.metadata, manifest)
    }

    fn from_manifest(kind: ChildKind, metadata: &ObjectMeta, mut manifest: Value) -> Self {
        // The items of a list response carry no apiVersion or kind (only watch events do), so
        // after a (re)list every object would look drifted against a desired manifest that
        // has them: the type is the kind the object was watched as.
        if let Some(fields) = manifest.as_object_mut() {
            let resource = api_resource(kind);
            fields.insert("apiVersion".into(), Value::String(resource.api_version));
            fields.insert("kind".into(), Value::String(resource.kind));
        }
        Observed {
            reference: ChildRef {
                kind,
                namespace: metadata.namespace.clone().unwrap_or_default(),
                name: metadata.name.clone().unwrap_or_default(),
            },
            uid: metadata.uid.clone(),
            owner: owner_of(metadata).map(|(_, owner)| owner),
            controller_uid: controller_uid(metadata.owner_references.as_deref().unwrap_or_default()),
            manifest,
        }
    }
}

/// The UID of the controller among `references`.
pub fn controller_uid(references: &[OwnerReference]) -> Option<String> {
    references.iter().find(|r| r.controller == Some(true)).map(|r| r.uid.clone())
}

/// What the cluster shows of a workflow's workload, from its observed Deployment or CronJob:
/// an input of the planner, which makes the workflow Ready only once it runs.
pub fn workload_state(deployment: Option<&DynamicObject>, cron_job: Option<&DynamicObject>) -> Option<WorkloadState> {
    let number = |object: &DynamicObject, pointer: &str| object.data.pointer(pointer).and_then(Value::as_i64);
    if let Some(deployment) = deployment {
        let desired = number(deployment, "/spec/replicas").unwrap_or(1);
        let updated = number(deployment, "/status/updatedReplicas").unwrap_or(0);
        let available = number(deployment, "/status/availableReplicas").unwrap_or(0);
        let observed = number(deployment, "/status/observedGeneration").unwrap_or(0);
        let current = observed >= deployment.metadata.generation.unwrap_or(0);
        let condition = deployment
            .data
            .pointer("/status/conditions")
            .and_then(Value::as_array)
            .is_some_and(|c| c.iter().any(|c| c["type"] == "Available" && c["status"] == "True"));
        return Some(WorkloadState {
            running: current && condition && updated >= desired && available >= desired,
            message: format!("Deployment: {available}/{desired} replicas available, {updated} updated"),
            available: Some(condition && available >= 1),
            finished_runs: None,
            last_run_time: None,
        });
    }
    let cron_job = cron_job?;
    let suspended = cron_job.data.pointer("/spec/suspend").and_then(Value::as_bool).unwrap_or(false);
    let schedule = cron_job.data.pointer("/spec/schedule").and_then(Value::as_str).unwrap_or_default();
    Some(WorkloadState {
        running: !suspended,
        message: if suspended { "CronJob suspended".into() } else { format!("CronJob scheduled ({schedule})") },
        available: None,
        finished_runs: None,
        last_run_time: cron_job.data.pointer("/status/lastScheduleTime").and_then(Value::as_str).map(str::to_string),
    })
}

/// Whether a refusal needs a human (the object is invalid, forbidden or over quota) rather
/// than another try (timeouts, conflicts, throttling, a server or webhook that is down, a
/// namespace still being created or terminated).
/// The refusal side of [`super::error::is_transient`], which holds the rules.
pub fn refusal_is_permanent(error: &kube::Error) -> bool {
    !super::error::is_transient(error)
}

/// What to do with one object.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Apply the desired object: it is missing or differs from what is observed.
    Apply(Box<Child>),
    /// Scale an existing workload to zero without changing its definition: a Deployment to
    /// no replicas, a CronJob suspended.
    ScaleDown {
        /// The object.
        reference: ChildRef,
        /// Its UID: the patch carries it, so it never lands on a newer object of the name.
        uid: Option<String>,
        /// The workflow it belongs to, to report a refusal on.
        owner: OwnerKey,
    },
    /// Delete an object that carries our labels and is no longer desired.
    Prune {
        /// The object.
        reference: ChildRef,
        /// Its UID, as a delete precondition.
        uid: Option<String>,
    },
}

/// Decides the writes that bring `observed` to `desired`: nothing for objects that already
/// match, an apply for those that are missing or drifted, a prune for those no longer
/// wanted whose controller ownerReference carries the UID of one of `owners` (the live
/// tenant and workflows this reconcile acts for). A labelled object without such a
/// reference was not created by us and is never touched; children of an owner that is
/// gone are left to the garbage collector. Children of frozen owners are never pruned, and
/// namespaces never are: a namespace goes only when its tenant is deleted. Children of
/// stopped owners are kept too, and their workloads scaled to zero where they still run.
pub fn decide(
    desired: &[Child],
    observed: &[Observed],
    frozen: &BTreeSet<OwnerKey>,
    stopped: &BTreeSet<OwnerKey>,
    owners: &BTreeSet<String>,
) -> Vec<Step> {
    let by_reference: BTreeMap<ChildRef, &Observed> = observed.iter().map(|o| (o.reference.clone(), o)).collect();
    let mut wanted = BTreeSet::new();
    let mut steps = Vec::new();
    for child in desired {
        let meta = child.object.meta();
        let reference = ChildRef {
            kind: child.object.kind(),
            namespace: meta.namespace.clone().unwrap_or_default(),
            name: meta.name.clone().unwrap_or_default(),
        };
        let manifest = child.object.to_manifest().unwrap_or(Value::Null);
        let up_to_date = by_reference.get(&reference).map(|o| contains(&o.manifest, &manifest)).unwrap_or(false);
        if !up_to_date {
            steps.push(Step::Apply(Box::new(child.clone())));
        }
        wanted.insert(reference);
    }
    for object in observed {
        let Some(owner) = &object.owner else { continue };
        let ours = object.controller_uid.as_ref().is_some_and(|uid| owners.contains(uid));
        if ours && stopped.contains(owner) && still_runs(object) {
            steps.push(Step::ScaleDown {
                reference: object.reference.clone(),
                uid: object.uid.clone(),
                owner: owner.clone(),
            });
        }
        if !ours
            || wanted.contains(&object.reference)
            || frozen.contains(owner)
            || stopped.contains(owner)
            || object.reference.kind == ChildKind::Namespace
        {
            continue;
        }
        steps.push(Step::Prune { reference: object.reference.clone(), uid: object.uid.clone() });
    }
    steps
}

/// Whether an observed workload may start pods: a Deployment with replicas (absent means
/// one), a CronJob not suspended.
fn still_runs(object: &Observed) -> bool {
    match object.reference.kind {
        ChildKind::Deployment => object.manifest.pointer("/spec/replicas").and_then(Value::as_i64) != Some(0),
        ChildKind::CronJob => object.manifest.pointer("/spec/suspend").and_then(Value::as_bool) != Some(true),
        _ => false,
    }
}

/// The merge patch that scales a workload of `kind` to zero, guarded by its UID.
pub fn scale_down_patch(kind: ChildKind, uid: Option<&str>) -> Value {
    let spec = match kind {
        ChildKind::CronJob => serde_json::json!({ "suspend": true }),
        _ => serde_json::json!({ "replicas": 0 }),
    };
    match uid {
        Some(uid) => serde_json::json!({ "metadata": { "uid": uid }, "spec": spec }),
        None => serde_json::json!({ "spec": spec }),
    }
}

/// Whether `observed` already holds every field of `desired` with the same value. Fields the
/// API server adds (defaults, status, metadata) are ignored; quantities compare by value, as
/// the server may rewrite `1000m` as `1`.
pub fn contains(observed: &Value, desired: &Value) -> bool {
    match (observed, desired) {
        (Value::Object(have), Value::Object(want)) => want.iter().all(|(key, value)| match have.get(key) {
            Some(present) => contains(present, value),
            None => value_is_empty(value),
        }),
        (Value::Array(have), Value::Array(want)) => {
            have.len() == want.len() && have.iter().zip(want).all(|(h, w)| contains(h, w))
        }
        (Value::String(have), Value::String(want)) => have == want || same_quantity(have, want),
        (Value::Number(have), Value::String(want)) | (Value::String(want), Value::Number(have)) => {
            same_quantity(&have.to_string(), want)
        }
        (have, want) => have == want,
    }
}

/// The API server drops empty objects and lists it was sent, so their absence is a match.
pub fn value_is_empty(value: &Value) -> bool {
    match value {
        Value::Object(map) => map.is_empty(),
        Value::Array(items) => items.is_empty(),
        Value::Null => true,
        _ => false,
    }
}

/// Whether two quantities (`1000m`, `1`) are the same value.
pub fn same_quantity(a: &str, b: &str) -> bool {
    match (quantity::parse(a), quantity::parse(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// The result of one step.
#[derive(Debug)]
pub struct StepResult {
    /// The step (an apply carries the owner to report a refusal on).
    pub step: Step,
    /// The API server's refusal, if any.
    pub error: Option<kube::Error>,
}

fn api(client: &Client, kind: ChildKind, namespace: &str) -> Api<DynamicObject> {
    let resource = api_resource(kind);
    if namespaced(kind) {
        Api::namespaced_with(client.clone(), namespace, &resource)
    } else {
        Api::all_with(client.clone(), &resource)
    }
}

/// Writes one tenant's reconcile sends at once, within a wave.
pub const WRITES_AT_ONCE: usize = 8;

/// The wave a step is written in: the namespace, then what pods need (identity, quota,
/// limits, isolation, definitions), then the workloads, then scale-downs and prunes. A wave
/// starts when the one before it has been answered.
fn wave(step: &Step) -> u8 {
    match step {
        Step::Apply(child) => match child.object.kind() {
            ChildKind::Namespace => 0,
            ChildKind::Deployment | ChildKind::CronJob => 2,
            _ => 1,
        },
        Step::ScaleDown { .. } | Step::Prune { .. } => 3,
    }
}

/// Carries out the steps, in waves ([`wave`]) of up to [`WRITES_AT_ONCE`] requests at once,
/// and returns their results in the order of the steps. A refused step is reported and the
/// others still run, so one bad object holds up nothing else.
pub async fn execute(client: &Client, steps: Vec<Step>) -> Vec<StepResult> {
    let mut results = Vec::with_capacity(steps.len());
    let mut steps = steps.into_iter().peekable();
    while let Some(first) = steps.next() {
        let current = wave(&first);
        let mut batch = vec![first];
        while let Some(step) = steps.next_if(|step| wave(step) == current) {
            batch.push(step);
        }
        let done: Vec<StepResult> =
            futures::stream::iter(batch).map(|step| execute_one(client, step)).buffered(WRITES_AT_ONCE).collect().await;
        results.extend(done);
    }
    results
}

/// Carries out one step.
async fn execute_one(client: &Client, step: Step) -> StepResult {
    let outcome = match &step {
        Step::Apply(child) => {
            let meta = child.object.meta();
            let name = meta.name.clone().unwrap_or_default();
            let namespace = meta.namespace.clone().unwrap_or_default();
            let manifest = child.object.to_manifest().unwrap_or(Value::Null);
            api(client, child.object.kind(), &namespace)
                .patch(&name, &PatchParams::apply(FIELD_MANAGER).force(), &Patch::Apply(manifest))
                .await
                .map(|_| ())
        }
        Step::ScaleDown { reference, uid, .. } => {
            let patch = scale_down_patch(reference.kind, uid.as_deref());
            let params = PatchParams { field_manager: Some(FIELD_MANAGER.to_string()), ..PatchParams::default() };
            api(client, reference.kind, &reference.namespace)
                .patch(&reference.name, &params, &Patch::Merge(patch))
                .await
                .map(|_| ())
        }
        Step::Prune { reference, uid } => {
            let params = DeleteParams {
                preconditions: uid.clone().map(|uid| Preconditions { uid: Some(uid), resource_version: None }),
                ..DeleteParams::background()
            };
            match api(client, reference.kind, &reference.namespace).delete(&reference.name, &params).await {
                Ok(_) => Ok(()),
                // Already gone: the goal is reached.
                Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
                Err(e) => Err(e),
            }
        }
    };
    StepResult { step, error: outcome.err() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::planner::{fixtures, plan};
    use serde_json::json;

    /// The fixture fleet as read from an API server: every object has a UID.
    fn fleet() -> crate::planner::World {
        let mut world = fixtures::fleet();
        for tenant in &mut world.tenants {
            tenant.metadata.uid = Some(format!("uid-tenant-{}", tenant.metadata.name.clone().unwrap_or_default()));
        }
        for workflow in &mut world.workflows {
            workflow.metadata.uid =
                Some(format!("uid-workflow-{}", workflow.metadata.name.clone().unwrap_or_default()));
        }
        world
    }

    fn planned() -> crate::planner::Plan {
        plan(&fleet(), jiff::Timestamp::UNIX_EPOCH)
    }

    /// The UIDs of the fleet's live owners.
    fn owners() -> BTreeSet<String> {
        let world = fleet();
        world
            .tenants
            .iter()
            .filter_map(|t| t.metadata.uid.clone())
            .chain(world.workflows.iter().filter_map(|w| w.metadata.uid.clone()))
            .collect()
    }

    /// What the API server would hold after applying `child`: the same object plus fields it adds.
    fn as_stored(child: &Child) -> Observed {
        let mut manifest = child.object.to_manifest().expect("json");
        manifest["metadata"]["uid"] = json!(format!("uid-{}", child.object.meta().name.clone().unwrap_or_default()));
        manifest["metadata"]["resourceVersion"] = json!("42");
        manifest["metadata"]["managedFields"] = json!([{"manager": "tenantry"}]);
        if let Some(spec) = manifest.get_mut("spec").and_then(Value::as_object_mut) {
            spec.insert("defaultedByServer".into(), json!(true));
        }
        manifest["status"] = json!({"observedGeneration": 1});
        let object: DynamicObject = serde_json::from_value(manifest).expect("dynamic");
        Observed::from_dynamic(child.object.kind(), &object)
    }

    #[test]
    fn an_up_to_date_cluster_needs_no_write() {
        let plan = planned();
        let observed: Vec<Observed> = plan.children.iter().map(as_stored).collect();
        assert_eq!(decide(&plan.children, &observed, &plan.frozen, &BTreeSet::new(), &owners()), vec![]);
    }

    #[test]
    fn missing_objects_are_applied() {
        let plan = planned();
        let observed: Vec<Observed> = plan.children.iter().skip(1).map(as_stored).collect();
        let steps = decide(&plan.children, &observed, &plan.frozen, &BTreeSet::new(), &owners());
        assert_eq!(steps, vec![Step::Apply(Box::new(plan.children[0].clone()))]);
    }

    #[test]
    fn an_edited_field_we_own_is_restored() {
        let plan = planned();
        let mut observed: Vec<Observed> = plan.children.iter().map(as_stored).collect();
        let deployment = observed.iter_mut().find(|o| o.reference.kind == ChildKind::Deployment).expect("deployment");
        deployment.manifest["spec"]["replicas"] = json!(7);
        let steps = decide(&plan.children, &observed, &plan.frozen, &BTreeSet::new(), &owners());
        assert_eq!(steps.len(), 1);
        assert!(matches!(&steps[0], Step::Apply(child) if child.object.kind() == ChildKind::Deployment));
    }

    #[test]
    fn a_field_someone_else_added_is_left_alone() {
        let plan = planned();
        let mut observed: Vec<Observed> = plan.children.iter().map(as_stored).collect();
        observed[0].manifest["metadata"]["labels"]["team"] = json!("payments");
        assert_eq!(decide(&plan.children, &observed, &plan.frozen, &BTreeSet::new(), &owners()), vec![]);
    }

    #[test]
    fn quantities_compare_by_value() {
        assert!(contains(&json!({"cpu": "1"}), &json!({"cpu": "1000m"})));
        assert!(contains(&json!({"pods": 20}), &json!({"pods": "20"})));
        assert!(!contains(&json!({"cpu": "2"}), &json!({"cpu": "1000m"})));
        assert!(contains(&json!({"emptyDir": {}}), &json!({"emptyDir": {}})));
        assert!(contains(&json!({}), &json!({"emptyDir": {}})));
        assert!(!contains(&json!({"args": ["a"]}), &json!({"args": ["a", "b"]})));
    }

    #[test]
    fn objects_no_longer_desired_are_pruned_unless_their_owner_is_frozen() {
        let plan = planned();
        let mut observed: Vec<Observed> = plan.children.iter().map(as_stored).collect();
        let mut leftover = observed
            .iter()
            .find(|o| o.reference.kind == ChildKind::CronJob || o.reference.kind == ChildKind::Deployment)
            .expect("workload")
            .clone();
        leftover.reference.name = "deleted-workflow".into();
        leftover.owner = Some(OwnerKey::Workflow { namespace: "tenant-shop".into(), name: "deleted-workflow".into() });
        observed.push(leftover.clone());
        let steps = decide(&plan.children, &observed, &plan.frozen, &BTreeSet::new(), &owners());
        assert_eq!(steps, vec![Step::Prune { reference: leftover.reference.clone(), uid: leftover.uid.clone() }]);

        let frozen = BTreeSet::from([leftover.owner.clone().expect("owner")]);
        assert_eq!(
            decide(&plan.children, &observed, &frozen, &BTreeSet::new(), &owners()),
            vec![],
            "a frozen owner's children stay"
        );
    }

    #[test]
    fn namespaces_and_unlabelled_objects_are_never_pruned() {
        let plan = planned();
        let mut observed: Vec<Observed> = plan.children.iter().map(as_stored).collect();
        let mut old_namespace = observed.iter().find(|o| o.reference.kind == ChildKind::Namespace).expect("ns").clone();
        old_namespace.reference.name = "old-namespace".into();
        observed.push(old_namespace);
        let mut unlabelled = observed[1].clone();
        unlabelled.reference.name = "not-ours".into();
        unlabelled.owner = None;
        observed.push(unlabelled);
        assert_eq!(decide(&plan.children, &observed, &plan.frozen, &BTreeSet::new(), &owners()), vec![]);
    }

    /// A relisted object: list responses carry no apiVersion or kind in their items.
    #[test]
    fn an_object_observed_through_a_list_without_type_meta_needs_no_write() {
        let plan = planned();
        let observed: Vec<Observed> = plan
            .children
            .iter()
            .map(|child| {
                let mut manifest = child.object.to_manifest().expect("json");
                let fields = manifest.as_object_mut().expect("an object");
                fields.remove("apiVersion");
                fields.remove("kind");
                let object: DynamicObject = serde_json::from_value(manifest).expect("dynamic");
                assert!(object.types.is_none());
                Observed::from_dynamic(child.object.kind(), &object)
            })
            .collect();
        assert_eq!(decide(&plan.children, &observed, &plan.frozen, &BTreeSet::new(), &owners()), vec![]);
    }

    #[test]
    fn a_labelled_object_we_did_not_create_is_never_pruned() {
        let plan = planned();
        let mut observed: Vec<Observed> = plan.children.iter().map(as_stored).collect();
        let template = observed.iter().find(|o| o.reference.kind == ChildKind::ConfigMap).expect("config map").clone();
        let mut copied_labels = template.clone();
        copied_labels.reference.name = "someone-elses".into();
        copied_labels.controller_uid = None;
        let mut other_owner = template.clone();
        other_owner.reference.name = "another-owners".into();
        other_owner.controller_uid = Some("uid-of-something-else".into());
        let mut ours = template;
        ours.reference.name = "left-over".into();
        observed.extend([copied_labels, other_owner, ours.clone()]);
        let steps = decide(&plan.children, &observed, &plan.frozen, &BTreeSet::new(), &owners());
        assert_eq!(steps, vec![Step::Prune { reference: ours.reference, uid: ours.uid }], "only our own leftover goes");
    }

    #[test]
    fn only_refusals_a_human_must_fix_are_permanent() {
        let refusal = |code: u16, message: &str| {
            kube::Error::Api(Box::new(kube::core::Status { message: message.into(), code, ..Default::default() }))
        };
        assert!(refusal_is_permanent(&refusal(422, "spec.replicas: Invalid value")));
        assert!(refusal_is_permanent(&refusal(400, "bad request")));
        assert!(refusal_is_permanent(&refusal(403, "exceeded quota: tenantry-quota")));
        assert!(!refusal_is_permanent(&refusal(
            403,
            "unable to create new content in namespace x because it is being terminated"
        )));
        for transient in [409, 429, 500, 503, 504, 404] {
            assert!(!refusal_is_permanent(&refusal(transient, "try again")), "{transient} is transient");
        }
        let webhook = refusal(500, "Internal error occurred: failed calling webhook \"x\": connection refused");
        assert!(!refusal_is_permanent(&webhook));
    }
}

#[cfg(test)]
mod wave_tests {
    use super::*;
    use crate::planner::{fixtures, plan};
    use http::{Request, Response};
    use http_body_util::BodyExt;
    use kube::client::Body;
    use std::time::Duration;

    /// Answers requests in batches: every request that arrives while earlier ones wait is
    /// held until none has come for 50 ms, then all are answered. Returns the paths of each
    /// batch: what the client had in flight at once.
    fn batching_api() -> (Client, tokio::task::JoinHandle<Vec<Vec<String>>>) {
        let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
        let server = tokio::spawn(async move {
            let mut handle = std::pin::pin!(handle);
            let mut batches = Vec::new();
            let mut waiting = Vec::new();
            loop {
                let next = tokio::time::timeout(Duration::from_millis(50), handle.next_request()).await;
                match next {
                    Ok(Some((request, respond))) => {
                        let path = request.uri().path().to_string();
                        let body = request.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
                        waiting.push((path, body, respond));
                    }
                    Ok(None) => break,
                    Err(_) if waiting.is_empty() => continue,
                    Err(_) => {
                        let mut batch = Vec::new();
                        for (path, body, respond) in waiting.drain(..) {
                            let response = Response::builder().status(200).body(Body::from(body.to_vec()));
                            respond.send_response(response.expect("a valid response"));
                            batch.push(path);
                        }
                        batches.push(batch);
                    }
                }
            }
            batches
        });
        (Client::new(service, "default"), server)
    }

    /// Where a path's kind goes: 0 the namespace, 1 what pods need, 2 the workloads.
    fn wave_of(path: &str) -> u8 {
        if path.contains("/deployments/") || path.contains("/cronjobs/") {
            2
        } else if path.starts_with("/api/v1/namespaces/") && path.matches('/').count() == 4 {
            0
        } else {
            1
        }
    }

    #[tokio::test]
    async fn a_new_tenants_children_are_written_in_waves_several_at_once() {
        let planned = plan(&fixtures::fleet(), jiff::Timestamp::UNIX_EPOCH);
        let steps = decide(&planned.children, &[], &BTreeSet::new(), &BTreeSet::new(), &BTreeSet::new());
        assert_eq!(steps.len(), planned.children.len(), "nothing observed: every child is applied");
        let (client, server) = batching_api();
        let results = execute(&client, steps.clone()).await;
        drop(client);
        let batches = server.await.expect("the mock server ends");
        assert!(results.iter().all(|r| r.error.is_none()), "{results:?}");
        let answered: Vec<&Step> = results.iter().map(|r| &r.step).collect();
        assert_eq!(answered, steps.iter().collect::<Vec<_>>(), "results come back in the order of the steps");
        let waves: Vec<Vec<u8>> = batches.iter().map(|b| b.iter().map(|p| wave_of(p)).collect()).collect();
        assert!(waves.iter().all(|w| w.windows(2).all(|p| p[0] == p[1])), "a batch never mixes waves: {batches:#?}");
        let order: Vec<u8> = waves.iter().map(|w| w[0]).collect();
        assert!(order.windows(2).all(|p| p[0] < p[1]), "each wave once, in order: {batches:#?}");
        let widest = batches.iter().map(Vec::len).max().unwrap_or_default();
        assert!(widest > 1, "what pods need is written several at once: {batches:#?}");
    }
}
