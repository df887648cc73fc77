//! `tenantry report`: a partner-branded business review of one tenant for one reporting
//! period, as HTML ([`report_html`](super::report_html)) or Markdown
//! ([`report_md`](super::report_md)).
//!
//! The review is a plain value ([`Review`]) computed by a pure function ([`review`]) from
//! what the report reads ([`Source`]: the tenant, its partner, tier, workflows and
//! BillingRecords), the period and an instant; Prometheus trends
//! ([`report_prometheus`](super::report_prometheus)) are fetched beforehand and passed in.
//! The same inputs give byte-identical output.
//!
//! Periods ([`ReviewPeriod`]), all in UTC and half-open `[start, end)`:
//! - `2026-11`: the calendar month;
//! - `2026-Q4`: the calendar quarter (October to December);
//! - `2026-W47`: the ISO 8601 week, Monday 00:00 to the next Monday 00:00.

use crate::api::billing::{BillingLayer, BillingPhase, BillingRecord};
use crate::api::tier::ReportingCadence;
use crate::api::workflow::WorkflowPhase;
use crate::api::{Partner, ServiceTier, Tenant, Workflow};
use crate::input;
use crate::planner::billing::{Currency, Period};
use crate::planner::{format_time, Plan, World};
use jiff::civil::{Date, ISOWeekDate, Weekday};
use jiff::tz::TimeZone;
use jiff::Timestamp;
use kube::ResourceExt;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

/// The colour of a partner without a valid `branding.primaryColor`.
pub const DEFAULT_COLOR: &str = "#2F4B7C";

/// How long a reporting period is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum PeriodKind {
    /// An ISO 8601 week (`2026-W47`).
    Week,
    /// A calendar month (`2026-11`).
    Month,
    /// A calendar quarter (`2026-Q4`).
    Quarter,
}

impl PeriodKind {
    /// The period a reporting cadence asks for.
    pub fn of_cadence(cadence: ReportingCadence) -> Self {
        match cadence {
            ReportingCadence::Weekly => PeriodKind::Week,
            ReportingCadence::Monthly => PeriodKind::Month,
            ReportingCadence::Quarterly => PeriodKind::Quarter,
        }
    }

    /// `2026-W47`, `2026-11` or `2026-Q4`, as an example of the form.
    pub fn example(self) -> &'static str {
        match self {
            PeriodKind::Week => "2026-W47",
            PeriodKind::Month => "2026-11",
            PeriodKind::Quarter => "2026-Q4",
        }
    }
}

/// The stretch of time a review covers: a week, a month or a quarter, in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReviewPeriod {
    /// Week, month or quarter.
    pub kind: PeriodKind,
    /// First instant inside.
    pub start: Timestamp,
    /// First instant after.
    pub end: Timestamp,
    year: i16,
    /// Week (1 to 53), month (1 to 12) or quarter (1 to 4).
    number: i8,
}

/// A `--period` that is none of the three forms.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a reporting period: write a month as 2026-11, a quarter as 2026-Q4 or an ISO week as 2026-W47")]
pub struct BadReviewPeriod(pub String);

fn utc_start(date: Date) -> Timestamp {
    date.to_zoned(TimeZone::UTC).map(|z| z.timestamp()).unwrap_or(Timestamp::MIN)
}

impl std::str::FromStr for ReviewPeriod {
    type Err = BadReviewPeriod;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || BadReviewPeriod(text.to_string());
        let (year_text, rest) = text.split_once('-').ok_or_else(bad)?;
        if year_text.len() != 4 || !year_text.chars().all(|c| c.is_ascii_digit()) {
            return Err(bad());
        }
        let year: i16 = year_text.parse().map_err(|_| bad())?;
        let number = |digits: &str, len: usize| -> Result<i8, BadReviewPeriod> {
            if digits.len() != len || !digits.chars().all(|c| c.is_ascii_digit()) {
                return Err(bad());
            }
            digits.parse::<i8>().map_err(|_| bad())
        };
        if let Some(quarter) = rest.strip_prefix('Q') {
            let q = number(quarter, 1)?;
            if !(1..=4).contains(&q) {
                return Err(bad());
            }
            let first = Date::new(year, (q - 1) * 3 + 1, 1).map_err(|_| bad())?;
            let next = if q == 4 { Date::new(year + 1, 1, 1) } else { Date::new(year, q * 3 + 1, 1) };
            let next = next.map_err(|_| bad())?;
            return Ok(ReviewPeriod {
                kind: PeriodKind::Quarter,
                start: utc_start(first),
                end: utc_start(next),
                year,
                number: q,
            });
        }
        if let Some(week) = rest.strip_prefix('W') {
            let w = number(week, 2)?;
            let monday = ISOWeekDate::new(year, w, Weekday::Monday).map_err(|_| bad())?.date();
            let next = monday.checked_add(jiff::ToSpan::days(7)).map_err(|_| bad())?;
            return Ok(ReviewPeriod {
                kind: PeriodKind::Week,
                start: utc_start(monday),
                end: utc_start(next),
                year,
                number: w,
            });
        }
        let month: Period = text.parse().map_err(|_| bad())?;
        Ok(ReviewPeriod {
            kind: PeriodKind::Month,
            start: month.start(),
            end: month.end(),
            year: month.year(),
            number: month.month(),
        })
    }
}

