//! Plans independent parts of a fleet (one tenant, one workflow) on every core, and merges
//! the partial plans in the order of the parts, so the answer is the one a single pass in
//! order gives, whatever the number of cores.

use crate::world::Plan;

/// Below this many parts, one pass on the calling thread: the live controller plans one
/// tenant at a time, and threads would cost more than they save.
const PARALLEL_FROM: usize = 256;

/// Runs `work` over `items` in contiguous runs, one per core, each run filling a plan and an
/// `R` of its own; returns them in the order of the runs.
pub fn fan_out<T, R, F>(items: &[T], work: F) -> Vec<(Plan, R)>
where
    T: Sync,
    R: Default + Send,
    F: Fn(&T, &mut Plan, &mut R) + Sync,
{
    let run = |items: &[T]| {
        let (mut plan, mut extra) = (Plan::default(), R::default());
        for item in items {
            work(item, &mut plan, &mut extra);
        }
        (plan, extra)
    };
    let workers = workers();
    if items.len() < PARALLEL_FROM || workers < 2 {
        return vec![run(items)];
    }
    let chunk = items.len().div_ceil(workers);
    std::thread::scope(|scope| {
        let handles: Vec<_> = items.chunks(chunk).map(|items| scope.spawn(move || run(items))).collect();
        // A worker only panics on a bug: carry its panic on rather than lose its part.
        handles.into_iter().map(|h| h.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))).collect()
    })
}

/// How many threads to plan on: the cores this process may use (at most 8). The answer
/// never depends on it.
fn workers() -> usize {
    static WORKERS: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *WORKERS.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()).min(8))
}

#[cfg(test)]
mod tests {
    use super::fan_out;
    use crate::world::Plan;

    #[test]
    fn parts_come_back_in_order_whatever_the_split() {
        for len in [0, 1, 255, 256, 257, 1000, 4097] {
            let items: Vec<usize> = (0..len).collect();
            let parts = fan_out(&items, |item, _: &mut Plan, seen: &mut Vec<usize>| seen.push(*item));
            let merged: Vec<usize> = parts.into_iter().flat_map(|(_, seen)| seen).collect();
            assert_eq!(merged, items, "{len} items");
        }
    }
}
