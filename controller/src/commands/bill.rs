//! `tenantry bill`: one month's BillingRecords as invoices, one per tenant, numbered under
//! each partner's `invoicePrefix` and written in its currency.
//!
//! Numbering: within one partner and one month, the records with something to bill (a line
//! with a non-zero amount) are numbered `0001`, `0002`... in tenant-name order, so the same
//! records always give the same numbers: `NB-FLOW-2026-11-0001`. A record that bills nothing
//! (a tenant suspended the whole month) gets no invoice.

use super::books::Books;
use super::csv;
use crate::api::billing::{BillingLayer, BillingPhase, BillingRecord};
use crate::planner::billing::{ClosingRules, Currency, Period};
use serde::Serialize;
use std::collections::BTreeMap;

/// Whether an invoice is final.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum InvoiceStatus {
    /// From a Closed record: it never changes.
    Final,
    /// From an Open record (only with `--include-open`): amounts so far, not an invoice yet.
    Draft,
}

/// One line of an invoice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InvoiceLine {
    /// Layer of the charge.
    pub layer: BillingLayer,
    /// What is charged.
    pub description: String,
    /// Units in thousandths.
    pub quantity_milli: i64,
    /// Units with three decimals (`0.500`).
    pub quantity: String,
    /// Price of one unit, in minor units.
    pub unit_price: i64,
    /// Price of one unit with the currency's decimals.
    pub unit_price_formatted: String,
    /// Amount, in minor units.
    pub amount: i64,
    /// Amount with the currency's decimals.
    pub amount_formatted: String,
}

/// One tenant's invoice for one month.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Invoice {
    /// `<invoicePrefix>-<yyyy>-<mm>-<nnnn>`.
    pub number: String,
    /// Final or draft.
    pub status: InvoiceStatus,
    /// The partner's name.
    pub partner: String,
    /// The partner's display name.
    pub partner_display_name: String,
    /// The product the partner sells (`branding.productName`).
    pub product_name: String,
    /// The tenant's name.
    pub tenant: String,
    /// The tenant's display name, or its name once it is deleted.
    pub tenant_display_name: String,
    /// The month (`2026-11`).
    pub period: String,
    /// ISO 4217 code.
    pub currency: String,
    /// When the record closed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub closed_at: Option<String>,
    /// The lines, in the record's order.
    pub lines: Vec<InvoiceLine>,
    /// Sum of the lines, in minor units.
    pub total: i64,
    /// The total with the currency's decimals.
    pub total_formatted: String,
}

/// Why a month has nothing to invoice.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NothingToBill {
    /// No record at all names the month.
    #[error("no BillingRecord for {period}: no tenant's history reaches that month")]
    NoRecords {
        /// The month.
        period: String,
    },
    /// Records exist, none closed yet.
    #[error(
        "no closed BillingRecord for {period} yet: {open} open record(s); records close when the month and its grace period are over ({closes_at} with the default one hour), or when their tenant is deleted; add --include-open to see drafts"
    )]
    NotClosed {
        /// The month.
        period: String,
        /// How many records are open.
        open: usize,
        /// When the month's records close with the default grace period.
        closes_at: String,
    },
}

/// The invoices for `period`: one per record with something to bill, final ones only unless
/// `include_open`, sorted by partner then tenant.
pub fn invoices(books: &Books, period: Period, include_open: bool) -> Result<Vec<Invoice>, NothingToBill> {
    let month = period.to_string();
    let of_month: Vec<&BillingRecord> = books.records.iter().filter(|r| r.spec.period == month).collect();
    if of_month.is_empty() {
        return Err(NothingToBill::NoRecords { period: month });
    }
    let closed = of_month.iter().filter(|r| is_final(r)).count();
    if closed == 0 && !include_open {
        let closes_at = crate::planner::format_time(period.end() + ClosingRules::default().grace);
        return Err(NothingToBill::NotClosed { period: month, open: of_month.len(), closes_at });
    }
    let mut by_partner: BTreeMap<&str, Vec<&BillingRecord>> = BTreeMap::new();
    for record in of_month.into_iter().filter(|r| bills_something(r)) {
        by_partner.entry(record.spec.partner_ref.as_str()).or_default().push(record);
    }
    let mut out = Vec::new();
    for records in by_partner.values_mut() {
        // A tenant created again within the month has two records: its own order by name.
        records.sort_by(|a, b| {
            (&a.spec.tenant_ref, a.metadata.name.as_ref()).cmp(&(&b.spec.tenant_ref, b.metadata.name.as_ref()))
        });
        for (index, record) in records.iter().enumerate() {
            if include_open || is_final(record) {
                out.push(invoice(books, record, index + 1));
            }
        }
    }
    Ok(out)
}

fn is_final(record: &BillingRecord) -> bool {
    record.status.as_ref().and_then(|s| s.phase) == Some(BillingPhase::Closed)
}

