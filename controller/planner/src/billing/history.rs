//! The durable history billing is computed from, kept on the Tenant's status: which tier it
//! was on and whether it was suspended (`tierHistory`), and when each workflow ran
//! (`workflowActivity`). Each reconcile adds what it observes at its instant; nothing here
//! depends on which process observed it or how often, so a restarted operator computes the
//! same bills as one that never stopped.

use super::ledger::{TierPrices, TierStint};
use super::period::{Period, Span};
use crate::world::{ClosingRules, FinishedRun};
use jiff::{SignedDuration, Timestamp};
use std::collections::{BTreeMap, BTreeSet};
use tenantry_api::tenant::{LastRun, MonthlyUsage, RunsCounted, TierHistoryEntry, WorkflowActivity};

/// What billing keeps of a workflow while it runs: what its workload requests (over every
/// replica) and whether its runs are counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WorkflowFacts {
    /// CPU requested, in millicores.
    pub cpu_millicores: i64,
    /// Memory requested, in bytes.
    pub memory_bytes: i64,
    /// Whether it runs on a schedule.
    pub scheduled: bool,
}

impl WorkflowFacts {
    /// The facts a span recorded, each missing one taken from `current` (history written
    /// before they were kept).
    pub fn of_span(entry: &WorkflowActivity, current: Option<&WorkflowFacts>) -> WorkflowFacts {
        let fallback = current.copied().unwrap_or_default();
        WorkflowFacts {
            cpu_millicores: entry.cpu_millicores.unwrap_or(fallback.cpu_millicores),
            memory_bytes: entry.memory_bytes.unwrap_or(fallback.memory_bytes),
            scheduled: entry.scheduled.unwrap_or(fallback.scheduled),
        }
    }

    /// Whether an open span recorded facts other than these (a span without them records none).
    fn differ_from(&self, entry: &WorkflowActivity) -> bool {
        entry.cpu_millicores.is_some_and(|cpu| cpu != self.cpu_millicores)
            || entry.memory_bytes.is_some_and(|memory| memory != self.memory_bytes)
            || entry.scheduled.is_some_and(|scheduled| scheduled != self.scheduled)
    }
}

/// What the tenant is observed as at one instant, for its tier history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TierObservation<'a> {
    /// The tier it is on.
    pub tier: &'a str,
    /// That tier's level.
    pub level: i32,
    /// Whether it is suspended.
    pub suspended: bool,
}

/// `history` with `observed` appended when the tier or the suspension changed since its
/// last entry; unchanged otherwise, so a steady tenant's status never changes.
pub fn observe_tier(history: &[TierHistoryEntry], observed: TierObservation<'_>, now: &str) -> Vec<TierHistoryEntry> {
    let mut history = history.to_vec();
    let changed = history.last().is_none_or(|last| last.tier != observed.tier || last.suspended != observed.suspended);
    if changed {
        history.push(TierHistoryEntry {
            tier: observed.tier.to_string(),
            level: Some(observed.level),
            since: now.to_string(),
            suspended: observed.suspended,
        });
    }
    history
}

