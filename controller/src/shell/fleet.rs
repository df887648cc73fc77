//! The fleet-status loop: statuses that depend on the whole fleet rather than one tenant
//! (partner and tier counts, policies, approvals, workflows in namespaces of no tenant) and
//! the fleet gauges. Woken by changes, debounced, and run at least once a minute.

use super::cache::Caches;
use super::error::Error;
use super::http::Heartbeat;
use super::metrics::{
    FleetLabels, HeldLabels, KindLabels, Metrics, PartnerLabels, RateLabels, RevenueLabels, SlaLabels,
};
use super::reconcile::{sync_status, Context};
use crate::api::conditions::READY;
use crate::api::{Tenant, Workflow, WorkflowPhase};
use crate::planner;
use crate::planner::billing::{history, Period};
use kube::ResourceExt;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// How long changes are gathered before the loop runs, at least.
const DEBOUNCE: Duration = Duration::from_millis(500);
/// After a pass, changes are gathered for this many times as long as the pass took: a
/// fleet whose pass takes a second (10,000 tenants) spends at most a fifth of a core on it
/// while tenants converge, instead of planning the fleet again every half second.
const PAUSE_PER_PASS: u32 = 4;
/// The longest the loop sleeps without a change.
const PERIOD: Duration = Duration::from_secs(60);

/// Runs until `shutdown` resolves. Beats `heartbeat` after every pass.
pub async fn run(
    ctx: Arc<Context>,
    wake: Arc<Notify>,
    heartbeat: Heartbeat,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let mut shutdown = std::pin::pin!(shutdown);
    heartbeat.beat();
    let mut last_pass = Duration::ZERO;
    loop {
        let woken = tokio::select! {
            _ = wake.notified() => true,
            _ = tokio::time::sleep(PERIOD) => false,
            _ = &mut shutdown => return,
        };
        if woken {
            tokio::select! {
                _ = tokio::time::sleep(DEBOUNCE.max(last_pass * PAUSE_PER_PASS)) => {}
                _ = &mut shutdown => return,
            }
        }
        let started = Instant::now();
        let failures = once(&ctx).await;
        last_pass = started.elapsed();
        let outcome = failures.first().map(Error::metric_label).unwrap_or("ok");
        ctx.metrics.reconciled("fleet", outcome, started.elapsed().as_secs_f64());
        if !failures.is_empty() {
            let transient = failures.iter().all(Error::is_transient);
            tracing::warn!(
                failed = failures.len(),
                transient,
                "fleet status pass finished with failures; retrying on the next change or within a minute"
            );
        }
        heartbeat.beat();
    }
}

/// Writes one status if it changed; a failure is logged (at error when a human must act),
/// counted, and collected, and the pass goes on with the other objects.
async fn sync_one<K, S>(ctx: &Context, failures: &mut Vec<Error>, object: &K, current: Option<&S>, planned: &S)
where
    K: kube::Resource<DynamicType = ()>,
    S: serde::Serialize + PartialEq,
{
    if let Err(error) = sync_status(ctx, object, current, planned).await {
        let kind = K::kind(&()).to_string();
        Metrics::kind(&ctx.metrics.status_patch_errors, &kind).inc();
        let name = object.name_any();
        if error.is_transient() {
            tracing::warn!(%kind, %name, %error, "cannot write a fleet status; retrying on the next pass");
        } else {
            tracing::error!(%kind, %name, %error, "the API server refused a fleet status");
        }
        failures.push(error);
    }
}

