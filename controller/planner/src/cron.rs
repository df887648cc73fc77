//! Validation of the five-field cron expressions a Kubernetes CronJob accepts, so a bad
//! schedule becomes a condition on the workflow instead of a CronJob the API server rejects.

/// Checks a schedule: a macro (`@daily`) or five fields (minute, hour, day of month, month,
/// day of week), each a list of `*`, values, ranges and steps. Returns what is wrong.
///
/// ```
/// use tenantry_planner::cron::validate;
/// assert!(validate("*/15 6-18 * * MON-FRI").is_ok());
/// assert_eq!(validate("0 24 * * *").unwrap_err(), "hour field '24': 24 is out of range 0-23");
/// ```
pub fn validate(expression: &str) -> Result<(), String> {
    let expression = expression.trim();
    if let Some(name) = expression.strip_prefix('@') {
        return match name {
            "yearly" | "annually" | "monthly" | "weekly" | "daily" | "midnight" | "hourly" => Ok(()),
            _ => Err(format!("unknown macro '@{name}'")),
        };
    }
    if expression.contains("TZ=") {
        return Err("a time zone goes in trigger.schedule.timeZone, not in the cron expression".into());
    }
    let fields: Vec<&str> = expression.split_whitespace().collect();
    if fields.len() != 5 {
        return Err(format!("expected 5 fields (minute hour day-of-month month day-of-week), found {}", fields.len()));
    }
    const MONTHS: [&str; 12] = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
    const DAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
    let specs: [(&str, u32, u32, &[&str], u32); 5] = [
        ("minute", 0, 59, &[], 0),
        ("hour", 0, 23, &[], 0),
        ("day of month", 1, 31, &[], 0),
        ("month", 1, 12, &MONTHS, 1),
        ("day of week", 0, 6, &DAYS, 0),
    ];
    for (field, (name, min, max, names, name_base)) in fields.iter().zip(specs) {
        validate_field(field, min, max, names, name_base).map_err(|why| format!("{name} field '{field}': {why}"))?;
    }
    Ok(())
}

fn validate_field(field: &str, min: u32, max: u32, names: &[&str], name_base: u32) -> Result<(), String> {
    for part in field.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((range, step)) => (range, Some(step)),
            None => (part, None),
        };
        if let Some(step) = step {
            let step: u32 = step.parse().map_err(|_| format!("step '{step}' is not a number"))?;
            if step == 0 || step > max {
                return Err(format!("step {step} is out of range 1-{max}"));
            }
        }
        if range == "*" || range == "?" {
            continue;
        }
        let (low, high) = match range.split_once('-') {
            Some((low, high)) => (value(low, min, max, names, name_base)?, value(high, min, max, names, name_base)?),
            None => {
                let single = value(range, min, max, names, name_base)?;
                (single, single)
            }
        };
        if low > high {
            return Err(format!("range {low}-{high} runs backwards"));
        }
    }
    Ok(())
}

fn value(text: &str, min: u32, max: u32, names: &[&str], name_base: u32) -> Result<u32, String> {
    let lower = text.to_ascii_lowercase();
    if let Some(index) = names.iter().position(|name| *name == lower) {
        return Ok(index as u32 + name_base);
    }
    let number: u32 = text.parse().map_err(|_| format!("'{text}' is not a number"))?;
    // Kubernetes accepts 7 as Sunday in the day-of-week field.
    let max = if names.len() == 7 { max + 1 } else { max };
    if number < min || number > max {
        return Err(format!("{number} is out of range {min}-{max}"));
    }
    Ok(number)
}

