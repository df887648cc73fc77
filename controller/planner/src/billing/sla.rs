//! Service-level attainment, measured from what the cluster shows and kept on the Tenant's
//! status like the rest of billing's history (docs/sla.md):
//!
//! - a continuous or event workflow's **availability**: seconds its Deployment was available
//!   over the seconds it should have run, the active (Running) seconds since its Deployment
//!   was first observed available in the span, less the time no observation covers;
//! - a scheduled workflow's **run attainment**: its succeeded runs over the runs its
//!   schedule should have started while it was active, capped at 100 %;
//! - a tenant's attainment: that of its lowest workflow.

use super::period::{Period, Span};
use crate::sla_terms::{below_pcm, FULL_PCM};
use jiff::{SignedDuration, Timestamp};
use std::collections::BTreeMap;
use tenantry_api::tenant::{MonthlyUsage, SlaAttainment, Unavailability, UnavailabilityCause, WorkflowActivity};

/// How many spans of one workflow `status.unavailability` keeps: a Deployment that flaps
/// more often has its newest span reopened instead (the time between counts as unavailable).
pub const SPANS_PER_WORKFLOW: usize = 64;

/// A workflow's schedule: its cron expression and time zone.
pub type Schedule = (String, Option<String>);

/// What one observation adds to the availability history.
pub struct Observation<'a> {
    /// Each declared workflow's Deployment as observed now: available or not; absent when
    /// nothing is observed (offline, a CronJob, a Deployment not listed).
    pub available: &'a BTreeMap<String, bool>,
    /// When the operator last showed it was watching (the newest `billedUntil` of the
    /// tenant's records) and how often it must: a longer silence is unobserved time.
    pub last_seen: Option<(Timestamp, SignedDuration)>,
    /// The instant.
    pub now: Timestamp,
    /// Spans that ended before this are dropped: their months are closed.
    pub keep_from: Option<Timestamp>,
}

/// `activity` (already brought up to now) with `availableSince` set on each open span whose
/// Deployment is observed available for the first time, and `unavailability` brought up to
/// now: a span opened for each active workflow observed unavailable, closed when it is
/// observed available again or stops being active, and an `Unobserved` span over a silence.
pub fn observe(
    activity: &[WorkflowActivity],
    unavailability: &[Unavailability],
    observation: &Observation<'_>,
) -> (Vec<WorkflowActivity>, Vec<Unavailability>) {
    let now = observation.now;
    let now_text = crate::format_time(now);
    let mut activity = activity.to_vec();
    // The open span of each workflow measured now, and since when.
    let mut measured: BTreeMap<String, Timestamp> = BTreeMap::new();
    for entry in activity.iter_mut().filter(|e| e.until.is_none() && e.scheduled != Some(true)) {
        let observed = observation.available.get(&entry.workflow).copied();
        if entry.available_since.is_none() && observed == Some(true) {
            entry.available_since = Some(now_text.clone());
        }
        if let Some(since) = entry.available_since.as_deref().and_then(|t| t.parse::<Timestamp>().ok()) {
            measured.insert(entry.workflow.clone(), since);
        }
    }
    let mut spans: Vec<Unavailability> = unavailability.to_vec();
    // A silence longer than allowed: nobody observed from one interval after the last sign of
    // life until now.
    let silence =
        observation.last_seen.filter(|(seen, every)| now > *seen + *every + *every).map(|(seen, every)| seen + every);
    for (workflow, since) in &measured {
        let Some(observed) = observation.available.get(workflow) else { continue };
        if let Some(gap_start) = silence.map(|start| start.max(*since)).filter(|start| *start < now) {
            let gap_text = crate::format_time(gap_start);
            close_open(&mut spans, workflow, &gap_text);
            spans.push(Unavailability {
                workflow: workflow.clone(),
                cause: UnavailabilityCause::Unobserved,
                since: gap_text,
                until: Some(now_text.clone()),
            });
        }
        let open = spans
            .iter()
            .any(|s| s.workflow == *workflow && s.cause == UnavailabilityCause::Unavailable && s.until.is_none());
        match (observed, open) {
            (false, false) => open_span(&mut spans, workflow, &now_text),
            (true, true) => close_open(&mut spans, workflow, &now_text),
            _ => {}
        }
    }
    // A workflow no longer measured (not active, deleted) is no longer unavailable.
    for span in spans.iter_mut().filter(|s| s.until.is_none() && !measured.contains_key(&s.workflow)) {
        span.until = Some(now_text.clone());
    }
    spans.retain(|span| {
        let ended = span.until.as_deref().and_then(|t| t.parse::<Timestamp>().ok());
        !matches!((ended, observation.keep_from), (Some(until), Some(keep)) if until < keep)
    });
    (activity, spans)
}