/// One pass: plan the fleet-wide statuses and patch those that changed. A failed patch does
/// not stop the pass: every object is tried, and the failures are returned.
pub async fn once(ctx: &Context) -> Vec<Error> {
    let mut failures = Vec::new();
    let caches = &ctx.caches;
    let orphan_namespaces = caches.index().orphan_workflow_namespaces();
    let orphans: Vec<Workflow> = orphan_namespaces
        .iter()
        .flat_map(|namespace| planner::Catalog::workflows_in_namespace(caches, namespace))
        .collect();
    // Every workflow, tenant namespaces included (approvals are checked against them); only
    // the orphans' statuses are written here. Billing records are read for partners' revenue.
    let world = caches.fleet_world();
    // Seconds of work at 10,000 tenants: planned on the blocking pool, so the runtime's
    // workers keep serving reconciles, probes and the lease meanwhile.
    let now = jiff::Timestamp::now();
    let planned = tokio::task::spawn_blocking(move || {
        let plan = planner::fleet_statuses(&world, now);
        (world, plan)
    })
    .await;
    let (world, plan) = match planned {
        Ok(planned) => planned,
        // Only a bug panics in the planner: carry it on as if it had run here.
        Err(join) if join.is_panic() => std::panic::resume_unwind(join.into_panic()),
        // Cancelled: the runtime is shutting down.
        Err(_) => return failures,
    };
    for partner in world.partners.iter().filter(|p| ctx.serves(&p.name_any())) {
        if let Some(status) = plan.partners.get(&partner.name_any()) {
            sync_one(ctx, &mut failures, partner, partner.status.as_ref(), status).await;
        }
    }
    for tier in world.tiers.iter().filter(|t| ctx.serves(&t.spec.partner_ref)) {
        if let Some(status) = plan.tiers.get(&tier.name_any()) {
            sync_one(ctx, &mut failures, tier, tier.status.as_ref(), status).await;
        }
    }
    // Workflows of no tenant and policies belong to no partner: an operator that serves only
    // some partners leaves them to the one that serves all.
    if ctx.partners.is_empty() {
        for workflow in &orphans {
            if let Some(status) = plan.workflows.get(&(workflow.namespace().unwrap_or_default(), workflow.name_any())) {
                sync_one(ctx, &mut failures, workflow, workflow.status.as_ref(), status).await;
            }
        }
        for policy in &world.policies {
            if let Some(status) = plan.policies.get(&policy.name_any()) {
                sync_one(ctx, &mut failures, policy, policy.status.as_ref(), status).await;
            }
        }
    }
    for approval in approvals_served(&world, |partner| ctx.serves(partner), ctx.partners.is_empty()) {
        let namespace = approval.namespace().unwrap_or_default();
        if let Some(status) = plan.approvals.get(&(namespace, approval.name_any())) {
            sync_one(ctx, &mut failures, approval, approval.status.as_ref(), status).await;
        }
    }
    record_gauges(caches, &ctx.metrics);
    record_overdue_months(caches, &ctx.metrics, |partner| ctx.serves(partner), ctx.billing.grace, (ctx.clock)());
    record_revenue(&plan, &ctx.metrics);
    if let Some(retention) = ctx.billing.retention {
        let serves = |partner: &str| ctx.serves(partner);
        let now = (ctx.clock)();
        if let Err(error) =
            super::billing::retire_records(&ctx.client, caches, &ctx.metrics, serves, retention, now).await
        {
            tracing::warn!(%error, "retention: cannot delete an exported BillingRecord; retrying on the next pass");
            failures.push(error);
        }
    }
    failures
}