/// `activity` brought up to `now`: a span opened for each workflow in `running` that has
/// none open, and closed for each open one whose workflow no longer runs (or no longer
/// exists) or whose requests changed (a new span then opens with the new ones). Spans that
/// ended before `keep_from` are dropped: their months are closed.
pub fn observe_activity(
    activity: &[WorkflowActivity],
    running: &BTreeMap<String, WorkflowFacts>,
    now: &str,
    keep_from: Option<Timestamp>,
) -> Vec<WorkflowActivity> {
    let mut open: BTreeSet<String> = BTreeSet::new();
    let mut updated: Vec<WorkflowActivity> = Vec::with_capacity(activity.len() + running.len());
    for entry in activity {
        let mut entry = entry.clone();
        if entry.until.is_none() {
            let same = running.get(&entry.workflow).is_some_and(|facts| !facts.differ_from(&entry));
            if same && !open.contains(&entry.workflow) {
                open.insert(entry.workflow.clone());
            } else {
                entry.until = Some(now.to_string());
            }
        }
        let ended_before_kept = match (&entry.until, keep_from) {
            (Some(until), Some(keep_from)) => until.parse::<Timestamp>().is_ok_and(|until| until < keep_from),
            _ => false,
        };
        if !ended_before_kept {
            updated.push(entry);
        }
    }
    for (workflow, facts) in running {
        if !open.contains(workflow) {
            updated.push(WorkflowActivity {
                workflow: workflow.clone(),
                since: now.to_string(),
                until: None,
                cpu_millicores: Some(facts.cpu_millicores),
                memory_bytes: Some(facts.memory_bytes),
                scheduled: Some(facts.scheduled),
                available_since: None,
            });
        }
    }
    updated
}

/// The month a finished run is billed in: the month it was scheduled in, unless that
/// month's record had closed (its end plus the grace period) before the run ended; then the
/// month it ended in. Either way a function of the run alone, so an operator that observes
/// it late attributes it as one that observed it at once.
pub fn run_period(run: &FinishedRun, rules: &ClosingRules) -> Period {
    let scheduled = Period::containing(run.scheduled);
    match run.ended {
        Some(ended) if ended >= scheduled.end() + rules.grace => Period::containing(ended),
        _ => scheduled,
    }
}

/// The tenant's run history after observing `finished` (each workflow's finished Jobs the
/// cluster holds, for the workflows whose Jobs are listed).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunHistory {
    /// Runs per month.
    pub usage: Vec<MonthlyUsage>,
    /// How far each workflow's runs are counted.
    pub counted: Vec<RunsCounted>,
}

/// Counts each finished run scheduled after the tenant's mark for its workflow into the
/// month [`run_period`] gives (a run of a month observed Closed is not billed: a closed bill
/// is never rewritten), and moves the mark. When any workflow's Jobs are observed, the
/// current month gets an entry even without runs: its runs are known to be observed.
///
/// Months before the one before `keep_from` are dropped (adoption looks 30 days back); the
/// marks of workflows no longer `declared` are dropped once they are older than `keep_from`.
pub fn observe_runs(
    previous: &RunHistory,
    finished: &BTreeMap<String, Vec<FinishedRun>>,
    declared: &BTreeSet<String>,
    rules: &ClosingRules,
    keep_from: Option<Period>,
    now: Timestamp,
) -> RunHistory {
    // Per month: runs, and each workflow's newest run with its succeeded runs (`None`: not
    // known, in history written before they were kept).
    type Newest = BTreeMap<String, (Timestamp, Option<i64>)>;
    let mut months: BTreeMap<Period, (i64, Newest)> = BTreeMap::new();
    let mut unreadable: Vec<MonthlyUsage> = Vec::new();
    for entry in &previous.usage {
        let Ok(period) = entry.period.parse::<Period>() else {
            unreadable.push(entry.clone());
            continue;
        };
        let month = months.entry(period).or_default();
        month.0 += entry.runs;
        for last in &entry.last_runs {
            if let Ok(at) = last.at.parse::<Timestamp>() {
                let slot = month.1.entry(last.workflow.clone()).or_insert((at, last.succeeded));
                slot.0 = slot.0.max(at);
            }
        }
    }
    let mut marks: BTreeMap<String, Option<Timestamp>> =
        previous.counted.iter().map(|c| (c.workflow.clone(), c.through.parse::<Timestamp>().ok())).collect();
    for (workflow, runs) in finished {
        let through = marks.get(workflow).copied().flatten();
        let mut newest = through;
        for run in runs.iter().filter(|run| through.is_none_or(|t| run.scheduled > t)) {
            newest = newest.max(Some(run.scheduled));
            let period = run_period(run, rules);
            if keep_from.is_some_and(|oldest_open| period < oldest_open) {
                continue;
            }
            let month = months.entry(period).or_default();
            month.0 += 1;
            let slot = month.1.entry(workflow.clone()).or_insert((run.scheduled, Some(0)));
            slot.0 = slot.0.max(run.scheduled);
            if run.succeeded {
                slot.1 = slot.1.map(|n| n + 1);
            }
        }
        if let Some(newest) = newest {
            marks.insert(workflow.clone(), Some(newest));
        }
    }
    if !finished.is_empty() {
        months.entry(Period::containing(now)).or_default();
    }
    let kept_month = |period: &Period| keep_from.is_none_or(|oldest_open| *period >= oldest_open.previous());
    let mut usage: Vec<MonthlyUsage> = months
        .into_iter()
        .filter(|(period, _)| kept_month(period))
        .map(|(period, (runs, last))| MonthlyUsage {
            period: period.to_string(),
            runs,
            last_runs: last
                .into_iter()
                .map(|(workflow, (at, succeeded))| LastRun { workflow, at: crate::format_time(at), succeeded })
                .collect(),
        })
        .collect();
    usage.extend(unreadable);
    let kept_mark = |workflow: &String, through: &Option<Timestamp>| {
        declared.contains(workflow)
            || match (through, keep_from) {
                (Some(through), Some(oldest_open)) => *through >= oldest_open.start(),
                _ => true,
            }
    };
    let counted = marks
        .into_iter()
        .filter(|(workflow, through)| kept_mark(workflow, through))
        .filter_map(|(workflow, through)| through.map(|t| RunsCounted { workflow, through: crate::format_time(t) }))
        .collect();
    RunHistory { usage, counted }
}

