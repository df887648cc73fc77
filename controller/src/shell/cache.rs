//! The controller's view of the cluster: one watch per kind feeds both a cache (reflector
//! store) and the index, and turns each change into re-queues of exactly the tenants it
//! concerns.

use super::apply::{api_resource, namespaced, Observed};
use super::billing::{self, RecordIndex};
use super::error::{is_transient, is_transient_status};
use super::http::ProbeState;
use super::index::{ChildRef, FleetIndex};
use super::jobs::{self, JobEvents, JobRuns};
use super::metrics::{Metrics, WatchLabels};
use super::stored::StoredChild;
use crate::api::{Approval, BillingRecord, GovernancePolicy, Partner, ServiceTier, Tenant, Workflow};
use crate::planner::{self, labels, Catalog, ChildKind};
use futures::channel::mpsc::UnboundedSender;
use futures::{Stream, StreamExt, TryStreamExt};
use k8s_openapi::api::batch::v1::Job;
use kube::api::{DynamicObject, PartialObjectMeta};
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{watcher, WatchStreamExt};
use kube::{Api, Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Debug;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};
use tokio::sync::Notify;

/// Caches of every kind the operator reads, and the index over them.
#[derive(Clone)]
pub struct Caches {
    /// Partners.
    pub partners: Store<Partner>,
    /// Service tiers.
    pub tiers: Store<ServiceTier>,
    /// Tenants.
    pub tenants: Store<Tenant>,
    /// Workflows in every namespace.
    pub workflows: Store<Workflow>,
    /// Governance policies.
    pub policies: Store<GovernancePolicy>,
    /// Approvals in every namespace.
    pub approvals: Store<Approval>,
    /// Managed children, by kind.
    pub children: BTreeMap<ChildKind, Store<StoredChild>>,
    /// The index over all of them.
    pub index: Arc<RwLock<FleetIndex>>,
    /// Tenantry objects that are stored but do not decode as their type.
    pub undecodable: Undecodables,
    /// BillingRecords the operator wrote.
    pub billing_records: Store<BillingRecord>,
    /// Which records each tenant has.
    pub record_index: RecordIndex,
    /// The runs of scheduled workflows, from their Jobs.
    pub job_runs: JobRuns,
}

/// Tenantry objects that are stored but do not decode (say, written under an older schema),
/// by kind, namespace (empty for cluster-scoped kinds) and name. Their owners' children are
/// frozen: an object that does not decode has not gone away.
pub type Undecodables = Arc<RwLock<BTreeMap<(String, String, String), Undecodable>>>;

/// What is known of an object that does not decode.
#[derive(Debug, Clone, PartialEq)]
pub struct Undecodable {
    /// Its UID.
    pub uid: Option<String>,
    /// Its generation.
    pub generation: Option<i64>,
    /// Why it does not decode.
    pub error: String,
    /// The conditions its stored status holds, as far as they decode.
    pub conditions: Vec<crate::api::Condition>,
}

/// Where changes are sent: tenants to re-queue, and the fleet-status loop to wake.
#[derive(Clone)]
pub struct Triggers {
    /// Tenants to reconcile (the controller works on their metadata).
    pub tenants: UnboundedSender<ObjectRef<PartialObjectMeta<Tenant>>>,
    /// Wakes the loop that writes partner, tier, policy and approval statuses.
    pub fleet: Arc<Notify>,
    /// Counts triggers sent and not yet taken.
    pub queue_depth: prometheus_client::metrics::gauge::Gauge,
}

impl Triggers {
    pub(crate) fn tenant(&self, name: &str) {
        self.queue_depth.inc();
        if self.tenants.unbounded_send(ObjectRef::new_with(name, ())).is_err() {
            self.queue_depth.dec();
        }
    }

    fn tenants(&self, names: impl IntoIterator<Item = String>) {
        for name in names {
            self.tenant(&name);
        }
    }
}

impl Caches {
    /// Reads the index.
    pub fn index(&self) -> RwLockReadGuard<'_, FleetIndex> {
        self.index.read().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn index_mut(&self) -> RwLockWriteGuard<'_, FleetIndex> {
        self.index.write().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The object of `kind` (a tenantry kind name) that does not decode, if `name` is one.
    pub fn undecodable(&self, kind: &str, namespace: &str, name: &str) -> Option<Undecodable> {
        let key = (kind.to_string(), namespace.to_string(), name.to_string());
        self.undecodable.read().unwrap_or_else(|p| p.into_inner()).get(&key).cloned()
    }

    /// The objects of `kind` in `namespace` that do not decode, by name.
    pub fn undecodable_in(&self, kind: &str, namespace: &str) -> Vec<(String, Undecodable)> {
        let undecodable = self.undecodable.read().unwrap_or_else(|p| p.into_inner());
        undecodable
            .iter()
            .filter(|((k, ns, _), _)| k == kind && ns == namespace)
            .map(|((_, _, name), object)| (name.clone(), object.clone()))
            .collect()
    }

    /// The observed children labelled with `tenant`.
    pub fn observed_children(&self, tenant: &str) -> Vec<Observed> {
        let references = self.index().children_of_tenant(tenant);
        references
            .into_iter()
            .filter_map(|reference| {
                let store = self.children.get(&reference.kind)?;
                let key = object_ref(&reference);
                store.get(&key).map(|object| Observed::from_stored(reference.kind, &object))
            })
            .collect()
    }

