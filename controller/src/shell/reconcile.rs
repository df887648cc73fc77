//! The tenant controller: for one tenant, plan its slice of the world with the same planner
//! `tenantry plan` uses, apply and prune its children, patch the statuses that changed and
//! record Events. Deleting a tenant removes its workloads, then its namespace.

use super::apply::{self, ServerFeatures, Step, FIELD_MANAGER};
use super::cache::Caches;
use super::error::Error;
use super::metrics::Metrics;
use crate::api::{Condition, ConditionStatus, Tenant, TenantStatus, Workflow, WorkflowPhase, WorkflowStatus};
use crate::planner::conditions::Conditions;
use crate::planner::{self, ChildKind, OwnerKey};
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, DeleteParams, PartialObjectMeta, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::finalizer::{finalizer, Event as Finalize};
use kube::runtime::reflector::ObjectRef;
use kube::{Client, Resource, ResourceExt};
use serde::Serialize;
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Finalizer that lets the operator remove a tenant's workloads and namespace in order.
pub const FINALIZER: &str = "tenantry.dev/cleanup";
/// How often a steady tenant is planned again, to catch anything a watch missed.
const RESYNC: Duration = Duration::from_secs(300);
/// How soon a tenant whose children were refused is tried again.
const RETRY_AFTER_REFUSAL: Duration = Duration::from_secs(30);
/// How often a deleted tenant's cleanup checks whether its namespace is gone.
const CLEANUP_POLL: Duration = Duration::from_secs(5);
/// The longest wait between attempts of a failing tenant.
const MAX_RETRY: Duration = Duration::from_secs(300);

/// What every reconcile shares.
pub struct Context {
    /// The API client.
    pub client: Client,
    /// Caches and index.
    pub caches: Caches,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Publishes Events.
    pub recorder: Recorder,
    /// Partners this operator serves; empty serves all.
    pub partners: BTreeSet<String>,
    /// Fields the API server serves.
    pub features: ServerFeatures,
    /// Consecutive failures per tenant, for backoff.
    failures: Mutex<HashMap<String, u32>>,
}

impl Context {
    /// A context for `client`.
    pub fn new(
        client: Client,
        caches: Caches,
        metrics: Arc<Metrics>,
        partners: BTreeSet<String>,
        instance: Option<String>,
    ) -> Self {
        let reporter = Reporter { controller: "tenantry".into(), instance };
        Context {
            recorder: Recorder::new(client.clone(), reporter),
            client,
            caches,
            metrics,
            partners,
            features: ServerFeatures::default(),
            failures: Mutex::default(),
        }
    }

    /// The same context, for a server that serves `features`.
    pub fn with_features(mut self, features: ServerFeatures) -> Self {
        self.features = features;
        self
    }

    /// Whether this operator serves tenants of `partner`.
    pub fn serves(&self, partner: &str) -> bool {
        self.partners.is_empty() || self.partners.contains(partner)
    }

    async fn event<K: Resource<DynamicType = ()>>(&self, object: &K, type_: EventType, reason: &str, note: String) {
        let event =
            Event { type_, reason: reason.into(), note: Some(note), action: "Reconcile".into(), secondary: None };
        if let Err(error) = self.recorder.publish(&event, &object.object_ref(&())).await {
            tracing::warn!(%error, reason, "cannot publish event");
        }
    }

    /// A reconcile of `tenant` succeeded: its failures are forgotten. Returns when to plan it
    /// again anyway (the resync that catches what a watch missed).
    pub fn record_success(&self, tenant: &str) -> Duration {
        self.failures.lock().unwrap_or_else(|p| p.into_inner()).remove(tenant);
        RESYNC
    }

    /// A reconcile of `tenant` failed: counts it and returns how long to wait before the next
    /// attempt, doubling from 2 s with each consecutive failure up to 5 minutes.
    pub fn next_retry(&self, tenant: &str) -> Duration {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let count = failures.entry(tenant.to_string()).or_default();
        *count = count.saturating_add(1);
        Duration::from_secs(2u64.saturating_pow((*count).min(9))).min(MAX_RETRY)
    }
}