/// Runs attributed to `period`.
pub fn runs_in(usage: &[MonthlyUsage], period: Period) -> i64 {
    usage.iter().filter(|u| u.period.parse::<Period>().ok() == Some(period)).map(|u| u.runs).sum()
}

/// How long before an instant a run makes a workflow adopted.
pub const ADOPTION_WINDOW: SignedDuration = SignedDuration::from_hours(30 * 24);

/// Something in the history that cannot be billed, named so that a person can fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HistoryProblem {
    /// A timestamp that is not RFC 3339.
    #[error("status.{field}[{index}].{key}: `{value}` is not an RFC 3339 time")]
    BadTime {
        /// `tierHistory` or `workflowActivity`.
        field: &'static str,
        /// Position in the list.
        index: usize,
        /// `since` or `until`.
        key: &'static str,
        /// What was there.
        value: String,
    },
    /// A tier the history names that no longer exists, so its prices are unknown.
    #[error("status.tierHistory[{index}].tier: tier {tier} no longer exists, so its time cannot be priced")]
    UnknownTier {
        /// Position in the list.
        index: usize,
        /// The tier.
        tier: String,
    },
}

/// The billable stints in `history` up to `until`: each entry lasts until the next one;
/// suspended entries are left out. `prices` finds a tier's prices by name.
pub fn stints(
    history: &[TierHistoryEntry],
    prices: impl Fn(&str) -> Option<TierPrices>,
    until: Timestamp,
) -> Result<Vec<TierStint>, HistoryProblem> {
    let starts: Vec<Timestamp> = history
        .iter()
        .enumerate()
        .map(|(index, entry)| parse_time("tierHistory", index, "since", &entry.since))
        .collect::<Result<_, _>>()?;
    let mut stints = Vec::new();
    for (index, entry) in history.iter().enumerate() {
        if entry.suspended {
            continue;
        }
        let end = starts.get(index + 1).copied().unwrap_or(until).min(until);
        let span = Span::new(starts[index], end);
        if span.is_empty() {
            continue;
        }
        let prices =
            prices(&entry.tier).ok_or_else(|| HistoryProblem::UnknownTier { index, tier: entry.tier.clone() })?;
        stints.push(TierStint { span, prices });
    }
    Ok(stints)
}

