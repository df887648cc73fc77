//! `tenantry diff`: what the operator would create, change, scale down and delete in the
//! cluster, field by field, and which statuses it would rewrite, without writing anything.
//!
//! The cluster is read once (lists, no watches) into the same [`Caches`] the operator plans
//! from ([`Caches::from_snapshot`]); each tenant is then planned as the tenant controller
//! plans it, and [`apply::decide`] says which objects it would write or prune. This module
//! only explains those steps: [`field_changes`] walks a desired object the way
//! [`apply::contains`] compares it (only the fields we set; quantities by value), so a
//! change is reported exactly when the operator would apply.

use crate::api::{Approval, BillingRecord, GovernancePolicy, Partner, ServiceTier, Tenant, Workflow};
use crate::planner::{self, Catalog, Child, ChildKind, OwnerKey, World};
use crate::shell::apply::{self, Observed, Step};
use crate::shell::cache::{self, Caches, Undecodables};
use crate::shell::reconcile::reserved_namespace;
use kube::api::{Api, DynamicObject, ListParams};
use kube::runtime::reflector::ObjectRef;
use kube::{Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// One field that differs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldChange {
    /// Where, such as `spec.hard.pods` or `status.conditions[Ready].reason`.
    pub path: String,
    /// What the cluster holds; absent when the field is missing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<Value>,
    /// What the operator would write; absent when it would remove the field.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<Value>,
}

/// What the operator would do to one managed object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Action {
    /// Apply an object that does not exist.
    Create,
    /// Apply an object whose fields we set differ.
    Change,
    /// Scale a workload of a stopped owner to zero, its definition kept.
    ScaleDown,
    /// Delete an object we created that is no longer desired.
    Delete,
}

/// One managed object the operator would write.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChildDiff {
    /// What it would do.
    pub action: Action,
    /// The object's kind.
    pub kind: String,
    /// Its namespace; absent for namespaces.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Its name.
    pub name: String,
    /// The tenantry object it belongs to (`Tenant/x`, `Workflow/ns/y`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// The fields that differ: every field of a created object, none of a deleted one.
    pub fields: Vec<FieldChange>,
}

/// One stored status the operator would rewrite (phase, reason and conditions;
/// `lastTransitionTime` aside).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatusDiff {
    /// The tenantry kind.
    pub kind: String,
    /// Its namespace, for namespaced kinds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Its name.
    pub name: String,
    /// The fields that differ.
    pub fields: Vec<FieldChange>,
}

/// Everything that differs.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Diff {
    /// Managed objects, tenant by tenant, in the order the operator would write them.
    pub children: Vec<ChildDiff>,
    /// Statuses of tenantry objects.
    pub statuses: Vec<StatusDiff>,
    /// What the operator would leave alone, and why (a namespace it may not use, an object
    /// that does not decode, a tenant being deleted).
    pub notes: Vec<String>,
}

impl Diff {
    /// Whether the cluster is what the operator would make it.
    pub fn is_empty(&self) -> bool {
        self.children.is_empty() && self.statuses.is_empty()
    }
}

/// How the diff plans: as an operator started with the same flags would.
#[derive(Debug, Clone)]
pub struct Options {
    /// Only tenants of these partners (and their partners' and tiers' statuses); empty: all,
    /// and then policies and workflows of no tenant too.
    pub partners: BTreeSet<String>,
    /// The operator's namespace, which no tenant may claim.
    pub operator_namespace: String,
    /// How open BillingRecords move and close.
    pub billing: planner::ClosingRules,
}

impl Options {
    fn serves(&self, partner: &str) -> bool {
        self.partners.is_empty() || self.partners.contains(partner)
    }
}

// --- Field by field --------------------------------------------------------------------

/// A step of a field path.
#[derive(Debug, Clone)]
enum Segment {
    Key(String),
    Index(usize),
}

fn render_path(path: &[Segment]) -> String {
    let mut text = String::new();
    for segment in path {
        match segment {
            Segment::Key(key) if !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') => {
                if !text.is_empty() {
                    text.push('.');
                }
                text.push_str(key);
            }
            Segment::Key(key) => text.push_str(&format!("[{}]", Value::String(key.clone()))),
            Segment::Index(index) => text.push_str(&format!("[{index}]")),
        }
    }
    text
}

/// The fields of `desired` that `observed` (absent: the object does not exist) does not
/// hold with the same value, compared as [`apply::contains`] compares them: fields only the
/// cluster has are ignored, quantities compare by value, lists of the same length element
/// by element (a list of another length is one change). Empty when `contains` holds.
pub fn field_changes(observed: Option<&Value>, desired: &Value) -> Vec<FieldChange> {
    let mut changes = Vec::new();
    walk(&mut Vec::new(), observed, desired, &mut changes);
    changes
}

