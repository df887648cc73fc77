//! Checks a document against the OpenAPI schema of its CRD, the way the API server would, so
//! `tenantry plan` refuses offline exactly what a cluster would refuse and names the field.
//!
//! It covers what tenantry's own schemas use: types, enums, patterns, lengths, ranges, item
//! and property counts, required fields and int-or-string. Unknown fields are reported by
//! the loader, which knows the Rust types.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    JSONSchemaProps, JSONSchemaPropsOrArray, JSONSchemaPropsOrBool,
};
use serde_json::Value;
use std::collections::HashMap;

/// A schema violation: the path of the field and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Dotted path of the field (`spec.limits.maxWorkflows`, `spec.steps[2].name`).
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

/// Validates values against schemas, caching compiled patterns.
#[derive(Default)]
pub struct Checker {
    patterns: HashMap<String, Option<regex::Regex>>,
}

impl Checker {
    /// Every violation of `schema` by `value`; `path` names the value.
    pub fn check(&mut self, schema: &JSONSchemaProps, value: &Value, path: &str) -> Vec<Violation> {
        let mut violations = Vec::new();
        self.walk(schema, value, path, &mut violations);
        violations
    }

    /// Checks one value against its schema, then its items or properties against theirs.
    fn walk(&mut self, schema: &JSONSchemaProps, value: &Value, path: &str, out: &mut Vec<Violation>) {
        let mut fail = |message: String| out.push(Violation { field: path.to_string(), message });
        if schema.x_kubernetes_int_or_string == Some(true) {
            if !(value.is_string() || value.is_i64() || value.is_u64()) {
                fail("must be an integer or a string".into());
            }
            return;
        }
        if schema.x_kubernetes_preserve_unknown_fields == Some(true) && schema.type_.is_none() {
            return;
        }
        if !has_type(schema, value) {
            fail(format!("must be of type {}, found {}", schema.type_.as_deref().unwrap_or("?"), describe(value)));
            return;
        }
        if let Some(allowed) = &schema.enum_ {
            if !allowed.iter().any(|a| a.0 == *value) {
                let names: Vec<String> = allowed.iter().map(|a| a.0.to_string()).collect();
                fail(format!("{value} is not one of {}", names.join(", ")));
            }
        }
        match value {
            Value::String(text) => self.check_string(schema, text, path, out),
            Value::Number(number) => check_number(schema, number, path, out),
            Value::Array(items) => self.check_array(schema, items, path, out),
            Value::Object(map) => self.check_object(schema, map, path, out),
            _ => {}
        }
    }

    /// Length and pattern.
    fn check_string(&mut self, schema: &JSONSchemaProps, text: &str, path: &str, out: &mut Vec<Violation>) {
        let mut fail = |message: String| out.push(Violation { field: path.to_string(), message });
        let length = text.chars().count() as i64;
        if let Some(min) = schema.min_length {
            if length < min {
                fail(format!("must be at least {min} characters long"));
            }
        }
        if let Some(max) = schema.max_length {
            if length > max {
                fail(format!("must be at most {max} characters long, is {length}"));
            }
        }
        if let Some(pattern) = &schema.pattern {
            let compiled = self.patterns.entry(pattern.clone()).or_insert_with(|| regex::Regex::new(pattern).ok());
            if let Some(regex) = compiled {
                if !regex.is_match(text) {
                    fail(format!("'{text}' does not match the pattern {pattern}"));
                }
            }
        }
    }

    /// Item counts, then each item against the items' schema.
    fn check_array(&mut self, schema: &JSONSchemaProps, items: &[Value], path: &str, out: &mut Vec<Violation>) {
        if let Some(max) = schema.max_items {
            if items.len() as i64 > max {
                out.push(violation(path, format!("must have at most {max} items, has {}", items.len())));
            }
        }
        if let Some(min) = schema.min_items {
            if (items.len() as i64) < min {
                out.push(violation(path, format!("must have at least {min} items")));
            }
        }
        if let Some(JSONSchemaPropsOrArray::Schema(item_schema)) = &schema.items {
            for (position, item) in items.iter().enumerate() {
                self.walk(item_schema, item, &format!("{path}[{position}]"), out);
            }
        }
    }

    /// Property counts and required properties, then each property against its schema (or
    /// the schema of additional properties). A null counts as absent, as the API server
    /// prunes it.
    fn check_object(
        &mut self,
        schema: &JSONSchemaProps,
        map: &serde_json::Map<String, Value>,
        path: &str,
        out: &mut Vec<Violation>,
    ) {
        let present = map.iter().filter(|(_, v)| !v.is_null()).count() as i64;
        if let Some(min) = schema.min_properties {
            if present < min {
                out.push(violation(path, format!("must set at least {min} field(s)")));
            }
        }
        if let Some(max) = schema.max_properties {
            if present > max {
                let keys: Vec<&str> = map.keys().map(String::as_str).collect();
                out.push(violation(path, format!("must set at most {max} field(s), sets {}", keys.join(", "))));
            }
        }
        for required in schema.required.iter().flatten() {
            if map.get(required).map(Value::is_null).unwrap_or(true) {
                out.push(violation(&join(path, required), "is required".into()));
            }
        }
        for (key, child) in map {
            if child.is_null() {
                continue;
            }
            let child_schema =
                schema.properties.as_ref().and_then(|p| p.get(key)).or(match &schema.additional_properties {
                    Some(JSONSchemaPropsOrBool::Schema(extra)) => Some(extra.as_ref()),
                    _ => None,
                });
            if let Some(child_schema) = child_schema {
                self.walk(child_schema, child, &join(path, key), out);
            }
        }
    }
}

/// Whether `value` is of the schema's type (any value when it names none).
fn has_type(schema: &JSONSchemaProps, value: &Value) -> bool {
    match schema.type_.as_deref() {
        Some("object") => value.is_object(),
        Some("array") => value.is_array(),
        Some("string") => value.is_string(),
        Some("integer") => value.is_i64() || value.is_u64(),
        Some("number") => value.is_number(),
        Some("boolean") => value.is_boolean(),
        _ => true,
    }
}

/// Minimum and maximum.
fn check_number(schema: &JSONSchemaProps, number: &serde_json::Number, path: &str, out: &mut Vec<Violation>) {
    let Some(value) = number.as_f64() else { return };
    if let Some(min) = schema.minimum {
        if value < min {
            out.push(violation(path, format!("must be at least {min}, is {number}")));
        }
    }
    if let Some(max) = schema.maximum {
        if value > max {
            out.push(violation(path, format!("must be at most {max}, is {number}")));
        }
    }
}

fn violation(path: &str, message: String) -> Violation {
    Violation { field: path.to_string(), message }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn describe(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}
