//! The records the billing commands read, with the partners and tenants that name them:
//! planned from a directory of YAML at an instant, or listed from a cluster.

use crate::api::{BillingRecord, Partner, Tenant};
use crate::input;
use crate::planner::billing::records::is_closed;
use crate::planner::{Plan, World};
use jiff::Timestamp;
use kube::ResourceExt;
use std::collections::BTreeMap;
use std::path::Path;

/// BillingRecords and the partners and tenants they belong to.
#[derive(Debug, Clone, Default)]
pub struct Books {
    /// Every partner.
    pub partners: Vec<Partner>,
    /// Every tenant still declared (a deleted tenant's records remain; its name is all they show).
    pub tenants: Vec<Tenant>,
    /// Every record, open and closed, sorted by name.
    pub records: Vec<BillingRecord>,
}

impl Books {
    /// The partner named `name`.
    pub fn partner(&self, name: &str) -> Option<&Partner> {
        self.partners.iter().find(|p| p.name_any() == name)
    }

    /// The tenant named `name`, if it is still declared.
    pub fn tenant(&self, name: &str) -> Option<&Tenant> {
        self.tenants.iter().find(|t| t.name_any() == name)
    }
}

/// The books of a planned fleet: the records the plan computes (open ones and those closing
/// now) and the Closed ones already observed in the world, which the plan leaves alone.
pub fn from_plan(world: &World, plan: &Plan) -> Books {
    let mut records: BTreeMap<String, BillingRecord> =
        world.billing_records.iter().filter(|r| is_closed(r)).map(|r| (r.name_any(), r.clone())).collect();
    for (name, record) in &plan.billing_records {
        records.entry(name.clone()).or_insert_with(|| record.clone());
    }
    Books { partners: world.partners.clone(), tenants: world.tenants.clone(), records: records.into_values().collect() }
}

/// Loads `dir` as `tenantry plan` does and plans it at `now`. Errors are the loader's, one
/// line each.
pub fn from_dir(dir: &Path, now: Timestamp) -> Result<Books, Vec<String>> {
    if !dir.is_dir() {
        return Err(vec![format!("'{}' is not a directory", dir.display())]);
    }
    let loaded = input::load_dir(dir).map_err(|errors| errors.iter().map(ToString::to_string).collect::<Vec<_>>())?;
    let plan = crate::planner::plan(&loaded.world, now);
    Ok(from_plan(&loaded.world, &plan))
}

/// Lists BillingRecords, Partners and Tenants from the cluster of the current kubeconfig (or
/// the pod's service account). Read-only: three list calls, nothing written.
pub async fn from_cluster() -> Result<Books, kube::Error> {
    use kube::api::{Api, ListParams};
    let client = kube::Client::try_default().await?;
    let all = ListParams::default();
    let records = Api::<BillingRecord>::all(client.clone()).list(&all).await?.items;
    let partners = Api::<Partner>::all(client.clone()).list(&all).await?.items;
    let tenants = Api::<Tenant>::all(client).list(&all).await?.items;
    Ok(sorted(Books { partners, tenants, records }))
}

/// The books in name order, whichever order the API listed them in.
fn sorted(mut books: Books) -> Books {
    books.records.sort_by_key(|r| r.name_any());
    books.partners.sort_by_key(|p| p.name_any());
    books.tenants.sort_by_key(|t| t.name_any());
    books
}
