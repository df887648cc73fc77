//! What the suites that run against a real API server share (`cluster`, `drills`,
//! `live_bench`): a client as the operator builds it, the CRDs installed, polling until
//! something holds, unique names, and bills that stay quiet while writes are counted.
//! Each suite uses a part of it.

#![allow(dead_code, clippy::expect_used, clippy::panic)]

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, Patch, PatchParams};
use kube::{Client, Config};
use std::future::Future;
use std::time::Duration;

/// A client for `KUBECONFIG`'s cluster, with the operator's own timeouts.
pub async fn client() -> Client {
    let config = Config::infer().await.expect("a kubeconfig: set KUBECONFIG (testenv/up prints one)");
    Client::try_from(tenantry::shell::operator::with_timeouts(config)).expect("a client")
}

/// Logs of the code under test, at `default` unless `RUST_LOG` says otherwise, through the
/// test harness's capture.
pub fn init_logs(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_test_writer().try_init();
}

/// Installs (or updates) the tenantry CRDs as `manager` and waits until the API server
/// serves them.
pub async fn install_crds(client: &Client, manager: &str) {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    for crd in tenantry::crdgen::all() {
        let name = crd.metadata.name.clone().expect("CRDs are named");
        api.patch(&name, &PatchParams::apply(manager).force(), &Patch::Apply(&crd))
            .await
            .unwrap_or_else(|e| panic!("the API server refused CRD {name}: {e}"));
    }
    for crd in tenantry::crdgen::all() {
        let name = crd.metadata.name.clone().expect("CRDs are named");
        eventually(&format!("CRD {name} established"), Duration::from_secs(90), || {
            let (api, name) = (api.clone(), name.clone());
            async move {
                let conditions = api.get(&name).await.ok()?.status?.conditions?;
                conditions.iter().any(|c| c.type_ == "Established" && c.status == "True").then_some(())
            }
        })
        .await;
    }
}

/// Polls `check` every 250 ms until it returns `Some`, or fails the test after `within`: a
/// deadline after which waiting longer would not help, never a performance assertion.
pub async fn eventually<T, F, Fut>(what: &str, within: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("gave up after {within:?} waiting for: {what}");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// A unique, DNS-safe suffix for one test run.
pub fn unique(test: &str) -> String {
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    format!("{test}-{:x}{:05x}", std::process::id() % 0xfff, nanos % 0xfffff)
}

/// Open bills refreshed once a day instead of once an hour, so that writes counted over a
/// few seconds never include the hourly refresh (a legitimate write) by chance.
pub fn quiet_billing() -> tenantry::planner::ClosingRules {
    tenantry::planner::ClosingRules { refresh: jiff::SignedDuration::from_hours(24), ..Default::default() }
}
