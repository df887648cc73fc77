//! Billing for one tenant within a plan: its history brought up to the plan's instant, and
//! the BillingRecords that history implies.

use super::history::{self, HistoryProblem, RunHistory, TierObservation, WorkflowFacts};
use super::ledger::TierPrices;
use super::period::Period;
use super::records::{self, ClosingRules, TenantAccount};
use super::sla;
use crate::model::{Index, TenantResolution, WorkflowDecision};
use crate::world::{FinishedRun, NamespacedName, WorkloadState};
use jiff::Timestamp;
use kube_core::ResourceExt;
use std::collections::BTreeMap;
use tenantry_api::tenant::{
    MonthlyUsage, RunsCounted, SlaAttainment, TierHistoryEntry, Unavailability, WorkflowActivity,
};
use tenantry_api::{BillingRecord, ServiceTier, WorkflowPhase};

/// What billing adds to a tenant's plan.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TenantBilling {
    /// `status.tierHistory`, with this observation.
    pub tier_history: Vec<TierHistoryEntry>,
    /// `status.workflowActivity`, with this observation.
    pub workflow_activity: Vec<WorkflowActivity>,
    /// `status.usage`, with the runs observed now.
    pub usage: Vec<MonthlyUsage>,
    /// `status.runsCounted`, with the runs observed now.
    pub runs_counted: Vec<RunsCounted>,
    /// `status.billingClosedThrough`, with the records observed now.
    pub closed_through: Option<String>,
    /// The records to write (open ones and those closing now; never one observed closed).
    pub records: Vec<BillingRecord>,
    /// Why no record could be computed, naming the field at fault.
    pub problem: Option<HistoryProblem>,
    /// Adjustments no record will carry, each naming its field and why.
    pub refused_adjustments: Vec<String>,
    /// `status.unavailability`, with this observation.
    pub unavailability: Vec<Unavailability>,
    /// The current month's attainment against the tier's target (`status.sla`).
    pub sla: Option<SlaAttainment>,
    /// Each measured workflow's attainment this month, by name.
    pub workflow_sla: BTreeMap<String, SlaAttainment>,
}

