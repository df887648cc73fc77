//! The business review as one self-contained HTML page: inline CSS in the partner's primary
//! colour, charts as inline SVG, the logo as the only outside resource. Every string that
//! comes from the declared objects or from Prometheus is HTML-escaped.

use super::report::{percent, MonthBill, PeriodKind, Review, TrendsView};
use std::fmt::Write;

/// Text safe inside an HTML element or a double- or single-quoted attribute.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const RED: &str = "#C0392B";
const GREY: &str = "#9AA5B1";
const LIGHT_GREY: &str = "#D9DDE3";
const INK: &str = "#1F2933";

fn channels(color: &str) -> (u8, u8, u8) {
    let channel = |i: usize| u8::from_str_radix(color.get(i..i + 2).unwrap_or("00"), 16).unwrap_or(0);
    (channel(1), channel(3), channel(5))
}

/// `color` mixed half and half with white.
pub fn tint(color: &str) -> String {
    let (r, g, b) = channels(color);
    let light = |c: u8| c + (255 - c) / 2;
    format!("#{:02X}{:02X}{:02X}", light(r), light(g), light(b))
}

/// White on a dark colour, ink on a light one.
fn text_on(color: &str) -> &'static str {
    let (r, g, b) = channels(color);
    let luma = 299 * u32::from(r) + 587 * u32::from(g) + 114 * u32::from(b);
    if luma > 150_000 {
        INK
    } else {
        "#FFFFFF"
    }
}

/// `1234567` as `1,234,567`.
pub fn grouped(value: i64) -> String {
    let digits = value.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if value < 0 {
        format!("-{out}")
    } else {
        out
    }
}

/// Vertical bars, one per `(label, value)`, scaled to the largest, in `color`.
fn column_chart(title: &str, values: &[(String, i64)], color: &str) -> String {
    const W: i64 = 560;
    const H: i64 = 220;
    const TOP: i64 = 30;
    const BOTTOM: i64 = 36;
    let max = values.iter().map(|(_, v)| *v).max().unwrap_or(0).max(1);
    let slot = (W - 40) / (values.len().max(1) as i64);
    let bar_w = (slot * 3 / 5).clamp(2, 90);
    let plot_h = H - TOP - BOTTOM;
    let mut out = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{t}" width="{W}" height="{H}" viewBox="0 0 {W} {H}"><title>{t}</title>"#,
        t = escape(title)
    );
    let _ = write!(
        out,
        r#"<line x1="20" y1="{y}" x2="{x2}" y2="{y}" stroke="{LIGHT_GREY}"/>"#,
        y = H - BOTTOM,
        x2 = W - 20
    );
    let label_every = (values.len() / 12).max(1);
    for (i, (label, value)) in values.iter().enumerate() {
        let h = (i128::from((*value).max(0)) * i128::from(plot_h) / i128::from(max)) as i64;
        let x = 20 + slot * i as i64 + (slot - bar_w) / 2;
        let cx = x + bar_w / 2;
        let _ = write!(
            out,
            r#"<rect x="{x}" y="{y}" width="{bar_w}" height="{h}" fill="{color}"><title>{l}: {v}</title></rect>"#,
            y = H - BOTTOM - h,
            l = escape(label),
            v = grouped(*value)
        );
        if values.len() <= 12 {
            let _ = write!(
                out,
                r#"<text x="{cx}" y="{y}" text-anchor="middle" class="v">{v}</text>"#,
                y = H - BOTTOM - h - 6,
                v = grouped(*value)
            );
        }
        if i % label_every == 0 {
            let _ = write!(
                out,
                r#"<text x="{cx}" y="{y}" text-anchor="middle" class="a">{l}</text>"#,
                y = H - BOTTOM + 16,
                l = escape(label)
            );
        }
    }
    out.push_str("</svg>");
    out
}