fn walk(path: &mut Vec<Segment>, observed: Option<&Value>, desired: &Value, changes: &mut Vec<FieldChange>) {
    match (observed, desired) {
        (None, want) if apply::value_is_empty(want) => {}
        (None, Value::Object(want)) => {
            // A missing object: each of its fields is new (an absent `have` compares as empty).
            for (key, value) in want {
                path.push(Segment::Key(key.clone()));
                walk(path, None, value, changes);
                path.pop();
            }
        }
        (None, want) => changes.push(FieldChange { path: render_path(path), before: None, after: Some(want.clone()) }),
        (Some(Value::Object(have)), Value::Object(want)) => {
            for (key, value) in want {
                path.push(Segment::Key(key.clone()));
                walk(path, have.get(key), value, changes);
                path.pop();
            }
        }
        (Some(Value::Array(have)), Value::Array(want)) if have.len() == want.len() => {
            for (index, (h, w)) in have.iter().zip(want).enumerate() {
                path.push(Segment::Index(index));
                walk(path, Some(h), w, changes);
                path.pop();
            }
        }
        (Some(have), want) => {
            if !apply::contains(have, want) {
                changes.push(FieldChange {
                    path: render_path(path),
                    before: Some(have.clone()),
                    after: Some(want.clone()),
                });
            }
        }
    }
}

/// What the operator would write to bring `observed` to `desired`: [`apply::decide`]'s
/// steps, each with the fields it changes.
pub fn children(
    desired: &[Child],
    observed: &[Observed],
    frozen: &BTreeSet<OwnerKey>,
    stopped: &BTreeSet<OwnerKey>,
    owners: &BTreeSet<String>,
) -> Vec<ChildDiff> {
    let by_reference: BTreeMap<_, &Observed> = observed.iter().map(|o| (o.reference.clone(), o)).collect();
    let namespace_of = |kind: ChildKind, namespace: &str| apply::namespaced(kind).then(|| namespace.to_string());
    apply::decide(desired, observed, frozen, stopped, owners)
        .into_iter()
        .map(|step| match step {
            Step::Apply(child) => {
                let meta = child.object.meta();
                let kind = child.object.kind();
                let namespace = meta.namespace.clone().unwrap_or_default();
                let name = meta.name.clone().unwrap_or_default();
                let manifest = child.object.to_manifest().unwrap_or(Value::Null);
                let reference =
                    crate::shell::index::ChildRef { kind, namespace: namespace.clone(), name: name.clone() };
                let have = by_reference.get(&reference).map(|o| &o.manifest);
                ChildDiff {
                    action: if have.is_some() { Action::Change } else { Action::Create },
                    kind: kind.name().to_string(),
                    namespace: namespace_of(kind, &namespace),
                    name,
                    owner: Some(child.owner.to_string()),
                    fields: field_changes(have, &manifest),
                }
            }
            Step::ScaleDown { reference, owner, .. } => {
                let (path, after) = match reference.kind {
                    ChildKind::CronJob => ("/spec/suspend", Value::Bool(true)),
                    _ => ("/spec/replicas", Value::from(0)),
                };
                let before = by_reference.get(&reference).and_then(|o| o.manifest.pointer(path)).cloned();
                ChildDiff {
                    action: Action::ScaleDown,
                    kind: reference.kind.name().to_string(),
                    namespace: namespace_of(reference.kind, &reference.namespace),
                    name: reference.name.clone(),
                    owner: Some(owner.to_string()),
                    fields: vec![FieldChange { path: path[1..].replace('/', "."), before, after: Some(after) }],
                }
            }
            Step::Prune { reference, .. } => ChildDiff {
                action: Action::Delete,
                kind: reference.kind.name().to_string(),
                namespace: namespace_of(reference.kind, &reference.namespace),
                owner: by_reference.get(&reference).and_then(|o| o.owner.as_ref()).map(ToString::to_string),
                name: reference.name,
                fields: Vec::new(),
            },
        })
        .collect()
}

// --- Statuses --------------------------------------------------------------------------

/// The parts of a status the diff compares, by path: phase, reason and the conditions by
/// type, without `lastTransitionTime` (it records when, not what).
fn comparable(status: Option<&Value>) -> BTreeMap<String, Value> {
    let mut fields = BTreeMap::new();
    let Some(status) = status else { return fields };
    for key in ["phase", "reason"] {
        if let Some(value) = status.get(key).filter(|v| !v.is_null()) {
            fields.insert(format!("status.{key}"), value.clone());
        }
    }
    for condition in status.get("conditions").and_then(Value::as_array).into_iter().flatten() {
        let Some(type_) = condition.get("type").and_then(Value::as_str) else { continue };
        for (key, value) in condition.as_object().into_iter().flatten() {
            if key == "type" || key == "lastTransitionTime" || value.is_null() {
                continue;
            }
            fields.insert(format!("status.conditions[{type_}].{key}"), value.clone());
        }
    }
    fields
}

/// The phase, reason and condition fields (by condition type, `lastTransitionTime` aside)
/// in which `stored` and `planned` differ.
pub fn status_changes(stored: Option<&Value>, planned: &Value) -> Vec<FieldChange> {
    let (before, after) = (comparable(stored), comparable(Some(planned)));
    let paths: BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    paths
        .into_iter()
        .filter(|path| before.get(*path) != after.get(*path))
        .map(|path| FieldChange {
            path: path.clone(),
            before: before.get(path).cloned(),
            after: after.get(path).cloned(),
        })
        .collect()
}

