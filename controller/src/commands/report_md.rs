//! The business review as Markdown (CommonMark with pipe tables), for people who paste it
//! into their own tools: the same sections and figures as the HTML page, charts as text bars.

use super::chart;
use super::report::{percent, PeriodKind, Review, TrendsView};
use super::report_html::grouped;
use std::fmt::Write;

/// Text safe inside a Markdown table cell or paragraph: the characters that would start
/// markup or end a cell are backslash-escaped, line breaks become spaces, and `<` `>` `&`
/// are written as entities so no HTML passes through.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '#' | '!' => {
                out.push('\\');
                out.push(c);
            }
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

fn or_dash<T: ToString>(value: Option<T>) -> String {
    value.map_or_else(|| "—".to_string(), |v| v.to_string())
}

/// The review.
pub fn render(review: &Review) -> String {
    let brand = &review.brand;
    let code = escape(&review.currency);
    let mut out = String::new();
    let _ = writeln!(out, "# {}: business review", escape(&brand.product_name));
    out.push('\n');
    let _ = writeln!(
        out,
        "**{}**, {} · {} · tier {}",
        escape(&review.tenant_display_name),
        escape(&review.period.title),
        escape(&brand.partner_display_name),
        escape(&review.tier.display_name)
    );
    out.push('\n');
    if let Some(logo) = &brand.logo_url {
        // The address is https:// (checked); only the characters that end a link destination are escaped.
        let _ = writeln!(out, "![{} logo](<{}>)\n", escape(&brand.product_name), logo.replace(['<', '>', ' '], ""));
    }
    if !review.period.complete {
        let _ = writeln!(out, "> This period is still running: figures are up to {}.\n", escape(&review.generated_at));
    }
    if let Some(note) = &review.tier.cadence_note {
        let _ = writeln!(out, "> {}\n", escape(note));
    }

    out.push_str("## Summary\n\n| | |\n|---|---:|\n");
    let _ = writeln!(
        out,
        "| Billed ({}) | {} {code} |",
        escape(&review.period.months.join(", ")),
        escape(&review.billed_total_formatted)
    );
    let _ = writeln!(out, "| Workflows running | {} of {} |", review.phases.running, review.phases.total());
    let _ = writeln!(out, "| Scheduled runs | {} |", grouped(review.runs.total));
    let _ = writeln!(
        out,
        "| Adoption | {} ({} of {} scheduled workflows ran) |",
        review.adoption.basis_points.map_or_else(|| "—".to_string(), percent),
        review.adoption.with_runs,
        review.adoption.scheduled
    );
    let _ = writeln!(
        out,
        "| Availability target | {} |",
        review.sla.availability_target.as_ref().map_or_else(|| "none".to_string(), |t| format!("{}%", escape(t)))
    );
    out.push('\n');

    out.push_str("## Workflows\n\n");
    let phases: Vec<(String, i64)> =
        review.phases.entries().iter().map(|(label, n)| (label.to_string(), *n as i64)).collect();
    out.push_str("```text\n");
    out.push_str(&chart::bars(&phases, 30, |v| v.to_string()));
    out.push_str("```\n\n");
    out.push_str("| Workflow | Category | Trigger | Phase | Ran in period | Succeeded to date | Failed to date |\n|---|---|---|---|---|---:|---:|\n");
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
            "| {} | {} | {} | {phase} | {ran} | {} | {} |",
            escape(&w.name),
            escape(&w.category),
            escape(&w.trigger),
            or_dash(w.succeeded.map(grouped)),
            or_dash(w.failed.map(grouped))
        );
    }
    out.push('\n');

    out.push_str("## Runs and failures\n\n");
    let known: Vec<(String, i64)> =
        review.runs.by_month.iter().filter_map(|(m, r)| r.map(|r| (m.clone(), r))).collect();
    if known.is_empty() {
        out.push_str("No runs are recorded for the period's months.\n\n");
    } else {
        out.push_str("```text\n");
        out.push_str(&chart::bars(&known, 30, grouped));
        out.push_str("```\n\n");
    }
    if review.period.kind == PeriodKind::Week {
        out.push_str(
            "Runs are counted per calendar month: the figures are those of the month(s) the week falls in.\n\n",
        );
    }
    let _ = writeln!(
        out,
        "Runs to date: {}; failed to date: {}.\n",
        or_dash(review.runs.runs_to_date.map(grouped)),
        or_dash(review.runs.failed_to_date.map(grouped))
    );

    out.push_str("## Service levels\n\n| | |\n|---|---:|\n");
    let _ = writeln!(
        out,
        "| Availability target | {} |",
        review.sla.availability_target.as_ref().map_or_else(|| "none".to_string(), |t| format!("{}%", escape(t)))
    );
    let _ = writeln!(
        out,
        "| Attainment | {} |",
        match &review.sla.attainment {
            Some(a) => format!("{}% ({})", escape(&a.availability), if a.met { "met" } else { "missed" }),
            None => "not measured for this period".to_string(),
        }
    );
    let _ = writeln!(
        out,
        "| Exception response | {} |",
        review.sla.exception_response_minutes.map_or_else(|| "—".to_string(), |m| format!("within {m} minutes"))
    );
    out.push('\n');
    if review.sla.credits.is_empty() {
        out.push_str("No service credits on the period's bills.\n\n");
    } else {
        out.push_str("| Month | Credit | Amount |\n|---|---|---:|\n");
        for c in &review.sla.credits {
            let _ = writeln!(
                out,
                "| {} | {} | {} {code} |",
                escape(&c.period),
                escape(&c.description),
                escape(&c.amount_formatted)
            );
        }
        let _ = writeln!(out, "| | **Credits** | **{} {code}** |\n", escape(&review.sla.credits_total_formatted));
    }

    out.push_str("## Bill\n\n");
    if review.bills.is_empty() {
        out.push_str("No BillingRecord covers the period.\n\n");
    }
    for bill in &review.bills {
        let _ = writeln!(
            out,
            "### {} ({})\n\n| Layer | Description | Amount |\n|---|---|---:|",
            escape(&bill.period),
            if bill.closed { "final" } else { "open: amounts so far" }
        );
        for line in &bill.lines {
            let _ = writeln!(
                out,
                "| {} | {} | {} |",
                escape(&line.layer),
                escape(&line.description),
                escape(&line.amount_formatted)
            );
        }
        let _ = writeln!(out, "| | **Total** | **{} {code}** |\n", escape(&bill.total_formatted));
        if let Some(estimate) = &bill.estimate_formatted {
            let _ = writeln!(out, "Estimate for the whole month: {} {code}.\n", escape(estimate));
        }
    }

    out.push_str("## Throughput and exceptions\n\n");
    match &review.trends {
        TrendsView::NotRequested => {
            out.push_str("No Prometheus address was given: trends are not part of this review.\n\n");
        }
        TrendsView::Unavailable { reason } => {
            let _ =
                writeln!(out, "> Trends are not available: {}. The rest of the review is complete.\n", escape(reason));
        }
        TrendsView::Measured(trends) if trends.categories.is_empty() => {
            out.push_str("Prometheus holds no runner metrics for this tenant in the period.\n\n");
        }
        TrendsView::Measured(trends) => {
            out.push_str("| Category | Items processed | Exceptions | Exception rate |\n|---|---:|---:|---:|\n");
            for c in &trends.categories {
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} |",
                    escape(&c.category),
                    grouped(c.processed_total),
                    grouped(c.exceptions_total),
                    c.exception_rate()
                );
            }
            out.push('\n');
            let totals: Vec<(String, i64)> =
                trends.categories.iter().map(|c| (c.category.clone(), c.processed_total)).collect();
            out.push_str("Items processed by category:\n\n```text\n");
            out.push_str(&chart::bars(&totals, 30, grouped));
            out.push_str("```\n\n");
        }
    }

    out.push_str("---\n\n");
    let _ = write!(out, "{} by {}.", escape(&brand.product_name), escape(&brand.partner_display_name));
    if let Some(email) = &brand.support_email {
        let _ = write!(out, " Support: {}.", escape(email));
    }
    if let Some(portal) = &brand.portal_domain {
        let _ = write!(out, " Portal: {}.", escape(portal));
    }
    let _ = writeln!(
        out,
        " Period {}: {} to {} (UTC). Computed at {}.",
        escape(&review.period.label),
        escape(&review.period.start),
        escape(&review.period.end),
        escape(&review.generated_at)
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_cannot_break_the_table_or_carry_html() {
        assert_eq!(escape("a|b <script> *x*\nnext"), "a\\|b &lt;script&gt; \\*x\\* next");
    }
}
