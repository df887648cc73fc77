//! `tenantry revenue`: each partner's recurring revenue month by month, from BillingRecords
//! alone (the planner's `billing::revenue`), as a table with a chart under it, JSON or CSV.

use super::books::Books;
use super::chart;
use super::csv;
use crate::planner::billing::revenue::{self, MonthRevenue};
use crate::planner::billing::{Currency, Period};
use kube::ResourceExt;
use serde::Serialize;
use std::collections::BTreeSet;
use std::fmt::Write;

/// One partner's revenue over the months asked for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PartnerRevenue {
    /// The partner's name.
    pub partner: String,
    /// Its display name.
    pub display_name: String,
    /// The product it sells (`branding.productName`).
    pub product_name: String,
    /// ISO 4217 code of every amount.
    pub currency: String,
    /// Its brand colour (`#rrggbb`), when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub primary_color: Option<String>,
    /// The months, oldest first.
    pub months: Vec<MonthRevenue>,
}

/// The revenue of `partner` (every partner with a declaration or a record when `None`) for
/// the `months` months through `through`.
pub fn report(
    books: &Books,
    partner: Option<&str>,
    through: Period,
    months: usize,
) -> Result<Vec<PartnerRevenue>, String> {
    let mut names: BTreeSet<String> = books.partners.iter().map(|p| p.name_any()).collect();
    names.extend(books.records.iter().map(|r| r.spec.partner_ref.clone()));
    if let Some(wanted) = partner {
        if !names.contains(wanted) {
            let known = names.iter().cloned().collect::<Vec<_>>().join(", ");
            return Err(format!("no partner '{wanted}' (partners: {known})"));
        }
        names.retain(|name| name == wanted);
    }
    Ok(names.into_iter().map(|name| partner_revenue(books, &name, through, months)).collect())
}

fn partner_revenue(books: &Books, name: &str, through: Period, months: usize) -> PartnerRevenue {
    let declared = books.partner(name);
    let currency = declared.map(|p| p.spec.currency.clone()).unwrap_or_else(|| {
        books.records.iter().find(|r| r.spec.partner_ref == name).map(|r| r.spec.currency.clone()).unwrap_or_default()
    });
    PartnerRevenue {
        partner: name.to_string(),
        display_name: declared.map_or_else(|| name.to_string(), |p| p.spec.display_name.clone()),
        product_name: declared.map_or_else(|| name.to_string(), |p| p.spec.branding.product_name.clone()),
        currency,
        primary_color: declared.and_then(|p| p.spec.branding.primary_color.clone()),
        months: revenue::revenue(
            &books.records,
            name,
            declared.and_then(|p| p.spec.cost_model.as_ref()),
            through,
            months,
        ),
    }
}

/// Basis points as a percentage with one decimal (`11250` is `112.5%`).
pub fn percent(basis_points: i64) -> String {
    let tenths = (basis_points.abs() + 5) / 10;
    let sign = if basis_points < 0 && tenths > 0 { "-" } else { "" };
    format!("{sign}{}.{}%", tenths / 10, tenths % 10)
}

const TABLE_COLUMNS: &[&str] = &[
    "MONTH",
    "MRR",
    "ARR",
    "NEW",
    "REACTIVATED",
    "EXPANSION",
    "CONTRACTION",
    "CHURNED",
    "ACCOUNTS",
    "ARPA",
    "ATTACH",
    "NRR",
    "GRR",
    "BILLED",
    "CREDITS",
    "MARGIN",
    "MARGIN%",
    "ADOPTION",
];

fn table_row(month: &MonthRevenue, currency: &Currency) -> Vec<String> {
    let money = |amount: i64| currency.format(amount);
    let moved = |amount: i64| match amount {
        0 => "·".to_string(),
        a if a > 0 => format!("+{}", currency.format(a)),
        a => currency.format(a),
    };
    let ratio = |bp: Option<i64>| bp.map_or_else(|| "-".to_string(), percent);
    let m = &month.movements;
    vec![
        month.period.clone(),
        money(month.mrr),
        money(month.arr),
        moved(m.new),
        moved(m.reactivated),
        moved(m.expansion),
        moved(m.contraction),
        moved(m.churned),
        month.accounts.to_string(),
        money(month.arpa),
        percent(month.attach_rate_bp),
        ratio(month.nrr_bp),
        ratio(month.grr_bp),
        money(month.billed),
        if month.credits == 0 { "·".to_string() } else { money(month.credits) },
        month.gross_margin.map_or_else(|| "-".to_string(), money),
        ratio(month.gross_margin_bp),
        ratio(month.adoption_bp),
    ]
}

