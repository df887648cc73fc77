//! Operator benchmarks: one tenant planned from the controller's own indexed caches (one live
//! reconcile), and loading, planning and rendering the bundled example (`tenantry plan`).
//! Run with `cargo bench --bench live`; `cargo bench --bench plan` measures the planner alone.
//! Figures only: nothing here passes or fails on time.

#![allow(clippy::expect_used)]

#[path = "../planner/benches/support/mod.rs"]
mod support;

use support::{fleet, measure};
use tenantry::planner;

fn main() {
    let now: jiff::Timestamp = "2026-11-15T09:00:00Z".parse().expect("instant");
    println!("{:<44} {:>12} {:>12} {:>10}", "benchmark", "median", "fastest", "children");
    for tenants in [100, 1_000, 5_000] {
        let world = fleet(tenants);
        let mut children = 0;
        let caches = tenantry::shell::cache::Caches::from_snapshot(&world, Vec::new());
        let target = format!("tenant-{:05}", tenants / 2);
        let (median, fastest) = measure(101, || {
            let slice = planner::tenant_slice(&caches, &target).expect("tenant");
            children = planner::plan(&slice, now).for_tenant(&target).children.len();
        });
        println!(
            "{:<44} {:>10.3}ms {:>10.3}ms {:>10}",
            format!("plan one tenant from caches (of {tenants})"),
            median.as_secs_f64() * 1e3,
            fastest.as_secs_f64() * 1e3,
            children
        );
    }
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/gitops");
    let (median, fastest) = measure(21, || {
        let loaded = tenantry::input::load_dir(&example).expect("the example loads");
        let plan = planner::plan(&loaded.world, now);
        tenantry::render::yaml(&plan, &mut std::io::sink()).expect("renders");
    });
    println!(
        "{:<44} {:>10.2}ms {:>10.2}ms",
        "load + plan + render examples/gitops",
        median.as_secs_f64() * 1e3,
        fastest.as_secs_f64() * 1e3
    );
}