fn bills_something(record: &BillingRecord) -> bool {
    record.spec.total != 0 || record.spec.line_items.iter().any(|line| line.amount != 0)
}

/// `<prefix>-<yyyy>-<mm>-<nnnn>`; a prefix that already ends with `-` is not doubled.
pub fn invoice_number(prefix: &str, period: &str, sequence: usize) -> String {
    let prefix = prefix.trim_end_matches('-');
    if prefix.is_empty() {
        format!("{period}-{sequence:04}")
    } else {
        format!("{prefix}-{period}-{sequence:04}")
    }
}

/// Thousandths written with three decimals: `500` is `0.500`.
fn thousandths(milli: i64) -> String {
    let sign = if milli < 0 { "-" } else { "" };
    let magnitude = milli.unsigned_abs();
    format!("{sign}{}.{:03}", magnitude / 1_000, magnitude % 1_000)
}

fn invoice(books: &Books, record: &BillingRecord, sequence: usize) -> Invoice {
    let spec = &record.spec;
    let partner = books.partner(&spec.partner_ref);
    let currency = Currency::new(&spec.currency);
    let prefix = partner.map_or(spec.partner_ref.as_str(), |p| p.spec.invoice_prefix.as_str());
    let lines = spec
        .line_items
        .iter()
        .map(|line| InvoiceLine {
            layer: line.layer,
            description: line.description.clone(),
            quantity_milli: line.quantity_milli,
            quantity: thousandths(line.quantity_milli),
            unit_price: line.unit_price,
            unit_price_formatted: currency.format(line.unit_price),
            amount: line.amount,
            amount_formatted: currency.format(line.amount),
        })
        .collect();
    Invoice {
        number: invoice_number(prefix, &spec.period, sequence),
        status: if is_final(record) { InvoiceStatus::Final } else { InvoiceStatus::Draft },
        partner: spec.partner_ref.clone(),
        partner_display_name: partner.map_or_else(|| spec.partner_ref.clone(), |p| p.spec.display_name.clone()),
        product_name: partner.map_or_else(String::new, |p| p.spec.branding.product_name.clone()),
        tenant: spec.tenant_ref.clone(),
        tenant_display_name: books
            .tenant(&spec.tenant_ref)
            .map_or_else(|| spec.tenant_ref.clone(), |t| t.spec.display_name.clone()),
        period: spec.period.clone(),
        currency: spec.currency.clone(),
        closed_at: record.status.as_ref().and_then(|s| s.closed_at.clone()),
        lines,
        total: spec.total,
        total_formatted: currency.format(spec.total),
    }
}

/// The CSV header: one row per invoice line, the invoice's fields repeated on each.
pub const CSV_COLUMNS: &[&str] = &[
    "invoice_number",
    "status",
    "partner",
    "product_name",
    "tenant",
    "tenant_display_name",
    "period",
    "currency",
    "layer",
    "description",
    "quantity",
    "unit_price_minor",
    "unit_price",
    "amount_minor",
    "amount",
    "invoice_total_minor",
    "invoice_total",
];

/// The invoices as CSV: a header, then one row per line.
pub fn to_csv(invoices: &[Invoice]) -> String {
    let mut out = csv::row(CSV_COLUMNS);
    for invoice in invoices {
        for line in &invoice.lines {
            let layer = serde_json::to_value(line.layer).ok().and_then(|v| v.as_str().map(str::to_string));
            out.push_str(&csv::row(&[
                invoice.number.as_str(),
                status_word(invoice.status),
                &invoice.partner,
                &invoice.product_name,
                &invoice.tenant,
                &invoice.tenant_display_name,
                &invoice.period,
                &invoice.currency,
                &layer.unwrap_or_default(),
                &line.description,
                &line.quantity,
                &line.unit_price.to_string(),
                &line.unit_price_formatted,
                &line.amount.to_string(),
                &line.amount_formatted,
                &invoice.total.to_string(),
                &invoice.total_formatted,
            ]));
        }
    }
    out
}

fn status_word(status: InvoiceStatus) -> &'static str {
    match status {
        InvoiceStatus::Final => "final",
        InvoiceStatus::Draft => "draft",
    }
}