/// Reconciles one tenant. The controller hands over only its metadata; the spec comes from
/// the typed cache, so a tenant that does not decode is reported in the log and skipped
/// rather than stalling the others. Errors go back to the controller, which retries with backoff.
pub async fn reconcile(meta: Arc<PartialObjectMeta<Tenant>>, ctx: Arc<Context>) -> Result<Action, Error> {
    let name = meta.name_any();
    let Some(tenant) = ctx.caches.tenants.get(&ObjectRef::new(&name)) else {
        // Not decoded yet, or not decodable: the typed watch re-queues it when it is.
        tracing::debug!(tenant = %name, "not in the typed cache yet");
        return Ok(Action::await_change());
    };
    if !ctx.serves(&tenant.spec.partner_ref) {
        return Ok(Action::await_change());
    }
    let started = Instant::now();
    let api: Api<PartialObjectMeta<Tenant>> = Api::all(ctx.client.clone());
    let result = finalizer(&api, FINALIZER, meta, |event| {
        let (tenant, ctx) = (tenant.clone(), ctx.clone());
        async move {
            match event {
                Finalize::Apply(_) => converge(&tenant, &ctx).await.map_err(FinalizerStep::Failed),
                Finalize::Cleanup(_) => match clean_up(&tenant, &ctx).await {
                    Ok(Cleanup::Done) => Ok(Action::await_change()),
                    // An error to the finalizer, so that it keeps the finalizer; a requeue below.
                    Ok(Cleanup::Pending(why)) => Err(FinalizerStep::NotDone(why)),
                    Err(error) => Err(FinalizerStep::Failed(error)),
                },
            }
        }
    })
    .await;
    let result = finalizer_outcome(&name, result);
    let outcome = match &result {
        Ok(_) => "ok",
        Err(e) => e.metric_label(),
    };
    ctx.metrics.reconciled("tenant", outcome, started.elapsed().as_secs_f64());
    result
}

/// What `clean_up` reports when it succeeded: the tenant's children are gone (the finalizer
/// may go), or not yet (a namespace still terminating): checked again shortly, not an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cleanup {
    /// Nothing of the tenant is left: release the finalizer.
    Done,
    /// Still going; the reason is logged, and cleanup runs again after a short wait.
    Pending(String),
}

/// What the finalizer's closure fails with: a real error, or a cleanup not done yet (which
/// must keep the finalizer, so it cannot be `Ok`).
#[derive(Debug, thiserror::Error)]
pub(crate) enum FinalizerStep {
    #[error(transparent)]
    Failed(Error),
    #[error("not done yet: {0}")]
    NotDone(String),
}

/// The finalizer's result as the controller sees it: a cleanup not done yet is a short
/// requeue, a failed finalizer update is [`Error::Finalizer`], the rest is the reconcile's own
/// error.
pub(crate) fn finalizer_outcome(
    tenant: &str,
    result: Result<Action, kube::runtime::finalizer::Error<FinalizerStep>>,
) -> Result<Action, Error> {
    use kube::runtime::finalizer::Error as Finalizer;
    match result {
        Ok(action) => Ok(action),
        Err(
            Finalizer::ApplyFailed(FinalizerStep::Failed(error))
            | Finalizer::CleanupFailed(FinalizerStep::Failed(error)),
        ) => Err(error),
        Err(
            Finalizer::ApplyFailed(FinalizerStep::NotDone(why)) | Finalizer::CleanupFailed(FinalizerStep::NotDone(why)),
        ) => {
            tracing::info!(tenant = %tenant, %why, wait_seconds = CLEANUP_POLL.as_secs(), "cleanup not done yet");
            Ok(Action::requeue(CLEANUP_POLL))
        }
        Err(Finalizer::AddFinalizer(source) | Finalizer::RemoveFinalizer(source)) => {
            Err(Error::Finalizer { tenant: tenant.to_string(), source })
        }
        // Neither happens: the object comes from the API server, named, and the finalizer's
        // name is a constant.
        Err(other @ (Finalizer::UnnamedObject | Finalizer::InvalidFinalizer)) => {
            Err(Error::Finalizer { tenant: tenant.to_string(), source: kube::Error::Service(other.to_string().into()) })
        }
    }
}

