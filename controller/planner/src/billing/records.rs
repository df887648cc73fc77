//! The BillingRecords one tenant should have: one per calendar month its history reaches,
//! Open while the month runs (with an estimate for the whole month), Closed once the month
//! and its grace period are over or the tenant is deleted. A record observed Closed is never
//! computed again, so nothing a later input says can rewrite a closed bill.

use super::history::{self, HistoryProblem};
use super::ledger::{self, TierPrices, Usage};
use super::money::Exact;
use super::period::Period;
use crate::conditions::Conditions;
use crate::labels;
pub use crate::world::ClosingRules;
use jiff::{SignedDuration, Timestamp};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use std::collections::BTreeMap;
use tenantry_api::billing::{BillingPhase, BillingRecord, BillingRecordSpec, BillingRecordStatus, RecurringRevenue};
use tenantry_api::conditions::reason;
use tenantry_api::tenant::{TierHistoryEntry, WorkflowActivity};
use tenantry_api::ConditionStatus;

/// Everything about one tenant its bills are computed from.
#[derive(Debug, Clone, Copy)]
pub struct TenantAccount<'a> {
    /// Name of the tenant.
    pub tenant: &'a str,
    /// Name of its partner.
    pub partner: &'a str,
    /// The partner's currency.
    pub currency: &'a str,
    /// The contract's discount, in whole percent.
    pub discount_percent: i64,
    /// Tiers it was on and when it was suspended.
    pub tier_history: &'a [TierHistoryEntry],
    /// When its workflows ran.
    pub workflow_activity: &'a [WorkflowActivity],
    /// When the tenant was deleted, if it is being deleted: its last record closes then.
    pub deleted_at: Option<Timestamp>,
}

/// The name of a tenant's record for a period: `<tenant>-<yyyy>-<mm>`.
pub fn record_name(tenant: &str, period: Period) -> String {
    format!("{tenant}-{period}")
}

/// The records `account` should have at `now`, oldest first. Periods whose record in
/// `existing` (by name) is Closed are skipped: they are final.
pub fn records(
    account: &TenantAccount<'_>,
    prices: impl Fn(&str) -> Option<TierPrices>,
    existing: &BTreeMap<String, BillingRecord>,
    rules: ClosingRules,
    now: Timestamp,
) -> Result<Vec<BillingRecord>, HistoryProblem> {
    let Some(first) = history::first_period(account.tier_history) else {
        return Ok(Vec::new());
    };
    let last_instant = account.deleted_at.map_or(now, |deleted| deleted.min(now));
    let last = Period::containing(last_instant);
    let mut records = Vec::new();
    let mut period = first;
    while period <= last {
        let name = record_name(account.tenant, period);
        let observed = existing.get(&name);
        if !observed.is_some_and(is_closed) {
            records.push(record(account, &prices, period, observed, rules, now)?);
        }
        period = period.next();
    }
    Ok(records)
}

/// Whether an observed record is final.
pub fn is_closed(record: &BillingRecord) -> bool {
    record.status.as_ref().and_then(|s| s.phase) == Some(BillingPhase::Closed)
}

/// The oldest period whose record is not observed Closed: history that ended before it has
/// been billed for good and can be dropped from the tenant's status.
pub fn oldest_open_period(
    account: &TenantAccount<'_>,
    existing: &BTreeMap<String, BillingRecord>,
    now: Timestamp,
) -> Option<Period> {
    let mut period = history::first_period(account.tier_history)?;
    let current = Period::containing(now);
    while period < current && existing.get(&record_name(account.tenant, period)).is_some_and(is_closed) {
        period = period.next();
    }
    Some(period)
}

