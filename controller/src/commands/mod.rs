//! The billing commands, `tenantry bill` and `tenantry revenue`: where their records come from
//! ([`books`]), invoices ([`bill`]), revenue tables ([`revenue`]) and charts ([`chart`]).
//!
//! `tenantry diff` ([`diff`]) compares the cluster with what the operator would make of it.
//!
//! Everything here but [`books::from_cluster`], [`diff::from_cluster`] and [`export::mark`] is pure: records in, text out, so the same
//! records give the same output whether they were planned from a directory or listed from a
//! cluster.

pub mod bill;
pub mod books;
pub mod chart;
pub mod csv;
pub mod diff;
pub mod export;
pub mod generate;
pub mod report;
pub mod report_html;
pub mod report_md;
pub mod report_prometheus;
pub mod revenue;

use jiff::Timestamp;

/// The instant of `--at`, or now when it is not given.
pub fn instant(at: Option<&str>) -> Result<Timestamp, String> {
    match at {
        Some(text) => text
            .parse::<Timestamp>()
            .map_err(|e| format!("--at '{text}' is not an RFC 3339 instant such as 2026-11-01T00:00:00Z: {e}")),
        None => Ok(Timestamp::now()),
    }
}