fn close_open(spans: &mut [Unavailability], workflow: &str, at: &str) {
    for span in spans.iter_mut().filter(|s| s.workflow == workflow && s.until.is_none()) {
        span.until = Some(at.to_string());
    }
}

/// Opens an `Unavailable` span, or reopens the workflow's newest one when it has as many as
/// it may keep.
fn open_span(spans: &mut Vec<Unavailability>, workflow: &str, at: &str) {
    let mine = spans.iter().filter(|s| s.workflow == workflow && s.cause == UnavailabilityCause::Unavailable).count();
    if mine >= SPANS_PER_WORKFLOW {
        if let Some(last) =
            spans.iter_mut().rev().find(|s| s.workflow == workflow && s.cause == UnavailabilityCause::Unavailable)
        {
            last.until = None;
            return;
        }
    }
    spans.push(Unavailability {
        workflow: workflow.to_string(),
        cause: UnavailabilityCause::Unavailable,
        since: at.to_string(),
        until: None,
    });
}

/// One workflow's figure for a month: achieved over expected, and what was measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Figure {
    /// Available seconds, or succeeded runs (at most those expected).
    pub achieved: i64,
    /// Seconds it should have run, or runs expected.
    pub expected: i64,
    /// `availability` or `runs`.
    pub measure: &'static str,
}

impl Figure {
    /// The attainment in pcm, rounded down.
    pub fn pcm(&self) -> i64 {
        if self.expected <= 0 {
            return FULL_PCM;
        }
        (i128::from(self.achieved) * i128::from(FULL_PCM) / i128::from(self.expected)) as i64
    }

    /// Whether this figure is lower than `other`, exactly.
    fn lower_than(&self, other: &Figure) -> bool {
        i128::from(self.achieved) * i128::from(other.expected) < i128::from(other.achieved) * i128::from(self.expected)
    }

    /// The status form, against `target_pcm`.
    pub fn status(&self, period: Period, target_pcm: Option<i64>, workflow: Option<&str>) -> SlaAttainment {
        SlaAttainment {
            period: period.to_string(),
            target_pcm,
            attainment_pcm: Some(self.pcm()),
            measure: Some(self.measure.to_string()),
            achieved: self.achieved,
            expected: self.expected,
            workflow: workflow.map(str::to_string),
            breached: target_pcm.is_some_and(|target| below_pcm(self.achieved, self.expected, target)),
        }
    }
}

/// Everything one tenant's figures for a month are computed from.
pub struct SlaHistory<'a> {
    /// When each workflow ran.
    pub activity: &'a [WorkflowActivity],
    /// When its Deployment was unavailable or unobserved.
    pub unavailability: &'a [Unavailability],
    /// Runs per month, with each workflow's succeeded runs.
    pub usage: &'a [MonthlyUsage],
    /// Each declared scheduled workflow's schedule now.
    pub schedules: &'a BTreeMap<String, Schedule>,
}

/// The instant figures are measured up to at `now`: the last multiple (since the Unix
/// epoch) of the billing refresh interval, or of an hour when that is longer. A steady
/// tenant's figures, and so its status, change once per step, not on every reconcile (a
/// restarted operator writes nothing to an unchanged fleet).
pub fn measured_until(now: Timestamp, refresh: jiff::SignedDuration) -> Timestamp {
    let step = refresh.as_secs().clamp(1, 3_600);
    let seconds = now.as_second();
    Timestamp::from_second(seconds - seconds.rem_euclid(step)).unwrap_or(now)
}

