//! Money in integer minor units: currency exponents, exact proration and the one rounding
//! rule every line of a bill goes through.
//!
//! Amounts are `i64` minor units of the partner's currency (cents for EUR, yen for JPY,
//! fils for KWD). Intermediate products are `i128`, so `price × seconds` never overflows for
//! any price an `i64` can hold and any span shorter than a few thousand years.

use std::fmt;

/// An ISO 4217 currency and the number of decimals its minor unit has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Currency {
    code: String,
    exponent: u32,
}

/// Currencies whose minor unit is not the hundredth. Every other ISO 4217 code has two
/// decimals. The list follows the ISO 4217 amendment tables for the codes in circulation.
const EXPONENT_EXCEPTIONS: &[(&str, u32)] = &[
    ("BHD", 3),
    ("BIF", 0),
    ("CLF", 4),
    ("CLP", 0),
    ("DJF", 0),
    ("GNF", 0),
    ("IQD", 3),
    ("ISK", 0),
    ("JOD", 3),
    ("JPY", 0),
    ("KMF", 0),
    ("KRW", 0),
    ("KWD", 3),
    ("LYD", 3),
    ("OMR", 3),
    ("PYG", 0),
    ("RWF", 0),
    ("TND", 3),
    ("UGX", 0),
    ("UYI", 0),
    ("UYW", 4),
    ("VND", 0),
    ("VUV", 0),
    ("XAF", 0),
    ("XOF", 0),
    ("XPF", 0),
];

impl Currency {
    /// The currency with ISO 4217 code `code` (three upper-case letters, as the Partner
    /// schema enforces). Codes outside the exception table have two decimals.
    pub fn new(code: &str) -> Self {
        let exponent = EXPONENT_EXCEPTIONS.iter().find(|(c, _)| *c == code).map(|(_, e)| *e).unwrap_or(2);
        Currency { code: code.to_string(), exponent }
    }

    /// The ISO 4217 code.
    pub fn code(&self) -> &str {
        &self.code
    }

    /// Decimals of the minor unit: 0 for JPY, 2 for EUR, 3 for KWD.
    pub fn exponent(&self) -> u32 {
        self.exponent
    }

    /// `amount` minor units written in major units with the currency's decimals
    /// (`-1234` EUR is `-12.34`, `1234` JPY is `1234`, `1234` KWD is `1.234`).
    pub fn format(&self, amount: i64) -> String {
        let sign = if amount < 0 { "-" } else { "" };
        let magnitude = amount.unsigned_abs();
        if self.exponent == 0 {
            return format!("{sign}{magnitude}");
        }
        let scale = 10u64.pow(self.exponent);
        format!("{sign}{}.{:0width$}", magnitude / scale, magnitude % scale, width = self.exponent as usize)
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.code)
    }
}

/// An exact amount of minor units as a fraction, kept unrounded until a line is finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exact {
    numerator: i128,
    denominator: i128,
}

impl Exact {
    /// A whole number of minor units.
    pub fn whole(amount: i64) -> Self {
        Exact { numerator: i128::from(amount), denominator: 1 }
    }

    /// `numerator / denominator` minor units. A zero denominator is zero.
    pub fn ratio(numerator: i128, denominator: i128) -> Self {
        match denominator {
            0 => Exact { numerator: 0, denominator: 1 },
            d if d < 0 => Exact { numerator: -numerator, denominator: -d },
            d => Exact { numerator, denominator: d },
        }
    }

    /// `amount × part / whole`: a monthly price for `part` of the `whole` seconds of a month,
    /// or a price per 1,000 for `part` units with `whole` = 1,000. A zero `whole` is zero.
    pub fn prorated(amount: i64, part: i64, whole: i64) -> Self {
        Exact::ratio(i128::from(amount) * i128::from(part), i128::from(whole))
    }

    /// This amount times `percent` / 100, still exact.
    pub fn percent(self, percent: i64) -> Self {
        Exact { numerator: self.numerator * i128::from(percent), denominator: self.denominator * 100 }
    }

    /// The sum of two exact amounts.
    pub fn plus(self, other: Exact) -> Self {
        if self.denominator == other.denominator {
            return Exact { numerator: self.numerator + other.numerator, denominator: self.denominator };
        }
        Exact {
            numerator: self.numerator * other.denominator + other.numerator * self.denominator,
            denominator: self.denominator * other.denominator,
        }
    }

