//! Parsing of Kubernetes resource quantities (`250m`, `1.5`, `512Mi`, `2G`) into exact
//! integer amounts, so the planner can compare a request with a tier's maximum without
//! floating point.

use thiserror::Error;

/// A quantity that is not in the Kubernetes format.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("'{text}' is not a Kubernetes quantity ({why})")]
pub struct QuantityError {
    /// The text that was given.
    pub text: String,
    /// What is wrong with it.
    pub why: &'static str,
}

/// A quantity in thousandths of its base unit (millicores for CPU, millibytes for memory).
///
/// The millis are kept exact: every valid quantity with at most three decimals of its
/// base unit is represented without rounding; finer ones are rounded up, as Kubernetes does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Milli(pub i128);

/// Parses a quantity as Kubernetes writes it: a signed decimal number followed by an optional
/// binary suffix (Ki..Ei), decimal suffix (n, u, m, k, M, G, T, P, E) or exponent (`e3`).
///
/// ```
/// use tenantry_planner::quantity::{parse, Milli};
/// assert_eq!(parse("250m"), Ok(Milli(250)));
/// assert_eq!(parse("1.5"), parse("1500m"));
/// assert!(parse("1Gi").unwrap() > parse("1G").unwrap());
/// ```
pub fn parse(text: &str) -> Result<Milli, QuantityError> {
    let err = |why| QuantityError { text: text.to_string(), why };
    let trimmed = text.trim();
    if trimmed.is_empty() || trimmed.len() > 64 {
        return Err(err("empty or longer than 64 characters"));
    }
    let (negative, unsigned) = match trimmed.as_bytes()[0] {
        b'-' => (true, &trimmed[1..]),
        b'+' => (false, &trimmed[1..]),
        _ => (false, trimmed),
    };
    let number_end = unsigned.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(unsigned.len());
    let (number, suffix) = unsigned.split_at(number_end);
    let (whole, fraction) = match number.split_once('.') {
        Some((whole, fraction)) => (whole, fraction),
        None => (number, ""),
    };
    if whole.is_empty() && fraction.is_empty() {
        return Err(err("no digits"));
    }
    if fraction.contains('.') {
        return Err(err("more than one decimal point"));
    }
    // Value = digits * 10^(-fraction_len) * multiplier, computed as a rational then scaled to millis.
    let digits: String = format!("{whole}{fraction}");
    if digits.len() > 30 {
        return Err(err("too many digits"));
    }
    let mantissa: i128 = digits.parse().map_err(|_| err("not a number"))?;
    let (numerator, denominator): (i128, i128) = match suffix {
        "" => (1, 1),
        "n" => (1, 1_000_000_000),
        "u" => (1, 1_000_000),
        "m" => (1, 1_000),
        "k" => (1_000, 1),
        "M" => (1_000_000, 1),
        "G" => (1_000_000_000, 1),
        "T" => (1_000_000_000_000, 1),
        "P" => (1_000_000_000_000_000, 1),
        "E" => (1_000_000_000_000_000_000, 1),
        "Ki" => (1 << 10, 1),
        "Mi" => (1 << 20, 1),
        "Gi" => (1 << 30, 1),
        "Ti" => (1 << 40, 1),
        "Pi" => (1 << 50, 1),
        "Ei" => (1 << 60, 1),
        exponent if exponent.starts_with(['e', 'E']) => {
            let power: i32 = exponent[1..].parse().map_err(|_| err("unknown suffix"))?;
            if !(-18..=18).contains(&power) {
                return Err(err("exponent out of range"));
            }
            if power >= 0 {
                (10i128.pow(power as u32), 1)
            } else {
                (1, 10i128.pow(power.unsigned_abs()))
            }
        }
        _ => return Err(err("unknown suffix")),
    };
    let fraction_scale = 10i128.pow(fraction.len() as u32);
    let scaled = mantissa.checked_mul(numerator).and_then(|v| v.checked_mul(1_000)).ok_or_else(|| err("too large"))?;
    let divisor = fraction_scale.checked_mul(denominator).ok_or_else(|| err("too large"))?;
    // Round up, as the API server does for quantities finer than it can hold.
    let millis = (scaled + divisor - 1) / divisor;
    Ok(Milli(if negative { -millis } else { millis }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_forms_kubernetes_accepts() {
        assert_eq!(parse("250m"), Ok(Milli(250)));
        assert_eq!(parse("1"), Ok(Milli(1_000)));
        assert_eq!(parse("1.5"), Ok(Milli(1_500)));
        assert_eq!(parse("512Mi"), Ok(Milli(512 * 1024 * 1024 * 1000)));
        assert_eq!(parse("2G"), Ok(Milli(2_000_000_000_000)));
        assert_eq!(parse("1e3"), Ok(Milli(1_000_000)));
        assert_eq!(parse(".5"), Ok(Milli(500)));
        assert_eq!(parse("1n"), Ok(Milli(1)), "finer than a milli rounds up");
    }

    #[test]
    fn compares_across_suffixes() {
        assert!(parse("1Gi").unwrap() > parse("1G").unwrap());
        assert!(parse("1500m").unwrap() > parse("1").unwrap());
        assert_eq!(parse("1024Ki"), parse("1Mi"));
    }

    #[test]
    fn rejects_what_the_api_server_rejects() {
        for bad in ["", "abc", "1.2.3", "5 GB", "1Zi", "--1", "e3", "1e99"] {
            assert!(parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }
}