impl fmt::Display for ReviewPeriod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            PeriodKind::Week => write!(f, "{:04}-W{:02}", self.year, self.number),
            PeriodKind::Month => write!(f, "{:04}-{:02}", self.year, self.number),
            PeriodKind::Quarter => write!(f, "{:04}-Q{}", self.year, self.number),
        }
    }
}

const MONTH_NAMES: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

fn month_name(month: i8) -> &'static str {
    MONTH_NAMES.get(usize::try_from(month - 1).unwrap_or(0)).copied().unwrap_or("?")
}

fn short_date(instant: Timestamp) -> String {
    let date = instant.to_zoned(TimeZone::UTC).date();
    format!("{} {} {}", date.day(), &month_name(date.month())[..3], date.year())
}

impl ReviewPeriod {
    /// For people: `November 2026`, `Q4 2026 (October to December)`, `Week 47 of 2026 (16 Nov 2026 to 22 Nov 2026)`.
    pub fn title(&self) -> String {
        match self.kind {
            PeriodKind::Month => format!("{} {}", month_name(self.number), self.year),
            PeriodKind::Quarter => format!(
                "Q{} {} ({} to {})",
                self.number,
                self.year,
                month_name((self.number - 1) * 3 + 1),
                month_name(self.number * 3)
            ),
            PeriodKind::Week => {
                let last = Timestamp::from_second(self.end.as_second() - 1).unwrap_or(self.end);
                format!("Week {} of {} ({} to {})", self.number, self.year, short_date(self.start), short_date(last))
            }
        }
    }

    /// The billing months the period touches, oldest first (one for a month, three for a
    /// quarter, one or two for a week).
    pub fn months(&self) -> Vec<Period> {
        let mut months = Vec::new();
        let mut month = Period::containing(self.start);
        while month.start() < self.end && months.len() < 4 {
            months.push(month);
            month = month.next();
        }
        months
    }
}

/// What a review reads: one tenant with its partner, tier, workflows and bills, with the
/// statuses the operator wrote (or the plan computed, for a directory).
#[derive(Debug, Clone)]
pub struct Source {
    /// The tenant, with its status.
    pub tenant: Tenant,
    /// Its partner.
    pub partner: Partner,
    /// Its tier, when it is declared.
    pub tier: Option<ServiceTier>,
    /// The workflows in its namespace, with their statuses.
    pub workflows: Vec<Workflow>,
    /// Its BillingRecords, sorted by name.
    pub records: Vec<BillingRecord>,
}

/// Why a source cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    /// The input does not load.
    #[error("{}", .0.join("\n"))]
    Input(Vec<String>),
    /// No tenant of that name.
    #[error("no tenant '{tenant}' (tenants: {known})")]
    NoTenant {
        /// The name asked for.
        tenant: String,
        /// The tenants there are.
        known: String,
    },
    /// The tenant's partner is not declared.
    #[error("tenant '{tenant}' names partner '{partner}', which is not declared: its branding is unknown")]
    NoPartner {
        /// The tenant.
        tenant: String,
        /// The partner it names.
        partner: String,
    },
    /// The cluster could not be read.
    #[error("cannot read from the cluster: {0}")]
    Cluster(String),
}