/// The invoices as a JSON array.
pub fn to_json(invoices: &[Invoice]) -> Result<String, serde_json::Error> {
    let mut text = serde_json::to_string_pretty(invoices)?;
    text.push('\n');
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::billing::{BillingRecordSpec, BillingRecordStatus, LineItem};
    use crate::api::partner::{Branding, PartnerSpec};
    use crate::api::Partner;

    fn partner(name: &str, prefix: &str, currency: &str) -> Partner {
        Partner::new(
            name,
            PartnerSpec {
                display_name: name.to_uppercase(),
                branding: Branding {
                    product_name: format!("{name} Flow"),
                    logo_url: None,
                    primary_color: None,
                    support_email: None,
                    portal_domain: None,
                },
                currency: currency.into(),
                invoice_prefix: prefix.into(),
                cost_model: None,
            },
        )
    }

    fn record(tenant: &str, partner: &str, period: &str, total: i64, phase: BillingPhase) -> BillingRecord {
        let mut record = BillingRecord::new(
            &format!("{tenant}-{period}"),
            BillingRecordSpec {
                tenant_ref: tenant.into(),
                partner_ref: partner.into(),
                period: period.into(),
                currency: "KWD".into(),
                line_items: vec![LineItem {
                    layer: BillingLayer::Platform,
                    description: "Gold base fee (gold), 30 of 30 days".into(),
                    quantity_milli: 1_000,
                    unit_price: total,
                    amount: total,
                }],
                total,
                recurring: None,
                consumption: None,
            },
        );
        record.status = Some(BillingRecordStatus { phase: Some(phase), ..BillingRecordStatus::default() });
        record
    }

    fn books(records: Vec<BillingRecord>) -> Books {
        Books { partners: vec![partner("acme", "ACME-", "KWD"), partner("beta", "B", "KWD")], tenants: vec![], records }
    }

    #[test]
    fn numbers_follow_tenant_names_per_partner_and_skip_nothing_billed() {
        let books = books(vec![
            record("zeta", "acme", "2026-10", 5_000, BillingPhase::Closed),
            record("alpha", "acme", "2026-10", 1_234, BillingPhase::Closed),
            record("idle", "acme", "2026-10", 0, BillingPhase::Closed),
            record("mid", "acme", "2026-10", 10, BillingPhase::Open),
            record("one", "beta", "2026-10", 7, BillingPhase::Closed),
            record("alpha", "acme", "2026-09", 1, BillingPhase::Closed),
        ]);
        let period = "2026-10".parse().unwrap();
        let numbers = |invoices: Vec<Invoice>| invoices.into_iter().map(|i| (i.number, i.status)).collect::<Vec<_>>();
        assert_eq!(
            numbers(invoices(&books, period, false).unwrap()),
            vec![
                ("ACME-2026-10-0001".to_string(), InvoiceStatus::Final),
                ("ACME-2026-10-0003".to_string(), InvoiceStatus::Final),
                ("B-2026-10-0001".to_string(), InvoiceStatus::Final),
            ],
            "alpha 1, idle bills nothing, mid 2 is open, zeta 3; beta numbers on its own"
        );
        let with_drafts = numbers(invoices(&books, period, true).unwrap());
        assert_eq!(with_drafts[1], ("ACME-2026-10-0002".to_string(), InvoiceStatus::Draft));
        assert_eq!(with_drafts.len(), 4);
    }

    #[test]
    fn amounts_are_written_in_the_currency_decimals() {
        let books = books(vec![record("alpha", "acme", "2026-10", 1_234, BillingPhase::Closed)]);
        let invoice = invoices(&books, "2026-10".parse().unwrap(), false).unwrap().remove(0);
        assert_eq!(invoice.total_formatted, "1.234");
        assert_eq!(invoice.lines[0].quantity, "1.000");
        assert_eq!(invoice.product_name, "acme Flow");
        assert_eq!(invoice.tenant_display_name, "alpha", "a tenant no longer declared shows its name");
        let csv = to_csv(&[invoice]);
        assert!(csv.starts_with("invoice_number,status,partner,"), "{csv}");
        assert!(
            csv.contains(",\"Gold base fee (gold), 30 of 30 days\",1.000,1234,1.234,1234,1.234,1234,1.234\n"),
            "{csv}"
        );
    }

    #[test]
    fn an_open_month_or_an_empty_one_says_why_there_is_nothing() {
        let books = books(vec![record("alpha", "acme", "2026-11", 1, BillingPhase::Open)]);
        let open = invoices(&books, "2026-11".parse().unwrap(), false).unwrap_err();
        assert!(open.to_string().contains("2026-12-01T01:00:00Z"), "{open}");
        assert!(open.to_string().contains("--include-open"), "{open}");
        let none = invoices(&books, "2026-01".parse().unwrap(), false).unwrap_err();
        assert_eq!(none, NothingToBill::NoRecords { period: "2026-01".into() });
    }

    #[test]
    fn prefixes_are_joined_with_one_dash() {
        assert_eq!(invoice_number("NB-FLOW", "2026-11", 1), "NB-FLOW-2026-11-0001");
        assert_eq!(invoice_number("ACME-", "2026-11", 12), "ACME-2026-11-0012");
        assert_eq!(invoice_number("", "2026-11", 3), "2026-11-0003");
        assert_eq!(invoice_number("X", "2026-11", 12_345), "X-2026-11-12345");
    }
}