    /// The negated amount.
    pub fn negated(self) -> Self {
        Exact { numerator: -self.numerator, denominator: self.denominator }
    }

    /// Rounded to whole minor units, half away from zero: the one rounding every line gets.
    /// Saturates at the bounds of `i64`, far beyond any real bill.
    pub fn round(self) -> i64 {
        let (n, d) = (self.numerator, self.denominator);
        let quotient = n / d;
        let remainder = (n % d).abs();
        let rounded = if remainder * 2 >= d { quotient + n.signum() } else { quotient };
        i64::try_from(rounded).unwrap_or(if rounded < 0 { i64::MIN } else { i64::MAX })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exponents_follow_iso_4217() {
        assert_eq!(Currency::new("JPY").exponent(), 0);
        assert_eq!(Currency::new("EUR").exponent(), 2);
        assert_eq!(Currency::new("USD").exponent(), 2);
        assert_eq!(Currency::new("KWD").exponent(), 3);
        assert_eq!(Currency::new("BHD").exponent(), 3);
    }

    #[test]
    fn amounts_are_written_with_the_currency_decimals() {
        assert_eq!(Currency::new("EUR").format(123_456), "1234.56");
        assert_eq!(Currency::new("EUR").format(-5), "-0.05");
        assert_eq!(Currency::new("JPY").format(1500), "1500");
        assert_eq!(Currency::new("KWD").format(1_234), "1.234");
        assert_eq!(Currency::new("KWD").format(-1_000_001), "-1000.001");
        assert_eq!(Currency::new("EUR").format(i64::MIN), "-92233720368547758.08");
    }

    #[test]
    fn halves_round_away_from_zero_and_the_rest_to_the_nearest() {
        assert_eq!(Exact::prorated(1, 1, 2).round(), 1);
        assert_eq!(Exact::prorated(-1, 1, 2).round(), -1);
        assert_eq!(Exact::prorated(3, 1, 2).round(), 2);
        assert_eq!(Exact::prorated(-3, 1, 2).round(), -2);
        assert_eq!(Exact::prorated(10, 1, 3).round(), 3);
        assert_eq!(Exact::prorated(20, 1, 3).round(), 7);
        assert_eq!(Exact::prorated(-20, 1, 3).round(), -7);
        assert_eq!(Exact::prorated(999, 0, 3).round(), 0);
        assert_eq!(Exact::prorated(999, 5, 0).round(), 0);
        assert_eq!(Exact::prorated(7, 3, -2).round(), -11, "-10.5 rounds away from zero");
    }

    #[test]
    fn a_full_month_is_the_monthly_price_to_the_minor_unit() {
        let month = 30 * 86_400;
        assert_eq!(Exact::prorated(149_000, month, month).round(), 149_000);
        assert_eq!(Exact::prorated(149_000, month / 2, month).round(), 74_500);
        // One second of a 31-day month of a 1,490.00 fee: 0.000556... cents, rounds to 0.
        assert_eq!(Exact::prorated(149_000, 1, 31 * 86_400).round(), 0);
    }

    #[test]
    fn percentages_and_sums_stay_exact_until_rounded() {
        // A third of 100 three times is exactly 100, though each third alone rounds to 33.
        let third = Exact::prorated(100, 1, 3);
        assert_eq!(third.plus(third).plus(third).round(), 100);
        assert_eq!(Exact::whole(12_345).percent(15).round(), 1852, "1851.75 rounds up");
        assert_eq!(Exact::whole(12_345).percent(15).negated().round(), -1852);
        assert_eq!(Exact::prorated(1, 1, 2).plus(Exact::prorated(1, 1, 3)).round(), 1, "5/6");
    }

    #[test]
    fn large_prices_over_long_spans_do_not_overflow() {
        let amount = Exact::prorated(i64::MAX / 2, 31 * 86_400, 31 * 86_400).round();
        assert_eq!(amount, i64::MAX / 2);
        assert_eq!(Exact::prorated(i64::MAX, 2, 1).round(), i64::MAX, "saturates");
    }
}
