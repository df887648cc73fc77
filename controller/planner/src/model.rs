//! The planner's decisions, as data: the declared objects indexed by name, what resolving a
//! tier or a tenant found, and what was decided for each workflow. The deciding modules
//! (`resolve`, `workflows`) produce these; the building modules (`build_*`) read them.

use crate::child::OwnerKey;
use crate::conditions::Verdict;
use crate::quantity::Milli;
use crate::world::World;
use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube_core::ResourceExt;
use std::collections::BTreeMap;
use tenantry_api::workflow::DecisionKind;
use tenantry_api::{Approval, BillingRecord, GovernancePolicy, Partner, ServiceTier, Tenant, Workflow, WorkflowPhase};

/// The declared objects by name.
pub struct Index<'a> {
    /// Partners by name.
    pub partners: BTreeMap<String, &'a Partner>,
    /// Tiers by name.
    pub tiers: BTreeMap<String, &'a ServiceTier>,
    /// Tenants by name.
    pub tenants: BTreeMap<String, &'a Tenant>,
    /// Workflows by namespace and name.
    pub workflows: BTreeMap<(String, String), &'a Workflow>,
    /// BillingRecords written earlier, by name: observed history.
    pub billing_records: BTreeMap<String, &'a BillingRecord>,
    /// The same records by the tenant they bill (`spec.tenantRef`), in name order: planning a
    /// tenant reads its own, never a scan of the fleet's.
    pub billing_records_by_tenant: BTreeMap<String, Vec<&'a BillingRecord>>,
    /// Governance policies by name.
    pub policies: BTreeMap<String, &'a GovernancePolicy>,
    /// Approvals by the namespace and name of the workflow they approve.
    pub approvals: BTreeMap<(String, String), Vec<&'a Approval>>,
}

impl<'a> Index<'a> {
    /// Indexes a world.
    pub fn new(world: &'a World) -> Self {
        let billing_records: BTreeMap<String, &'a BillingRecord> =
            world.billing_records.iter().map(|o| (o.name_any(), o)).collect();
        let mut billing_records_by_tenant: BTreeMap<String, Vec<&'a BillingRecord>> = BTreeMap::new();
        for record in billing_records.values() {
            billing_records_by_tenant.entry(record.spec.tenant_ref.clone()).or_default().push(record);
        }
        Index {
            partners: world.partners.iter().map(|o| (o.name_any(), o)).collect(),
            tiers: world.tiers.iter().map(|o| (o.name_any(), o)).collect(),
            tenants: world.tenants.iter().map(|o| (o.name_any(), o)).collect(),
            workflows: world.workflows.iter().map(|o| ((o.namespace().unwrap_or_default(), o.name_any()), o)).collect(),
            billing_records,
            billing_records_by_tenant,
            policies: world.policies.iter().map(|o| (o.name_any(), o)).collect(),
            approvals: world.approvals.iter().fold(BTreeMap::new(), |mut by_workflow, approval| {
                let key = (approval.namespace().unwrap_or_default(), approval.spec.workflow.clone());
                by_workflow.entry(key).or_insert_with(Vec::new).push(approval);
                by_workflow
            }),
        }
    }
}

/// Sort key for "oldest first": creation time when the object has one (a live cluster), then
/// name. Objects without one (offline YAML) sort after those with one, by name.
pub fn age_key<K: ResourceExt>(object: &K) -> (Timestamp, String) {
    let created = object.creation_timestamp().map(|t| t.0).unwrap_or(Timestamp::MAX);
    (created, object.name_any())
}

/// One resource amount as written and as parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct Amount {
    /// As written in the tier, reused verbatim in children.
    pub quantity: Quantity,
    /// Parsed, for comparisons.
    pub milli: Milli,
}

/// A tier's container limits, parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerLimits {
    /// CPU of a container that asks for none.
    pub default_cpu: Amount,
    /// Memory of a container that asks for none.
    pub default_memory: Amount,
    /// Most CPU a container may have.
    pub max_cpu: Amount,
    /// Most memory a container may have.
    pub max_memory: Amount,
}

/// A tier as the planner can use it.
pub struct TierCheck {
    /// Whether tenants can be planned on it.
    pub verdict: Verdict,
    /// Parsed limits, when they are valid.
    pub limits: Option<ContainerLimits>,
}

/// A tenant whose references all resolve.
pub struct Resolved<'a> {
    /// Its partner.
    pub partner: &'a Partner,
    /// Its tier.
    pub tier: &'a ServiceTier,
    /// Its tier's parsed container limits.
    pub limits: ContainerLimits,
    /// A problem that does not stop planning (too many connected systems).
    pub warning: Option<Verdict>,
}

/// A tenant and what resolving its references found.
pub struct TenantResolution<'a> {
    /// The declared tenant.
    pub tenant: &'a Tenant,
    /// Its name.
    pub name: String,
    /// The namespace it runs in.
    pub namespace: String,
    /// Whether the namespace is this tenant's (false when an older tenant claimed it first).
    pub owns_namespace: bool,
    /// Resolved references, or why they do not resolve.
    pub state: Result<Resolved<'a>, Verdict>,
    /// The governance policies that apply to it, combined.
    pub governance: crate::policy::Governance<'a>,
}

/// The CPU and memory a workflow's container gets, after defaults and caps.
#[derive(Debug, Clone, PartialEq)]
pub struct Resources {
    /// CPU request and limit.
    pub cpu: Quantity,
    /// Memory request and limit.
    pub memory: Quantity,
    /// Fields that asked for more than the tier allows, with what was asked.
    pub capped: Vec<String>,
}

/// What the planner decided for one workflow.
pub struct WorkflowDecision<'a, 'w> {
    /// The declared workflow.
    pub workflow: &'a Workflow,
    /// Its namespace.
    pub namespace: String,
    /// Its name.
    pub name: String,
    /// Its tenant, when the namespace belongs to a resolved one.
    pub tenant: Option<(&'w TenantResolution<'a>, &'w Resolved<'a>)>,
    /// Where it stands.
    pub phase: WorkflowPhase,
    /// Ready or why not.
    pub verdict: Verdict,
    /// Container resources, when it is deployed.
    pub resources: Option<Resources>,
    /// What happens to its children.
    pub rollout: Rollout,
    /// What governance decided, when a policy held, froze, blocked or approved it.
    pub gate: Option<Gate>,
}

/// What happens to a workflow's children.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rollout {
    /// Planned from the current generation (running, or scaled to zero by its phase).
    Render,
    /// Left exactly as they are: its input is wrong, or its new generation waits for
    /// approval or a freeze while the deployed one keeps running.
    Keep,
    /// Left as they are but scaled to zero (a Deployment to no replicas, a CronJob
    /// suspended): a policy forbids it, or it must stop while its new generation waits.
    Stop,
}

/// A governance decision about one workflow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gate {
    /// What was decided.
    pub kind: DecisionKind,
    /// The condition reason (`AwaitingApproval`).
    pub reason: &'static str,
    /// For people, naming the policy and what would change the decision.
    pub message: String,
    /// The policies behind it.
    pub policies: Vec<String>,
    /// When a change freeze holds it: the instant the freeze ends.
    pub frozen_until: Option<Timestamp>,
}

impl WorkflowDecision<'_, '_> {
    /// The key of this workflow as an owner of children.
    pub fn owner(&self) -> OwnerKey {
        OwnerKey::Workflow { namespace: self.namespace.clone(), name: self.name.clone() }
    }

    /// Whether its children are planned from its current generation.
    pub fn deployed(&self) -> bool {
        self.rollout == Rollout::Render
    }
}