/// One horizontal bar split by `(label, count, colour)`, with a legend under it.
fn stacked_bar(title: &str, parts: &[(&str, usize, String)]) -> String {
    const W: i64 = 560;
    let total = parts.iter().map(|(_, n, _)| *n).sum::<usize>().max(1) as i64;
    let mut out = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{t}" width="{W}" height="74" viewBox="0 0 {W} 74"><title>{t}</title>"#,
        t = escape(title)
    );
    let _ = write!(out, r#"<rect x="0" y="4" width="{W}" height="30" fill="{LIGHT_GREY}"/>"#);
    let mut x = 0i64;
    for (label, count, color) in parts.iter().filter(|(_, n, _)| *n > 0) {
        let w = (*count as i64) * W / total;
        let _ = write!(
            out,
            r#"<rect x="{x}" y="4" width="{w}" height="30" fill="{color}"><title>{label}: {count}</title></rect>"#
        );
        x += w;
    }
    let mut lx = 0;
    for (label, count, color) in parts {
        let _ = write!(
            out,
            r#"<rect x="{lx}" y="50" width="12" height="12" fill="{color}"/><text x="{tx}" y="61" class="a">{label} {count}</text>"#,
            tx = lx + 16
        );
        lx += 112;
    }
    out.push_str("</svg>");
    out
}

/// Horizontal bars for a bill's lines: charges in the brand colour, credits and discounts in red.
fn bill_chart(bill: &MonthBill, color: &str) -> String {
    const W: i64 = 560;
    const LABEL: i64 = 150;
    let row = 26i64;
    let h = row * bill.lines.len().max(1) as i64 + 8;
    let max = bill.lines.iter().map(|l| l.amount.abs()).max().unwrap_or(0).max(1);
    let mut out = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="Bill {p} by line" width="{W}" height="{h}" viewBox="0 0 {W} {h}"><title>Bill {p} by line</title>"#,
        p = escape(&bill.period)
    );
    for (i, line) in bill.lines.iter().enumerate() {
        let y = 4 + row * i as i64;
        let w = (i128::from(line.amount.abs()) * i128::from(W - LABEL - 90) / i128::from(max)) as i64;
        let fill = if line.amount < 0 { RED } else { color };
        let _ = write!(
            out,
            r#"<text x="{lx}" y="{ty}" text-anchor="end" class="a">{layer}</text><rect x="{LABEL}" y="{y}" width="{w}" height="18" fill="{fill}"><title>{d}: {a}</title></rect><text x="{vx}" y="{ty}" class="v">{a}</text>"#,
            lx = LABEL - 8,
            ty = y + 13,
            layer = escape(&line.layer),
            d = escape(&line.description),
            a = escape(&line.amount_formatted),
            vx = LABEL + w + 6
        );
    }
    out.push_str("</svg>");
    out
}

