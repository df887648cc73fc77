//! Properties of the YAML loader: it answers any text, and any value in any field, with a
//! result or an error, never a panic; what it loads, the planner plans.

use proptest::prelude::*;
use tenantry::planner;

fn instant() -> impl Strategy<Value = jiff::Timestamp> {
    (1_700_000_000i64..1_900_000_000).prop_map(|s| jiff::Timestamp::from_second(s).expect("in range"))
}

/// A valid workflow document with one field replaced by an arbitrary YAML scalar or structure.
fn mutated_document() -> impl Strategy<Value = String> {
    let fields = prop::sample::select(vec![
        "spec.category",
        "spec.template",
        "spec.trigger",
        "spec.trigger.schedule.cron",
        "spec.runner",
        "spec.runner.resources.cpu",
        "spec.connectors",
        "spec.steps",
        "metadata.name",
        "metadata",
        "spec",
    ]);
    let values = prop_oneof![
        Just("null".to_string()),
        Just("[]".to_string()),
        Just("{}".to_string()),
        Just("-1".to_string()),
        Just("1e400".to_string()),
        Just("[{a: b}, 3, null]".to_string()),
        "[a-zA-Z0-9 :,/*{}\\[\\]-]{0,24}",
    ];
    (fields, values).prop_map(|(field, value)| {
        let mut document: serde_yaml::Value = serde_yaml::from_str(
            "apiVersion: tenantry.dev/v1alpha1\nkind: Workflow\nmetadata: {name: w, namespace: tenant-shop}\n\
             spec: {category: orderToCash, template: order-validation, trigger: {schedule: {cron: '0 * * * *'}},\n\
             runner: {image: r, resources: {cpu: 100m}}, connectors: [shop], steps: [{name: s, action: a}]}",
        )
        .expect("the base document is YAML");
        let replacement: serde_yaml::Value = serde_yaml::from_str(&value).unwrap_or(serde_yaml::Value::String(value));
        let mut target = &mut document;
        let path: Vec<&str> = field.split('.').collect();
        for key in &path[..path.len() - 1] {
            target = &mut target[*key];
        }
        target[path[path.len() - 1]] = replacement;
        serde_yaml::to_string(&document).unwrap_or_default()
    })
}

proptest! {
    #[test]
    fn loading_any_text_never_panics(text in "[a-zA-Z0-9 :\\-\\n{}\\[\\],'\"#&*!|>%@`]{0,200}") {
        let _ = tenantry::input::load_text(std::path::Path::new("arbitrary.yaml"), &text);
    }

    #[test]
    fn any_value_in_any_field_is_loaded_or_refused_then_planned(document in mutated_document(), now in instant()) {
        if let Ok(loaded) = tenantry::input::load_text(std::path::Path::new("mutated.yaml"), &document) {
            let plan = planner::plan(&loaded.world, now);
            prop_assert_eq!(plan.workflows.len(), loaded.world.workflows.len());
        }
    }
}