/// The instants in `[from, to)` at which a schedule fires in time zone `zone` (IANA name;
/// `None` is UTC), oldest first, as a Kubernetes CronJob would schedule them.
///
/// Day of month and day of week combine as in cron: when both are restricted, a day that
/// matches either fires; when one is `*`, the other decides. Times are wall-clock times in
/// the zone: a time skipped by a daylight-saving jump fires at the same offset after the
/// jump (02:30 on a spring-forward night fires at 03:30), and a time that occurs twice
/// (the hour repeated in autumn) fires once, the first time.
///
/// ```
/// use tenantry_planner::cron::occurrences;
/// let from = "2026-11-01T00:00:00Z".parse().unwrap();
/// let to = "2026-11-02T00:00:00Z".parse().unwrap();
/// assert_eq!(occurrences("0 */6 * * *", None, from, to).unwrap().len(), 4);
/// ```
pub fn occurrences(
    expression: &str,
    zone: Option<&str>,
    from: jiff::Timestamp,
    to: jiff::Timestamp,
) -> Result<Vec<jiff::Timestamp>, String> {
    validate(expression)?;
    let schedule = Schedule::parse(expression)?;
    let zone = match zone {
        Some(name) => jiff::tz::TimeZone::get(name).map_err(|e| format!("time zone {name}: {e}"))?,
        None => jiff::tz::TimeZone::UTC,
    };
    if from >= to {
        return Ok(Vec::new());
    }
    let one_day = jiff::ToSpan::days(1);
    let first = from.to_zoned(zone.clone()).date().checked_sub(one_day).map_err(|e| e.to_string())?;
    let last = to.to_zoned(zone.clone()).date().checked_add(one_day).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    let mut day = first;
    while day <= last {
        if schedule.fires_on(day) {
            for hour in (0..24u32).filter(|h| schedule.hours & (1 << h) != 0) {
                for minute in (0..60u32).filter(|m| schedule.minutes & (1u64 << m) != 0) {
                    let time = jiff::civil::time(hour as i8, minute as i8, 0, 0);
                    let instant =
                        zone.to_ambiguous_timestamp(day.to_datetime(time)).compatible().map_err(|e| e.to_string())?;
                    if from <= instant && instant < to {
                        out.push(instant);
                    }
                }
            }
        }
        day = day.checked_add(one_day).map_err(|e| e.to_string())?;
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// A parsed five-field schedule: one bit per allowed value.
struct Schedule {
    minutes: u64,
    hours: u32,
    days_of_month: u32,
    months: u32,
    days_of_week: u32,
    /// Whether the day-of-month or the day-of-week field is `*` (or `?`): then both must match.
    day_star: bool,
}

impl Schedule {
    fn parse(expression: &str) -> Result<Schedule, String> {
        let expression = expression.trim();
        let expanded = match expression {
            "@yearly" | "@annually" => "0 0 1 1 *",
            "@monthly" => "0 0 1 * *",
            "@weekly" => "0 0 * * 0",
            "@daily" | "@midnight" => "0 0 * * *",
            "@hourly" => "0 * * * *",
            other => other,
        };
        let fields: Vec<&str> = expanded.split_whitespace().collect();
        if fields.len() != 5 {
            return Err(format!("expected 5 fields, found {}", fields.len()));
        }
        const MONTHS: [&str; 12] = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
        const DAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
        let star = |field: &str| field.starts_with('*') || field.starts_with('?');
        let mut days_of_week = bits(fields[4], 0, 6, &DAYS, 0)?;
        // 7 is Sunday too.
        if days_of_week & (1 << 7) != 0 {
            days_of_week |= 1;
        }
        Ok(Schedule {
            minutes: bits(fields[0], 0, 59, &[], 0)?,
            hours: bits(fields[1], 0, 23, &[], 0)? as u32,
            days_of_month: bits(fields[2], 1, 31, &[], 0)? as u32,
            months: bits(fields[3], 1, 12, &MONTHS, 1)? as u32,
            days_of_week: days_of_week as u32,
            day_star: star(fields[2]) || star(fields[4]),
        })
    }

    fn fires_on(&self, day: jiff::civil::Date) -> bool {
        if self.months & (1 << day.month()) == 0 {
            return false;
        }
        let dom = self.days_of_month & (1 << day.day()) != 0;
        let dow = self.days_of_week & (1 << day.weekday().to_sunday_zero_offset()) != 0;
        if self.day_star {
            dom && dow
        } else {
            dom || dow
        }
    }
}

/// The values a field allows, one bit each.
fn bits(field: &str, min: u32, max: u32, names: &[&str], name_base: u32) -> Result<u64, String> {
    let mut set = 0u64;
    for part in field.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((range, step)) => (range, step.parse::<u32>().map_err(|_| format!("step '{step}'"))?.max(1)),
            None => (part, 1),
        };
        let (low, high) = if range == "*" || range == "?" {
            (min, max)
        } else {
            match range.split_once('-') {
                Some((low, high)) => {
                    (value(low, min, max, names, name_base)?, value(high, min, max, names, name_base)?)
                }
                // `5/15` runs from 5 to the end of the range.
                None if step > 1 || part.contains('/') => (value(range, min, max, names, name_base)?, max),
                None => {
                    let single = value(range, min, max, names, name_base)?;
                    (single, single)
                }
            }
        };
        let mut v = low;
        while v <= high {
            set |= 1u64 << v;
            v += step;
        }
    }
    Ok(set)
}

#[cfg(test)]
mod tests {
    use super::validate;