    /// The tenants `policy` selects: those of its partner (found through the index) or of the
    /// whole fleet, whose labels match its selector.
    pub fn selected_by(&self, policy: &GovernancePolicy) -> BTreeSet<String> {
        let candidates = match &policy.spec.partner_ref {
            Some(partner) => self.index().tenants_with_partner_ref(partner),
            None => self.index().tenant_names(),
        };
        let selector = policy.spec.tenant_selector.clone().unwrap_or_default();
        candidates
            .into_iter()
            .filter(|name| {
                self.tenants
                    .get(&ObjectRef::new(name))
                    .is_some_and(|tenant| planner::selector_matches(&selector, tenant.labels()).unwrap_or(false))
            })
            .collect()
    }

    /// Every cached partner, tier, tenant, workflow, policy, approval and billing record,
    /// each kind in namespace and name order, without workloads: the world the fleet-wide
    /// statuses are planned from, by the fleet pass and by `tenantry diff` previewing it.
    pub fn fleet_world(&self) -> planner::World {
        planner::World {
            partners: sorted_copy(&self.partners),
            tiers: sorted_copy(&self.tiers),
            tenants: sorted_copy(&self.tenants),
            // Every workflow: approvals are checked against the workflows of their namespace.
            workflows: sorted_copy(&self.workflows),
            policies: sorted_copy(&self.policies),
            approvals: sorted_copy(&self.approvals),
            // Read for partners' revenue.
            billing_records: sorted_copy(&self.billing_records),
            ..Default::default()
        }
    }

    /// Waits until every cache has listed its objects once.
    pub async fn wait_until_ready(&self) -> Result<(), reflector::store::WriterDropped> {
        self.partners.wait_until_ready().await?;
        self.tiers.wait_until_ready().await?;
        self.tenants.wait_until_ready().await?;
        self.workflows.wait_until_ready().await?;
        self.policies.wait_until_ready().await?;
        self.approvals.wait_until_ready().await?;
        self.billing_records.wait_until_ready().await?;
        for store in self.children.values() {
            store.wait_until_ready().await?;
        }
        Ok(())
    }
}

/// A copy of every object in `store`, in namespace and name order.
fn sorted_copy<K>(store: &Store<K>) -> Vec<K>
where
    K: Resource + Clone + 'static,
    K::DynamicType: Eq + std::hash::Hash + Clone,
{
    let mut objects: Vec<K> = store.state().iter().map(|o| (**o).clone()).collect();
    objects.sort_by(|a, b| {
        (a.meta().namespace.as_deref(), a.meta().name.as_deref())
            .cmp(&(b.meta().namespace.as_deref(), b.meta().name.as_deref()))
    });
    objects
}

fn object_ref(reference: &ChildRef) -> ObjectRef<StoredChild> {
    let mut key = ObjectRef::new_with(&reference.name, api_resource(reference.kind));
    if namespaced(reference.kind) {
        key = key.within(&reference.namespace);
    }
    key
}

impl Catalog for Caches {
    fn tenant(&self, name: &str) -> Option<Tenant> {
        self.tenants.get(&ObjectRef::new(name)).map(|t| (*t).clone())
    }
    fn partner(&self, name: &str) -> Option<Partner> {
        self.partners.get(&ObjectRef::new(name)).map(|p| (*p).clone())
    }
    fn tier(&self, name: &str) -> Option<ServiceTier> {
        self.tiers.get(&ObjectRef::new(name)).map(|t| (*t).clone())
    }
    fn tenants_in_namespace(&self, namespace: &str) -> Vec<Tenant> {
        let names = self.index().tenants_in_namespace(namespace);
        names.iter().filter_map(|name| Catalog::tenant(self, name)).collect()
    }
    fn workload(&self, namespace: &str, name: &str) -> Option<planner::WorkloadState> {
        let observed = |kind| {
            let reference = ChildRef { kind, namespace: namespace.to_string(), name: name.to_string() };
            self.children.get(&kind).and_then(|store| store.get(&object_ref(&reference)))
        };
        let read = |kind| observed(kind).map(|stored| stored.to_dynamic());
        let (deployment, cron_job) = (read(ChildKind::Deployment), read(ChildKind::CronJob));
        let mut state = super::apply::workload_state(deployment.as_ref(), cron_job.as_ref())?;
        if deployment.is_none() {
            state.finished_runs = self.job_runs.finished(namespace, name);
        }
        Some(state)
    }
    fn billing_records_of(&self, tenant: &str) -> Vec<BillingRecord> {
        billing::records_of(self, tenant)
    }
    fn policies(&self) -> Vec<GovernancePolicy> {
        self.policies.state().iter().map(|p| (**p).clone()).collect()
    }
    fn approvals_in_namespace(&self, namespace: &str) -> Vec<Approval> {
        let names = self.index().approvals_in_namespace(namespace);
        names
            .iter()
            .filter_map(|name| self.approvals.get(&ObjectRef::new(name).within(namespace)).map(|a| (*a).clone()))
            .collect()
    }
    fn workflows_in_namespace(&self, namespace: &str) -> Vec<Workflow> {
        let names = self.index().workflows_in_namespace(namespace);
        names
            .iter()
            .filter_map(|name| self.workflows.get(&ObjectRef::new(name).within(namespace)).map(|w| (*w).clone()))
            .collect()
    }
}