/// Fleet gauges from what the caches hold: tenants by readiness, workflows by phase, managed
/// objects by kind.
fn record_gauges(caches: &Caches, metrics: &Metrics) {
    let mut tenants: BTreeMap<(String, String), i64> = BTreeMap::new();
    let mut partner_of_namespace = BTreeMap::new();
    for tenant in caches.tenants.state() {
        let ready = tenant
            .status
            .as_ref()
            .and_then(|s| s.conditions.iter().find(|c| c.type_ == READY))
            .map(|c| format!("{:?}", c.status))
            .unwrap_or_else(|| "Unknown".into());
        *tenants.entry((tenant.spec.partner_ref.clone(), ready)).or_default() += 1;
        partner_of_namespace.insert(tenant.spec.namespace_for(&tenant.name_any()), tenant.spec.partner_ref.clone());
    }
    metrics.sla.clear();
    for tenant in caches.tenants.state() {
        let Some(sla) = tenant.status.as_ref().and_then(|s| s.sla.as_ref()) else { continue };
        let figures = [("attainment", sla.attainment_pcm), ("target", sla.target_pcm)];
        for (figure, value) in figures {
            if let Some(value) = value {
                let labels = SlaLabels {
                    partner: tenant.spec.partner_ref.clone(),
                    tenant: tenant.name_any(),
                    figure: figure.into(),
                };
                metrics.sla.get_or_create(&labels).set(value);
            }
        }
    }
    metrics.tenants.clear();
    for ((partner, state), count) in tenants {
        metrics.tenants.get_or_create(&FleetLabels { partner, state }).set(count);
    }
    let mut workflows: BTreeMap<(String, String), i64> = BTreeMap::new();
    let mut not_running: BTreeMap<(String, String, String), i64> = BTreeMap::new();
    for workflow in caches.workflows.state() {
        let partner = partner_of_namespace.get(&workflow.namespace().unwrap_or_default()).cloned().unwrap_or_default();
        let phase = workflow.status.as_ref().and_then(|s| s.phase).unwrap_or(WorkflowPhase::Pending);
        *workflows.entry((partner.clone(), format!("{phase:?}"))).or_default() += 1;
        if let Some(reason) =
            workflow.status.as_ref().and_then(|s| s.reason.clone()).filter(|_| phase != WorkflowPhase::Running)
        {
            *not_running.entry((partner, format!("{phase:?}"), reason)).or_default() += 1;
        }
    }
    metrics.workflows_not_running.clear();
    for ((partner, state, reason), count) in not_running {
        metrics.workflows_not_running.get_or_create(&HeldLabels { partner, state, reason }).set(count);
    }
    metrics.workflows.clear();
    for ((partner, state), count) in workflows {
        metrics.workflows.get_or_create(&FleetLabels { partner, state }).set(count);
    }
    for (kind, count) in caches.index().child_counts() {
        metrics.managed_objects.get_or_create(&KindLabels { kind: kind.name().into() }).set(count as i64);
    }
}

/// The months of `tenant`'s bills whose end and grace period have passed at `now` and that
/// its status does not record as Closed (`billingClosedThrough`, which the tenant controller
/// moves once it observes a month's record Closed): from the first month its tier history
/// reaches, or the one after the last recorded Closed, to the last month whose grace is over.
/// Zero for a tenant with no history yet, and for one being deleted (its cleanup closes its
/// final record; a failure there is a write error).
///
/// Whatever keeps a month open counts: a write that fails, a history the planner cannot
/// price (the `Billing` condition says which field), a partner that does not exist, a
/// tenant that is not reconciled. Right after a month's grace it is briefly 1 until the
/// tenant's next reconcile.
pub fn overdue_months(tenant: &Tenant, grace: jiff::SignedDuration, now: jiff::Timestamp) -> i64 {
    if tenant.metadata.deletion_timestamp.is_some() {
        return 0;
    }
    let Some(status) = tenant.status.as_ref() else { return 0 };
    let Some(first) = history::first_period(&status.tier_history) else { return 0 };
    let closed = status.billing_closed_through.as_deref().and_then(|p| p.parse::<Period>().ok());
    let mut period = match closed {
        Some(closed) if closed >= first => closed.next(),
        _ => first,
    };
    let mut overdue = 0;
    while period.end() + grace <= now {
        overdue += 1;
        let next = period.next();
        if next == period {
            break;
        }
        period = next;
    }
    overdue
}

/// `tenantry_billing_overdue_months` by partner, for the partners this operator serves (each
/// with a tenant has a series, 0 when nothing is overdue).
fn record_overdue_months(
    caches: &Caches,
    metrics: &Metrics,
    serves: impl Fn(&str) -> bool,
    grace: jiff::SignedDuration,
    now: jiff::Timestamp,
) {
    let mut overdue: BTreeMap<String, i64> = BTreeMap::new();
    for tenant in caches.tenants.state() {
        if serves(&tenant.spec.partner_ref) {
            *overdue.entry(tenant.spec.partner_ref.clone()).or_default() += overdue_months(&tenant, grace, now);
        }
    }
    metrics.billing_overdue_months.clear();
    for (partner, months) in overdue {
        metrics.billing_overdue_months.get_or_create(&PartnerLabels { partner }).set(months);
    }
}