/// Daily items processed (bars, brand colour) with exceptions (bars, red) under them.
fn trend_chart(category: &str, processed: &[(i64, i64)], exceptions: &[(i64, i64)], color: &str) -> String {
    const W: i64 = 560;
    const H: i64 = 180;
    let days: Vec<i64> = {
        let mut d: Vec<i64> = processed.iter().chain(exceptions).map(|(t, _)| *t).collect();
        d.sort_unstable();
        d.dedup();
        d
    };
    let at = |series: &[(i64, i64)], t: i64| series.iter().find(|(x, _)| *x == t).map_or(0, |(_, v)| *v);
    let max_p = processed.iter().map(|(_, v)| *v).max().unwrap_or(0).max(1);
    let max_e = exceptions.iter().map(|(_, v)| *v).max().unwrap_or(0).max(1);
    let slot = (W - 20) as f64 / days.len().max(1) as f64;
    let bar_w = ((slot * 0.7) as i64).max(1);
    let mut out = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{c}: items processed and exceptions per day" width="{W}" height="{H}" viewBox="0 0 {W} {H}"><title>{c}: items processed and exceptions per day</title>"#,
        c = escape(category)
    );
    let _ = write!(
        out,
        r#"<text x="10" y="14" class="a">items processed per day (max {p})</text><text x="10" y="124" class="a">exceptions per day (max {e})</text><line x1="10" y1="104" x2="{x2}" y2="104" stroke="{LIGHT_GREY}"/><line x1="10" y1="172" x2="{x2}" y2="172" stroke="{LIGHT_GREY}"/>"#,
        p = grouped(max_p),
        e = grouped(max_e),
        x2 = W - 10
    );
    for (i, t) in days.iter().enumerate() {
        let x = 10 + (slot * i as f64) as i64;
        let p = at(processed, *t);
        let e = at(exceptions, *t);
        let hp = p * 80 / max_p;
        let he = e * 40 / max_e;
        let _ = write!(out, r#"<rect x="{x}" y="{y}" width="{bar_w}" height="{hp}" fill="{color}"/>"#, y = 104 - hp);
        let _ = write!(out, r#"<rect x="{x}" y="{y}" width="{bar_w}" height="{he}" fill="{RED}"/>"#, y = 172 - he);
    }
    out.push_str("</svg>");
    out
}

fn day_label(unix: i64) -> String {
    // The point at the end of a day stands for the day before it.
    jiff::Timestamp::from_second(unix - 1)
        .map(|t| t.to_zoned(jiff::tz::TimeZone::UTC).date().to_string())
        .unwrap_or_default()
}

fn or_dash<T: ToString>(value: Option<T>) -> String {
    value.map_or_else(|| "—".to_string(), |v| v.to_string())
}

/// The page.
pub fn render(review: &Review) -> String {
    let brand = &review.brand;
    let color = brand.primary_color.as_str();
    let light = tint(color);
    let on_brand = text_on(color);
    let product = escape(&brand.product_name);
    let client = escape(&review.tenant_display_name);
    let period_title = escape(&review.period.title);
    let mut out = String::new();
    let _ = write!(
        out,
        r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="tenantry report">
<title>{product}: business review for {client}, {period_title}</title>
<style>
:root {{ --brand: {color}; --brand-light: {light}; --ink: {INK}; --muted: #52606D; --line: {LIGHT_GREY}; }}
* {{ box-sizing: border-box; }}
body {{ margin: 0; font-family: Helvetica, Arial, sans-serif; color: var(--ink); background: #FFFFFF; }}
header.brand {{ background: var(--brand); color: {on_brand}; padding: 28px 40px; display: flex; align-items: center; gap: 24px; }}
header.brand img {{ height: 48px; max-width: 200px; background: #FFFFFF; border-radius: 4px; padding: 4px; }}
header.brand h1 {{ margin: 0; font-size: 28px; }}
header.brand p {{ margin: 4px 0 0; font-size: 16px; }}
main {{ padding: 8px 40px 24px; max-width: 1120px; }}
h2 {{ color: var(--brand); border-bottom: 3px solid var(--brand); padding-bottom: 4px; margin-top: 32px; }}
.cards {{ display: flex; flex-wrap: wrap; gap: 16px; margin-top: 24px; }}
.card {{ flex: 1 1 180px; border-left: 8px solid var(--brand); background: #F5F7FA; padding: 12px 16px; }}
.card .k {{ font-size: 13px; color: var(--muted); }}
.card .n {{ font-size: 26px; font-weight: bold; margin-top: 4px; }}
.card .s {{ font-size: 12px; color: var(--muted); margin-top: 2px; }}
table {{ border-collapse: collapse; width: 100%; margin: 12px 0; font-size: 14px; }}
th {{ background: var(--brand); color: {on_brand}; text-align: left; padding: 6px 8px; }}
td {{ border-bottom: 1px solid var(--line); padding: 6px 8px; }}
td.num, th.num {{ text-align: right; font-variant-numeric: tabular-nums; }}
tr.total td {{ font-weight: bold; border-top: 2px solid var(--brand); }}
.note {{ background: #FFF8E1; border-left: 6px solid #F0B429; padding: 8px 12px; margin: 12px 0; font-size: 14px; }}
.muted {{ color: var(--muted); font-size: 13px; }}
svg {{ display: block; margin: 12px 0; font-family: Helvetica, Arial, sans-serif; }}
svg .a {{ font-size: 11px; fill: #52606D; }}
svg .v {{ font-size: 11px; fill: {INK}; }}
footer {{ border-top: 6px solid var(--brand); padding: 16px 40px; font-size: 13px; color: var(--muted); }}
</style>
</head>
<body>
<header class="brand">
"#
    );
    if let Some(logo) = &brand.logo_url {
        let _ = writeln!(out, r#"<img src="{}" alt="{product} logo">"#, escape(logo));
    }
    let _ = write!(
        out,
        r#"<div><h1>{product}</h1><p>Business review for {client}, {period_title}</p><p class="sub">{partner} · tier {tier}</p></div>
</header>
<main>
"#,
        partner = escape(&brand.partner_display_name),
        tier = escape(&review.tier.display_name),
    );
    if !review.period.complete {
        let _ = writeln!(
            out,
            r#"<p class="note">This period is still running: figures are up to {}.</p>"#,
            escape(&review.generated_at)
        );
    }
    if let Some(note) = &review.tier.cadence_note {
        let _ = writeln!(out, r#"<p class="note">{}</p>"#, escape(note));
    }

    // Summary cards.
    let adoption = review.adoption.basis_points.map_or_else(|| "—".to_string(), percent);
    let attainment = review
        .sla
        .attainment
        .as_ref()
        .map_or_else(|| "not measured for this period".to_string(), |a| format!("{}%", a.availability));
    let _ = write!(
        out,
        r#"<section class="cards" id="summary">
<div class="card"><div class="k">Billed ({months})</div><div class="n">{total} {code}</div><div class="s">{bill_state}</div></div>
<div class="card"><div class="k">Workflows running</div><div class="n">{running} of {workflows}</div><div class="s">{held} held, {suspended} suspended, {blocked} blocked</div></div>
<div class="card"><div class="k">Runs</div><div class="n">{runs}</div><div class="s">scheduled runs in {months}</div></div>
<div class="card"><div class="k">Adoption</div><div class="n">{adoption}</div><div class="s">{with_runs} of {scheduled} scheduled workflows ran</div></div>
<div class="card"><div class="k">Availability target</div><div class="n">{target}</div><div class="s">attainment: {attainment}</div></div>
</section>
"#,
        months = escape(&review.period.months.join(", ")),
        total = escape(&review.billed_total_formatted),
        code = escape(&review.currency),
        bill_state = if review.bills.iter().all(|b| b.closed) && !review.bills.is_empty() {
            "final"
        } else if review.bills.is_empty() {
            "no bill for the period"
        } else {
            "so far: a month is still open"
        },
        running = review.phases.running,
        workflows = review.phases.total(),
        held = review.phases.held,
        suspended = review.phases.suspended,
        blocked = review.phases.blocked,
        runs = grouped(review.runs.total),
        with_runs = review.adoption.with_runs,
        scheduled = review.adoption.scheduled,
        target =
            review.sla.availability_target.as_ref().map_or_else(|| "none".to_string(), |t| format!("{}%", escape(t))),
        attainment = escape(&attainment),
    );

    // Workflows.
    out.push_str("<h2 id=\"workflows\">Workflows</h2>\n");
    let parts = [
        ("Running", review.phases.running, color.to_string()),
        ("Held", review.phases.held, light.clone()),
        ("Suspended", review.phases.suspended, GREY.to_string()),
        ("Blocked", review.phases.blocked, RED.to_string()),
        ("Pending", review.phases.pending, LIGHT_GREY.to_string()),
    ];
    out.push_str(&stacked_bar("Workflows by phase", &parts));
    out.push('\n');
    out.push_str("<table>\n<tr><th>Workflow</th><th>Category</th><th>Trigger</th><th>Phase</th><th>Ran in period</th><th class=\"num\">Succeeded to date</th><th class=\"num\">Failed to date</th></tr>\n");
    for w in &review.workflows {
        let phase = match &w.reason {
            Some(reason) => format!("{} ({})", escape(&w.phase), escape(reason)),
            None => escape(&w.phase),
        };
        let ran = match w.ran_in_period {
            Some(true) => "yes",
            Some(false) => "no",
            None => "—",
        };
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{phase}</td><td>{ran}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            escape(&w.name),
            escape(&w.category),
            escape(&w.trigger),
            or_dash(w.succeeded.map(grouped)),
            or_dash(w.failed.map(grouped)),
        );
    }
    out.push_str("</table>\n");

    // Runs.
    out.push_str("<h2 id=\"runs\">Runs and failures</h2>\n");
    let known: Vec<(String, i64)> =
        review.runs.by_month.iter().filter_map(|(m, r)| r.map(|r| (m.clone(), r))).collect();
    if known.is_empty() {
        out.push_str("<p class=\"muted\">No runs are recorded for the period's months.</p>\n");
    } else {
        out.push_str(&column_chart("Scheduled runs per month", &known, color));
        out.push('\n');
    }
    if review.period.kind == PeriodKind::Week {
        out.push_str("<p class=\"muted\">Runs are counted per calendar month: the figures are those of the month(s) the week falls in.</p>\n");
    }
    let _ = writeln!(
        out,
        "<p>Runs to date: {}; failed to date: {}{}.</p>",
        or_dash(review.runs.runs_to_date.map(grouped)),
        or_dash(review.runs.failed_to_date.map(grouped)),
        match (review.runs.runs_to_date, review.runs.failed_to_date) {
            (Some(all), Some(failed)) if all > 0 => format!(" ({})", percent(failed * 10_000 / all)),
            _ => String::new(),
        }
    );

    // SLA.
    out.push_str("<h2 id=\"sla\">Service levels</h2>\n<table>\n");
    let _ = writeln!(
        out,
        "<tr><td>Availability target</td><td class=\"num\">{}</td></tr>\n<tr><td>Attainment</td><td class=\"num\">{}</td></tr>\n<tr><td>Exception response</td><td class=\"num\">{}</td></tr>\n<tr><td>Reporting cadence</td><td class=\"num\">{}</td></tr>",
        review.sla.availability_target.as_ref().map_or_else(|| "none".to_string(), |t| format!("{}%", escape(t))),
        match &review.sla.attainment {
            Some(a) => format!("{}% ({})", escape(&a.availability), if a.met { "met" } else { "missed" }),
            None => "not measured for this period".to_string(),
        },
        review.sla.exception_response_minutes.map_or_else(|| "—".to_string(), |m| format!("within {m} minutes")),
        match review.tier.cadence {
            Some(PeriodKind::Week) => "weekly",
            Some(PeriodKind::Month) => "monthly",
            Some(PeriodKind::Quarter) => "quarterly",
            None => "—",
        }
    );
    out.push_str("</table>\n");
    if review.sla.credits.is_empty() {
        out.push_str("<p>No service credits on the period's bills.</p>\n");
    } else {
        out.push_str("<table>\n<tr><th>Month</th><th>Credit</th><th class=\"num\">Amount</th></tr>\n");
        for c in &review.sla.credits {
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td>{}</td><td class=\"num\">{} {}</td></tr>",
                escape(&c.period),
                escape(&c.description),
                escape(&c.amount_formatted),
                escape(&review.currency)
            );
        }
        let _ = writeln!(
            out,
            "<tr class=\"total\"><td></td><td>Credits</td><td class=\"num\">{} {}</td></tr>\n</table>",
            escape(&review.sla.credits_total_formatted),
            escape(&review.currency)
        );
    }

    // Bills.
    out.push_str("<h2 id=\"bill\">Bill</h2>\n");
    if review.bills.is_empty() {
        out.push_str("<p>No BillingRecord covers the period.</p>\n");
    }
    for bill in &review.bills {
        let _ = writeln!(
            out,
            "<h3>{} · {}</h3>",
            escape(&bill.period),
            if bill.closed { "final".to_string() } else { "open: amounts so far".to_string() }
        );
        out.push_str(&bill_chart(bill, color));
        out.push('\n');
        out.push_str("<table>\n<tr><th>Layer</th><th>Description</th><th class=\"num\">Amount</th></tr>\n");
        for line in &bill.lines {
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td></tr>",
                escape(&line.layer),
                escape(&line.description),
                escape(&line.amount_formatted)
            );
        }
        let _ = writeln!(
            out,
            "<tr class=\"total\"><td></td><td>Total {}</td><td class=\"num\">{} {}</td></tr>\n</table>",
            escape(&bill.period),
            escape(&bill.total_formatted),
            escape(&review.currency)
        );
        if let Some(estimate) = &bill.estimate_formatted {
            let _ = writeln!(
                out,
                "<p class=\"muted\">Estimate for the whole month: {} {}.</p>",
                escape(estimate),
                escape(&review.currency)
            );
        }
    }

    // Trends.
    out.push_str("<h2 id=\"trends\">Throughput and exceptions</h2>\n");
    match &review.trends {
        TrendsView::NotRequested => out
            .push_str("<p class=\"muted\">No Prometheus address was given: trends are not part of this review.</p>\n"),
        TrendsView::Unavailable { reason } => {
            let _ = writeln!(
                out,
                "<p class=\"note\">Trends are not available: {}. The rest of the review is complete.</p>",
                escape(reason)
            );
        }
        TrendsView::Measured(trends) if trends.categories.is_empty() => {
            out.push_str("<p>Prometheus holds no runner metrics for this tenant in the period.</p>\n");
        }
        TrendsView::Measured(trends) => {
            out.push_str("<table>\n<tr><th>Category</th><th class=\"num\">Items processed</th><th class=\"num\">Exceptions</th><th class=\"num\">Exception rate</th></tr>\n");
            for c in &trends.categories {
                let _ = writeln!(
                    out,
                    "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
                    escape(&c.category),
                    grouped(c.processed_total),
                    grouped(c.exceptions_total),
                    c.exception_rate()
                );
            }
            out.push_str("</table>\n");
            for c in &trends.categories {
                let first = c.processed.iter().chain(&c.exceptions).map(|(t, _)| *t).min();
                let last = c.processed.iter().chain(&c.exceptions).map(|(t, _)| *t).max();
                let _ = writeln!(
                    out,
                    "<h3>{}</h3>\n<p class=\"muted\">Per day, {} to {}.</p>",
                    escape(&c.category),
                    first.map(day_label).unwrap_or_default(),
                    last.map(day_label).unwrap_or_default()
                );
                out.push_str(&trend_chart(&c.category, &c.processed, &c.exceptions, color));
                out.push('\n');
            }
        }
    }
    out.push_str("</main>\n<footer>\n");
    let _ = write!(out, "<p>{product} by {partner}.", partner = escape(&brand.partner_display_name));
    if let Some(email) = &brand.support_email {
        let _ = write!(out, " Support: <a href=\"mailto:{e}\">{e}</a>.", e = escape(email));
    }
    if let Some(portal) = &brand.portal_domain {
        let _ = write!(out, " Portal: <a href=\"https://{p}\">{p}</a>.", p = escape(portal));
    }
    let _ = write!(
        out,
        "</p>\n<p>Period {label}: {start} to {end} (UTC). Computed at {at}.</p>\n</footer>\n</body>\n</html>\n",
        label = escape(&review.period.label),
        start = escape(&review.period.start),
        end = escape(&review.period.end),
        at = escape(&review.generated_at),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_everything_that_could_open_markup() {
        assert_eq!(escape(r#"<a href="x">'&'</a>"#), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
    }

    #[test]
    fn numbers_are_grouped_by_thousands() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1_000), "1,000");
        assert_eq!(grouped(-1_234_567), "-1,234,567");
    }

    #[test]
    fn text_is_legible_on_the_brand() {
        assert_eq!(text_on("#0B4F6C"), "#FFFFFF");
        assert_eq!(text_on("#F5F5DC"), INK);
        assert_eq!(tint("#0B4F6C"), "#85A7B5");
    }
}