impl Caches {
    /// Caches holding exactly `world` and the `observed` managed objects, without watching
    /// anything: for tests and benchmarks of the reconcile path.
    pub fn from_snapshot(
        world: &crate::planner::World,
        observed: impl IntoIterator<Item = (ChildKind, DynamicObject)>,
    ) -> Self {
        fn fill<K>(objects: &[K]) -> Store<K>
        where
            K: Resource + Clone + 'static,
            K::DynamicType: Eq + std::hash::Hash + Clone + Default,
        {
            let mut writer = reflector::store::Writer::default();
            writer.apply_watcher_event(&watcher::Event::Init);
            for object in objects {
                writer.apply_watcher_event(&watcher::Event::InitApply(object.clone()));
            }
            writer.apply_watcher_event(&watcher::Event::InitDone);
            writer.as_reader()
        }
        let mut index = FleetIndex::default();
        world.tiers.iter().for_each(|t| index.upsert_tier(t));
        world.tenants.iter().for_each(|t| {
            index.upsert_tenant(t);
        });
        world.workflows.iter().for_each(|w| {
            index.upsert_workflow(w);
        });
        world.approvals.iter().for_each(|a| index.upsert_approval(a));
        let mut writers: BTreeMap<ChildKind, reflector::store::Writer<StoredChild>> =
            ChildKind::ALL.iter().map(|kind| (*kind, reflector::store::Writer::new(api_resource(*kind)))).collect();
        for writer in writers.values_mut() {
            writer.apply_watcher_event(&watcher::Event::Init);
        }
        for (kind, object) in observed {
            let object = StoredChild::from(object);
            index.upsert_child(kind, &object);
            if let Some(writer) = writers.get_mut(&kind) {
                writer.apply_watcher_event(&watcher::Event::InitApply(object));
            }
        }
        Caches {
            partners: fill(&world.partners),
            tiers: fill(&world.tiers),
            tenants: fill(&world.tenants),
            workflows: fill(&world.workflows),
            policies: fill(&world.policies),
            approvals: fill(&world.approvals),
            children: writers
                .into_iter()
                .map(|(kind, mut writer)| {
                    writer.apply_watcher_event(&watcher::Event::InitDone);
                    (kind, writer.as_reader())
                })
                .collect(),
            index: Arc::new(RwLock::new(index)),
            undecodable: Undecodables::default(),
            billing_records: fill(&world.billing_records),
            record_index: {
                let index = RecordIndex::default();
                world.billing_records.iter().for_each(|r| index.insert(r));
                index
            },
            job_runs: JobRuns::default(),
        }
    }
}

/// A watch of one tenantry kind through a reflector into `writer`, yielding its events.
///
/// Objects are listed as untyped JSON and decoded one by one: an object that does not match
/// the type (say, written under an older CRD) is logged and skipped instead of failing the
/// whole list, which would stall every tenant.
fn reflected<K>(
    client: &Client,
    config: watcher::Config,
    writer: reflector::store::Writer<K>,
    undecodable: Undecodables,
    on_undecodable: impl Fn(&DynamicObject) + Send + 'static,
) -> impl Stream<Item = Result<watcher::Event<K>, watcher::Error>> + Send
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
{
    let api: Api<DynamicObject> = Api::all_with(client.clone(), &kube::core::ApiResource::erase::<K>(&()));
    // Keys of this kind seen undecodable since the current list began: at its end, the
    // others are no longer stored.
    let mut listed = BTreeSet::new();
    let typed = watcher(api, config).default_backoff().modify(slim).filter_map(move |event| {
        std::future::ready(match event {
            Err(error) => Some(Err(error)),
            Ok(watcher::Event::Init) => {
                listed.clear();
                Some(Ok(watcher::Event::Init))
            }
            Ok(watcher::Event::InitDone) => {
                let kind = K::kind(&()).to_string();
                let mut undecodable = undecodable.write().unwrap_or_else(|p| p.into_inner());
                undecodable.retain(|key, _| key.0 != kind || listed.contains(key));
                Some(Ok(watcher::Event::InitDone))
            }
            Ok(watcher::Event::Apply(object)) => {
                let decoded = decode::<K>(object.clone(), &undecodable, true);
                if decoded.is_none() {
                    on_undecodable(&object);
                }
                decoded.map(|o| Ok(watcher::Event::Apply(o)))
            }
            Ok(watcher::Event::InitApply(object)) => {
                if let Some(key) = undecodable_key::<K>(&object) {
                    listed.insert(key);
                }
                decode::<K>(object, &undecodable, true).map(|o| Ok(watcher::Event::InitApply(o)))
            }
            Ok(watcher::Event::Delete(object)) => {
                decode::<K>(object, &undecodable, false).map(|o| Ok(watcher::Event::Delete(o)))
            }
        })
    });
    reflector(writer, typed)
}

/// What the caches never read, dropped before an object is stored: `managedFields` (often
/// larger than the object's spec; drift is judged on the fields themselves) and kubectl's
/// `last-applied-configuration` annotation (a second copy of the whole object, on anything
/// applied client-side from Git).
pub(crate) fn slim(object: &mut DynamicObject) {
    object.metadata.managed_fields = None;
    if let Some(annotations) = object.metadata.annotations.as_mut() {
        annotations.remove(LAST_APPLIED);
        if annotations.is_empty() {
            object.metadata.annotations = None;
        }
    }
}

/// The annotation `kubectl apply` (client-side) keeps the applied object in.
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

fn undecodable_key<K: Resource<DynamicType = ()>>(object: &DynamicObject) -> Option<(String, String, String)> {
    Some((K::kind(&()).to_string(), object.namespace().unwrap_or_default(), object.metadata.name.clone()?))
}

