//! `tenantry bill --cluster --mark-exported`: records that a month's Closed BillingRecords
//! were exported, with the `tenantry.dev/exported-at` annotation. The operator's retention
//! policy (`tenantry run --billing-retention-days`) deletes only records that carry it.
//!
//! The annotation is written by server-side apply under the CLI's own field manager, so it
//! never conflicts with the operator's fields. A Closed record's spec and status are frozen
//! by the CRD's validation rule; its metadata is not.

use super::books::Books;
use crate::api::billing::EXPORTED_AT;
use crate::api::BillingRecord;
use crate::planner::billing::records::is_closed;
use crate::planner::billing::Period;
use kube::api::{Api, Patch, PatchParams};
use kube::{Resource, ResourceExt};
use serde_json::json;

/// The field manager of the CLI's writes.
pub const FIELD_MANAGER: &str = "tenantry-cli";

/// Which of a month's records to mark: the Closed ones without the annotation (Open ones are
/// drafts, never exported), and how many Closed ones already carry it (a first export is
/// never overwritten).
pub fn to_mark(books: &Books, period: Period) -> (Vec<String>, usize) {
    let month = period.to_string();
    let closed: Vec<&BillingRecord> = books.records.iter().filter(|r| r.spec.period == month && is_closed(r)).collect();
    let (already, fresh): (Vec<&BillingRecord>, Vec<&BillingRecord>) =
        closed.into_iter().partition(|r| r.annotations().contains_key(EXPORTED_AT));
    (fresh.into_iter().map(|r| r.name_any()).collect(), already.len())
}

/// Annotates each record in `names` as exported at `at`.
pub async fn mark(names: &[String], at: jiff::Timestamp) -> Result<(), kube::Error> {
    let client = kube::Client::try_default().await?;
    let api: Api<BillingRecord> = Api::all(client);
    let stamp = crate::planner::format_time(at);
    for name in names {
        let body = json!({
            "apiVersion": BillingRecord::api_version(&()),
            "kind": BillingRecord::kind(&()),
            "metadata": { "name": name, "annotations": { EXPORTED_AT: stamp } },
        });
        api.patch(name, &PatchParams::apply(FIELD_MANAGER), &Patch::Apply(body)).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::billing::{BillingPhase, BillingRecordSpec, BillingRecordStatus};
    use std::collections::BTreeMap;

    fn record(name: &str, period: &str, phase: BillingPhase, exported: bool) -> BillingRecord {
        let mut record = BillingRecord::new(
            name,
            BillingRecordSpec {
                tenant_ref: "shop".into(),
                partner_ref: "acme".into(),
                period: period.into(),
                currency: "EUR".into(),
                line_items: vec![],
                total: 0,
                recurring: None,
                consumption: None,
            },
        );
        record.status = Some(BillingRecordStatus { phase: Some(phase), ..BillingRecordStatus::default() });
        if exported {
            record.metadata.annotations =
                Some(BTreeMap::from([(EXPORTED_AT.to_string(), "2026-11-02T00:00:00Z".to_string())]));
        }
        record
    }

    #[test]
    fn only_closed_records_of_the_month_not_marked_yet_are_marked() {
        let books = Books {
            records: vec![
                record("a-2026-10", "2026-10", BillingPhase::Closed, false),
                record("b-2026-10", "2026-10", BillingPhase::Closed, true),
                record("c-2026-10", "2026-10", BillingPhase::Open, false),
                record("a-2026-09", "2026-09", BillingPhase::Closed, false),
            ],
            ..Books::default()
        };
        assert_eq!(to_mark(&books, "2026-10".parse().expect("period")), (vec!["a-2026-10".to_string()], 1));
    }
}
