//! BillingRecords in the live operator: which records each tenant has (an index fed by the
//! BillingRecord watch), and writing the ones the plan computed.
//!
//! A record is written spec first, then status: once its status says Closed, the CRD's
//! validation rule refuses any change, and the planner never computes that month again. A
//! record observed Closed is never written. Records carry no owner reference and are never
//! pruned: deleting a tenant leaves its bills. Only the retention policy deletes records
//! ([`retire_records`], off unless `--billing-retention-days` is given): Closed, exported
//! ones, long after their month.

use super::apply::FIELD_MANAGER;
use super::cache::{Caches, Triggers};
use super::error::Error;
use super::metrics::Metrics;
use super::reconcile::patch_status;
use crate::api::billing::EXPORTED_AT;
use crate::api::BillingRecord;
use crate::planner::billing::records::is_closed;
use crate::planner::billing::Period;
use kube::api::{Api, DeleteParams, Patch, PatchParams, Preconditions};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Client, Resource, ResourceExt};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, RwLock};

/// Names of each tenant's records, kept by the BillingRecord watch, so a reconcile finds a
/// tenant's records without scanning every record of the fleet.
#[derive(Clone, Default)]
pub struct RecordIndex {
    by_tenant: Arc<RwLock<BTreeMap<String, BTreeSet<String>>>>,
}

impl RecordIndex {
    /// The names of `tenant`'s records.
    pub fn of_tenant(&self, tenant: &str) -> BTreeSet<String> {
        let index = self.by_tenant.read().unwrap_or_else(|p| p.into_inner());
        index.get(tenant).cloned().unwrap_or_default()
    }

    pub(crate) fn insert(&self, record: &BillingRecord) {
        let mut index = self.by_tenant.write().unwrap_or_else(|p| p.into_inner());
        index.entry(record.spec.tenant_ref.clone()).or_default().insert(record.name_any());
    }

    fn remove(&self, record: &BillingRecord) {
        let mut index = self.by_tenant.write().unwrap_or_else(|p| p.into_inner());
        if let Some(names) = index.get_mut(&record.spec.tenant_ref) {
            names.remove(&record.name_any());
            if names.is_empty() {
                index.remove(&record.spec.tenant_ref);
            }
        }
    }

    fn rebuild<'a>(&self, records: impl Iterator<Item = &'a BillingRecord>) {
        let mut fresh: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for record in records {
            fresh.entry(record.spec.tenant_ref.clone()).or_default().insert(record.name_any());
        }
        *self.by_tenant.write().unwrap_or_else(|p| p.into_inner()) = fresh;
    }
}

/// A record changed (closed by us, or edited or deleted by someone else): index it and
/// re-plan its tenant, which rewrites an open record that drifted.
pub fn on_record(caches: &Caches, triggers: &Triggers, event: watcher::Event<BillingRecord>) {
    match &event {
        watcher::Event::Apply(record) | watcher::Event::InitApply(record) => {
            caches.record_index.insert(record);
            if matches!(event, watcher::Event::Apply(_)) {
                triggers.tenant(&record.spec.tenant_ref);
            }
        }
        watcher::Event::Delete(record) => {
            caches.record_index.remove(record);
            triggers.tenant(&record.spec.tenant_ref);
        }
        watcher::Event::InitDone => {
            let listed = caches.billing_records.state();
            caches.record_index.rebuild(listed.iter().map(|r| r.as_ref()));
        }
        watcher::Event::Init => {}
    }
}

/// The records `tenant` has, as cached.
pub fn records_of(caches: &Caches, tenant: &str) -> Vec<BillingRecord> {
    caches
        .record_index
        .of_tenant(tenant)
        .iter()
        .filter_map(|name| caches.billing_records.get(&ObjectRef::new(name)))
        .map(|record| (*record).clone())
        .collect()
}

/// What writing the planned records did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Written {
    /// Records created or whose amounts changed.
    pub applied: usize,
    /// Records whose status changed.
    pub statuses: usize,
    /// Names of the records that closed with this write.
    pub closed: Vec<String>,
}

