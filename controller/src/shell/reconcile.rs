//! The tenant controller: for one tenant, plan its slice of the world with the same planner
//! `tenantry plan` uses, apply and prune its children, patch the statuses that changed and
//! record Events. Deleting a tenant removes its workloads, then its namespace.

use super::apply::{self, Step, FIELD_MANAGER};
use super::billing;
use super::cache::{Caches, Undecodable};
use super::error::Error;
use super::metrics::{DecisionLabels, Metrics};
use super::stored::StoredChild;
use crate::api::conditions::{reason, READY, RECONCILING, SLA_BREACHED, STALLED};
use crate::api::workflow::DecisionKind;
use crate::api::{Condition, ConditionStatus, Tenant, TenantStatus, Workflow, WorkflowPhase, WorkflowStatus};
use crate::planner::conditions::Conditions;
use crate::planner::{self, ChildKind, OwnerKey, TenantPlan};
use futures::StreamExt;
use k8s_openapi::api::core::v1::{Namespace, ObjectReference};
use kube::api::{Api, DeleteParams, DynamicObject, PartialObjectMeta, Patch, PatchParams, PostParams};
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
/// How soon a tenant whose children met a transient refusal is tried again.
const RETRY_AFTER_TRANSIENT: Duration = Duration::from_secs(10);
/// Where a pod reads the namespace it runs in.
const SERVICE_ACCOUNT_NAMESPACE: &str = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";
/// The operator's namespace when neither its pod nor `POD_NAMESPACE` says.
pub const DEFAULT_OPERATOR_NAMESPACE: &str = "tenantry-system";
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
    /// The namespace the operator runs in, which no tenant may claim.
    pub operator_namespace: String,
    /// When open BillingRecords move and close.
    pub billing: planner::ClosingRules,
    /// The clock the planner is given: the system's, or a fixed one in tests.
    pub clock: fn() -> jiff::Timestamp,
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
            operator_namespace: operator_namespace(),
            billing: planner::ClosingRules::default(),
            clock: jiff::Timestamp::now,
            failures: Mutex::default(),
        }
    }

    /// The same context, reading the time from `clock`.
    pub fn with_clock(mut self, clock: fn() -> jiff::Timestamp) -> Self {
        self.clock = clock;
        self
    }

    /// The same context, closing and refreshing BillingRecords by `rules`.
    pub fn with_billing_rules(mut self, rules: planner::ClosingRules) -> Self {
        self.billing = rules;
        self
    }

    /// The same context, for an operator running in `namespace`.
    pub fn with_operator_namespace(mut self, namespace: impl Into<String>) -> Self {
        self.operator_namespace = namespace.into();
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

/// The namespace this process runs in: its pod's service account says, or `POD_NAMESPACE`,
/// or else the chart's default.
fn operator_namespace() -> String {
    let from_pod = std::fs::read_to_string(SERVICE_ACCOUNT_NAMESPACE).ok().map(|s| s.trim().to_string());
    from_pod
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("POD_NAMESPACE").ok().filter(|s| !s.is_empty()))
        .unwrap_or_else(|| DEFAULT_OPERATOR_NAMESPACE.to_string())
}