/// Backs off a tenant whose reconcile failed. What passes on its own (timeouts, conflicts,
/// an unreachable webhook) is logged at warn; what the API server refused, at error.
pub fn error_policy(tenant: Arc<PartialObjectMeta<Tenant>>, error: &Error, ctx: Arc<Context>) -> Action {
    let name = tenant.name_any();
    let wait = ctx.next_retry(&name);
    let retry_in_seconds = wait.as_secs();
    if error.is_transient() {
        tracing::warn!(tenant = %name, %error, retry_in_seconds, "reconcile failed; retrying");
    } else {
        tracing::error!(tenant = %name, %error, retry_in_seconds, "reconcile failed: the API server refused; retrying");
    }
    Action::requeue(wait)
}

/// Brings one tenant's children and statuses in line with the plan (the finalizer's Apply).
pub async fn converge(tenant: &Tenant, ctx: &Context) -> Result<Action, Error> {
    let name = tenant.name_any();
    let Some(world) = planner::tenant_slice(&ctx.caches, &name) else {
        return Ok(Action::await_change());
    };
    let now = jiff::Timestamp::now();
    let plan = planner::plan(&world, now).for_tenant(&name);
    let observed = ctx.caches.observed_children(&name);
    let steps = apply::decide(&plan.children, &observed, &plan.frozen, ctx.features);
    if !steps.is_empty() {
        tracing::info!(tenant = %name, writes = steps.len(), "bringing children in line with the plan");
    }
    let results = apply::execute(&ctx.client, steps, ctx.features).await;

    let mut refused: BTreeMap<OwnerKey, Vec<String>> = BTreeMap::new();
    for result in &results {
        match (&result.step, &result.error) {
            (Step::Apply(child), None) => {
                Metrics::kind(&ctx.metrics.applies, child.object.kind().name()).inc();
            }
            (Step::Apply(child), Some(error)) => {
                let kind = child.object.kind().name();
                Metrics::kind(&ctx.metrics.apply_errors, kind).inc();
                let object = format!("{kind}/{}", child.object.meta().name.clone().unwrap_or_default());
                tracing::warn!(tenant = %name, %object, %error, "the API server refused a child");
                refused.entry(child.owner.clone()).or_default().push(format!("{object}: {}", server_message(error)));
            }
            (Step::Prune { reference, .. }, None) => {
                Metrics::kind(&ctx.metrics.prunes, reference.kind.name()).inc();
                let object = format!("{}/{}", reference.kind.name(), reference.name);
                tracing::info!(tenant = %name, %object, "pruned a child no longer desired");
                ctx.event(tenant, EventType::Normal, "Pruned", format!("deleted {object}, no longer desired")).await;
            }
            (Step::Prune { reference, .. }, Some(error)) => {
                tracing::warn!(tenant = %name, object = %reference.name, %error, "cannot prune");
            }
        }
    }

    let now_text = planner::format_time(now);
    if let Some(mut status) = plan.status.clone() {
        if let Some(messages) = refused.get(&OwnerKey::Tenant { name: name.clone() }) {
            mark_refused(
                &mut status.conditions,
                tenant.status.as_ref().map(|s| s.conditions.as_slice()),
                &now_text,
                tenant.metadata.generation,
                messages,
            );
        }
        tenant_events(tenant, &status, ctx).await;
        sync_status(ctx, tenant, tenant.status.as_ref(), &status).await?;
    }
    for ((namespace, workflow_name), planned) in &plan.workflows {
        let Some(workflow) = ctx.caches.workflows.get(&ObjectRef::new(workflow_name).within(namespace)) else {
            continue;
        };
        let mut status = planned.clone();
        let owner = OwnerKey::Workflow { namespace: namespace.clone(), name: workflow_name.clone() };
        if let Some(messages) = refused.get(&owner) {
            // The refused definition is not what runs: the deployed generation stays as it was.
            status.deployed_generation = workflow.status.as_ref().and_then(|s| s.deployed_generation);
            mark_refused(
                &mut status.conditions,
                workflow.status.as_ref().map(|s| s.conditions.as_slice()),
                &now_text,
                workflow.metadata.generation,
                messages,
            );
        }
        workflow_events(&workflow, &status, ctx).await;
        sync_status(ctx, workflow.as_ref(), workflow.status.as_ref(), &status).await?;
    }
    let wait = if refused.is_empty() { ctx.record_success(&name) } else { RETRY_AFTER_REFUSAL };
    Ok(Action::requeue(wait))
}