/// Partners' revenue gauges from the statuses just planned.
fn record_revenue(plan: &planner::Plan, metrics: &Metrics) {
    metrics.revenue.clear();
    metrics.rates.clear();
    metrics.paying_tenants.clear();
    metrics.scheduled_workflows.clear();
    for (partner, status) in &plan.partners {
        let Some(revenue) = &status.revenue else { continue };
        let measures = [
            ("mrr", revenue.mrr),
            ("arr", revenue.arr),
            ("platform_mrr", revenue.platform_mrr),
            ("managed_operations_mrr", revenue.managed_operations_mrr),
            ("expansion_mrr", revenue.expansion_mrr),
            ("new_mrr", revenue.new_mrr),
            ("reactivated_mrr", revenue.reactivated_mrr),
            ("expansion_movement", revenue.expansion_movement),
            ("contraction_movement", revenue.contraction_movement),
            ("churned_mrr", revenue.churned_mrr),
            ("arpa", revenue.arpa),
            ("billed", revenue.billed),
            ("credits", revenue.credits.unwrap_or(0)),
        ];
        // Costs and margin only for partners with a cost model and records that carry usage.
        let costs = [
            ("infrastructure_cost", revenue.infrastructure_cost),
            ("support_cost", revenue.support_cost),
            ("gross_margin", revenue.gross_margin),
        ];
        let measures = measures.into_iter().chain(costs.into_iter().filter_map(|(m, v)| v.map(|v| (m, v))));
        for (measure, value) in measures {
            let labels =
                RevenueLabels { partner: partner.clone(), currency: revenue.currency.clone(), measure: measure.into() };
            metrics.revenue.get_or_create(&labels).set(value);
        }
        let rates = [
            ("nrr", revenue.nrr_basis_points),
            ("grr", revenue.grr_basis_points),
            ("attach_rate", Some(revenue.attach_rate_basis_points)),
            ("gross_margin", revenue.gross_margin_basis_points),
            ("workflow_adoption", revenue.workflow_adoption_basis_points),
        ];
        for (rate, value) in rates {
            if let Some(value) = value {
                metrics.rates.get_or_create(&RateLabels { partner: partner.clone(), rate: rate.into() }).set(value);
            }
        }
        let labels = FleetLabels { partner: partner.clone(), state: "paying".into() };
        metrics.paying_tenants.get_or_create(&labels).set(i64::from(revenue.paying_tenants));
        let adoption = [("deployed", revenue.deployed_workflows), ("adopted", revenue.adopted_workflows)];
        for (state, count) in adoption {
            if let Some(count) = count {
                let labels = FleetLabels { partner: partner.clone(), state: state.into() };
                metrics.scheduled_workflows.get_or_create(&labels).set(i64::from(count));
            }
        }
    }
}

