//! `tenantry bill` and `tenantry revenue` on the bundled example, as a user runs them: golden
//! invoices for a closed month, the refusal of an open one, NRR and GRR checked by hand, and
//! the SVG chart. Regenerate the golden files with `UPDATE_GOLDEN=1 cargo test --test billing_command`.

use std::path::PathBuf;
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

fn golden(name: &str, actual: &str) {
    let path = repo().join("tests/golden").join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, actual).expect("write golden");
    }
    let expected = std::fs::read_to_string(&path).expect("golden file exists; create it with UPDATE_GOLDEN=1");
    if actual != expected {
        let line = actual.lines().zip(expected.lines()).position(|(a, e)| a != e).unwrap_or(0);
        panic!(
            "output differs from tests/golden/{name} from line {}:\n  got:      {:?}\n  expected: {:?}\n(rerun with UPDATE_GOLDEN=1 if the change is intended)",
            line + 1,
            actual.lines().nth(line),
            expected.lines().nth(line)
        );
    }
}

#[test]
fn invoices_of_a_closed_month_as_csv_and_json() {
    let csv = tenantry(&["bill", "examples/gitops", "--period", "2026-10", "--at", AT]);
    assert!(csv.status.success(), "{}", text(&csv.stderr));
    golden("gitops-bill-2026-10.csv", &text(&csv.stdout));
    let json = tenantry(&["bill", "examples/gitops", "--period", "2026-10", "--at", AT, "-o", "json"]);
    assert!(json.status.success(), "{}", text(&json.stderr));
    golden("gitops-bill-2026-10.json", &text(&json.stdout));
    let invoices: serde_json::Value = serde_json::from_slice(&json.stdout).expect("JSON");
    let invoices = invoices.as_array().expect("an array of invoices");
    let numbers: Vec<&str> = invoices.iter().filter_map(|i| i["number"].as_str()).collect();
    // Per partner, in tenant-name order; cobalt-beauty, suspended all October, bills nothing.
    assert_eq!(
        numbers,
        [
            "LOOP-2026-10-0001",
            "LOOP-2026-10-0002",
            "LOOP-2026-10-0003",
            "NB-FLOW-2026-10-0001",
            "NB-FLOW-2026-10-0002",
            "NB-FLOW-2026-10-0003",
            "SQF-2026-10-0001",
            "SQF-2026-10-0002",
        ]
    );
    let souq = invoices.iter().find(|i| i["tenant"] == "gulf-pantry").expect("gulf-pantry's invoice");
    // Essentials 95.000 KWD + one workflow 12.500 KWD = 107.500, less 5 %: 102.125 KWD.
    assert_eq!((souq["total"].as_i64(), souq["totalFormatted"].as_str()), (Some(102_125), Some("102.125")));
    assert_eq!(souq["productName"], "SouqFlow");
    assert!(invoices.iter().all(|i| i["status"] == "final"));
    // Every invoice adds up.
    for invoice in invoices {
        let lines: i64 = invoice["lines"].as_array().unwrap().iter().map(|l| l["amount"].as_i64().unwrap()).sum();
        assert_eq!(Some(lines), invoice["total"].as_i64(), "{}", invoice["number"]);
    }
}

#[test]
fn an_open_month_exits_1_saying_when_it_closes() {
    let output = tenantry(&["bill", "examples/gitops", "--period", "2026-11", "--at", AT]);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("no closed BillingRecord for 2026-11"), "{stderr}");
    assert!(stderr.contains("2026-12-01T01:00:00Z"), "{stderr}");
    assert!(output.stdout.is_empty());
    let drafts = tenantry(&["bill", "examples/gitops", "--period", "2026-11", "--at", AT, "--include-open"]);
    assert!(drafts.status.success(), "{}", text(&drafts.stderr));
    let csv = text(&drafts.stdout);
    assert!(csv.lines().skip(1).all(|line| line.contains(",draft,")), "{csv}");
    let usage = tenantry(&["bill", "examples/gitops", "--period", "November"]);
    assert_eq!(usage.status.code(), Some(2));
    assert_eq!(tenantry(&["bill", "--period", "2026-11"]).status.code(), Some(2), "a directory or --cluster");
    let mark = tenantry(&["bill", "examples/gitops", "--period", "2026-10", "--at", AT, "--mark-exported"]);
    assert_eq!(mark.status.code(), Some(2), "only a cluster's records are marked");
    assert!(text(&mark.stderr).contains("--cluster"), "{}", text(&mark.stderr));
    assert!(mark.stdout.is_empty(), "nothing printed, nothing marked");
}

