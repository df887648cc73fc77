//! The part of the world one tenant's plan depends on, so the live controller can plan a
//! single tenant from its caches and reach the same answer as a plan of the whole fleet.
//!
//! A tenant's children and statuses depend on the tenants that claim the same namespace,
//! their partners and tiers (and those tiers' partners), the workflows and approvals in it,
//! and the governance policies.

use crate::world::{WorkloadState, World};
use kube_core::ResourceExt;
use tenantry_api::{Approval, BillingRecord, GovernancePolicy, Partner, ServiceTier, Tenant, Workflow};

/// Where the declared objects come from: the offline world scans its lists, the live
/// controller looks them up in its indexed caches.
pub trait Catalog {
    /// A tenant by name.
    fn tenant(&self, name: &str) -> Option<Tenant>;
    /// A partner by name.
    fn partner(&self, name: &str) -> Option<Partner>;
    /// A tier by name.
    fn tier(&self, name: &str) -> Option<ServiceTier>;
    /// Every tenant whose namespace (declared or defaulted) is `namespace`.
    fn tenants_in_namespace(&self, namespace: &str) -> Vec<Tenant>;
    /// Every workflow in `namespace`.
    fn workflows_in_namespace(&self, namespace: &str) -> Vec<Workflow>;
    /// Every governance policy (cluster-scoped, few): any may select the tenant.
    fn policies(&self) -> Vec<GovernancePolicy>;
    /// Every approval in `namespace`.
    fn approvals_in_namespace(&self, namespace: &str) -> Vec<Approval>;
    /// The BillingRecords of `tenant` (by `spec.tenantRef`): observed billing history.
    fn billing_records_of(&self, tenant: &str) -> Vec<BillingRecord>;
    /// What the cluster shows of a workflow's workload; nothing where none is observed.
    fn workload(&self, _namespace: &str, _name: &str) -> Option<WorkloadState> {
        None
    }
}

/// The slice of the world that decides `tenant`'s plan; `None` when no such tenant exists.
pub fn tenant_slice(catalog: &impl Catalog, tenant: &str) -> Option<World> {
    let subject = catalog.tenant(tenant)?;
    let namespace = subject.spec.namespace_for(&subject.name_any());
    let mut world = World { tenants: catalog.tenants_in_namespace(&namespace), ..World::default() };
    if !world.tenants.iter().any(|t| t.name_any() == tenant) {
        world.tenants.push(subject.clone());
    }
    // The workflows in the namespace are decided by whichever tenant owns it, so the slice
    // holds the partner and tier of every tenant that claims it.
    let mut tier_names: Vec<String> = world.tenants.iter().map(|t| t.spec.tier_ref.clone()).collect();
    // Bills price the tiers the tenant was on too.
    tier_names.extend(subject.status.iter().flat_map(|s| s.tier_history.iter().map(|entry| entry.tier.clone())));
    tier_names.sort();
    tier_names.dedup();
    world.tiers = tier_names.iter().filter_map(|name| catalog.tier(name)).collect();
    let mut partner_names: Vec<String> = world.tenants.iter().map(|t| t.spec.partner_ref.clone()).collect();
    partner_names.extend(world.tiers.iter().map(|t| t.spec.partner_ref.clone()));
    partner_names.sort();
    partner_names.dedup();
    world.partners = partner_names.iter().filter_map(|name| catalog.partner(name)).collect();
    world.workflows = catalog.workflows_in_namespace(&namespace);
    world.policies = catalog.policies();
    world.approvals = catalog.approvals_in_namespace(&namespace);
    world.billing_records = catalog.billing_records_of(tenant);
    world.workloads = world
        .workflows
        .iter()
        .filter_map(|w| {
            let name = w.name_any();
            catalog.workload(&namespace, &name).map(|state| ((namespace.clone(), name), state))
        })
        .collect();
    Some(world)
}

impl Catalog for World {
    fn tenant(&self, name: &str) -> Option<Tenant> {
        self.tenants.iter().find(|t| t.name_any() == name).cloned()
    }
    fn partner(&self, name: &str) -> Option<Partner> {
        self.partners.iter().find(|p| p.name_any() == name).cloned()
    }
    fn tier(&self, name: &str) -> Option<ServiceTier> {
        self.tiers.iter().find(|t| t.name_any() == name).cloned()
    }
    fn tenants_in_namespace(&self, namespace: &str) -> Vec<Tenant> {
        self.tenants.iter().filter(|t| t.spec.namespace_for(&t.name_any()) == namespace).cloned().collect()
    }
    fn billing_records_of(&self, tenant: &str) -> Vec<BillingRecord> {
        self.billing_records.iter().filter(|r| r.spec.tenant_ref == tenant).cloned().collect()
    }
    fn workload(&self, namespace: &str, name: &str) -> Option<WorkloadState> {
        self.workloads.get(&(namespace.to_string(), name.to_string())).cloned()
    }
    fn workflows_in_namespace(&self, namespace: &str) -> Vec<Workflow> {
        self.workflows.iter().filter(|w| w.namespace().as_deref() == Some(namespace)).cloned().collect()
    }
    fn policies(&self) -> Vec<GovernancePolicy> {
        self.policies.clone()
    }
    fn approvals_in_namespace(&self, namespace: &str) -> Vec<Approval> {
        self.approvals.iter().filter(|a| a.namespace().as_deref() == Some(namespace)).cloned().collect()
    }
}