/// Decodes one object, or logs why it cannot be and skips it. An object that is stored
/// (`stored`: not a deletion) and does not decode is recorded in `undecodable`; one that
/// decodes or is deleted is taken out of it.
pub(crate) fn decode<K: Resource<DynamicType = ()> + DeserializeOwned>(
    object: DynamicObject,
    undecodable: &Undecodables,
    stored: bool,
) -> Option<K> {
    let (name, namespace) = (object.name_any(), object.namespace());
    let key = undecodable_key::<K>(&object);
    let decoded = serde_json::to_value(&object).and_then(serde_json::from_value::<K>);
    let mut undecodable = undecodable.write().unwrap_or_else(|p| p.into_inner());
    match decoded {
        Ok(typed) => {
            if let Some(key) = key {
                undecodable.remove(&key);
            }
            Some(typed)
        }
        Err(error) => {
            let namespace = namespace.unwrap_or_default();
            tracing::warn!(kind = %K::kind(&()), %name, %namespace, %error, "skipping an object that does not match its schema");
            if let Some(key) = key {
                if stored {
                    let conditions = object
                        .data
                        .pointer("/status/conditions")
                        .and_then(|c| serde_json::from_value(c.clone()).ok())
                        .unwrap_or_default();
                    let entry = Undecodable {
                        uid: object.metadata.uid.clone(),
                        generation: object.metadata.generation,
                        error: error.to_string(),
                        conditions,
                    };
                    undecodable.insert(key, entry);
                } else {
                    undecodable.remove(&key);
                }
            }
            None
        }
    }
}

fn reflector<K, W>(writer: reflector::store::Writer<K>, stream: W) -> impl Stream<Item = W::Item> + Send
where
    K: Resource + Clone + Send + Sync + 'static,
    K::DynamicType: Eq + std::hash::Hash + Clone,
    W: Stream<Item = Result<watcher::Event<K>, watcher::Error>> + Send,
{
    reflector::reflector(writer, stream)
}

/// The managed kinds, all watched: every kind the planner plans.
pub const WATCHED_CHILDREN: [ChildKind; 9] = ChildKind::ALL;

/// Seconds after which the API server ends each watch; the watcher resumes it from the last
/// resource version (no relist). Shorter than the client's read timeout, so an idle watch is
/// never cut by it, while a dead connection is noticed within that timeout.
pub const WATCH_TIMEOUT_SECONDS: u32 = 40;

/// How every watch is configured.
pub fn watch_config() -> watcher::Config {
    watcher::Config::default().timeout(WATCH_TIMEOUT_SECONDS)
}

/// Where watches report failures: metrics, and the readiness probe for what needs a human
/// (a forbidden list or watch).
#[derive(Clone)]
pub struct WatchHealth {
    /// Counts `watch_errors{kind,reason}`.
    pub metrics: Arc<Metrics>,
    /// Holds the readiness reason while a watch is forbidden.
    pub probes: ProbeState,
}

impl WatchHealth {
    /// Reports a failed list or watch of `kind`: a 403 at error with the verb and a
    /// readiness reason, anything that passes on its own at warn. The watcher retries both.
    pub fn failed(&self, kind: &str, error: &watcher::Error) {
        let (verb, cause) = match error {
            watcher::Error::InitialListFailed(e) => ("list", Some(e)),
            watcher::Error::WatchStartFailed(e) | watcher::Error::WatchFailed(e) => ("watch", Some(e)),
            watcher::Error::WatchError(_) | watcher::Error::NoResourceVersion => ("watch", None),
        };
        let code = match (error, cause) {
            (watcher::Error::WatchError(status), _) => Some(status.code),
            (_, Some(kube::Error::Api(status))) => Some(status.code),
            _ => None,
        };
        let reason = match (code, cause) {
            (Some(403), _) => "forbidden",
            (_, Some(e)) if is_transient(e) => "transient",
            (Some(code), None) if is_transient_status(code) => "transient",
            _ => "other",
        };
        self.metrics.watch_errors.get_or_create(&WatchLabels { kind: kind.into(), reason: reason.into() }).inc();
        match reason {
            "forbidden" => {
                let problem =
                    format!("forbidden to {verb} {kind} (403): grant the operator's ClusterRole {verb} on it");
                tracing::error!(kind = %kind, verb = %verb, %error, "the API server forbids this; the caches cannot fill until RBAC allows it (retrying)");
                self.probes.report_problem(&format!("watch {kind}"), problem);
            }
            "transient" => tracing::warn!(kind = %kind, verb = %verb, %error, "watch failed; retrying with backoff"),
            _ => tracing::error!(kind = %kind, verb = %verb, %error, "watch failed; retrying with backoff"),
        }
    }

    /// The watch of `kind` works again.
    pub fn recovered(&self, kind: &str) {
        self.probes.clear_problem(&format!("watch {kind}"));
    }
}

/// The watch tasks that feed the caches, each known by the kind it watches. They run until
/// aborted (dropping this aborts them all); one that ends or panics is a failure.
#[derive(Default)]
pub struct Watches {
    tasks: tokio::task::JoinSet<()>,
    kinds: HashMap<tokio::task::Id, String>,
}

impl Watches {
    fn spawn(&mut self, kind: String, task: impl std::future::Future<Output = ()> + Send + 'static) {
        let handle = self.tasks.spawn(task);
        self.kinds.insert(handle.id(), kind);
    }

