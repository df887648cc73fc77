//! The CRDs as `tenantry crds` prints them and as `crds/` holds them: the definitions come
//! from [`tenantry_api::crdgen`], this module writes them as YAML.

pub use tenantry_api::crdgen::all;

/// All CRDs as one multi-document YAML stream, as `tenantry crds` prints them.
pub fn to_yaml() -> Result<String, serde_yaml::Error> {
    let mut out = String::new();
    for (_, text) in files()? {
        out.push_str("---\n");
        out.push_str(&text);
    }
    Ok(out)
}

/// Each CRD as the file `crds/` holds it: `<plural>.<group>.yaml` and its YAML.
pub fn files() -> Result<Vec<(String, String)>, serde_yaml::Error> {
    all()
        .into_iter()
        .map(|crd| {
            let name = crd.metadata.name.clone().unwrap_or_default();
            Ok((format!("{name}.yaml"), serde_yaml::to_string(&crd)?))
        })
        .collect()
}
