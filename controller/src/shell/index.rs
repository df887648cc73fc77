//! Indexes over the controller's caches, so that a change to a partner, tier, workflow or
//! managed child re-queues exactly the tenants it concerns without scanning the fleet, and a
//! tenant's slice of the world is looked up rather than searched for.

use super::apply::workload_state;
use super::stored::StoredChild;
use crate::api::{Approval, ServiceTier, Tenant, Workflow};
use crate::planner::labels;
use crate::planner::{ChildKind, OwnerKey};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::{Resource, ResourceExt};
use std::collections::{BTreeSet, HashMap};
use std::hash::{Hash, Hasher};

/// A managed child, by kind, namespace and name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ChildRef {
    /// Its kind.
    pub kind: ChildKind,
    /// Its namespace (empty for cluster-scoped kinds).
    pub namespace: String,
    /// Its name.
    pub name: String,
}

impl ChildRef {
    /// The reference of an observed object of `kind`.
    pub fn of(kind: ChildKind, object: &impl Resource) -> Self {
        ChildRef { kind, namespace: object.namespace().unwrap_or_default(), name: object.name_any() }
    }
}

/// Which tenant, and which of its owners, a managed child belongs to, read from the labels
/// of its `metadata`.
pub fn owner_of(metadata: &ObjectMeta) -> Option<(String, OwnerKey)> {
    let labels = metadata.labels.as_ref()?;
    if labels.get(labels::MANAGED_BY).map(String::as_str) != Some(labels::MANAGER) {
        return None;
    }
    let tenant = labels.get(labels::TENANT)?.clone();
    let owner = match (labels.get(labels::OWNER_KIND).map(String::as_str), labels.get(labels::WORKFLOW)) {
        (Some("Workflow"), Some(workflow)) => {
            OwnerKey::Workflow { namespace: metadata.namespace.clone().unwrap_or_default(), name: workflow.clone() }
        }
        _ => OwnerKey::Tenant { name: tenant.clone() },
    };
    Some((tenant, owner))
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct TenantKeys {
    partner: String,
    tier: String,
    namespace: String,
    declared: u64,
}

/// Reverse maps from what a tenant references to the tenants that reference it.
#[derive(Debug, Default)]
pub struct FleetIndex {
    tenants: HashMap<String, TenantKeys>,
    by_partner: HashMap<String, BTreeSet<String>>,
    by_tier: HashMap<String, BTreeSet<String>>,
    by_namespace: HashMap<String, BTreeSet<String>>,
    tier_partner: HashMap<String, String>,
    tiers_by_partner: HashMap<String, BTreeSet<String>>,
    workflows_by_namespace: HashMap<String, BTreeSet<String>>,
    workflow_declared: HashMap<(String, String), u64>,
    others_declared: HashMap<(&'static str, String), u64>,
    own_status: HashMap<(String, String, String), String>,
    approvals_by_namespace: HashMap<String, BTreeSet<String>>,
    children_by_tenant: HashMap<String, BTreeSet<ChildRef>>,
    /// Each child's tenant and [`fingerprint`].
    child_tenant: HashMap<ChildRef, (String, u64)>,
    policy_tenants: HashMap<String, BTreeSet<String>>,
}

fn insert(map: &mut HashMap<String, BTreeSet<String>>, key: &str, value: &str) {
    map.entry(key.to_string()).or_default().insert(value.to_string());
}

fn remove(map: &mut HashMap<String, BTreeSet<String>>, key: &str, value: &str) {
    if let Some(set) = map.get_mut(key) {
        set.remove(value);
        if set.is_empty() {
            map.remove(key);
        }
    }
}

impl FleetIndex {
    /// Records a tenant (added or changed).
    /// Returns whether anything but its status changed (or it is new): the operator writes a
    /// tenant's status itself, and is not re-triggered by its own writes.
    pub fn upsert_tenant(&mut self, tenant: &Tenant) -> bool {
        let name = tenant.name_any();
        let declared = declared(&tenant.metadata);
        let unchanged = self.tenants.get(&name).is_some_and(|keys| keys.declared == declared);
        self.remove_tenant(&name);
        let keys = TenantKeys {
            partner: tenant.spec.partner_ref.clone(),
            tier: tenant.spec.tier_ref.clone(),
            namespace: tenant.spec.namespace_for(&name),
            declared,
        };
        insert(&mut self.by_partner, &keys.partner, &name);
        insert(&mut self.by_tier, &keys.tier, &name);
        insert(&mut self.by_namespace, &keys.namespace, &name);
        self.tenants.insert(name, keys);
        !unchanged
    }

    /// Forgets a tenant.
    pub fn remove_tenant(&mut self, name: &str) {
        if let Some(keys) = self.tenants.remove(name) {
            remove(&mut self.by_partner, &keys.partner, name);
            remove(&mut self.by_tier, &keys.tier, name);
            remove(&mut self.by_namespace, &keys.namespace, name);
        }
    }

    /// Records a tier (added or changed).
    pub fn upsert_tier(&mut self, tier: &ServiceTier) {
        let name = tier.name_any();
        self.remove_tier(&name);
        insert(&mut self.tiers_by_partner, &tier.spec.partner_ref, &name);
        self.tier_partner.insert(name, tier.spec.partner_ref.clone());
    }

    /// Forgets a tier.
    pub fn remove_tier(&mut self, name: &str) {
        if let Some(partner) = self.tier_partner.remove(name) {
            remove(&mut self.tiers_by_partner, &partner, name);
        }
    }

    /// Records a workflow.
    /// Returns whether anything but its status changed (or it is new), as for tenants.
    pub fn upsert_workflow(&mut self, workflow: &Workflow) -> bool {
        let (namespace, name) = (workflow.namespace().unwrap_or_default(), workflow.name_any());
        insert(&mut self.workflows_by_namespace, &namespace, &name);
        let declared = declared(&workflow.metadata);
        self.workflow_declared.insert((namespace, name), declared) != Some(declared)
    }

    /// Forgets a workflow.
    pub fn remove_workflow(&mut self, workflow: &Workflow) {
        let (namespace, name) = (workflow.namespace().unwrap_or_default(), workflow.name_any());
        remove(&mut self.workflows_by_namespace, &namespace, &name);
        self.forget_own_status("Workflow", &namespace, &name);
        self.workflow_declared.remove(&(namespace, name));
    }

    /// Records what is declared of a partner, tier or policy (`kind`) and says whether it
    /// changed since the last event (or is new). Their statuses are written by the fleet
    /// pass and read by no tenant's plan: a status-only event re-plans no tenant.
    pub fn declared_changed(&mut self, kind: &'static str, meta: &ObjectMeta) -> bool {
        let key = (kind, meta.name.clone().unwrap_or_default());
        let fingerprint = declared(meta);
        self.others_declared.insert(key, fingerprint) != Some(fingerprint)
    }

    /// Records the resourceVersion our own status write of an object left.
    pub fn own_status_write(&mut self, kind: &str, namespace: &str, name: &str, version: String) {
        self.own_status.insert((kind.to_string(), namespace.to_string(), name.to_string()), version);
    }

    /// Forgets our last status write of a deleted object.
    pub fn forget_own_status(&mut self, kind: &str, namespace: &str, name: &str) {
        self.own_status.remove(&(kind.to_string(), namespace.to_string(), name.to_string()));
    }

    /// Whether `meta` is the object as our own last status write left it: its echo through
    /// the watch, which re-plans nothing.
    pub fn is_own_status_write(&self, kind: &str, meta: &ObjectMeta) -> bool {
        let key = (kind.to_string(), meta.namespace.clone().unwrap_or_default(), meta.name.clone().unwrap_or_default());
        meta.resource_version.is_some() && self.own_status.get(&key) == meta.resource_version.as_ref()
    }

    /// Forgets what was declared of a deleted partner, tier or policy.
    pub fn forget_declared(&mut self, kind: &'static str, name: &str) {
        self.forget_own_status(kind, "", name);
        self.others_declared.remove(&(kind, name.to_string()));
    }

    /// Records an approval under its namespace.
    pub fn upsert_approval(&mut self, approval: &Approval) {
        insert(&mut self.approvals_by_namespace, &approval.namespace().unwrap_or_default(), &approval.name_any());
    }

    /// Forgets an approval.
    pub fn remove_approval(&mut self, approval: &Approval) {
        remove(&mut self.approvals_by_namespace, &approval.namespace().unwrap_or_default(), &approval.name_any());
    }

    /// Replaces every approval with those of a completed list.
    pub fn rebuild_approvals<'a>(&mut self, approvals: impl IntoIterator<Item = &'a Approval>) {
        self.approvals_by_namespace.clear();
        for approval in approvals {
            self.upsert_approval(approval);
        }
    }

    /// Names of the approvals in `namespace`: a tenant's reconcile reads its own, not a scan
    /// of every approval of the fleet.
    pub fn approvals_in_namespace(&self, namespace: &str) -> BTreeSet<String> {
        self.approvals_by_namespace.get(namespace).cloned().unwrap_or_default()
    }

    /// Records a managed child under the tenant its labels name. Returns that tenant when its
    /// plan reads something new of the child (the child is new to it, or its
    /// [`fingerprint`] changed), `None` when nothing the plan reads moved (a Deployment's
    /// status counters, a resync): a tenant is not re-reconciled for its children's churn.
    pub fn upsert_child(&mut self, kind: ChildKind, object: &StoredChild) -> Option<String> {
        let reference = ChildRef::of(kind, object);
        let fingerprint = fingerprint(kind, object);
        let before = self.child_tenant.get(&reference).cloned();
        let Some((tenant, _)) = owner_of(&object.metadata()) else {
            self.remove_child(&reference);
            return None;
        };
        if before.as_ref() == Some(&(tenant.clone(), fingerprint)) {
            return None;
        }
        self.remove_child(&reference);
        self.children_by_tenant.entry(tenant.clone()).or_default().insert(reference.clone());
        self.child_tenant.insert(reference, (tenant.clone(), fingerprint));
        Some(tenant)
    }

    /// Forgets a managed child; returns the tenant it was recorded under.
    pub fn remove_child(&mut self, reference: &ChildRef) -> Option<String> {
        let (tenant, _) = self.child_tenant.remove(reference)?;
        if let Some(set) = self.children_by_tenant.get_mut(&tenant) {
            set.remove(reference);
            if set.is_empty() {
                self.children_by_tenant.remove(&tenant);
            }
        }
        Some(tenant)
    }

    /// Once a fresh list of one kind is complete, forgets the children of the kind it no
    /// longer holds (each listed one was recorded by [`upsert_child`](Self::upsert_child) as
    /// the list delivered it). Returns the tenants whose children are gone from the list
    /// (deleted while the watch was down): their reconciles re-create them.
    pub fn rebuild_children<'a>(
        &mut self,
        kind: ChildKind,
        listed: impl IntoIterator<Item = &'a StoredChild>,
    ) -> BTreeSet<String> {
        let present: std::collections::HashSet<ChildRef> = listed.into_iter().map(|o| ChildRef::of(kind, o)).collect();
        let stale: Vec<ChildRef> =
            self.child_tenant.keys().filter(|r| r.kind == kind && !present.contains(*r)).cloned().collect();
        let mut bereft = BTreeSet::new();
        for reference in stale {
            bereft.extend(self.remove_child(&reference));
        }
        bereft
    }

    /// Replaces every tenant with what a fresh list holds.
    pub fn rebuild_tenants<'a>(&mut self, tenants: impl IntoIterator<Item = &'a Tenant>) {
        let stale: Vec<String> = self.tenants.keys().cloned().collect();
        for name in stale {
            self.remove_tenant(&name);
        }
        for tenant in tenants {
            self.upsert_tenant(tenant);
        }
    }

    /// Replaces every tier with what a fresh list holds.
    pub fn rebuild_tiers<'a>(&mut self, tiers: impl IntoIterator<Item = &'a ServiceTier>) {
        self.tier_partner.clear();
        self.tiers_by_partner.clear();
        for tier in tiers {
            self.upsert_tier(tier);
        }
    }

    /// Replaces every workflow with what a fresh list holds.
    pub fn rebuild_workflows<'a>(&mut self, workflows: impl IntoIterator<Item = &'a Workflow>) {
        self.workflows_by_namespace.clear();
        let mut declared = std::mem::take(&mut self.workflow_declared);
        for workflow in workflows {
            // Keep what is known of the listed ones, so a relist is not a change.
            let key = (workflow.namespace().unwrap_or_default(), workflow.name_any());
            if let Some(known) = declared.remove(&key) {
                self.workflow_declared.insert(key, known);
            }
            self.upsert_workflow(workflow);
        }
    }

    /// Tenants that reference `partner` directly or through one of its tiers.
    pub fn tenants_of_partner(&self, partner: &str) -> BTreeSet<String> {
        let mut tenants = self.by_partner.get(partner).cloned().unwrap_or_default();
        for tier in self.tiers_by_partner.get(partner).into_iter().flatten() {
            tenants.extend(self.tenants_of_tier(tier));
        }
        tenants
    }

    /// Tenants whose `partnerRef` is `partner`.
    pub fn tenants_with_partner_ref(&self, partner: &str) -> BTreeSet<String> {
        self.by_partner.get(partner).cloned().unwrap_or_default()
    }

    /// Every tenant name.
    pub fn tenant_names(&self) -> BTreeSet<String> {
        self.tenants.keys().cloned().collect()
    }

    /// Records the tenants a policy selects now; returns those it selected before.
    pub fn set_policy_tenants(&mut self, policy: &str, tenants: BTreeSet<String>) -> BTreeSet<String> {
        self.policy_tenants.insert(policy.to_string(), tenants).unwrap_or_default()
    }

    /// Forgets a policy; returns the tenants it selected.
    pub fn remove_policy(&mut self, policy: &str) -> BTreeSet<String> {
        self.policy_tenants.remove(policy).unwrap_or_default()
    }

    /// Tenants on `tier`.
    pub fn tenants_of_tier(&self, tier: &str) -> BTreeSet<String> {
        self.by_tier.get(tier).cloned().unwrap_or_default()
    }

    /// Tenants that claim `namespace`.
    pub fn tenants_in_namespace(&self, namespace: &str) -> BTreeSet<String> {
        self.by_namespace.get(namespace).cloned().unwrap_or_default()
    }

    /// Names of the workflows in `namespace`.
    pub fn workflows_in_namespace(&self, namespace: &str) -> BTreeSet<String> {
        self.workflows_by_namespace.get(namespace).cloned().unwrap_or_default()
    }

    /// Managed children labelled with `tenant`.
    pub fn children_of_tenant(&self, tenant: &str) -> BTreeSet<ChildRef> {
        self.children_by_tenant.get(tenant).cloned().unwrap_or_default()
    }

    /// Namespaces that hold workflows but belong to no tenant.
    pub fn orphan_workflow_namespaces(&self) -> Vec<String> {
        let mut namespaces: Vec<String> =
            self.workflows_by_namespace.keys().filter(|ns| !self.by_namespace.contains_key(*ns)).cloned().collect();
        namespaces.sort();
        namespaces
    }

    /// Number of managed children recorded, by kind.
    pub fn child_counts(&self) -> HashMap<ChildKind, usize> {
        let mut counts = HashMap::new();
        for reference in self.child_tenant.keys() {
            *counts.entry(reference.kind).or_default() += 1;
        }
        counts
    }
}

