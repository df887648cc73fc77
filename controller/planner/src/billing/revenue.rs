//! A partner's recurring revenue month by month, from its tenants' BillingRecords alone: the
//! run-rate each record carries (`spec.recurring`) and what it billed. Computed the same way
//! from records planned from a directory and from records read from a cluster.
//!
//! Definitions (also in `docs/billing.md`):
//! - a tenant's **MRR** for a month is the run-rate its record for that month carries: list
//!   prices of its tier and its active workflows at the end of the billed span, after its
//!   discount; zero with no record, while suspended and once deleted;
//! - **movements** compare each tenant's MRR with the month before: **new** (from zero, never
//!   paid before), **reactivated** (from zero, paid before), **expansion** (up), **contraction**
//!   (down, not to zero), **churned** (to zero); contraction and churn are negative, and
//!   `MRR(m) = MRR(m-1) + new + reactivated + expansion + contraction + churned`;
//! - **NRR** and **GRR** over the trailing 12 months: for the cohort of tenants with MRR twelve
//!   months earlier, the sum of their MRR now (GRR: each capped at its MRR then) over the sum of
//!   their MRR then, in basis points (10,000 = 100 %);
//! - **ARPA**: MRR over the accounts paying (MRR above zero); **attach rate**: the share of
//!   those accounts with at least one active workflow, in basis points;
//! - **gross margin**: what the month's records bill less what running the tenants cost the
//!   partner at its cost model: the CPU and memory its tenants' active workflows requested
//!   (`spec.consumption` on each record) at its monthly rates, and each tenant's support
//!   cost by tier level, both prorated by the second. Each cost is rounded once; the margin
//!   is billed less the rounded costs, so the figures add up;
//! - **workflow adoption**: the scheduled workflows active at the end of the month (or now)
//!   with a run in the 30 days before, over the scheduled workflows active then.
//!
//! A tenant deleted and created again in the same month has two records for it: what they
//! bill and cost is added up, and the run-rate is the later record's.

use super::money::Exact;
use super::period::Period;
use super::records::sequence_of;
use std::collections::{BTreeMap, BTreeSet};
use tenantry_api::billing::{Adoption, BillingRecord, Consumption};
use tenantry_api::partner::{CostModel, PartnerRevenue};

/// MRR split by where it comes from.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MrrLayers {
    /// Base fees of the tiers.
    pub platform: i64,
    /// Fees of active workflows.
    pub managed_operations: i64,
    /// Fees above the tier.
    pub expansion: i64,
    /// Contract discounts (zero or negative).
    pub discount: i64,
}

/// How MRR moved from the month before.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MrrMovements {
    /// Tenants paying for the first time.
    pub new: i64,
    /// Tenants paying again after a month or more at zero.
    pub reactivated: i64,
    /// Increases of paying tenants.
    pub expansion: i64,
    /// Decreases of tenants still paying (negative).
    pub contraction: i64,
    /// Tenants that stopped paying (negative).
    pub churned: i64,
}

/// One month of a partner's revenue.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MonthRevenue {
    /// The month (`2026-11`).
    pub period: String,
    /// Monthly recurring revenue at the end of the month, in minor units.
    pub mrr: i64,
    /// MRR by layer.
    pub layers: MrrLayers,
    /// MRR by tier.
    pub by_tier: BTreeMap<String, i64>,
    /// Annual run-rate: twelve times the MRR.
    pub arr: i64,
    /// Movements since the month before.
    pub movements: MrrMovements,
    /// Accounts paying at the end of the month.
    pub accounts: usize,
    /// Average MRR per paying account, in minor units.
    pub arpa: i64,
    /// Share of paying accounts with an active workflow, in basis points.
    pub attach_rate_bp: i64,
    /// Net revenue retention over the trailing 12 months, in basis points, when a cohort exists.
    pub nrr_bp: Option<i64>,
    /// Gross revenue retention over the trailing 12 months, in basis points, when a cohort exists.
    pub grr_bp: Option<i64>,
    /// What the month's records bill (prorated charges, not the run-rate), in minor units.
    pub billed: i64,
    /// The service credits (`slaCredit` lines, negative) among what was billed; written only
    /// when there are some.
    #[serde(skip_serializing_if = "is_zero")]
    pub credits: i64,
    /// What running the tenants cost the partner, when it has a cost model and every record
    /// of the month carries its consumption.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub costs: Option<Costs>,
    /// Billed less the costs, in minor units.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gross_margin: Option<i64>,
    /// Gross margin over billed, in basis points, when something was billed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gross_margin_bp: Option<i64>,
    /// Scheduled workflows active at the end of the month and those with a recent run, over
    /// the tenants whose runs were observed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub adoption: Option<Adoption>,
    /// Adopted over deployed workflows, in basis points, when any is deployed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub adoption_bp: Option<i64>,
}

