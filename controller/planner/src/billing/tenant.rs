//! Billing for one tenant within a plan: its history brought up to the plan's instant, and
//! the BillingRecords that history implies.

use super::history::{self, HistoryProblem, TierObservation};
use super::ledger::TierPrices;
use super::records::{self, ClosingRules, TenantAccount};
use crate::model::{Index, TenantResolution, WorkflowDecision};
use crate::world::NamespacedName;
use jiff::Timestamp;
use kube_core::ResourceExt;
use std::collections::{BTreeMap, BTreeSet};
use tenantry_api::tenant::{TierHistoryEntry, WorkflowActivity};
use tenantry_api::{BillingRecord, ServiceTier, WorkflowPhase};

/// What billing adds to a tenant's plan.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TenantBilling {
    /// `status.tierHistory`, with this observation.
    pub tier_history: Vec<TierHistoryEntry>,
    /// `status.workflowActivity`, with this observation.
    pub workflow_activity: Vec<WorkflowActivity>,
    /// The records to write (open ones and those closing now; never one observed closed).
    pub records: Vec<BillingRecord>,
    /// Why no record could be computed, naming the field at fault.
    pub problem: Option<HistoryProblem>,
}

/// A tier's prices as billing reads them.
pub fn prices_of(tier: &ServiceTier) -> TierPrices {
    let pricing = &tier.spec.pricing;
    TierPrices {
        tier: tier.name_any(),
        display_name: tier.spec.display_name.clone(),
        monthly_base_fee: pricing.monthly_base_fee,
        monthly_fee_per_active_workflow: pricing.monthly_fee_per_active_workflow,
        included_runs_per_month: pricing.included_runs_per_month,
        price_per_thousand_extra_runs: pricing.price_per_thousand_extra_runs,
    }
}

/// Brings `tenant`'s billing history up to `now` and computes its records.
///
/// A tenant whose references do not resolve keeps its history as it was: its workloads are
/// frozen as they run, so it goes on being billed as before, and nothing a wrong input says
/// enters a bill. Its records are still computed from that history.
pub fn plan(
    tenant: &TenantResolution<'_>,
    decisions: &BTreeMap<NamespacedName, WorkflowDecision<'_, '_>>,
    index: &Index<'_>,
    rules: ClosingRules,
    now: Timestamp,
) -> TenantBilling {
    let previous = tenant.tenant.status.clone().unwrap_or_default();
    let now_text = crate::format_time(now);
    let existing: BTreeMap<String, BillingRecord> = index
        .billing_records
        .values()
        .filter(|r| r.spec.tenant_ref == tenant.name)
        .map(|r| (r.name_any(), (*r).clone()))
        .collect();
    let (tier_history, running) = match &tenant.state {
        Ok(resolved) => {
            let observed = TierObservation {
                tier: &resolved.tier.name_any(),
                level: resolved.tier.spec.level,
                suspended: tenant.tenant.spec.suspended,
            };
            let history = history::observe_tier(&previous.tier_history, observed, &now_text);
            (history, Some(running_workflows(tenant, decisions)))
        }
        Err(_) => (previous.tier_history.clone(), None),
    };
    let partner = index.partners.get(&tenant.tenant.spec.partner_ref);
    let account = TenantAccount {
        tenant: &tenant.name,
        partner: &tenant.tenant.spec.partner_ref,
        currency: partner.map(|p| p.spec.currency.as_str()).unwrap_or_default(),
        discount_percent: tenant.tenant.spec.contract.as_ref().map_or(0, |c| i64::from(c.discount_percent)),
        tier_history: &tier_history,
        workflow_activity: &previous.workflow_activity,
        deleted_at: tenant.tenant.metadata.deletion_timestamp.as_ref().map(|t| t.0),
    };
    let keep_from = records::oldest_open_period(&account, &existing, now).map(|p| p.start());
    let workflow_activity = match &running {
        Some(running) => history::observe_activity(&previous.workflow_activity, running, &now_text, keep_from),
        None => previous.workflow_activity.clone(),
    };
    let account = TenantAccount { workflow_activity: &workflow_activity, ..account };
    let prices = |name: &str| index.tiers.get(name).map(|tier| prices_of(tier));
    let (records, problem) = match partner {
        None => (Vec::new(), None),
        Some(_) => match records::records(&account, prices, &existing, rules, now) {
            Ok(records) => (records, None),
            Err(problem) => (Vec::new(), Some(problem)),
        },
    };
    TenantBilling { tier_history, workflow_activity, records, problem }
}

