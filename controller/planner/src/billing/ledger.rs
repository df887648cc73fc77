//! One tenant's bill for one month, from what it used: the time spent on each tier, the time
//! each workflow ran and the runs completed. Pure arithmetic on explicit inputs; where those
//! inputs come from (statuses the operator keeps) is the caller's business.
//!
//! The rules, also written in `docs/billing.md`:
//! - every line is computed exactly and rounded once, half away from zero;
//! - the total is the sum of the rounded lines;
//! - the discount is its own negative line: the contract's percentage of the sum of the
//!   rounded charge lines, rounded once.

use super::money::Exact;
use super::period::{Period, Span};
use jiff::Timestamp;
use std::collections::BTreeMap;
use tenantry_api::billing::{BillingLayer, LineItem};

/// What one tier charges, as read from its ServiceTier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TierPrices {
    /// Name of the ServiceTier.
    pub tier: String,
    /// Name the partner sells it under.
    pub display_name: String,
    /// Its level now (history entries carry the level at the time).
    pub level: i32,
    /// Monthly base fee, in minor units.
    pub monthly_base_fee: i64,
    /// Monthly fee for each active workflow, in minor units.
    pub monthly_fee_per_active_workflow: i64,
    /// Runs included each month.
    pub included_runs_per_month: i64,
    /// Price of 1,000 runs beyond those included, in minor units.
    pub price_per_thousand_extra_runs: i64,
    /// Its service-level terms, when it declares valid ones.
    pub sla: Option<crate::sla_terms::SlaTerms>,
}

/// A stretch of time the tenant was on one tier and not suspended: billable time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TierStint {
    /// When.
    pub span: Span,
    /// The tier's prices.
    pub prices: TierPrices,
}

/// Everything a month's bill is computed from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Usage {
    /// Billable stints on tiers, in time order and not overlapping.
    pub stints: Vec<TierStint>,
    /// Spans each workflow was active (running: not held, suspended or blocked), by name.
    pub workflows: BTreeMap<String, Vec<Span>>,
    /// Runs completed in the period, over every workflow.
    pub runs: i64,
    /// The contract's discount, in whole percent.
    pub discount_percent: i64,
    /// A service credit, for a closed month that ended below a credit band.
    pub credit: Option<Credit>,
    /// Corrections declared for the period, each its own line, after the discount and the
    /// credit (neither applies to them).
    pub adjustments: Vec<Adjustment>,
}

/// A correction billed on the period's record (`spec.billingAdjustments`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Adjustment {
    /// Its name on the tenant.
    pub name: String,
    /// Why.
    pub description: String,
    /// Minor units; negative credits the client.
    pub amount: i64,
    /// The month it corrects, if any.
    pub corrects: Option<String>,
}

/// A service credit: a share of the month's platform fee (docs/sla.md).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Credit {
    /// Whole percent of the platform lines.
    pub percent: i64,
    /// The band's threshold, in pcm.
    pub below_pcm: i64,
    /// The month's attainment, in pcm (rounded down).
    pub attainment_pcm: i64,
}

/// A computed bill: the lines and their sum.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Bill {
    /// Charges, then usage, then the discount.
    pub lines: Vec<LineItem>,
    /// The sum of the lines' amounts.
    pub total: i64,
}