/// A month's costs, in minor units, each rounded once.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Costs {
    /// Requested CPU and memory of the active workflows at the cost model's monthly rates.
    pub infrastructure: i64,
    /// Each tenant's support cost by tier level, prorated by its billable seconds.
    pub support: i64,
}

/// The exact cost of one month's consumption at `model`: (infrastructure, support).
pub fn cost_of(consumption: &Consumption, model: &CostModel, month_seconds: i64) -> (Exact, Exact) {
    // A core-month is 1,000 millicores for every second of the month; a GiB-month is
    // 1,048,576 KiB for every second. One denominator for both keeps the sum exact.
    let month = i128::from(month_seconds);
    let infrastructure = Exact::ratio(
        i128::from(model.cpu_core_month) * i128::from(consumption.cpu_millicore_seconds) * 1_048_576
            + i128::from(model.memory_gib_month) * i128::from(consumption.memory_kibibyte_seconds) * 1_000,
        month * 1_000 * 1_048_576,
    );
    let support_numerator: i128 = consumption
        .tiers
        .iter()
        .map(|time| {
            let monthly = model.support_per_tenant.iter().find(|s| s.tier_level == time.level).map_or(0, |s| s.monthly);
            i128::from(monthly) * i128::from(time.seconds)
        })
        .sum();
    (infrastructure, Exact::ratio(support_numerator, month))
}

/// One tenant's standing in one month, read from its record (its records, when it was
/// created again within the month).
#[derive(Debug, Clone, Default)]
struct Standing {
    mrr: i64,
    layers: MrrLayers,
    tier: Option<String>,
    active_workflows: i32,
    adoption: Option<Adoption>,
    billed: i64,
    /// Its `slaCredit` lines, among what it billed.
    credits: i64,
    /// The sequence of the record the run-rate comes from.
    sequence: u32,
    /// Its exact costs, when every record carries its consumption and there is a model.
    costs: Option<(Exact, Exact)>,
}

/// The revenue of `partner` for the `months` months ending with `through`, oldest first.
/// Costs and gross margin need the partner's cost `model`.
pub fn revenue<'r>(
    records: impl IntoIterator<Item = &'r BillingRecord>,
    partner: &str,
    model: Option<&CostModel>,
    through: Period,
    months: usize,
) -> Vec<MonthRevenue> {
    let mut by_month: BTreeMap<Period, BTreeMap<String, Standing>> = BTreeMap::new();
    for record in records.into_iter().filter(|r| r.spec.partner_ref == partner) {
        let Ok(period) = record.spec.period.parse::<Period>() else { continue };
        let recurring = record.spec.recurring.clone().unwrap_or_default();
        let sequence = sequence_of(record);
        let costs = match (model, &record.spec.consumption) {
            (Some(model), Some(consumption)) => Some(cost_of(consumption, model, period.seconds())),
            _ => None,
        };
        let standing = Standing {
            mrr: recurring.total,
            layers: MrrLayers {
                platform: recurring.platform,
                managed_operations: recurring.managed_operations,
                expansion: recurring.expansion,
                discount: recurring.discount,
            },
            tier: recurring.tier,
            active_workflows: recurring.active_workflows,
            adoption: recurring.adoption,
            billed: record.spec.total,
            credits: record
                .spec
                .line_items
                .iter()
                .filter(|l| l.layer == tenantry_api::billing::BillingLayer::SlaCredit)
                .map(|l| l.amount)
                .sum(),
            sequence,
            costs,
        };
        let month = by_month.entry(period).or_default();
        match month.remove(&record.spec.tenant_ref) {
            None => {
                month.insert(record.spec.tenant_ref.clone(), standing);
            }
            Some(other) => {
                month.insert(record.spec.tenant_ref.clone(), merged(other, standing));
            }
        }
    }
    let empty = BTreeMap::new();
    let month = |period: Period| by_month.get(&period).unwrap_or(&empty);
    let mut first = through;
    for _ in 1..months.max(1) {
        first = first.previous();
    }
    let mut out = Vec::new();
    let mut period = first;
    while period <= through {
        let earlier: Vec<&BTreeMap<String, Standing>> =
            by_month.range(..period.previous()).map(|(_, tenants)| tenants).collect();
        out.push(month_revenue(period, month(period), month(period.previous()), &earlier, month(year_before(period))));
        period = period.next();
    }
    out
}

