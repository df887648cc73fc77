//! Billing periods (calendar months in UTC) and spans of time measured by the second.

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
use std::fmt;
use std::str::FromStr;

/// One calendar month in UTC: the period a BillingRecord covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Period {
    first_day: Date,
}

/// A period that is not `YYYY-MM`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a month: write it as YYYY-MM, for example 2026-11")]
pub struct BadPeriod(pub String);

impl Period {
    /// The month of `year` and `month` (1 to 12), if both are valid.
    pub fn new(year: i16, month: i8) -> Option<Self> {
        Date::new(year, month, 1).ok().map(|first_day| Period { first_day })
    }

    /// The month `instant` falls in, in UTC.
    pub fn containing(instant: Timestamp) -> Self {
        let date = instant.to_zoned(TimeZone::UTC).date();
        Period { first_day: date.first_of_month() }
    }

    /// The first instant of the month.
    pub fn start(&self) -> Timestamp {
        self.first_day.to_zoned(TimeZone::UTC).map(|z| z.timestamp()).unwrap_or(Timestamp::MIN)
    }

    /// The first instant of the next month: the period is `[start, end)`.
    pub fn end(&self) -> Timestamp {
        self.next().start()
    }

    /// The month after this one.
    pub fn next(&self) -> Self {
        Period { first_day: self.first_day.checked_add(1.month()).unwrap_or(self.first_day) }
    }

    /// The month before this one.
    pub fn previous(&self) -> Self {
        Period { first_day: self.first_day.checked_sub(1.month()).unwrap_or(self.first_day) }
    }

    /// The whole month as a span.
    pub fn span(&self) -> Span {
        Span::new(self.start(), self.end())
    }

    /// Seconds in the month: 2,419,200 for a 28-day February, 2,678,400 for a 31-day month.
    pub fn seconds(&self) -> i64 {
        self.span().seconds()
    }

    /// The year.
    pub fn year(&self) -> i16 {
        self.first_day.year()
    }

    /// The month, 1 to 12.
    pub fn month(&self) -> i8 {
        self.first_day.month()
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.first_day.year(), self.first_day.month())
    }
}

impl FromStr for Period {
    type Err = BadPeriod;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || BadPeriod(text.to_string());
        let (year, month) = text.split_once('-').ok_or_else(bad)?;
        if year.len() != 4 || month.len() != 2 {
            return Err(bad());
        }
        let year: i16 = year.parse().map_err(|_| bad())?;
        let month: i8 = month.parse().map_err(|_| bad())?;
        Period::new(year, month).ok_or_else(bad)
    }
}

/// A half-open stretch of time `[start, end)`, measured in whole seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Span {
    /// First instant inside.
    pub start: Timestamp,
    /// First instant after.
    pub end: Timestamp,
}

impl Span {
    /// The span from `start` to `end`; empty when `end` is not after `start`.
    pub fn new(start: Timestamp, end: Timestamp) -> Self {
        Span { start, end: end.max(start) }
    }

    /// Whole seconds inside the span (sub-second parts are dropped at both ends, so two
    /// adjacent spans never count a second twice).
    pub fn seconds(&self) -> i64 {
        (self.end.as_second() - self.start.as_second()).max(0)
    }

    /// Whether no second lies inside.
    pub fn is_empty(&self) -> bool {
        self.seconds() == 0
    }

    /// The part of this span inside `other`.
    pub fn intersect(&self, other: &Span) -> Span {
        Span::new(self.start.max(other.start), self.end.min(other.end))
    }

    /// `spans` sorted, empty ones dropped and overlapping or adjoining ones merged, so no
    /// second counts twice.
    pub fn union(spans: &[Span]) -> Vec<Span> {
        let mut sorted: Vec<Span> = spans.iter().copied().filter(|s| !s.is_empty()).collect();
        sorted.sort();
        let mut out: Vec<Span> = Vec::with_capacity(sorted.len());
        for span in sorted {
            match out.last_mut() {
                Some(last) if span.start <= last.end => last.end = last.end.max(span.end),
                _ => out.push(span),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn months_have_their_calendar_length_in_seconds() {
        let day = 86_400;
        assert_eq!("2026-01".parse::<Period>().unwrap().seconds(), 31 * day);
        assert_eq!("2026-02".parse::<Period>().unwrap().seconds(), 28 * day);
        assert_eq!("2028-02".parse::<Period>().unwrap().seconds(), 29 * day, "leap year");
        assert_eq!("2100-02".parse::<Period>().unwrap().seconds(), 28 * day, "century, not a leap year");
        assert_eq!("2000-02".parse::<Period>().unwrap().seconds(), 29 * day, "400th year is a leap year");
        assert_eq!("2026-04".parse::<Period>().unwrap().seconds(), 30 * day);
        assert_eq!("2026-12".parse::<Period>().unwrap().end(), at("2027-01-01T00:00:00Z"));
    }

    #[test]
    fn an_instant_on_a_boundary_in_another_offset_belongs_to_the_utc_month() {
        // Midnight of 1 December in Berlin is still 30 November in UTC.
        assert_eq!(Period::containing(at("2026-12-01T00:00:00+01:00")).to_string(), "2026-11");
        // Midnight of 1 December in UTC is December, whatever offset wrote it.
        assert_eq!(Period::containing(at("2026-11-30T19:00:00-05:00")).to_string(), "2026-12");
        assert_eq!(Period::containing(at("2026-11-30T23:59:59Z")).to_string(), "2026-11");
    }

    #[test]
    fn periods_parse_only_as_yyyy_mm() {
        assert_eq!("2026-11".parse::<Period>().unwrap().to_string(), "2026-11");
        for bad in ["2026-13", "2026-00", "2026-1", "26-11", "2026/11", "2026-11-01", ""] {
            assert!(bad.parse::<Period>().is_err(), "{bad}");
        }
        let period: Period = "2026-01".parse().unwrap();
        assert_eq!(period.previous().to_string(), "2025-12");
        assert_eq!(period.next().to_string(), "2026-02");
    }

    #[test]
    fn spans_intersect_and_never_go_negative() {
        let month = "2026-11".parse::<Period>().unwrap().span();
        let straddling = Span::new(at("2026-10-31T12:00:00Z"), at("2026-11-01T12:00:00Z"));
        assert_eq!(straddling.intersect(&month).seconds(), 12 * 3600);
        assert!(Span::new(at("2026-11-02T00:00:00Z"), at("2026-11-01T00:00:00Z")).is_empty());
        assert!(Span::new(at("2026-12-02T00:00:00Z"), at("2026-12-03T00:00:00Z")).intersect(&month).is_empty());
    }
}