fn status_diff<K, S>(object: &K, stored: Option<&S>, planned: &S) -> Option<StatusDiff>
where
    K: Resource<DynamicType = ()>,
    S: Serialize,
{
    let stored = stored.and_then(|s| serde_json::to_value(s).ok());
    let planned = serde_json::to_value(planned).ok()?;
    let fields = status_changes(stored.as_ref(), &planned);
    (!fields.is_empty()).then(|| StatusDiff {
        kind: K::kind(&()).to_string(),
        namespace: object.meta().namespace.clone(),
        name: object.meta().name.clone().unwrap_or_default(),
        fields,
    })
}

// --- Planning, as the operator does ----------------------------------------------------

/// Plans every served tenant from `caches` as the tenant controller does (its slice, the
/// namespace it may claim, workflows that do not decode frozen), and the fleet statuses as
/// the fleet loop does, and says what differs. `namespaces` maps every namespace of the
/// cluster to the UID of its controller ownerReference: a tenant never takes over one it
/// did not create. Pure: nothing is read or written.
pub fn compute(
    caches: &Caches,
    namespaces: &BTreeMap<String, Option<String>>,
    options: &Options,
    now: jiff::Timestamp,
) -> Diff {
    let mut diff = Diff::default();
    let mut tenants: Vec<Tenant> = caches.tenants.state().iter().map(|t| (**t).clone()).collect();
    tenants.sort_by_key(|t| t.name_any());
    for ((kind, namespace, name), undecodable) in caches.undecodable.read().unwrap_or_else(|p| p.into_inner()).iter() {
        let at = if namespace.is_empty() { name.clone() } else { format!("{namespace}/{name}") };
        diff.notes
            .push(format!("{kind} {at} does not decode ({}): its children are left as they are", undecodable.error));
    }
    for tenant in tenants.iter().filter(|t| options.serves(&t.spec.partner_ref)) {
        let name = tenant.name_any();
        if tenant.metadata.deletion_timestamp.is_some() {
            diff.notes.push(format!("Tenant {name} is being deleted: its cleanup removes its workloads and namespace"));
            continue;
        }
        tenant_diff(caches, namespaces, options, now, tenant, &mut diff);
    }
    fleet_diff(caches, options, now, &mut diff);
    diff
}

fn tenant_diff(
    caches: &Caches,
    namespaces: &BTreeMap<String, Option<String>>,
    options: &Options,
    now: jiff::Timestamp,
    tenant: &Tenant,
    diff: &mut Diff,
) {
    let name = tenant.name_any();
    let Some(mut world) = planner::tenant_slice(caches, &name) else { return };
    world.billing = options.billing;
    let whole = planner::plan(&world, now);
    let namespace = whole.tenants.get(&name).and_then(|s| s.namespace.clone()).unwrap_or_default();
    let owns_namespace = whole.namespace_owners.get(&namespace) == Some(&name);
    let mut plan = whole.for_tenant(&name);
    let freeze = |plan: &mut planner::TenantPlan, owner: OwnerKey| {
        plan.children.retain(|c| c.owner != owner);
        plan.frozen.insert(owner);
    };
    // The namespace the operator may not use: nothing is applied into it or pruned from it.
    let claimed = plan.children.iter().find(|c| c.object.kind() == ChildKind::Namespace);
    if let Some(child) = claimed {
        let wanted = child.object.meta().name.clone().unwrap_or_default();
        let refusal = if reserved_namespace(&wanted, &options.operator_namespace) {
            Some("is reserved: the operator runs there")
        } else {
            match namespaces.get(&wanted) {
                Some(controller) if controller.is_none() || *controller != tenant.uid() => {
                    Some("already exists and was not created for this tenant")
                }
                _ => None,
            }
        };
        if let Some(why) = refusal {
            diff.notes
                .push(format!("Tenant {name}: namespace {wanted} {why}; nothing is applied into it or pruned from it"));
            let mut owners = vec![OwnerKey::Tenant { name: name.clone() }];
            owners.extend(
                plan.workflows.keys().map(|(ns, n)| OwnerKey::Workflow { namespace: ns.clone(), name: n.clone() }),
            );
            for owner in owners {
                freeze(&mut plan, owner);
            }
            plan.children.retain(|c| c.object.meta().namespace.as_deref() != Some(wanted.as_str()));
        }
    }
    if owns_namespace {
        for (workflow, _) in caches.undecodable_in("Workflow", &namespace) {
            plan.workflows.remove(&(namespace.clone(), workflow.clone()));
            freeze(&mut plan, OwnerKey::Workflow { namespace: namespace.clone(), name: workflow });
        }
    }
    let workflow_uids = plan
        .workflows
        .keys()
        .filter_map(|(ns, n)| caches.workflows.get(&ObjectRef::new(n).within(ns)))
        .filter_map(|w| w.uid());
    let owners: BTreeSet<String> = tenant.uid().into_iter().chain(workflow_uids).collect();
    let observed = caches.observed_children(&name);
    diff.children.extend(children(&plan.children, &observed, &plan.frozen, &plan.stopped, &owners));
    if let Some(status) = &plan.status {
        diff.statuses.extend(status_diff(tenant, tenant.status.as_ref(), status));
    }
    for ((ns, n), planned) in &plan.workflows {
        if let Some(workflow) = caches.workflows.get(&ObjectRef::new(n).within(ns)) {
            diff.statuses.extend(status_diff(workflow.as_ref(), workflow.status.as_ref(), planned));
        }
    }
}

