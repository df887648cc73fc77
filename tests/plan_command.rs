//! The `tenantry plan` command as a user runs it: exit codes, errors that name the file, the
//! document and the field, and a golden copy of the plan of the bundled example.
//! Regenerate the golden file with `UPDATE_GOLDEN=1 cargo test --test plan_command`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const AT: &str = "2026-11-15T09:00:00Z";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn tenantry(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tenantry")).args(args).current_dir(repo()).output().expect("tenantry runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn scratch(name: &str, files: &[(&str, &str)]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tenantry-plan-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    for (file, content) in files {
        let path = dir.join(file);
        std::fs::create_dir_all(path.parent().unwrap_or(Path::new("."))).expect("mkdir");
        std::fs::write(path, content).expect("write");
    }
    dir
}

const PARTNER: &str = r#"
apiVersion: tenantry.dev/v1alpha1
kind: Partner
metadata:
  name: acme
spec:
  displayName: Acme
  branding: {productName: Acme Flow}
  currency: EUR
  invoicePrefix: ACME
"#;

#[test]
fn golden_plan_of_the_bundled_example() {
    let output = tenantry(&["plan", "examples/gitops", "-o", "yaml", "--at", AT]);
    assert!(output.status.success(), "plan failed: {}", text(&output.stderr));
    let golden = repo().join("tests/golden/gitops-plan.yaml");
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(golden.parent().expect("parent")).expect("mkdir");
        std::fs::write(&golden, &output.stdout).expect("write golden");
    }
    let expected = std::fs::read_to_string(&golden).expect("golden file exists; create it with UPDATE_GOLDEN=1");
    let actual = text(&output.stdout);
    if actual != expected {
        let first_difference = actual.lines().zip(expected.lines()).position(|(a, e)| a != e).unwrap_or(0);
        panic!(
            "plan of examples/gitops differs from tests/golden/gitops-plan.yaml from line {}:\n  got:      {:?}\n  expected: {:?}\n(rerun with UPDATE_GOLDEN=1 if the change is intended)",
            first_difference + 1,
            actual.lines().nth(first_difference),
            expected.lines().nth(first_difference)
        );
    }
}

#[test]
fn yaml_and_json_outputs_hold_the_same_objects() {
    let yaml = tenantry(&["plan", "examples/gitops", "-o", "yaml", "--at", AT]);
    let json = tenantry(&["plan", "examples/gitops", "-o", "json", "--at", AT]);
    assert!(yaml.status.success() && json.status.success());
    let list: serde_json::Value = serde_json::from_slice(&json.stdout).expect("json output is JSON");
    assert_eq!(list["kind"], "List");
    let items = list["items"].as_array().expect("items");
    assert_eq!(items.len(), text(&yaml.stdout).matches("\n---\n").count() + 1);
    assert!(items.iter().all(|item| item["apiVersion"].is_string() && item["kind"].is_string()));
}