    #[test]
    fn accepts_what_cronjobs_accept() {
        for ok in [
            "*/15 * * * *",
            "0 6 * * 1-5",
            "30 2 1 * *",
            "0 0 * JAN,jul mon-fri",
            "@daily",
            "0 9 * * 7",
            "5,35 8-18/2 * * *",
        ] {
            assert_eq!(validate(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn names_the_field_at_fault() {
        assert!(validate("61 * * * *").unwrap_err().contains("minute"));
        assert!(validate("0 24 * * *").unwrap_err().contains("hour"));
        assert!(validate("0 0 0 * *").unwrap_err().contains("day of month"));
        assert!(validate("0 0 * 13 *").unwrap_err().contains("month"));
        assert!(validate("* * * *").unwrap_err().contains("5 fields"));
        assert!(validate("@sometimes").is_err());
        assert!(validate("*/0 * * * *").is_err());
        assert!(validate("CRON_TZ=UTC 0 * * * *").is_err());
    }
}

#[cfg(test)]
mod occurrence_tests {
    use super::occurrences;
    use jiff::Timestamp;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn count(expression: &str, zone: Option<&str>, from: &str, to: &str) -> usize {
        occurrences(expression, zone, at(from), at(to)).unwrap().len()
    }

    #[test]
    fn counts_the_runs_of_a_month() {
        // November 2026 has 30 days, 4 Mondays... and 21 weekdays.
        let (from, to) = ("2026-11-01T00:00:00Z", "2026-12-01T00:00:00Z");
        assert_eq!(count("*/10 * * * *", None, from, to), 30 * 144);
        assert_eq!(count("0 2 * * *", None, from, to), 30);
        assert_eq!(count("0 9 * * MON-FRI", None, from, to), 21);
        assert_eq!(count("@monthly", None, from, to), 1);
        assert_eq!(count("30 2 1 * *", None, "2026-11-01T02:30:00Z", to), 1, "from is inclusive");
        assert_eq!(count("30 2 1 * *", None, "2026-11-01T02:30:01Z", to), 0);
        // Both day fields restricted: either matches (the 1st, and every Sunday: 5 of them).
        assert_eq!(count("0 0 1 * 0", None, from, to), 1 + 5 - 1, "the 1st is a Sunday");
        assert_eq!(count("5/20 * * * *", None, "2026-11-01T00:00:00Z", "2026-11-01T01:00:00Z"), 3);
    }

    #[test]
    fn follows_daylight_saving_time_in_the_schedules_zone() {
        // Europe/Berlin springs forward on 2026-03-29 (02:00 → 03:00) and falls back on
        // 2026-10-25 (03:00 → 02:00).
        let zone = Some("Europe/Berlin");
        // 02:30 does not exist on the 29th: it fires at 03:30, once.
        let spring = occurrences("30 2 * * *", zone, at("2026-03-28T00:00:00Z"), at("2026-03-31T00:00:00Z")).unwrap();
        let texts: Vec<String> = spring.iter().map(|t| t.to_string()).collect();
        assert_eq!(texts, ["2026-03-28T01:30:00Z", "2026-03-29T01:30:00Z", "2026-03-30T00:30:00Z"]);
        // Hourly on the day with 23 hours and the one with 25.
        assert_eq!(count("0 * * * *", zone, "2026-03-28T23:00:00Z", "2026-03-29T22:00:00Z"), 23);
        // 02:30 happens twice on 25 October: it fires once.
        assert_eq!(count("30 2 * * *", zone, "2026-10-24T22:00:00Z", "2026-10-25T23:00:00Z"), 1);
        assert_eq!(count("0 * * * *", zone, "2026-10-24T22:00:00Z", "2026-10-25T23:00:00Z"), 24, "02:00 once");
        // A UTC month holds the runs of its UTC instants: midnight in Tokyo is 15:00 UTC the day
        // before, so November (UTC) holds Tokyo's 1 December run and not its 1 November one.
        let tokyo =
            occurrences("0 0 1 * *", Some("Asia/Tokyo"), at("2026-11-01T00:00:00Z"), at("2026-12-01T00:00:00Z"));
        assert_eq!(tokyo.unwrap(), [at("2026-11-30T15:00:00Z")]);
        assert_eq!(count("0 0 1 * *", Some("Asia/Tokyo"), "2026-10-31T15:00:00Z", "2026-11-01T00:00:00Z"), 1);
        assert!(occurrences("0 * * * *", Some("Mars/Olympus"), at("2026-01-01T00:00:00Z"), at("2026-01-02T00:00:00Z"))
            .is_err());
    }
}