/// The statuses the fleet loop writes (`shell::fleet::once`), for the same objects.
fn fleet_diff(caches: &Caches, options: &Options, now: jiff::Timestamp, diff: &mut Diff) {
    let world = caches.fleet_world();
    let plan = planner::fleet_statuses(&world, now);
    for partner in world.partners.iter().filter(|p| options.serves(&p.name_any())) {
        if let Some(status) = plan.partners.get(&partner.name_any()) {
            diff.statuses.extend(status_diff(partner, partner.status.as_ref(), status));
        }
    }
    for tier in world.tiers.iter().filter(|t| options.serves(&t.spec.partner_ref)) {
        if let Some(status) = plan.tiers.get(&tier.name_any()) {
            diff.statuses.extend(status_diff(tier, tier.status.as_ref(), status));
        }
    }
    if options.partners.is_empty() {
        for namespace in caches.index().orphan_workflow_namespaces() {
            for workflow in Catalog::workflows_in_namespace(caches, &namespace) {
                if let Some(status) = plan.workflows.get(&(namespace.clone(), workflow.name_any())) {
                    diff.statuses.extend(status_diff(&workflow, workflow.status.as_ref(), status));
                }
            }
        }
        for policy in &world.policies {
            if let Some(status) = plan.policies.get(&policy.name_any()) {
                diff.statuses.extend(status_diff(policy, policy.status.as_ref(), status));
            }
        }
    }
    let served =
        crate::shell::fleet::approvals_served(&world, |partner| options.serves(partner), options.partners.is_empty());
    for approval in served {
        let namespace = approval.namespace().unwrap_or_default();
        if let Some(status) = plan.approvals.get(&(namespace, approval.name_any())) {
            diff.statuses.extend(status_diff(approval, approval.status.as_ref(), status));
        }
    }
}

// --- Reading the cluster ---------------------------------------------------------------

/// Lists every object of a tenantry kind, decoding each on its own: one that does not
/// decode is recorded in `undecodable`, as the operator's caches do.
async fn list_kind<K>(client: &Client, undecodable: &Undecodables) -> Result<Vec<K>, kube::Error>
where
    K: Resource<DynamicType = ()> + DeserializeOwned,
{
    let api: Api<DynamicObject> = Api::all_with(client.clone(), &kube::core::ApiResource::erase::<K>(&()));
    let listed = api.list(&ListParams::default()).await?;
    Ok(listed.items.into_iter().filter_map(|object| cache::decode::<K>(object, undecodable, true)).collect())
}

/// Reads the cluster with one list per kind (GET requests only) and computes the diff.
/// The declared objects of `declared` (a GitOps directory) in place of the cluster's, each
/// carrying what the cluster knows of it: UID, creation time, generation (one more when the
/// spec differs, as the API server would make it) and status (the observed history billing
/// and governance need). Approvals and BillingRecords stay the cluster's: they are never in
/// Git. Returns notes on what the directory would remove.
pub fn overlay(cluster: &mut World, declared: World) -> Vec<String> {
    let mut notes = Vec::new();
    cluster.partners = carry_over(std::mem::take(&mut cluster.partners), declared.partners, &mut notes);
    cluster.tiers = carry_over(std::mem::take(&mut cluster.tiers), declared.tiers, &mut notes);
    cluster.tenants = carry_over(std::mem::take(&mut cluster.tenants), declared.tenants, &mut notes);
    cluster.workflows = carry_over(std::mem::take(&mut cluster.workflows), declared.workflows, &mut notes);
    cluster.policies = carry_over(std::mem::take(&mut cluster.policies), declared.policies, &mut notes);
    notes
}