/// The tenant `name` of a world planned at some instant: statuses from the plan (the
/// declared ones where the plan has none), records the plan computes plus the Closed ones
/// observed.
pub fn from_plan(world: &World, plan: &Plan, name: &str) -> Result<Source, SourceError> {
    let Some(declared) = world.tenants.iter().find(|t| t.name_any() == name) else {
        let known = world.tenants.iter().map(|t| t.name_any()).collect::<Vec<_>>().join(", ");
        return Err(SourceError::NoTenant { tenant: name.to_string(), known });
    };
    let mut tenant = declared.clone();
    if let Some(status) = plan.tenants.get(name) {
        tenant.status = Some(status.clone());
    }
    let partner =
        world.partners.iter().find(|p| p.name_any() == tenant.spec.partner_ref).cloned().ok_or_else(|| {
            SourceError::NoPartner { tenant: name.to_string(), partner: tenant.spec.partner_ref.clone() }
        })?;
    let tier = world.tiers.iter().find(|t| t.name_any() == tenant.spec.tier_ref).cloned();
    let namespace = tenant.spec.namespace_for(name);
    let mut workflows: Vec<Workflow> = world
        .workflows
        .iter()
        .filter(|w| w.namespace().as_deref() == Some(namespace.as_str()))
        .map(|w| {
            let mut w = w.clone();
            if let Some(status) = plan.workflows.get(&(namespace.clone(), w.name_any())) {
                w.status = Some(status.clone());
            }
            w
        })
        .collect();
    workflows.sort_by_key(|w| w.name_any());
    let books = super::books::from_plan(world, plan);
    let records = books.records.into_iter().filter(|r| r.spec.tenant_ref == name).collect();
    Ok(Source { tenant, partner, tier, workflows, records })
}

/// Loads `dir` as `tenantry plan` does, plans it at `now` and picks the tenant `name`.
pub fn from_dir(dir: &Path, now: Timestamp, name: &str) -> Result<Source, SourceError> {
    let loaded =
        input::load_dir(dir).map_err(|errors| SourceError::Input(errors.iter().map(ToString::to_string).collect()))?;
    let plan = crate::planner::plan(&loaded.world, now);
    from_plan(&loaded.world, &plan, name)
}

/// Reads the tenant `name` from the cluster of the current kubeconfig: the tenant, its
/// partner and tier, the workflows of its namespace and its BillingRecords. Read-only.
pub async fn from_cluster(name: &str) -> Result<Source, SourceError> {
    use kube::api::{Api, ListParams};
    let cluster = |e: kube::Error| SourceError::Cluster(e.to_string());
    let client = kube::Client::try_default().await.map_err(cluster)?;
    let tenants: Api<Tenant> = Api::all(client.clone());
    let Some(tenant) = tenants.get_opt(name).await.map_err(cluster)? else {
        let mut known: Vec<String> =
            tenants.list(&ListParams::default()).await.map_err(cluster)?.items.iter().map(|t| t.name_any()).collect();
        known.sort();
        return Err(SourceError::NoTenant { tenant: name.to_string(), known: known.join(", ") });
    };
    let partner = Api::<Partner>::all(client.clone()).get_opt(&tenant.spec.partner_ref).await.map_err(cluster)?;
    let partner = partner
        .ok_or_else(|| SourceError::NoPartner { tenant: name.to_string(), partner: tenant.spec.partner_ref.clone() })?;
    let tier = Api::<ServiceTier>::all(client.clone()).get_opt(&tenant.spec.tier_ref).await.map_err(cluster)?;
    let namespace =
        tenant.status.as_ref().and_then(|s| s.namespace.clone()).unwrap_or_else(|| tenant.spec.namespace_for(name));
    let mut workflows = Api::<Workflow>::namespaced(client.clone(), &namespace)
        .list(&ListParams::default())
        .await
        .map_err(cluster)?
        .items;
    workflows.sort_by_key(|w| w.name_any());
    let mut records: Vec<BillingRecord> = Api::<BillingRecord>::all(client)
        .list(&ListParams::default())
        .await
        .map_err(cluster)?
        .items
        .into_iter()
        .filter(|r| r.spec.tenant_ref == name)
        .collect();
    records.sort_by_key(|r| r.name_any());
    Ok(Source { tenant, partner, tier, workflows, records })
}

// --- The review ------------------------------------------------------------------------

/// The partner's white-label identity as the review shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Brand {
    /// `branding.productName`.
    pub product_name: String,
    /// The partner's display name.
    pub partner_display_name: String,
    /// `branding.logoUrl`, only when it is an `https://` address.
    pub logo_url: Option<String>,
    /// `branding.primaryColor` when it is `#rrggbb` (upper-cased), else [`DEFAULT_COLOR`].
    pub primary_color: String,
    /// `branding.supportEmail`.
    pub support_email: Option<String>,
    /// `branding.portalDomain`.
    pub portal_domain: Option<String>,
}

/// The period as the review shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PeriodView {
    /// `2026-11`, `2026-Q4`, `2026-W47`.
    pub label: String,
    /// Week, month or quarter.
    pub kind: PeriodKind,
    /// For people (`November 2026`).
    pub title: String,
    /// First instant (RFC 3339, UTC).
    pub start: String,
    /// First instant after (RFC 3339, UTC).
    pub end: String,
    /// Whether the period had ended at the instant of the review; if not, figures run up to it.
    pub complete: bool,
    /// The billing months the period touches.
    pub months: Vec<String>,
}