/// Billable (not suspended) spans in `history` up to `until`, each with its tier and level:
/// the level the entry recorded, else the tier's level now (`level_of`).
pub fn tier_levels(
    history: &[TierHistoryEntry],
    level_of: impl Fn(&str) -> Option<i32>,
    until: Timestamp,
) -> Result<Vec<(Span, String, i32)>, HistoryProblem> {
    let starts: Vec<Timestamp> = history
        .iter()
        .enumerate()
        .map(|(index, entry)| parse_time("tierHistory", index, "since", &entry.since))
        .collect::<Result<_, _>>()?;
    let mut out = Vec::new();
    for (index, entry) in history.iter().enumerate() {
        if entry.suspended {
            continue;
        }
        let end = starts.get(index + 1).copied().unwrap_or(until).min(until);
        let span = Span::new(starts[index], end);
        if !span.is_empty() {
            out.push((span, entry.tier.clone(), entry.level.or_else(|| level_of(&entry.tier)).unwrap_or_default()));
        }
    }
    Ok(out)
}

/// Each workflow's active spans up to `until` with the facts they recorded (missing ones
/// from `current`); an open span ends at `until`.
pub fn workflow_facts(
    activity: &[WorkflowActivity],
    current: &BTreeMap<String, WorkflowFacts>,
    until: Timestamp,
) -> Result<BTreeMap<String, Vec<(Span, WorkflowFacts)>>, HistoryProblem> {
    let mut spans: BTreeMap<String, Vec<(Span, WorkflowFacts)>> = BTreeMap::new();
    for (index, entry) in activity.iter().enumerate() {
        let since = parse_time("workflowActivity", index, "since", &entry.since)?;
        let end = match &entry.until {
            Some(text) => parse_time("workflowActivity", index, "until", text)?.min(until),
            None => until,
        };
        let facts = WorkflowFacts::of_span(entry, current.get(&entry.workflow));
        spans.entry(entry.workflow.clone()).or_default().push((Span::new(since, end), facts));
    }
    Ok(spans)
}

/// Each workflow's active spans up to `until`; an open span ends at `until`.
pub fn workflow_spans(
    activity: &[WorkflowActivity],
    until: Timestamp,
) -> Result<BTreeMap<String, Vec<Span>>, HistoryProblem> {
    let mut spans: BTreeMap<String, Vec<Span>> = BTreeMap::new();
    for (index, entry) in activity.iter().enumerate() {
        let since = parse_time("workflowActivity", index, "since", &entry.since)?;
        let end = match &entry.until {
            Some(text) => parse_time("workflowActivity", index, "until", text)?.min(until),
            None => until,
        };
        spans.entry(entry.workflow.clone()).or_default().push(Span::new(since, end));
    }
    Ok(spans)
}

/// The first month the history reaches into, if any.
pub fn first_period(history: &[TierHistoryEntry]) -> Option<Period> {
    history.iter().filter_map(|entry| entry.since.parse::<Timestamp>().ok()).min().map(Period::containing)
}