#[test]
fn the_table_shows_every_tenant_and_the_problems() {
    let output = tenantry(&["plan", "examples/gitops", "--at", AT]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let table = text(&output.stdout);
    for reason in ["TierDisallowsCategory", "TierWorkflowLimit", "TenantSuspended"] {
        assert!(table.contains(reason), "the example shows {reason}:\n{table}");
    }
}

#[test]
fn the_same_input_gives_the_same_bytes() {
    let first = tenantry(&["plan", "examples/gitops", "-o", "yaml", "--at", AT]);
    let second = tenantry(&["plan", "examples/gitops", "-o", "yaml", "--at", AT]);
    assert_eq!(first.stdout, second.stdout);
}

#[test]
fn invalid_input_exits_1_naming_file_document_and_field() {
    let bad = r#"
apiVersion: tenantry.dev/v1alpha1
kind: Partner
metadata:
  name: beta
spec:
  displayName: Beta
  branding: {productName: Beta}
  currency: euro
  invoicePrefix: BETA
---
apiVersion: tenantry.dev/v1alpha1
kind: Workflow
metadata:
  name: both
  namespace: tenant-x
spec:
  category: orderToCash
  template: order-validation
  trigger:
    schedule: {cron: "0 * * * *"}
    continuous: {replicas: 1}
  runner: {image: registry.example.com/r:1}
---
apiVersion: tenantry.dev/v1alpha1
kind: Workflow
metadata:
  name: typo
  namespace: tenant-x
spec:
  category: orderToCash
  template: order-validation
  trigger: {continuous: {replicas: 1}}
  runner: {image: registry.example.com/r:1, imagePullPolicy: Always}
---
apiVersion: tenantry.dev/v1alpha1
kind: Workflow
metadata:
  name: nowhere
spec:
  category: sales
  template: order-validation
  trigger: {continuous: {replicas: 1}}
  runner: {image: registry.example.com/r:1}
"#;
    let dir = scratch("invalid", &[("partner.yaml", PARTNER), ("nested/bad.yaml", bad), ("dup/partner.yml", PARTNER)]);
    let output = tenantry(&["plan", dir.to_str().expect("utf-8 path")]);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    let bad_file = dir.join("nested/bad.yaml").display().to_string();
    for expected in [
        format!("{bad_file} (document 1): Partner/beta: spec.currency: 'euro' does not match the pattern"),
        format!("{bad_file} (document 2): Workflow/both: spec.trigger: must set at most 1 field(s)"),
        format!("{bad_file} (document 3): Workflow/typo: spec.runner.imagePullPolicy: unknown field"),
        format!("{bad_file} (document 4): Workflow/nowhere: metadata.namespace: is required"),
        "Partner/acme: declared twice".to_string(),
    ] {
        assert!(stderr.contains(&expected), "missing {expected:?} in:\n{stderr}");
    }
    assert!(output.stdout.is_empty(), "nothing is planned from invalid input");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn an_enum_outside_its_values_is_refused_with_the_allowed_ones() {
    let tenant = r#"
apiVersion: tenantry.dev/v1alpha1
kind: Tenant
metadata: {name: shop}
spec:
  partnerRef: acme
  tierRef: basic
  displayName: Shop
  region: eu-west-1
  connectedSystems:
  - {name: pos, type: pointOfSale, vendor: Square}
"#;
    let dir = scratch("enum", &[("tenant.yaml", tenant)]);
    let output = tenantry(&["plan", dir.to_str().expect("utf-8 path")]);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr.contains("spec.connectedSystems[0].type: \"pointOfSale\" is not one of"), "{stderr}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn broken_yaml_is_reported_with_its_file() {
    let dir = scratch("syntax", &[("broken.yaml", "kind: [unclosed\n")]);
    let output = tenantry(&["plan", dir.to_str().expect("utf-8 path")]);
    assert_eq!(output.status.code(), Some(1));
    assert!(text(&output.stderr).contains("broken.yaml (document 1): not valid YAML"), "{}", text(&output.stderr));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn documents_of_other_kinds_are_skipped_with_a_note() {
    let other = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: unrelated}\n";
    let dir = scratch("other", &[("partner.yaml", PARTNER), ("cm.yaml", other)]);
    let output = tenantry(&["plan", dir.to_str().expect("utf-8 path")]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(text(&output.stderr).contains("skipped v1/ConfigMap"));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(tenantry(&["plan"]).status.code(), Some(2), "missing directory");
    assert_eq!(tenantry(&["plan", "examples/gitops", "--at", "yesterday"]).status.code(), Some(2), "bad --at");
    assert_eq!(tenantry(&["plan", "examples/gitops", "-o", "xml"]).status.code(), Some(2), "bad -o");
    assert_eq!(tenantry(&["plan", "does/not/exist"]).status.code(), Some(2), "no such directory");
    assert_eq!(tenantry(&["frobnicate"]).status.code(), Some(2), "unknown command");
}

#[test]
fn crds_command_prints_every_crd() {
    let output = tenantry(&["crds"]);
    assert!(output.status.success());
    assert_eq!(text(&output.stdout).matches("kind: CustomResourceDefinition").count(), 7);
}

#[test]
fn the_status_output_holds_every_objects_planned_standing() {
    let output = tenantry(&["plan", "examples/gitops", "--at", AT, "-o", "status"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let status: serde_yaml::Value = serde_yaml::from_slice(&output.stdout).expect("YAML");
    assert_eq!(status["kind"], "PlanStatus");
    let objects = status["objects"].as_sequence().expect("objects");
    let find = |kind: &str, name: &str| {
        objects.iter().find(|o| o["kind"] == kind && o["name"] == name).unwrap_or_else(|| panic!("{kind}/{name}"))
    };
    let held = objects
        .iter()
        .find(|o| {
            o["kind"] == "Workflow"
                && o["name"] == "tax-validation"
                && o["namespace"] == "tenant-sierra-health-distribution"
        })
        .expect("sierra's tax-validation");
    assert_eq!((held["phase"].as_str(), held["reason"].as_str()), (Some("Held"), Some("AwaitingApproval")));
    assert_eq!(held["stalled"], true);
    assert_eq!(find("Tenant", "dune-electronics")["reason"], "RegionNotAllowed");
    assert_eq!(find("GovernancePolicy", "strict-finance")["ready"], "True");
    assert_eq!(find("Approval", "tax-validation-v1-priya")["reason"], "Recorded");
    let json = tenantry(&["plan", "examples/gitops", "--at", AT, "-o", "status-json"]);
    let from_json: serde_json::Value = serde_json::from_slice(&json.stdout).expect("JSON");
    assert_eq!(from_json["objects"].as_array().map(Vec::len), Some(objects.len()));
}

#[test]
fn fail_on_stalled_exits_3_listing_what_a_human_must_fix() {
    let output = tenantry(&["plan", "examples/gitops", "--at", AT, "--fail-on", "stalled"]);
    assert_eq!(output.status.code(), Some(3), "{}", text(&output.stderr));
    let stderr = text(&output.stderr);
    assert!(stderr.contains("plan gate: 7 object(s) stalled:"), "{stderr}");
    for expected in [
        "Workflow/tenant-sierra-health-distribution/tax-validation: AwaitingApproval:",
        "Workflow/alpine-supply/price-sync: ImageNotAllowed:",
        "Tenant/dune-electronics: RegionNotAllowed:",
        "Workflow/tenant-harbor-home/fraud-screening: TierLacksCapability:",
    ] {
        assert!(stderr.contains(expected), "missing {expected}: {stderr}");
    }
    assert!(!stderr.contains("Paused"), "a paused workflow is not stalled: {stderr}");
    // The plan itself is still printed for the pipeline's log.
    assert!(text(&output.stdout).contains("TENANT"));

    let not_ready = tenantry(&["plan", "examples/gitops", "--at", AT, "--fail-on", "not-ready"]);
    let stderr = text(&not_ready.stderr);
    assert_eq!(not_ready.status.code(), Some(3));
    assert!(stderr.contains("Paused") && !stderr.contains("Deploying"), "{stderr}");
}

#[test]
fn fail_on_passes_a_repository_with_nothing_to_fix() {
    let tier = r#"
apiVersion: tenantry.dev/v1alpha1
kind: ServiceTier
metadata: {name: basic}
spec:
  partnerRef: acme
  displayName: Basic
  level: 1
  workflowCategories: [orderToCash]
  limits:
    maxWorkflows: 2
    maxConnectedSystems: 2
    namespaceQuota: {cpu: "2", memory: 2Gi, pods: 10}
    defaultContainer: {cpu: 100m, memory: 128Mi}
    maxContainer: {cpu: "1", memory: 1Gi}
  pricing: {monthlyBaseFee: 10000}
"#;
    let tenant = r#"
apiVersion: tenantry.dev/v1alpha1
kind: Tenant
metadata: {name: shop}
spec: {partnerRef: acme, tierRef: basic, displayName: Shop, region: eu-west-1}
"#;
    let dir = scratch("gate", &[("partner.yaml", PARTNER), ("tier.yaml", tier), ("tenant.yaml", tenant)]);
    let dir_text = dir.to_string_lossy().into_owned();
    for what in ["stalled", "not-ready"] {
        let output = tenantry(&["plan", &dir_text, "--at", AT, "--fail-on", what]);
        assert_eq!(output.status.code(), Some(0), "{what}: {}", text(&output.stderr));
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn the_binary_is_also_the_kubectl_plugin() {
    let dir = scratch("plugin", &[]);
    std::fs::create_dir_all(&dir).expect("mkdir");
    let plugin = dir.join("kubectl-tenantry");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_tenantry"), &plugin).expect("symlink");
    let run = |args: &[&str]| Command::new(&plugin).args(args).current_dir(repo()).output().expect("the plugin runs");
    let help = run(&["--help"]);
    assert!(text(&help.stdout).contains("Usage: kubectl tenantry <COMMAND>"), "{}", text(&help.stdout));
    let planned = run(&["plan", "examples/gitops", "--at", AT]);
    assert!(planned.status.success(), "{}", text(&planned.stderr));
    assert_eq!(planned.stdout, tenantry(&["plan", "examples/gitops", "--at", AT]).stdout, "the same plan");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn completions_cover_every_command_in_each_shell() {
    for shell in ["bash", "zsh", "fish"] {
        let output = tenantry(&["completions", shell]);
        assert!(output.status.success(), "{shell}: {}", text(&output.stderr));
        let script = text(&output.stdout);
        for command in ["plan", "run", "bill", "revenue", "report", "diff", "crds"] {
            assert!(script.contains(command), "{shell} completion lacks {command}");
        }
    }
    assert_eq!(tenantry(&["completions", "tcsh"]).status.code(), Some(2), "an unknown shell is a usage error");
}

/// The loader reads files on every core; what it reports must still be what reading them
/// one by one in path order gives: the first declaration wins, and the errors come in file
/// order. 64 files span several workers on any machine with more than one core.
#[test]
fn many_files_are_read_in_parallel_yet_reported_in_path_order() {
    let bad_partner = |name: &str| PARTNER.replace("name: acme", &format!("name: {name}")).replace("EUR", "euro");
    let mut files: Vec<(String, String)> = Vec::new();
    for i in 0..64 {
        files.push((format!("p/{i:02}.yaml"), bad_partner(&format!("p{i:02}"))));
    }
    // Declared in the first file and again in the last: the last is the duplicate.
    files.push(("a-first.yaml".into(), PARTNER.into()));
    files.push(("z-last.yaml".into(), PARTNER.into()));
    let borrowed: Vec<(&str, &str)> = files.iter().map(|(f, c)| (f.as_str(), c.as_str())).collect();
    let dir = scratch("parallel", &borrowed);
    let output = tenantry(&["plan", dir.to_str().expect("utf-8 path")]);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    let lines: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error: ")).collect();
    let mut expected: Vec<String> = (0..64)
        .map(|i| {
            format!("{} (document 1): Partner/p{i:02}: spec.currency", dir.join(format!("p/{i:02}.yaml")).display())
        })
        .collect();
    expected.push(format!(
        "{} (document 1): Partner/acme: declared twice: also in {} (document 1)",
        dir.join("z-last.yaml").display(),
        dir.join("a-first.yaml").display()
    ));
    assert_eq!(lines.len(), expected.len(), "{stderr}");
    for (line, expected) in lines.iter().zip(&expected) {
        assert!(line.starts_with(&format!("error: {expected}")), "{line:?} should start with {expected:?}");
    }
    let _ = std::fs::remove_dir_all(dir);
}