    /// Waits until a watch task ends, which they never should: the kind, and how it ended.
    /// Never resolves while they all run (or when there are none).
    pub async fn ended(&mut self) -> (String, String) {
        let (id, how) = match self.tasks.join_next_with_id().await {
            Some(Ok((id, ()))) => (id, "its stream ended".to_string()),
            Some(Err(error)) if error.is_panic() => {
                let id = error.id();
                let payload = error.into_panic();
                let message = payload
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                (id, format!("it panicked: {message}"))
            }
            Some(Err(error)) => (error.id(), "it was cancelled".to_string()),
            None => std::future::pending().await,
        };
        (self.kinds.remove(&id).unwrap_or_else(|| "an unknown kind".into()), how)
    }

    /// Stops every watch.
    pub fn abort_all(&mut self) {
        self.tasks.abort_all();
    }
}

/// What each watch task needs: the client, the caches it feeds, whom it re-queues and where
/// it reports failures.
struct Feeds<'a> {
    client: &'a Client,
    caches: Caches,
    triggers: Triggers,
    health: WatchHealth,
}

impl Feeds<'_> {
    /// Watches one tenantry kind into its store and hands each event to `handle`.
    fn tenantry_kind<K>(
        &self,
        watches: &mut Watches,
        writer: reflector::store::Writer<K>,
        handle: fn(&Caches, &Triggers, watcher::Event<K>),
        on_undecodable: fn(&Caches, &Triggers, &DynamicObject),
    ) where
        K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    {
        let kind = K::kind(&()).to_string();
        let (caches, triggers) = (self.caches.clone(), self.triggers.clone());
        let undecodable = {
            let (caches, triggers) = (caches.clone(), triggers.clone());
            move |object: &DynamicObject| on_undecodable(&caches, &triggers, object)
        };
        let events = reflected::<K>(self.client, watch_config(), writer, caches.undecodable.clone(), undecodable);
        let task = drain(events, kind.clone(), self.health.clone(), move |event| handle(&caches, &triggers, event));
        watches.spawn(kind, task);
    }

    /// Watches the managed objects of one child kind (by label) into its store.
    fn child_kind(&self, watches: &mut Watches, kind: ChildKind, writer: reflector::store::Writer<StoredChild>) {
        let managed = watch_config().labels(&format!("{}={}", labels::MANAGED_BY, labels::MANAGER));
        let api = Api::<DynamicObject>::all_with(self.client.clone(), &api_resource(kind));
        let stored = watcher(api, managed).default_backoff().modify(slim).map_ok(|event| match event {
            watcher::Event::Apply(object) => watcher::Event::Apply(StoredChild::from(object)),
            watcher::Event::InitApply(object) => watcher::Event::InitApply(StoredChild::from(object)),
            watcher::Event::Delete(object) => watcher::Event::Delete(StoredChild::from(object)),
            watcher::Event::Init => watcher::Event::Init,
            watcher::Event::InitDone => watcher::Event::InitDone,
        });
        let events = reflector(writer, stored);
        let (caches, triggers) = (self.caches.clone(), self.triggers.clone());
        let task = drain(events, kind.name().to_string(), self.health.clone(), move |event| {
            on_child(&caches, &triggers, kind, event)
        });
        watches.spawn(kind.name().to_string(), task);
    }
}

impl Feeds<'_> {
    /// Watches the Jobs of scheduled workflows (by the labels on their CronJobs' job
    /// templates) for their runs. Not a cache the controllers wait for: until the Jobs are
    /// listed, the run counts in statuses are left as they are.
    fn jobs(&self, watches: &mut Watches) {
        let api = Api::<DynamicObject>::all_with(self.client.clone(), &kube::core::ApiResource::erase::<Job>(&()));
        let events = watcher(api, watch_config().labels(&jobs::selector())).default_backoff();
        let (caches, triggers) = (self.caches.clone(), self.triggers.clone());
        let mut runs = JobEvents::new(caches.job_runs.clone());
        let task = drain(events, "Job".to_string(), self.health.clone(), move |event| {
            for namespace in runs.handle(event) {
                triggers.tenants(caches.index().tenants_in_namespace(&namespace));
            }
        });
        watches.spawn("Job".to_string(), task);
    }
}

/// Builds the caches and spawns one watch task per kind into `watches`. Returns the caches
/// at once; they fill as the watches list.
pub fn start(client: &Client, triggers: Triggers, health: WatchHealth, watches: &mut Watches) -> Caches {
    let index = Arc::new(RwLock::new(FleetIndex::default()));
    let (partners, partner_writer) = reflector::store();
    let (tiers, tier_writer) = reflector::store();
    let (tenants, tenant_writer) = reflector::store();
    let (workflows, workflow_writer) = reflector::store();
    let (policies, policy_writer) = reflector::store();
    let (approvals, approval_writer) = reflector::store();
    let (billing_records, record_writer) = reflector::store();
    let mut children = BTreeMap::new();
    let mut child_writers = Vec::new();
    for kind in WATCHED_CHILDREN {
        let writer = reflector::store::Writer::new(api_resource(kind));
        children.insert(kind, writer.as_reader());
        child_writers.push((kind, writer));
    }
    let undecodable = Undecodables::default();
    let record_index = RecordIndex::default();
    let job_runs = JobRuns::default();
    let caches = Caches {
        partners,
        tiers,
        tenants,
        workflows,
        policies,
        approvals,
        children,
        index,
        undecodable,
        billing_records,
        record_index,
        job_runs,
    };
    let feeds = Feeds { client, caches: caches.clone(), triggers, health };
    let ignore = |_: &Caches, _: &Triggers, _: &DynamicObject| {};
    feeds.tenantry_kind(watches, partner_writer, on_partner, ignore);
    feeds.tenantry_kind(watches, tier_writer, on_tier, ignore);
    feeds.tenantry_kind(watches, tenant_writer, on_tenant, on_undecodable_tenant);
    feeds.tenantry_kind(watches, workflow_writer, on_workflow, on_undecodable_workflow);
    feeds.tenantry_kind(watches, policy_writer, on_policy, ignore);
    feeds.tenantry_kind(watches, approval_writer, on_approval, ignore);
    feeds.tenantry_kind(watches, record_writer, billing::on_record, ignore);
    for (kind, writer) in child_writers {
        feeds.child_kind(watches, kind, writer);
    }
    feeds.jobs(watches);
    caches
}

