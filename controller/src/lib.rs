//! tenantry: a Kubernetes operator that turns partners, service tiers, tenants, workflows,
//! governance policies and approvals into running workloads and billing records.
//!
//! This crate is the operator: the `tenantry` binary, the YAML loader ([`input`]), what
//! `tenantry plan` prints ([`render`]) and the live controller ([`shell`]). It is built on two
//! crates it re-exports under their old paths: [`api`] (`tenantry-api`, the types and CRDs)
//! and [`planner`] (`tenantry-planner`, pure: declared objects and a clock in, desired
//! children and statuses out). The command line feeds the planner from a directory of YAML;
//! the live controller feeds it from its caches.
//!
//! ```
//! use std::path::Path;
//! let yaml = r#"
//! apiVersion: tenantry.dev/v1alpha1
//! kind: Partner
//! metadata: {name: acme}
//! spec: {displayName: Acme, branding: {productName: Acme Flow}, currency: EUR, invoicePrefix: ACME}
//! ---
//! apiVersion: tenantry.dev/v1alpha1
//! kind: ServiceTier
//! metadata: {name: basic}
//! spec:
//!   partnerRef: acme
//!   displayName: Basic
//!   level: 1
//!   workflowCategories: [orderToCash]
//!   limits:
//!     maxWorkflows: 1
//!     maxConnectedSystems: 1
//!     namespaceQuota: {cpu: "1", memory: 1Gi, pods: 5}
//!     defaultContainer: {cpu: 100m, memory: 128Mi}
//!     maxContainer: {cpu: 500m, memory: 512Mi}
//!   pricing: {monthlyBaseFee: 10000}
//! ---
//! apiVersion: tenantry.dev/v1alpha1
//! kind: Tenant
//! metadata: {name: shop}
//! spec: {partnerRef: acme, tierRef: gold, displayName: Shop, region: eu-west-1}
//! "#;
//! let loaded = tenantry::input::load_text(Path::new("fleet.yaml"), yaml).expect("valid input");
//! let now = "2026-11-01T00:00:00Z".parse().expect("an instant");
//! let plan = tenantry::planner::plan(&loaded.world, now);
//! // The tier reference is wrong: the tenant is reported, and nothing of it is touched.
//! let ready = plan.tenants["shop"].conditions.iter().find(|c| c.type_ == "Ready").unwrap();
//! assert_eq!(ready.reason, "UnknownTier");
//! assert!(plan.frozen.contains(&tenantry::planner::OwnerKey::Tenant { name: "shop".into() }));
//! ```

#![forbid(unsafe_code)]

pub use tenantry_api as api;
pub use tenantry_planner as planner;

pub mod commands;
pub mod crdgen;
pub mod gate;
pub mod input;
pub mod render;
pub mod shell;
