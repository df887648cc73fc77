//! The pure planner: declared objects, the history their statuses carry, and a clock in;
//! desired children, statuses and conditions out. No I/O and no clock of its own, so the
//! offline `tenantry plan` and the live controller reach the same answer from the same input.
//!
//! This crate depends on the API types, k8s-openapi, kube-core, jiff and serde only: no
//! tokio, no kube client, no clock (`.ci/run` checks its dependency tree).

#![forbid(unsafe_code)]
// Tests may unwrap: a panic there is a failed test.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

// Modules in layers; each uses only the layers below it, never one beside or above (within
// the bottom layer, `world` names `child` types and `slice` builds a `world`):
//
//   lib.rs (plan, fleet_statuses)   runs the layers below in order
//   build_tenant, build_workflow,   turn decisions into children and statuses
//     build_fleet, governance, audit
//   billing                         history and decisions into bills and revenue
//   gate                            decide: governance on each workflow (approvals, freezes, refusals)
//   resolve, workflows              decide: references, tiers, each workflow's phase
//   policy                          decide: which policies apply to a tenant, combined
//   model                           the decisions as data (Index, TenantResolution, WorkflowDecision)
//   parallel                        independent parts planned on every core, merged in order
//   world, child, conditions, meta, what the planner reads and answers, and the vocabulary:
//     labels, quantity, cron,         children, conditions, labels, quantities, schedules,
//     capabilities,                   what a workflow's features need from its tier,
//     freeze, templates, slice        change freezes, templates, and the slice of the world
//                                     one tenant needs
mod audit;
pub mod billing;
mod build_fleet;
mod build_tenant;
mod build_workflow;
pub mod capabilities;
mod child;
pub mod conditions;
pub mod cron;
pub mod freeze;
mod gate;
pub mod generate;
mod governance;
pub mod labels;
mod meta;
mod model;
mod parallel;
pub mod policy;
pub mod quantity;
mod resolve;
pub mod sla_terms;
pub mod slice;
pub mod templates;
mod workflows;
mod world;

pub use build_tenant::cluster_role;
pub use build_workflow::count_runs;
pub use child::{Child, ChildKind, ChildObject, Compact, OwnerKey};
pub use conditions::Verdict;
pub use policy::selector_matches;
pub use slice::{tenant_slice, Catalog};
pub use world::{ClosingRules, FinishedRun, NamespacedName, Plan, TenantPlan, WorkloadState, World};

use jiff::Timestamp;
use kube_core::ResourceExt;
use model::{TenantResolution, WorkflowDecision};

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

fn plan_parts(world: &World, instant: Timestamp, scope: Scope) -> Plan {
    let now = format_time(instant);
    let index = model::Index::new(world);
    let mut plan = Plan::default();

    // Decide.
    let tier_checks = resolve::tiers(&index);
    let tenants = resolve::tenants(&index, &tier_checks);
    let mut workflow_decisions = workflows::decide(&index, &tenants);
    gate::apply(&index, &mut workflow_decisions, instant);

    // Build.
    plan.namespace_owners =
        tenants.values().filter(|t| t.owns_namespace).map(|t| (t.namespace.clone(), t.name.clone())).collect();
    build_fleet::tiers(&index, &tier_checks, &now, &mut plan);
    // Each tenant's bills, children and status, then each workflow's children and status:
    // independent of one another, so planned on every core and merged in order.
    let tenant_list: Vec<&TenantResolution> = tenants.values().collect();
    let parts = parallel::fan_out(&tenant_list, |tenant, part: &mut Plan, sla: &mut Vec<_>| {
        // Bills are planned in both scopes: partners' revenue reads them.
        let mut billing =
            billing::tenant::plan(tenant, &workflow_decisions, &world.workloads, &index, world.billing, instant);
        if scope == Scope::Everything {
            tenant.plan_into(&workflow_decisions, &world.workloads, &billing, &now, part);
        }
        let records = std::mem::take(&mut billing.records);
        part.billing_records.extend(records.into_iter().map(|r| (r.name_any(), r)));
        sla.extend(billing.workflow_sla.into_iter().map(|(name, sla)| ((tenant.namespace.clone(), name), sla)));
    });
    let mut workflow_sla = Vec::new();
    for (part, sla) in parts {
        plan.absorb(part);
        workflow_sla.extend(sla);
    }
    let decision_list: Vec<(&NamespacedName, &WorkflowDecision)> = workflow_decisions.iter().collect();
    let parts = parallel::fan_out(&decision_list, |(key, decision), part: &mut Plan, _: &mut ()| {
        decision.plan_into(world.workloads.get(*key), instant, part);
    });
    for (part, ()) in parts {
        plan.absorb(part);
    }
    // Each measured workflow's attainment, and `SLABreached` on one below its tier's target.
    for (key, sla) in workflow_sla {
        let (Some(status), Some(decision)) = (plan.workflows.get_mut(&key), workflow_decisions.get(&key)) else {
            continue;
        };
        let previous = decision.workflow.status.as_ref().map(|s| s.conditions.as_slice()).unwrap_or_default();
        let mut conditions = conditions::Conditions::new(previous, &now, decision.workflow.metadata.generation);
        billing::sla::set_condition(&mut conditions, &sla, "the workflow's");
        let mut all = std::mem::take(&mut status.conditions);
        for condition in conditions.finish() {
            all.retain(|c| c.type_ != condition.type_);
            all.push(condition);
        }
        all.sort_by(|a, b| a.type_.cmp(&b.type_));
        status.conditions = all;
        status.sla = Some(sla);
    }
    build_fleet::partners(&index, instant, &now, &mut plan);
    governance::plan_into(world, &index, &tenants, &now, &mut plan);

    plan.children.sort_by(Child::apply_order);
    plan
}

/// The clock as the API writes it: RFC 3339 in UTC, whole seconds.
pub fn format_time(now: Timestamp) -> String {
    Timestamp::from_second(now.as_second()).unwrap_or(now).to_string()
}

#[cfg(any(test, feature = "fixtures"))]
pub mod fixtures;
#[cfg(test)]
mod governance_tests;
#[cfg(test)]
mod tests;