/// `declared`, each with the cluster's identity and status for the object of the same kind,
/// namespace and name; a note for each cluster object the directory does not declare.
fn carry_over<K>(cluster: Vec<K>, declared: Vec<K>, notes: &mut Vec<String>) -> Vec<K>
where
    K: kube::Resource<DynamicType = ()> + serde::Serialize + serde::de::DeserializeOwned + Clone,
{
    let key = |object: &K| (object.namespace().unwrap_or_default(), object.name_any());
    let spec = |object: &K| serde_json::to_value(object).ok().and_then(|v| v.get("spec").cloned());
    let mut live: BTreeMap<(String, String), K> = cluster.into_iter().map(|o| (key(&o), o)).collect();
    let mut out = Vec::with_capacity(declared.len());
    for mut object in declared {
        if let Some(existing) = live.remove(&key(&object)) {
            let changed = spec(&existing) != spec(&object);
            let meta = object.meta_mut();
            meta.uid = existing.meta().uid.clone();
            meta.creation_timestamp = existing.meta().creation_timestamp.clone();
            meta.generation = existing.meta().generation.map(|g| if changed { g + 1 } else { g });
            // The status is the cluster's observed history: carried over as JSON, so one
            // function serves every kind.
            let mut value = serde_json::to_value(&object).unwrap_or_default();
            if let (Some(fields), Some(status)) =
                (value.as_object_mut(), serde_json::to_value(&existing).ok().and_then(|v| v.get("status").cloned()))
            {
                fields.insert("status".to_string(), status);
            }
            object = serde_json::from_value(value).unwrap_or(object);
        }
        out.push(object);
    }
    for (namespace, name) in live.into_keys() {
        let kind = K::kind(&());
        let at = if namespace.is_empty() { name } else { format!("{namespace}/{name}") };
        notes.push(format!("{kind} {at} is in the cluster but not in the directory: syncing would delete it"));
    }
    out
}

/// What the operator would do if the cluster declared what `dir` declares (a pull request
/// preview): the directory's objects with the cluster's history, planned against the
/// cluster's children. Read-only, like [`from_cluster`].
pub async fn from_cluster_with_dir(
    client: &Client,
    options: &Options,
    now: jiff::Timestamp,
    declared: World,
) -> Result<Diff, kube::Error> {
    let (mut world, observed, namespaces, undecodable) = read_cluster(client, options).await?;
    let notes = overlay(&mut world, declared);
    let mut caches = Caches::from_snapshot(&world, observed);
    caches.undecodable = undecodable;
    let mut diff = compute(&caches, &namespaces, options, now);
    diff.notes.extend(notes);
    Ok(diff)
}

/// Everything the diff reads from the cluster: declared objects, managed children, and who
/// owns each namespace.
type ClusterRead = (World, Vec<(ChildKind, DynamicObject)>, BTreeMap<String, Option<String>>, Undecodables);

async fn read_cluster(client: &Client, options: &Options) -> Result<ClusterRead, kube::Error> {
    let undecodable = Undecodables::default();
    let mut world = World {
        partners: list_kind::<Partner>(client, &undecodable).await?,
        tiers: list_kind::<ServiceTier>(client, &undecodable).await?,
        tenants: list_kind::<Tenant>(client, &undecodable).await?,
        workflows: list_kind::<Workflow>(client, &undecodable).await?,
        policies: list_kind::<GovernancePolicy>(client, &undecodable).await?,
        approvals: list_kind::<Approval>(client, &undecodable).await?,
        billing_records: list_kind::<BillingRecord>(client, &undecodable).await?,
        ..Default::default()
    };
    world.billing = options.billing;
    let managed =
        ListParams::default().labels(&format!("{}={}", planner::labels::MANAGED_BY, planner::labels::MANAGER));
    let mut observed = Vec::new();
    for kind in ChildKind::ALL {
        let api: Api<DynamicObject> = Api::all_with(client.clone(), &apply::api_resource(kind));
        observed.extend(api.list(&managed).await?.items.into_iter().map(|object| (kind, object)));
    }
    let all_namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    let namespaces = all_namespaces
        .list_metadata(&ListParams::default())
        .await?
        .items
        .into_iter()
        .map(|ns| (ns.name_any(), apply::controller_uid(ns.owner_references())))
        .collect();
    Ok((world, observed, namespaces, undecodable))
}

/// What the operator would do to the cluster now, from what the cluster declares.
pub async fn from_cluster(client: &Client, options: &Options, now: jiff::Timestamp) -> Result<Diff, kube::Error> {
    let (world, observed, namespaces, undecodable) = read_cluster(client, options).await?;
    let mut caches = Caches::from_snapshot(&world, observed);
    caches.undecodable = undecodable;
    Ok(compute(&caches, &namespaces, options, now))
}

// --- Output ----------------------------------------------------------------------------

fn show(value: &Value) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

fn object_name(namespace: Option<&String>, name: &str) -> String {
    match namespace {
        Some(namespace) => format!("{namespace}/{name}"),
        None => name.to_string(),
    }
}

fn field_lines(text: &mut String, fields: &[FieldChange]) {
    for field in fields {
        if let Some(before) = &field.before {
            text.push_str(&format!("    - {}: {}\n", field.path, show(before)));
        }
        if let Some(after) = &field.after {
            text.push_str(&format!("    + {}: {}\n", field.path, show(after)));
        }
    }
}