fn month<'a>(report: &'a serde_json::Value, period: &str) -> &'a serde_json::Value {
    report["months"].as_array().unwrap().iter().find(|m| m["period"] == period).expect("the month")
}

#[test]
fn revenue_json_with_nrr_and_grr_by_hand() {
    let output = tenantry(&["revenue", "examples/gitops", "--at", AT, "-o", "json"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let reports: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let partners: Vec<&str> = reports.as_array().unwrap().iter().filter_map(|r| r["partner"].as_str()).collect();
    assert_eq!(partners, ["loop-automation", "northbridge-erp", "souq-systems"]);
    let northbridge = reports.as_array().unwrap().iter().find(|r| r["partner"] == "northbridge-erp").unwrap();
    assert_eq!(northbridge["months"].as_array().unwrap().len(), 12);
    // Cohort: Northbridge's tenants paying at the end of November 2025 (MRR in cents).
    //   alpine-supply: Managed AI 3490.00 + 4 workflows × 149.00 = 4086.00, less 10 % = 3677.40
    //   fjord-outdoor: Foundation 1490.00 + 2 workflows × 99.00 = 1688.00, no discount
    //   (kessler-industrial starts in January 2026: not in the cohort.)   then = 5365.40
    // November 2026:
    //   alpine-supply: Intelligence Plus 7990.00 + 6 × 199.00 = 9184.00, less 10 % = 8265.60
    //   fjord-outdoor: Managed AI 3490.00 + 4 × 149.00 = 4086.00
    // NRR = (8265.60 + 4086.00) / 5365.40 = 12351.60 / 5365.40 = 230.21 % → 23021 bp
    // GRR = (min(8265.60, 3677.40) + min(4086.00, 1688.00)) / 5365.40 = 100 % → 10000 bp
    let november = month(northbridge, "2026-11");
    assert_eq!(month(northbridge, "2025-12")["mrr"], 367_740 + 168_800);
    assert_eq!(november["nrrBp"], 23_021);
    assert_eq!(november["grrBp"], 10_000);
    // kessler-industrial, outside the cohort: Foundation 1490.00 + 3 × 99.00 = 1787.00, less 5 % = 1697.65.
    assert_eq!(november["mrr"], 826_560 + 408_600 + 169_765);
    // Loop: sierra-health 7795.00 less 12 % = 6859.60, meridian 3277.00 less 8 % = 3014.84,
    // cobalt-beauty 7437.00 less 15 % = 6321.45; then = 16195.89. Now: sierra paused one
    // workflow (7616.00 less 12 % = 6702.08), meridian came back (3014.84), cobalt churned (0).
    // NRR = GRR = 9716.92 / 16195.89 = 59.996 % → 6000 bp.
    let loop_automation = reports.as_array().unwrap().iter().find(|r| r["partner"] == "loop-automation").unwrap();
    let november = month(loop_automation, "2026-11");
    assert_eq!((november["nrrBp"].as_i64(), november["grrBp"].as_i64()), (Some(6_000), Some(6_000)));
    assert_eq!(month(loop_automation, "2026-03")["movements"]["churned"], -301_484, "meridian suspended");
    assert_eq!(month(loop_automation, "2026-05")["movements"]["reactivated"], 301_484, "meridian back");
    assert_eq!(month(loop_automation, "2026-08")["movements"]["churned"], -632_145, "cobalt-beauty");
    assert_eq!(month(loop_automation, "2026-06")["movements"]["new"], 122_700, "harbor-home");

    // Northbridge's gross margin in October, by hand (cost model: 24.00 a core-month, 3.10 a
    // GiB-month; support 150.00, 420.00 and 950.00 a month at levels 1, 2 and 3):
    //   alpine-supply (level 3; default 250m/512Mi): demand-forecast 2 cores 4Gi,
    //     replenishment 500m 1Gi, order-routing 2 replicas × 250m/512Mi, three more at the
    //     default: 3.75 cores, 7.5 GiB
    //   fjord-outdoor (level 2; 200m/256Mi): four workflows: 0.8 cores, 1 GiB
    //   kessler-industrial (level 1; 100m/128Mi): three workflows: 0.3 cores, 0.375 GiB
    //   infrastructure = 4.85 × 24.00 + 8.875 × 3.10 = 116.40 + 27.5125 = 143.91 (rounded once)
    //   support = 950.00 + 420.00 + 150.00 = 1520.00; billed 14049.25; margin 12385.34
    let october = month(northbridge, "2026-10");
    assert_eq!(october["billed"], 1_404_925);
    assert_eq!(
        (october["costs"]["infrastructure"].as_i64(), october["costs"]["support"].as_i64()),
        (Some(14_391), Some(152_000))
    );
    assert_eq!((october["grossMargin"].as_i64(), october["grossMarginBp"].as_i64()), (Some(1_238_534), Some(8_816)));
    // Adoption at the end of October: Loop's seven active scheduled workflows all ran in the
    // 30 days before but sla-report, which runs on the 1st of the month (31 days before).
    let adoption = &month(loop_automation, "2026-10")["adoption"];
    assert_eq!((adoption["deployed"].as_i64(), adoption["withRecentRun"].as_i64()), (Some(7), Some(6)));
    assert!(month(loop_automation, "2026-09").get("adoption").is_none(), "no runs recorded for September");
    // Souq has no cost model: no margin.
    let souq = reports.as_array().unwrap().iter().find(|r| r["partner"] == "souq-systems").unwrap();
    assert!(month(souq, "2026-10").get("grossMargin").is_none());
}

#[test]
fn revenue_table_names_the_partner_and_charts_mrr() {
    let output = tenantry(&["revenue", "examples/gitops", "--at", AT, "--partner", "souq-systems", "--months", "3"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let table = text(&output.stdout);
    assert!(table.starts_with("SouqFlow (Souq Systems W.L.L., souq-systems): recurring revenue in KWD"), "{table}");
    assert!(table.contains("2026-09  379.125  4549.500"), "three decimals:\n{table}");
    assert!(table.contains("2026-11 │████████████████████████████████████████ 379.125 KWD"), "{table}");
    let unknown = tenantry(&["revenue", "examples/gitops", "--at", AT, "--partner", "nobody"]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(text(&unknown.stderr).contains("no partner 'nobody'"));
}

#[test]
fn revenue_svg_is_a_branded_chart() {
    let path = std::env::temp_dir().join(format!("tenantry-revenue-{}.svg", std::process::id()));
    let path_text = path.to_str().expect("utf-8 path");
    let output =
        tenantry(&["revenue", "examples/gitops", "--at", AT, "--partner", "northbridge-erp", "--svg", path_text]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let svg = std::fs::read_to_string(&path).expect("the SVG is written");
    assert!(svg.starts_with("<svg"), "{svg}");
    assert!(svg.trim_end().ends_with("</svg>"));
    assert_eq!(svg.matches("<g>").count(), svg.matches("</g>").count());
    assert!(svg.contains("#0B4F6C"), "Northbridge's primary colour");
    assert!(svg.contains("Northbridge FlowOps: monthly recurring revenue (EUR)"));
    for label in ["Dec 25", "Jun 26", "Nov 26"] {
        assert!(svg.contains(&format!(">{label}<")), "month label {label}");
    }
    let _ = std::fs::remove_file(&path);
    let several = tenantry(&["revenue", "examples/gitops", "--at", AT, "--svg", path_text]);
    assert_eq!(several.status.code(), Some(2), "one chart per partner");
}
