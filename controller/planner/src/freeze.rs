//! Change freezes: placeholder with absolute windows only, replaced by the full evaluation
//! (recurring windows in IANA time zones) on the `freeze` branch.

use jiff::Timestamp;
use tenantry_api::governance::ChangeFreeze;
use tenantry_api::WorkflowCategory;

/// Checks a freeze; the error names the field.
pub fn validate(freeze: &ChangeFreeze) -> Result<(), String> {
    match &freeze.window {
        Some(window) => {
            let field = |f: &str| format!("spec.changeFreezes[{}].window.{f}", freeze.name);
            let start: Timestamp = window
                .start
                .parse()
                .map_err(|e| format!("{}: '{}' is not RFC 3339: {e}", field("start"), window.start))?;
            let end: Timestamp =
                window.end.parse().map_err(|e| format!("{}: '{}' is not RFC 3339: {e}", field("end"), window.end))?;
            if end <= start {
                return Err(format!("{} must be after start", field("end")));
            }
            Ok(())
        }
        None => Ok(()),
    }
}

/// When `at` lies inside the freeze, the instant this occurrence ends.
pub fn active_until(freeze: &ChangeFreeze, at: Timestamp) -> Option<Timestamp> {
    validate(freeze).ok()?;
    let window = freeze.window.as_ref()?;
    let start: Timestamp = window.start.parse().ok()?;
    let end: Timestamp = window.end.parse().ok()?;
    (start <= at && at < end).then_some(end)
}

/// The next instant strictly after `at` at which the freeze begins.
pub fn next_start(freeze: &ChangeFreeze, at: Timestamp) -> Option<Timestamp> {
    let start: Timestamp = freeze.window.as_ref()?.start.parse().ok()?;
    (start > at).then_some(start)
}

/// Whether the freeze holds workflows of `category`.
pub fn covers(freeze: &ChangeFreeze, category: WorkflowCategory) -> bool {
    freeze.categories.is_empty() || freeze.categories.contains(&category)
}