/// The bill for `period` from `usage`, counting only time inside the period.
pub fn bill(period: Period, usage: &Usage) -> Bill {
    let month = period.span();
    let month_seconds = period.seconds();
    let mut lines = Vec::new();
    for (prices, seconds) in seconds_by_tier(&usage.stints, &month) {
        lines.push(platform_line(prices, seconds, month_seconds));
    }
    for (prices, seconds) in workflow_seconds_by_tier(usage, &month) {
        if seconds > 0 && prices.monthly_fee_per_active_workflow != 0 {
            lines.push(managed_operations_line(prices, seconds, month_seconds));
        }
    }
    if let Some(line) = usage_line(usage, &month, month_seconds) {
        lines.push(line);
    }
    let subtotal: i64 = lines.iter().map(|l| l.amount).sum();
    if usage.discount_percent != 0 && subtotal != 0 {
        lines.push(LineItem {
            layer: BillingLayer::Discount,
            description: format!("Contract discount, {} %", usage.discount_percent),
            quantity_milli: usage.discount_percent * 10,
            unit_price: -subtotal,
            amount: Exact::whole(subtotal).percent(usage.discount_percent).negated().round(),
        });
    }
    if let Some(credit) = usage.credit {
        let platform: i64 = lines.iter().filter(|l| l.layer == BillingLayer::Platform).map(|l| l.amount).sum();
        if platform != 0 {
            lines.push(LineItem {
                layer: BillingLayer::SlaCredit,
                description: format!(
                    "Service credit, {} % of the platform fee: attainment {} % below {} %",
                    credit.percent,
                    crate::sla_terms::format_pcm(credit.attainment_pcm),
                    crate::sla_terms::format_pcm(credit.below_pcm)
                ),
                quantity_milli: credit.percent * 10,
                unit_price: -platform,
                amount: Exact::whole(platform).percent(credit.percent).negated().round(),
            });
        }
    }
    for adjustment in &usage.adjustments {
        let corrects = adjustment.corrects.as_ref().map(|month| format!(", corrects {month}")).unwrap_or_default();
        lines.push(LineItem {
            layer: BillingLayer::Adjustment,
            description: format!("{} (adjustment {}{corrects})", adjustment.description, adjustment.name),
            quantity_milli: 1_000,
            unit_price: adjustment.amount,
            amount: adjustment.amount,
        });
    }
    let total = lines.iter().map(|l| l.amount).sum();
    Bill { lines, total }
}

/// What the whole month would come to if everything still running at `now` ran to the
/// period's end: spans that end at `now` are extended. Runs are not projected.
pub fn estimate(period: Period, usage: &Usage, now: Timestamp) -> Bill {
    let end = period.end();
    let extend = |span: &Span| if span.end == now { Span::new(span.start, end) } else { *span };
    let projected = Usage {
        stints: usage.stints.iter().map(|s| TierStint { span: extend(&s.span), prices: s.prices.clone() }).collect(),
        workflows: usage
            .workflows
            .iter()
            .map(|(name, spans)| (name.clone(), spans.iter().map(extend).collect()))
            .collect(),
        runs: usage.runs,
        discount_percent: usage.discount_percent,
        credit: usage.credit,
        adjustments: usage.adjustments.clone(),
    };
    bill(period, &projected)
}

/// Billable seconds inside `month` per tier, in the order the tiers were first used.
fn seconds_by_tier<'a>(stints: &'a [TierStint], month: &Span) -> Vec<(&'a TierPrices, i64)> {
    let mut totals: Vec<(&TierPrices, i64)> = Vec::new();
    for stint in stints {
        let seconds = stint.span.intersect(month).seconds();
        if seconds == 0 {
            continue;
        }
        match totals.iter_mut().find(|(prices, _)| **prices == stint.prices) {
            Some((_, total)) => *total += seconds,
            None => totals.push((&stint.prices, seconds)),
        }
    }
    totals
}

/// Active workflow-seconds inside `month` per tier: each workflow's active spans cut by the
/// billable stints, so a workflow is charged at the tier it ran under, and never while the
/// tenant was suspended.
fn workflow_seconds_by_tier<'a>(usage: &'a Usage, month: &Span) -> Vec<(&'a TierPrices, i64)> {
    let mut totals: Vec<(&TierPrices, i64)> = Vec::new();
    for stint in &usage.stints {
        let billable = stint.span.intersect(month);
        let seconds: i64 = usage
            .workflows
            .values()
            .flat_map(|spans| Span::union(spans))
            .map(|span| span.intersect(&billable).seconds())
            .sum();
        match totals.iter_mut().find(|(prices, _)| **prices == stint.prices) {
            Some((_, total)) => *total += seconds,
            None => totals.push((&stint.prices, seconds)),
        }
    }
    totals
}

fn platform_line(prices: &TierPrices, seconds: i64, month_seconds: i64) -> LineItem {
    LineItem {
        layer: BillingLayer::Platform,
        description: format!("{} base fee ({}), {}", prices.display_name, prices.tier, share(seconds, month_seconds)),
        quantity_milli: Exact::prorated(1000, seconds, month_seconds).round(),
        unit_price: prices.monthly_base_fee,
        amount: Exact::prorated(prices.monthly_base_fee, seconds, month_seconds).round(),
    }
}