/// The tier and its service levels.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TierView {
    /// The tier's name.
    pub name: String,
    /// Its display name (its name when it is not declared).
    pub display_name: String,
    /// `sla.reportingCadence`.
    pub cadence: Option<PeriodKind>,
    /// When the cadence asks for another kind of period than the one reviewed: a note.
    pub cadence_note: Option<String>,
}

/// One workflow of the tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkflowRow {
    /// Its name.
    pub name: String,
    /// Its category (`orderToCash`).
    pub category: String,
    /// Its template.
    pub template: String,
    /// `schedule`, `continuous` or `event`.
    pub trigger: String,
    /// Its phase (`Running`), `Pending` when none is known.
    pub phase: String,
    /// Why it is not running, when it is not.
    pub reason: Option<String>,
    /// Succeeded runs to date (`status.runs`), when observed.
    pub succeeded: Option<i64>,
    /// Failed runs to date (`status.runs`), when observed.
    pub failed: Option<i64>,
    /// Whether a run of it was observed inside the period (scheduled workflows only).
    pub ran_in_period: Option<bool>,
}

/// Workflows by phase.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PhaseCounts {
    /// Deployed and running.
    pub running: usize,
    /// Held by the tier or governance.
    pub held: usize,
    /// Paused, or the tenant suspended.
    pub suspended: usize,
    /// Refused until their spec is fixed.
    pub blocked: usize,
    /// Not deployed yet.
    pub pending: usize,
}

impl PhaseCounts {
    /// Every workflow.
    pub fn total(&self) -> usize {
        self.running + self.held + self.suspended + self.blocked + self.pending
    }

    /// `(label, count)` in display order.
    pub fn entries(&self) -> [(&'static str, usize); 5] {
        [
            ("Running", self.running),
            ("Held", self.held),
            ("Suspended", self.suspended),
            ("Blocked", self.blocked),
            ("Pending", self.pending),
        ]
    }
}

/// Runs of the tenant's scheduled workflows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Runs {
    /// Runs per billing month the period touches (`None` where neither a record nor the
    /// tenant's usage holds the month).
    pub by_month: Vec<(String, Option<i64>)>,
    /// Their sum over the months known.
    pub total: i64,
    /// Failed runs to date over every workflow, when any workflow's runs are observed.
    pub failed_to_date: Option<i64>,
    /// Runs to date over every workflow, when observed.
    pub runs_to_date: Option<i64>,
}

/// Workflow adoption in the period: running scheduled workflows with a run observed in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AdoptionView {
    /// Scheduled workflows running.
    pub scheduled: usize,
    /// Those with a run in the period.
    pub with_runs: usize,
    /// `with_runs` over `scheduled`, in basis points, when any is scheduled.
    pub basis_points: Option<i64>,
}

/// A measured availability over the period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Attainment {
    /// Measured availability, as a percentage with up to three decimals (`99.982`).
    pub availability: String,
    /// Whether it meets the target.
    pub met: bool,
}

/// A credit on a bill: an SLA credit or another negative line than the contract discount.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Credit {
    /// The bill's month.
    pub period: String,
    /// The line's description.
    pub description: String,
    /// Its amount, in minor units (negative).
    pub amount: i64,
    /// With the currency's decimals.
    pub amount_formatted: String,
}

/// Service levels: targets, what was measured, credits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SlaView {
    /// `sla.availabilityTarget` (`99.9`), when the tier has an SLA.
    pub availability_target: Option<String>,
    /// `sla.exceptionResponseMinutes`.
    pub exception_response_minutes: Option<i32>,
    /// The measured availability; `None` until something measures it.
    pub attainment: Option<Attainment>,
    /// Credits on the period's bills.
    pub credits: Vec<Credit>,
    /// Their sum, in minor units.
    pub credits_total: i64,
    /// With the currency's decimals.
    pub credits_total_formatted: String,
}

/// One line of a bill.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BillLine {
    /// Layer (`platform`, `discount`...).
    pub layer: String,
    /// What is charged.
    pub description: String,
    /// Amount, in minor units.
    pub amount: i64,
    /// With the currency's decimals.
    pub amount_formatted: String,
}