/// What of a tenantry object is declared (everything its plan reads but its status, which
/// the operator writes), hashed: its generation (the spec), labels (policies select by
/// them), annotations, finalizers, deletion and UID.
fn declared(meta: &ObjectMeta) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    (&meta.uid, meta.generation, &meta.labels, &meta.annotations, &meta.finalizers).hash(&mut hasher);
    meta.deletion_timestamp.as_ref().map(|t| t.0.as_second()).hash(&mut hasher);
    hasher.finish()
}

/// What a tenant's plan reads of a managed child, hashed: everything but its status and
/// resourceVersion (the fields drift is judged on, its labels, annotations, owners, UID,
/// generation and deletion), and of its status only what the planner takes from it: the
/// workload's state ([`workload_state`]).
fn fingerprint(kind: ChildKind, object: &StoredChild) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    let meta = object.meta();
    (&meta.uid, meta.generation).hash(&mut hasher);
    meta.deletion_timestamp.as_ref().map(|t| t.0.as_second()).hash(&mut hasher);
    // Labels, annotations, owners and finalizers.
    object.metadata_text().hash(&mut hasher);
    object.body_text().hash(&mut hasher);
    let state = match kind {
        ChildKind::Deployment => workload_state(Some(&object.to_dynamic()), None),
        ChildKind::CronJob => workload_state(None, Some(&object.to_dynamic())),
        _ => None,
    };
    if let Some(state) = state {
        (state.running, &state.message, state.available, &state.last_run_time).hash(&mut hasher);
    }
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::planner::fixtures;
    use kube::api::DynamicObject;

    #[test]
    fn tier_and_partner_changes_find_exactly_their_tenants() {
        let mut index = FleetIndex::default();
        index.upsert_tier(&fixtures::tier("basic", "acme", &[], 1));
        index.upsert_tier(&fixtures::tier("gold", "other", &[], 1));
        index.upsert_tenant(&fixtures::tenant("shop", "acme", "basic"));
        index.upsert_tenant(&fixtures::tenant("maker", "acme", "gold"));
        index.upsert_tenant(&fixtures::tenant("bystander", "other", "gold"));
        assert_eq!(index.tenants_of_tier("basic"), BTreeSet::from(["shop".to_string()]));
        assert_eq!(index.tenants_of_partner("acme"), BTreeSet::from(["maker".to_string(), "shop".to_string()]));
        assert_eq!(
            index.tenants_of_partner("other"),
            BTreeSet::from(["bystander".to_string(), "maker".to_string()]),
            "a tenant on another partner's tier depends on that partner too"
        );

        // Moving a tenant to another tier moves it in the index.
        index.upsert_tenant(&fixtures::tenant("shop", "acme", "gold"));
        assert!(index.tenants_of_tier("basic").is_empty());
        index.remove_tenant("shop");
        assert_eq!(index.tenants_in_namespace("tenant-shop"), BTreeSet::new());
    }

    #[test]
    fn a_policy_change_concerns_the_tenants_it_selected_before_and_after() {
        let mut index = FleetIndex::default();
        let before = BTreeSet::from(["a".to_string(), "b".to_string()]);
        assert!(index.set_policy_tenants("strict", before.clone()).is_empty());
        assert_eq!(index.set_policy_tenants("strict", BTreeSet::from(["c".to_string()])), before);
        assert_eq!(index.remove_policy("strict"), BTreeSet::from(["c".to_string()]));
    }

    #[test]
    fn workflows_without_a_tenant_are_found() {
        let mut index = FleetIndex::default();
        index.upsert_tenant(&fixtures::tenant("shop", "acme", "basic"));
        index.upsert_workflow(&fixtures::workflow("orders", "tenant-shop"));
        index.upsert_workflow(&fixtures::workflow("stray", "elsewhere"));
        assert_eq!(index.orphan_workflow_namespaces(), vec!["elsewhere".to_string()]);
        assert_eq!(index.workflows_in_namespace("tenant-shop"), BTreeSet::from(["orders".to_string()]));
    }

    #[test]
    fn approvals_are_found_by_namespace_and_forgotten() {
        let approval = |name: &str, namespace: &str| -> Approval {
            serde_json::from_value(serde_json::json!({
                "apiVersion": "tenantry.dev/v1alpha1", "kind": "Approval",
                "metadata": {"name": name, "namespace": namespace},
                "spec": {"workflow": "orders", "generation": 2, "approver": {"user": "ana"}}
            }))
            .expect("an approval")
        };
        let mut index = FleetIndex::default();
        index.upsert_approval(&approval("a", "tenant-shop"));
        index.upsert_approval(&approval("b", "tenant-shop"));
        index.upsert_approval(&approval("c", "tenant-other"));
        let names = |index: &FleetIndex, namespace: &str| index.approvals_in_namespace(namespace);
        assert_eq!(names(&index, "tenant-shop"), BTreeSet::from(["a".to_string(), "b".to_string()]));
        index.remove_approval(&approval("a", "tenant-shop"));
        assert_eq!(names(&index, "tenant-shop"), BTreeSet::from(["b".to_string()]));
        index.rebuild_approvals([&approval("d", "tenant-other")]);
        assert!(names(&index, "tenant-shop").is_empty(), "a completed list replaces what was indexed");
        assert_eq!(names(&index, "tenant-other"), BTreeSet::from(["d".to_string()]));
    }

    #[test]
    fn children_are_attributed_by_their_labels() {
        let mut index = FleetIndex::default();
        let plan = crate::planner::plan(&fixtures::fleet(), jiff::Timestamp::UNIX_EPOCH);
        for child in &plan.children {
            let object: DynamicObject =
                serde_json::from_value(child.object.to_manifest().expect("json")).expect("dynamic");
            assert_eq!(
                index.upsert_child(child.object.kind(), &StoredChild::from(object.clone())),
                Some("shop".to_string())
            );
            assert_eq!(owner_of(&object.metadata).map(|(_, owner)| owner), Some(child.owner.clone()));
        }
        assert_eq!(index.children_of_tenant("shop").len(), plan.children.len());
        let config_maps: Vec<StoredChild> = plan
            .children
            .iter()
            .filter(|c| c.object.kind() == ChildKind::ConfigMap)
            .map(|c| {
                StoredChild::from(
                    serde_json::from_value::<DynamicObject>(c.object.to_manifest().expect("json")).expect("dynamic"),
                )
            })
            .collect();
        assert_eq!(config_maps.len(), 2, "branding and definition");
        let bereft = index.rebuild_children(ChildKind::ConfigMap, &config_maps[..1]);
        assert_eq!(
            index.children_of_tenant("shop").len(),
            plan.children.len() - 1,
            "the one the relist missed is gone"
        );
        assert!(
            index.children_of_tenant("shop").contains(&ChildRef::of(ChildKind::ConfigMap, &config_maps[0])),
            "the listed one stays"
        );
        assert_eq!(bereft, BTreeSet::from(["shop".to_string()]), "the tenant re-creates what a relist misses");
        assert!(index.rebuild_children(ChildKind::ConfigMap, &config_maps[..1]).is_empty(), "nothing more is missing");
    }

    #[test]
    fn only_what_is_declared_of_a_partner_tier_or_policy_concerns_tenants() {
        let mut index = FleetIndex::default();
        let mut partner = fixtures::partner("acme");
        partner.metadata.generation = Some(1);
        assert!(index.declared_changed("Partner", &partner.metadata), "new");
        partner.status = Some(Default::default());
        partner.metadata.resource_version = Some("7".into());
        assert!(!index.declared_changed("Partner", &partner.metadata), "its status written back");
        partner.metadata.generation = Some(2);
        assert!(index.declared_changed("Partner", &partner.metadata), "its spec");
        partner.metadata.labels.get_or_insert_default().insert("region".into(), "eu".into());
        assert!(index.declared_changed("Partner", &partner.metadata), "its labels");
        assert!(!index.declared_changed("Partner", &partner.metadata));
        assert!(index.declared_changed("ServiceTier", &partner.metadata), "kinds are apart");
        index.forget_declared("Partner", "acme");
        assert!(index.declared_changed("Partner", &partner.metadata), "deleted, then declared again");
    }

    #[test]
    fn only_our_own_status_write_is_recognised_as_ours() {
        let mut index = FleetIndex::default();
        let mut tenant = fixtures::tenant("shop", "acme", "basic");
        tenant.metadata.resource_version = Some("41".into());
        assert!(!index.is_own_status_write("Tenant", &tenant.metadata), "nothing written yet");
        index.own_status_write("Tenant", "", "shop", "42".into());
        assert!(!index.is_own_status_write("Tenant", &tenant.metadata), "an older version");
        tenant.metadata.resource_version = Some("42".into());
        assert!(index.is_own_status_write("Tenant", &tenant.metadata), "the echo of our write");
        assert!(!index.is_own_status_write("Workflow", &tenant.metadata), "kinds are apart");
        tenant.metadata.resource_version = Some("43".into());
        assert!(!index.is_own_status_write("Tenant", &tenant.metadata), "someone wrote after us");
        tenant.metadata.resource_version = Some("42".into());
        index.forget_own_status("Tenant", "", "shop");
        assert!(!index.is_own_status_write("Tenant", &tenant.metadata), "deleted: forgotten");
    }

    /// The Deployment of the fixture fleet's `orders` workflow, as the API server would show
    /// it with `status`.
    fn deployment(status: serde_json::Value) -> DynamicObject {
        let plan = crate::planner::plan(&fixtures::fleet(), jiff::Timestamp::UNIX_EPOCH);
        let child = plan.children.iter().find(|c| c.object.kind() == ChildKind::Deployment).expect("a deployment");
        let mut manifest = child.object.to_manifest().expect("json");
        manifest["metadata"]["resourceVersion"] = serde_json::json!("1");
        manifest["status"] = status;
        serde_json::from_value(manifest).expect("dynamic")
    }

    #[test]
    fn a_tenant_is_reconciled_for_what_its_plan_reads_of_a_child_not_for_its_churn() {
        let mut index = FleetIndex::default();
        let first = deployment(serde_json::json!({"observedGeneration": 1, "replicas": 1, "updatedReplicas": 0}));
        assert_eq!(
            index.upsert_child(ChildKind::Deployment, &StoredChild::from(first.clone())),
            Some("shop".to_string()),
            "new: reconcile"
        );
        assert_eq!(
            index.upsert_child(ChildKind::Deployment, &StoredChild::from(first.clone())),
            None,
            "the same again (a resync): nothing"
        );
        // Status counters the planner does not read, and a new resourceVersion.
        let mut churn = deployment(serde_json::json!({
            "observedGeneration": 1, "replicas": 1, "updatedReplicas": 0, "unavailableReplicas": 1,
            "conditions": [{"type": "Progressing", "status": "True", "lastUpdateTime": "2026-11-23T20:00:01Z"}]
        }));
        churn.metadata.resource_version = Some("2".into());
        assert_eq!(
            index.upsert_child(ChildKind::Deployment, &StoredChild::from(churn.clone())),
            None,
            "status churn: nothing"
        );
        // It becomes available: the workflow turns Ready, so the tenant is reconciled.
        let available = deployment(serde_json::json!({
            "observedGeneration": 1, "replicas": 1, "updatedReplicas": 1, "availableReplicas": 1,
            "conditions": [{"type": "Available", "status": "True"}]
        }));
        assert_eq!(
            index.upsert_child(ChildKind::Deployment, &StoredChild::from(available.clone())),
            Some("shop".to_string())
        );
        // Someone edits a field we own: drift, reconcile.
        let mut edited = available.clone();
        edited.data["spec"]["replicas"] = serde_json::json!(5);
        assert_eq!(
            index.upsert_child(ChildKind::Deployment, &StoredChild::from(edited.clone())),
            Some("shop".to_string())
        );
        // A label edit, too.
        let mut relabelled = edited.clone();
        relabelled.metadata.labels.get_or_insert_default().insert("team".into(), "ops".into());
        assert_eq!(
            index.upsert_child(ChildKind::Deployment, &StoredChild::from(relabelled.clone())),
            Some("shop".to_string())
        );
        // Deleted, then seen again: new to the tenant, reconcile.
        index.remove_child(&ChildRef::of(ChildKind::Deployment, &relabelled));
        assert_eq!(
            index.upsert_child(ChildKind::Deployment, &StoredChild::from(relabelled.clone())),
            Some("shop".to_string())
        );
    }
}
