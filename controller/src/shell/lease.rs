//! Leader election on a `coordination.k8s.io/v1` Lease, as client-go does it: of several
//! replicas one reconciles; it renews every retry period and steps down when it has not
//! renewed within the renew deadline, which is shorter than the lease duration, so it has
//! stopped writing before any follower may take over.
//!
//! Expiry is judged on this replica's own clock: a follower takes the lease when the record
//! it reads has not changed for a whole lease duration since it first saw it, never by
//! comparing another machine's `renewTime` with its own time. The loops around this (follow,
//! lead, step down, compete again) are in `operator`.

use super::error::Error;
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::api::{Api, PostParams};
use kube::Client;
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

/// Settings of the lease.
#[derive(Debug, Clone)]
pub struct LeaseSettings {
    /// Namespace of the Lease object.
    pub namespace: String,
    /// Name of the Lease object (one per shard).
    pub name: String,
    /// This replica's identity, usually its pod name.
    pub identity: String,
    /// How long a lease holds without renewal: a follower takes over after that.
    pub duration: Duration,
    /// How long the leader keeps leading without a successful renewal; shorter than
    /// `duration`, so it stops writing before a follower may take over.
    pub renew_deadline: Duration,
    /// How often the leader renews and a follower tries to acquire.
    pub retry_period: Duration,
}

impl LeaseSettings {
    /// Settings in client-go's proportions: a renew deadline of two thirds of the duration
    /// and a retry period of two fifteenths (15 s, 10 s, 2 s).
    pub fn new(
        namespace: impl Into<String>,
        name: impl Into<String>,
        identity: impl Into<String>,
        duration: Duration,
    ) -> Self {
        LeaseSettings {
            namespace: namespace.into(),
            name: name.into(),
            identity: identity.into(),
            duration,
            renew_deadline: duration * 2 / 3,
            retry_period: duration * 2 / 15,
        }
    }

    fn lease_name(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
}

/// A lease this replica tries to hold.
pub struct LeaderLease {
    api: Api<Lease>,
    settings: LeaseSettings,
    /// The other holder's record as last read, and when this replica first saw it.
    observed: Mutex<Option<(Record, Instant)>>,
}

/// What identifies one renewal of a lease: if none of this changes for a lease duration, the
/// holder has stopped renewing.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Record {
    holder: String,
    renew_time: Option<MicroTime>,
    resource_version: Option<String>,
}

/// What an attempt found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// This replica holds the lease (acquired or renewed).
    Held,
    /// Another replica holds a lease that has not expired.
    HeldBy(String),
}

impl LeaderLease {
    /// A lease handle for `settings`.
    pub fn new(client: Client, settings: LeaseSettings) -> Self {
        LeaderLease { api: Api::namespaced(client, &settings.namespace), settings, observed: Mutex::default() }
    }

    /// The settings.
    pub fn settings(&self) -> &LeaseSettings {
        &self.settings
    }

    fn error(&self, action: &'static str) -> impl Fn(kube::Error) -> Error + '_ {
        move |source| Error::Lease { action, lease: self.settings.lease_name(), source }
    }

    /// Acquires the lease if it is free or expired, renews it if held. Concurrent attempts
    /// are settled by the API server's optimistic concurrency (resourceVersion): the loser
    /// gets a 409 and reports the lease as held.
    pub async fn try_acquire_or_renew(&self) -> Result<Attempt, Error> {
        let now = jiff::Timestamp::now();
        let name = &self.settings.name;
        let Some(mut lease) = self.api.get_opt(name).await.map_err(self.error("acquiring or renewing"))? else {
            let lease = Lease {
                metadata: ObjectMeta { name: Some(name.clone()), ..ObjectMeta::default() },
                spec: Some(self.spec(now, 0, None)),
            };
            return match self.api.create(&PostParams::default(), &lease).await {
                Ok(_) => Ok(Attempt::Held),
                Err(kube::Error::Api(status)) if status.code == 409 => Ok(Attempt::HeldBy("another replica".into())),
                Err(e) => Err(self.error("acquiring or renewing")(e)),
            };
        };
        let spec = lease.spec.clone().unwrap_or_default();
        let holder = spec.holder_identity.clone().unwrap_or_default();
        let transitions = spec.lease_transitions.unwrap_or(0);
        let next = if holder == self.settings.identity {
            self.spec(now, transitions, spec.acquire_time.clone())
        } else if holder.is_empty() || self.expired(&lease, &spec) {
            self.spec(now, transitions + 1, None)
        } else {
            return Ok(Attempt::HeldBy(holder));
        };
        lease.spec = Some(next);
        match self.api.replace(name, &PostParams::default(), &lease).await {
            Ok(_) => {
                *self.observed.lock().unwrap_or_else(|p| p.into_inner()) = None;
                Ok(Attempt::Held)
            }
            Err(kube::Error::Api(status)) if status.code == 409 => Ok(Attempt::HeldBy("another replica".into())),
            Err(e) => Err(self.error("acquiring or renewing")(e)),
        }
    }

    /// Whether another holder's record has stayed the same for longer than its duration, on
    /// this replica's clock.
    fn expired(&self, lease: &Lease, spec: &LeaseSpec) -> bool {
        let record = Record {
            holder: spec.holder_identity.clone().unwrap_or_default(),
            renew_time: spec.renew_time.clone(),
            resource_version: lease.metadata.resource_version.clone(),
        };
        let duration = Duration::from_secs(u64::try_from(spec.lease_duration_seconds.unwrap_or(15)).unwrap_or(15));
        let mut observed = self.observed.lock().unwrap_or_else(|p| p.into_inner());
        match observed.as_ref() {
            Some((seen, since)) if *seen == record => since.elapsed() > duration,
            _ => {
                *observed = Some((record, Instant::now()));
                false
            }
        }
    }

    /// Gives the lease up so another replica can take over at once (on a clean stop). Does
    /// nothing if another replica holds it.
    pub async fn release(&self) -> Result<(), Error> {
        let name = &self.settings.name;
        let Some(mut lease) = self.api.get_opt(name).await.map_err(self.error("releasing"))? else {
            return Ok(());
        };
        let Some(spec) = lease.spec.as_mut() else { return Ok(()) };
        if spec.holder_identity.as_deref() != Some(self.settings.identity.as_str()) {
            return Ok(());
        }
        spec.holder_identity = None;
        spec.renew_time = None;
        spec.acquire_time = None;
        self.api.replace(name, &PostParams::default(), &lease).await.map_err(self.error("releasing"))?;
        Ok(())
    }

    fn spec(&self, now: jiff::Timestamp, transitions: i32, acquired: Option<MicroTime>) -> LeaseSpec {
        LeaseSpec {
            holder_identity: Some(self.settings.identity.clone()),
            lease_duration_seconds: Some(i32::try_from(self.settings.duration.as_secs()).unwrap_or(i32::MAX)),
            acquire_time: Some(acquired.unwrap_or(MicroTime(now))),
            renew_time: Some(MicroTime(now)),
            lease_transitions: Some(transitions),
            ..LeaseSpec::default()
        }
    }
}