/// A tenant that stops decoding is reconciled, to report why.
fn on_undecodable_tenant(_: &Caches, triggers: &Triggers, object: &DynamicObject) {
    triggers.tenant(&object.name_any());
}

/// A workflow that stops decoding re-queues the tenant of its namespace, to report why.
fn on_undecodable_workflow(caches: &Caches, triggers: &Triggers, object: &DynamicObject) {
    let namespace = object.namespace().unwrap_or_default();
    triggers.tenants(caches.index().tenants_in_namespace(&namespace));
}

/// A partner changed: its tenants, and the fleet statuses.
fn on_partner(caches: &Caches, triggers: &Triggers, event: watcher::Event<Partner>) {
    // The fleet pass writes partners' statuses; no tenant's plan reads them.
    let declared_change = match &event {
        watcher::Event::Apply(partner) | watcher::Event::InitApply(partner) => {
            caches.index_mut().declared_changed("Partner", &partner.metadata)
        }
        watcher::Event::Delete(partner) => {
            caches.index_mut().forget_declared("Partner", &partner.name_any());
            true
        }
        watcher::Event::Init | watcher::Event::InitDone => false,
    };
    if let Some(partner) = touched(event).filter(|_| declared_change) {
        triggers.tenants(caches.index().tenants_of_partner(&partner.name_any()));
    }
    triggers.fleet.notify_one();
}

/// A tier changed: the index, the tenants on it, and the fleet statuses.
fn on_tier(caches: &Caches, triggers: &Triggers, event: watcher::Event<ServiceTier>) {
    // The fleet pass writes tiers' statuses; no tenant's plan reads them.
    let declared_change = match &event {
        watcher::Event::Apply(tier) | watcher::Event::InitApply(tier) => {
            caches.index_mut().upsert_tier(tier);
            caches.index_mut().declared_changed("ServiceTier", &tier.metadata)
        }
        watcher::Event::Delete(tier) => {
            caches.index_mut().remove_tier(&tier.name_any());
            caches.index_mut().forget_declared("ServiceTier", &tier.name_any());
            true
        }
        watcher::Event::InitDone => {
            let listed = caches.tiers.state();
            caches.index_mut().rebuild_tiers(listed.iter().map(|t| t.as_ref()));
            false
        }
        watcher::Event::Init => false,
    };
    if let Some(tier) = touched(event).filter(|_| declared_change) {
        triggers.tenants(caches.index().tenants_of_tier(&tier.name_any()));
    }
    triggers.fleet.notify_one();
}

/// A tenant changed: the index, the tenant, the tenants sharing its namespace, the fleet.
fn on_tenant(caches: &Caches, triggers: &Triggers, event: watcher::Event<Tenant>) {
    match &event {
        watcher::Event::Apply(tenant) | watcher::Event::InitApply(tenant) => {
            // Tenants that shared the old or share the new namespace are affected too.
            let previous_namespace =
                caches.index().tenants_in_namespace(&tenant.spec.namespace_for(&tenant.name_any()));
            // Its own status written back is no reason to plan it again; a status written by
            // anyone else is (a restored or seeded history).
            let declared_change = caches.index_mut().upsert_tenant(tenant);
            if declared_change || !caches.index().is_own_status_write("Tenant", &tenant.metadata) {
                triggers.tenants(previous_namespace);
                triggers.tenant(&tenant.name_any());
            }
        }
        watcher::Event::Delete(tenant) => {
            caches.index_mut().remove_tenant(&tenant.name_any());
            caches.index_mut().forget_own_status("Tenant", "", &tenant.name_any());
            triggers.tenants(caches.index().tenants_in_namespace(&tenant.spec.namespace_for(&tenant.name_any())));
        }
        watcher::Event::InitDone => {
            let listed = caches.tenants.state();
            caches.index_mut().rebuild_tenants(listed.iter().map(|t| t.as_ref()));
        }
        watcher::Event::Init => {}
    }
    triggers.fleet.notify_one();
}