/// One month's bill.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MonthBill {
    /// The month.
    pub period: String,
    /// Whether the record is Closed (final) or still Open (so far).
    pub closed: bool,
    /// The lines.
    pub lines: Vec<BillLine>,
    /// Total, in minor units.
    pub total: i64,
    /// With the currency's decimals.
    pub total_formatted: String,
    /// While open: the estimate for the whole month, with the currency's decimals.
    pub estimate_formatted: Option<String>,
}

/// Items processed and exceptions in one category, from Prometheus.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CategoryTrend {
    /// The category label (`orderToCash`).
    pub category: String,
    /// Items processed per step, oldest first: `(unix seconds at the end of the step, count)`.
    pub processed: Vec<(i64, i64)>,
    /// Exceptions per step, likewise.
    pub exceptions: Vec<(i64, i64)>,
    /// Items over the period.
    pub processed_total: i64,
    /// Exceptions over the period.
    pub exceptions_total: i64,
}

impl CategoryTrend {
    /// Exceptions over items processed in the period, as a percentage (`—` when nothing was
    /// processed): one rule for every renderer.
    pub fn exception_rate(&self) -> String {
        if self.processed_total > 0 {
            percent(self.exceptions_total * 10_000 / self.processed_total)
        } else {
            "—".into()
        }
    }
}

/// Exception and throughput trends per category over the period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Trends {
    /// Seconds per step (a day).
    pub step_seconds: i64,
    /// By category, in name order.
    pub categories: Vec<CategoryTrend>,
}

/// Whether the review has trends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", tag = "state")]
pub enum TrendsView {
    /// No `--prometheus` was given.
    NotRequested,
    /// Prometheus was asked and could not answer: why.
    Unavailable {
        /// What went wrong.
        reason: String,
    },
    /// The trends.
    Measured(Trends),
}

/// The business review of one tenant for one period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Review {
    /// The partner's branding.
    pub brand: Brand,
    /// The tenant's name.
    pub tenant: String,
    /// Its display name.
    pub tenant_display_name: String,
    /// The period.
    pub period: PeriodView,
    /// When the review was computed (RFC 3339, UTC): the `--at` instant.
    pub generated_at: String,
    /// The tier.
    pub tier: TierView,
    /// The workflows, by name.
    pub workflows: Vec<WorkflowRow>,
    /// Workflows by phase.
    pub phases: PhaseCounts,
    /// Runs.
    pub runs: Runs,
    /// Adoption.
    pub adoption: AdoptionView,
    /// Service levels.
    pub sla: SlaView,
    /// ISO 4217 code of every amount.
    pub currency: String,
    /// The bills of the months the period touches.
    pub bills: Vec<MonthBill>,
    /// Their sum, in minor units.
    pub billed_total: i64,
    /// With the currency's decimals.
    pub billed_total_formatted: String,
    /// Prometheus trends.
    pub trends: TrendsView,
}

/// `#rrggbb` upper-cased, or [`DEFAULT_COLOR`] when `color` is not one.
pub fn brand_color(color: Option<&str>) -> String {
    match color {
        Some(c) if c.len() == 7 && c.starts_with('#') && c[1..].chars().all(|x| x.is_ascii_hexdigit()) => {
            c.to_ascii_uppercase()
        }
        _ => DEFAULT_COLOR.to_string(),
    }
}

fn phase_name(phase: Option<WorkflowPhase>) -> &'static str {
    match phase {
        Some(WorkflowPhase::Running) => "Running",
        Some(WorkflowPhase::Held) => "Held",
        Some(WorkflowPhase::Suspended) => "Suspended",
        Some(WorkflowPhase::Blocked) => "Blocked",
        Some(WorkflowPhase::Pending) | None => "Pending",
    }
}

/// The layers the billing engine writes today: any other layer on a record is a credit
/// (the SLA credits being added write one); so is any negative line but the discount.
const KNOWN_LAYERS: &[&str] = &["platform", "managedOperations", "expansion", "usage", "discount"];

fn layer_name(layer: BillingLayer) -> String {
    serde_json::to_value(layer).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}

fn is_credit(layer: &str, amount: i64) -> bool {
    !KNOWN_LAYERS.contains(&layer) || (amount < 0 && layer != "discount")
}

/// The measured availability of the tenant over the period, once something measures it.
///
/// The one place the SLA figure comes from: the tenant's `status.sla`, which the operator
/// measures for the current month (its lowest workflow's attainment against the tier's
/// target, in thousandths of a percent). A review of a period inside that month shows it;
/// any other period has no measured figure on the tenant (a closed month's breach shows as
/// its credit line) and the review says "not measured".
pub fn measured_attainment(source: &Source, period: &ReviewPeriod, _target: Option<&str>) -> Option<Attainment> {
    let sla = source.tenant.status.as_ref()?.sla.as_ref()?;
    let months = period.months();
    if months.len() != 1 || months.first().map(ToString::to_string).as_deref() != Some(sla.period.as_str()) {
        return None;
    }
    let pcm = sla.attainment_pcm?;
    Some(Attainment { availability: format!("{}.{:03}", pcm / 1000, pcm % 1000), met: !sla.breached })
}