/// For people: a heading, the month-by-month table and a bar chart of MRR under it.
pub fn table(report: &PartnerRevenue, open_period: Option<&str>) -> String {
    let currency = Currency::new(&report.currency);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} ({}, {}): recurring revenue in {}",
        report.product_name, report.display_name, report.partner, report.currency
    );
    let mut rows = vec![TABLE_COLUMNS.iter().map(|c| c.to_string()).collect::<Vec<_>>()];
    rows.extend(report.months.iter().map(|m| table_row(m, &currency)));
    out.push_str(&aligned(&rows));
    if let Some(open) = open_period.filter(|open| report.months.iter().any(|m| &m.period == open)) {
        let _ = writeln!(
            out,
            "{open} is still open: its MRR is the run-rate so far, BILLED and MARGIN the amounts so far."
        );
    }
    if report.months.iter().all(|m| m.gross_margin.is_none()) {
        let _ = writeln!(out, "MARGIN needs the partner's spec.costModel and records that carry spec.consumption.");
    }
    out.push('\n');
    let bars: Vec<(String, i64)> = report.months.iter().map(|m| (m.period.clone(), m.mrr)).collect();
    out.push_str(&chart::bars(&bars, 40, |amount| format!("{} {}", currency.format(amount), report.currency)));
    out
}

