//! Every value of the Helm chart is used by a template and documented in the chart's README,
//! and the README documents no value that does not exist.

use std::collections::BTreeSet;
use std::path::PathBuf;

fn chart() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").join("charts").join("tenantry")
}

/// Every key path of values.yaml (`image`, `image.tag`, `dashboards.labels.grafana_dashboard`...),
/// and whether it is a leaf (not a mapping with keys).
fn value_paths() -> Vec<(String, bool)> {
    let text = std::fs::read_to_string(chart().join("values.yaml")).expect("read values.yaml");
    let values: serde_yaml::Value = serde_yaml::from_str(&text).expect("values.yaml is YAML");
    let mut paths = Vec::new();
    walk(&values, "", &mut paths);
    assert!(paths.len() > 40, "too few values read");
    paths
}

fn walk(value: &serde_yaml::Value, prefix: &str, paths: &mut Vec<(String, bool)>) {
    let Some(map) = value.as_mapping() else { return };
    for (key, child) in map {
        let key = key.as_str().expect("string keys");
        let path = if prefix.is_empty() { key.to_string() } else { format!("{prefix}.{key}") };
        paths.push((path.clone(), child.as_mapping().is_none_or(|m| m.is_empty())));
        walk(child, &path, paths);
    }
}

/// The path itself or the nearest of its prefixes (`resources` for `resources.limits.cpu`)
/// that `is` accepts.
fn covered_by(path: &str, is: impl Fn(&str) -> bool) -> Option<&str> {
    let mut candidate = path;
    loop {
        if is(candidate) {
            return Some(candidate);
        }
        candidate = &candidate[..candidate.rfind('.')?];
    }
}

/// `.Values.<path>` as a whole in the text (not a prefix of a longer path).
fn references(text: &str, path: &str) -> bool {
    let needle = format!(".Values.{path}");
    text.match_indices(&needle).any(|(at, _)| {
        let next = text[at + needle.len()..].chars().next();
        !next.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
    })
}

#[test]
fn every_value_is_used_by_a_template() {
    let mut templates = String::new();
    for entry in std::fs::read_dir(chart().join("templates")).expect("read templates") {
        templates += &std::fs::read_to_string(entry.expect("a template").path()).expect("read a template");
    }
    let unused: Vec<String> = value_paths()
        .into_iter()
        .filter(|(path, leaf)| *leaf && covered_by(path, |p| references(&templates, p)).is_none())
        .map(|(path, _)| path)
        .collect();
    assert!(unused.is_empty(), "values no template uses (as .Values.<path>): {unused:?}");
}

#[test]
fn every_value_is_in_the_readme_and_nothing_else_is() {
    let readme = std::fs::read_to_string(chart().join("README.md")).expect("read charts/tenantry/README.md");
    // The first cell of each row of the values table: | `image.tag` | ...
    let documented: BTreeSet<String> = readme
        .lines()
        .filter_map(|line| line.strip_prefix("| `"))
        .filter_map(|rest| rest.split_once('`').map(|(key, _)| key.to_string()))
        .collect();
    let paths = value_paths();
    let missing: Vec<&String> = paths
        .iter()
        .filter(|(path, leaf)| *leaf && covered_by(path, |p| documented.contains(p)).is_none())
        .map(|(path, _)| path)
        .collect();
    assert!(missing.is_empty(), "values missing from the README's table: {missing:?}");
    let known: BTreeSet<&String> = paths.iter().map(|(path, _)| path).collect();
    let stale: Vec<&String> = documented.iter().filter(|key| !known.contains(key)).collect();
    assert!(stale.is_empty(), "the README's table documents values that do not exist: {stale:?}");
}