fn record(
    account: &TenantAccount<'_>,
    prices: &impl Fn(&str) -> Option<TierPrices>,
    period: Period,
    observed: Option<&BillingRecord>,
    rules: ClosingRules,
    now: Timestamp,
) -> Result<BillingRecord, HistoryProblem> {
    let closes_at = match account.deleted_at {
        Some(deleted) if deleted < period.end() => deleted,
        _ => period.end() + rules.grace,
    };
    let closed = now >= closes_at;
    let until = if closed { closes_at.min(period.end()) } else { rules.billed_until(now).min(period.end()) };
    // The run-rate of an open record is the tenant's as it stands now; a closed one's, as the
    // billed span ended. Either changes only when the tenant does.
    let rate_instant = if closed { until } else { (now + SignedDuration::from_secs(1)).min(period.end()) };
    let usage = Usage {
        stints: history::stints(account.tier_history, prices, until)?,
        workflows: history::workflow_spans(account.workflow_activity, until)?,
        runs: 0,
        discount_percent: account.discount_percent,
    };
    let bill = ledger::bill(period, &usage);
    // A closed record is the same whenever it is computed: its condition dates from the close.
    let stamp = crate::format_time(if closed { closes_at } else { until });
    let previous = match observed.and_then(|r| r.status.as_ref()) {
        Some(status) if !closed => status.conditions.as_slice(),
        _ => &[],
    };
    let mut conditions = Conditions::new(previous, &stamp, None);
    conditions.set(
        tenantry_api::conditions::READY,
        ConditionStatus::True,
        if closed { reason::CLOSED } else { reason::OPEN },
        if closed { "the month is billed and final".to_string() } else { format!("billed up to {stamp}") },
    );
    let status = BillingRecordStatus {
        phase: Some(if closed { BillingPhase::Closed } else { BillingPhase::Open }),
        estimated_month_total: (!closed).then(|| ledger::estimate(period, &usage, until).total),
        closed_at: closed.then(|| crate::format_time(closes_at)),
        conditions: conditions.finish(),
    };
    let mut record = BillingRecord::new(
        &record_name(account.tenant, period),
        BillingRecordSpec {
            tenant_ref: account.tenant.to_string(),
            partner_ref: account.partner.to_string(),
            period: period.to_string(),
            currency: account.currency.to_string(),
            line_items: bill.lines,
            total: bill.total,
            recurring: Some(run_rate(account, prices, rate_instant, account.deleted_at.is_some_and(|d| d <= until))?),
        },
    );
    record.metadata = ObjectMeta {
        name: record.metadata.name.take(),
        labels: Some(BTreeMap::from([
            (labels::MANAGED_BY.to_string(), labels::MANAGER.to_string()),
            (labels::TENANT.to_string(), account.tenant.to_string()),
            (labels::PARTNER.to_string(), account.partner.to_string()),
            (labels::PERIOD.to_string(), period.to_string()),
        ])),
        ..ObjectMeta::default()
    };
    record.status = Some(status);
    Ok(record)
}

/// The tenant's monthly recurring revenue just before `at`: list prices of the tier it was on
/// and of the workflows active then, after the discount. Zero while suspended or once deleted.
/// Its `at` is when the tenant last changed before that instant (or the deletion), so the
/// same state always reads the same.
pub fn run_rate(
    account: &TenantAccount<'_>,
    prices: &impl Fn(&str) -> Option<TierPrices>,
    at: Timestamp,
    deleted: bool,
) -> Result<RecurringRevenue, HistoryProblem> {
    if deleted {
        return Ok(RecurringRevenue { at: crate::format_time(at), ..RecurringRevenue::default() });
    }
    let changed = last_change(account, at)?.unwrap_or(at);
    let zero = |tier: Option<String>| RecurringRevenue {
        at: crate::format_time(changed),
        tier,
        ..RecurringRevenue::default()
    };
    let mut in_force = None;
    for (index, entry) in account.tier_history.iter().enumerate() {
        let since: Timestamp = entry.since.parse().map_err(|_| HistoryProblem::BadTime {
            field: "tierHistory",
            index,
            key: "since",
            value: entry.since.clone(),
        })?;
        if since < at {
            in_force = Some((index, entry));
        }
    }
    let Some((index, entry)) = in_force else { return Ok(zero(None)) };
    if entry.suspended {
        return Ok(zero(Some(entry.tier.clone())));
    }
    let tier_prices =
        prices(&entry.tier).ok_or_else(|| HistoryProblem::UnknownTier { index, tier: entry.tier.clone() })?;
    let instant = at - jiff::SignedDuration::from_secs(1);
    let active = history::workflow_spans(account.workflow_activity, at)?
        .values()
        .filter(|spans| spans.iter().any(|span| span.start <= instant && instant < span.end))
        .count();
    let platform = tier_prices.monthly_base_fee;
    let managed_operations = tier_prices.monthly_fee_per_active_workflow.saturating_mul(active as i64);
    let discount =
        Exact::whole(platform.saturating_add(managed_operations)).percent(account.discount_percent).negated().round();
    Ok(RecurringRevenue {
        at: crate::format_time(changed),
        tier: Some(entry.tier.clone()),
        active_workflows: i32::try_from(active).unwrap_or(i32::MAX),
        platform,
        managed_operations,
        expansion: 0,
        discount,
        total: platform.saturating_add(managed_operations).saturating_add(discount),
    })
}