/// Writes each planned record that differs from the cached one: the spec (with labels) by
/// server-side apply, then the status. Never touches a record cached as Closed. A write that
/// fails stops there (the reconcile is retried), counted in
/// `tenantry_billing_record_write_errors_total` with the phase it was writing, so a month that
/// cannot close is seen apart from a refresh of an open one.
pub async fn write_records(
    client: &Client,
    caches: &Caches,
    metrics: &Metrics,
    planned: &[BillingRecord],
) -> Result<Written, Error> {
    let api: Api<BillingRecord> = Api::all(client.clone());
    let mut written = Written::default();
    for record in planned {
        let name = record.name_any();
        let observed = caches.billing_records.get(&ObjectRef::new(&name));
        if observed.as_deref().is_some_and(is_closed) {
            continue;
        }
        let same_spec = observed.as_deref().is_some_and(|o| o.spec == record.spec && same_labels(o, record));
        if !same_spec {
            let body = json!({
                "apiVersion": BillingRecord::api_version(&()),
                "kind": BillingRecord::kind(&()),
                "metadata": { "name": name, "labels": record.labels() },
                "spec": record.spec,
            });
            if let Err(source) = api.patch(&name, &PatchParams::apply(FIELD_MANAGER).force(), &Patch::Apply(body)).await
            {
                let error = Error::Apply { object: format!("BillingRecord {name}"), source };
                return Err(write_failed(metrics, record, "apply", error));
            }
            written.applied += 1;
            Metrics::kind(&metrics.applies, "BillingRecord").inc();
        }
        let Some(status) = &record.status else { continue };
        if observed.as_deref().and_then(|o| o.status.as_ref()) != Some(status) {
            if let Err(error) = patch_status::<BillingRecord>(client, None, &name, status).await {
                return Err(write_failed(metrics, record, "status_patch", error));
            }
            written.statuses += 1;
            Metrics::kind(&metrics.status_patches, "BillingRecord").inc();
            if is_closed(record) {
                written.closed.push(name);
            }
        }
    }
    Ok(written)
}

/// Counts and logs a failed write of `record` (`operation`: `apply` or `status_patch`) and
/// hands the error back.
fn write_failed(metrics: &Metrics, record: &BillingRecord, operation: &str, error: Error) -> Error {
    let closing = is_closed(record);
    metrics.billing_write_failed(closing, operation, error.source_error());
    let phase = if closing { "Closed" } else { "Open" };
    let reason = super::error::reason_label(error.source_error());
    tracing::warn!(
        record = %record.name_any(),
        tenant = %record.spec.tenant_ref,
        period = %record.spec.period,
        %phase,
        %operation,
        %reason,
        %error,
        "cannot write a BillingRecord"
    );
    error
}

/// Whether every label we set is on the observed record (others may add their own).
fn same_labels(observed: &BillingRecord, planned: &BillingRecord) -> bool {
    planned.labels().iter().all(|(key, value)| observed.labels().get(key) == Some(value))
}

/// Why a record may be deleted by the retention policy, or `None` when it must be kept:
/// it is Closed, carries the export annotation, its month ended at least `retention` before
/// `now`, and its tenant (if it still exists) has recorded that month as closed for good, so
/// the planner never computes it again.
pub fn retirable(
    record: &BillingRecord,
    tenant_closed_through: Option<Option<Period>>,
    retention: jiff::SignedDuration,
    now: jiff::Timestamp,
) -> bool {
    let Ok(period) = record.spec.period.parse::<Period>() else { return false };
    let exported = record.annotations().get(EXPORTED_AT).is_some_and(|at| !at.is_empty());
    let old_enough = now >= period.end() + retention;
    let settled = match tenant_closed_through {
        None => true,
        Some(closed_through) => closed_through.is_some_and(|through| through >= period),
    };
    is_closed(record) && exported && old_enough && settled
}

