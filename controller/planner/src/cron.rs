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
