//! The live operator: watches the cluster, feeds the same planner `tenantry plan` uses from
//! its caches, and makes the cluster match with server-side apply, status patches, pruning
//! and Events. Leader election, metrics and health endpoints and graceful shutdown around it.

pub mod apply;
pub mod billing;
pub mod cache;
pub mod error;
pub mod fleet;
pub mod http;
pub mod index;
pub mod jobs;
pub mod lease;
pub mod metrics;
pub mod operator;
pub mod reconcile;
#[cfg(test)]
mod resilience_tests;
pub mod stored;
#[cfg(test)]
mod tests;