/// A workflow changed: the index, and the tenant owning its namespace (or the fleet pass,
/// for a namespace of no tenant).
fn on_workflow(caches: &Caches, triggers: &Triggers, event: watcher::Event<Workflow>) {
    // Its own status written back is no reason to plan its tenant again.
    let concerns_tenant = match &event {
        watcher::Event::Apply(workflow) | watcher::Event::InitApply(workflow) => {
            let declared_change = caches.index_mut().upsert_workflow(workflow);
            declared_change || !caches.index().is_own_status_write("Workflow", &workflow.metadata)
        }
        watcher::Event::Delete(workflow) => {
            caches.index_mut().remove_workflow(workflow);
            true
        }
        watcher::Event::InitDone => {
            let listed = caches.workflows.state();
            caches.index_mut().rebuild_workflows(listed.iter().map(|w| w.as_ref()));
            false
        }
        watcher::Event::Init => false,
    };
    if let Some(workflow) = touched(event) {
        // Orphans' statuses and approvals of any workflow are fleet statuses.
        triggers.fleet.notify_one();
        if concerns_tenant {
            let namespace = workflow.namespace().unwrap_or_default();
            triggers.tenants(caches.index().tenants_in_namespace(&namespace));
        }
    }
}

/// An approval changed: the tenant owning its namespace (it may release a held workflow)
/// and the fleet pass (which writes approvals' statuses).
fn on_approval(caches: &Caches, triggers: &Triggers, event: watcher::Event<Approval>) {
    match &event {
        watcher::Event::Apply(approval) | watcher::Event::InitApply(approval) => {
            caches.index_mut().upsert_approval(approval)
        }
        watcher::Event::Delete(approval) => caches.index_mut().remove_approval(approval),
        watcher::Event::InitDone => {
            let listed = caches.approvals.state();
            caches.index_mut().rebuild_approvals(listed.iter().map(|a| a.as_ref()));
        }
        watcher::Event::Init => {}
    }
    if let Some(approval) = touched(event) {
        triggers.tenants(caches.index().tenants_in_namespace(&approval.namespace().unwrap_or_default()));
    }
    triggers.fleet.notify_one();
}

/// A policy changed: the tenants it selected before and selects now, and the fleet.
fn on_policy(caches: &Caches, triggers: &Triggers, event: watcher::Event<GovernancePolicy>) {
    match &event {
        watcher::Event::Apply(policy) | watcher::Event::InitApply(policy) => {
            let selected = caches.selected_by(policy);
            let before = caches.index_mut().set_policy_tenants(&policy.name_any(), selected.clone());
            // A status-only event (the fleet pass writes policies' statuses) concerns only
            // tenants whose selection moved meanwhile; a declared change, all of them.
            if caches.index_mut().declared_changed("GovernancePolicy", &policy.metadata) {
                triggers.tenants(before.union(&selected).cloned().collect::<Vec<_>>());
            } else {
                triggers.tenants(before.symmetric_difference(&selected).cloned().collect::<Vec<_>>());
            }
        }
        watcher::Event::Delete(policy) => {
            caches.index_mut().forget_declared("GovernancePolicy", &policy.name_any());
            triggers.tenants(caches.index_mut().remove_policy(&policy.name_any()))
        }
        watcher::Event::Init | watcher::Event::InitDone => {}
    }
    triggers.fleet.notify_one();
}

/// A managed child changed: the index, and the tenant it belongs to.
fn on_child(caches: &Caches, triggers: &Triggers, kind: ChildKind, event: watcher::Event<StoredChild>) {
    match event {
        // The cache keeps serving the previous list until the new one is complete, and so
        // does the index: a partial list must never make a child look unwanted.
        watcher::Event::Init => {}
        watcher::Event::Apply(object) | watcher::Event::InitApply(object) => {
            if let Some(tenant) = caches.index_mut().upsert_child(kind, &object) {
                triggers.tenant(&tenant);
            }
        }
        watcher::Event::Delete(object) => {
            // A deleted managed object is re-created by its tenant's reconcile.
            if let Some(tenant) = caches.index_mut().remove_child(&ChildRef::of(kind, &object)) {
                triggers.tenant(&tenant);
            }
        }
        watcher::Event::InitDone => {
            if let Some(store) = caches.children.get(&kind) {
                let listed = store.state();
                let bereft = caches.index_mut().rebuild_children(kind, listed.iter().map(|o| o.as_ref()));
                triggers.tenants(bereft);
            }
        }
    }
}

fn touched<K>(event: watcher::Event<K>) -> Option<K> {
    match event {
        watcher::Event::Apply(object) | watcher::Event::InitApply(object) | watcher::Event::Delete(object) => {
            Some(object)
        }
        watcher::Event::Init | watcher::Event::InitDone => None,
    }
}

