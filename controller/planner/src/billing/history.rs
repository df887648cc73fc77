//! The durable history billing is computed from, kept on the Tenant's status: which tier it
//! was on and whether it was suspended (`tierHistory`), and when each workflow ran
//! (`workflowActivity`). Each reconcile adds what it observes at its instant; nothing here
//! depends on which process observed it or how often, so a restarted operator computes the
//! same bills as one that never stopped.

use super::ledger::{TierPrices, TierStint};
use super::period::{Period, Span};
use jiff::Timestamp;
use std::collections::{BTreeMap, BTreeSet};
use tenantry_api::tenant::{TierHistoryEntry, WorkflowActivity};

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
/// exists). Spans that ended before `keep_from` are dropped: their months are closed.
pub fn observe_activity(
    activity: &[WorkflowActivity],
    running: &BTreeSet<String>,
    now: &str,
    keep_from: Option<Timestamp>,
) -> Vec<WorkflowActivity> {
    let mut open: BTreeSet<String> = BTreeSet::new();
    let mut updated: Vec<WorkflowActivity> = Vec::with_capacity(activity.len() + running.len());
    for entry in activity {
        let mut entry = entry.clone();
        if entry.until.is_none() {
            if running.contains(&entry.workflow) && !open.contains(&entry.workflow) {
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
    for workflow in running {
        if !open.contains(workflow) {
            updated.push(WorkflowActivity { workflow: workflow.clone(), since: now.to_string(), until: None });
        }
    }
    updated
}

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
        WorkflowActivity { workflow: workflow.into(), since: since.into(), until: until.map(Into::into) }
    }

    fn prices(tier: &str) -> Option<TierPrices> {
        (tier != "gone").then(|| TierPrices {
            tier: tier.into(),
            display_name: tier.into(),
            monthly_base_fee: 100,
            monthly_fee_per_active_workflow: 10,
            included_runs_per_month: 0,
            price_per_thousand_extra_runs: 0,
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
        let running = BTreeSet::from(["a".to_string(), "b".to_string()]);
        let first = observe_activity(&[], &running, "2026-11-01T00:00:00Z", None);
        assert_eq!(
            first,
            vec![activity("a", "2026-11-01T00:00:00Z", None), activity("b", "2026-11-01T00:00:00Z", None)]
        );
        assert_eq!(observe_activity(&first, &running, "2026-11-02T00:00:00Z", None), first, "steady: no change");
        // b was deleted (or held): its span closes, and stays.
        let only_a = BTreeSet::from(["a".to_string()]);
        let second = observe_activity(&first, &only_a, "2026-11-05T00:00:00Z", None);
        assert_eq!(second[1], activity("b", "2026-11-01T00:00:00Z", Some("2026-11-05T00:00:00Z")));
        // b runs again: a new span; the closed one is kept.
        let third = observe_activity(&second, &running, "2026-11-07T00:00:00Z", None);
        assert_eq!(third.len(), 3);
        assert_eq!(third[2], activity("b", "2026-11-07T00:00:00Z", None));
    }

    #[test]
    fn spans_of_closed_months_are_dropped() {
        let old = vec![
            activity("a", "2026-09-01T00:00:00Z", Some("2026-09-30T00:00:00Z")),
            activity("a", "2026-10-15T00:00:00Z", None),
        ];
        let running = BTreeSet::from(["a".to_string()]);
        let keep_from = "2026-10-01T00:00:00Z".parse().ok();
        assert_eq!(observe_activity(&old, &running, "2026-11-02T00:00:00Z", keep_from), old[1..].to_vec());
    }

    #[test]
    fn a_duplicated_open_span_is_closed_not_counted_twice() {
        let doubled = vec![activity("a", "2026-11-01T00:00:00Z", None), activity("a", "2026-11-03T00:00:00Z", None)];
        let running = BTreeSet::from(["a".to_string()]);
        let repaired = observe_activity(&doubled, &running, "2026-11-04T00:00:00Z", None);
        assert_eq!(repaired[0].until, None);
        assert_eq!(repaired[1].until.as_deref(), Some("2026-11-04T00:00:00Z"));
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
