//! The BillingRecords one tenant should have: one per calendar month its history reaches,
//! Open while the month runs (with an estimate for the whole month), Closed once the month
//! and its grace period are over or the tenant is deleted. A record observed Closed is never
//! computed again, so nothing a later input says can rewrite a closed bill.

use super::history::{self, HistoryProblem, WorkflowFacts};
use super::ledger::{self, TierPrices, Usage};
use super::money::Exact;
use super::period::{Period, Span};
use crate::conditions::Conditions;
use crate::labels;
pub use crate::world::ClosingRules;
use jiff::{SignedDuration, Timestamp};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use std::collections::BTreeMap;
use tenantry_api::billing::{
    Adoption, BillingPhase, BillingRecord, BillingRecordSpec, BillingRecordStatus, Consumption, RecurringRevenue,
    TierTime,
};
use tenantry_api::conditions::reason;
use tenantry_api::tenant::{MonthlyUsage, TierHistoryEntry, WorkflowActivity};
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
    /// Runs of its scheduled workflows per month.
    pub usage: &'a [MonthlyUsage],
    /// Corrections declared on the tenant (`spec.billingAdjustments`).
    pub adjustments: &'a [tenantry_api::tenant::BillingAdjustment],
    /// Its declared workflows' requests and triggers now: what spans recorded before those
    /// were kept are costed with.
    pub workflows: &'a BTreeMap<String, WorkflowFacts>,
    /// The last month observed Closed with every one before it: never computed again.
    pub closed_through: Option<Period>,
    /// Whether some scheduled workflow's Jobs are not listed yet (an operator that just
    /// started): no record closes until its runs are known.
    pub runs_pending: bool,
    /// When its continuous and event workflows' Deployments were unavailable or unobserved.
    pub unavailability: &'a [tenantry_api::tenant::Unavailability],
    /// Its declared scheduled workflows' schedules now: what their expected runs are counted from.
    pub schedules: &'a BTreeMap<String, super::sla::Schedule>,
}

/// The name of a tenant's record for a period: `<tenant>-<yyyy>-<mm>`.
pub fn record_name(tenant: &str, period: Period) -> String {
    format!("{tenant}-{period}")
}

/// The name of `account`'s record for `period`: `<tenant>-<yyyy>-<mm>`, or, when a record
/// of that name belongs to an earlier tenant of the same name (deleted and created again in
/// the same month), `<tenant>-<yyyy>-<mm>-2`, `-3`... A record belongs to an earlier tenant
/// when it was Closed at or before this tenant's history begins: a tenant's own records
/// close after its first observation. A function of the observed records and the tenant's
/// history, so every process names the record the same way.
pub fn record_name_for(
    account: &TenantAccount<'_>,
    period: Period,
    existing: &BTreeMap<String, BillingRecord>,
) -> String {
    let base = record_name(account.tenant, period);
    let Some(began) = history_start(account.tier_history) else { return base };
    let mut sequence = 1u32;
    loop {
        let name = if sequence == 1 { base.clone() } else { format!("{base}-{sequence}") };
        match existing.get(&name) {
            Some(record) if closed_by(record).is_some_and(|closed_at| closed_at <= began) => sequence += 1,
            _ => return name,
        }
    }
}

/// Which record of a tenant's month a name is: 1 for `<tenant>-<yyyy>-<mm>`, n for `-n`.
pub fn sequence_of(record: &BillingRecord) -> u32 {
    let name = record.metadata.name.as_deref().unwrap_or_default();
    let base = format!("{}-{}", record.spec.tenant_ref, record.spec.period);
    name.strip_prefix(&base).and_then(|rest| rest.strip_prefix('-')).and_then(|n| n.parse().ok()).unwrap_or(1)
}

fn history_start(history: &[TierHistoryEntry]) -> Option<Timestamp> {
    history.iter().filter_map(|entry| entry.since.parse::<Timestamp>().ok()).min()
}

/// When an observed record closed, if it is Closed.
fn closed_by(record: &BillingRecord) -> Option<Timestamp> {
    if !is_closed(record) {
        return None;
    }
    record.status.as_ref().and_then(|s| s.closed_at.as_deref()).and_then(|t| t.parse().ok())
}

