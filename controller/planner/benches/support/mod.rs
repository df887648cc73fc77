//! What the benchmarks share: a generated fleet of any size and a timer. Used by the
//! planner's `plan` bench and, through `#[path]`, by the operator's `live` bench.

#![allow(dead_code, clippy::expect_used)]

use std::time::{Duration, Instant};
use tenantry_planner::generate::{self, FleetShape};
use tenantry_planner::World;

/// Workflows each generated tenant has.
pub const WORKFLOWS_PER_TENANT: usize = 5;

/// The instant the benchmarks plan at; the generated tier history ends there.
pub fn now() -> jiff::Timestamp {
    "2026-11-15T09:00:00Z".parse().expect("instant")
}

/// The generated fleet of `tenants` tenants (`tenantry bench generate --tenants N --partners 2
/// --seed 1`): two partners, three tiers each, a year of tier history, three policies,
/// approvals and a few problem objects.
pub fn fleet(tenants: usize) -> World {
    let shape = FleetShape { tenants, workflows_per_tenant: WORKFLOWS_PER_TENANT, partners: 2, seed: 1 };
    generate::world(shape, now()).expect("the generated fleet decodes")
}

/// Peak resident memory of this process since the last [`reset_peak`], in MiB (Linux only:
/// `VmHWM` of /proc/self/status; 0 elsewhere).
pub fn peak_mib() -> f64 {
    status_kib("VmHWM:") / 1024.0
}

/// Resident memory now, in MiB.
pub fn resident_mib() -> f64 {
    status_kib("VmRSS:") / 1024.0
}

/// Resets the peak to what is resident now (`5` to /proc/self/clear_refs).
pub fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn status_kib(field: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0.0)
}

/// The machine the figures were measured on, in one line.
pub fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model =
        cpuinfo.lines().find_map(|l| l.strip_prefix("model name")).map(|m| m.trim_start_matches([' ', '\t', ':']));
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    format!(
        "{} CPUs ({}), load average {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        model.unwrap_or("unknown CPU"),
        load.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
    )
}

/// Runs `work` `runs` times and returns the median and the fastest duration.
pub fn measure(runs: usize, mut work: impl FnMut()) -> (Duration, Duration) {
    work();
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let started = Instant::now();
            work();
            started.elapsed()
        })
        .collect();
    times.sort();
    (times[times.len() / 2], times[0])
}
