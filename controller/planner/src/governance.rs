//! Statuses of governance policies (which tenants they select, whether they can be
//! evaluated) and approvals (whether they count for the generation they approve). The
//! decisions themselves are the `gate`'s.

use crate::conditions::{Conditions, Verdict};
use crate::model::{Index, TenantResolution};
use crate::policy::selects;
use crate::world::{Plan, World};
use kube_core::ResourceExt;
use std::collections::BTreeMap;
use tenantry_api::conditions::reason;
use tenantry_api::{ApprovalStatus, GovernancePolicyStatus};

/// Most tenant names a policy's status lists.
const LISTED_TENANTS: usize = 50;

/// Writes the status of every policy and approval.
pub fn plan_into(
    world: &World,
    index: &Index,
    tenants: &BTreeMap<String, TenantResolution>,
    now: &str,
    plan: &mut Plan,
) {
    policies(world, index, now, plan);
    approvals(world, index, tenants, now, plan);
}

/// Each policy's status: how many tenants it selects, or why its selector or partner is wrong.
fn policies(world: &World, index: &Index, now: &str, plan: &mut Plan) {
    for policy in &world.policies {
        let previous = policy.status.as_ref().map(|s| s.conditions.as_slice()).unwrap_or_default();
        let mut conditions = Conditions::new(previous, now, policy.metadata.generation);
        let mut selected = Vec::new();
        let mut error = None;
        for (name, tenant) in &index.tenants {
            match selects(policy, tenant) {
                Ok(true) => selected.push(name.clone()),
                Ok(false) => {}
                Err(why) => error = Some(why),
            }
        }
        let matched = selected.len() as i32;
        let bad_freeze = policy.spec.change_freezes.iter().find_map(|f| crate::freeze::validate(f).err());
        let verdict = match (error, &policy.spec.partner_ref, bad_freeze) {
            (Some(why), _, _) => {
                Verdict::stalled(reason::INVALID_SELECTOR, format!("spec.tenantSelector: {why}; it selects no tenant"))
            }
            (None, Some(partner), _) if !index.partners.contains_key(partner) => Verdict::stalled(
                reason::UNKNOWN_PARTNER,
                format!("spec.partnerRef: partner '{partner}' does not exist"),
            ),
            (None, _, Some(why)) => {
                Verdict::stalled(reason::INVALID_FREEZE, format!("{why}; that freeze holds nothing until fixed"))
            }
            (None, _, None) => Verdict::ready(reason::SELECTED, format!("selects {matched} tenants")),
        };
        conditions.readiness(&verdict);
        plan.policies.insert(
            policy.name_any(),
            GovernancePolicyStatus {
                observed_generation: policy.metadata.generation,
                matched_tenants: matched,
                tenants: selected.into_iter().take(LISTED_TENANTS).collect(),
                conditions: conditions.finish(),
            },
        );
    }
}

/// Each approval's status: whether the workflow generation it approves exists, is still the
/// workflow's, and whether its approver is one of those allowed to approve the workflow.
fn approvals(world: &World, index: &Index, tenants: &BTreeMap<String, TenantResolution>, now: &str, plan: &mut Plan) {
    // The governance of each namespace's owning tenant (the first in name order, as a scan
    // would find), looked up per approval instead of scanning every tenant.
    let mut owners: BTreeMap<&str, _> = BTreeMap::new();
    for tenant in tenants.values().filter(|t| t.owns_namespace) {
        owners.entry(tenant.namespace.as_str()).or_insert(&tenant.governance);
    }
    for approval in &world.approvals {
        let namespace = approval.namespace().unwrap_or_default();
        let previous = approval.status.as_ref().map(|s| s.conditions.as_slice()).unwrap_or_default();
        let mut conditions = Conditions::new(previous, now, approval.metadata.generation);
        let workflow = index.workflows.get(&(namespace.clone(), approval.spec.workflow.clone()));
        let verdict = match workflow {
            None => Verdict::stalled(
                reason::UNKNOWN_WORKFLOW,
                format!("spec.workflow: no workflow '{}' in namespace '{namespace}'", approval.spec.workflow),
            ),
            Some(workflow) if workflow.metadata.generation.is_some_and(|g| g < approval.spec.generation) => {
                Verdict::stalled(
                    reason::FUTURE_GENERATION,
                    format!(
                        "spec.generation {} is newer than workflow '{}' (generation {})",
                        approval.spec.generation,
                        approval.spec.workflow,
                        workflow.metadata.generation.unwrap_or_default()
                    ),
                )
            }
            Some(workflow) => {
                let generation = crate::gate::generation_of(workflow);
                let governance = owners.get(namespace.as_str()).copied();
                let category = workflow.spec.category;
                let approver = &approval.spec.approver;
                let gated = governance.is_some_and(|g| {
                    !g.rules_for(category).is_empty()
                        || g.grants.contains_key(&tenantry_api::governance::TenantRole::Approver)
                });
                if gated && !governance.is_some_and(|g| g.may_approve(category, approver)) {
                    Verdict::stalled(
                        reason::NOT_AN_APPROVER,
                        format!(
                            "spec.approver: user '{}' (groups: {}) is none of the subjects allowed to approve workflow '{}'; it does not count",
                            approver.user,
                            if approver.groups.is_empty() { "none".to_string() } else { approver.groups.join(", ") },
                            approval.spec.workflow
                        ),
                    )
                } else if approval.spec.generation < generation {
                    Verdict::ready(
                        reason::STALE_GENERATION,
                        format!(
                            "approves generation {}; workflow '{}' is at generation {generation}, so it counts no more",
                            approval.spec.generation, approval.spec.workflow
                        ),
                    )
                } else {
                    Verdict::ready(reason::RECORDED, format!("approves generation {}", approval.spec.generation))
                }
            }
        };
        conditions.readiness(&verdict);
        plan.approvals.insert(
            (namespace, approval.name_any()),
            ApprovalStatus { observed_generation: approval.metadata.generation, conditions: conditions.finish() },
        );
    }
}