/// The workflows of the tenant's namespace that run now: phase Running.
fn running_workflows(
    tenant: &TenantResolution<'_>,
    decisions: &BTreeMap<NamespacedName, WorkflowDecision<'_, '_>>,
) -> BTreeSet<String> {
    if !tenant.owns_namespace {
        return BTreeSet::new();
    }
    decisions
        .range((tenant.namespace.clone(), String::new())..)
        .take_while(|((namespace, _), _)| namespace == &tenant.namespace)
        .filter(|(_, decision)| decision.phase == WorkflowPhase::Running)
        .map(|((_, name), _)| name.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use crate::fixtures;
    use crate::world::World;
    use jiff::Timestamp;
    use tenantry_api::billing::{BillingLayer, BillingPhase};

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    /// Plans `world` at `now` and feeds back the statuses and records the operator would
    /// have written, as a restarted operator would find them.
    fn observe(world: &mut World, now: &str) {
        let plan = crate::plan(world, at(now));
        for tenant in &mut world.tenants {
            tenant.status = plan.tenants.get(&tenant.metadata.name.clone().unwrap()).cloned();
        }
        for record in plan.billing_records.into_values() {
            world.billing_records.retain(|r| r.metadata.name != record.metadata.name);
            world.billing_records.push(record);
        }
    }

    fn amounts(world: &World, name: &str) -> Vec<(BillingLayer, i64)> {
        let record = world.billing_records.iter().find(|r| r.metadata.name.as_deref() == Some(name)).unwrap();
        record.spec.line_items.iter().map(|l| (l.layer, l.amount)).collect()
    }

    #[test]
    fn a_month_bills_the_base_fee_and_each_workflow_for_the_seconds_it_ran() {
        // basic: 100.00 a month, 10.00 per active workflow; November has 30 days.
        let mut world = fixtures::fleet();
        observe(&mut world, "2026-11-01T00:00:00Z");
        observe(&mut world, "2026-11-11T00:00:00Z");
        // The workflow is paused on the 11th, and the tenant suspended on the 21st.
        world.workflows[0].spec.paused = true;
        observe(&mut world, "2026-11-11T00:00:00Z");
        world.tenants[0].spec.suspended = true;
        observe(&mut world, "2026-11-21T00:00:00Z");
        observe(&mut world, "2026-12-01T01:00:00Z");
        // 20 billable days of 30 at 100.00; the workflow ran 10 days at 10.00.
        assert_eq!(
            amounts(&world, "shop-2026-11"),
            vec![(BillingLayer::Platform, 6_667), (BillingLayer::ManagedOperations, 333)]
        );
        let november = world.billing_records.iter().find(|r| r.spec.period == "2026-11").unwrap();
        assert_eq!(november.status.as_ref().and_then(|s| s.phase), Some(BillingPhase::Closed));
        let status = world.tenants[0].status.clone().unwrap();
        assert_eq!(status.tier_history.len(), 2, "on basic, then suspended: {:?}", status.tier_history);
        assert_eq!(status.workflow_activity.len(), 1, "kept until November is observed closed");
        observe(&mut world, "2026-12-01T02:00:00Z");
        let status = world.tenants[0].status.clone().unwrap();
        assert!(status.workflow_activity.is_empty(), "November is closed: its spans are dropped");
    }

    #[test]
    fn a_deleted_workflow_is_billed_for_the_time_it_ran() {
        let mut world = fixtures::fleet();
        observe(&mut world, "2026-11-01T00:00:00Z");
        world.workflows.clear();
        observe(&mut world, "2026-11-16T00:00:00Z");
        observe(&mut world, "2026-11-26T00:00:00Z");
        // 25 days of 30 so far (billed up to the hour); the workflow ran 15.
        assert_eq!(
            amounts(&world, "shop-2026-11"),
            vec![(BillingLayer::Platform, 8_333), (BillingLayer::ManagedOperations, 500)]
        );
    }

    #[test]
    fn a_broken_tier_reference_changes_no_history_and_the_bill_goes_on() {
        let mut world = fixtures::fleet();
        observe(&mut world, "2026-11-01T00:00:00Z");
        let before = world.tenants[0].status.clone().unwrap();
        world.tenants[0].spec.tier_ref = "typo".into();
        observe(&mut world, "2026-11-16T00:00:00Z");
        let after = world.tenants[0].status.clone().unwrap();
        assert_eq!(after.tier_history, before.tier_history);
        assert_eq!(after.workflow_activity, before.workflow_activity);
        assert_eq!(
            amounts(&world, "shop-2026-11"),
            vec![(BillingLayer::Platform, 5_000), (BillingLayer::ManagedOperations, 500)]
        );
    }

    #[test]
    fn planning_often_or_rarely_closes_the_same_record() {
        let mut often = fixtures::fleet();
        let mut rarely = fixtures::fleet();
        observe(&mut often, "2026-11-01T00:00:00Z");
        observe(&mut rarely, "2026-11-01T00:00:00Z");
        for day in 2..=30 {
            observe(&mut often, &format!("2026-11-{day:02}T07:13:00Z"));
        }
        observe(&mut often, "2026-12-01T02:00:00Z");
        observe(&mut rarely, "2026-12-03T00:00:00Z");
        let closed = |world: &World| {
            let record = world.billing_records.iter().find(|r| r.spec.period == "2026-11").unwrap();
            serde_json::to_value(record).unwrap()
        };
        assert_eq!(closed(&often), closed(&rarely));
    }
}
