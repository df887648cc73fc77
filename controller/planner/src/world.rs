//! What the planner reads ([`World`]) and what it answers ([`Plan`], and [`TenantPlan`] for
//! one tenant).

use crate::child::{Child, OwnerKey};
use jiff::{SignedDuration, Timestamp};
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
    /// What the cluster shows of each workflow's workload, by namespace and name: observed
    /// state, an input like the statuses. Offline it is empty, so a workflow that would run
    /// is planned as `Deploying`: the plan cannot know that it runs.
    pub workloads: BTreeMap<NamespacedName, WorkloadState>,
    /// BillingRecords written earlier: observed history. A record observed Closed is final.
    pub billing_records: Vec<BillingRecord>,
    /// When open records move and close.
    pub billing: ClosingRules,
}

/// What the cluster shows of one workflow's workload.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkloadState {
    /// Whether it runs: a Deployment that is Available with every replica updated to its
    /// current spec, or a CronJob that exists and is not suspended.
    pub running: bool,
    /// What the cluster says of it, in one line (`2/2 replicas available`).
    pub message: String,
    /// For a Deployment: whether it serves, its `Available` condition true with at least one
    /// available replica (a rollout in progress still serves; one scaled to zero does not).
    /// `None` for CronJobs. What a workflow's availability is measured from (docs/sla.md).
    pub available: Option<bool>,
    /// The finished Jobs of a scheduled workflow the cluster still holds, when its Jobs are
    /// observed (`None` offline and for Deployments): counted into `status.runs` by
    /// `build_workflow::count_runs`.
    pub finished_runs: Option<Vec<FinishedRun>>,
    /// When its last run was scheduled (RFC 3339, UTC).
    pub last_run_time: Option<String>,
}

/// A finished Job of a scheduled workflow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FinishedRun {
    /// When the CronJob scheduled it (its creation, for a Job made by hand from the CronJob).
    pub scheduled: jiff::Timestamp,
    /// Whether it succeeded (`Complete`) rather than failed.
    pub succeeded: bool,
    /// When it finished (the `Complete` or `Failed` condition's transition), if known: a run
    /// that ends after its month's record closes is billed in the month it ended in.
    pub ended: Option<jiff::Timestamp>,
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
    /// Owners whose existing workloads must be kept but scaled to zero, without changing
    /// their definition: a policy forbids them, or their new generation waits for approval
    /// while they must not run. Their children are neither applied nor pruned.
    pub stopped: BTreeSet<OwnerKey>,
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
    /// BillingRecords to write, by name: open ones and those closing now.
    pub billing_records: BTreeMap<String, BillingRecord>,
}

impl Plan {
    /// Adds a plan of other parts after this one's: children appended, statuses and records
    /// inserted (a key planned twice keeps the later value, as one pass in order would).
    pub(crate) fn absorb(&mut self, part: Plan) {
        let Plan {
            children,
            frozen,
            stopped,
            partners,
            tiers,
            tenants,
            workflows,
            policies,
            approvals,
            namespace_owners,
            billing_records,
        } = part;
        self.children.extend(children);
        self.frozen.extend(frozen);
        self.stopped.extend(stopped);
        self.partners.extend(partners);
        self.tiers.extend(tiers);
        self.tenants.extend(tenants);
        self.workflows.extend(workflows);
        self.policies.extend(policies);
        self.approvals.extend(approvals);
        self.namespace_owners.extend(namespace_owners);
        self.billing_records.extend(billing_records);
    }

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
            stopped: self.stopped.iter().filter(|o| mine(o)).cloned().collect(),
            status,
            workflows: self
                .workflows
                .iter()
                .filter(|((ns, _), _)| owns_namespace && ns == &namespace)
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            billing_records: self
                .billing_records
                .values()
                .filter(|record| record.spec.tenant_ref == tenant)
                .cloned()
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
    /// Its workflows whose existing workloads are kept but scaled to zero.
    pub stopped: BTreeSet<OwnerKey>,
    /// The tenant's status.
    pub status: Option<TenantStatus>,
    /// Statuses of the workflows in its namespace.
    pub workflows: BTreeMap<NamespacedName, WorkflowStatus>,
    /// The tenant's BillingRecords to write.
    pub billing_records: Vec<BillingRecord>,
}

/// How often open records move, when they close, and when closed ones may be deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClosingRules {
    /// How long after the end of its month a record stays open, for late observations.
    pub grace: SignedDuration,
    /// An open record is billed up to the last multiple of this interval (since the Unix
    /// epoch), so a steady fleet writes each open record once per interval, not on every
    /// reconcile.
    pub refresh: SignedDuration,
    /// How long after the end of its month a Closed record that was exported (it carries
    /// the `tenantry.dev/exported-at` annotation) is kept before the operator deletes it;
    /// `None` keeps every record. The planner never reads it.
    pub retention: Option<SignedDuration>,
}

impl Default for ClosingRules {
    fn default() -> Self {
        ClosingRules { grace: SignedDuration::from_hours(1), refresh: SignedDuration::from_hours(1), retention: None }
    }
}

impl ClosingRules {
    /// The instant an open record is billed up to at `now`.
    pub fn billed_until(&self, now: Timestamp) -> Timestamp {
        let step = self.refresh.as_secs().max(1);
        let seconds = now.as_second();
        Timestamp::from_second(seconds - seconds.rem_euclid(step)).unwrap_or(now)
    }
}