fn in_span(text: &str, period: &ReviewPeriod) -> bool {
    text.parse::<Timestamp>().is_ok_and(|t| period.start <= t && t < period.end)
}

/// The review of `source` for `period`, as of `at`, with the trends fetched (or not) beforehand.
pub fn review(source: &Source, period: &ReviewPeriod, at: Timestamp, trends: TrendsView) -> Review {
    let tenant_name = source.tenant.name_any();
    let branding = &source.partner.spec.branding;
    let brand = Brand {
        product_name: branding.product_name.clone(),
        partner_display_name: source.partner.spec.display_name.clone(),
        logo_url: branding.logo_url.clone().filter(|u| u.starts_with("https://")),
        primary_color: brand_color(branding.primary_color.as_deref()),
        support_email: branding.support_email.clone(),
        portal_domain: branding.portal_domain.clone(),
    };
    let months = period.months();
    let month_labels: Vec<String> = months.iter().map(ToString::to_string).collect();
    let period_view = PeriodView {
        label: period.to_string(),
        kind: period.kind,
        title: period.title(),
        start: format_time(period.start),
        end: format_time(period.end),
        complete: period.end <= at,
        months: month_labels.clone(),
    };
    let sla = source.tier.as_ref().and_then(|t| t.spec.sla.as_ref());
    let cadence = sla.and_then(|s| s.reporting_cadence).map(PeriodKind::of_cadence);
    let cadence_note = cadence.filter(|c| *c != period.kind).map(|c| {
        format!(
            "The tier reports {}; this review covers a {} ({}).",
            match c {
                PeriodKind::Week => "weekly (periods such as 2026-W47)",
                PeriodKind::Month => "monthly (periods such as 2026-11)",
                PeriodKind::Quarter => "quarterly (periods such as 2026-Q4)",
            },
            match period.kind {
                PeriodKind::Week => "week",
                PeriodKind::Month => "month",
                PeriodKind::Quarter => "quarter",
            },
            period
        )
    });
    let tier = TierView {
        name: source.tenant.spec.tier_ref.clone(),
        display_name: source
            .tier
            .as_ref()
            .map_or_else(|| source.tenant.spec.tier_ref.clone(), |t| t.spec.display_name.clone()),
        cadence,
        cadence_note,
    };

    // Workflows, and which scheduled ones ran in the period: a newest run per month (the
    // tenant's usage) or the workflow's last run time inside the period.
    let usage = source.tenant.status.as_ref().map(|s| s.usage.as_slice()).unwrap_or_default();
    let ran = |workflow: &Workflow| {
        let name = workflow.name_any();
        usage
            .iter()
            .filter(|u| month_labels.contains(&u.period))
            .flat_map(|u| &u.last_runs)
            .any(|r| r.workflow == name && in_span(&r.at, period))
            || workflow.status.as_ref().and_then(|s| s.last_run_time.as_deref()).is_some_and(|t| in_span(t, period))
    };
    let mut phases = PhaseCounts::default();
    let mut adoption = AdoptionView { scheduled: 0, with_runs: 0, basis_points: None };
    let mut workflows = Vec::new();
    let (mut observed, mut failed_to_date, mut runs_to_date) = (false, 0i64, 0i64);
    for workflow in &source.workflows {
        let status = workflow.status.as_ref();
        let phase = status.and_then(|s| s.phase);
        match phase {
            Some(WorkflowPhase::Running) => phases.running += 1,
            Some(WorkflowPhase::Held) => phases.held += 1,
            Some(WorkflowPhase::Suspended) => phases.suspended += 1,
            Some(WorkflowPhase::Blocked) => phases.blocked += 1,
            Some(WorkflowPhase::Pending) | None => phases.pending += 1,
        }
        let trigger = &workflow.spec.trigger;
        let scheduled = trigger.schedule.is_some();
        let ran_in_period = scheduled.then(|| ran(workflow));
        if scheduled && phase == Some(WorkflowPhase::Running) {
            adoption.scheduled += 1;
            adoption.with_runs += usize::from(ran_in_period == Some(true));
        }
        let runs = status.and_then(|s| s.runs.as_ref());
        if let Some(runs) = runs {
            observed = true;
            failed_to_date += runs.failed;
            runs_to_date += runs.succeeded + runs.failed;
        }
        workflows.push(WorkflowRow {
            name: workflow.name_any(),
            category: serde_json::to_value(workflow.spec.category)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
            template: workflow.spec.template.clone(),
            trigger: if scheduled {
                "schedule"
            } else if trigger.event.is_some() {
                "event"
            } else {
                "continuous"
            }
            .to_string(),
            phase: phase_name(phase).to_string(),
            reason: status.and_then(|s| s.reason.clone()).filter(|_| phase != Some(WorkflowPhase::Running)),
            succeeded: runs.map(|r| r.succeeded),
            failed: runs.map(|r| r.failed),
            ran_in_period,
        });
    }
    if adoption.scheduled > 0 {
        adoption.basis_points = Some((adoption.with_runs as i64 * 10_000) / adoption.scheduled as i64);
    }

    // Bills and runs, month by month.
    let currency_code = source.partner.spec.currency.clone();
    let currency = Currency::new(&currency_code);
    let by_month: BTreeMap<&str, &BillingRecord> = source.records.iter().map(|r| (r.spec.period.as_str(), r)).collect();
    let mut bills = Vec::new();
    let mut credits = Vec::new();
    let mut runs_by_month = Vec::new();
    for month in &month_labels {
        let record = by_month.get(month.as_str()).copied();
        let from_usage = usage.iter().find(|u| &u.period == month).map(|u| u.runs);
        let from_record = record.and_then(|r| r.spec.consumption.as_ref()).map(|c| c.runs);
        runs_by_month.push((month.clone(), from_record.or(from_usage)));
        let Some(record) = record else { continue };
        let record_currency = Currency::new(&record.spec.currency);
        let closed = record.status.as_ref().and_then(|s| s.phase) == Some(BillingPhase::Closed);
        let lines: Vec<BillLine> = record
            .spec
            .line_items
            .iter()
            .map(|line| BillLine {
                layer: layer_name(line.layer),
                description: line.description.clone(),
                amount: line.amount,
                amount_formatted: record_currency.format(line.amount),
            })
            .collect();
        for line in lines.iter().filter(|l| is_credit(&l.layer, l.amount)) {
            credits.push(Credit {
                period: month.clone(),
                description: line.description.clone(),
                amount: line.amount,
                amount_formatted: line.amount_formatted.clone(),
            });
        }
        bills.push(MonthBill {
            period: month.clone(),
            closed,
            lines,
            total: record.spec.total,
            total_formatted: record_currency.format(record.spec.total),
            estimate_formatted: if closed {
                None
            } else {
                record.status.as_ref().and_then(|s| s.estimated_month_total).map(|e| record_currency.format(e))
            },
        });
    }
    let billed_total: i64 = bills.iter().map(|b| b.total).sum();
    let credits_total: i64 = credits.iter().map(|c| c.amount).sum();
    let target = sla.map(|s| s.availability_target.clone());
    Review {
        tenant: tenant_name,
        tenant_display_name: source.tenant.spec.display_name.clone(),
        period: period_view,
        generated_at: format_time(at),
        tier,
        phases,
        runs: Runs {
            total: runs_by_month.iter().filter_map(|(_, r)| *r).sum(),
            by_month: runs_by_month,
            failed_to_date: observed.then_some(failed_to_date),
            runs_to_date: observed.then_some(runs_to_date),
        },
        workflows,
        adoption,
        sla: SlaView {
            attainment: measured_attainment(source, period, target.as_deref()),
            availability_target: target,
            exception_response_minutes: sla.map(|s| s.exception_response_minutes),
            credits,
            credits_total,
            credits_total_formatted: currency.format(credits_total),
        },
        currency: currency_code,
        billed_total,
        billed_total_formatted: currency.format(billed_total),
        bills,
        brand,
        trends,
    }
}

