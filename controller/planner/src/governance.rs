//! Statuses of governance policies (which tenants they select) and approvals (whether the
//! workflow generation they approve exists). Enforcement of approvals, freezes, regions and
//! registries builds on these.

use crate::conditions::{Conditions, Verdict};
use crate::model::Index;
use crate::world::{Plan, World};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement};
use kube_core::ResourceExt;
use std::collections::BTreeMap;
use tenantry_api::{ApprovalStatus, GovernancePolicyStatus};

/// Whether `labels` satisfy `selector`, as the API server evaluates label selectors. An
/// operator outside In, NotIn, Exists and DoesNotExist is an error naming it.
pub fn selector_matches(selector: &LabelSelector, labels: &BTreeMap<String, String>) -> Result<bool, String> {
    for (key, value) in selector.match_labels.iter().flatten() {
        if labels.get(key) != Some(value) {
            return Ok(false);
        }
    }
    for LabelSelectorRequirement { key, operator, values } in selector.match_expressions.iter().flatten() {
        let present = labels.get(key);
        let values = values.as_deref().unwrap_or_default();
        let matched = match operator.as_str() {
            "In" => present.map(|v| values.contains(v)).unwrap_or(false),
            "NotIn" => present.map(|v| !values.contains(v)).unwrap_or(true),
            "Exists" => present.is_some(),
            "DoesNotExist" => present.is_none(),
            other => return Err(format!("operator '{other}' is not one of In, NotIn, Exists, DoesNotExist")),
        };
        if !matched {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Writes the status of every policy and approval.
pub fn plan_into(world: &World, index: &Index, now: &str, plan: &mut Plan) {
    policies(world, index, now, plan);
    approvals(world, index, now, plan);
}

/// Each policy's status: how many tenants it selects, or why its selector or partner is wrong.
fn policies(world: &World, index: &Index, now: &str, plan: &mut Plan) {
    for policy in &world.policies {
        let previous = policy.status.as_ref().map(|s| s.conditions.as_slice()).unwrap_or_default();
        let mut conditions = Conditions::new(previous, now, policy.metadata.generation);
        let selector = policy.spec.tenant_selector.clone().unwrap_or_default();
        let mut matched = 0;
        let mut error = None;
        for tenant in index.tenants.values() {
            if let Some(partner) = &policy.spec.partner_ref {
                if &tenant.spec.partner_ref != partner {
                    continue;
                }
            }
            match selector_matches(&selector, tenant.labels()) {
                Ok(true) => matched += 1,
                Ok(false) => {}
                Err(why) => error = Some(why),
            }
        }
        let verdict = match (error, &policy.spec.partner_ref) {
            (Some(why), _) => Verdict::stalled("InvalidSelector", format!("spec.tenantSelector: {why}")),
            (None, Some(partner)) if !index.partners.contains_key(partner) => {
                Verdict::stalled("UnknownPartner", format!("spec.partnerRef: partner '{partner}' does not exist"))
            }
            (None, _) => Verdict::ready("Selected", format!("selects {matched} tenants")),
        };
        conditions.readiness(&verdict);
        plan.policies.insert(
            policy.name_any(),
            GovernancePolicyStatus {
                observed_generation: policy.metadata.generation,
                matched_tenants: matched,
                conditions: conditions.finish(),
            },
        );
    }
}

/// Each approval's status: whether the workflow generation it approves exists.
fn approvals(world: &World, index: &Index, now: &str, plan: &mut Plan) {
    for approval in &world.approvals {
        let namespace = approval.namespace().unwrap_or_default();
        let previous = approval.status.as_ref().map(|s| s.conditions.as_slice()).unwrap_or_default();
        let mut conditions = Conditions::new(previous, now, approval.metadata.generation);
        let workflow = index.workflows.get(&(namespace.clone(), approval.spec.workflow.clone()));
        let verdict = match workflow {
            None => Verdict::stalled(
                "UnknownWorkflow",
                format!("spec.workflow: no workflow '{}' in namespace '{namespace}'", approval.spec.workflow),
            ),
            Some(workflow) if workflow.metadata.generation.is_some_and(|g| g < approval.spec.generation) => {
                Verdict::stalled(
                    "FutureGeneration",
                    format!(
                        "spec.generation {} is newer than workflow '{}' (generation {})",
                        approval.spec.generation,
                        approval.spec.workflow,
                        workflow.metadata.generation.unwrap_or_default()
                    ),
                )
            }
            Some(_) => Verdict::ready("Recorded", format!("approves generation {}", approval.spec.generation)),
        };
        conditions.readiness(&verdict);
        plan.approvals.insert(
            (namespace, approval.name_any()),
            ApprovalStatus { observed_generation: approval.metadata.generation, conditions: conditions.finish() },
        );
    }
}