fn parse_time(field: &'static str, index: usize, key: &'static str, value: &str) -> Result<Timestamp, HistoryProblem> {
    value.parse().map_err(|_| HistoryProblem::BadTime { field, index, key, value: value.to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(tier: &str, since: &str, suspended: bool) -> TierHistoryEntry {
        TierHistoryEntry { tier: tier.into(), level: Some(1), since: since.into(), suspended }
    }

    fn activity(workflow: &str, since: &str, until: Option<&str>) -> WorkflowActivity {
        WorkflowActivity {
            workflow: workflow.into(),
            since: since.into(),
            until: until.map(Into::into),
            ..WorkflowActivity::default()
        }
    }

    /// Spans as the operator writes them, with the workflow's facts.
    fn recorded(workflow: &str, since: &str, until: Option<&str>) -> WorkflowActivity {
        let facts = FACTS;
        WorkflowActivity {
            cpu_millicores: Some(facts.cpu_millicores),
            memory_bytes: Some(facts.memory_bytes),
            scheduled: Some(facts.scheduled),
            ..activity(workflow, since, until)
        }
    }

    const FACTS: WorkflowFacts = WorkflowFacts { cpu_millicores: 100, memory_bytes: 1 << 27, scheduled: true };

    fn running(names: &[&str]) -> BTreeMap<String, WorkflowFacts> {
        names.iter().map(|name| (name.to_string(), FACTS)).collect()
    }

    fn prices(tier: &str) -> Option<TierPrices> {
        (tier != "gone").then(|| TierPrices {
            tier: tier.into(),
            display_name: tier.into(),
            level: 1,
            monthly_base_fee: 100,
            monthly_fee_per_active_workflow: 10,
            included_runs_per_month: 0,
            price_per_thousand_extra_runs: 0,
            sla: None,
        })
    }

    #[test]
    fn a_steady_tenant_adds_no_entry_and_a_change_adds_one() {
        let history = vec![entry("gold", "2026-11-01T00:00:00Z", false)];
        let same = TierObservation { tier: "gold", level: 1, suspended: false };
        assert_eq!(observe_tier(&history, same, "2026-11-02T00:00:00Z"), history);
        let suspended = TierObservation { suspended: true, ..same };
        let after = observe_tier(&history, suspended, "2026-11-02T00:00:00Z");
        assert_eq!(after.len(), 2);
        assert!(after[1].suspended);
        let moved = TierObservation { tier: "silver", level: 0, suspended: false };
        assert_eq!(observe_tier(&after, moved, "2026-11-03T00:00:00Z")[2].tier, "silver");
    }

    #[test]
    fn activity_opens_and_closes_spans_and_outlives_deleted_workflows() {
        let running = running(&["a", "b"]);
        let first = observe_activity(&[], &running, "2026-11-01T00:00:00Z", None);
        assert_eq!(
            first,
            vec![recorded("a", "2026-11-01T00:00:00Z", None), recorded("b", "2026-11-01T00:00:00Z", None)]
        );
        assert_eq!(observe_activity(&first, &running, "2026-11-02T00:00:00Z", None), first, "steady: no change");
        // b was deleted (or held): its span closes, and stays.
        let only_a = self::running(&["a"]);
        let second = observe_activity(&first, &only_a, "2026-11-05T00:00:00Z", None);
        assert_eq!(second[1], recorded("b", "2026-11-01T00:00:00Z", Some("2026-11-05T00:00:00Z")));
        // b runs again: a new span; the closed one is kept.
        let third = observe_activity(&second, &running, "2026-11-07T00:00:00Z", None);
        assert_eq!(third.len(), 3);
        assert_eq!(third[2], recorded("b", "2026-11-07T00:00:00Z", None));
    }

    #[test]
    fn a_change_of_requests_opens_a_new_span_and_older_spans_are_left_alone() {
        let first = observe_activity(&[], &running(&["a"]), "2026-11-01T00:00:00Z", None);
        let bigger = BTreeMap::from([("a".to_string(), WorkflowFacts { cpu_millicores: 400, ..FACTS })]);
        let second = observe_activity(&first, &bigger, "2026-11-10T00:00:00Z", None);
        assert_eq!(second.len(), 2);
        assert_eq!(second[0].until.as_deref(), Some("2026-11-10T00:00:00Z"));
        assert_eq!((second[1].since.as_str(), second[1].cpu_millicores), ("2026-11-10T00:00:00Z", Some(400)));
        // A span written before requests were kept is not split: its requests are the current ones.
        let legacy = vec![activity("a", "2026-10-01T00:00:00Z", None)];
        assert_eq!(observe_activity(&legacy, &bigger, "2026-11-10T00:00:00Z", None), legacy);
        let spans = workflow_facts(&legacy, &bigger, "2026-11-11T00:00:00Z".parse().unwrap()).unwrap();
        assert_eq!(spans["a"][0].1.cpu_millicores, 400);
    }

    #[test]
    fn spans_of_closed_months_are_dropped() {
        let old = vec![
            recorded("a", "2026-09-01T00:00:00Z", Some("2026-09-30T00:00:00Z")),
            recorded("a", "2026-10-15T00:00:00Z", None),
        ];
        let running = running(&["a"]);
        let keep_from = "2026-10-01T00:00:00Z".parse().ok();
        assert_eq!(observe_activity(&old, &running, "2026-11-02T00:00:00Z", keep_from), old[1..].to_vec());
    }

    #[test]
    fn a_duplicated_open_span_is_closed_not_counted_twice() {
        let doubled = vec![recorded("a", "2026-11-01T00:00:00Z", None), recorded("a", "2026-11-03T00:00:00Z", None)];
        let running = running(&["a"]);
        let repaired = observe_activity(&doubled, &running, "2026-11-04T00:00:00Z", None);
        assert_eq!(repaired[0].until, None);
        assert_eq!(repaired[1].until.as_deref(), Some("2026-11-04T00:00:00Z"));
    }

    fn run(scheduled: &str, ended: Option<&str>) -> FinishedRun {
        FinishedRun { scheduled: scheduled.parse().unwrap(), succeeded: true, ended: ended.map(|e| e.parse().unwrap()) }
    }

    fn months(history: &RunHistory) -> Vec<(String, i64)> {
        history.usage.iter().map(|u| (u.period.clone(), u.runs)).collect()
    }

    #[test]
    fn each_run_is_counted_once_into_the_month_it_was_scheduled_in() {
        let rules = ClosingRules::default();
        let declared = BTreeSet::from(["nightly".to_string()]);
        let now: Timestamp = "2026-11-20T00:00:00Z".parse().unwrap();
        let open = "2026-11".parse().ok();
        let held = BTreeMap::from([(
            "nightly".to_string(),
            vec![run("2026-11-18T02:00:00Z", None), run("2026-11-19T02:00:00Z", None)],
        )]);
        let first = observe_runs(&RunHistory::default(), &held, &declared, &rules, open, now);
        assert_eq!(months(&first), vec![("2026-11".into(), 2)]);
        assert_eq!(first.counted[0].through, "2026-11-19T02:00:00Z");
        assert_eq!(first.usage[0].last_runs[0].at, "2026-11-19T02:00:00Z");
        // Observed again, by this process or another: nothing more. The oldest Job deleted
        // by the history limit and a new one finished: one more.
        assert_eq!(observe_runs(&first, &held, &declared, &rules, open, now), first);
        let later = BTreeMap::from([(
            "nightly".to_string(),
            vec![run("2026-11-19T02:00:00Z", None), run("2026-11-20T02:00:00Z", None)],
        )]);
        assert_eq!(months(&observe_runs(&first, &later, &declared, &rules, open, now)), vec![("2026-11".into(), 3)]);
    }

    #[test]
    fn a_run_that_ends_after_its_month_closed_is_billed_in_the_month_it_ended() {
        let rules = ClosingRules::default();
        let declared = BTreeSet::from(["close".to_string()]);
        let now: Timestamp = "2026-12-01T03:00:00Z".parse().unwrap();
        let runs = BTreeMap::from([(
            "close".to_string(),
            vec![
                // Scheduled in November, done within the grace hour: November's.
                run("2026-11-30T23:00:00Z", Some("2026-12-01T00:59:59Z")),
                // Scheduled in November, done after November's record closed: December's.
                run("2026-11-30T23:30:00Z", Some("2026-12-01T01:00:00Z")),
            ],
        )]);
        let open = "2026-11".parse().ok();
        let counted = observe_runs(&RunHistory::default(), &runs, &declared, &rules, open, now);
        assert_eq!(months(&counted), vec![("2026-11".into(), 1), ("2026-12".into(), 1)]);
        // November's record was observed Closed before these were seen (a lagging watch):
        // its run is not billed, the December one is, and both are counted once.
        let december = "2026-12".parse().ok();
        let late = observe_runs(&RunHistory::default(), &runs, &declared, &rules, december, now);
        assert_eq!(months(&late), vec![("2026-12".into(), 1)]);
        assert_eq!(late.counted[0].through, "2026-11-30T23:30:00Z");
    }

    #[test]
    fn months_and_marks_are_kept_only_as_long_as_they_are_needed() {
        let rules = ClosingRules::default();
        let previous = RunHistory {
            usage: ["2026-08", "2026-09", "2026-10"]
                .iter()
                .map(|p| MonthlyUsage { period: p.to_string(), runs: 5, last_runs: vec![] })
                .collect(),
            counted: vec![
                RunsCounted { workflow: "deleted-long-ago".into(), through: "2026-08-03T00:00:00Z".into() },
                RunsCounted { workflow: "deleted-lately".into(), through: "2026-10-03T00:00:00Z".into() },
                RunsCounted { workflow: "nightly".into(), through: "2026-08-03T00:00:00Z".into() },
            ],
        };
        let declared = BTreeSet::from(["nightly".to_string()]);
        let now: Timestamp = "2026-10-20T00:00:00Z".parse().unwrap();
        // September and before are Closed: September stays (adoption looks 30 days back).
        let kept = observe_runs(&previous, &BTreeMap::new(), &declared, &rules, "2026-10".parse().ok(), now);
        assert_eq!(months(&kept), vec![("2026-09".into(), 5), ("2026-10".into(), 5)]);
        let marks: Vec<&str> = kept.counted.iter().map(|c| c.workflow.as_str()).collect();
        assert_eq!(marks, ["deleted-lately", "nightly"]);
        // Jobs observed, none finished: the month gets an entry, so its runs are known to be zero.
        let observed = BTreeMap::from([("nightly".to_string(), vec![])]);
        let november: Timestamp = "2026-11-02T00:00:00Z".parse().unwrap();
        let with_entry = observe_runs(&kept, &observed, &declared, &rules, "2026-10".parse().ok(), november);
        assert_eq!(months(&with_entry).last(), Some(&("2026-11".to_string(), 0)));
    }

    #[test]
    fn stints_run_to_the_next_entry_and_skip_suspended_time() {
        let history = vec![
            entry("silver", "2026-10-20T00:00:00Z", false),
            entry("gold", "2026-11-05T00:00:00Z", false),
            entry("gold", "2026-11-10T00:00:00Z", true),
            entry("gold", "2026-11-20T00:00:00Z", false),
        ];
        let until: Timestamp = "2026-11-25T00:00:00Z".parse().unwrap();
        let stints = stints(&history, prices, until).unwrap();
        let spans: Vec<(String, i64)> =
            stints.iter().map(|s| (s.prices.tier.clone(), s.span.seconds() / 86_400)).collect();
        assert_eq!(spans, vec![("silver".into(), 16), ("gold".into(), 5), ("gold".into(), 5)]);
    }

    #[test]
    fn bad_history_is_named_not_billed() {
        let history = vec![entry("gold", "yesterday", false)];
        let problem = stints(&history, prices, Timestamp::UNIX_EPOCH).unwrap_err();
        assert_eq!(problem.to_string(), "status.tierHistory[0].since: `yesterday` is not an RFC 3339 time");
        let history = vec![entry("gone", "2026-11-01T00:00:00Z", false)];
        let until = "2026-11-02T00:00:00Z".parse().unwrap();
        assert!(matches!(stints(&history, prices, until), Err(HistoryProblem::UnknownTier { index: 0, .. })));
        let bad = vec![activity("a", "2026-11-01T00:00:00Z", Some("soon"))];
        assert!(workflow_spans(&bad, until).is_err());
    }
}