/// Two records of one tenant's month: billed and costs add up, the run-rate is the later's.
fn merged(a: Standing, b: Standing) -> Standing {
    let (earlier, later) = if a.sequence <= b.sequence { (a, b) } else { (b, a) };
    let costs = match (earlier.costs, later.costs) {
        (Some((i1, s1)), Some((i2, s2))) => Some((i1.plus(i2), s1.plus(s2))),
        _ => None,
    };
    Standing { billed: earlier.billed + later.billed, credits: earlier.credits + later.credits, costs, ..later }
}

fn year_before(period: Period) -> Period {
    (0..12).fold(period, |p, _| p.previous())
}

fn month_revenue(
    period: Period,
    now: &BTreeMap<String, Standing>,
    before: &BTreeMap<String, Standing>,
    earlier: &[&BTreeMap<String, Standing>],
    year_ago: &BTreeMap<String, Standing>,
) -> MonthRevenue {
    let paying: Vec<&Standing> = now.values().filter(|s| s.mrr > 0).collect();
    let mrr: i64 = now.values().map(|s| s.mrr).sum();
    let mut layers = MrrLayers::default();
    let mut by_tier: BTreeMap<String, i64> = BTreeMap::new();
    for standing in now.values() {
        layers.platform += standing.layers.platform;
        layers.managed_operations += standing.layers.managed_operations;
        layers.expansion += standing.layers.expansion;
        layers.discount += standing.layers.discount;
        if let (Some(tier), true) = (&standing.tier, standing.mrr != 0) {
            *by_tier.entry(tier.clone()).or_default() += standing.mrr;
        }
    }
    let attached = paying.iter().filter(|s| s.active_workflows > 0).count();
    let basis_points = |part: i64, whole: i64| (whole != 0).then(|| Exact::prorated(10_000, part, whole).round());
    let (nrr_bp, grr_bp) = retention(now, year_ago);
    let billed: i64 = now.values().map(|s| s.billed).sum();
    let credits: i64 = now.values().map(|s| s.credits).sum();
    let costs = if now.is_empty() {
        None
    } else {
        now.values()
            .map(|s| s.costs)
            .try_fold((Exact::whole(0), Exact::whole(0)), |(i, s), c| c.map(|(ci, cs)| (i.plus(ci), s.plus(cs))))
            .map(|(infrastructure, support)| Costs { infrastructure: infrastructure.round(), support: support.round() })
    };
    let gross_margin = costs.as_ref().map(|c| billed - c.infrastructure - c.support);
    let adoption = now.values().filter_map(|s| s.adoption.clone()).reduce(|a, b| Adoption {
        deployed: a.deployed + b.deployed,
        with_recent_run: a.with_recent_run + b.with_recent_run,
    });
    MonthRevenue {
        period: period.to_string(),
        mrr,
        layers,
        by_tier,
        arr: mrr.saturating_mul(12),
        movements: movements(now, before, earlier),
        accounts: paying.len(),
        arpa: if paying.is_empty() { 0 } else { Exact::prorated(mrr, 1, paying.len() as i64).round() },
        attach_rate_bp: basis_points(attached as i64, paying.len() as i64).unwrap_or(0),
        nrr_bp: nrr_bp.and_then(|(part, whole)| basis_points(part, whole)),
        grr_bp: grr_bp.and_then(|(part, whole)| basis_points(part, whole)),
        billed,
        credits,
        gross_margin_bp: gross_margin.and_then(|margin| basis_points(margin, billed)),
        gross_margin,
        costs,
        adoption_bp: adoption.as_ref().and_then(|a| basis_points(i64::from(a.with_recent_run), i64::from(a.deployed))),
        adoption,
    }
}