/// Basis points as a percentage with one decimal (`8750` is `87.5%`).
pub fn percent(basis_points: i64) -> String {
    super::revenue::percent(basis_points)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn period(text: &str) -> ReviewPeriod {
        text.parse().unwrap()
    }

    #[test]
    fn periods_cover_a_month_a_quarter_or_an_iso_week() {
        let november = period("2026-11");
        assert_eq!(
            (format_time(november.start), format_time(november.end)),
            ("2026-11-01T00:00:00Z".into(), "2026-12-01T00:00:00Z".into())
        );
        assert_eq!(november.title(), "November 2026");
        let q4 = period("2026-Q4");
        assert_eq!(
            (format_time(q4.start), format_time(q4.end)),
            ("2026-10-01T00:00:00Z".into(), "2027-01-01T00:00:00Z".into())
        );
        assert_eq!(q4.months().iter().map(ToString::to_string).collect::<Vec<_>>(), ["2026-10", "2026-11", "2026-12"]);
        assert_eq!(q4.title(), "Q4 2026 (October to December)");
        let w47 = period("2026-W47");
        assert_eq!(
            (format_time(w47.start), format_time(w47.end)),
            ("2026-11-16T00:00:00Z".into(), "2026-11-23T00:00:00Z".into())
        );
        assert_eq!(w47.title(), "Week 47 of 2026 (16 Nov 2026 to 22 Nov 2026)");
        assert_eq!(w47.to_string(), "2026-W47");
        // 2026 has 53 ISO weeks, the last from Monday 28 December 2026 to Sunday 3 January 2027.
        let w53 = period("2026-W53");
        assert_eq!(w53.months().iter().map(ToString::to_string).collect::<Vec<_>>(), ["2026-12", "2027-01"]);
        for bad in ["2026", "2026-13", "2026-Q5", "2026-Q0", "2026-W54", "2027-W53", "26-11", "2026-W7", "November"] {
            assert!(bad.parse::<ReviewPeriod>().is_err(), "{bad}");
        }
    }

    #[test]
    fn credits_are_unknown_layers_or_negative_lines_other_than_the_discount() {
        assert!(!is_credit("platform", 100));
        assert!(!is_credit("discount", -100));
        assert!(is_credit("slaCredit", -100));
        assert!(is_credit("usage", -5), "a negative usage line is a credit");
    }

    #[test]
    fn credits_on_the_bill_and_attainment_not_measured_yet() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/gitops");
        let at: Timestamp = "2026-11-15T09:00:00Z".parse().unwrap();
        let mut source = from_dir(&dir, at, "alpine-supply").unwrap();
        let october = source.records.iter_mut().find(|r| r.spec.period == "2026-10").unwrap();
        october.spec.line_items.push(crate::api::billing::LineItem {
            layer: BillingLayer::Expansion,
            description: "Service credit: availability below target".into(),
            quantity_milli: 1_000,
            unit_price: -50_000,
            amount: -50_000,
        });
        let review = review(&source, &period("2026-Q4"), at, TrendsView::NotRequested);
        assert_eq!(review.sla.availability_target.as_deref(), Some("99.95"));
        assert_eq!(review.sla.attainment, None, "a quarter has no measured figure on the tenant");
        assert_eq!(review.sla.credits.len(), 1, "the discount is not a credit: {:?}", review.sla.credits);
        assert_eq!((review.sla.credits_total, review.sla.credits_total_formatted.as_str()), (-50_000, "-500.00"));
        assert_eq!(review.bills.iter().map(|b| b.period.as_str()).collect::<Vec<_>>(), ["2026-10", "2026-11"]);
        assert_eq!(
            review.runs.by_month,
            [("2026-10".into(), Some(3038)), ("2026-11".into(), Some(1407)), ("2026-12".into(), None)]
        );
        assert!(!review.period.complete);
        assert_eq!(review.tier.cadence, Some(PeriodKind::Week));
        assert!(review.tier.cadence_note.is_some());
    }

    #[test]
    fn the_measured_attainment_of_the_month_is_the_tenants() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/gitops");
        let at: Timestamp = "2026-11-15T09:00:00Z".parse().unwrap();
        let mut source = from_dir(&dir, at, "alpine-supply").unwrap();
        let status = source.tenant.status.get_or_insert_with(Default::default);
        status.sla = Some(crate::api::tenant::SlaAttainment {
            period: "2026-11".into(),
            target_pcm: Some(99_950),
            attainment_pcm: Some(99_807),
            measure: Some("availability".into()),
            achieved: 0,
            expected: 0,
            workflow: Some("order-routing".into()),
            breached: true,
        });
        let november = review(&source, &period("2026-11"), at, TrendsView::NotRequested);
        assert_eq!(november.sla.attainment, Some(Attainment { availability: "99.807".into(), met: false }));
        let october = review(&source, &period("2026-10"), at, TrendsView::NotRequested);
        assert_eq!(october.sla.attainment, None, "the status measures the current month only");
    }

    #[test]
    fn colours_are_validated() {
        assert_eq!(brand_color(Some("#0b4f6c")), "#0B4F6C");
        assert_eq!(brand_color(Some("red;}")), DEFAULT_COLOR);
        assert_eq!(brand_color(None), DEFAULT_COLOR);
    }
}
