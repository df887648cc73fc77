//! How much memory the operator's caches take for a fleet: the declared objects, their
//! billing records and every child the plan wants, stored as the controller stores what it
//! watches. Run with `cargo bench --bench cache_memory` (`-- quick`: 1,000 tenants only).
//! Figures only.
//!
//! The children here are the planned objects plus the metadata the API server adds (UID,
//! resourceVersion, creation time); the server's defaults and the workloads' status are not
//! in them, so the live figure (`tests/live_bench.rs`) is the one to trust, and this one the
//! one to compare changes with at 10,000 tenants without a cluster.
//!
//! Each figure is measured in a process of its own that reads the objects from a file one
//! line at a time: a heap that planning had freed into would hide what the caches add.

#![allow(clippy::expect_used)]

#[path = "../planner/benches/support/mod.rs"]
mod support;

use kube::api::DynamicObject;
use serde_json::{json, Value};
use std::io::{BufRead, Write};
use support::{fleet, machine, now, resident_mib};
use tenantry::planner::{self, ChildKind, World};

/// What one measuring process fills its caches with.
const PARTS: [&str; 4] = ["everything", "declared objects", "billing records", "children"];

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|a| a == "--measure") {
        let (part, file) = (&args[at + 1], &args[at + 2]);
        return measure(part, std::path::Path::new(file));
    }
    println!("machine: {}", machine());
    let sizes: &[usize] = if args.iter().any(|a| a == "quick") { &[1_000] } else { &[1_000, 10_000] };
    println!(
        "{:<8} {:<18} {:>10} {:>10} {:>10} {:>14}",
        "tenants", "cached", "children", "records", "MiB", "KiB a tenant"
    );
    for tenants in sizes {
        let file = std::env::temp_dir().join(format!("tenantry-cache-memory-{tenants}-{}.jsonl", std::process::id()));
        write_fleet(*tenants, &file);
        for part in PARTS {
            let output = std::process::Command::new(std::env::current_exe().expect("this bench"))
                .args(["--measure", part, &file.display().to_string()])
                .output()
                .expect("the measuring process runs");
            print!("{}", String::from_utf8_lossy(&output.stdout));
            eprint!("{}", String::from_utf8_lossy(&output.stderr));
        }
        let _ = std::fs::remove_file(&file);
    }
}

/// Writes a generated fleet of `tenants`, its billing records and its planned children as
/// observed, one object a line: `{"cache": ..., "object": ...}`.
fn write_fleet(tenants: usize, file: &std::path::Path) {
    let world = fleet(tenants);
    let plan = planner::plan(&world, now());
    let mut out = std::io::BufWriter::new(std::fs::File::create(file).expect("a temporary file"));
    let mut line = |cache: &str, object: Value| {
        writeln!(out, "{}", json!({ "cache": cache, "object": object })).expect("written");
    };
    let value = |object: &dyn erased::Json| object.json();
    world.partners.iter().for_each(|o| line("Partner", value(o)));
    world.tiers.iter().for_each(|o| line("ServiceTier", value(o)));
    world.tenants.iter().for_each(|o| line("Tenant", value(o)));
    world.workflows.iter().for_each(|o| line("Workflow", value(o)));
    world.policies.iter().for_each(|o| line("GovernancePolicy", value(o)));
    world.approvals.iter().for_each(|o| line("Approval", value(o)));
    world.billing_records.iter().chain(plan.billing_records.values()).for_each(|o| line("BillingRecord", value(o)));
    for (n, child) in plan.children.iter().enumerate() {
        line(child.object.kind().name(), observed(n, &child.object));
    }
}

/// Serializing any of the kinds through one closure.
mod erased {
    /// An object that can be written as JSON.
    pub trait Json {
        /// The object as JSON.
        fn json(&self) -> serde_json::Value;
    }
    impl<T: serde::Serialize> Json for T {
        fn json(&self) -> serde_json::Value {
            serde_json::to_value(self).expect("serializes")
        }
    }
}

/// Reads the file, fills caches with `part` of it and prints what they added to the
/// resident memory.
fn measure(part: &str, file: &std::path::Path) {
    let mut world = World::default();
    let mut observed: Vec<(ChildKind, DynamicObject)> = Vec::new();
    let reader = std::io::BufReader::new(std::fs::File::open(file).expect("the fleet file"));
    let mut tenants = 0;
    for line in reader.lines() {
        let line: Value = serde_json::from_str(&line.expect("a line")).expect("json");
        let (cache, object) = (line["cache"].as_str().unwrap_or_default(), line["object"].clone());
        let declared = matches!(part, "everything" | "declared objects");
        match cache {
            "Tenant" => {
                tenants += 1;
                if declared {
                    world.tenants.push(typed(object));
                }
            }
            "Partner" if declared => world.partners.push(typed(object)),
            "ServiceTier" if declared => world.tiers.push(typed(object)),
            "Workflow" if declared => world.workflows.push(typed(object)),
            "GovernancePolicy" if declared => world.policies.push(typed(object)),
            "Approval" if declared => world.approvals.push(typed(object)),
            "BillingRecord" if matches!(part, "everything" | "billing records") => {
                world.billing_records.push(typed(object))
            }
            kind if matches!(part, "everything" | "children") => {
                if let Some(kind) = ChildKind::ALL.into_iter().find(|k| k.name() == kind) {
                    observed.push((kind, typed(object)));
                }
            }
            _ => {}
        }
    }
    let before = resident_mib();
    let caches = tenantry::shell::cache::Caches::from_snapshot(&world, observed.iter().cloned());
    let added = resident_mib() - before;
    println!(
        "{:<8} {:<18} {:>10} {:>10} {:>10.0} {:>14.1}",
        tenants,
        part,
        observed.len(),
        world.billing_records.len(),
        added,
        added * 1024.0 / tenants.max(1) as f64
    );
    drop(caches);
}

/// Decodes one object of the file.
fn typed<K: serde::de::DeserializeOwned>(object: Value) -> K {
    serde_json::from_value(object).expect("decodes")
}

/// A planned child as a watch would deliver it: with the metadata the API server sets.
fn observed(n: usize, child: &planner::ChildObject) -> Value {
    let mut manifest = child.to_manifest().expect("a planned child serializes");
    let metadata = &mut manifest["metadata"];
    metadata["uid"] = format!("00000000-0000-4000-8000-{n:012}").into();
    metadata["resourceVersion"] = (1_000_000 + n).to_string().into();
    metadata["creationTimestamp"] = "2026-11-01T00:00:00Z".into();
    metadata["generation"] = 1.into();
    manifest
}
