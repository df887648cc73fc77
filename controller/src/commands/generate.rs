//! `tenantry bench generate`: writes a generated fleet ([`crate::planner::generate`]) as a
//! directory of YAML, one file per object, laid out like `examples/gitops`.

use crate::planner::generate::{documents, FleetShape};
use jiff::Timestamp;
use std::path::Path;

/// Writes the fleet of `shape`, its history anchored at `now`, under `dir`, which must be
/// empty or absent. Returns how many files it wrote.
pub fn write(dir: &Path, shape: FleetShape, now: Timestamp) -> Result<usize, String> {
    if dir.exists() && std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?.next().is_some() {
        return Err(format!("'{}' is not empty: give a new directory", dir.display()));
    }
    let mut written = 0;
    for doc in documents(shape, now) {
        let path = dir.join(&doc.path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        }
        let text = serde_yaml::to_string(&doc.object).map_err(|e| format!("{}: {e}", path.display()))?;
        std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
        written += 1;
    }
    Ok(written)
}
