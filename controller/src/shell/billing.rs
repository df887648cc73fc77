//! BillingRecords in the live operator: which records each tenant has (an index fed by the
//! BillingRecord watch), and writing the ones the plan computed.
//!
//! A record is written spec first, then status: once its status says Closed, the CRD's
//! validation rule refuses any change, and the planner never computes that month again. A
//! record observed Closed is never written. Records carry no owner reference and are never
//! pruned: deleting a tenant leaves its bills.

use super::apply::FIELD_MANAGER;
use super::cache::{Caches, Triggers};
use super::error::Error;
use super::metrics::Metrics;
use super::reconcile::patch_status;
use crate::api::BillingRecord;
use crate::planner::billing::records::is_closed;
use kube::api::{Api, Patch, PatchParams};
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
/// server-side apply, then the status. Never touches a record cached as Closed.
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
            api.patch(&name, &PatchParams::apply(FIELD_MANAGER).force(), &Patch::Apply(body))
                .await
                .map_err(|source| Error::Apply { object: format!("BillingRecord {name}"), source })?;
            written.applied += 1;
            Metrics::kind(&metrics.applies, "BillingRecord").inc();
        }
        let Some(status) = &record.status else { continue };
        if observed.as_deref().and_then(|o| o.status.as_ref()) != Some(status) {
            patch_status::<BillingRecord>(client, None, &name, status).await?;
            written.statuses += 1;
            Metrics::kind(&metrics.status_patches, "BillingRecord").inc();
            if is_closed(record) {
                written.closed.push(name);
            }
        }
    }
    Ok(written)
}

/// Whether every label we set is on the observed record (others may add their own).
fn same_labels(observed: &BillingRecord, planned: &BillingRecord) -> bool {
    planned.labels().iter().all(|(key, value)| observed.labels().get(key) == Some(value))
}
