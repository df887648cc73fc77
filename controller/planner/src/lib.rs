//! The pure planner: declared objects, the history their statuses carry, and a clock in;
//! desired children, statuses and conditions out. No I/O and no clock of its own, so the
//! offline `tenantry plan` and the live controller reach the same answer from the same input.
//!
//! This crate depends on the API types, k8s-openapi, kube-core, jiff and serde only: no
//! tokio, no kube client, no clock (`.ci/run` checks its dependency tree).

#![forbid(unsafe_code)]
// Tests may unwrap: a panic there is a failed test.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod build_tenant;
mod build_workflow;
mod child;
pub mod conditions;
pub mod cron;
mod governance;
pub mod labels;
pub mod quantity;
mod resolve;
pub mod slice;
pub mod templates;
mod workflows;

pub use child::{Child, ChildKind, ChildObject, OwnerKey};
pub use conditions::Verdict;
pub use governance::selector_matches;
pub use slice::{tenant_slice, Catalog};

use jiff::Timestamp;
use kube_core::ResourceExt;
use std::collections::{BTreeMap, BTreeSet};
use tenantry_api::{
    Approval, ApprovalStatus, BillingRecord, GovernancePolicy, GovernancePolicyStatus, Partner, PartnerStatus,
    ServiceTier, ServiceTierStatus, Tenant, TenantStatus, Workflow, WorkflowStatus,
};

/// Everything the planner reads: the declared objects, with whatever status they carry.
///
/// Order does not matter: the planner sorts what it reads, so the same set of objects gives
/// the same plan whichever way it was listed.
#[derive(Debug, Clone, Default)]
pub struct World {
    /// Declared partners.
    pub partners: Vec<Partner>,
    /// Declared service tiers.
    pub tiers: Vec<ServiceTier>,
    /// Declared tenants.
    pub tenants: Vec<Tenant>,
    /// Declared workflows.
    pub workflows: Vec<Workflow>,
    /// Declared governance policies.
    pub policies: Vec<GovernancePolicy>,
    /// Declared approvals.
    pub approvals: Vec<Approval>,
    /// Billing records written earlier: observed history.
    pub billing_records: Vec<BillingRecord>,
}

/// Key of a namespaced object: namespace, then name.
pub type NamespacedName = (String, String);

/// What the planner decided.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    /// Every object that should exist, in apply order.
    pub children: Vec<Child>,
    /// Owners whose existing children must be left exactly as they are (neither applied nor
    /// pruned) because their input is wrong: bad input never deletes a workload.
    pub frozen: BTreeSet<OwnerKey>,
    /// Status of each partner, by name.
    pub partners: BTreeMap<String, PartnerStatus>,
    /// Status of each tier, by name.
    pub tiers: BTreeMap<String, ServiceTierStatus>,
    /// Status of each tenant, by name.
    pub tenants: BTreeMap<String, TenantStatus>,
    /// Status of each workflow, by namespace and name.
    pub workflows: BTreeMap<NamespacedName, WorkflowStatus>,
    /// Status of each governance policy, by name.
    pub policies: BTreeMap<String, GovernancePolicyStatus>,
    /// Status of each approval, by namespace and name.
    pub approvals: BTreeMap<NamespacedName, ApprovalStatus>,
    /// The tenant each tenant namespace belongs to (the oldest that claims it).
    pub namespace_owners: BTreeMap<String, String>,
}

impl Plan {
    /// The part of the plan that concerns one tenant: its children and status, and those of
    /// the workflows in its namespace. This is what the live controller acts on per tenant.
    pub fn for_tenant(&self, tenant: &str) -> TenantPlan {
        let status = self.tenants.get(tenant).cloned();
        let namespace = status.as_ref().and_then(|s| s.namespace.clone()).unwrap_or_default();
        let owns_namespace = self.namespace_owners.get(&namespace).map(String::as_str) == Some(tenant);
        let mine = |owner: &OwnerKey| match owner {
            OwnerKey::Tenant { name } => name == tenant,
            OwnerKey::Workflow { namespace: ns, .. } => owns_namespace && ns == &namespace,
        };
        TenantPlan {
            children: self.children.iter().filter(|c| mine(&c.owner)).cloned().collect(),
            frozen: self.frozen.iter().filter(|o| mine(o)).cloned().collect(),
            status,
            workflows: self
                .workflows
                .iter()
                .filter(|((ns, _), _)| owns_namespace && ns == &namespace)
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        }
    }

    /// The children that belong to one owner.
    pub fn children_of<'a>(&'a self, owner: &'a OwnerKey) -> impl Iterator<Item = &'a Child> + 'a {
        self.children.iter().filter(move |child| &child.owner == owner)
    }
}

/// What the plan says about one tenant and the workflows in its namespace.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TenantPlan {
    /// Children of the tenant and of its workflows, in apply order.
    pub children: Vec<Child>,
    /// The tenant or its workflows, when their existing children must be left alone.
    pub frozen: BTreeSet<OwnerKey>,
    /// The tenant's status.
    pub status: Option<TenantStatus>,
    /// Statuses of the workflows in its namespace.
    pub workflows: BTreeMap<NamespacedName, WorkflowStatus>,
}

/// Plans the whole fleet at instant `now`.
pub fn plan(world: &World, now: Timestamp) -> Plan {
    plan_parts(world, now, Scope::Everything)
}

/// Only the statuses that depend on the whole fleet: partners, tiers, policies, approvals and
/// the workflows of `world` (the live operator passes those in namespaces of no tenant).
/// Tenants are resolved for counts and namespace ownership but get neither children nor
/// status: the tenant controller plans those one tenant at a time.
pub fn fleet_statuses(world: &World, now: Timestamp) -> Plan {
    plan_parts(world, now, Scope::FleetStatuses)
}

/// How much of the plan to build.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Scope {
    Everything,
    FleetStatuses,
}

fn plan_parts(world: &World, now: Timestamp, scope: Scope) -> Plan {
    let now = format_time(now);
    let index = resolve::Index::new(world);
    let mut plan = Plan::default();

    let tier_verdicts = resolve::tiers(&index, &now, &mut plan);
    let tenants = resolve::tenants(&index, &tier_verdicts);
    plan.namespace_owners =
        tenants.values().filter(|t| t.owns_namespace).map(|t| (t.namespace.clone(), t.name.clone())).collect();
    let workflow_outcomes = workflows::decide(&index, &tenants);

    if scope == Scope::Everything {
        for tenant in tenants.values() {
            tenant.plan_into(&workflow_outcomes, &now, &mut plan);
        }
    }
    for outcome in workflow_outcomes.values() {
        outcome.plan_into(&now, &mut plan);
    }
    resolve::partners(&index, &now, &mut plan);
    governance::plan_into(world, &index, &now, &mut plan);

    plan.children.sort_by(Child::apply_order);
    plan
}

/// The clock as the API writes it: RFC 3339 in UTC, whole seconds.
pub fn format_time(now: Timestamp) -> String {
    Timestamp::from_second(now.as_second()).unwrap_or(now).to_string()
}

/// Sort key for "oldest first": creation time when the object has one (a live cluster), then
/// name. Objects without one (offline YAML) sort after those with one, by name.
fn age_key<K: ResourceExt>(object: &K) -> (Timestamp, String) {
    let created = object.creation_timestamp().map(|t| t.0).unwrap_or(Timestamp::MAX);
    (created, object.name_any())
}

#[cfg(any(test, feature = "fixtures"))]
pub mod fixtures;
#[cfg(test)]
mod tests;