/// The API server's own words for a refusal.
fn server_message(error: &kube::Error) -> String {
    match error {
        kube::Error::Api(status) => status.message.clone(),
        other => other.to_string(),
    }
}

/// Reports refused children on their owner: Ready False and Stalled, reason ApplyFailed.
fn mark_refused(
    conditions: &mut Vec<Condition>,
    previous: Option<&[Condition]>,
    now: &str,
    generation: Option<i64>,
    messages: &[String],
) {
    let mut updated = Conditions::new(previous.unwrap_or_default(), now, generation);
    for condition in conditions.iter() {
        updated.set(&condition.type_, condition.status, &condition.reason, condition.message.clone());
    }
    // A refusal (invalid, forbidden, over quota) does not go away by retrying: a human has to act.
    let message = format!("the API server refused: {}", messages.join("; "));
    updated.set("Ready", ConditionStatus::False, "ApplyFailed", message.clone());
    updated.set("Stalled", ConditionStatus::True, "ApplyFailed", message);
    *conditions = updated.finish();
}

/// Writes `planned` as `object`'s status when it differs from `current`: a steady object
/// costs no write.
pub async fn sync_status<K, S>(ctx: &Context, object: &K, current: Option<&S>, planned: &S) -> Result<(), Error>
where
    K: Resource<DynamicType = ()>,
    S: Serialize + PartialEq,
{
    if current == Some(planned) {
        return Ok(());
    }
    patch_status::<K>(&ctx.client, object.namespace().as_deref(), &object.name_any(), planned).await?;
    Metrics::kind(&ctx.metrics.status_patches, &K::kind(&())).inc();
    Ok(())
}

/// Writes a status with server-side apply, under the same field manager as the children.
/// The answer is read as a dynamic object: only whether the server accepted it matters.
pub async fn patch_status<K>(
    client: &Client,
    namespace: Option<&str>,
    name: &str,
    status: &impl Serialize,
) -> Result<(), Error>
where
    K: Resource<DynamicType = ()>,
{
    let resource = kube::core::ApiResource::erase::<K>(&());
    let dynamic: Api<kube::api::DynamicObject> = match namespace {
        Some(namespace) => Api::namespaced_with(client.clone(), namespace, &resource),
        None => Api::all_with(client.clone(), &resource),
    };
    let body = json!({ "apiVersion": K::api_version(&()), "kind": K::kind(&()), "status": status });
    dynamic
        .patch_status(name, &PatchParams::apply(FIELD_MANAGER).force(), &Patch::Apply(body))
        .await
        .map(|_| ())
        .map_err(|source| {
            let object = match namespace {
                Some(namespace) => format!("{} {namespace}/{name}", K::kind(&())),
                None => format!("{} {name}", K::kind(&())),
            };
            Error::StatusPatch { object, source }
        })
}