fn managed_operations_line(prices: &TierPrices, workflow_seconds: i64, month_seconds: i64) -> LineItem {
    LineItem {
        layer: BillingLayer::ManagedOperations,
        description: format!(
            "Managed workflows on {} ({}), {} workflow-months",
            prices.display_name,
            prices.tier,
            Thousandths(Exact::prorated(1000, workflow_seconds, month_seconds).round())
        ),
        quantity_milli: Exact::prorated(1000, workflow_seconds, month_seconds).round(),
        unit_price: prices.monthly_fee_per_active_workflow,
        amount: Exact::prorated(prices.monthly_fee_per_active_workflow, workflow_seconds, month_seconds).round(),
    }
}

/// Runs beyond those included. The included runs are the tiers' monthly allowances,
/// prorated by the billable time on each; extra runs are priced at the last tier of the
/// month (the one the client is on when the month ends). The quantity is in thousands of
/// runs, so quantity × unit price (per 1,000) is the amount.
fn usage_line(usage: &Usage, month: &Span, month_seconds: i64) -> Option<LineItem> {
    let last = usage.stints.iter().rev().find(|s| !s.span.intersect(month).is_empty())?;
    if usage.runs <= 0 || last.prices.price_per_thousand_extra_runs == 0 {
        return None;
    }
    // Included runs × month_seconds, exactly: Σ included_i × seconds_i.
    let included_scaled: i128 = seconds_by_tier(&usage.stints, month)
        .iter()
        .map(|(prices, seconds)| i128::from(prices.included_runs_per_month) * i128::from(*seconds))
        .sum();
    let extra_scaled = i128::from(usage.runs) * i128::from(month_seconds) - included_scaled;
    if extra_scaled <= 0 {
        return None;
    }
    let price = last.prices.price_per_thousand_extra_runs;
    let amount = Exact::ratio(extra_scaled * i128::from(price), i128::from(month_seconds) * 1000).round();
    // Thousandths of 1,000 runs are runs: the extra runs, rounded to whole runs for the quantity.
    let extra_runs = Exact::ratio(extra_scaled, i128::from(month_seconds)).round();
    let included_milli = Exact::ratio(included_scaled * 1000, i128::from(month_seconds)).round();
    Some(LineItem {
        layer: BillingLayer::Usage,
        description: format!(
            "Workflow runs on {} ({}): {} runs, {} included, {} beyond, per 1,000",
            last.prices.display_name,
            last.prices.tier,
            usage.runs,
            Thousandths(included_milli),
            Thousandths(extra_runs * 1000)
        ),
        quantity_milli: extra_runs,
        unit_price: price,
        amount,
    })
}

/// "12.500 of 30 days" for a share of a month.
fn share(seconds: i64, month_seconds: i64) -> String {
    let day_milli = |s: i64| Exact::prorated(1000, s, 86_400).round();
    format!("{} of {} days", Thousandths(day_milli(seconds)), month_seconds / 86_400)
}

/// A count of thousandths written as a decimal number.
struct Thousandths(i64);