/// The last instant before `at` at which the tenant's tier, suspension or active workflows
/// changed.
fn last_change(account: &TenantAccount<'_>, at: Timestamp) -> Result<Option<Timestamp>, HistoryProblem> {
    let parse = |field: &'static str, index: usize, key: &'static str, value: &str| {
        value.parse::<Timestamp>().map_err(|_| HistoryProblem::BadTime { field, index, key, value: value.to_string() })
    };
    let mut changes = Vec::new();
    for (index, entry) in account.tier_history.iter().enumerate() {
        changes.push(parse("tierHistory", index, "since", &entry.since)?);
    }
    for (index, entry) in account.workflow_activity.iter().enumerate() {
        changes.push(parse("workflowActivity", index, "since", &entry.since)?);
        if let Some(until) = &entry.until {
            changes.push(parse("workflowActivity", index, "until", until)?);
        }
    }
    Ok(changes.into_iter().filter(|change| *change < at).max())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn prices(tier: &str) -> Option<TierPrices> {
        Some(TierPrices {
            tier: tier.into(),
            display_name: tier.into(),
            monthly_base_fee: if tier == "gold" { 60_000 } else { 30_000 },
            monthly_fee_per_active_workflow: 1_000,
            included_runs_per_month: 0,
            price_per_thousand_extra_runs: 0,
        })
    }

    fn history() -> Vec<TierHistoryEntry> {
        vec![
            TierHistoryEntry {
                tier: "silver".into(),
                level: Some(1),
                since: "2026-10-16T00:00:00Z".into(),
                suspended: false,
            },
            TierHistoryEntry {
                tier: "gold".into(),
                level: Some(2),
                since: "2026-11-11T00:00:00Z".into(),
                suspended: false,
            },
        ]
    }

    fn account<'a>(history: &'a [TierHistoryEntry], activity: &'a [WorkflowActivity]) -> TenantAccount<'a> {
        TenantAccount {
            tenant: "shop",
            partner: "acme",
            currency: "EUR",
            discount_percent: 0,
            tier_history: history,
            workflow_activity: activity,
            deleted_at: None,
        }
    }

    fn phase(record: &BillingRecord) -> Option<BillingPhase> {
        record.status.as_ref().and_then(|s| s.phase)
    }

    #[test]
    fn every_month_the_history_reaches_gets_a_record_and_past_ones_close() {
        let history = history();
        let now = at("2026-11-21T00:00:00Z");
        let records = records(&account(&history, &[]), prices, &BTreeMap::new(), ClosingRules::default(), now).unwrap();
        let names: Vec<_> = records.iter().map(|r| r.metadata.name.clone().unwrap()).collect();
        assert_eq!(names, vec!["shop-2026-10", "shop-2026-11"]);
        // October: 16 of 31 days of silver.
        assert_eq!(records[0].spec.total, 15_484, "30000 × 16/31 = 15483.87");
        assert_eq!(phase(&records[0]), Some(BillingPhase::Closed));
        assert_eq!(records[0].status.as_ref().unwrap().closed_at.as_deref(), Some("2026-11-01T01:00:00Z"));
        // November so far: 10 days of silver, 10 of gold; the estimate runs gold to the 30th.
        // Billed up to the hour: 21 November 00:00 is on the hour.
        assert_eq!(records[1].spec.total, 10_000 + 20_000);
        assert_eq!(phase(&records[1]), Some(BillingPhase::Open));
        assert_eq!(records[1].status.as_ref().unwrap().estimated_month_total, Some(10_000 + 40_000));
        // The run-rate: October ended on silver, November so far on gold; no workflows ran.
        let recurring = |r: &BillingRecord| r.spec.recurring.clone().unwrap();
        assert_eq!((recurring(&records[0]).tier.unwrap(), recurring(&records[0]).total), ("silver".into(), 30_000));
        assert_eq!(recurring(&records[0]).at, "2026-10-16T00:00:00Z", "when it last changed");
        assert_eq!((recurring(&records[1]).tier.unwrap(), recurring(&records[1]).total), ("gold".into(), 60_000));
    }

    #[test]
    fn a_record_stays_open_through_its_grace_and_closes_identically_whenever_computed() {
        let history = history();
        let activity =
            vec![WorkflowActivity { workflow: "w".into(), since: "2026-10-20T00:00:00Z".into(), until: None }];
        let in_grace = at("2026-11-01T00:30:00Z");
        let october = |now| {
            records(&account(&history, &activity), prices, &BTreeMap::new(), ClosingRules::default(), now).unwrap()[0]
                .clone()
        };
        assert_eq!(phase(&october(in_grace)), Some(BillingPhase::Open));
        let closed_early = october(at("2026-11-01T01:00:00Z"));
        let closed_late = october(at("2027-03-01T00:00:00Z"));
        assert_eq!(phase(&closed_early), Some(BillingPhase::Closed));
        assert_eq!(
            serde_json::to_value(&closed_early).unwrap(),
            serde_json::to_value(&closed_late).unwrap(),
            "a down operator closes the same record later"
        );
    }

    #[test]
    fn a_closed_record_is_never_computed_again() {
        let history = history();
        let now = at("2026-11-21T00:00:00Z");
        let mut closed =
            records(&account(&history, &[]), prices, &BTreeMap::new(), ClosingRules::default(), now).unwrap().remove(0);
        closed.spec.total = 1; // whatever it says, it stays
        let existing = BTreeMap::from([("shop-2026-10".to_string(), closed)]);
        let records = records(&account(&history, &[]), prices, &existing, ClosingRules::default(), now).unwrap();
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].spec.period, "2026-11");
        assert_eq!(oldest_open_period(&account(&history, &[]), &existing, now).unwrap().to_string(), "2026-11");
    }

    #[test]
    fn an_open_record_moves_once_per_refresh_interval_not_on_every_reconcile() {
        let history = history();
        let activity =
            vec![WorkflowActivity { workflow: "w".into(), since: "2026-11-01T00:00:00Z".into(), until: None }];
        let at_time = |now: &str| {
            records(&account(&history, &activity), prices, &BTreeMap::new(), ClosingRules::default(), at(now))
                .unwrap()
                .remove(1)
        };
        let early = at_time("2026-11-21T10:00:01Z");
        let late = at_time("2026-11-21T10:59:59Z");
        assert_eq!(serde_json::to_value(&early).unwrap(), serde_json::to_value(&late).unwrap());
        let next_hour = at_time("2026-11-21T11:00:00Z");
        assert!(next_hour.spec.total > early.spec.total, "an hour more of gold and of the workflow");
    }

    #[test]
    fn deleting_the_tenant_closes_its_last_record_at_the_deletion() {
        let history = history();
        let mut deleted = account(&history, &[]);
        deleted.deleted_at = Some(at("2026-11-16T00:00:00Z"));
        let now = at("2026-11-16T00:00:05Z");
        let records = records(&deleted, prices, &BTreeMap::new(), ClosingRules::default(), now).unwrap();
        let last = records.last().unwrap();
        assert_eq!(phase(last), Some(BillingPhase::Closed));
        assert_eq!(last.status.as_ref().unwrap().closed_at.as_deref(), Some("2026-11-16T00:00:00Z"));
        // 10 days silver, 5 days gold.
        assert_eq!(last.spec.total, 10_000 + 10_000);
        let recurring = last.spec.recurring.clone().unwrap();
        assert_eq!((recurring.tier, recurring.total), (None, 0), "a deleted tenant has churned");
    }

    #[test]
    fn the_run_rate_counts_workflows_active_at_the_end_and_applies_the_discount() {
        let history = history();
        let activity = vec![
            WorkflowActivity { workflow: "a".into(), since: "2026-11-02T00:00:00Z".into(), until: None },
            WorkflowActivity {
                workflow: "b".into(),
                since: "2026-11-02T00:00:00Z".into(),
                until: Some("2026-11-05T00:00:00Z".into()),
            },
        ];
        let mut account = account(&history, &activity);
        account.discount_percent = 10;
        let rate = run_rate(&account, &prices, at("2026-11-21T00:00:00Z"), false).unwrap();
        assert_eq!(rate.active_workflows, 1);
        assert_eq!(
            (rate.platform, rate.managed_operations, rate.discount, rate.total),
            (60_000, 1_000, -6_100, 54_900)
        );
        let before_b_stopped = run_rate(&account, &prices, at("2026-11-05T00:00:00Z"), false).unwrap();
        assert_eq!(before_b_stopped.active_workflows, 2, "b ran until that instant");
        let suspended = [
            history[0].clone(),
            TierHistoryEntry { suspended: true, since: "2026-11-01T00:00:00Z".into(), ..history[0].clone() },
        ];
        let account = TenantAccount { tier_history: &suspended, ..account };
        assert_eq!(run_rate(&account, &prices, at("2026-11-21T00:00:00Z"), false).unwrap().total, 0);
    }

    #[test]
    fn records_carry_no_owner_and_are_found_by_label() {
        let history = history();
        let now = at("2026-11-21T00:00:00Z");
        let record =
            records(&account(&history, &[]), prices, &BTreeMap::new(), ClosingRules::default(), now).unwrap().remove(1);
        assert!(record.metadata.owner_references.is_none());
        let labels = record.metadata.labels.unwrap();
        assert_eq!(labels[labels::TENANT], "shop");
        assert_eq!(labels[labels::PERIOD], "2026-11");
    }
}