async fn tenant_events(tenant: &Tenant, status: &TenantStatus, ctx: &Context) {
    let before = tenant.status.as_ref().and_then(|s| s.tier.clone());
    if let (Some(before), Some(after)) = (before, status.tier.clone()) {
        if before != after {
            tracing::info!(tenant = %tenant.name_any(), from = %before, to = %after, "tier changed");
            ctx.event(tenant, EventType::Normal, "TierChanged", format!("moved from tier {before} to {after}")).await;
        }
    }
}

async fn workflow_events(workflow: &Workflow, status: &WorkflowStatus, ctx: &Context) {
    let before = workflow.status.as_ref().and_then(|s| s.phase);
    if before == status.phase {
        return;
    }
    let reason = status.reason.clone().unwrap_or_default();
    let message = status.conditions.iter().find(|c| c.type_ == "Ready").map(|c| c.message.clone()).unwrap_or_default();
    let (type_, event) = match status.phase {
        Some(WorkflowPhase::Running) => (EventType::Normal, "WorkflowDeployed"),
        Some(WorkflowPhase::Held) => (EventType::Warning, "WorkflowHeld"),
        Some(WorkflowPhase::Suspended) => (EventType::Normal, "WorkflowSuspended"),
        Some(WorkflowPhase::Blocked) => (EventType::Warning, "WorkflowBlocked"),
        Some(WorkflowPhase::Pending) | None => return,
    };
    let phase = status.phase.map(|p| format!("{p:?}")).unwrap_or_default();
    tracing::info!(workflow = %workflow.name_any(), namespace = %workflow.namespace().unwrap_or_default(), %phase, %reason, "workflow phase changed");
    ctx.event(workflow, type_, event, if reason.is_empty() { message } else { format!("{reason}: {message}") }).await;
}

/// Removes a deleted tenant's workloads, then its namespace; the finalizer is released only
/// once the namespace is gone.
async fn clean_up(tenant: &Tenant, ctx: &Context) -> Result<Cleanup, Error> {
    let name = tenant.name_any();
    let observed = ctx.caches.observed_children(&name);
    let workloads: Vec<Step> = observed
        .iter()
        .filter(|o| matches!(o.reference.kind, ChildKind::Deployment | ChildKind::CronJob))
        .map(|o| Step::Prune { reference: o.reference.clone(), uid: o.uid.clone() })
        .collect();
    for result in apply::execute(&ctx.client, workloads, ctx.features).await {
        if let Some(error) = result.error {
            return Err(Error::kube(format!("removing the workloads of tenant {name}"), error));
        }
    }
    let namespace =
        tenant.status.as_ref().and_then(|s| s.namespace.clone()).unwrap_or_else(|| tenant.spec.namespace_for(&name));
    let namespaces: Api<Namespace> = Api::all(ctx.client.clone());
    match namespaces.get_opt(&namespace).await.map_err(|e| Error::kube(format!("reading namespace {namespace}"), e))? {
        None => {
            tracing::info!(tenant = %name, %namespace, "tenant removed");
            Ok(Cleanup::Done)
        }
        Some(existing) => {
            let ours = existing.labels().get(planner::labels::TENANT) == Some(&name);
            if !ours {
                tracing::info!(tenant = %name, %namespace, "namespace does not carry this tenant's label; left in place");
                return Ok(Cleanup::Done);
            }
            if existing.metadata.deletion_timestamp.is_none() {
                namespaces
                    .delete(&namespace, &DeleteParams::background())
                    .await
                    .map_err(|e| Error::kube(format!("deleting namespace {namespace}"), e))?;
                ctx.event(tenant, EventType::Normal, "NamespaceDeleted", format!("deleting namespace {namespace}"))
                    .await;
            }
            Ok(Cleanup::Pending(format!("namespace {namespace} is still terminating")))
        }
    }
}