/// The diff as text: one block per object, `+ create`, `~ change`, `~ scale down`,
/// `- delete`, then the statuses, with a `-`/`+` line per field, and the notes.
pub fn to_text(diff: &Diff) -> String {
    let mut text = String::new();
    for child in &diff.children {
        let (mark, verb) = match child.action {
            Action::Create => ('+', "create"),
            Action::Change => ('~', "change"),
            Action::ScaleDown => ('~', "scale down"),
            Action::Delete => ('-', "delete"),
        };
        let owner = child.owner.as_deref().map(|o| format!("  (owner {o})")).unwrap_or_default();
        let object = object_name(child.namespace.as_ref(), &child.name);
        text.push_str(&format!("{mark} {verb} {} {object}{owner}\n", child.kind));
        field_lines(&mut text, &child.fields);
    }
    if !diff.statuses.is_empty() {
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str("Statuses:\n");
        for status in &diff.statuses {
            text.push_str(&format!(
                "~ status {} {}\n",
                status.kind,
                object_name(status.namespace.as_ref(), &status.name)
            ));
            field_lines(&mut text, &status.fields);
        }
    }
    if !diff.notes.is_empty() {
        if !text.is_empty() {
            text.push('\n');
        }
        for note in &diff.notes {
            text.push_str(&format!("note: {note}\n"));
        }
    }
    text
}