/// Each workflow's figure for `period` up to `until`; for scheduled workflows only the runs
/// due before `due_by` are expected (an open month gives a run time to finish). Workflows
/// with nothing expected have no figure.
pub fn figures(
    history: &SlaHistory<'_>,
    period: Period,
    until: Timestamp,
    due_by: Timestamp,
) -> BTreeMap<String, Figure> {
    let month = period.span();
    let window = Span::new(month.start, until.min(month.end));
    let mut available: BTreeMap<&str, Vec<Span>> = BTreeMap::new();
    let mut scheduled: BTreeMap<&str, Vec<Span>> = BTreeMap::new();
    for entry in history.activity {
        let Ok(since) = entry.since.parse::<Timestamp>() else { continue };
        let end = entry.until.as_deref().and_then(|t| t.parse::<Timestamp>().ok()).unwrap_or(until).min(until);
        if entry.scheduled == Some(true) {
            scheduled.entry(&entry.workflow).or_default().push(Span::new(since, end).intersect(&window));
        } else if let Some(from) = entry.available_since.as_deref().and_then(|t| t.parse::<Timestamp>().ok()) {
            available.entry(&entry.workflow).or_default().push(Span::new(from.max(since), end).intersect(&window));
        }
    }
    let mut out = BTreeMap::new();
    for (workflow, active) in available {
        let active = Span::union(&active);
        let spans_of = |cause| {
            let spans: Vec<Span> = history
                .unavailability
                .iter()
                .filter(|s| s.workflow == workflow && s.cause == cause)
                .filter_map(|s| {
                    let since = s.since.parse::<Timestamp>().ok()?;
                    let end = s.until.as_deref().and_then(|t| t.parse::<Timestamp>().ok()).unwrap_or(until).min(until);
                    Some(Span::new(since, end))
                })
                .collect();
            intersection(&active, &Span::union(&spans))
        };
        let unobserved = spans_of(UnavailabilityCause::Unobserved);
        let down = spans_of(UnavailabilityCause::Unavailable);
        let expected = seconds(&active) - seconds(&unobserved);
        let down = seconds(&down) - seconds(&intersection(&down, &unobserved));
        if expected > 0 {
            out.insert(workflow.to_string(), Figure { achieved: expected - down, expected, measure: "availability" });
        }
    }
    for (workflow, active) in scheduled {
        let Some((cron, zone)) = history.schedules.get(workflow) else { continue };
        let due = Span::new(window.start, window.end.min(due_by));
        let expected: i64 = Span::union(&active)
            .iter()
            .map(|span| span.intersect(&due))
            .filter(|span| !span.is_empty())
            .filter_map(|span| crate::cron::occurrences(cron, zone.as_deref(), span.start, span.end).ok())
            .map(|runs| runs.len() as i64)
            .sum();
        // Runs are known once the month has a usage entry (its Jobs were observed): then a
        // workflow without a run has none succeeded. History written before successes were
        // kept, and a month whose Jobs were never observed (offline), have no figure.
        let Some(month_usage) = history.usage.iter().find(|u| u.period.parse::<Period>().ok() == Some(period)) else {
            continue;
        };
        let succeeded = match month_usage.last_runs.iter().find(|last| last.workflow == workflow) {
            Some(last) => last.succeeded,
            None => Some(0),
        };
        if expected > 0 {
            let Some(succeeded) = succeeded else { continue };
            out.insert(workflow.to_string(), Figure { achieved: succeeded.min(expected), expected, measure: "runs" });
        }
    }
    out
}

/// The tenant's figure: its lowest workflow's (the first by name among equals).
pub fn lowest(figures: &BTreeMap<String, Figure>) -> Option<(&str, Figure)> {
    let mut lowest: Option<(&str, Figure)> = None;
    for (workflow, figure) in figures {
        if lowest.as_ref().is_none_or(|(_, low)| figure.lower_than(low)) {
            lowest = Some((workflow, *figure));
        }
    }
    lowest
}

/// The intersection of two unions of disjoint sorted spans.
fn intersection(a: &[Span], b: &[Span]) -> Vec<Span> {
    let mut out = Vec::new();
    for x in a {
        for y in b {
            let both = x.intersect(y);
            if !both.is_empty() {
                out.push(both);
            }
        }
    }
    Span::union(&out)
}

fn seconds(spans: &[Span]) -> i64 {
    spans.iter().map(Span::seconds).sum()
}

/// Sets `SLABreached` on an object whose month is measured by `sla` against a target:
/// `True` while below it. Nothing when there is no target or no figure.
pub fn set_condition(conditions: &mut crate::conditions::Conditions<'_>, sla: &SlaAttainment, what: &str) {
    use tenantry_api::conditions::{reason, SLA_BREACHED};
    use tenantry_api::ConditionStatus;
    let (Some(target), Some(attainment)) = (sla.target_pcm, sla.attainment_pcm) else { return };
    let measure = sla.measure.as_deref().unwrap_or("availability");
    let by = sla.workflow.as_deref().map(|w| format!(" (workflow {w})")).unwrap_or_default();
    let figures = format!(
        "{what} {measure} in {} is {} %{by} against a target of {} % ({} of {})",
        sla.period,
        crate::sla_terms::format_pcm(attainment),
        crate::sla_terms::format_pcm(target),
        sla.achieved,
        sla.expected
    );
    if sla.breached {
        conditions.set(SLA_BREACHED, ConditionStatus::True, reason::BELOW_TARGET, figures);
    } else {
        conditions.set(SLA_BREACHED, ConditionStatus::False, reason::WITHIN_TARGET, figures);
    }
}