/// The first month `account` is billed for: its history's first, or the one after the last
/// observed Closed.
fn first_billed(account: &TenantAccount<'_>) -> Option<Period> {
    let first = history::first_period(account.tier_history)?;
    Some(match account.closed_through {
        Some(closed) if closed >= first => closed.next(),
        _ => first,
    })
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
    let Some(first) = first_billed(account) else {
        return Ok(Vec::new());
    };
    let last_instant = account.deleted_at.map_or(now, |deleted| deleted.min(now));
    let last = Period::containing(last_instant);
    let mut records = Vec::new();
    let mut period = first;
    while period <= last {
        let name = record_name_for(account, period, existing);
        let observed = existing.get(&name);
        if !observed.is_some_and(is_closed) {
            records.push(record(account, &prices, period, &name, observed, rules, now)?);
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
    let mut period = first_billed(account)?;
    let current = Period::containing(now);
    while period < current && existing.get(&record_name_for(account, period, existing)).is_some_and(is_closed) {
        period = period.next();
    }
    Some(period)
}

/// The last month observed Closed with every one before it, after `existing`: what the
/// tenant's `status.billingClosedThrough` becomes.
pub fn closed_through(
    account: &TenantAccount<'_>,
    existing: &BTreeMap<String, BillingRecord>,
    now: Timestamp,
) -> Option<Period> {
    match (first_billed(account), oldest_open_period(account, existing, now)) {
        (Some(first), Some(open)) if open > first => Some(open.previous()),
        _ => account.closed_through,
    }
}

/// The tenant's adjustments billed on `period`'s record, in name order.
fn adjustments_of(account: &TenantAccount<'_>, period: Period) -> Vec<ledger::Adjustment> {
    let mut adjustments: Vec<ledger::Adjustment> = account
        .adjustments
        .iter()
        .filter(|adjustment| adjustment.period.parse::<Period>().ok() == Some(period))
        .map(|adjustment| ledger::Adjustment {
            name: adjustment.name.clone(),
            description: adjustment.description.clone(),
            amount: adjustment.amount,
            corrects: adjustment.corrects.clone(),
        })
        .collect();
    adjustments.sort_by(|a, b| a.name.cmp(&b.name));
    adjustments
}

/// Adjustments that no record will carry, each with why: a period that does not parse, or a
/// month whose record is Closed without the adjustment's line (a closed record is never
/// rewritten: the correction belongs in a month still open).
pub fn refused_adjustments(account: &TenantAccount<'_>, existing: &BTreeMap<String, BillingRecord>) -> Vec<String> {
    let mut refused = Vec::new();
    for adjustment in account.adjustments {
        let field = format!("spec.billingAdjustments[{}]", adjustment.name);
        let Ok(period) = adjustment.period.parse::<Period>() else {
            refused.push(format!("{field}.period '{}' is not a month (YYYY-MM)", adjustment.period));
            continue;
        };
        let record = existing.get(&record_name_for(account, period, existing)).filter(|r| is_closed(r));
        let closed_without = record.is_some_and(|record| {
            let marker = format!("(adjustment {}", adjustment.name);
            !record.spec.line_items.iter().any(|line| line.description.contains(&marker))
        });
        let closed_before = record.is_none() && account.closed_through.is_some_and(|through| period <= through);
        if closed_without || closed_before {
            refused.push(format!(
                "{field}.period {period} is closed and its record is never rewritten: bill the correction in a month still open (with corrects: {period})"
            ));
        }
    }
    refused
}

fn record(
    account: &TenantAccount<'_>,
    prices: &impl Fn(&str) -> Option<TierPrices>,
    period: Period,
    name: &str,
    observed: Option<&BillingRecord>,
    rules: ClosingRules,
    now: Timestamp,
) -> Result<BillingRecord, HistoryProblem> {
    let closes_at = match account.deleted_at {
        Some(deleted) if deleted < period.end() => deleted,
        _ => period.end() + rules.grace,
    };
    // A deleted tenant's final record closes at once: nothing will reconcile it again.
    let closed = now >= closes_at && (!account.runs_pending || account.deleted_at.is_some());
    let until = if closed { closes_at.min(period.end()) } else { rules.billed_until(now).min(period.end()) };
    // The run-rate of an open record is the tenant's as it stands now; a closed one's, as the
    // billed span ended. Either changes only when the tenant does.
    let rate_instant = if closed { until } else { (now + SignedDuration::from_secs(1)).min(period.end()) };
    let billed_until = crate::format_time(until);
    // Runs are counted as their Jobs finish; an open record takes them in once per refresh
    // interval, with the rest of its amounts: while its billed span has not moved it keeps
    // the runs it was written with. A closed record has every run of its month.
    let counted = history::runs_in(account.usage, period);
    let runs = match observed {
        Some(open) if !closed && !is_closed(open) => {
            let same_span = open.status.as_ref().and_then(|s| s.billed_until.as_deref()) == Some(billed_until.as_str());
            let written = open.spec.consumption.as_ref().map(|c| c.runs);
            written.filter(|_| same_span).unwrap_or(counted)
        }
        _ => counted,
    };
    let stints = history::stints(account.tier_history, prices, until)?;
    // A month that closes below a credit band of the tier it ends on gets its service credit.
    let credit = if closed { credit(account, &stints, period, until) } else { None };
    let usage = Usage {
        stints,
        workflows: history::workflow_spans(account.workflow_activity, until)?,
        runs,
        discount_percent: account.discount_percent,
        credit,
        adjustments: adjustments_of(account, period),
    };
    let level_of = |tier: &str| prices(tier).map(|p| p.level);
    let consumption = consumption(account, level_of, period, until, usage.runs)?;
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
        billed_until: Some(billed_until),
        conditions: conditions.finish(),
    };
    let mut record = BillingRecord::new(
        name,
        BillingRecordSpec {
            tenant_ref: account.tenant.to_string(),
            partner_ref: account.partner.to_string(),
            period: period.to_string(),
            currency: account.currency.to_string(),
            line_items: bill.lines,
            total: bill.total,
            recurring: Some(run_rate(account, prices, rate_instant, account.deleted_at.is_some_and(|d| d <= until))?),
            consumption: Some(consumption),
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

/// The service credit of a closed month: the worst credit band of the tier the month ends
/// on that the tenant's attainment over the whole month (up to `until`) is below.
fn credit(
    account: &TenantAccount<'_>,
    stints: &[ledger::TierStint],
    period: Period,
    until: Timestamp,
) -> Option<ledger::Credit> {
    let last = stints.iter().rev().find(|s| !s.span.intersect(&period.span()).is_empty())?;
    let terms = last.prices.sla.as_ref()?;
    let history = super::sla::SlaHistory {
        activity: account.workflow_activity,
        unavailability: account.unavailability,
        usage: account.usage,
        schedules: account.schedules,
    };
    let figures = super::sla::figures(&history, period, until, until);
    let (_, figure) = super::sla::lowest(&figures)?;
    let (percent, below_pcm) = crate::sla_terms::credit_for(terms, figure.achieved, figure.expected)?;
    Some(ledger::Credit { percent, below_pcm, attainment_pcm: figure.pcm() })
}

/// What `account` used in `period` up to `until`: its runs, billable seconds per tier (and
/// level), and the CPU and memory its active workflows requested, second by second.
fn consumption(
    account: &TenantAccount<'_>,
    level_of: impl Fn(&str) -> Option<i32>,
    period: Period,
    until: Timestamp,
    runs: i64,
) -> Result<Consumption, HistoryProblem> {
    let month = period.span();
    let mut tiers: Vec<TierTime> = Vec::new();
    for (span, tier, level) in history::tier_levels(account.tier_history, level_of, until)? {
        let seconds = span.intersect(&month).seconds();
        if seconds == 0 {
            continue;
        }
        match tiers.iter_mut().find(|t| t.tier == tier && t.level == level) {
            Some(time) => time.seconds += seconds,
            None => tiers.push(TierTime { tier, level, seconds }),
        }
    }
    let (mut cpu, mut memory) = (0i128, 0i128);
    for mut spans in history::workflow_facts(account.workflow_activity, account.workflows, until)?.into_values() {
        // Overlapping spans of one workflow count once: each starts where the one before ended.
        spans.sort_by_key(|(span, _)| *span);
        let mut covered = month.start;
        for (span, facts) in spans {
            let start = span.start.max(covered);
            let seconds = i128::from(Span::new(start, span.end).intersect(&month).seconds());
            covered = covered.max(span.end);
            cpu += i128::from(facts.cpu_millicores) * seconds;
            memory += i128::from(facts.memory_bytes) * seconds;
        }
    }
    let saturate = |value: i128| i64::try_from(value).unwrap_or(i64::MAX);
    Ok(Consumption {
        runs,
        tiers,
        cpu_millicore_seconds: saturate(cpu),
        memory_kibibyte_seconds: Exact::ratio(memory, 1024).round(),
    })
}

/// Workflow adoption at `at`: the scheduled workflows active just before it, and those with
/// a run in the 30 days before it, from the runs attributed to its month and the one
/// before. `None` when the tenant's runs were not observed in its month.
fn adoption(account: &TenantAccount<'_>, at: Timestamp) -> Result<Option<Adoption>, HistoryProblem> {
    let instant = at - SignedDuration::from_secs(1);
    let period = Period::containing(instant);
    let months: Vec<&MonthlyUsage> = account
        .usage
        .iter()
        .filter(|u| u.period.parse::<Period>().is_ok_and(|p| p == period || p == period.previous()))
        .collect();
    if !months.iter().any(|u| u.period == period.to_string()) {
        return Ok(None);
    }
    let since = at - history::ADOPTION_WINDOW;
    let mut adoption = Adoption::default();
    for (workflow, spans) in history::workflow_facts(account.workflow_activity, account.workflows, at)? {
        if !spans.iter().any(|(span, facts)| facts.scheduled && span.start <= instant && instant < span.end) {
            continue;
        }
        adoption.deployed += 1;
        let ran = months
            .iter()
            .flat_map(|u| &u.last_runs)
            .any(|last| last.workflow == workflow && last.at.parse::<Timestamp>().is_ok_and(|t| t >= since && t < at));
        if ran {
            adoption.with_recent_run += 1;
        }
    }
    Ok(Some(adoption))
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
        adoption: adoption(account, at)?,
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
            level: if tier == "gold" { 2 } else { 1 },
            monthly_base_fee: if tier == "gold" { 60_000 } else { 30_000 },
            monthly_fee_per_active_workflow: 1_000,
            included_runs_per_month: 0,
            price_per_thousand_extra_runs: 0,
            sla: None,
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

    static NO_WORKFLOWS: BTreeMap<String, WorkflowFacts> = BTreeMap::new();
    static NO_SCHEDULES: BTreeMap<String, crate::billing::sla::Schedule> = BTreeMap::new();

    fn account<'a>(history: &'a [TierHistoryEntry], activity: &'a [WorkflowActivity]) -> TenantAccount<'a> {
        TenantAccount {
            tenant: "shop",
            partner: "acme",
            currency: "EUR",
            discount_percent: 0,
            tier_history: history,
            workflow_activity: activity,
            deleted_at: None,
            usage: &[],
            adjustments: &[],
            workflows: &NO_WORKFLOWS,
            closed_through: None,
            runs_pending: false,
            unavailability: &[],
            schedules: &NO_SCHEDULES,
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
        let activity = vec![WorkflowActivity {
            workflow: "w".into(),
            since: "2026-10-20T00:00:00Z".into(),
            ..WorkflowActivity::default()
        }];
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

    fn adjustment(name: &str, period: &str, amount: i64) -> tenantry_api::tenant::BillingAdjustment {
        tenantry_api::tenant::BillingAdjustment {
            name: name.into(),
            period: period.into(),
            amount,
            description: "Goodwill for the ERP outage".into(),
            corrects: Some("2026-10".into()),
        }
    }

    #[test]
    fn an_adjustment_is_its_own_line_on_an_open_month_and_a_closed_month_refuses_it() {
        let history = history();
        let now = at("2026-11-21T00:00:00Z");
        let adjustments = vec![adjustment("goodwill", "2026-11", -2_500), adjustment("late", "2026-10", -100)];
        let adjusted = TenantAccount { discount_percent: 10, adjustments: &adjustments, ..account(&history, &[]) };
        let planned = records(&adjusted, prices, &BTreeMap::new(), ClosingRules::default(), now).unwrap();
        // November: 30000 of platform, less 10 % (the adjustment is not discounted), then −25.00.
        let november = &planned[1];
        let last = november.spec.line_items.last().unwrap();
        assert_eq!((last.layer, last.amount), (tenantry_api::billing::BillingLayer::Adjustment, -2_500));
        assert_eq!(last.description, "Goodwill for the ERP outage (adjustment goodwill, corrects 2026-10)");
        assert_eq!(november.spec.total, 30_000 - 3_000 - 2_500);
        assert_eq!(november.spec.total, november.spec.line_items.iter().map(|l| l.amount).sum::<i64>());
        assert_eq!(november.status.as_ref().unwrap().estimated_month_total, Some(50_000 - 5_000 - 2_500));
        // October closes now, with its own adjustment: computed in the same pass, it carries it.
        assert_eq!(planned[0].spec.line_items.last().map(|l| l.amount), Some(-100));
        assert!(refused_adjustments(&adjusted, &BTreeMap::new()).is_empty());

        // October was observed Closed without that line: it is never rewritten; refused.
        let mut closed = planned[0].clone();
        closed.spec.line_items.pop();
        let existing = BTreeMap::from([("shop-2026-10".to_string(), closed)]);
        let refused = refused_adjustments(&adjusted, &existing);
        assert_eq!(refused.len(), 1, "{refused:?}");
        assert!(refused[0].starts_with("spec.billingAdjustments[late].period 2026-10 is closed"), "{}", refused[0]);
        let again = records(&adjusted, prices, &existing, ClosingRules::default(), now).unwrap();
        assert_eq!(again.len(), 1, "the closed record is not written again");

        let bad = vec![adjustment("typo", "2026-13", 1)];
        let refused = refused_adjustments(&TenantAccount { adjustments: &bad, ..account(&history, &[]) }, &existing);
        assert_eq!(
            refused,
            vec!["spec.billingAdjustments[typo].period '2026-13' is not a month (YYYY-MM)".to_string()]
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
        let activity = vec![WorkflowActivity {
            workflow: "w".into(),
            since: "2026-11-01T00:00:00Z".into(),
            ..WorkflowActivity::default()
        }];
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
            WorkflowActivity { workflow: "a".into(), since: "2026-11-02T00:00:00Z".into(), ..Default::default() },
            WorkflowActivity {
                workflow: "b".into(),
                since: "2026-11-02T00:00:00Z".into(),
                until: Some("2026-11-05T00:00:00Z".into()),
                ..Default::default()
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
    fn adoption_counts_a_run_exactly_30_days_back_and_not_a_second_more() {
        let history = history();
        let scheduled = |workflow: &str| WorkflowActivity {
            workflow: workflow.into(),
            since: "2026-10-16T00:00:00Z".into(),
            scheduled: Some(true),
            ..WorkflowActivity::default()
        };
        let activity = vec![
            scheduled("edge"),
            scheduled("late"),
            scheduled("stale"),
            // Continuous: neither deployed nor adopted, whatever it does.
            WorkflowActivity { scheduled: Some(false), ..scheduled("stream") },
            // Stopped before the instant: not deployed.
            WorkflowActivity { until: Some("2026-11-10T00:00:00Z".into()), ..scheduled("gone") },
        ];
        let last = |workflow: &str, at: &str| tenantry_api::tenant::LastRun {
            workflow: workflow.into(),
            at: at.into(),
            succeeded: None,
        };
        let usage = [
            MonthlyUsage {
                period: "2026-10".into(),
                runs: 3,
                last_runs: vec![
                    // Measured at 21 November 00:00: 30 days back is 22 October 00:00.
                    last("edge", "2026-10-22T00:00:00Z"),
                    last("stale", "2026-10-21T23:59:59Z"),
                ],
            },
            MonthlyUsage { period: "2026-11".into(), runs: 1, last_runs: vec![last("late", "2026-11-20T23:59:59Z")] },
        ];
        let mut account = account(&history, &activity);
        account.usage = &usage;
        let at = at("2026-11-21T00:00:00Z");
        let adoption = run_rate(&account, &prices, at, false).unwrap().adoption.unwrap();
        assert_eq!((adoption.deployed, adoption.with_recent_run), (3, 2), "edge and late, not stale");
        // No entry for the month: runs not observed, adoption unknown rather than zero.
        account.usage = &usage[..1];
        assert_eq!(run_rate(&account, &prices, at, false).unwrap().adoption, None);
    }

    /// A realistic busy month: a downgrade and an upgrade (three tiers), five workflows,
    /// runs beyond the allowance and a discount: eight lines. Its size is what
    /// docs/billing.md's footprint figures start from; `--nocapture` prints it.
    #[test]
    fn a_busy_month_record_stays_a_few_kilobytes() {
        let history = [
            TierHistoryEntry {
                tier: "northbridge-managed-ai".into(),
                level: Some(2),
                since: "2026-09-01T00:00:00Z".into(),
                suspended: false,
            },
            TierHistoryEntry {
                tier: "northbridge-foundation".into(),
                level: Some(1),
                since: "2026-10-08T10:00:00Z".into(),
                suspended: false,
            },
            TierHistoryEntry {
                tier: "northbridge-intelligence-plus".into(),
                level: Some(3),
                since: "2026-10-21T16:30:00Z".into(),
                suspended: false,
            },
        ];
        let activity: Vec<WorkflowActivity> =
            ["order-routing", "replenishment", "stock-threshold-alerts", "demand-forecast", "kpi-digest"]
                .iter()
                .map(|w| WorkflowActivity {
                    workflow: w.to_string(),
                    since: "2026-09-01T00:00:00Z".into(),
                    cpu_millicores: Some(500),
                    memory_bytes: Some(1 << 30),
                    scheduled: Some(true),
                    ..WorkflowActivity::default()
                })
                .collect();
        let usage = [MonthlyUsage {
            period: "2026-10".into(),
            runs: 612_345,
            last_runs: activity
                .iter()
                .map(|a| tenantry_api::tenant::LastRun {
                    workflow: a.workflow.clone(),
                    at: "2026-10-31T23:45:00Z".into(),
                    succeeded: None,
                })
                .collect(),
        }];
        let prices = |tier: &str| {
            let (display_name, level) = match tier {
                "northbridge-foundation" => ("Automation Foundation", 1),
                "northbridge-managed-ai" => ("Managed AI Operations", 2),
                _ => ("Operational Intelligence Plus", 3),
            };
            Some(TierPrices {
                tier: tier.into(),
                display_name: display_name.into(),
                level,
                monthly_base_fee: 799_000,
                monthly_fee_per_active_workflow: 19_900,
                included_runs_per_month: 500_000,
                price_per_thousand_extra_runs: 150,
                sla: None,
            })
        };
        let mut account = account(&history, &activity);
        account.tenant = "alpine-supply";
        account.partner = "northbridge-erp";
        account.discount_percent = 10;
        account.usage = &usage;
        let now = at("2026-11-15T09:00:00Z");
        let record = records(&account, prices, &BTreeMap::new(), ClosingRules::default(), now).unwrap().remove(1);
        assert_eq!(record.metadata.name.as_deref(), Some("alpine-supply-2026-10"));
        assert_eq!(record.spec.line_items.len(), 8, "{:#?}", record.spec.line_items);
        let json = serde_json::to_string(&record).unwrap();
        eprintln!("footprint: {} bytes of JSON for a record with 8 lines:\n{json}", json.len());
        assert!(json.len() < 4_096, "{} bytes", json.len());
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