/// The diff as JSON: `{"children": [...], "statuses": [...], "notes": [...]}`.
pub fn to_json(diff: &Diff) -> Result<String, serde_json::Error> {
    serde_json::to_string_pretty(diff).map(|text| text + "\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::planner::fixtures;
    use serde_json::json;

    const NOW: jiff::Timestamp = jiff::Timestamp::UNIX_EPOCH;

    /// The fixture fleet as read from an API server: every object has a UID.
    fn fleet() -> World {
        let mut world = fixtures::fleet();
        for tenant in &mut world.tenants {
            tenant.metadata.uid = Some(format!("uid-tenant-{}", tenant.name_any()));
        }
        for workflow in &mut world.workflows {
            workflow.metadata.uid = Some(format!("uid-workflow-{}", workflow.name_any()));
        }
        world
    }

    /// What the API server holds after applying `child`: the object, plus fields it adds.
    fn stored(child: &Child) -> DynamicObject {
        let mut manifest = child.object.to_manifest().expect("json");
        manifest["metadata"]["uid"] = json!(format!("uid-{}", child.object.meta().name.clone().unwrap_or_default()));
        manifest["metadata"]["resourceVersion"] = json!("42");
        manifest["status"] = json!({"observedGeneration": 1});
        serde_json::from_value(manifest).expect("dynamic")
    }

    /// A fleet the operator has converged: its children applied, its statuses written.
    fn converged() -> (World, Vec<(ChildKind, DynamicObject)>) {
        let mut world = fleet();
        let plan = planner::plan(&world, NOW);
        for tenant in &mut world.tenants {
            tenant.status = plan.tenants.get(&tenant.name_any()).cloned();
        }
        for workflow in &mut world.workflows {
            let key = (workflow.namespace().unwrap_or_default(), workflow.name_any());
            workflow.status = plan.workflows.get(&key).cloned();
        }
        for partner in &mut world.partners {
            partner.status = plan.partners.get(&partner.name_any()).cloned();
        }
        for tier in &mut world.tiers {
            tier.status = plan.tiers.get(&tier.name_any()).cloned();
        }
        let observed: Vec<_> = plan.children.iter().map(|c| (c.object.kind(), stored(c))).collect();
        // Once its children exist, each tenant is planned again with its workloads observed.
        let caches = Caches::from_snapshot(&world, observed.clone());
        for tenant in &mut world.tenants {
            let slice = planner::tenant_slice(&caches, &tenant.name_any()).expect("a slice");
            let plan = planner::plan(&slice, NOW);
            tenant.status = plan.tenants.get(&tenant.name_any()).cloned();
            for workflow in &mut world.workflows {
                let key = (workflow.namespace().unwrap_or_default(), workflow.name_any());
                if let Some(status) = plan.workflows.get(&key) {
                    workflow.status = Some(status.clone());
                }
            }
        }
        (world, observed)
    }

    fn options() -> Options {
        Options {
            partners: BTreeSet::new(),
            operator_namespace: "tenantry-system".into(),
            billing: planner::ClosingRules::default(),
        }
    }

    /// Every namespace the observed objects hold, with its controller's UID.
    fn namespaces(observed: &[(ChildKind, DynamicObject)]) -> BTreeMap<String, Option<String>> {
        observed
            .iter()
            .filter(|(kind, _)| *kind == ChildKind::Namespace)
            .map(|(_, ns)| (ns.name_any(), apply::controller_uid(ns.owner_references())))
            .collect()
    }

    fn diff_of(world: &World, observed: Vec<(ChildKind, DynamicObject)>) -> Diff {
        let namespaces = namespaces(&observed);
        compute(&Caches::from_snapshot(world, observed), &namespaces, &options(), NOW)
    }

    #[test]
    fn a_field_change_is_reported_exactly_when_contains_says_the_object_drifted() {
        let cases = [
            (json!({"spec": {"hard": {"cpu": "1"}}, "extra": 1}), json!({"spec": {"hard": {"cpu": "1000m"}}})),
            (json!({"spec": {"hard": {"pods": 20}}}), json!({"spec": {"hard": {"pods": "20"}}})),
            (json!({"spec": {"hard": {"pods": "999"}}}), json!({"spec": {"hard": {"pods": "10"}}})),
            (json!({"a": {}}), json!({"a": {"emptyDir": {}}, "b": []})),
            (json!({"args": ["a"]}), json!({"args": ["a", "b"]})),
            (json!({"c": [{"x": 1, "y": 2}]}), json!({"c": [{"x": 1}]})),
            (json!({"c": [{"x": 1}]}), json!({"c": [{"x": 2}]})),
            (json!({"m": {"labels": {}}}), json!({"m": {"labels": {"app.kubernetes.io/name": "x"}}})),
            (json!({"s": "x"}), json!({"s": {"nested": true}})),
        ];
        for (observed, desired) in cases {
            let changes = field_changes(Some(&observed), &desired);
            assert_eq!(
                changes.is_empty(),
                apply::contains(&observed, &desired),
                "{observed} vs {desired}: {changes:?}"
            );
        }
        assert_eq!(
            field_changes(
                Some(&json!({"spec": {"hard": {"pods": "999", "cpu": "2"}}})),
                &json!({"spec": {"hard": {"pods": "10", "cpu": "2000m"}}})
            ),
            vec![FieldChange { path: "spec.hard.pods".into(), before: Some(json!("999")), after: Some(json!("10")) }]
        );
        assert_eq!(field_changes(Some(&json!({"c": [{"x": 1}]})), &json!({"c": [{"x": 2}]}))[0].path, "c[0].x");
        assert_eq!(
            field_changes(Some(&json!({"m": {}})), &json!({"m": {"labels": {"app.kubernetes.io/name": "x"}}})),
            vec![FieldChange {
                path: r#"m.labels["app.kubernetes.io/name"]"#.into(),
                before: None,
                after: Some(json!("x"))
            }]
        );
        let created = field_changes(None, &json!({"kind": "ConfigMap", "data": {"a": "1"}, "empty": {}}));
        let paths: Vec<&str> = created.iter().map(|c| c.path.as_str()).collect();
        assert_eq!(paths, ["data.a", "kind"], "every field we set, nothing empty");
    }

    #[test]
    fn statuses_compare_phase_reason_and_conditions_without_transition_times() {
        let stored = json!({"phase": "Running", "conditions": [
            {"type": "Ready", "status": "True", "reason": "Running", "message": "ok", "lastTransitionTime": "2026-01-01T00:00:00Z"}
        ], "runs": {"total": 3}});
        let mut planned = stored.clone();
        planned["conditions"][0]["lastTransitionTime"] = json!("2026-02-02T00:00:00Z");
        planned["runs"] = json!({"total": 4});
        assert_eq!(status_changes(Some(&stored), &planned), vec![], "when and counters are not what the diff shows");
        planned["phase"] = json!("Held");
        planned["conditions"][0]["reason"] = json!("AwaitingApproval");
        let paths: Vec<String> = status_changes(Some(&stored), &planned).into_iter().map(|c| c.path).collect();
        assert_eq!(paths, ["status.conditions[Ready].reason", "status.phase"]);
        let first = status_changes(None, &planned);
        assert!(first.iter().all(|c| c.before.is_none()) && first.len() == 4, "{first:?}");
    }

    #[test]
    fn a_converged_fleet_has_no_difference() {
        let (world, observed) = converged();
        let diff = diff_of(&world, observed);
        assert_eq!(diff, Diff::default(), "{}", to_text(&diff));
    }

    #[test]
    fn a_directory_with_a_tier_change_previews_what_merging_it_would_change() {
        let (world, observed) = converged();
        // The pull request: the tier's namespace quota doubles; a workflow is dropped.
        let mut declared = world.clone();
        for object in declared
            .tenants
            .iter_mut()
            .map(|t| &mut t.metadata)
            .chain(declared.tiers.iter_mut().map(|t| &mut t.metadata))
        {
            // A directory carries neither identity nor status.
            object.uid = None;
            object.generation = None;
            object.creation_timestamp = None;
        }
        for tenant in &mut declared.tenants {
            tenant.status = None;
        }
        let tier = &mut declared.tiers[0];
        let pods_before = tier.spec.limits.namespace_quota.pods;
        tier.spec.limits.namespace_quota.pods = pods_before * 2;
        let dropped = declared.workflows.pop().expect("a workflow");
        let dropped = format!("{}/{}", dropped.namespace().unwrap_or_default(), dropped.name_any());
        let mut merged = world.clone();
        let notes = overlay(&mut merged, declared);
        assert_eq!(
            notes,
            vec![format!("Workflow {dropped} is in the cluster but not in the directory: syncing would delete it")]
        );
        // The cluster's history and identity are carried over; the changed tier's generation moves.
        let tenant = &merged.tenants[0];
        assert_eq!(tenant.metadata.uid, world.tenants[0].metadata.uid);
        assert_eq!(tenant.status, world.tenants[0].status, "the observed history");
        assert_eq!(merged.tiers[0].metadata.generation, world.tiers[0].metadata.generation.map(|g| g + 1));
        assert_eq!(merged.approvals.len(), world.approvals.len(), "approvals stay the cluster's");

        let diff = diff_of(&merged, observed);
        let quotas: Vec<&ChildDiff> =
            diff.children.iter().filter(|c| c.kind == "ResourceQuota" && c.action == Action::Change).collect();
        assert!(!quotas.is_empty(), "the quota of the tier's tenants changes: {diff:?}");
        assert!(
            quotas.iter().all(|c| c
                .fields
                .iter()
                .any(|f| f.path == "spec.hard.pods" && f.after == Some(json!((pods_before * 2).to_string())))),
            "{quotas:?}"
        );
    }

    #[test]
    fn an_edited_child_and_a_deleted_one_are_exactly_what_differs() {
        let (world, mut observed) = converged();
        let quota = observed.iter_mut().find(|(kind, _)| *kind == ChildKind::ResourceQuota).expect("a quota");
        let quota_name = quota.1.name_any();
        let before = quota.1.data["spec"]["hard"]["pods"].clone();
        quota.1.data["spec"]["hard"]["pods"] = json!("999");
        quota.1.data["spec"]["hard"]["unrelated"] = json!("1");
        let deleted = observed.iter().position(|(kind, _)| *kind == ChildKind::NetworkPolicy).expect("a policy");
        let (_, network_policy) = observed.remove(deleted);
        let diff = diff_of(&world, observed);
        let summary: Vec<(Action, &str, &str)> =
            diff.children.iter().map(|c| (c.action, c.kind.as_str(), c.name.as_str())).collect();
        assert_eq!(
            summary,
            vec![
                (Action::Change, "ResourceQuota", quota_name.as_str()),
                (Action::Create, "NetworkPolicy", network_policy.metadata.name.as_deref().unwrap_or_default())
            ]
        );
        assert_eq!(
            diff.children[0].fields,
            vec![FieldChange { path: "spec.hard.pods".into(), before: Some(json!("999")), after: Some(before) }]
        );
        assert!(diff.statuses.is_empty(), "{:?}", diff.statuses);
        let text = to_text(&diff);
        assert!(
            text.contains(&format!(
                "~ change ResourceQuota {}/{quota_name}",
                network_policy.namespace().unwrap_or_default()
            )),
            "{text}"
        );
        assert!(text.contains("    - spec.hard.pods: \"999\"\n"), "{text}");
        assert!(text.contains("+ create NetworkPolicy "), "{text}");
        let json: Value = serde_json::from_str(&to_json(&diff).expect("json")).expect("valid JSON");
        assert_eq!(json["children"][0]["action"], "change");
        assert_eq!(json["children"][1]["action"], "create");
    }

    #[test]
    fn only_our_own_leftovers_are_deleted_and_never_a_frozen_owners() {
        let (world, mut observed) = converged();
        let (_, template) =
            observed.iter().find(|(kind, _)| *kind == ChildKind::ConfigMap).expect("a config map").clone();
        let mut ours = template.clone();
        ours.metadata.name = Some("left-over".into());
        let mut someone_elses = template.clone();
        someone_elses.metadata.name = Some("copied-labels".into());
        someone_elses.metadata.owner_references = None;
        observed.push((ChildKind::ConfigMap, ours));
        observed.push((ChildKind::ConfigMap, someone_elses));
        let diff = diff_of(&world, observed.clone());
        let summary: Vec<(Action, &str)> = diff.children.iter().map(|c| (c.action, c.name.as_str())).collect();
        assert_eq!(summary, vec![(Action::Delete, "left-over")]);
        assert!(to_text(&diff).starts_with("- delete ConfigMap "), "{}", to_text(&diff));

        // A tenant whose tier is gone is frozen: nothing of it is written or deleted.
        let mut broken = world.clone();
        broken.tiers.clear();
        let diff = diff_of(&broken, observed);
        assert!(diff.children.is_empty(), "{:?}", diff.children);
        assert!(!diff.statuses.is_empty(), "the tenants report the missing tier");
    }

    #[test]
    fn a_namespace_the_tenant_did_not_create_is_left_alone() {
        let (world, observed) = converged();
        let without_namespaces: Vec<_> =
            observed.into_iter().filter(|(kind, _)| *kind != ChildKind::Namespace).collect();
        let mut namespaces = namespaces(&without_namespaces);
        for tenant in &world.tenants {
            namespaces.insert(tenant.spec.namespace_for(&tenant.name_any()), None);
        }
        let caches = Caches::from_snapshot(&world, without_namespaces);
        let diff = compute(&caches, &namespaces, &options(), NOW);
        assert!(diff.children.is_empty(), "{:?}", diff.children);
        assert!(diff.notes.iter().any(|n| n.contains("was not created for this tenant")), "{:?}", diff.notes);
    }
}