/// Deletes the records of served partners that [`retirable`] allows, each only if it has not
/// changed since it was read (uid and resourceVersion preconditions). Returns how many went.
pub async fn retire_records(
    client: &Client,
    caches: &Caches,
    metrics: &Metrics,
    serves: impl Fn(&str) -> bool,
    retention: jiff::SignedDuration,
    now: jiff::Timestamp,
) -> Result<usize, Error> {
    let api: Api<BillingRecord> = Api::all(client.clone());
    let mut deleted = 0;
    for record in caches.billing_records.state() {
        if !serves(&record.spec.partner_ref) {
            continue;
        }
        let tenant = caches.tenants.get(&ObjectRef::new(&record.spec.tenant_ref)).map(|tenant| {
            tenant.status.as_ref().and_then(|s| s.billing_closed_through.as_deref()).and_then(|p| p.parse().ok())
        });
        if !retirable(&record, tenant, retention, now) {
            continue;
        }
        let name = record.name_any();
        let params = DeleteParams {
            preconditions: Some(Preconditions { uid: record.uid(), resource_version: record.resource_version() }),
            ..DeleteParams::default()
        };
        match api.delete(&name, &params).await {
            Ok(_) => {
                deleted += 1;
                Metrics::kind(&metrics.prunes, "BillingRecord").inc();
                let exported = record.annotations().get(EXPORTED_AT).cloned().unwrap_or_default();
                tracing::info!(record = %name, period = %record.spec.period, %exported, "retention: deleted an exported BillingRecord");
            }
            // Gone already, or changed since it was read: the next pass looks again.
            Err(kube::Error::Api(status)) if status.code == 404 || status.code == 409 => {}
            Err(source) => return Err(Error::Prune { object: format!("BillingRecord {name}"), source }),
        }
    }
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::billing::{BillingPhase, BillingRecordSpec, BillingRecordStatus};
    use std::collections::BTreeMap;

    fn record(phase: BillingPhase, exported: Option<&str>) -> BillingRecord {
        let mut record = BillingRecord::new(
            "shop-2026-01",
            BillingRecordSpec {
                tenant_ref: "shop".into(),
                partner_ref: "acme".into(),
                period: "2026-01".into(),
                currency: "EUR".into(),
                line_items: vec![],
                total: 0,
                recurring: None,
                consumption: None,
            },
        );
        record.status = Some(BillingRecordStatus { phase: Some(phase), ..BillingRecordStatus::default() });
        record.metadata.annotations = exported.map(|at| BTreeMap::from([(EXPORTED_AT.to_string(), at.to_string())]));
        record
    }

    fn at(text: &str) -> jiff::Timestamp {
        text.parse().expect("time")
    }

    const NINETY_DAYS: jiff::SignedDuration = jiff::SignedDuration::from_hours(90 * 24);

    #[test]
    fn retention_deletes_only_closed_exported_records_past_their_age() {
        let exported = record(BillingPhase::Closed, Some("2026-02-03T10:00:00Z"));
        let settled = Some(Some("2026-03".parse().expect("period")));
        // January ends on 1 February; 90 days later is 2 May.
        assert!(retirable(&exported, settled, NINETY_DAYS, at("2026-05-02T00:00:00Z")));
        assert!(!retirable(&exported, settled, NINETY_DAYS, at("2026-05-01T23:59:59Z")), "too young");
        assert!(retirable(&exported, None, NINETY_DAYS, at("2026-05-02T00:00:00Z")), "its tenant is gone");
        // Never an unexported one, never an open one, however old.
        let far = at("2036-01-01T00:00:00Z");
        assert!(!retirable(&record(BillingPhase::Closed, None), settled, NINETY_DAYS, far));
        assert!(!retirable(&record(BillingPhase::Closed, Some("")), settled, NINETY_DAYS, far));
        assert!(!retirable(&record(BillingPhase::Open, Some("2026-02-03T10:00:00Z")), settled, NINETY_DAYS, far));
        let mut no_status = record(BillingPhase::Closed, Some("2026-02-03T10:00:00Z"));
        no_status.status = None;
        assert!(!retirable(&no_status, settled, NINETY_DAYS, far));
        // Not while its tenant could still compute the month again (its status has not
        // recorded the month as closed for good).
        assert!(!retirable(&exported, Some(None), NINETY_DAYS, far));
        assert!(!retirable(&exported, Some(Some("2025-12".parse().expect("period"))), NINETY_DAYS, far));
    }
}
