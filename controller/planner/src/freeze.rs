//! Change freezes: whether an instant lies inside one of a GovernancePolicy's
//! `spec.changeFreezes[]`, until when, and when the next one begins. Pure: the instant is
//! always passed in, never read from a clock.
//!
//! A freeze is one of four kinds, each a half-open span of time, frozen from its start
//! (inclusive) to its end (exclusive):
//!
//! - `window`: two absolute RFC 3339 instants with their own offsets; `timeZone` is ignored.
//! - `monthEnd`: from 00:00 on the first of the last `daysBefore` days of each month until
//!   00:00 after the first `daysAfter` days of the next month.
//! - `weekly`: from `startTime` on `startDay` to the next `endTime` on `endDay`, which may run
//!   over the end of the week (Friday 18:00 to Monday 06:00); always less than a week.
//! - `yearly`: from 00:00 on the `start` month-day until 00:00 on the day after the `end`
//!   month-day, which may run over the end of the year (`12-20` to `01-05`). `02-29` is
//!   refused, as a start or an end, because it does not occur every year: the freeze would
//!   move or vanish in three years out of four. A yearly freeze may not cover a whole year
//!   (`end` the day before `start`).
//!
//! The recurring kinds are read in local time of `timeZone` (an IANA name; UTC when
//! omitted), so a window's length in seconds changes with daylight saving time: a month-end
//! window over the last Sunday of March in Europe/Berlin is an hour shorter than its days.
//! Local times that a change skips or repeats resolve as jiff's *compatible* disambiguation
//! (RFC 5545's): a skipped time is read with the offset before the change, which moves it
//! forward by the length of the gap (02:30 on a spring-forward night in Berlin is 03:30
//! CEST); a repeated time is its first occurrence (01:30 on a fall-back night in New York is
//! 01:30 EDT). A weekly occurrence whose start so resolves to after its end is empty that
//! week.
//!
//! Occurrences that overlap or touch (a 15-day month-end freeze around a 28-day February)
//! are one freeze: [`active_until`] answers when the freeze lifts, and [`next_start`] never
//! names an instant at which the freeze is already held.
//!
//! A freeze that [`validate`] refuses is never active and never starts; the caller reports
//! the error on the policy's status.
//!
//! ```
//! use tenantry_api::governance::{ChangeFreeze, WeeklyFreeze, Weekday};
//! use tenantry_planner::freeze;
//!
//! let weekend = ChangeFreeze {
//!     name: "weekend".into(),
//!     time_zone: Some("Europe/Berlin".into()),
//!     window: None,
//!     month_end: None,
//!     weekly: Some(WeeklyFreeze {
//!         start_day: Weekday::Friday,
//!         start_time: "18:00".into(),
//!         end_day: Weekday::Monday,
//!         end_time: "06:00".into(),
//!     }),
//!     yearly: None,
//!     categories: vec![],
//! };
//! assert_eq!(freeze::validate(&weekend), Ok(()));
//! let saturday = "2026-06-13T12:00:00Z".parse().unwrap();
//! let monday_six = "2026-06-15T04:00:00Z".parse().unwrap();
//! assert_eq!(freeze::active_until(&weekend, saturday), Some(monday_six));
//! ```

use jiff::civil::{Date, DateTime, Time};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp, ToSpan};
use tenantry_api::governance::{ChangeFreeze, FreezeWindow, MonthEndFreeze, Weekday, WeeklyFreeze, YearlyFreeze};
use tenantry_api::WorkflowCategory;

/// Most days a month-end freeze may reach on either side of the month's end.
const MAX_MONTH_END_DAYS: i32 = 15;

/// Most occurrences looked at for one answer. Valid freezes need a handful: occurrences of
/// a yearly freeze never touch, weekly ones only across a daylight-saving change, and
/// month-end ones chain over at most three months. Were the limit reached inside a chain,
/// the chain would be taken to end with the last occurrence looked at.
const SCAN_LIMIT: u32 = 64;

/// Minutes in a week.
const WEEK_MINUTES: i64 = 7 * 24 * 60;

/// Checks a freeze; Err names the field: "spec.changeFreezes[month-end].timeZone: 'Mars/Base' is not an IANA time zone".
pub fn validate(freeze: &ChangeFreeze) -> Result<(), String> {
    parse(freeze).map(|_| ())
}

/// When `at` lies inside the freeze (start inclusive, end exclusive), the instant this occurrence ends.
pub fn active_until(freeze: &ChangeFreeze, at: Timestamp) -> Option<Timestamp> {
    match parse(freeze).ok()? {
        Parsed::Window { start, end } => (start <= at && at < end).then_some(end),
        Parsed::Recurring { rule, zone } => {
            let (start, end) = Runs::around(&rule, zone, at)?.find(|&(_, end)| end > at)?;
            (start <= at).then_some(end)
        }
    }
}

/// The next instant strictly after `at` at which the freeze begins (None for a past absolute window), so a controller can wake up then.
pub fn next_start(freeze: &ChangeFreeze, at: Timestamp) -> Option<Timestamp> {
    match parse(freeze).ok()? {
        Parsed::Window { start, .. } => (start > at).then_some(start),
        Parsed::Recurring { rule, zone } => {
            Runs::around(&rule, zone, at)?.map(|(start, _)| start).find(|&start| start > at)
        }
    }
}

/// Whether the freeze holds workflows of `category` (empty categories: every one).
pub fn covers(freeze: &ChangeFreeze, category: WorkflowCategory) -> bool {
    freeze.categories.is_empty() || freeze.categories.contains(&category)
}

/// A freeze that passed validation.
enum Parsed {
    Window { start: Timestamp, end: Timestamp },
    Recurring { rule: Rule, zone: TimeZone },
}