/// The approvals an operator writes the statuses of: those in the namespaces of the tenants it
/// serves; every one when it serves all partners (`serves_all`), as approvals in namespaces
/// of no tenant belong to no partner.
pub fn approvals_served(
    world: &planner::World,
    serves: impl Fn(&str) -> bool,
    serves_all: bool,
) -> Vec<&crate::api::Approval> {
    let served: BTreeSet<String> = world
        .tenants
        .iter()
        .filter(|t| serves(&t.spec.partner_ref))
        .map(|t| t.spec.namespace_for(&t.name_any()))
        .collect();
    world
        .approvals
        .iter()
        .filter(|approval| serves_all || served.contains(&approval.namespace().unwrap_or_default()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{WorkflowPhase, WorkflowStatus};
    use crate::planner::fixtures;
    use prometheus_client::registry::Registry;

    #[test]
    fn workflows_that_do_not_run_are_counted_by_partner_phase_and_reason() {
        let mut world = fixtures::fleet();
        let status = |phase, reason: Option<&str>| WorkflowStatus {
            phase: Some(phase),
            reason: reason.map(str::to_string),
            ..WorkflowStatus::default()
        };
        let mut held = fixtures::workflow("held", "tenant-shop");
        held.status = Some(status(WorkflowPhase::Held, Some("AwaitingApproval")));
        let mut also_held = fixtures::workflow("also-held", "tenant-shop");
        also_held.status = Some(status(WorkflowPhase::Held, Some("AwaitingApproval")));
        let mut blocked = fixtures::workflow("blocked", "tenant-shop");
        blocked.status = Some(status(WorkflowPhase::Blocked, Some("ImageNotAllowed")));
        world.workflows[0].status = Some(status(WorkflowPhase::Running, None));
        world.workflows.extend([held, also_held, blocked]);
        let caches = Caches::from_snapshot(&world, Vec::new());
        let mut registry = Registry::default();
        let metrics = Metrics::new(&mut registry);
        record_gauges(&caches, &metrics);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).expect("encodes");
        let line = |state: &str, reason: &str| {
            format!("tenantry_fleet_workflows_not_running{{partner=\"acme\",state=\"{state}\",reason=\"{reason}\"}} ")
        };
        assert!(text.contains(&format!("{}2", line("Held", "AwaitingApproval"))), "{text}");
        assert!(text.contains(&format!("{}1", line("Blocked", "ImageNotAllowed"))), "{text}");
        assert!(!text.contains("state=\"Running\",reason"), "running workflows have no reason: {text}");
    }

    fn at(text: &str) -> jiff::Timestamp {
        text.parse().expect("an instant")
    }

    /// The fixture tenant, on its tier since 10 September 2026, with the months through
    /// `closed_through` recorded Closed.
    fn billed_tenant(closed_through: Option<&str>) -> Tenant {
        let mut tenant = fixtures::fleet().tenants.remove(0);
        tenant.status = Some(crate::api::TenantStatus {
            tier_history: vec![crate::api::tenant::TierHistoryEntry {
                tier: "silver".into(),
                level: Some(1),
                since: "2026-09-10T08:00:00Z".into(),
                suspended: false,
            }],
            billing_closed_through: closed_through.map(str::to_string),
            ..Default::default()
        });
        tenant
    }

    const HOUR: jiff::SignedDuration = jiff::SignedDuration::from_hours(1);

    #[test]
    fn a_month_is_overdue_once_its_grace_is_over_until_the_status_records_it_closed() {
        let tenant = billed_tenant(Some("2026-09"));
        // October ends on 1 November; its record closes an hour later.
        assert_eq!(overdue_months(&tenant, HOUR, at("2026-11-01T00:59:59Z")), 0, "still in its grace");
        assert_eq!(overdue_months(&tenant, HOUR, at("2026-11-01T01:00:00Z")), 1);
        assert_eq!(overdue_months(&billed_tenant(Some("2026-10")), HOUR, at("2026-11-01T01:00:00Z")), 0);
        // Nothing recorded Closed: every month since the history began.
        assert_eq!(overdue_months(&billed_tenant(None), HOUR, at("2027-01-15T00:00:00Z")), 4, "Sep to Dec");
        // A mark before the history (a tenant created again under the same name) counts from it.
        assert_eq!(overdue_months(&billed_tenant(Some("2025-01")), HOUR, at("2026-10-01T01:00:00Z")), 1);
        let mut deleting = billed_tenant(None);
        deleting.metadata.deletion_timestamp =
            Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(at("2026-12-01T00:00:00Z")));
        assert_eq!(overdue_months(&deleting, HOUR, at("2027-01-15T00:00:00Z")), 0, "its cleanup closes its bill");
        let mut new = billed_tenant(None);
        new.status = None;
        assert_eq!(overdue_months(&new, HOUR, at("2027-01-15T00:00:00Z")), 0, "no history, no bill");
    }

    #[test]
    fn overdue_months_are_a_gauge_per_served_partner() {
        let mut world = fixtures::fleet();
        world.tenants = vec![billed_tenant(Some("2026-09"))];
        let mut other = billed_tenant(None);
        other.metadata.name = Some("elsewhere".into());
        other.spec.partner_ref = "not-served".into();
        world.tenants.push(other);
        let caches = Caches::from_snapshot(&world, Vec::new());
        let mut registry = Registry::default();
        let metrics = Metrics::new(&mut registry);
        let serves = |partner: &str| partner == "acme";
        record_overdue_months(&caches, &metrics, serves, HOUR, at("2026-12-01T01:00:00Z"));
        let gauge = |partner: &str| {
            metrics.billing_overdue_months.get_or_create(&PartnerLabels { partner: partner.into() }).get()
        };
        assert_eq!(gauge("acme"), 2, "October and November");
        record_overdue_months(&caches, &metrics, serves, HOUR, at("2026-10-15T00:00:00Z"));
        assert_eq!(gauge("acme"), 0, "a served partner with nothing overdue has a series at 0");
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).expect("encodes");
        assert!(text.contains("tenantry_billing_overdue_months{partner=\"acme\"} 0"), "{text}");
        assert!(!text.contains("not-served"), "another operator's partner: {text}");
    }
}