/// `rows` with the first column left-aligned and the others right-aligned, two spaces apart.
fn aligned(rows: &[Vec<String>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| rows.iter().filter_map(|r| r.get(c)).map(|cell| cell.chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in rows {
        let cells: Vec<String> = row
            .iter()
            .enumerate()
            .map(
                |(c, cell)| {
                    if c == 0 {
                        format!("{cell:<w$}", w = widths[c])
                    } else {
                        format!("{cell:>w$}", w = widths[c])
                    }
                },
            )
            .collect();
        let _ = writeln!(out, "{}", cells.join("  ").trim_end());
    }
    out
}

/// Every partner's months as one JSON array.
pub fn to_json(reports: &[PartnerRevenue]) -> Result<String, serde_json::Error> {
    let mut text = serde_json::to_string_pretty(reports)?;
    text.push('\n');
    Ok(text)
}

/// The CSV header: one row per partner and month, amounts in minor units.
pub const CSV_COLUMNS: &[&str] = &[
    "partner",
    "currency",
    "period",
    "mrr",
    "arr",
    "platform",
    "managed_operations",
    "expansion_fees",
    "discount",
    "new",
    "reactivated",
    "expansion",
    "contraction",
    "churned",
    "accounts",
    "arpa",
    "attach_rate_bp",
    "nrr_bp",
    "grr_bp",
    "billed",
    "infrastructure_cost",
    "support_cost",
    "gross_margin",
    "gross_margin_bp",
    "deployed_workflows",
    "adopted_workflows",
    "adoption_bp",
    "credits",
];

/// Every partner's months as CSV.
pub fn to_csv(reports: &[PartnerRevenue]) -> String {
    let mut out = csv::row(CSV_COLUMNS);
    for report in reports {
        for m in &report.months {
            let optional = |bp: Option<i64>| bp.map(|v| v.to_string()).unwrap_or_default();
            let numbers = [
                m.mrr,
                m.arr,
                m.layers.platform,
                m.layers.managed_operations,
                m.layers.expansion,
                m.layers.discount,
                m.movements.new,
                m.movements.reactivated,
                m.movements.expansion,
                m.movements.contraction,
                m.movements.churned,
                m.accounts as i64,
                m.arpa,
                m.attach_rate_bp,
            ];
            let mut fields = vec![report.partner.clone(), report.currency.clone(), m.period.clone()];
            fields.extend(numbers.iter().map(i64::to_string));
            fields.extend([optional(m.nrr_bp), optional(m.grr_bp), m.billed.to_string()]);
            let costs = m.costs.as_ref();
            fields.extend([
                optional(costs.map(|c| c.infrastructure)),
                optional(costs.map(|c| c.support)),
                optional(m.gross_margin),
                optional(m.gross_margin_bp),
                optional(m.adoption.as_ref().map(|a| i64::from(a.deployed))),
                optional(m.adoption.as_ref().map(|a| i64::from(a.with_recent_run))),
                optional(m.adoption_bp),
                m.credits.to_string(),
            ]);
            out.push_str(&csv::row(&fields));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::BillingRecord;
    use crate::commands::books;
    use std::path::PathBuf;

    fn example_books() -> Books {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/gitops");
        books::from_dir(&dir, "2026-11-15T09:00:00Z".parse().unwrap()).expect("the example loads")
    }

    fn all_partners(books: &Books) -> Vec<PartnerRevenue> {
        report(books, None, "2026-11".parse().unwrap(), 12).unwrap()
    }

    #[test]
    fn planned_records_and_records_read_back_give_the_same_revenue() {
        let planned = example_books();
        let expected = all_partners(&planned);
        assert!(expected.iter().any(|r| r.months.iter().any(|m| m.mrr > 0)), "the example has revenue");
        // As a cluster lists them: JSON, in whatever order.
        let json = serde_json::to_string(&planned.records).unwrap();
        let mut listed: Vec<BillingRecord> = serde_json::from_str(&json).unwrap();
        listed.reverse();
        let from_json = Books { records: listed, ..planned.clone() };
        assert_eq!(all_partners(&from_json), expected);
        // As `kubectl get billingrecords -o yaml` into a directory, read by the loader.
        let yaml: String =
            planned.records.iter().map(|r| format!("---\n{}", serde_yaml::to_string(r).unwrap())).collect();
        let loaded = crate::input::load_text(std::path::Path::new("records.yaml"), &yaml).expect("valid records");
        let from_yaml = Books { records: loaded.world.billing_records, ..planned.clone() };
        assert_eq!(all_partners(&from_yaml), expected);
    }

    #[test]
    fn closed_records_in_the_directory_are_kept_as_they_are() {
        let planned = example_books();
        let mut world = crate::planner::World { partners: planned.partners.clone(), ..Default::default() };
        // A closed record the directory carries is final, whatever the history now says.
        let mut closed = planned.records.iter().find(|r| r.spec.period == "2026-10").unwrap().clone();
        closed.spec.total = 1;
        world.billing_records.push(closed.clone());
        let books = books::from_plan(&world, &crate::planner::Plan::default());
        assert_eq!(books.records, vec![closed]);
    }

    #[test]
    fn service_credits_have_their_own_column() {
        let mut books = example_books();
        let loop_october = books
            .records
            .iter_mut()
            .find(|r| r.spec.partner_ref == "loop-automation" && r.spec.period == "2026-10")
            .expect("a Loop record of October");
        loop_october.spec.line_items.push(crate::api::billing::LineItem {
            layer: crate::api::billing::BillingLayer::SlaCredit,
            description: "Service credit".into(),
            quantity_milli: 100,
            unit_price: -50_000,
            amount: -5_000,
        });
        loop_october.spec.total -= 5_000;
        let reports = all_partners(&books);
        let loop_report = reports.iter().find(|r| r.partner == "loop-automation").expect("Loop");
        let october = loop_report.months.iter().find(|m| m.period == "2026-10").expect("October");
        assert_eq!(october.credits, -5_000);
        let text = table(loop_report, None);
        let header = text.lines().find(|l| l.starts_with("MONTH")).expect("header");
        assert!(header.contains("BILLED") && header.contains("CREDITS"), "{header}");
        let row = text.lines().find(|l| l.starts_with("2026-10")).expect("October's row");
        assert!(row.contains("-50.00"), "{row}");
        let csv = to_csv(std::slice::from_ref(loop_report));
        let october_csv = csv.lines().find(|l| l.contains(",2026-10,")).expect("October's CSV row");
        assert!(csv.lines().next().unwrap_or_default().ends_with(",credits"));
        assert!(october_csv.ends_with(",-5000"), "{october_csv}");
    }

    #[test]
    fn basis_points_read_as_percentages() {
        assert_eq!(percent(11_250), "112.5%");
        assert_eq!(percent(10_000), "100.0%");
        assert_eq!(percent(6_667), "66.7%");
        assert_eq!(percent(0), "0.0%");
        assert_eq!(percent(-250), "-2.5%");
    }

    #[test]
    fn columns_line_up_whatever_their_width() {
        let rows = vec![
            vec!["MONTH".to_string(), "MRR".to_string()],
            vec!["2026-01".to_string(), "1234.56".to_string()],
            vec!["2026-02".to_string(), "·".to_string()],
        ];
        assert_eq!(aligned(&rows), "MONTH        MRR\n2026-01  1234.56\n2026-02        ·\n");
    }
}