/// A recurring freeze, in local (civil) time.
enum Rule {
    /// Days before and after the first of each month.
    MonthEnd { before: i64, after: i64 },
    /// Minutes from Monday 00:00 to the start, and the length in minutes (1 to a week less 1).
    Weekly { start: i64, length: i64 },
    /// First and last frozen month-days, as (month, day).
    Yearly { start: (i8, i8), end: (i8, i8) },
}

fn parse(freeze: &ChangeFreeze) -> Result<Parsed, String> {
    let at = format!("spec.changeFreezes[{}]", freeze.name);
    let kinds: Vec<&str> = [
        (freeze.window.is_some(), "window"),
        (freeze.month_end.is_some(), "monthEnd"),
        (freeze.weekly.is_some(), "weekly"),
        (freeze.yearly.is_some(), "yearly"),
    ]
    .into_iter()
    .filter_map(|(set, kind)| set.then_some(kind))
    .collect();
    if kinds.len() != 1 {
        let found = match kinds.as_slice() {
            [init @ .., last] if !init.is_empty() => format!("{} and {last} are set", init.join(", ")),
            _ => "none is set".to_string(),
        };
        return Err(format!("{at}: set exactly one of window, monthEnd, weekly and yearly ({found})"));
    }
    let zone = match &freeze.time_zone {
        None => TimeZone::UTC,
        Some(name) => match TimeZone::get(name) {
            Ok(zone) if name != "Local" => zone,
            _ => return Err(format!("{at}.timeZone: '{name}' is not an IANA time zone")),
        },
    };
    let rule = match (&freeze.window, &freeze.month_end, &freeze.weekly, &freeze.yearly) {
        (Some(window), ..) => {
            let (start, end) = parse_window(window).map_err(|why| format!("{at}.window.{why}"))?;
            return Ok(Parsed::Window { start, end });
        }
        (_, Some(month_end), ..) => parse_month_end(month_end).map_err(|why| format!("{at}.monthEnd{why}"))?,
        (_, _, Some(weekly), _) => parse_weekly(weekly).map_err(|why| format!("{at}.weekly{why}"))?,
        (_, _, _, Some(yearly)) => parse_yearly(yearly).map_err(|why| format!("{at}.yearly{why}"))?,
        (None, None, None, None) => {
            return Err(format!("{at}: set exactly one of window, monthEnd, weekly and yearly (none is set)"))
        }
    };
    Ok(Parsed::Recurring { rule, zone })
}

fn parse_window(window: &FreezeWindow) -> Result<(Timestamp, Timestamp), String> {
    let instant = |field: &str, text: &str| {
        text.parse::<Timestamp>().map_err(|_| format!("{field}: '{text}' is not an RFC 3339 time with an offset"))
    };
    let start = instant("start", &window.start)?;
    let end = instant("end", &window.end)?;
    if end <= start {
        return Err(format!("end: '{}' is not after start '{}'", window.end, window.start));
    }
    Ok((start, end))
}

fn parse_month_end(month_end: &MonthEndFreeze) -> Result<Rule, String> {
    for (field, days) in [("daysBefore", month_end.days_before), ("daysAfter", month_end.days_after)] {
        if !(0..=MAX_MONTH_END_DAYS).contains(&days) {
            return Err(format!(".{field}: {days} is out of range 0-{MAX_MONTH_END_DAYS}"));
        }
    }
    if month_end.days_before == 0 && month_end.days_after == 0 {
        return Err(": daysBefore and daysAfter are both 0: the freeze would never hold".into());
    }
    Ok(Rule::MonthEnd { before: i64::from(month_end.days_before), after: i64::from(month_end.days_after) })
}

fn parse_weekly(weekly: &WeeklyFreeze) -> Result<Rule, String> {
    let minute = |field: &str, text: &str| -> Result<i64, String> {
        clock_time(text).ok_or_else(|| format!(".{field}: '{text}' is not a 24-hour time HH:MM (00:00 to 23:59)"))
    };
    let start = day_index(weekly.start_day) * 24 * 60 + minute("startTime", &weekly.start_time)?;
    let end = day_index(weekly.end_day) * 24 * 60 + minute("endTime", &weekly.end_time)?;
    if start == end {
        return Err(format!(
            ": the freeze starts and ends at the same time of the same day ({:?} {})",
            weekly.start_day, weekly.start_time
        ));
    }
    Ok(Rule::Weekly { start, length: (end - start).rem_euclid(WEEK_MINUTES) })
}

fn parse_yearly(yearly: &YearlyFreeze) -> Result<Rule, String> {
    let start = month_day("start", &yearly.start)?;
    let end = month_day("end", &yearly.end)?;
    // In a common year (2001), the day after `end` must not be `start`.
    let day_of_year = |(month, day): (i8, i8)| Date::new(2001, month, day).map(|date| date.day_of_year());
    if let (Ok(first), Ok(last)) = (day_of_year(start), day_of_year(end)) {
        if last % 365 + 1 == first {
            return Err(format!(
                ": {} to {} covers a whole year: a yearly freeze must lift for at least a day",
                yearly.start, yearly.end
            ));
        }
    }
    Ok(Rule::Yearly { start, end })
}

/// `HH:MM` (24-hour) as minutes after midnight.
fn clock_time(text: &str) -> Option<i64> {
    let (hour, minute) = text.split_once(':')?;
    let hour = two_digits(hour)?;
    let minute = two_digits(minute)?;
    (hour < 24 && minute < 60).then_some(hour * 60 + minute)
}

