//! Runs of scheduled workflows, from the Jobs their CronJobs create. The Jobs are watched by
//! the labels the planner puts on each CronJob's job template (`managed-by=tenantry` and
//! `tenantry.dev/workflow`), and only what counts a run is kept: which workflow, when the
//! Job was scheduled, and how it finished. The planner adds the finished ones to the
//! workflow's `status.runs` (`planner::count_runs`), so the counts outlive the Jobs the
//! CronJob's history limits delete.

use crate::planner::{labels, FinishedRun, NamespacedName};
use kube::api::DynamicObject;
use kube::runtime::watcher;
use kube::ResourceExt;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, RwLock};

/// The annotation the CronJob controller puts on each Job: when it was scheduled.
pub const SCHEDULED_AT: &str = "batch.kubernetes.io/cronjob-scheduled-timestamp";

/// The label selector of the Jobs watched.
pub fn selector() -> String {
    format!("{}={},{}", labels::MANAGED_BY, labels::MANAGER, labels::WORKFLOW)
}

/// Each workflow's Jobs, by Job name: `None` while it runs, the finished run once it ended.
type ByWorkflow = HashMap<NamespacedName, BTreeMap<String, Option<FinishedRun>>>;

/// What the Jobs of every scheduled workflow show, shared by the watch and the reconciles.
#[derive(Clone, Default)]
pub struct JobRuns {
    inner: Arc<RwLock<Runs>>,
}

#[derive(Default)]
struct Runs {
    /// Whether a list of the Jobs completed once: until then nothing is known.
    listed: bool,
    by_workflow: ByWorkflow,
}

/// One Job, as far as runs are concerned.
#[derive(Debug, Clone, PartialEq)]
pub struct JobRun {
    /// The workflow it ran (namespace, name).
    pub workflow: NamespacedName,
    /// The Job's name.
    pub name: String,
    /// How it finished, once it did.
    pub finished: Option<FinishedRun>,
}

impl JobRun {
    /// Reads a Job: `None` when it carries no workflow label.
    pub fn of(job: &DynamicObject) -> Option<JobRun> {
        let workflow = job.labels().get(labels::WORKFLOW)?.clone();
        let namespace = job.namespace().unwrap_or_default();
        // The condition, when it is True: its transition time is when the Job finished.
        let condition = |type_: &str| {
            job.data
                .pointer("/status/conditions")
                .and_then(Value::as_array)
                .and_then(|c| c.iter().find(|c| c["type"] == type_ && c["status"] == "True"))
                .map(|c| c["lastTransitionTime"].as_str().and_then(|t| t.parse::<jiff::Timestamp>().ok()))
        };
        let (outcome, ended) = match (condition("Complete"), condition("Failed")) {
            (Some(ended), _) => (Some(true), ended),
            (None, Some(ended)) => (Some(false), ended),
            (None, None) => (None, None),
        };
        let scheduled = job
            .annotations()
            .get(SCHEDULED_AT)
            .and_then(|t| t.parse::<jiff::Timestamp>().ok())
            .or_else(|| job.metadata.creation_timestamp.as_ref().map(|t| t.0));
        let finished = match (outcome, scheduled) {
            (Some(succeeded), Some(scheduled)) => Some(FinishedRun { scheduled, succeeded, ended }),
            _ => None,
        };
        Some(JobRun { workflow: (namespace, workflow), name: job.name_any(), finished })
    }
}

impl JobRuns {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, Runs> {
        self.inner.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Runs> {
        self.inner.write().unwrap_or_else(|p| p.into_inner())
    }

    /// The finished runs of one workflow the cluster holds, oldest first; `None` until the
    /// Jobs were listed once (then the counts in the status are left as they are).
    pub fn finished(&self, namespace: &str, workflow: &str) -> Option<Vec<FinishedRun>> {
        let runs = self.read();
        if !runs.listed {
            return None;
        }
        let key = (namespace.to_string(), workflow.to_string());
        let mut finished: Vec<FinishedRun> =
            runs.by_workflow.get(&key).into_iter().flat_map(|jobs| jobs.values().flatten().cloned()).collect();
        finished.sort_by_key(|run| run.scheduled);
        Some(finished)
    }

    /// Records a Job that was added or changed. Returns its namespace when a run finished
    /// that was not known finished: the tenant there has runs to count.
    pub fn upsert(&self, run: JobRun) -> Option<String> {
        let mut runs = self.write();
        let jobs = runs.by_workflow.entry(run.workflow.clone()).or_default();
        let known = jobs.insert(run.name, run.finished.clone());
        (run.finished.is_some() && known.flatten() != run.finished).then_some(run.workflow.0)
    }

    /// Forgets a deleted Job (its run stays counted in the status).
    pub fn remove(&self, run: &JobRun) {
        let mut runs = self.write();
        if let Some(jobs) = runs.by_workflow.get_mut(&run.workflow) {
            jobs.remove(&run.name);
            if jobs.is_empty() {
                runs.by_workflow.remove(&run.workflow);
            }
        }
    }

