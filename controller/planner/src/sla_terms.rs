//! A tier's service-level terms as numbers: the availability target and the credit bands,
//! parsed exactly from their decimal strings into pcm (thousandths of a percent, 100,000 =
//! 100 %), never through floating point.

use tenantry_api::tier::TierSla;

/// 100 % in pcm.
pub const FULL_PCM: i64 = 100_000;

/// A percentage with up to three decimals (`99.95`) in pcm (`99_950`); `None` when it is not
/// one, or above 100.
///
/// ```
/// use tenantry_planner::sla_terms::parse_pcm;
/// assert_eq!(parse_pcm("99.95"), Some(99_950));
/// assert_eq!(parse_pcm("100"), Some(100_000));
/// assert_eq!(parse_pcm("99.9999"), None);
/// ```
pub fn parse_pcm(text: &str) -> Option<i64> {
    let (whole, fraction) = match text.split_once('.') {
        Some((whole, fraction)) => (whole, fraction),
        None => (text, ""),
    };
    let digits = |s: &str| !s.is_empty() && s.len() <= 3 && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || !(fraction.is_empty() || digits(fraction)) || (text.contains('.') && fraction.is_empty()) {
        return None;
    }
    let whole: i64 = whole.parse().ok()?;
    let fraction: i64 = format!("{fraction:0<3}").parse().ok()?;
    let pcm = whole * 1000 + fraction;
    (pcm <= FULL_PCM).then_some(pcm)
}

/// `pcm` written as a percentage with three decimals (`99.950`).
pub fn format_pcm(pcm: i64) -> String {
    format!("{}.{:03}", pcm / 1000, pcm % 1000)
}

/// A tier's terms as numbers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SlaTerms {
    /// The availability target, in pcm.
    pub target_pcm: i64,
    /// Credit bands, highest threshold first: (below, in pcm; credit, in whole percent).
    pub credit_bands: Vec<(i64, i64)>,
}

/// The terms of `sla`, or what is wrong with them, naming the field.
pub fn terms(sla: &TierSla) -> Result<SlaTerms, String> {
    let target_pcm = parse_pcm(&sla.availability_target).ok_or_else(|| {
        format!("spec.sla.availabilityTarget: '{}' is not a percentage with up to 3 decimals", sla.availability_target)
    })?;
    let mut credit_bands: Vec<(i64, i64)> = Vec::with_capacity(sla.credit_bands.len());
    for (index, band) in sla.credit_bands.iter().enumerate() {
        let below = parse_pcm(&band.below_percent).ok_or_else(|| {
            format!(
                "spec.sla.creditBands[{index}].belowPercent: '{}' is not a percentage with up to 3 decimals",
                band.below_percent
            )
        })?;
        if !(1..=100).contains(&band.credit_percent) {
            return Err(format!("spec.sla.creditBands[{index}].creditPercent: {} is not 1-100", band.credit_percent));
        }
        if let Some((previous, _)) = credit_bands.last() {
            if below >= *previous {
                return Err(format!(
                    "spec.sla.creditBands[{index}].belowPercent: {} must be below the band before it ({}): bands run from the highest threshold down",
                    band.below_percent,
                    format_pcm(*previous)
                ));
            }
        }
        credit_bands.push((below, i64::from(band.credit_percent)));
    }
    Ok(SlaTerms { target_pcm, credit_bands })
}

/// The credit of the worst band `attainment` (achieved ÷ expected) ends below, in whole
/// percent, with that band's threshold; compared exactly.
pub fn credit_for(terms: &SlaTerms, achieved: i64, expected: i64) -> Option<(i64, i64)> {
    terms
        .credit_bands
        .iter()
        .rev()
        .find(|(below, _)| below_pcm(achieved, expected, *below))
        .map(|(below, credit)| (*credit, *below))
}

/// Whether achieved ÷ expected is strictly below `pcm`, exactly.
pub fn below_pcm(achieved: i64, expected: i64, pcm: i64) -> bool {
    expected > 0 && i128::from(achieved) * i128::from(FULL_PCM) < i128::from(pcm) * i128::from(expected)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tenantry_api::tier::CreditBand;

    fn sla(target: &str, bands: &[(&str, i32)]) -> TierSla {
        TierSla {
            availability_target: target.into(),
            exception_response_minutes: 60,
            reporting_cadence: None,
            credit_bands: bands
                .iter()
                .map(|(below, credit)| CreditBand { below_percent: (*below).into(), credit_percent: *credit })
                .collect(),
        }
    }

    #[test]
    fn percentages_parse_exactly() {
        assert_eq!(parse_pcm("99.5"), Some(99_500));
        assert_eq!(parse_pcm("99.999"), Some(99_999));
        assert_eq!(parse_pcm("0"), Some(0));
        assert_eq!(parse_pcm("7.05"), Some(7_050));
        for bad in ["", ".5", "99.", "101", "abc", "-1", "99.5.1", "1000"] {
            assert_eq!(parse_pcm(bad), None, "{bad}");
        }
        assert_eq!(format_pcm(99_050), "99.050");
    }

    #[test]
    fn bands_run_down_and_the_worst_reached_applies() {
        let terms = terms(&sla("99.9", &[("99.5", 10), ("99", 25)])).unwrap();
        assert_eq!(terms.target_pcm, 99_900);
        // 99.5 % exactly is not below 99.5.
        assert_eq!(credit_for(&terms, 995, 1000), None);
        assert_eq!(credit_for(&terms, 9_949, 10_000), Some((10, 99_500)));
        assert_eq!(credit_for(&terms, 989, 1000), Some((25, 99_000)));
        let unordered = super::terms(&sla("99.9", &[("99", 10), ("99.5", 25)])).unwrap_err();
        assert!(unordered.starts_with("spec.sla.creditBands[1].belowPercent"), "{unordered}");
        let twice = super::terms(&sla("99.9", &[("99.5", 10), ("99.500", 25)])).unwrap_err();
        assert!(twice.contains("creditBands[1]"), "{twice}");
        assert!(super::terms(&sla("99.9", &[("99.5", 0)])).unwrap_err().contains("creditPercent"));
    }
}