/// Reconciles one tenant. The controller hands over only its metadata; the spec comes from
/// the typed cache, so a tenant that does not decode is reported in the log and skipped
/// rather than stalling the others. Errors go back to the controller, which retries with backoff.
pub async fn reconcile(meta: Arc<PartialObjectMeta<Tenant>>, ctx: Arc<Context>) -> Result<Action, Error> {
    let name = meta.name_any();
    if let Some(undecodable) = ctx.caches.undecodable("Tenant", "", &name) {
        // The typed cache may still hold an older version: what is stored now is what counts.
        report_undecodable::<Tenant>(&ctx, None, &name, &undecodable).await;
        return Ok(Action::await_change());
    }
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

/// Brings one tenant's children and statuses in line with the plan (the finalizer's Apply):
/// plan the tenant's slice, make sure the namespace is one we created for it, write the
/// children, then the statuses.
pub async fn converge(tenant: &Tenant, ctx: &Context) -> Result<Action, Error> {
    let name = tenant.name_any();
    let Some(mut world) = planner::tenant_slice(&ctx.caches, &name) else {
        return Ok(Action::await_change());
    };
    world.billing = ctx.billing;
    let now = (ctx.clock)();
    let whole = planner::plan(&world, now);
    let namespace = whole.tenants.get(&name).and_then(|s| s.namespace.clone()).unwrap_or_default();
    let owns_namespace = whole.namespace_owners.get(&namespace) == Some(&name);
    let mut plan = whole.for_tenant(&name);
    let mut setbacks = BTreeMap::new();
    if let Some(refusal) = claim_namespace(tenant, &mut plan, ctx).await? {
        tracing::warn!(tenant = %name, %namespace, reason = %refusal.reason, "not taking over the namespace");
        withhold_namespace(&mut plan, &name, &namespace, &refusal, &mut setbacks);
    }
    let undecodable = if owns_namespace { ctx.caches.undecodable_in("Workflow", &namespace) } else { Vec::new() };
    for (workflow, _) in &undecodable {
        // The typed cache may still hold an older version: what is stored now is what counts.
        plan.workflows.remove(&(namespace.clone(), workflow.clone()));
        freeze_owner(&mut plan, &OwnerKey::Workflow { namespace: namespace.clone(), name: workflow.clone() });
    }
    let owners = live_owners(tenant, &plan, ctx);
    for (owner, setback) in write_children(&name, tenant, &plan, &owners, ctx).await {
        setbacks.entry(owner).and_modify(|s: &mut Setback| s.add(&setback)).or_insert(setback);
    }
    // Bills before the status: the status drops history only of months observed Closed.
    write_bills(tenant, &plan.billing_records, ctx).await?;
    write_statuses(tenant, &plan, &setbacks, now, ctx).await?;
    for (workflow, object) in &undecodable {
        report_undecodable::<Workflow>(ctx, Some(&namespace), workflow, object).await;
    }
    let wait = match setbacks.values().map(|s| s.permanent).min() {
        None => ctx.record_success(&name),
        Some(false) => RETRY_AFTER_TRANSIENT,
        Some(true) => RETRY_AFTER_REFUSAL,
    };
    Ok(Action::requeue(wait.min(until_a_freeze_ends(&plan, now).unwrap_or(wait))))
}

/// How long until the first change freeze holding one of the tenant's workflows ends (and a
/// second more, so the plan then sees it over): the held generation rolls out on its own.
fn until_a_freeze_ends(plan: &TenantPlan, now: jiff::Timestamp) -> Option<Duration> {
    plan.workflows
        .values()
        .filter_map(|status| status.frozen_until.as_deref()?.parse::<jiff::Timestamp>().ok())
        .min()
        .map(|until| {
            let seconds = until.as_second().saturating_sub(now.as_second()).max(0) as u64;
            Duration::from_secs(seconds + 1)
        })
}

/// Writes the tenant's planned BillingRecords and says which closed.
async fn write_bills(tenant: &Tenant, records: &[crate::api::BillingRecord], ctx: &Context) -> Result<(), Error> {
    let written = billing::write_records(&ctx.client, &ctx.caches, &ctx.metrics, records).await?;
    for name in &written.closed {
        tracing::info!(tenant = %tenant.name_any(), record = %name, "billing record closed");
        ctx.event(tenant, EventType::Normal, "BillingRecordClosed", format!("closed BillingRecord {name}")).await;
    }
    Ok(())
}

/// Why an owner is not what its plan says, found while acting on it.
#[derive(Debug, Clone, PartialEq)]
struct Setback {
    /// CamelCase reason.
    reason: String,
    /// What happened, in the API server's words where it refused.
    message: String,
    /// Whether only a human can fix it (Stalled), rather than another try (Reconciling).
    permanent: bool,
}

impl Setback {
    fn refusal(object: &str, error: &kube::Error) -> Self {
        let permanent = apply::refusal_is_permanent(error);
        Setback {
            reason: if permanent { reason::APPLY_FAILED } else { reason::RETRYING }.into(),
            message: format!("{object}: {}", server_message(error)),
            permanent,
        }
    }

    /// Folds another setback of the same owner in: a permanent one wins.
    fn add(&mut self, other: &Setback) {
        if other.permanent && !self.permanent {
            self.reason = other.reason.clone();
        }
        self.permanent |= other.permanent;
        self.message = format!("{}; {}", self.message, other.message);
    }
}

/// Namespaces no tenant may claim: the operator's own, and (as the planner refuses them
/// already) `default` and the system ones.
pub fn reserved_namespace(namespace: &str, operator_namespace: &str) -> bool {
    namespace == operator_namespace || namespace == "default" || namespace.starts_with("kube-")
}

/// Checks that the namespace the plan wants is one tenantry created for this tenant, and
/// creates it if it does not exist. A namespace is ours when its controller ownerReference
/// carries this tenant's UID: set when we created it, kept by every apply since. One that
/// exists without it (someone else's, or a reserved one) is never adopted: the refusal is
/// returned and nothing is applied into it. A namespace created now is taken out of the
/// plan's writes: it was created from the very manifest an apply would send.
async fn claim_namespace(tenant: &Tenant, plan: &mut TenantPlan, ctx: &Context) -> Result<Option<Setback>, Error> {
    let Some(child) = plan.children.iter().find(|c| c.object.kind() == ChildKind::Namespace) else {
        return Ok(None);
    };
    let namespace = child.object.meta().name.clone().unwrap_or_default();
    if reserved_namespace(&namespace, &ctx.operator_namespace) {
        let message =
            format!("namespace '{namespace}' is reserved: the operator runs there; name another in spec.namespace");
        return Ok(Some(Setback { reason: reason::RESERVED_NAMESPACE.into(), message, permanent: true }));
    }
    // Objects read from the API server always have a UID; the planner sets the owner
    // reference from it.
    let Some(uid) = tenant.uid() else { return Ok(None) };
    let key = ObjectRef::<StoredChild>::new_with(&namespace, apply::api_resource(ChildKind::Namespace));
    let observed = ctx.caches.children.get(&ChildKind::Namespace).and_then(|store| store.get(&key));
    let controller = match observed {
        Some(object) => apply::controller_uid(object.metadata().owner_references.as_deref().unwrap_or_default()),
        None => match create_namespace(child, ctx).await? {
            Created::Now => {
                plan.children.retain(|c| c.object.kind() != ChildKind::Namespace);
                Some(uid.clone())
            }
            Created::Before(controller) => controller,
        },
    };
    if controller.as_deref() == Some(uid.as_str()) {
        return Ok(None);
    }
    let message = format!(
        "namespace '{namespace}' already exists and was not created for this tenant; tenantry never adopts a namespace: name another in spec.namespace"
    );
    Ok(Some(Setback { reason: reason::NAMESPACE_EXISTS.into(), message, permanent: true }))
}

/// Whether a namespace was created now, or existed (with the controller UID it carries).
enum Created {
    Now,
    Before(Option<String>),
}

/// Creates a namespace the caches do not hold. Creating rather than applying is what makes
/// taking over an existing namespace impossible, even one created a moment ago.
async fn create_namespace(child: &planner::Child, ctx: &Context) -> Result<Created, Error> {
    let name = child.object.meta().name.clone().unwrap_or_default();
    let api: Api<DynamicObject> = Api::all_with(ctx.client.clone(), &apply::api_resource(ChildKind::Namespace));
    let object: DynamicObject = serde_json::from_value(child.object.to_manifest().unwrap_or_default())
        .map_err(|e| Error::kube(format!("encoding namespace {name}"), kube::Error::SerdeError(e)))?;
    let params = PostParams { field_manager: Some(FIELD_MANAGER.into()), ..PostParams::default() };
    match api.create(&params, &object).await {
        Ok(_) => {
            Metrics::kind(&ctx.metrics.applies, ChildKind::Namespace.name()).inc();
            Ok(Created::Now)
        }
        Err(kube::Error::Api(status)) if status.code == 409 => {
            let existing = api.get(&name).await.map_err(|e| Error::kube(format!("reading namespace {name}"), e))?;
            Ok(Created::Before(apply::controller_uid(existing.owner_references())))
        }
        Err(e) => Err(Error::kube(format!("creating namespace {name}"), e)),
    }
}

/// Leaves a namespace we may not use alone: nothing of the tenant or its workflows is
/// applied into it or pruned from it, and each of them reports why.
fn withhold_namespace(
    plan: &mut TenantPlan,
    tenant: &str,
    namespace: &str,
    refusal: &Setback,
    setbacks: &mut BTreeMap<OwnerKey, Setback>,
) {
    let mut owners = vec![OwnerKey::Tenant { name: tenant.to_string() }];
    owners.extend(
        plan.workflows.keys().map(|(ns, name)| OwnerKey::Workflow { namespace: ns.clone(), name: name.clone() }),
    );
    for owner in owners {
        freeze_owner(plan, &owner);
        setbacks.insert(owner, refusal.clone());
    }
    plan.children.retain(|c| c.object.meta().namespace.as_deref() != Some(namespace));
}

/// Neither applies nor prunes anything of `owner`.
fn freeze_owner(plan: &mut TenantPlan, owner: &OwnerKey) {
    plan.children.retain(|c| &c.owner != owner);
    plan.frozen.insert(owner.clone());
}

/// UIDs of the owners this reconcile acts for: the tenant and the workflows it plans. Only
/// objects whose controller ownerReference carries one of them are ever pruned.
fn live_owners(tenant: &Tenant, plan: &TenantPlan, ctx: &Context) -> BTreeSet<String> {
    let workflows = plan
        .workflows
        .keys()
        .filter_map(|(namespace, name)| ctx.caches.workflows.get(&ObjectRef::new(name).within(namespace)))
        .filter_map(|workflow| workflow.uid());
    tenant.uid().into_iter().chain(workflows).collect()
}

/// Applies and prunes what the plan and the observed children differ by; returns what the
/// API server refused, by owner.
async fn write_children(
    name: &str,
    tenant: &Tenant,
    plan: &TenantPlan,
    owners: &BTreeSet<String>,
    ctx: &Context,
) -> BTreeMap<OwnerKey, Setback> {
    let observed = ctx.caches.observed_children(name);
    let steps = apply::decide(&plan.children, &observed, &plan.frozen, &plan.stopped, owners);
    if !steps.is_empty() {
        tracing::info!(tenant = %name, writes = steps.len(), "bringing children in line with the plan");
    }
    let mut setbacks: BTreeMap<OwnerKey, Setback> = BTreeMap::new();
    for result in apply::execute(&ctx.client, steps).await {
        match (&result.step, &result.error) {
            (Step::Apply(child), None) => {
                Metrics::kind(&ctx.metrics.applies, child.object.kind().name()).inc();
            }
            (Step::Apply(child), Some(error)) => {
                let kind = child.object.kind().name();
                Metrics::kind(&ctx.metrics.apply_errors, kind).inc();
                let object = format!("{kind}/{}", child.object.meta().name.clone().unwrap_or_default());
                tracing::warn!(tenant = %name, %object, %error, "the API server refused a child");
                let setback = Setback::refusal(&object, error);
                setbacks.entry(child.owner.clone()).and_modify(|s| s.add(&setback)).or_insert(setback);
            }
            (Step::ScaleDown { reference, .. }, None) => {
                Metrics::kind(&ctx.metrics.applies, reference.kind.name()).inc();
                let object = format!("{}/{}", reference.kind.name(), reference.name);
                tracing::info!(tenant = %name, %object, "scaled a workload to zero, its definition kept");
            }
            (Step::ScaleDown { reference, owner, .. }, Some(error)) => {
                Metrics::kind(&ctx.metrics.apply_errors, reference.kind.name()).inc();
                let object = format!("{}/{}", reference.kind.name(), reference.name);
                tracing::warn!(tenant = %name, %object, %error, "the API server refused to scale a workload to zero");
                let setback = Setback::refusal(&object, error);
                setbacks.entry(owner.clone()).and_modify(|s| s.add(&setback)).or_insert(setback);
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
    setbacks
}

/// Writes the statuses the plan gives the tenant and its workflows, with the setbacks met
/// while acting on it, where they differ from what is stored.
async fn write_statuses(
    tenant: &Tenant,
    plan: &TenantPlan,
    setbacks: &BTreeMap<OwnerKey, Setback>,
    now: jiff::Timestamp,
    ctx: &Context,
) -> Result<(), Error> {
    let now = planner::format_time(now);
    if let Some(mut status) = plan.status.clone() {
        let previous = tenant.status.as_ref().map(|s| s.conditions.as_slice());
        if let Some(setback) = setbacks.get(&OwnerKey::Tenant { name: tenant.name_any() }) {
            mark_refused(&mut status.conditions, previous, &now, tenant.metadata.generation, setback);
            setback_event(tenant, previous, setback, ctx).await;
        }
        tenant_events(tenant, &status, ctx).await;
        sync_status(ctx, tenant, tenant.status.as_ref(), &status).await?;
    }
    // The workflows' statuses are independent of each other: written several at once.
    let mut writes = Vec::new();
    for ((namespace, name), planned) in &plan.workflows {
        if let Some(workflow) = ctx.caches.workflows.get(&ObjectRef::new(name).within(namespace)) {
            writes.push(write_workflow_status(workflow, planned, setbacks, &now, ctx));
        }
    }
    let results: Vec<Result<(), Error>> = futures::stream::iter(writes).buffered(apply::WRITES_AT_ONCE).collect().await;
    results.into_iter().collect()
}

/// Writes one workflow's planned status, with the setback met while acting on it, and its
/// Events.
async fn write_workflow_status(
    workflow: Arc<Workflow>,
    planned: &WorkflowStatus,
    setbacks: &BTreeMap<OwnerKey, Setback>,
    now: &str,
    ctx: &Context,
) -> Result<(), Error> {
    let owner = OwnerKey::Workflow { namespace: workflow.namespace().unwrap_or_default(), name: workflow.name_any() };
    let mut status = planned.clone();
    if let Some(setback) = setbacks.get(&owner) {
        let previous = workflow.status.as_ref();
        // What was refused or withheld is not what runs: the deployed generation stays.
        status.deployed_generation = previous.and_then(|s| s.deployed_generation);
        if setback.reason == reason::NAMESPACE_EXISTS {
            // It cannot run at all, not merely this generation.
            status.phase = Some(WorkflowPhase::Blocked);
            status.reason = Some(setback.reason.clone());
        }
        let conditions = previous.map(|s| s.conditions.as_slice());
        mark_refused(&mut status.conditions, conditions, now, workflow.metadata.generation, setback);
    }
    workflow_events(&workflow, &status, ctx).await;
    sync_status(ctx, workflow.as_ref(), workflow.status.as_ref(), &status).await
}

/// The API server's own words for a refusal.
fn server_message(error: &kube::Error) -> String {
    match error {
        kube::Error::Api(status) => status.message.clone(),
        other => other.to_string(),
    }
}

/// Reports a setback on its owner: `Ready=False` with its reason, and `Stalled=True` when a
/// human has to act (invalid, forbidden, over quota, a namespace that is not ours) or
/// `Reconciling=True` while a transient refusal is retried.
fn mark_refused(
    conditions: &mut Vec<Condition>,
    previous: Option<&[Condition]>,
    now: &str,
    generation: Option<i64>,
    setback: &Setback,
) {
    let mut updated = Conditions::new(previous.unwrap_or_default(), now, generation);
    for condition in conditions.iter() {
        updated.set(&condition.type_, condition.status, &condition.reason, condition.message.clone());
    }
    let message = match setback.reason.as_str() {
        reason::APPLY_FAILED => format!("the API server refused: {}", setback.message),
        reason::RETRYING => format!("the API server did not accept it yet; retrying: {}", setback.message),
        _ => setback.message.clone(),
    };
    updated.set(READY, ConditionStatus::False, &setback.reason, message.clone());
    if setback.permanent {
        updated.set(STALLED, ConditionStatus::True, &setback.reason, message);
    } else {
        updated.set(RECONCILING, ConditionStatus::True, &setback.reason, message);
    }
    *conditions = updated.finish();
}

/// A Warning Event when an owner meets a setback it did not report already.
async fn setback_event<K: Resource<DynamicType = ()>>(
    object: &K,
    previous: Option<&[Condition]>,
    setback: &Setback,
    ctx: &Context,
) {
    let ready = previous.unwrap_or_default().iter().find(|c| c.type_ == READY);
    if ready.is_some_and(|c| c.reason == setback.reason) {
        return;
    }
    ctx.event(object, EventType::Warning, &setback.reason, setback.message.clone()).await;
}

/// Reports a stored object that does not decode: `Ready=False` and `Stalled=True` with reason
/// `InvalidSpec` and the decode error, written as a merge patch of the status conditions only
/// (the rest of its status is left as it was), or as an Event when even that is refused.
/// Nothing is written when its status says so already.
pub async fn report_undecodable<K: Resource<DynamicType = ()>>(
    ctx: &Context,
    namespace: Option<&str>,
    name: &str,
    object: &Undecodable,
) {
    let kind = K::kind(&()).to_string();
    let now = planner::format_time((ctx.clock)());
    let message = format!(
        "the stored {kind} does not decode: {}; its children are left exactly as they are until it is fixed",
        object.error
    );
    let mut conditions = Conditions::new(&object.conditions, &now, object.generation);
    conditions.set(READY, ConditionStatus::False, reason::INVALID_SPEC, message.clone());
    conditions.set(STALLED, ConditionStatus::True, reason::INVALID_SPEC, message.clone());
    let conditions = conditions.finish();
    if object.conditions == conditions {
        return;
    }
    let resource = kube::core::ApiResource::erase::<K>(&());
    let api: Api<DynamicObject> = match namespace {
        Some(namespace) => Api::namespaced_with(ctx.client.clone(), namespace, &resource),
        None => Api::all_with(ctx.client.clone(), &resource),
    };
    let params = PatchParams { field_manager: Some(FIELD_MANAGER.into()), ..PatchParams::default() };
    let patch = Patch::Merge(json!({ "status": { "conditions": conditions } }));
    match api.patch_status(name, &params, &patch).await {
        Ok(_) => {
            Metrics::kind(&ctx.metrics.status_patches, &kind).inc();
        }
        Err(error) => {
            tracing::warn!(%kind, %name, %error, "cannot write the status of an object that does not decode");
            let reference = ObjectReference {
                api_version: Some(K::api_version(&()).into_owned()),
                kind: Some(kind),
                name: Some(name.to_string()),
                namespace: namespace.map(str::to_string),
                uid: object.uid.clone(),
                ..ObjectReference::default()
            };
            let event = Event {
                type_: EventType::Warning,
                reason: reason::INVALID_SPEC.into(),
                note: Some(message),
                action: "Reconcile".into(),
                secondary: None,
            };
            if let Err(error) = ctx.recorder.publish(&event, &reference).await {
                tracing::warn!(%error, "cannot publish event");
            }
        }
    }
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
    let (namespace, name) = (object.namespace().unwrap_or_default(), object.name_any());
    let written =
        patch_status::<K>(&ctx.client, Some(namespace.as_str()).filter(|n| !n.is_empty()), &name, planned).await?;
    // Remembered so that this write, seen back through the watch, re-plans nothing; a status
    // written by anyone else still does.
    if let Some(version) = written {
        ctx.caches.index_mut().own_status_write(&K::kind(&()), &namespace, &name, version);
    }
    Metrics::kind(&ctx.metrics.status_patches, &K::kind(&())).inc();
    Ok(())
}

/// Writes a status with server-side apply, under the same field manager as the children.
/// Returns the object's resourceVersion after the write.
/// The answer is read as a dynamic object: only whether the server accepted it matters.
pub async fn patch_status<K>(
    client: &Client,
    namespace: Option<&str>,
    name: &str,
    status: &impl Serialize,
) -> Result<Option<String>, Error>
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
        .map(|written| written.metadata.resource_version)
        .map_err(|source| {
            let object = match namespace {
                Some(namespace) => format!("{} {namespace}/{name}", K::kind(&())),
                None => format!("{} {name}", K::kind(&())),
            };
            Error::StatusPatch { object, source }
        })
}

/// The `SLABreached` condition of `after` when it turned `True` since `before`.
fn sla_breach<'a>(
    before: &[crate::api::Condition],
    after: &'a [crate::api::Condition],
) -> Option<&'a crate::api::Condition> {
    let breached = |conditions: &[crate::api::Condition]| {
        conditions.iter().any(|c| c.type_ == SLA_BREACHED && c.status == crate::api::ConditionStatus::True)
    };
    (!breached(before) && breached(after)).then(|| after.iter().find(|c| c.type_ == SLA_BREACHED)).flatten()
}

async fn tenant_events(tenant: &Tenant, status: &TenantStatus, ctx: &Context) {
    let before = tenant.status.as_ref().map(|s| s.conditions.as_slice()).unwrap_or_default();
    if let Some(breach) = sla_breach(before, &status.conditions) {
        tracing::info!(tenant = %tenant.name_any(), message = %breach.message, "SLA breached");
        ctx.event(tenant, EventType::Warning, "SLABreached", breach.message.clone()).await;
    }
    let before = tenant.status.as_ref().and_then(|s| s.tier.clone());
    if let (Some(before), Some(after)) = (before, status.tier.clone()) {
        if before != after {
            tracing::info!(tenant = %tenant.name_any(), from = %before, to = %after, "tier changed");
            ctx.event(tenant, EventType::Normal, "TierChanged", format!("moved from tier {before} to {after}")).await;
        }
    }
}

/// An Event and a counted metric for each governance decision the status records anew.
async fn decision_events(workflow: &Workflow, status: &WorkflowStatus, ctx: &Context) {
    let before = workflow.status.as_ref().map(|s| s.decisions.as_slice()).unwrap_or_default();
    for entry in status.decisions.iter().filter(|entry| !before.contains(entry)) {
        let type_ = match entry.decision {
            DecisionKind::Held | DecisionKind::Frozen | DecisionKind::Blocked => EventType::Warning,
            DecisionKind::Approved | DecisionKind::Released => EventType::Normal,
        };
        let policies = if entry.policies.is_empty() { vec!["none".to_string()] } else { entry.policies.clone() };
        for policy in &policies {
            let labels = DecisionLabels {
                policy: policy.clone(),
                decision: entry.decision.to_string(),
                reason: entry.reason.clone(),
            };
            ctx.metrics.governance_decisions.get_or_create(&labels).inc();
        }
        tracing::info!(
            workflow = %workflow.name_any(),
            namespace = %workflow.namespace().unwrap_or_default(),
            decision = %entry.decision,
            reason = %entry.reason,
            generation = entry.generation.unwrap_or_default(),
            policies = %policies.join(","),
            "governance decision"
        );
        ctx.event(workflow, type_, &entry.reason, format!("{}: {}", entry.decision, entry.message)).await;
    }
}

async fn workflow_events(workflow: &Workflow, status: &WorkflowStatus, ctx: &Context) {
    decision_events(workflow, status, ctx).await;
    let conditions = workflow.status.as_ref().map(|s| s.conditions.as_slice()).unwrap_or_default();
    if let Some(breach) = sla_breach(conditions, &status.conditions) {
        ctx.event(workflow, EventType::Warning, "SLABreached", breach.message.clone()).await;
    }
    let before = workflow.status.as_ref().and_then(|s| s.phase);
    if before == status.phase {
        return;
    }
    let reason = status.reason.clone().unwrap_or_default();
    let message = status.conditions.iter().find(|c| c.type_ == READY).map(|c| c.message.clone()).unwrap_or_default();
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

/// Removes a deleted tenant's workloads, then its namespace, if we created it for this
/// tenant (its controller ownerReference carries the tenant's UID): a namespace the tenant
/// named but did not get from us is left as it is. The finalizer is released only once the
/// namespace is gone or known not to be ours.
async fn clean_up(tenant: &Tenant, ctx: &Context) -> Result<Cleanup, Error> {
    let name = tenant.name_any();
    // The final bill closes at the deletion, before anything of the tenant goes.
    if let Some(mut world) = planner::tenant_slice(&ctx.caches, &name) {
        world.billing = ctx.billing;
        let plan = planner::plan(&world, (ctx.clock)()).for_tenant(&name);
        write_bills(tenant, &plan.billing_records, ctx).await?;
    }
    let namespace =
        tenant.status.as_ref().and_then(|s| s.namespace.clone()).unwrap_or_else(|| tenant.spec.namespace_for(&name));
    let workflows = planner::Catalog::workflows_in_namespace(&ctx.caches, &namespace);
    let owners: BTreeSet<String> = tenant.uid().into_iter().chain(workflows.iter().filter_map(|w| w.uid())).collect();
    let workloads: Vec<Step> = ctx
        .caches
        .observed_children(&name)
        .into_iter()
        .filter(|o| matches!(o.reference.kind, ChildKind::Deployment | ChildKind::CronJob))
        .filter(|o| o.controller_uid.as_ref().is_some_and(|uid| owners.contains(uid)))
        .map(|o| Step::Prune { reference: o.reference, uid: o.uid })
        .collect();
    for result in apply::execute(&ctx.client, workloads).await {
        if let Some(error) = result.error {
            return Err(Error::kube(format!("removing the workloads of tenant {name}"), error));
        }
    }
    let namespaces: Api<Namespace> = Api::all(ctx.client.clone());
    match namespaces.get_opt(&namespace).await.map_err(|e| Error::kube(format!("reading namespace {namespace}"), e))? {
        None => {
            tracing::info!(tenant = %name, %namespace, "tenant removed");
            Ok(Cleanup::Done)
        }
        Some(existing) => {
            let ours = tenant.uid().is_some() && apply::controller_uid(existing.owner_references()) == tenant.uid();
            if !ours {
                tracing::info!(tenant = %name, %namespace, "namespace was not created for this tenant; left in place");
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