fn movements(
    now: &BTreeMap<String, Standing>,
    before: &BTreeMap<String, Standing>,
    earlier: &[&BTreeMap<String, Standing>],
) -> MrrMovements {
    let mrr = |month: &BTreeMap<String, Standing>, tenant: &str| month.get(tenant).map_or(0, |s| s.mrr);
    let tenants: BTreeSet<&String> = now.keys().chain(before.keys()).collect();
    let mut moved = MrrMovements::default();
    for tenant in tenants {
        let (then, current) = (mrr(before, tenant), mrr(now, tenant));
        match (then > 0, current > 0) {
            (false, true) if earlier.iter().any(|month| mrr(month, tenant) > 0) => moved.reactivated += current,
            (false, true) => moved.new += current,
            (true, false) => moved.churned -= then,
            (true, true) if current > then => moved.expansion += current - then,
            (true, true) => moved.contraction += current - then,
            (false, false) => {}
        }
    }
    moved
}

/// (NRR numerator, denominator), (GRR numerator, denominator) for the cohort paying a year ago.
#[allow(clippy::type_complexity)]
fn retention(
    now: &BTreeMap<String, Standing>,
    year_ago: &BTreeMap<String, Standing>,
) -> (Option<(i64, i64)>, Option<(i64, i64)>) {
    let cohort: Vec<(&String, i64)> =
        year_ago.iter().filter(|(_, s)| s.mrr > 0).map(|(tenant, s)| (tenant, s.mrr)).collect();
    if cohort.is_empty() {
        return (None, None);
    }
    let start: i64 = cohort.iter().map(|(_, mrr)| mrr).sum();
    let current = |tenant: &String| now.get(tenant).map_or(0, |s| s.mrr.max(0));
    let net: i64 = cohort.iter().map(|(tenant, _)| current(tenant)).sum();
    let gross: i64 = cohort.iter().map(|(tenant, then)| current(tenant).min(*then)).sum();
    (Some((net, start)), Some((gross, start)))
}

/// The partner-status summary of `partner`'s revenue in the month of `now`: the last row of
/// [`revenue`] over the trailing year, and time to value from its tenants.
pub fn partner_revenue<'r>(
    records: impl IntoIterator<Item = &'r BillingRecord>,
    partner: &str,
    currency: &str,
    model: Option<&CostModel>,
    now: jiff::Timestamp,
    times_to_value: &mut [i64],
) -> PartnerRevenue {
    let period = Period::containing(now);
    let month = revenue(records, partner, model, period, 13).pop().unwrap_or_else(|| empty_month(period));
    times_to_value.sort_unstable();
    PartnerRevenue {
        period: month.period,
        currency: currency.to_string(),
        mrr: month.mrr,
        arr: month.arr,
        platform_mrr: month.layers.platform,
        managed_operations_mrr: month.layers.managed_operations,
        expansion_mrr: month.layers.expansion,
        new_mrr: month.movements.new,
        reactivated_mrr: month.movements.reactivated,
        expansion_movement: month.movements.expansion,
        contraction_movement: month.movements.contraction,
        churned_mrr: month.movements.churned,
        paying_tenants: i32::try_from(month.accounts).unwrap_or(i32::MAX),
        arpa: month.arpa,
        attach_rate_basis_points: month.attach_rate_bp,
        nrr_basis_points: month.nrr_bp,
        grr_basis_points: month.grr_bp,
        billed: month.billed,
        credits: (month.credits != 0).then_some(month.credits),
        time_to_value_median_seconds: percentile(times_to_value, 50),
        time_to_value_p90_seconds: percentile(times_to_value, 90),
        infrastructure_cost: month.costs.as_ref().map(|c| c.infrastructure),
        support_cost: month.costs.as_ref().map(|c| c.support),
        gross_margin: month.gross_margin,
        gross_margin_basis_points: month.gross_margin_bp,
        deployed_workflows: month.adoption.as_ref().map(|a| a.deployed),
        adopted_workflows: month.adoption.as_ref().map(|a| a.with_recent_run),
        workflow_adoption_basis_points: month.adoption_bp,
    }
}