/// Consumes a watch, handing each event to `handle`. Failures are reported to `health`; the
/// watcher's backoff retries them, and the first event after one clears it.
async fn drain<K>(
    events: impl Stream<Item = Result<watcher::Event<K>, watcher::Error>> + Send,
    kind: String,
    health: WatchHealth,
    mut handle: impl FnMut(watcher::Event<K>) + Send,
) {
    let mut events = std::pin::pin!(events);
    let mut failing = false;
    while let Some(event) = events.next().await {
        match event {
            Ok(event) => {
                if std::mem::take(&mut failing) {
                    tracing::info!(kind = %kind, "watch works again");
                    health.recovered(&kind);
                }
                handle(event)
            }
            Err(error) => {
                failing = true;
                health.failed(&kind, &error);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{decode, Undecodables};
    use crate::api::Tenant;
    use kube::api::DynamicObject;
    use serde_json::json;

    fn dynamic(spec: serde_json::Value) -> DynamicObject {
        serde_json::from_value(json!({
            "apiVersion": "tenantry.dev/v1alpha1", "kind": "Tenant", "metadata": {"name": "shop"}, "spec": spec
        }))
        .expect("a dynamic object")
    }

    #[test]
    fn an_object_that_does_not_decode_is_skipped_not_fatal() {
        let undecodable = Undecodables::default();
        let key = ("Tenant".to_string(), String::new(), "shop".to_string());
        let good =
            dynamic(json!({"partnerRef": "acme", "tierRef": "basic", "displayName": "Shop", "region": "eu-west-1"}));
        let missing_field = dynamic(json!({"partnerRef": "acme", "displayName": "Shop", "region": "eu-west-1"}));
        assert!(decode::<Tenant>(missing_field.clone(), &undecodable, true).is_none());
        let recorded = undecodable.read().unwrap().get(&key).cloned().expect("recorded as undecodable");
        assert!(recorded.error.contains("tierRef"), "{}", recorded.error);
        assert!(decode::<Tenant>(good.clone(), &undecodable, true).is_some());
        assert!(undecodable.read().unwrap().is_empty(), "decodes again: no longer frozen");
        let wrong_type =
            dynamic(json!({"partnerRef": 7, "tierRef": "basic", "displayName": "Shop", "region": "eu-west-1"}));
        assert!(decode::<Tenant>(wrong_type.clone(), &undecodable, true).is_none());
        assert!(decode::<Tenant>(wrong_type, &undecodable, false).is_none());
        assert!(undecodable.read().unwrap().is_empty(), "deleted: forgotten");
    }

    #[test]
    fn cached_objects_keep_neither_managed_fields_nor_kubectls_copy() {
        let mut object: DynamicObject = serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {
                "name": "branding", "namespace": "tenant-shop",
                "annotations": {
                    "kubectl.kubernetes.io/last-applied-configuration": "{\"a whole copy\": true}",
                    "tenantry.dev/definition-hash": "abc"
                },
                "managedFields": [{"manager": "tenantry", "operation": "Apply", "fieldsV1": {"f:data": {}}}]
            },
            "data": {"theme": "dark"}
        }))
        .expect("a config map");
        super::slim(&mut object);
        assert_eq!(object.metadata.managed_fields, None);
        let annotations = object.metadata.annotations.clone().expect("ours are kept");
        assert_eq!(annotations.keys().collect::<Vec<_>>(), ["tenantry.dev/definition-hash"]);
        assert_eq!(object.data["data"]["theme"], "dark", "the object itself is untouched");
        let mut only_kubectls: DynamicObject = serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "x", "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"}}
        }))
        .expect("a config map");
        super::slim(&mut only_kubectls);
        assert_eq!(only_kubectls.metadata.annotations, None);
    }
}

#[cfg(test)]
mod metadata_tests {
    use crate::api::Tenant;
    use kube::api::PartialObjectMeta;
    use serde_json::json;

    /// The tenant controller watches `PartialObjectMeta<Tenant>` but the API server sends whole
    /// tenants, with a spec that may not even decode as a `Tenant`.
    #[test]
    fn a_whole_tenant_decodes_as_its_metadata() {
        let whole = json!({
            "apiVersion": "tenantry.dev/v1alpha1", "kind": "Tenant",
            "metadata": {"name": "shop", "uid": "u-1", "finalizers": ["tenantry.dev/cleanup"]},
            "spec": {"partnerRef": 7, "unexpected": {"deeply": ["nested"]}},
            "status": {"namespace": "tenant-shop"}
        });
        let meta: PartialObjectMeta<Tenant> = serde_json::from_value(whole).expect("metadata decodes");
        assert_eq!(meta.metadata.name.as_deref(), Some("shop"));
        assert_eq!(meta.metadata.finalizers, Some(vec!["tenantry.dev/cleanup".to_string()]));
    }
}

#[cfg(test)]
mod policy_tests {
    use super::Caches;
    use crate::api::GovernancePolicy;
    use crate::planner::fixtures;
    use std::collections::BTreeSet;

    #[test]
    fn a_policy_selects_by_partner_and_labels() {
        let mut world = fixtures::fleet();
        world.tenants[0].metadata.labels = Some([("tenantry.dev/compliance".to_string(), "strict".to_string())].into());
        world.tenants.push(fixtures::tenant("relaxed", "acme", "basic"));
        world.tenants.push(fixtures::tenant("elsewhere", "other", "basic"));
        let caches = Caches::from_snapshot(&world, Vec::new());
        let policy = |partner: Option<&str>, strict: bool| -> GovernancePolicy {
            let selector = if strict {
                serde_json::json!({"matchLabels": {"tenantry.dev/compliance": "strict"}})
            } else {
                serde_json::json!({})
            };
            let mut spec = serde_json::json!({"tenantSelector": selector});
            if let Some(partner) = partner {
                spec["partnerRef"] = serde_json::json!(partner);
            }
            serde_json::from_value(serde_json::json!({
                "apiVersion": "tenantry.dev/v1alpha1", "kind": "GovernancePolicy", "metadata": {"name": "p"}, "spec": spec
            }))
            .expect("policy")
        };
        let names = |list: &[&str]| list.iter().map(|n| n.to_string()).collect::<BTreeSet<_>>();
        assert_eq!(caches.selected_by(&policy(None, false)), names(&["elsewhere", "relaxed", "shop"]));
        assert_eq!(caches.selected_by(&policy(Some("acme"), false)), names(&["relaxed", "shop"]));
        assert_eq!(caches.selected_by(&policy(Some("acme"), true)), names(&["shop"]));
    }
}