/// A tier's prices as billing reads them.
pub fn prices_of(tier: &ServiceTier) -> TierPrices {
    let pricing = &tier.spec.pricing;
    TierPrices {
        tier: tier.name_any(),
        display_name: tier.spec.display_name.clone(),
        level: tier.spec.level,
        monthly_base_fee: pricing.monthly_base_fee,
        monthly_fee_per_active_workflow: pricing.monthly_fee_per_active_workflow,
        included_runs_per_month: pricing.included_runs_per_month,
        price_per_thousand_extra_runs: pricing.price_per_thousand_extra_runs,
        sla: tier.spec.sla.as_ref().and_then(|sla| crate::sla_terms::terms(sla).ok()),
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
    workloads: &BTreeMap<NamespacedName, WorkloadState>,
    index: &Index<'_>,
    rules: ClosingRules,
    now: Timestamp,
) -> TenantBilling {
    let previous = tenant.tenant.status.clone().unwrap_or_default();
    let now_text = crate::format_time(now);
    let existing: BTreeMap<String, BillingRecord> = index
        .billing_records_by_tenant
        .get(&tenant.name)
        .into_iter()
        .flatten()
        .map(|r| (r.name_any(), (*r).clone()))
        .collect();
    let declared = declared_workflows(tenant, decisions);
    let (tier_history, running) = match &tenant.state {
        Ok(resolved) => {
            let observed = TierObservation {
                tier: &resolved.tier.name_any(),
                level: resolved.tier.spec.level,
                suspended: tenant.tenant.spec.suspended,
            };
            let history = history::observe_tier(&previous.tier_history, observed, &now_text);
            let running: BTreeMap<String, WorkflowFacts> = declared
                .iter()
                .filter(|(_, (phase, _))| *phase == WorkflowPhase::Running)
                .map(|(name, (_, facts))| (name.clone(), *facts))
                .collect();
            (history, Some(running))
        }
        Err(_) => (previous.tier_history.clone(), None),
    };
    let current: BTreeMap<String, WorkflowFacts> =
        declared.iter().map(|(name, (_, facts))| (name.clone(), *facts)).collect();
    let (finished, runs_pending) = finished_runs(tenant, &declared, workloads);
    let schedules = schedules_of(tenant, decisions);
    let available: BTreeMap<String, bool> = declared
        .keys()
        .filter_map(|name| {
            let state = workloads.get(&(tenant.namespace.clone(), name.clone()))?;
            Some((name.clone(), state.available?))
        })
        .collect();
    // The operator's last sign of life: the newest instant one of the tenant's records was
    // billed up to (open records move once per refresh interval).
    let last_seen = existing
        .values()
        .filter_map(|r| r.status.as_ref()?.billed_until.as_deref()?.parse::<Timestamp>().ok())
        .max()
        .map(|seen| (seen, rules.refresh));
    let partner = index.partners.get(&tenant.tenant.spec.partner_ref);
    let account = TenantAccount {
        tenant: &tenant.name,
        partner: &tenant.tenant.spec.partner_ref,
        currency: partner.map(|p| p.spec.currency.as_str()).unwrap_or_default(),
        discount_percent: tenant.tenant.spec.contract.as_ref().map_or(0, |c| i64::from(c.discount_percent)),
        tier_history: &tier_history,
        workflow_activity: &previous.workflow_activity,
        deleted_at: tenant.tenant.metadata.deletion_timestamp.as_ref().map(|t| t.0),
        usage: &previous.usage,
        adjustments: &tenant.tenant.spec.billing_adjustments,
        workflows: &current,
        closed_through: previous.billing_closed_through.as_deref().and_then(|p| p.parse::<Period>().ok()),
        runs_pending,
        unavailability: &previous.unavailability,
        schedules: &schedules,
    };
    let oldest_open = records::oldest_open_period(&account, &existing, now);
    let closed_through = records::closed_through(&account, &existing, now);
    let keep_from = oldest_open.map(|p| p.start());
    let previous_runs = RunHistory { usage: previous.usage.clone(), counted: previous.runs_counted.clone() };
    let (workflow_activity, runs, unavailability) = match &running {
        Some(running) => {
            let activity = history::observe_activity(&previous.workflow_activity, running, &now_text, keep_from);
            let observation = sla::Observation { available: &available, last_seen, now, keep_from };
            let (activity, unavailability) = sla::observe(&activity, &previous.unavailability, &observation);
            (
                activity,
                history::observe_runs(
                    &previous_runs,
                    &finished,
                    &declared.keys().cloned().collect(),
                    &rules,
                    oldest_open,
                    now,
                ),
                unavailability,
            )
        }
        None => (previous.workflow_activity.clone(), previous_runs, previous.unavailability.clone()),
    };
    let account = TenantAccount {
        workflow_activity: &workflow_activity,
        usage: &runs.usage,
        unavailability: &unavailability,
        ..account
    };
    let target = match &tenant.state {
        Ok(resolved) => resolved.tier.spec.sla.as_ref().and_then(|sla| crate::sla_terms::terms(sla).ok()),
        Err(_) => None,
    }
    .map(|terms| terms.target_pcm);
    let period = Period::containing(now);
    let history = sla::SlaHistory {
        activity: &workflow_activity,
        unavailability: &unavailability,
        usage: &runs.usage,
        schedules: &schedules,
    };
    // Measured up to the same refresh floor the open record is billed to, so a steady tenant's
    // status (and its SLA figures) change once per refresh interval, not on every reconcile.
    // A run due in the last grace period may still be running: it is expected once that passed.
    let measured_until = sla::measured_until(now, rules.refresh);
    let figures = sla::figures(&history, period, measured_until, measured_until - rules.grace);
    let workflow_sla: BTreeMap<String, SlaAttainment> =
        figures.iter().map(|(name, figure)| (name.clone(), figure.status(period, target, None))).collect();
    let tenant_sla = match sla::lowest(&figures) {
        Some((workflow, figure)) => Some(figure.status(period, target, Some(workflow))),
        None => target.map(|target_pcm| SlaAttainment {
            period: period.to_string(),
            target_pcm: Some(target_pcm),
            ..SlaAttainment::default()
        }),
    };
    let prices = |name: &str| index.tiers.get(name).map(|tier| prices_of(tier));
    let (records, problem) = match partner {
        None => (Vec::new(), None),
        Some(_) => match records::records(&account, prices, &existing, rules, now) {
            Ok(records) => (records, None),
            Err(problem) => (Vec::new(), Some(problem)),
        },
    };
    let refused_adjustments = records::refused_adjustments(&account, &existing);
    TenantBilling {
        tier_history,
        workflow_activity,
        usage: runs.usage,
        runs_counted: runs.counted,
        closed_through: closed_through.map(|p| p.to_string()),
        records,
        problem,
        refused_adjustments,
        unavailability,
        sla: tenant_sla,
        workflow_sla,
    }
}

/// Each declared scheduled workflow's cron expression and time zone.
fn schedules_of(
    tenant: &TenantResolution<'_>,
    decisions: &BTreeMap<NamespacedName, WorkflowDecision<'_, '_>>,
) -> BTreeMap<String, sla::Schedule> {
    if !tenant.owns_namespace {
        return BTreeMap::new();
    }
    decisions
        .range((tenant.namespace.clone(), String::new())..)
        .take_while(|((namespace, _), _)| namespace == &tenant.namespace)
        .filter_map(|((_, name), decision)| {
            let schedule = decision.workflow.spec.trigger.schedule.as_ref()?;
            Some((name.clone(), (schedule.cron.clone(), schedule.time_zone.clone())))
        })
        .collect()
}

/// The workflows of the tenant's namespace, with their phase and what billing keeps of them.
fn declared_workflows(
    tenant: &TenantResolution<'_>,
    decisions: &BTreeMap<NamespacedName, WorkflowDecision<'_, '_>>,
) -> BTreeMap<String, (WorkflowPhase, WorkflowFacts)> {
    if !tenant.owns_namespace {
        return BTreeMap::new();
    }
    decisions
        .range((tenant.namespace.clone(), String::new())..)
        .take_while(|((namespace, _), _)| namespace == &tenant.namespace)
        .map(|((_, name), decision)| (name.clone(), (decision.phase, facts_of(decision))))
        .collect()
}

/// What a workflow's workload requests over every replica, and whether it is scheduled.
fn facts_of(decision: &WorkflowDecision<'_, '_>) -> WorkflowFacts {
    let trigger = &decision.workflow.spec.trigger;
    let replicas = match (&trigger.continuous, &trigger.event) {
        (Some(continuous), _) => continuous.replicas,
        (None, Some(event)) => event.replicas,
        (None, None) => 1,
    };
    let amount = |quantity: &k8s_openapi::apimachinery::pkg::api::resource::Quantity, per: i128| {
        let milli = crate::quantity::parse(&quantity.0).map(|m| m.0).unwrap_or(0);
        let whole = (milli + per - 1).div_euclid(per) * i128::from(replicas.max(0));
        i64::try_from(whole).unwrap_or(i64::MAX)
    };
    match &decision.resources {
        Some(resources) => WorkflowFacts {
            cpu_millicores: amount(&resources.cpu, 1),
            memory_bytes: amount(&resources.memory, 1000),
            scheduled: trigger.schedule.is_some(),
        },
        None => WorkflowFacts { scheduled: trigger.schedule.is_some(), ..WorkflowFacts::default() },
    }
}

/// The finished runs of each scheduled workflow whose Jobs are observed, and whether some
/// scheduled workflow's workload is observed while its Jobs are not listed yet.
fn finished_runs(
    tenant: &TenantResolution<'_>,
    declared: &BTreeMap<String, (WorkflowPhase, WorkflowFacts)>,
    workloads: &BTreeMap<NamespacedName, WorkloadState>,
) -> (BTreeMap<String, Vec<FinishedRun>>, bool) {
    let mut finished = BTreeMap::new();
    let mut pending = false;
    for name in declared.iter().filter(|(_, (_, facts))| facts.scheduled).map(|(name, _)| name) {
        let Some(workload) = workloads.get(&(tenant.namespace.clone(), name.clone())) else { continue };
        match &workload.finished_runs {
            Some(runs) => {
                finished.insert(name.clone(), runs.clone());
            }
            None => pending = true,
        }
    }
    (finished, pending)
}

#[cfg(test)]
mod tests {
    use crate::fixtures;
    use crate::world::World;
    use jiff::Timestamp;
    use std::collections::BTreeMap;
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

    /// Runs every `minutes` from `from` (inclusive) to `to` (exclusive), each ending a minute later.
    fn runs_between(from: &str, to: &str, minutes: i64) -> Vec<crate::FinishedRun> {
        let (from, to) = (at(from), at(to));
        let step = jiff::SignedDuration::from_mins(minutes);
        std::iter::successors(Some(from), |t| Some(*t + step))
            .take_while(|t| *t < to)
            .map(|scheduled| crate::FinishedRun {
                scheduled,
                succeeded: true,
                ended: Some(scheduled + jiff::SignedDuration::from_mins(1)),
            })
            .collect()
    }

    /// The cluster holds every Job of `orders` finished by `now`.
    fn jobs_until(world: &mut World, now: &str, all: &[crate::FinishedRun]) {
        let held: Vec<_> = all.iter().filter(|r| r.ended.unwrap_or(r.scheduled) <= at(now)).cloned().collect();
        world.workloads.insert(
            ("tenant-shop".into(), "orders".into()),
            crate::WorkloadState { running: true, finished_runs: Some(held), ..Default::default() },
        );
    }

    fn record<'a>(world: &'a World, name: &str) -> &'a tenantry_api::BillingRecord {
        world.billing_records.iter().find(|r| r.metadata.name.as_deref() == Some(name)).unwrap()
    }

    /// A scheduled `orders` and an upgrade to `plus` on the 11th: basic includes 1,000 runs a
    /// month and charges 1.00 per 1,000 beyond; plus includes 3,000 and charges 2.00.
    fn scheduled_fleet() -> World {
        let mut world = fixtures::fleet();
        world.workflows[0].spec.trigger = fixtures::schedule("*/10 * * * *", None);
        let mut plus = fixtures::tier("plus", "acme", &[tenantry_api::WorkflowCategory::OrderToCash], 2);
        plus.spec.level = 2;
        plus.spec.pricing.monthly_base_fee = 20_000;
        plus.spec.pricing.included_runs_per_month = 3_000;
        plus.spec.pricing.price_per_thousand_extra_runs = 200;
        world.tiers.push(plus);
        world
    }

    #[test]
    fn runs_are_kept_per_month_on_the_tenant_and_billed_beyond_the_prorated_allowance() {
        let mut world = scheduled_fleet();
        // 4,000 runs, one every ten minutes from 1 November 00:00 (the last on the 28th).
        let all = runs_between("2026-11-01T00:00:00Z", "2026-11-28T18:40:00Z", 10);
        assert_eq!(all.len(), 4_000);
        jobs_until(&mut world, "2026-11-01T00:00:00Z", &all);
        observe(&mut world, "2026-11-01T00:00:00Z");
        jobs_until(&mut world, "2026-11-11T00:00:00Z", &all);
        observe(&mut world, "2026-11-11T00:00:00Z");
        world.tenants[0].spec.tier_ref = "plus".into();
        observe(&mut world, "2026-11-11T00:00:00Z");
        jobs_until(&mut world, "2026-11-21T00:00:00Z", &all);
        observe(&mut world, "2026-11-21T00:00:00Z");
        let status = world.tenants[0].status.clone().unwrap();
        assert_eq!(status.usage.len(), 1);
        assert_eq!((status.usage[0].period.as_str(), status.usage[0].runs), ("2026-11", 2_880), "20 days × 144");
        // Planned again with the same Jobs (a restarted operator): nothing is counted twice.
        observe(&mut world, "2026-11-21T00:10:00Z");
        assert_eq!(world.tenants[0].status.as_ref().unwrap().usage[0].runs, 2_880);
        jobs_until(&mut world, "2026-12-01T00:00:00Z", &all);
        observe(&mut world, "2026-12-01T02:00:00Z");
        let november = record(&world, "shop-2026-11");
        assert_eq!(november.status.as_ref().and_then(|s| s.phase), Some(BillingPhase::Closed));
        // Included: 1,000 × 10/30 + 3,000 × 20/30 = 2,333.333; 1,666.667 beyond at plus's
        // 2.00 per 1,000 = 3.333, rounded once to 3.33.
        let usage = november.spec.line_items.iter().find(|l| l.layer == BillingLayer::Usage).unwrap();
        assert_eq!((usage.amount, usage.quantity_milli, usage.unit_price), (333, 1_667, 200));
        assert_eq!(november.spec.consumption.as_ref().unwrap().runs, 4_000);
        // Once November is observed Closed, its usage stays one month more (adoption looks
        // back 30 days), then goes.
        observe(&mut world, "2026-12-01T03:00:00Z");
        let status = world.tenants[0].status.clone().unwrap();
        assert_eq!(status.billing_closed_through.as_deref(), Some("2026-11"));
        assert_eq!(status.usage.iter().map(|u| u.period.as_str()).collect::<Vec<_>>(), ["2026-11", "2026-12"]);
        observe(&mut world, "2027-01-01T02:00:00Z");
        observe(&mut world, "2027-01-01T03:00:00Z");
        let status = world.tenants[0].status.clone().unwrap();
        assert_eq!(status.usage.iter().map(|u| u.period.as_str()).collect::<Vec<_>>(), ["2026-12", "2027-01"]);
        assert_eq!(status.runs_counted[0].through, "2026-11-28T18:30:00Z");
    }

    #[test]
    fn an_open_record_takes_in_runs_once_per_refresh_interval() {
        let mut world = scheduled_fleet();
        let all = runs_between("2026-11-01T00:00:00Z", "2026-11-02T00:00:00Z", 10);
        jobs_until(&mut world, "2026-11-01T10:00:00Z", &all);
        observe(&mut world, "2026-11-01T10:00:30Z");
        let first = record(&world, "shop-2026-11").clone();
        assert_eq!(first.status.as_ref().and_then(|s| s.billed_until.clone()).as_deref(), Some("2026-11-01T10:00:00Z"));
        assert_eq!(first.spec.consumption.as_ref().map(|c| c.runs), Some(60));
        // Runs finish during the hour: the tenant counts them, the open record stays as it was.
        jobs_until(&mut world, "2026-11-01T10:45:00Z", &all);
        observe(&mut world, "2026-11-01T10:45:30Z");
        assert_eq!(world.tenants[0].status.as_ref().unwrap().usage[0].runs, 65);
        assert_eq!(record(&world, "shop-2026-11"), &first, "no rewrite within the interval");
        // The next hour's refresh takes them in.
        observe(&mut world, "2026-11-01T11:00:30Z");
        assert_eq!(record(&world, "shop-2026-11").spec.consumption.as_ref().map(|c| c.runs), Some(65));
    }

    #[test]
    fn records_carry_what_the_tenant_used_and_how_many_scheduled_workflows_ran() {
        let mut world = scheduled_fleet();
        // A second scheduled workflow that never runs.
        let mut idle = fixtures::workflow("idle", "tenant-shop");
        idle.spec.trigger = fixtures::schedule("0 0 1 1 *", None);
        world.workflows.push(idle);
        world.workloads.insert(
            ("tenant-shop".into(), "idle".into()),
            crate::WorkloadState { running: true, finished_runs: Some(vec![]), ..Default::default() },
        );
        let all = runs_between("2026-11-01T00:00:00Z", "2026-11-03T00:00:00Z", 60);
        jobs_until(&mut world, "2026-11-01T00:00:00Z", &all);
        observe(&mut world, "2026-11-01T00:00:00Z");
        jobs_until(&mut world, "2026-11-03T00:00:00Z", &all);
        observe(&mut world, "2026-11-03T00:00:00Z");
        let open = record(&world, "shop-2026-11");
        let adoption = open.spec.recurring.as_ref().unwrap().adoption.clone().unwrap();
        assert_eq!((adoption.deployed, adoption.with_recent_run), (2, 1), "idle has not run");
        // Each runs 100m and 128Mi (the tier's default) for two days so far.
        let consumption = open.spec.consumption.clone().unwrap();
        assert_eq!(consumption.cpu_millicore_seconds, 2 * 100 * 2 * 86_400);
        assert_eq!(consumption.memory_kibibyte_seconds, 2 * 128 * 1024 * 2 * 86_400);
        assert_eq!(consumption.tiers[0].level, 1);
        assert_eq!(consumption.tiers[0].seconds, 2 * 86_400);
        assert_eq!(consumption.runs, 48);
        // 31 days after its last run, orders no longer counts as adopted.
        observe(&mut world, "2026-12-03T00:00:00Z");
        let december = record(&world, "shop-2026-12");
        let adoption = december.spec.recurring.as_ref().unwrap().adoption.clone().unwrap();
        assert_eq!((adoption.deployed, adoption.with_recent_run), (2, 0));
    }

    #[test]
    fn an_operator_down_over_the_month_end_closes_the_same_record_with_the_same_runs() {
        // Hourly runs all November, and a month-end run that ends after the grace hour.
        let mut all = runs_between("2026-11-01T00:00:00Z", "2026-11-30T23:00:00Z", 60);
        all.push(crate::FinishedRun {
            scheduled: at("2026-11-30T23:30:00Z"),
            succeeded: true,
            ended: Some(at("2026-12-01T01:30:00Z")),
        });
        let mut up = scheduled_fleet();
        let mut down = scheduled_fleet();
        for world in [&mut up, &mut down] {
            jobs_until(world, "2026-11-01T00:00:00Z", &all);
            observe(world, "2026-11-01T00:00:00Z");
        }
        for now in ["2026-11-10T00:00:00Z", "2026-11-20T05:00:00Z", "2026-12-01T00:30:00Z", "2026-12-01T01:00:00Z"] {
            jobs_until(&mut up, now, &all);
            observe(&mut up, now);
        }
        // The month-end run's Job is seen finished only from 01:30.
        jobs_until(&mut up, "2026-12-01T02:00:00Z", &all);
        observe(&mut up, "2026-12-01T02:00:00Z");
        jobs_until(&mut down, "2026-12-03T00:00:00Z", &all);
        observe(&mut down, "2026-12-03T00:00:00Z");
        let november = |world: &World| serde_json::to_value(record(world, "shop-2026-11")).unwrap();
        assert_eq!(november(&up), november(&down));
        assert_eq!(record(&up, "shop-2026-11").spec.consumption.as_ref().map(|c| c.runs), Some(719));
        let december = |world: &World| {
            world.tenants[0].status.as_ref().unwrap().usage.iter().find(|u| u.period == "2026-12").map(|u| u.runs)
        };
        assert_eq!((december(&up), december(&down)), (Some(1), Some(1)), "the late run is December's");
    }

    #[test]
    fn no_record_closes_before_the_runs_of_its_month_are_known() {
        let mut world = scheduled_fleet();
        observe(&mut world, "2026-11-01T00:00:00Z");
        // An operator that just started: the CronJob is observed, its Jobs not listed yet.
        world.workloads.insert(
            ("tenant-shop".into(), "orders".into()),
            crate::WorkloadState { running: true, finished_runs: None, ..Default::default() },
        );
        observe(&mut world, "2026-12-01T02:00:00Z");
        let november = record(&world, "shop-2026-11");
        assert_eq!(november.status.as_ref().and_then(|s| s.phase), Some(BillingPhase::Open));
        let all = runs_between("2026-11-30T23:00:00Z", "2026-12-01T00:00:00Z", 60);
        jobs_until(&mut world, "2026-12-01T00:00:00Z", &all);
        observe(&mut world, "2026-12-01T02:00:05Z");
        let november = record(&world, "shop-2026-11");
        assert_eq!(november.status.as_ref().and_then(|s| s.phase), Some(BillingPhase::Closed));
        assert_eq!(november.status.as_ref().and_then(|s| s.closed_at.clone()).as_deref(), Some("2026-12-01T01:00:00Z"));
        assert_eq!(november.spec.consumption.as_ref().unwrap().runs, 1, "the run of the 30th is in");
    }

    #[test]
    fn a_tenant_created_again_in_the_same_month_gets_its_own_record() {
        let mut world = fixtures::fleet();
        observe(&mut world, "2026-11-01T00:00:00Z");
        // Deleted on the 10th: its final record closes then.
        world.tenants[0].metadata.deletion_timestamp =
            Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(at("2026-11-10T00:00:00Z")));
        observe(&mut world, "2026-11-10T00:00:05Z");
        let first = record(&world, "shop-2026-11").clone();
        assert_eq!(first.status.as_ref().and_then(|s| s.closed_at.clone()).as_deref(), Some("2026-11-10T00:00:00Z"));
        // Created again under the same name on the 12th, with a fresh status.
        world.tenants = vec![fixtures::tenant("shop", "acme", "basic")];
        observe(&mut world, "2026-11-12T00:00:00Z");
        observe(&mut world, "2026-11-20T00:00:00Z");
        let second = record(&world, "shop-2026-11-2");
        assert_eq!(second.status.as_ref().and_then(|s| s.phase), Some(BillingPhase::Open));
        assert_eq!(record(&world, "shop-2026-11"), &first, "the first tenant's final record is untouched");
        observe(&mut world, "2026-12-01T02:00:00Z");
        let second = record(&world, "shop-2026-11-2").clone();
        assert_eq!(second.status.as_ref().and_then(|s| s.phase), Some(BillingPhase::Closed));
        // 9 days of the first (100.00 a month, 10.00 for its workflow), 19 of the second.
        assert_eq!(first.spec.total, 3_000 + 300);
        assert_eq!(second.spec.total, 6_333 + 633);
        // December is the second tenant's alone, under the plain name.
        assert!(world.billing_records.iter().any(|r| r.metadata.name.as_deref() == Some("shop-2026-12")));
        // Revenue adds the two bills up and takes the run-rate of the later one.
        let month =
            crate::billing::revenue::revenue(&world.billing_records, "acme", None, "2026-11".parse().unwrap(), 1)
                .remove(0);
        assert_eq!(month.billed, first.spec.total + second.spec.total);
        assert_eq!((month.mrr, month.accounts), (11_000, 1));
        // A third tenant of that name whose history begins after both closed would be `-3`.
        let existing: BTreeMap<String, tenantry_api::BillingRecord> = world
            .billing_records
            .iter()
            .filter(|r| r.spec.period == "2026-11")
            .map(|r| (r.metadata.name.clone().unwrap(), r.clone()))
            .collect();
        let history = [tenantry_api::tenant::TierHistoryEntry {
            tier: "basic".into(),
            level: Some(1),
            since: "2026-12-01T03:00:00Z".into(),
            suspended: false,
        }];
        let workflows = BTreeMap::new();
        let account = crate::billing::records::TenantAccount {
            tenant: "shop",
            partner: "acme",
            currency: "EUR",
            discount_percent: 0,
            tier_history: &history,
            workflow_activity: &[],
            deleted_at: None,
            usage: &[],
            adjustments: &[],
            workflows: &workflows,
            closed_through: None,
            runs_pending: false,
            unavailability: &[],
            schedules: &BTreeMap::new(),
        };
        let name = crate::billing::records::record_name_for(&account, "2026-11".parse().unwrap(), &existing);
        assert_eq!(name, "shop-2026-11-3");
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

    /// `fleet` with an SLA on basic: 99.9 %, credits of 10 % below 99.5 % and 25 % below 99 %.
    /// Open records refresh every 40 days, so the days between these tests' observations
    /// are not a silence of the operator (see `time_the_operator_did_not_watch_counts_neither_way`).
    fn with_sla(mut world: World) -> World {
        world.billing.refresh = jiff::SignedDuration::from_hours(40 * 24);
        world.tiers[0].spec.sla = Some(tenantry_api::tier::TierSla {
            availability_target: "99.9".into(),
            exception_response_minutes: 60,
            reporting_cadence: None,
            credit_bands: vec![
                tenantry_api::tier::CreditBand { below_percent: "99.5".into(), credit_percent: 10 },
                tenantry_api::tier::CreditBand { below_percent: "99".into(), credit_percent: 25 },
            ],
        });
        world
    }

    /// The cluster shows `orders`'s Deployment available or not.
    fn deployment(world: &mut World, available: bool) {
        world.workloads.insert(
            ("tenant-shop".into(), "orders".into()),
            crate::WorkloadState { running: available, available: Some(available), ..Default::default() },
        );
    }

    fn sla_of(world: &World) -> tenantry_api::tenant::SlaAttainment {
        world.tenants[0].status.as_ref().unwrap().sla.clone().unwrap()
    }

    fn breached(world: &World) -> Option<String> {
        let status = world.tenants[0].status.as_ref().unwrap();
        status.conditions.iter().find(|c| c.type_ == "SLABreached").map(|c| format!("{:?}", c.status))
    }

    /// November: the workflow rolls out for ten minutes (not counted), runs, is unavailable
    /// 03:00-10:12 on the 10th (7.2 hours, 1 % of 30 days), and is paused on the 20th for 5
    /// days (not counted either way), during which its Deployment is scaled to zero.
    fn an_unavailable_november(world: &mut World, observations: &[&str]) {
        observe(world, "2026-11-01T00:00:00Z");
        deployment(world, false);
        observe(world, "2026-11-01T00:05:00Z");
        deployment(world, true);
        observe(world, "2026-11-01T00:10:00Z");
        for now in observations.iter().filter(|t| **t < "2026-11-10T03:00:00Z") {
            observe(world, now);
        }
        deployment(world, false);
        observe(world, "2026-11-10T03:00:00Z");
        for now in observations.iter().filter(|t| **t > "2026-11-10T03:00:00Z" && **t < "2026-11-10T10:12:00Z") {
            observe(world, now);
        }
        deployment(world, true);
        observe(world, "2026-11-10T10:12:00Z");
        world.workflows[0].spec.paused = true;
        observe(world, "2026-11-20T00:00:00Z");
        deployment(world, false);
        observe(world, "2026-11-20T00:00:10Z");
        world.workflows[0].spec.paused = false;
        observe(world, "2026-11-25T00:00:00Z");
        deployment(world, true);
        observe(world, "2026-11-25T00:01:00Z");
    }

    #[test]
    fn a_steady_tenants_status_changes_once_an_hour_not_on_every_reconcile() {
        let mut world = with_sla(fixtures::fleet());
        world.billing.refresh = jiff::SignedDuration::from_hours(1);
        deployment(&mut world, true);
        observe(&mut world, "2026-11-10T12:00:00Z");
        observe(&mut world, "2026-11-10T12:05:00Z");
        let settled = world.tenants[0].status.clone();
        // Reconciled again and again within the hour, nothing changed: the same status, so
        // nothing to write (a restarted operator writes nothing to an unchanged fleet).
        for now in ["2026-11-10T12:06:00Z", "2026-11-10T12:31:17Z", "2026-11-10T12:59:59Z"] {
            observe(&mut world, now);
            assert_eq!(world.tenants[0].status, settled, "status moved at {now}");
        }
        observe(&mut world, "2026-11-10T13:00:00Z");
        assert_ne!(world.tenants[0].status, settled, "the next hour's figures");
    }

    #[test]
    fn availability_counts_the_active_time_after_rollout_and_a_closed_breach_earns_its_credit() {
        let mut world = with_sla(fixtures::fleet());
        an_unavailable_november(&mut world, &[]);
        observe(&mut world, "2026-11-26T00:01:00Z");
        // Should have run: from 00:10 on the 1st to the 20th, and from 00:01 on the 25th to the
        // last full hour, 00:00 on the 26th (the rollouts after a start are not counted): 19
        // days less 10 minutes, and a day less a minute.
        let sla = sla_of(&world);
        let expected = 20 * 86_400 - 600 - 60;
        assert_eq!((sla.expected, sla.achieved), (expected, expected - 25_920));
        assert_eq!(sla.attainment_pcm, Some(98_499), "98.4995 %, rounded down");
        assert!(sla.breached);
        assert_eq!(breached(&world).as_deref(), Some("True"));
        assert_eq!(sla.workflow.as_deref(), Some("orders"));
        let plan = crate::plan(&world, at("2026-11-26T00:02:00Z"));
        let workflow = &plan.workflows[&("tenant-shop".to_string(), "orders".to_string())];
        assert_eq!(workflow.sla.as_ref().and_then(|s| s.attainment_pcm), Some(98_499));
        assert!(workflow.conditions.iter().any(|c| c.type_ == "SLABreached" && c.reason == "BelowTarget"));
        // The open record carries no credit; the closed one does: the month ends at
        // (25,920 down of 2,505,000 − ...): below 99 %, 25 % of the platform fee (100.00).
        assert!(!amounts(&world, "shop-2026-11").iter().any(|(layer, _)| *layer == BillingLayer::SlaCredit));
        observe(&mut world, "2026-12-01T01:00:00Z");
        let november = record(&world, "shop-2026-11").clone();
        assert_eq!(november.status.as_ref().and_then(|s| s.phase), Some(BillingPhase::Closed));
        let lines = amounts(&world, "shop-2026-11");
        assert_eq!(lines[0], (BillingLayer::Platform, 10_000));
        assert_eq!(lines.last(), Some(&(BillingLayer::SlaCredit, -2_500)));
        assert_eq!(november.spec.total, lines.iter().map(|(_, a)| a).sum::<i64>());
        // December starts clean: nothing measured, no breach.
        observe(&mut world, "2026-12-01T02:00:00Z");
        assert_eq!(sla_of(&world).period, "2026-12");
        let status = world.tenants[0].status.clone().unwrap();
        assert!(status.unavailability.is_empty(), "November is closed: its spans are dropped");
        assert_eq!(record(&world, "shop-2026-11"), &november, "a closed record is never rewritten");
        let revenue =
            crate::billing::revenue::revenue(&world.billing_records, "acme", None, "2026-11".parse().unwrap(), 1);
        assert_eq!(revenue[0].credits, -2_500);
    }

    #[test]
    fn observing_often_or_only_at_each_change_gives_the_same_figures_and_the_same_credit() {
        let mut often = with_sla(fixtures::fleet());
        let mut rarely = with_sla(fixtures::fleet());
        let hourly: Vec<String> =
            (0..24 * 9).map(|h| format!("2026-11-{:02}T{:02}:30:00Z", 1 + h / 24, h % 24)).collect();
        let hourly: Vec<&str> = hourly.iter().map(String::as_str).filter(|t| *t > "2026-11-01T00:10:00Z").collect();
        an_unavailable_november(&mut often, &hourly);
        an_unavailable_november(&mut rarely, &[]);
        for world in [&mut often, &mut rarely] {
            observe(world, "2026-12-01T01:00:00Z");
        }
        assert_eq!(record(&often, "shop-2026-11"), record(&rarely, "shop-2026-11"));
    }

    #[test]
    fn time_the_operator_did_not_watch_counts_neither_way() {
        // Hourly refresh: the open record moves each hour, the operator's sign of life.
        let mut world = with_sla(fixtures::fleet());
        world.billing.refresh = jiff::SignedDuration::from_hours(1);
        deployment(&mut world, true);
        for now in ["2026-11-01T00:00:00Z", "2026-11-01T01:00:00Z", "2026-11-01T02:00:00Z"] {
            observe(&mut world, now);
        }
        // Down from 02:00 on the 1st to the 4th: the Deployment looks available when it returns,
        // but nobody saw it in between.
        observe(&mut world, "2026-11-04T00:00:00Z");
        let status = world.tenants[0].status.clone().unwrap();
        assert_eq!(status.unavailability.len(), 1);
        let gap = &status.unavailability[0];
        assert_eq!(gap.cause, tenantry_api::tenant::UnavailabilityCause::Unobserved);
        assert_eq!(
            (gap.since.as_str(), gap.until.as_deref()),
            ("2026-11-01T03:00:00Z", Some("2026-11-04T00:00:00Z")),
            "from an interval after its last sign of life"
        );
        let sla = sla_of(&world);
        assert_eq!((sla.expected, sla.achieved), (3 * 3_600, 3 * 3_600));
        // Observed unavailable from then on: counted.
        deployment(&mut world, false);
        observe(&mut world, "2026-11-04T00:30:00Z");
        observe(&mut world, "2026-11-04T01:00:00Z");
        let sla = sla_of(&world);
        assert_eq!((sla.expected, sla.achieved), (4 * 3_600, 3 * 3_600 + 1_800));
        assert_eq!(breached(&world).as_deref(), Some("True"));
        deployment(&mut world, true);
        observe(&mut world, "2026-11-04T01:00:00Z");
        assert!(sla.breached, "still below over the month so far");
    }

    #[test]
    fn a_schedule_attains_its_succeeded_runs_over_the_runs_it_should_have_started() {
        let mut world = with_sla(scheduled_fleet());
        // Every ten minutes; 999 of the first 1,000 runs succeed.
        let mut all = runs_between("2026-11-01T00:00:00Z", "2026-11-07T22:40:00Z", 10);
        all[500].succeeded = false;
        jobs_until(&mut world, "2026-11-01T00:00:00Z", &all);
        observe(&mut world, "2026-11-01T00:00:00Z");
        jobs_until(&mut world, "2026-11-07T23:40:00Z", &all);
        observe(&mut world, "2026-11-07T23:40:00Z");
        // Measured to the last full hour (23:00), less an hour's grace for the runs in flight:
        // due by 22:00, 996 runs from 00:00 on the 1st; 999 succeeded so far (the later ones
        // included), capped at the 996 due.
        let sla = sla_of(&world);
        assert_eq!((sla.measure.as_deref(), sla.achieved, sla.expected), (Some("runs"), 996, 996));
        assert_eq!(sla.attainment_pcm, Some(100_000));
        assert!(!sla.breached);
        // Paused for a day: the runs it should not have started are not expected.
        world.workflows[0].spec.paused = true;
        observe(&mut world, "2026-11-08T00:00:00Z");
        world.workflows[0].spec.paused = false;
        observe(&mut world, "2026-11-09T00:00:00Z");
        let sla = sla_of(&world);
        assert_eq!(sla.expected, 7 * 144, "the 1st to the 7th; the 8th paused; the 9th's first run not due yet");
        assert!(sla.breached, "no new run succeeded: {sla:?}");
    }
}