fn is_zero(value: &i64) -> bool {
    *value == 0
}

fn empty_month(period: Period) -> MonthRevenue {
    month_revenue(period, &BTreeMap::new(), &BTreeMap::new(), &[], &BTreeMap::new())
}

/// The nearest-rank percentile of sorted `values`.
fn percentile(sorted: &[i64], percent: usize) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (percent * sorted.len()).div_ceil(100).max(1);
    sorted.get(rank - 1).copied()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tenantry_api::billing::{BillingRecordSpec, RecurringRevenue};

    fn record(tenant: &str, period: &str, mrr: i64, workflows: i32) -> BillingRecord {
        BillingRecord::new(
            &format!("{tenant}-{period}"),
            BillingRecordSpec {
                tenant_ref: tenant.into(),
                partner_ref: "acme".into(),
                period: period.into(),
                currency: "EUR".into(),
                line_items: vec![],
                total: mrr,
                recurring: Some(RecurringRevenue {
                    at: String::new(),
                    tier: Some(if mrr > 150 { "gold" } else { "silver" }.into()),
                    active_workflows: workflows,
                    platform: mrr,
                    managed_operations: 0,
                    expansion: 0,
                    discount: 0,
                    total: mrr,
                    adoption: None,
                }),
                consumption: None,
            },
        )
    }

    #[test]
    fn movements_explain_every_change_of_mrr() {
        let records = vec![
            record("a", "2026-01", 100, 1),
            record("b", "2026-01", 200, 0),
            record("c", "2026-01", 100, 1),
            // February: a expands, b contracts, c churns (suspended: record at zero), d is new.
            record("a", "2026-02", 300, 1),
            record("b", "2026-02", 150, 0),
            record("c", "2026-02", 0, 0),
            record("d", "2026-02", 50, 2),
            // March: c comes back.
            record("a", "2026-03", 300, 1),
            record("b", "2026-03", 150, 0),
            record("c", "2026-03", 100, 1),
            record("d", "2026-03", 50, 2),
        ];
        let months = revenue(&records, "acme", None, "2026-03".parse().unwrap(), 3);
        let feb = &months[1];
        assert_eq!(feb.mrr, 500);
        assert_eq!(
            feb.movements,
            MrrMovements { new: 50, reactivated: 0, expansion: 200, contraction: -50, churned: -100 }
        );
        assert_eq!(months[0].mrr + 50 + 200 - 50 - 100, feb.mrr);
        assert_eq!(months[2].movements.reactivated, 100, "c paid before: reactivated, not new");
        assert_eq!(feb.accounts, 3);
        assert_eq!(feb.arpa, 167, "500 / 3 = 166.67");
        assert_eq!(feb.attach_rate_bp, 6_667, "a and d of a, b, d have workflows");
        assert_eq!(feb.by_tier, BTreeMap::from([("gold".into(), 300), ("silver".into(), 150 + 50)]));
        assert_eq!(feb.arr, 6_000);
        assert_eq!(feb.nrr_bp, None, "no cohort a year before");
    }

    #[test]
    fn retention_over_twelve_months_by_hand() {
        // January 2026 cohort: a 100, b 200, c 100 = 400.
        // January 2027: a 300 (expanded), b 150 (contracted), c gone, d 500 (new, not in the cohort).
        let records = vec![
            record("a", "2026-01", 100, 1),
            record("b", "2026-01", 200, 0),
            record("c", "2026-01", 100, 1),
            record("a", "2027-01", 300, 1),
            record("b", "2027-01", 150, 0),
            record("d", "2027-01", 500, 1),
        ];
        let january = revenue(&records, "acme", None, "2027-01".parse().unwrap(), 1).remove(0);
        // NRR = (300 + 150 + 0) / 400 = 112.5 %; GRR = (min(300,100) + min(150,200) + 0) / 400 = 62.5 %.
        assert_eq!(january.nrr_bp, Some(11_250));
        assert_eq!(january.grr_bp, Some(6_250));
    }

    #[test]
    fn other_partners_records_do_not_count() {
        let mut other = record("x", "2026-01", 999, 1);
        other.spec.partner_ref = "other".into();
        let months = revenue(&[other, record("a", "2026-01", 100, 0)], "acme", None, "2026-01".parse().unwrap(), 1);
        assert_eq!(months[0].mrr, 100);
    }

    fn costed(tenant: &str, billed: i64, consumption: Consumption) -> BillingRecord {
        let mut record = record(tenant, "2026-11", billed, 1);
        record.spec.consumption = Some(consumption);
        record
    }

    fn model(cpu: i64, memory: i64, support: &[(i32, i64)]) -> CostModel {
        CostModel {
            cpu_core_month: cpu,
            memory_gib_month: memory,
            support_per_tenant: support
                .iter()
                .map(|(level, monthly)| tenantry_api::partner::SupportCost { tier_level: *level, monthly: *monthly })
                .collect(),
        }
    }

    const NOVEMBER: i64 = 30 * 86_400;
    const GIB: i64 = 1_048_576;

    fn level(level: i32, seconds: i64) -> Vec<tenantry_api::billing::TierTime> {
        vec![tenantry_api::billing::TierTime { tier: "gold".into(), level, seconds }]
    }

    #[test]
    fn gross_margin_is_billed_less_the_rounded_costs_in_two_decimal_currencies() {
        // EUR: half a core and 1 GiB all month at 24.00 and 3.10 a month: 12.00 + 3.10;
        // level 2 support (420.00 a month) for half the month: 210.00.
        let consumption = Consumption {
            runs: 0,
            tiers: level(2, NOVEMBER / 2),
            cpu_millicore_seconds: 500 * NOVEMBER,
            memory_kibibyte_seconds: GIB * NOVEMBER,
        };
        let records = vec![costed("a", 100_000, consumption)];
        let eur = model(2_400, 310, &[(1, 15_000), (2, 42_000)]);
        let month = revenue(&records, "acme", Some(&eur), "2026-11".parse().unwrap(), 1).remove(0);
        assert_eq!(month.costs, Some(Costs { infrastructure: 1_510, support: 21_000 }));
        assert_eq!((month.gross_margin, month.gross_margin_bp), (Some(77_490), Some(7_749)));
        // No cost model, or a record without consumption (written before it was kept): no margin.
        let none = revenue(&records, "acme", None, "2026-11".parse().unwrap(), 1).remove(0);
        assert_eq!((none.costs, none.gross_margin), (None, None));
        let legacy = vec![records[0].clone(), record("b", "2026-11", 5_000, 0)];
        assert_eq!(revenue(&legacy, "acme", Some(&eur), "2026-11".parse().unwrap(), 1)[0].gross_margin, None);
        // A level without a support cost costs nothing.
        let unsupported = model(2_400, 310, &[(1, 15_000)]);
        let month = revenue(&records, "acme", Some(&unsupported), "2026-11".parse().unwrap(), 1).remove(0);
        assert_eq!(month.costs, Some(Costs { infrastructure: 1_510, support: 0 }));
    }

    #[test]
    fn costs_are_exact_until_rounded_once_in_zero_and_three_decimal_currencies() {
        // JPY: 0.333 of a core all month at ¥3,500 = ¥1,165.5, and 1 GiB at ¥450: ¥1,615.5,
        // rounded once (half away from zero) to ¥1,616, not ¥1,166 + ¥450.
        let jpy = model(3_500, 450, &[]);
        let consumption = Consumption {
            cpu_millicore_seconds: 333 * NOVEMBER,
            memory_kibibyte_seconds: GIB * NOVEMBER,
            ..Consumption::default()
        };
        let month =
            revenue(&[costed("a", 10_000, consumption)], "acme", Some(&jpy), "2026-11".parse().unwrap(), 1).remove(0);
        assert_eq!(month.costs, Some(Costs { infrastructure: 1_616, support: 0 }));
        assert_eq!(month.gross_margin, Some(8_384));
        // KWD: a core and a GiB for a third of the month at 0.008 and 0.002 KWD: 2.667 + 0.667
        // = 3.333 fils, 3 (rounding each would give 3 + 1 = 4); support 0.125 KWD a month at
        // level 1 for a third: 41.667 fils, 42. Two tenants add up before rounding.
        let kwd = model(8, 2, &[(1, 125)]);
        let third = Consumption {
            tiers: level(1, NOVEMBER / 3),
            cpu_millicore_seconds: 1_000 * NOVEMBER / 3,
            memory_kibibyte_seconds: GIB * NOVEMBER / 3,
            ..Consumption::default()
        };
        let one = revenue(&[costed("a", 1_000, third.clone())], "acme", Some(&kwd), "2026-11".parse().unwrap(), 1);
        assert_eq!(one[0].costs, Some(Costs { infrastructure: 3, support: 42 }));
        let both = vec![costed("a", 1_000, third.clone()), costed("b", 1_000, third)];
        let month = revenue(&both, "acme", Some(&kwd), "2026-11".parse().unwrap(), 1).remove(0);
        // 6.667 fils → 7; 83.333 → 83.
        assert_eq!(month.costs, Some(Costs { infrastructure: 7, support: 83 }));
        assert_eq!((month.gross_margin, month.gross_margin_bp), (Some(2_000 - 90), Some(9_550)));
    }

    #[test]
    fn adoption_adds_up_over_the_tenants_whose_runs_are_observed() {
        let with = |tenant: &str, deployed: i32, ran: i32| {
            let mut record = record(tenant, "2026-11", 100, 1);
            record.spec.recurring.as_mut().unwrap().adoption = Some(Adoption { deployed, with_recent_run: ran });
            record
        };
        let records = vec![with("a", 2, 1), with("b", 3, 3), record("c", "2026-11", 100, 1)];
        let month = revenue(&records, "acme", None, "2026-11".parse().unwrap(), 1).remove(0);
        assert_eq!(month.adoption, Some(Adoption { deployed: 5, with_recent_run: 4 }));
        assert_eq!(month.adoption_bp, Some(8_000));
        let unknown = revenue(&records[2..], "acme", None, "2026-11".parse().unwrap(), 1).remove(0);
        assert_eq!((unknown.adoption, unknown.adoption_bp), (None, None));
        let nothing_scheduled = revenue(&[with("a", 0, 0)], "acme", None, "2026-11".parse().unwrap(), 1).remove(0);
        assert_eq!(nothing_scheduled.adoption_bp, None, "0 of 0 is no rate");
    }

    #[test]
    fn the_partner_status_summarises_the_current_month() {
        let records =
            vec![record("a", "2026-10", 100, 1), record("a", "2026-11", 300, 1), record("b", "2026-11", 100, 0)];
        let now = "2026-11-20T00:00:00Z".parse().unwrap();
        let mut ttv = vec![300, 100, 200, 86_400];
        let summary = partner_revenue(&records, "acme", "EUR", None, now, &mut ttv);
        assert_eq!((summary.period.as_str(), summary.mrr, summary.arr), ("2026-11", 400, 4_800));
        assert_eq!((summary.new_mrr, summary.expansion_movement), (100, 200));
        assert_eq!(summary.paying_tenants, 2);
        assert_eq!(summary.time_to_value_median_seconds, Some(200));
        assert_eq!(summary.time_to_value_p90_seconds, Some(86_400));
        let nobody = partner_revenue(&[], "acme", "EUR", None, now, &mut []);
        assert_eq!((nobody.mrr, nobody.time_to_value_median_seconds), (0, None));
    }
}