    /// Replaces everything with a complete list. Returns the namespaces whose finished runs
    /// changed.
    pub fn replace(&self, listed: ByWorkflow) -> BTreeSet<String> {
        let mut runs = self.write();
        let finished = |jobs: Option<&BTreeMap<String, Option<FinishedRun>>>| -> Vec<(String, FinishedRun)> {
            jobs.into_iter().flatten().filter_map(|(name, run)| run.clone().map(|run| (name.clone(), run))).collect()
        };
        let keys: BTreeSet<&NamespacedName> = runs.by_workflow.keys().chain(listed.keys()).collect();
        let changed = keys
            .into_iter()
            .filter(|key| !runs.listed || finished(runs.by_workflow.get(*key)) != finished(listed.get(*key)))
            .map(|(namespace, _)| namespace.clone())
            .collect();
        runs.by_workflow = listed;
        runs.listed = true;
        changed
    }
}

/// Folds the watch's events into `runs`, a relist at a time: the Jobs listed are collected
/// apart and replace what is known only once the list is complete. Returns the namespaces
/// whose tenants have new finished runs to count.
pub struct JobEvents {
    runs: JobRuns,
    listing: Option<ByWorkflow>,
}

impl JobEvents {
    /// Events into `runs`.
    pub fn new(runs: JobRuns) -> Self {
        JobEvents { runs, listing: None }
    }

    /// Handles one event.
    pub fn handle(&mut self, event: watcher::Event<DynamicObject>) -> BTreeSet<String> {
        match event {
            watcher::Event::Init => {
                self.listing = Some(ByWorkflow::new());
                BTreeSet::new()
            }
            watcher::Event::InitApply(job) => {
                if let (Some(listing), Some(run)) = (self.listing.as_mut(), JobRun::of(&job)) {
                    listing.entry(run.workflow).or_default().insert(run.name, run.finished);
                }
                BTreeSet::new()
            }
            watcher::Event::InitDone => self.runs.replace(self.listing.take().unwrap_or_default()),
            watcher::Event::Apply(job) => JobRun::of(&job).and_then(|run| self.runs.upsert(run)).into_iter().collect(),
            watcher::Event::Delete(job) => {
                if let Some(run) = JobRun::of(&job) {
                    self.runs.remove(&run);
                }
                BTreeSet::new()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn job(name: &str, scheduled: &str, condition: Option<&str>) -> DynamicObject {
        let conditions = condition
            .map(|c| json!([{"type": c, "status": "True", "lastTransitionTime": "2026-11-01T03:00:00Z"}]))
            .unwrap_or(json!([]));
        serde_json::from_value(json!({
            "apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": name, "namespace": "tenant-shop", "creationTimestamp": "2026-11-01T00:00:01Z",
                         "labels": {"app.kubernetes.io/managed-by": "tenantry", "tenantry.dev/workflow": "nightly"},
                         "annotations": {SCHEDULED_AT: scheduled}},
            "status": {"conditions": conditions}
        }))
        .expect("a job")
    }

    #[test]
    fn finished_jobs_are_runs_of_their_workflow() {
        let runs = JobRuns::default();
        let mut events = JobEvents::new(runs.clone());
        assert_eq!(runs.finished("tenant-shop", "nightly"), None, "unknown until listed");
        events.handle(watcher::Event::Init);
        events.handle(watcher::Event::InitApply(job("a", "2026-11-01T01:00:00+01:00", Some("Complete"))));
        assert_eq!(runs.finished("tenant-shop", "nightly"), None, "a partial list is not used");
        let changed = events.handle(watcher::Event::InitDone);
        assert_eq!(changed, BTreeSet::from(["tenant-shop".to_string()]));
        let ended = Some("2026-11-01T03:00:00Z".parse().expect("time"));
        let first = FinishedRun { scheduled: "2026-11-01T00:00:00Z".parse().expect("time"), succeeded: true, ended };
        assert_eq!(runs.finished("tenant-shop", "nightly"), Some(vec![first.clone()]));

        let running = events.handle(watcher::Event::Apply(job("b", "2026-11-01T02:00:00Z", None)));
        assert!(running.is_empty(), "a running Job counts nothing yet");
        let failed = events.handle(watcher::Event::Apply(job("b", "2026-11-01T02:00:00Z", Some("Failed"))));
        assert_eq!(failed, BTreeSet::from(["tenant-shop".to_string()]), "its tenant counts it");
        assert!(events.handle(watcher::Event::Apply(job("b", "2026-11-01T02:00:00Z", Some("Failed")))).is_empty());
        events.handle(watcher::Event::Delete(job("a", "2026-11-01T01:00:00+01:00", Some("Complete"))));
        let second = FinishedRun { scheduled: "2026-11-01T02:00:00Z".parse().expect("time"), succeeded: false, ended };
        assert_eq!(runs.finished("tenant-shop", "nightly"), Some(vec![second]));
        assert_eq!(runs.finished("tenant-shop", "other"), Some(vec![]));
    }
}