/// `MM-DD` as (month, day); a day that exists in a leap year, except 02-29.
fn month_day(field: &str, text: &str) -> Result<(i8, i8), String> {
    let wrong = || format!(".{field}: '{text}' is not a month and day MM-DD (such as 11-23)");
    let (month, day) = text.split_once('-').ok_or_else(wrong)?;
    let month = two_digits(month).and_then(|m| i8::try_from(m).ok()).ok_or_else(wrong)?;
    let day = two_digits(day).and_then(|d| i8::try_from(d).ok()).ok_or_else(wrong)?;
    Date::new(2000, month, day).map_err(|_| wrong())?;
    if (month, day) == (2, 29) {
        return Err(format!(".{field}: 02-29 does not occur every year: use 02-28 or 03-01"));
    }
    Ok((month, day))
}

fn two_digits(text: &str) -> Option<i64> {
    if text.len() != 2 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// Days from Monday.
fn day_index(day: Weekday) -> i64 {
    match day {
        Weekday::Monday => 0,
        Weekday::Tuesday => 1,
        Weekday::Wednesday => 2,
        Weekday::Thursday => 3,
        Weekday::Friday => 4,
        Weekday::Saturday => 5,
        Weekday::Sunday => 6,
    }
}

impl Rule {
    /// The anchor (a local date, one per occurrence) of an occurrence that starts before the
    /// local date `today`: the previous period's, whose freeze may reach into this one (a
    /// weekend freeze into Monday, a year-end freeze into January; for a month end, whose
    /// occurrence starts before the first of the month, it is a margin).
    fn first_anchor(&self, today: Date) -> Option<Date> {
        match self {
            // The first of the month whose start the occurrence surrounds.
            Rule::MonthEnd { .. } => today.first_of_month().checked_sub(1.month()).ok(),
            // The Monday of the occurrence's week.
            Rule::Weekly { .. } => {
                let monday = today.checked_sub(i64::from(today.weekday().to_monday_zero_offset()).days()).ok()?;
                monday.checked_sub(1.week()).ok()
            }
            // 1 January of the year the occurrence starts in.
            Rule::Yearly { .. } => today.first_of_year().checked_sub(1.year()).ok(),
        }
    }

    fn next_anchor(&self, anchor: Date) -> Option<Date> {
        match self {
            Rule::MonthEnd { .. } => anchor.checked_add(1.month()).ok(),
            Rule::Weekly { .. } => anchor.checked_add(1.week()).ok(),
            Rule::Yearly { .. } => anchor.checked_add(1.year()).ok(),
        }
    }

    /// The occurrence of `anchor` as instants, or None when it is empty (a weekly one that a
    /// daylight-saving change turns around) or beyond what jiff represents.
    fn occurrence(&self, anchor: Date, zone: &TimeZone) -> Option<(Timestamp, Timestamp)> {
        let (start, end) = match *self {
            Rule::MonthEnd { before, after } => {
                (midnight(anchor.checked_sub(before.days()).ok()?), midnight(anchor.checked_add(after.days()).ok()?))
            }
            Rule::Weekly { start, length } => {
                let start = midnight(anchor).checked_add(SignedDuration::from_mins(start)).ok()?;
                (start, start.checked_add(SignedDuration::from_mins(length)).ok()?)
            }
            Rule::Yearly { start: (start_month, start_day), end: (end_month, end_day) } => {
                let year = anchor.year();
                let end_year =
                    if (end_month, end_day) < (start_month, start_day) { year.checked_add(1)? } else { year };
                (
                    midnight(Date::new(year, start_month, start_day).ok()?),
                    midnight(Date::new(end_year, end_month, end_day).ok()?.tomorrow().ok()?),
                )
            }
        };
        let start = zone.to_ambiguous_timestamp(start).compatible().ok()?;
        let end = zone.to_ambiguous_timestamp(end).compatible().ok()?;
        (start < end).then_some((start, end))
    }
}

fn midnight(date: Date) -> DateTime {
    date.to_datetime(Time::midnight())
}

/// The occurrences of a recurring freeze in order of time, those that overlap or touch
/// merged, from one that starts no later than an instant on.
struct Runs<'a> {
    rule: &'a Rule,
    zone: TimeZone,
    anchor: Option<Date>,
    pending: Option<(Timestamp, Timestamp)>,
    budget: u32,
}

impl<'a> Runs<'a> {
    fn around(rule: &'a Rule, zone: TimeZone, at: Timestamp) -> Option<Runs<'a>> {
        let anchor = rule.first_anchor(zone.to_datetime(at).date())?;
        Some(Runs { rule, zone, anchor: Some(anchor), pending: None, budget: SCAN_LIMIT })
    }
}

impl Iterator for Runs<'_> {
    type Item = (Timestamp, Timestamp);