impl std::fmt::Display for Thousandths {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let magnitude = self.0.unsigned_abs();
        write!(f, "{sign}{}.{:03}", magnitude / 1000, magnitude % 1000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn span(start: &str, end: &str) -> Span {
        Span::new(at(start), at(end))
    }

    fn tier(name: &str, base: i64, per_workflow: i64) -> TierPrices {
        TierPrices {
            tier: name.into(),
            display_name: name.to_uppercase(),
            level: 1,
            monthly_base_fee: base,
            monthly_fee_per_active_workflow: per_workflow,
            included_runs_per_month: 0,
            price_per_thousand_extra_runs: 0,
            sla: None,
        }
    }

    fn amounts(bill: &Bill) -> Vec<(BillingLayer, i64)> {
        bill.lines.iter().map(|l| (l.layer, l.amount)).collect()
    }

    #[test]
    fn a_credit_is_its_share_of_the_platform_lines_rounded_once_half_away_from_zero() {
        let period: Period = "2026-11".parse().unwrap();
        let credited = |base: i64, percent: i64, discount: i64| {
            let usage = Usage {
                stints: vec![TierStint { span: period.span(), prices: tier("gold", base, 0) }],
                discount_percent: discount,
                credit: Some(Credit { percent, below_pcm: 99_000, attainment_pcm: 98_765 }),
                ..Usage::default()
            };
            let bill = bill(period, &usage);
            assert_eq!(bill.total, bill.lines.iter().map(|l| l.amount).sum::<i64>());
            bill.lines.last().map(|l| (l.layer, l.amount, l.quantity_milli, l.unit_price)).unwrap()
        };
        // JPY (0 decimals): 10 % of ¥15 is ¥1.5, credited as ¥2.
        assert_eq!(credited(15, 10, 0), (BillingLayer::SlaCredit, -2, 100, -15));
        // EUR (2 decimals): 25 % of 100.02 is 25.005, credited as 25.01.
        assert_eq!(credited(10_002, 25, 0), (BillingLayer::SlaCredit, -2_501, 250, -10_002));
        // KWD (3 decimals): 25 % of 12.345 is 3.08625, credited as 3.086.
        assert_eq!(credited(12_345, 25, 0), (BillingLayer::SlaCredit, -3_086, 250, -12_345));
        // After a discount, on the platform line as charged.
        let usage = Usage {
            stints: vec![TierStint { span: period.span(), prices: tier("gold", 10_000, 0) }],
            discount_percent: 20,
            credit: Some(Credit { percent: 10, below_pcm: 99_500, attainment_pcm: 99_400 }),
            ..Usage::default()
        };
        assert_eq!(
            amounts(&bill(period, &usage)),
            vec![(BillingLayer::Platform, 10_000), (BillingLayer::Discount, -2_000), (BillingLayer::SlaCredit, -1_000)]
        );
    }

    #[test]
    fn a_whole_month_on_one_tier_is_the_list_price() {
        let period: Period = "2026-02".parse().unwrap();
        let usage = Usage {
            stints: vec![TierStint { span: period.span(), prices: tier("gold", 149_000, 9_900) }],
            workflows: BTreeMap::from([
                ("a".into(), vec![period.span()]),
                ("b".into(), vec![span("2026-02-15T00:00:00Z", "2026-03-01T00:00:00Z")]),
            ]),
            ..Usage::default()
        };
        let bill = bill(period, &usage);
        // b ran 14 of February's 28 days: half a workflow-month.
        assert_eq!(
            amounts(&bill),
            vec![(BillingLayer::Platform, 149_000), (BillingLayer::ManagedOperations, 9_900 + 4_950)]
        );
        assert_eq!(bill.lines[1].quantity_milli, 1500);
        assert_eq!(bill.total, 163_850);
    }

    #[test]
    fn a_mid_month_upgrade_charges_each_tier_for_its_seconds() {
        // 30-day November; upgrade at noon on the 11th: 10.5 days on silver, 19.5 on gold.
        let period: Period = "2026-11".parse().unwrap();
        let usage = Usage {
            stints: vec![
                TierStint {
                    span: span("2026-11-01T00:00:00Z", "2026-11-11T12:00:00Z"),
                    prices: tier("silver", 30_000, 1_000),
                },
                TierStint {
                    span: span("2026-11-11T12:00:00Z", "2026-12-01T00:00:00Z"),
                    prices: tier("gold", 60_000, 3_000),
                },
            ],
            workflows: BTreeMap::from([("w".into(), vec![period.span()])]),
            ..Usage::default()
        };
        let bill = bill(period, &usage);
        // silver: 30000 × 10.5/30 = 10500; gold: 60000 × 19.5/30 = 39000.
        // workflow: 1000 × 10.5/30 = 350 on silver, 3000 × 19.5/30 = 1950 on gold.
        assert_eq!(
            amounts(&bill),
            vec![
                (BillingLayer::Platform, 10_500),
                (BillingLayer::Platform, 39_000),
                (BillingLayer::ManagedOperations, 350),
                (BillingLayer::ManagedOperations, 1_950),
            ]
        );
        assert_eq!(bill.total, 51_800);
    }

    #[test]
    fn suspended_time_is_not_billable_and_workflows_do_not_bill_through_it() {
        // Stints leave out 10 suspended days of a 31-day month.
        let period: Period = "2026-12".parse().unwrap();
        let prices = tier("gold", 31_000, 3_100);
        let usage = Usage {
            stints: vec![
                TierStint { span: span("2026-12-01T00:00:00Z", "2026-12-11T00:00:00Z"), prices: prices.clone() },
                TierStint { span: span("2026-12-21T00:00:00Z", "2027-01-01T00:00:00Z"), prices },
            ],
            // A workflow marked active through the suspension is still charged only for billable time.
            workflows: BTreeMap::from([("w".into(), vec![period.span()])]),
            ..Usage::default()
        };
        let bill = bill(period, &usage);
        assert_eq!(amounts(&bill), vec![(BillingLayer::Platform, 21_000), (BillingLayer::ManagedOperations, 2_100)]);
    }

    #[test]
    fn overlapping_spans_of_one_workflow_count_once() {
        let period: Period = "2026-04".parse().unwrap();
        let usage = Usage {
            stints: vec![TierStint { span: period.span(), prices: tier("gold", 0, 30_000) }],
            workflows: BTreeMap::from([(
                "w".into(),
                vec![
                    span("2026-04-01T00:00:00Z", "2026-04-11T00:00:00Z"),
                    span("2026-04-06T00:00:00Z", "2026-04-16T00:00:00Z"),
                ],
            )]),
            ..Usage::default()
        };
        // 15 distinct days of 30.
        assert_eq!(
            amounts(&bill(period, &usage)),
            vec![(BillingLayer::Platform, 0), (BillingLayer::ManagedOperations, 15_000)]
        );
    }

    #[test]
    fn the_discount_is_its_own_line_on_the_rounded_charges() {
        let period: Period = "2026-11".parse().unwrap();
        let usage = Usage {
            stints: vec![TierStint { span: period.span(), prices: tier("gold", 12_345, 0) }],
            discount_percent: 15,
            ..Usage::default()
        };
        let bill = bill(period, &usage);
        // 15 % of 123.45 is 18.5175: rounded once to 18.52.
        assert_eq!(amounts(&bill), vec![(BillingLayer::Platform, 12_345), (BillingLayer::Discount, -1_852)]);
        assert_eq!(bill.total, 10_493);
    }

    #[test]
    fn runs_beyond_the_prorated_allowance_are_charged_per_thousand() {
        let period: Period = "2026-11".parse().unwrap();
        let mut prices = tier("gold", 0, 0);
        prices.included_runs_per_month = 3_000;
        prices.price_per_thousand_extra_runs = 500;
        // Half the month on the tier: 1,500 runs included; 4,000 run; 2,500 extra at 5.00 per 1,000.
        let usage = Usage {
            stints: vec![TierStint { span: span("2026-11-16T00:00:00Z", "2026-12-01T00:00:00Z"), prices }],
            runs: 4_000,
            ..Usage::default()
        };
        let bill = bill(period, &usage);
        assert_eq!(amounts(&bill), vec![(BillingLayer::Platform, 0), (BillingLayer::Usage, 1_250)]);
        assert_eq!(bill.lines[1].quantity_milli, 2_500, "2.500 thousand runs at 5.00 per 1,000");
        assert_eq!(
            bill.lines[1].description,
            "Workflow runs on GOLD (gold): 4000 runs, 1500.000 included, 2500.000 beyond, per 1,000"
        );
    }

    #[test]
    fn a_mid_month_tier_change_prorates_the_allowance_and_prices_at_the_last_tier() {
        // 30-day November: 10 days on silver (3,000 included, 5.00 per 1,000), then 20 on
        // gold (6,000 included, 3.00 per 1,000).
        let period: Period = "2026-11".parse().unwrap();
        let mut silver = tier("silver", 0, 0);
        silver.included_runs_per_month = 3_000;
        silver.price_per_thousand_extra_runs = 500;
        let mut gold = tier("gold", 0, 0);
        gold.included_runs_per_month = 6_000;
        gold.price_per_thousand_extra_runs = 300;
        let stints = vec![
            TierStint { span: span("2026-11-01T00:00:00Z", "2026-11-11T00:00:00Z"), prices: silver },
            TierStint { span: span("2026-11-11T00:00:00Z", "2026-12-01T00:00:00Z"), prices: gold.clone() },
        ];
        let usage = |runs| Usage { stints: stints.clone(), runs, ..Usage::default() };
        // Included: 3,000 × 10/30 + 6,000 × 20/30 = 1,000 + 4,000 = 5,000.
        assert!(bill(period, &usage(5_000)).lines.iter().all(|l| l.layer != BillingLayer::Usage), "all included");
        // 5,001 runs: one beyond, at 3.00 per 1,000 = 0.3 cent, rounds to 0 but the line is there.
        let one = bill(period, &usage(5_001));
        assert_eq!(one.lines.last().map(|l| (l.layer, l.amount, l.quantity_milli)), Some((BillingLayer::Usage, 0, 1)));
        // 7,500 runs: 2,500 beyond at the last tier's 3.00 per 1,000 = 7.50.
        let beyond = bill(period, &usage(7_500));
        assert_eq!(beyond.lines.last().map(|l| (l.layer, l.amount)), Some((BillingLayer::Usage, 750)));
        // The allowance is prorated by the second: 1,000 included runs over a 30-day month
        // are 1/2,592 runs a second; 7 hours of it are 10.802 runs.
        let mut sliver = tier("sliver", 0, 0);
        sliver.included_runs_per_month = 1_000;
        sliver.price_per_thousand_extra_runs = 1_000_000;
        let short = Usage {
            stints: vec![TierStint { span: span("2026-11-30T17:00:00Z", "2026-12-01T00:00:00Z"), prices: sliver }],
            runs: 11,
            ..Usage::default()
        };
        // 11 − 1,000 × 25,200 / 2,592,000 = 11 − 9.7222 = 1.2778 runs at 10,000.00 per 1,000
        // (10.00 a run): 12.78, rounded once.
        let line = bill(period, &short).lines.pop().unwrap();
        assert_eq!((line.layer, line.amount, line.quantity_milli), (BillingLayer::Usage, 1_278, 1));
    }

    #[test]
    fn time_outside_the_period_is_not_billed() {
        let period: Period = "2026-11".parse().unwrap();
        let usage = Usage {
            stints: vec![TierStint {
                span: span("2026-10-01T00:00:00Z", "2027-01-01T00:00:00Z"),
                prices: tier("gold", 30_000, 0),
            }],
            ..Usage::default()
        };
        assert_eq!(bill(period, &usage).total, 30_000);
    }

    #[test]
    fn the_estimate_runs_open_spans_to_the_end_of_the_month() {
        let period: Period = "2026-11".parse().unwrap();
        let now = at("2026-11-16T00:00:00Z");
        let usage = Usage {
            stints: vec![TierStint { span: Span::new(period.start(), now), prices: tier("gold", 30_000, 3_000) }],
            workflows: BTreeMap::from([
                ("running".into(), vec![span("2026-11-06T00:00:00Z", "2026-11-16T00:00:00Z")]),
                ("stopped".into(), vec![span("2026-11-01T00:00:00Z", "2026-11-04T00:00:00Z")]),
            ]),
            ..Usage::default()
        };
        assert_eq!(bill(period, &usage).total, 15_000 + 1_000 + 300);
        // running: 25 days; stopped: 3 days; platform: the whole month.
        assert_eq!(estimate(period, &usage, now).total, 30_000 + 2_500 + 300);
    }

    proptest::proptest! {
        /// Cutting a stay on one tier into pieces (as an operator that observed it at many
        /// moments would record it) never changes the bill, and the lines always add up.
        #[test]
        fn how_often_history_was_recorded_does_not_change_the_bill(
            cuts in proptest::collection::vec(0i64..2_592_000, 0..8),
            base in 0i64..10_000_000,
            per_workflow in 0i64..1_000_000,
            discount in 0i64..100,
        ) {
            let period: Period = "2026-11".parse().unwrap();
            let prices = tier("gold", base, per_workflow);
            let whole = Usage {
                stints: vec![TierStint { span: period.span(), prices: prices.clone() }],
                workflows: BTreeMap::from([("w".into(), vec![span("2026-11-03T00:00:00Z", "2026-11-20T07:00:00Z")])]),
                runs: 0,
                discount_percent: discount,
                credit: None,
                adjustments: vec![],
            };
            let mut points: Vec<Timestamp> = cuts.iter().map(|s| period.start() + jiff::SignedDuration::from_secs(*s)).collect();
            points.push(period.start());
            points.push(period.end());
            points.sort();
            points.dedup();
            let pieces = Usage {
                stints: points.windows(2).map(|w| TierStint { span: Span::new(w[0], w[1]), prices: prices.clone() }).collect(),
                ..whole.clone()
            };
            let expected = bill(period, &whole);
            let actual = bill(period, &pieces);
            proptest::prop_assert_eq!(&actual, &expected);
            proptest::prop_assert_eq!(actual.total, actual.lines.iter().map(|l| l.amount).sum::<i64>());
        }
    }
}
