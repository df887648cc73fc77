//! Leader election on a `coordination.k8s.io/v1` Lease: of several replicas one reconciles;
//! when it stops renewing, another takes over once the lease expires.

use super::error::Error;
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::api::{Api, PostParams};
use kube::Client;
use std::time::Duration;

/// Settings of the lease.
#[derive(Debug, Clone)]
pub struct LeaseSettings {
    /// Namespace of the Lease object.
    pub namespace: String,
    /// Name of the Lease object (one per shard).
    pub name: String,
    /// This replica's identity, usually its pod name.
    pub identity: String,
    /// How long a lease holds without renewal.
    pub duration: Duration,
}

impl LeaseSettings {
    /// How often the holder renews: a third of the duration.
    pub fn renew_every(&self) -> Duration {
        self.duration / 3
    }
}

/// A lease this replica tries to hold.
pub struct LeaderLease {
    api: Api<Lease>,
    settings: LeaseSettings,
}

/// What an attempt found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// This replica holds the lease (acquired or renewed).
    Held,
    /// Another replica holds an unexpired lease.
    HeldBy(String),
}

impl LeaderLease {
    /// A lease handle for `settings`.
    pub fn new(client: Client, settings: LeaseSettings) -> Self {
        LeaderLease { api: Api::namespaced(client, &settings.namespace), settings }
    }

    /// The settings.
    pub fn settings(&self) -> &LeaseSettings {
        &self.settings
    }

    /// Acquires the lease if it is free or expired, renews it if held. Concurrent attempts
    /// are settled by the API server's optimistic concurrency (resourceVersion).
    pub async fn try_acquire_or_renew(&self) -> Result<Attempt, Error> {
        let now = jiff::Timestamp::now();
        let name = &self.settings.name;
        let context = |e| Error::kube(format!("holding lease {}/{name}", self.settings.namespace), e);
        let Some(mut lease) = self.api.get_opt(name).await.map_err(context)? else {
            let lease = Lease {
                metadata: ObjectMeta { name: Some(name.clone()), ..ObjectMeta::default() },
                spec: Some(self.spec(now, 0, None)),
            };
            return match self.api.create(&PostParams::default(), &lease).await {
                Ok(_) => Ok(Attempt::Held),
                Err(kube::Error::Api(status)) if status.code == 409 => Ok(Attempt::HeldBy("another replica".into())),
                Err(e) => Err(context(e)),
            };
        };
        let spec = lease.spec.clone().unwrap_or_default();
        let holder = spec.holder_identity.clone().unwrap_or_default();
        let duration = jiff::SignedDuration::from_secs(i64::from(spec.lease_duration_seconds.unwrap_or(15)));
        let expired = spec.renew_time.as_ref().map(|t| t.0 + duration < now).unwrap_or(true);
        let transitions = spec.lease_transitions.unwrap_or(0);
        let next = if holder == self.settings.identity {
            self.spec(now, transitions, spec.acquire_time.clone())
        } else if holder.is_empty() || expired {
            self.spec(now, transitions + 1, None)
        } else {
            return Ok(Attempt::HeldBy(holder));
        };
        lease.spec = Some(next);
        match self.api.replace(name, &PostParams::default(), &lease).await {
            Ok(_) => Ok(Attempt::Held),
            Err(kube::Error::Api(status)) if status.code == 409 => Ok(Attempt::HeldBy("another replica".into())),
            Err(e) => Err(context(e)),
        }
    }

    /// Gives the lease up so another replica can take over at once (on a clean stop).
    pub async fn release(&self) -> Result<(), Error> {
        let name = &self.settings.name;
        let context = |e| Error::kube(format!("releasing lease {name}"), e);
        if let Some(mut lease) = self.api.get_opt(name).await.map_err(context)? {
            if let Some(spec) = lease.spec.as_mut() {
                if spec.holder_identity.as_deref() == Some(self.settings.identity.as_str()) {
                    spec.holder_identity = None;
                    spec.renew_time = None;
                    self.api.replace(name, &PostParams::default(), &lease).await.map_err(context)?;
                }
            }
        }
        Ok(())
    }

    fn spec(&self, now: jiff::Timestamp, transitions: i32, acquired: Option<MicroTime>) -> LeaseSpec {
        LeaseSpec {
            holder_identity: Some(self.settings.identity.clone()),
            lease_duration_seconds: Some(self.settings.duration.as_secs() as i32),
            acquire_time: Some(acquired.unwrap_or(MicroTime(now))),
            renew_time: Some(MicroTime(now)),
            lease_transitions: Some(transitions),
            ..LeaseSpec::default()
        }
    }
}