    fn next(&mut self) -> Option<(Timestamp, Timestamp)> {
        while self.budget > 0 {
            self.budget -= 1;
            let Some(anchor) = self.anchor else { break };
            self.anchor = self.rule.next_anchor(anchor);
            let Some((start, end)) = self.rule.occurrence(anchor, &self.zone) else { continue };
            match self.pending {
                Some((run_start, run_end)) if start <= run_end => {
                    self.pending = Some((run_start, run_end.max(end)));
                }
                done => {
                    self.pending = Some((start, end));
                    if done.is_some() {
                        return done;
                    }
                }
            }
        }
        self.pending.take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected instants are worked out by hand from the zone's offset on each side of the
    // boundary (the offsets and daylight-saving dates are noted next to each case) and
    // written as literals: the code under test never computes its own expectation.

    fn ts(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn base(zone: Option<&str>) -> ChangeFreeze {
        ChangeFreeze {
            name: "f".into(),
            time_zone: zone.map(str::to_string),
            window: None,
            month_end: None,
            weekly: None,
            yearly: None,
            categories: vec![],
        }
    }

    fn window(zone: Option<&str>, start: &str, end: &str) -> ChangeFreeze {
        ChangeFreeze { window: Some(FreezeWindow { start: start.into(), end: end.into() }), ..base(zone) }
    }

    fn month_end(zone: Option<&str>, days_before: i32, days_after: i32) -> ChangeFreeze {
        ChangeFreeze { month_end: Some(MonthEndFreeze { days_before, days_after }), ..base(zone) }
    }

    fn weekly(
        zone: Option<&str>,
        start_day: Weekday,
        start_time: &str,
        end_day: Weekday,
        end_time: &str,
    ) -> ChangeFreeze {
        ChangeFreeze {
            weekly: Some(WeeklyFreeze { start_day, start_time: start_time.into(), end_day, end_time: end_time.into() }),
            ..base(zone)
        }
    }

    fn yearly(zone: Option<&str>, start: &str, end: &str) -> ChangeFreeze {
        ChangeFreeze { yearly: Some(YearlyFreeze { start: start.into(), end: end.into() }), ..base(zone) }
    }

    /// One occurrence, frozen from `start` (its first second) through its last second, not
    /// frozen at `end` nor the second before `start`, which is where `next_start` points.
    #[track_caller]
    fn assert_occurrence(freeze: &ChangeFreeze, start: &str, end: &str) {
        assert_eq!(validate(freeze), Ok(()));
        let (start, end) = (ts(start), ts(end));
        let second = SignedDuration::from_secs(1);
        let before = start.checked_sub(second).unwrap();
        let last = end.checked_sub(second).unwrap();
        assert_eq!(active_until(freeze, before), None, "the second before {start}");
        assert_eq!(active_until(freeze, start), Some(end), "first second {start}");
        assert_eq!(active_until(freeze, last), Some(end), "last second {last}");
        assert_eq!(active_until(freeze, end), None, "end {end}");
        assert_eq!(next_start(freeze, before), Some(start), "next start from the second before {start}");
    }

    #[track_caller]
    fn assert_seconds(start: &str, end: &str, seconds: i64) {
        assert_eq!(ts(end).duration_since(ts(start)).as_secs(), seconds, "{start} to {end}");
    }

    // --- window -----------------------------------------------------------------------

    #[test]
    fn a_window_is_frozen_from_its_start_to_its_end() {
        // -05:00: 00:00 in New York is 05:00 UTC.
        let black_friday = window(None, "2026-11-26T00:00:00-05:00", "2026-12-01T00:00:00-05:00");
        assert_occurrence(&black_friday, "2026-11-26T05:00:00Z", "2026-12-01T05:00:00Z");
    }

    #[test]
    fn a_window_ignores_the_time_zone() {
        let black_friday = window(Some("Asia/Tokyo"), "2026-11-26T00:00:00-05:00", "2026-12-01T00:00:00-05:00");
        assert_occurrence(&black_friday, "2026-11-26T05:00:00Z", "2026-12-01T05:00:00Z");
    }

    #[test]
    fn a_window_starts_once() {
        let black_friday = window(None, "2026-11-26T00:00:00Z", "2026-12-01T00:00:00Z");
        assert_eq!(next_start(&black_friday, ts("2026-01-01T00:00:00Z")), Some(ts("2026-11-26T00:00:00Z")));
        assert_eq!(next_start(&black_friday, ts("2026-11-26T00:00:00Z")), None, "inside: it has begun");
        assert_eq!(next_start(&black_friday, ts("2026-11-28T00:00:00Z")), None);
        assert_eq!(next_start(&black_friday, ts("2027-01-01T00:00:00Z")), None, "past");
        assert_eq!(active_until(&black_friday, ts("2027-01-01T00:00:00Z")), None);
    }

    // --- monthEnd ---------------------------------------------------------------------

    #[test]
    fn month_end_over_february_of_a_leap_year() {
        // February 2028 has 29 days: the last two are the 28th and 29th.
        assert_occurrence(&month_end(None, 2, 3), "2028-02-28T00:00:00Z", "2028-03-04T00:00:00Z");
    }

    #[test]
    fn month_end_over_february_of_common_years() {
        // February 2026 has 28 days: the last two are the 27th and 28th.
        assert_occurrence(&month_end(None, 2, 3), "2026-02-27T00:00:00Z", "2026-03-04T00:00:00Z");
        // Berlin in February and early March 2027 is CET, +01:00 (summer time begins 2027-03-28).
        assert_occurrence(&month_end(Some("Europe/Berlin"), 2, 3), "2027-02-26T23:00:00Z", "2027-03-03T23:00:00Z");
    }

    #[test]
    fn month_end_of_a_30_day_month_in_tokyo() {
        // April has 30 days: the 29th and 30th; Tokyo is +09:00 all year.
        assert_occurrence(&month_end(Some("Asia/Tokyo"), 2, 3), "2026-04-28T15:00:00Z", "2026-05-03T15:00:00Z");
    }

    #[test]
    fn month_end_of_a_31_day_month_in_kolkata() {
        // July has 31 days: the 30th and 31st; Kolkata is +05:30 all year.
        assert_occurrence(&month_end(Some("Asia/Kolkata"), 2, 3), "2026-07-29T18:30:00Z", "2026-08-03T18:30:00Z");
    }

    #[test]
    fn month_end_rolls_over_into_january() {
        // New York in winter is EST, -05:00: 2026-12-30 00:00 to 2027-01-04 00:00.
        assert_occurrence(&month_end(Some("America/New_York"), 2, 3), "2026-12-30T05:00:00Z", "2027-01-04T05:00:00Z");
    }

    #[test]
    fn month_end_only_after_or_only_before() {
        // Only the first day of each month; then only the last day.
        assert_occurrence(&month_end(None, 0, 1), "2026-05-01T00:00:00Z", "2026-05-02T00:00:00Z");
        assert_occurrence(&month_end(None, 1, 0), "2026-04-30T00:00:00Z", "2026-05-01T00:00:00Z");
    }

    #[test]
    fn month_end_over_spring_forward_in_berlin_is_an_hour_short() {
        // 2026-03-29 at 02:00 CET (+01:00) becomes 03:00 CEST (+02:00). Frozen: the 29th, 30th
        // and 31st of March and 1 April, from 00:00 CET to 00:00 CEST.
        let freeze = month_end(Some("Europe/Berlin"), 3, 1);
        assert_occurrence(&freeze, "2026-03-28T23:00:00Z", "2026-04-01T22:00:00Z");
        assert_seconds("2026-03-28T23:00:00Z", "2026-04-01T22:00:00Z", 4 * 86_400 - 3600);
    }

    #[test]
    fn month_end_over_fall_back_in_berlin_is_an_hour_long() {
        // 2026-10-25 at 03:00 CEST (+02:00) becomes 02:00 CET (+01:00). Frozen: the 25th to
        // the 31st of October and 1 November, from 00:00 CEST to 00:00 CET.
        let freeze = month_end(Some("Europe/Berlin"), 7, 1);
        assert_occurrence(&freeze, "2026-10-24T22:00:00Z", "2026-11-01T23:00:00Z");
        assert_seconds("2026-10-24T22:00:00Z", "2026-11-01T23:00:00Z", 8 * 86_400 + 3600);
    }

    #[test]
    fn month_end_over_fall_back_in_new_york_is_an_hour_long() {
        // 2026-11-01 at 02:00 EDT (-04:00) becomes 01:00 EST (-05:00). Frozen: 31 October,
        // 1 and 2 November.
        let freeze = month_end(Some("America/New_York"), 1, 2);
        assert_occurrence(&freeze, "2026-10-31T04:00:00Z", "2026-11-03T05:00:00Z");
        assert_seconds("2026-10-31T04:00:00Z", "2026-11-03T05:00:00Z", 3 * 86_400 + 3600);
    }

    #[test]
    fn month_end_over_spring_forward_in_sydney_is_an_hour_short() {
        // 2026-10-04 at 02:00 AEST (+10:00) becomes 03:00 AEDT (+11:00). Frozen: 29 and 30
        // September, 1 to 5 October.
        let freeze = month_end(Some("Australia/Sydney"), 2, 5);
        assert_occurrence(&freeze, "2026-09-28T14:00:00Z", "2026-10-05T13:00:00Z");
        assert_seconds("2026-09-28T14:00:00Z", "2026-10-05T13:00:00Z", 7 * 86_400 - 3600);
    }

    #[test]
    fn month_end_next_start_from_inside_and_outside() {
        let freeze = month_end(None, 2, 3);
        // Inside the March close: the next is the April one (30 days: the 29th).
        assert_eq!(next_start(&freeze, ts("2026-03-31T12:00:00Z")), Some(ts("2026-04-29T00:00:00Z")));
        assert_eq!(next_start(&freeze, ts("2026-03-30T00:00:00Z")), Some(ts("2026-04-29T00:00:00Z")), "at its start");
        // Mid-month: this month's.
        assert_eq!(next_start(&freeze, ts("2026-06-15T00:00:00Z")), Some(ts("2026-06-29T00:00:00Z")));
        // After the close of December, the next is January's end.
        assert_eq!(next_start(&freeze, ts("2027-01-03T00:00:00Z")), Some(ts("2027-01-30T00:00:00Z")));
    }

    #[test]
    fn overlapping_month_ends_are_one_freeze() {
        // 15 days either side. Around 1 February: 17 January to 15 February. Around 1 March
        // (February 2026 has 28 days): 14 February to 15 March. They overlap: one freeze from
        // 17 January until 16 March. Around 1 April: 17 March to 15 April; around 1 May (April
        // has 30 days): 16 April to 15 May. They touch: one freeze until 16 May.
        let freeze = month_end(None, 15, 15);
        assert_eq!(active_until(&freeze, ts("2026-01-20T00:00:00Z")), Some(ts("2026-03-16T00:00:00Z")));
        assert_eq!(active_until(&freeze, ts("2026-02-15T12:00:00Z")), Some(ts("2026-03-16T00:00:00Z")));
        assert_eq!(active_until(&freeze, ts("2026-03-16T00:00:00Z")), None, "16 March is free");
        assert_eq!(active_until(&freeze, ts("2026-04-10T00:00:00Z")), Some(ts("2026-05-16T00:00:00Z")));
        // 14 February is not a start: the freeze is held already.
        assert_eq!(next_start(&freeze, ts("2026-01-20T00:00:00Z")), Some(ts("2026-03-17T00:00:00Z")));
        assert_eq!(next_start(&freeze, ts("2026-03-17T00:00:00Z")), Some(ts("2026-05-17T00:00:00Z")));
    }

    // --- weekly -----------------------------------------------------------------------

    #[test]
    fn a_weekend_freeze_wraps_from_sunday_to_monday() {
        // Friday 2026-01-02 18:00 to Monday 2026-01-05 06:00, UTC.
        let weekend = weekly(None, Weekday::Friday, "18:00", Weekday::Monday, "06:00");
        assert_occurrence(&weekend, "2026-01-02T18:00:00Z", "2026-01-05T06:00:00Z");
        // Sunday night, late: still frozen until Monday 06:00.
        assert_eq!(active_until(&weekend, ts("2026-01-04T23:59:59Z")), Some(ts("2026-01-05T06:00:00Z")));
        // Wednesday: not frozen; the next begins Friday.
        assert_eq!(active_until(&weekend, ts("2026-01-07T12:00:00Z")), None);
        assert_eq!(next_start(&weekend, ts("2026-01-07T12:00:00Z")), Some(ts("2026-01-09T18:00:00Z")));
        // From inside, the next is a week after this one began.
        assert_eq!(next_start(&weekend, ts("2026-01-03T12:00:00Z")), Some(ts("2026-01-09T18:00:00Z")));
    }

    #[test]
    fn a_weekend_freeze_over_spring_forward_in_berlin_is_an_hour_short() {
        // Friday 2026-03-27 18:00 CET (+01:00) to Monday 2026-03-30 06:00 CEST (+02:00):
        // 60 local hours, 59 real ones.
        let weekend = weekly(Some("Europe/Berlin"), Weekday::Friday, "18:00", Weekday::Monday, "06:00");
        assert_occurrence(&weekend, "2026-03-27T17:00:00Z", "2026-03-30T04:00:00Z");
        assert_seconds("2026-03-27T17:00:00Z", "2026-03-30T04:00:00Z", 59 * 3600);
    }

    #[test]
    fn a_weekend_freeze_over_fall_back_in_new_york_is_an_hour_long() {
        // Friday 2026-10-30 18:00 EDT (-04:00) to Monday 2026-11-02 06:00 EST (-05:00).
        let weekend = weekly(Some("America/New_York"), Weekday::Friday, "18:00", Weekday::Monday, "06:00");
        assert_occurrence(&weekend, "2026-10-30T22:00:00Z", "2026-11-02T11:00:00Z");
        assert_seconds("2026-10-30T22:00:00Z", "2026-11-02T11:00:00Z", 61 * 3600);
    }

    #[test]
    fn a_skipped_local_start_moves_forward_by_the_gap() {
        // Berlin skips 02:00-03:00 on Sunday 2026-03-29: 02:30 is read with the CET offset,
        // 01:30 UTC, which is 03:30 CEST; 04:00 CEST is 02:00 UTC.
        let night = weekly(Some("Europe/Berlin"), Weekday::Sunday, "02:30", Weekday::Sunday, "04:00");
        assert_occurrence(&night, "2026-03-29T01:30:00Z", "2026-03-29T02:00:00Z");
        // The Sunday before, all CET.
        assert_occurrence(&night, "2026-03-22T01:30:00Z", "2026-03-22T03:00:00Z");
    }

    #[test]
    fn a_repeated_local_time_is_its_first_occurrence() {
        // New York repeats 01:00-02:00 on Sunday 2026-11-01: 01:30 is the first, EDT
        // (-04:00), 05:30 UTC; 03:00 is EST (-05:00), 08:00 UTC.
        let night = weekly(Some("America/New_York"), Weekday::Sunday, "01:30", Weekday::Sunday, "03:00");
        assert_occurrence(&night, "2026-11-01T05:30:00Z", "2026-11-01T08:00:00Z");
        assert_seconds("2026-11-01T05:30:00Z", "2026-11-01T08:00:00Z", 9000);
    }

    #[test]
    fn a_local_end_that_is_skipped_or_repeated() {
        // Saturday 22:00 CET (21:00 UTC) to Sunday 02:30, skipped on 2026-03-29 in Berlin and
        // read with the CET offset: 01:30 UTC (03:30 CEST).
        let berlin = weekly(Some("Europe/Berlin"), Weekday::Saturday, "22:00", Weekday::Sunday, "02:30");
        assert_occurrence(&berlin, "2026-03-28T21:00:00Z", "2026-03-29T01:30:00Z");
        // Saturday 22:00 EDT (02:00 UTC on Sunday) to Sunday 01:30, repeated on 2026-11-01 in
        // New York: the first, EDT, 05:30 UTC.
        let new_york = weekly(Some("America/New_York"), Weekday::Saturday, "22:00", Weekday::Sunday, "01:30");
        assert_occurrence(&new_york, "2026-11-01T02:00:00Z", "2026-11-01T05:30:00Z");
    }

    #[test]
    fn a_weekly_freeze_turned_around_by_a_skipped_hour_is_empty_that_week() {
        // 02:30 to 03:00 in Berlin: on 2026-03-29, 02:30 is read as 03:30 CEST, after 03:00
        // CEST, so that Sunday nothing is frozen; the Sunday after, 02:30 to 03:00 CEST.
        let night = weekly(Some("Europe/Berlin"), Weekday::Sunday, "02:30", Weekday::Sunday, "03:00");
        assert_eq!(active_until(&night, ts("2026-03-29T01:00:00Z")), None);
        assert_eq!(active_until(&night, ts("2026-03-29T01:30:00Z")), None);
        assert_eq!(next_start(&night, ts("2026-03-28T00:00:00Z")), Some(ts("2026-04-05T00:30:00Z")));
        assert_occurrence(&night, "2026-04-05T00:30:00Z", "2026-04-05T01:00:00Z");
    }

    #[test]
    fn a_weekly_freeze_over_spring_forward_in_sydney() {
        // Saturday 2026-10-03 22:00 AEST (+10:00) to Sunday 04:00 AEDT (+11:00): 5 hours.
        let night = weekly(Some("Australia/Sydney"), Weekday::Saturday, "22:00", Weekday::Sunday, "04:00");
        assert_occurrence(&night, "2026-10-03T12:00:00Z", "2026-10-03T17:00:00Z");
        assert_seconds("2026-10-03T12:00:00Z", "2026-10-03T17:00:00Z", 5 * 3600);
    }

    #[test]
    fn a_weekly_freeze_within_one_day_in_tokyo() {
        // Wednesday 2026-01-07 12:00 to 14:00 at +09:00.
        let lunch = weekly(Some("Asia/Tokyo"), Weekday::Wednesday, "12:00", Weekday::Wednesday, "14:00");
        assert_occurrence(&lunch, "2026-01-07T03:00:00Z", "2026-01-07T05:00:00Z");
    }

    #[test]
    fn a_weekly_freeze_may_last_almost_a_week() {
        // Monday 09:00 to the next Monday 08:00 in Kolkata (+05:30): free one hour a week.
        let freeze = weekly(Some("Asia/Kolkata"), Weekday::Monday, "09:00", Weekday::Monday, "08:00");
        assert_occurrence(&freeze, "2026-01-05T03:30:00Z", "2026-01-12T02:30:00Z");
        assert_eq!(next_start(&freeze, ts("2026-01-08T00:00:00Z")), Some(ts("2026-01-12T03:30:00Z")));
    }

    // --- yearly -----------------------------------------------------------------------

    #[test]
    fn a_yearly_freeze_includes_its_end_day() {
        // 23 November 00:00 until 2 December 00:00.
        let peak = yearly(None, "11-23", "12-01");
        assert_occurrence(&peak, "2026-11-23T00:00:00Z", "2026-12-02T00:00:00Z");
        assert_occurrence(&peak, "2027-11-23T00:00:00Z", "2027-12-02T00:00:00Z");
        assert_eq!(next_start(&peak, ts("2026-06-01T00:00:00Z")), Some(ts("2026-11-23T00:00:00Z")));
        assert_eq!(next_start(&peak, ts("2026-11-25T00:00:00Z")), Some(ts("2027-11-23T00:00:00Z")), "from inside");
    }

    #[test]
    fn a_yearly_freeze_wraps_over_the_year_end() {
        // Berlin in winter is +01:00: 20 December 2026 00:00 until 6 January 2027 00:00.
        let holidays = yearly(Some("Europe/Berlin"), "12-20", "01-05");
        assert_occurrence(&holidays, "2026-12-19T23:00:00Z", "2027-01-05T23:00:00Z");
        // New Year's Day belongs to the occurrence that began the year before.
        assert_eq!(active_until(&holidays, ts("2027-01-01T00:00:00Z")), Some(ts("2027-01-05T23:00:00Z")));
        assert_eq!(next_start(&holidays, ts("2027-01-01T00:00:00Z")), Some(ts("2027-12-19T23:00:00Z")));
    }

    #[test]
    fn a_yearly_freeze_in_sydney_summer() {
        // Sydney in December is AEDT, +11:00.
        let christmas = yearly(Some("Australia/Sydney"), "12-24", "12-26");
        assert_occurrence(&christmas, "2026-12-23T13:00:00Z", "2026-12-26T13:00:00Z");
    }

    #[test]
    fn a_yearly_freeze_over_spring_forward_in_new_york() {
        // 2026-03-08 at 02:00 EST (-05:00) becomes 03:00 EDT (-04:00): 7 and 8 March are
        // 47 hours.
        let freeze = yearly(Some("America/New_York"), "03-07", "03-08");
        assert_occurrence(&freeze, "2026-03-07T05:00:00Z", "2026-03-09T04:00:00Z");
        assert_seconds("2026-03-07T05:00:00Z", "2026-03-09T04:00:00Z", 47 * 3600);
    }

    #[test]
    fn february_28_and_march_1_around_a_leap_day() {
        // Ending on 02-28: in 2028 the 29th is free; in 2027 the freeze ends at 1 March.
        let end_of_february = yearly(None, "02-20", "02-28");
        assert_occurrence(&end_of_february, "2028-02-20T00:00:00Z", "2028-02-29T00:00:00Z");
        assert_occurrence(&end_of_february, "2027-02-20T00:00:00Z", "2027-03-01T00:00:00Z");
        // Starting on 03-01: never on the 29th.
        let march = yearly(Some("Asia/Tokyo"), "03-01", "03-02");
        assert_occurrence(&march, "2028-02-29T15:00:00Z", "2028-03-02T15:00:00Z");
    }

    #[test]
    fn a_one_day_yearly_freeze() {
        // 31 December in Kolkata (+05:30).
        let new_years_eve = yearly(Some("Asia/Kolkata"), "12-31", "12-31");
        assert_occurrence(&new_years_eve, "2026-12-30T18:30:00Z", "2026-12-31T18:30:00Z");
    }

    // --- validation -------------------------------------------------------------------

    #[track_caller]
    fn assert_refused(freeze: &ChangeFreeze, message: &str) {
        assert_eq!(validate(freeze), Err(message.to_string()));
        // Never active, never starting.
        for at in ["2026-01-01T00:00:00Z", "2026-03-31T12:00:00Z", "2026-11-28T12:00:00Z", "2026-12-31T12:00:00Z"] {
            assert_eq!(active_until(freeze, ts(at)), None, "{message} at {at}");
            assert_eq!(next_start(freeze, ts(at)), None, "{message} from {at}");
        }
    }

    #[test]
    fn exactly_one_kind() {
        let mut none = base(None);
        none.name = "nothing".into();
        assert_refused(
            &none,
            "spec.changeFreezes[nothing]: set exactly one of window, monthEnd, weekly and yearly (none is set)",
        );
        let two = ChangeFreeze {
            month_end: Some(MonthEndFreeze { days_before: 2, days_after: 3 }),
            ..yearly(None, "11-23", "12-01")
        };
        assert_refused(&two, "spec.changeFreezes[f]: set exactly one of window, monthEnd, weekly and yearly (monthEnd and yearly are set)");
        let three = ChangeFreeze { window: window(None, "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z").window, ..two };
        assert_refused(&three, "spec.changeFreezes[f]: set exactly one of window, monthEnd, weekly and yearly (window, monthEnd and yearly are set)");
    }

    #[test]
    fn time_zone_must_be_iana() {
        let mut freeze = month_end(Some("Mars/Base"), 2, 3);
        freeze.name = "month-end".into();
        assert_refused(&freeze, "spec.changeFreezes[month-end].timeZone: 'Mars/Base' is not an IANA time zone");
        assert_refused(
            &month_end(Some("Local"), 2, 3),
            "spec.changeFreezes[f].timeZone: 'Local' is not an IANA time zone",
        );
        // Checked on a window too, although a window does not read it.
        assert_refused(
            &window(Some("Mars/Base"), "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z"),
            "spec.changeFreezes[f].timeZone: 'Mars/Base' is not an IANA time zone",
        );
        assert_eq!(validate(&month_end(Some("UTC"), 2, 3)), Ok(()));
    }

    #[test]
    fn window_fields() {
        assert_refused(
            &window(None, "2026-11-26", "2026-12-01T00:00:00Z"),
            "spec.changeFreezes[f].window.start: '2026-11-26' is not an RFC 3339 time with an offset",
        );
        assert_refused(
            &window(None, "2026-11-26T00:00:00Z", "2026-12-01T00:00:00"),
            "spec.changeFreezes[f].window.end: '2026-12-01T00:00:00' is not an RFC 3339 time with an offset",
        );
        assert_refused(
            &window(None, "2026-12-01T00:00:00Z", "2026-12-01T01:00:00+01:00"),
            "spec.changeFreezes[f].window.end: '2026-12-01T01:00:00+01:00' is not after start '2026-12-01T00:00:00Z'",
        );
    }

    #[test]
    fn month_end_fields() {
        assert_refused(&month_end(None, 16, 3), "spec.changeFreezes[f].monthEnd.daysBefore: 16 is out of range 0-15");
        assert_refused(&month_end(None, 2, -1), "spec.changeFreezes[f].monthEnd.daysAfter: -1 is out of range 0-15");
        assert_refused(
            &month_end(None, 0, 0),
            "spec.changeFreezes[f].monthEnd: daysBefore and daysAfter are both 0: the freeze would never hold",
        );
    }

    #[test]
    fn weekly_fields() {
        assert_refused(
            &weekly(None, Weekday::Friday, "24:00", Weekday::Monday, "06:00"),
            "spec.changeFreezes[f].weekly.startTime: '24:00' is not a 24-hour time HH:MM (00:00 to 23:59)",
        );
        assert_refused(
            &weekly(None, Weekday::Friday, "18:00", Weekday::Monday, "6:00"),
            "spec.changeFreezes[f].weekly.endTime: '6:00' is not a 24-hour time HH:MM (00:00 to 23:59)",
        );
        assert_refused(
            &weekly(None, Weekday::Friday, "18:00", Weekday::Monday, "06:60"),
            "spec.changeFreezes[f].weekly.endTime: '06:60' is not a 24-hour time HH:MM (00:00 to 23:59)",
        );
        assert_refused(
            &weekly(None, Weekday::Friday, "18:00", Weekday::Friday, "18:00"),
            "spec.changeFreezes[f].weekly: the freeze starts and ends at the same time of the same day (Friday 18:00)",
        );
    }

    #[test]
    fn yearly_fields() {
        assert_refused(
            &yearly(None, "02-29", "03-01"),
            "spec.changeFreezes[f].yearly.start: 02-29 does not occur every year: use 02-28 or 03-01",
        );
        assert_refused(
            &yearly(None, "02-20", "02-29"),
            "spec.changeFreezes[f].yearly.end: 02-29 does not occur every year: use 02-28 or 03-01",
        );
        assert_refused(
            &yearly(None, "04-31", "05-01"),
            "spec.changeFreezes[f].yearly.start: '04-31' is not a month and day MM-DD (such as 11-23)",
        );
        assert_refused(
            &yearly(None, "11-23", "13-01"),
            "spec.changeFreezes[f].yearly.end: '13-01' is not a month and day MM-DD (such as 11-23)",
        );
        assert_refused(
            &yearly(None, "11-23", "12-1"),
            "spec.changeFreezes[f].yearly.end: '12-1' is not a month and day MM-DD (such as 11-23)",
        );
        assert_refused(
            &yearly(None, "01-01", "12-31"),
            "spec.changeFreezes[f].yearly: 01-01 to 12-31 covers a whole year: a yearly freeze must lift for at least a day",
        );
        assert_refused(
            &yearly(None, "03-01", "02-28"),
            "spec.changeFreezes[f].yearly: 03-01 to 02-28 covers a whole year: a yearly freeze must lift for at least a day",
        );
        // The day before that lifts.
        assert_eq!(validate(&yearly(None, "03-01", "02-27")), Ok(()));
    }

    // --- categories -------------------------------------------------------------------

    #[test]
    fn empty_categories_cover_every_one() {
        let every = month_end(None, 2, 3);
        assert!(WorkflowCategory::ALL.iter().all(|&category| covers(&every, category)));
        let finance = ChangeFreeze { categories: vec![WorkflowCategory::FinanceCompliance], ..every };
        assert!(covers(&finance, WorkflowCategory::FinanceCompliance));
        assert!(!covers(&finance, WorkflowCategory::OrderToCash));
    }
}
