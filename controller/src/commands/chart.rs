//! Charts of monthly recurring revenue: block characters for the terminal and a
//! self-contained SVG for a partner's business review.

use super::revenue::PartnerRevenue;
use crate::planner::billing::Currency;
use std::fmt::Write;

/// Eighths of a cell, from one eighth to a full block.
const EIGHTHS: [char; 8] = ['▏', '▎', '▍', '▌', '▋', '▊', '▉', '█'];

/// `value` of `max` as a bar of at most `width` cells, in eighths of a cell. Zero, negative
/// values and a zero `max` give an empty bar; any positive value shows at least an eighth.
pub fn bar(value: i64, max: i64, width: usize) -> String {
    if value <= 0 || max <= 0 || width == 0 {
        return String::new();
    }
    let eighths = (i128::from(value.min(max)) * (width as i128) * 8 + i128::from(max) / 2) / i128::from(max);
    let eighths = usize::try_from(eighths.max(1)).unwrap_or(width * 8);
    let mut out = "█".repeat(eighths / 8);
    if eighths % 8 > 0 {
        out.push(EIGHTHS[eighths % 8 - 1]);
    }
    out
}

/// One line per `(label, value)`: the label, a bar scaled to the largest value, and the
/// value as `format` writes it.
pub fn bars(values: &[(String, i64)], width: usize, format: impl Fn(i64) -> String) -> String {
    let max = values.iter().map(|(_, v)| *v).max().unwrap_or(0);
    let label_width = values.iter().map(|(l, _)| l.chars().count()).max().unwrap_or(0);
    let mut out = String::new();
    for (label, value) in values {
        let _ = writeln!(out, "{label:<label_width$} │{:<width$} {}", bar(*value, max, width), format(*value));
    }
    out
}

const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const WIDTH: i64 = 760;
const HEIGHT: i64 = 420;
const LEFT: i64 = 96;
const RIGHT: i64 = 24;
const TOP: i64 = 84;
const BOTTOM: i64 = 56;
const DEFAULT_COLOR: &str = "#2F4B7C";

/// `2026-11` as `Nov 26`.
pub fn month_label(period: &str) -> String {
    let (year, month) = period.split_once('-').unwrap_or((period, ""));
    let month = month.parse::<usize>().ok().and_then(|m| MONTHS.get(m.wrapping_sub(1)));
    match month {
        Some(name) => format!("{name} {}", year.get(2..).unwrap_or(year)),
        None => period.to_string(),
    }
}

/// The smallest of 1, 2, 2.5 or 5 × 10ⁿ that is at least `max` / 4: the step of four grid lines.
fn grid_step(max: i64) -> i64 {
    let target = (max.max(1) + 3) / 4;
    let mut magnitude = 1i64;
    while magnitude.saturating_mul(10) <= target {
        magnitude *= 10;
    }
    [1, 2, 5, 10].iter().map(|m| m * magnitude).find(|step| *step >= target).unwrap_or(magnitude * 10)
}

/// `#rrggbb`, or the default colour when `color` is not one.
fn valid_color(color: Option<&str>) -> String {
    match color {
        Some(c) if c.len() == 7 && c.starts_with('#') && c[1..].chars().all(|x| x.is_ascii_hexdigit()) => c.to_string(),
        _ => DEFAULT_COLOR.to_string(),
    }
}

/// `color` mixed half and half with white: the second layer's shade of the brand colour.
fn tint(color: &str) -> String {
    let channel = |i: usize| u8::from_str_radix(&color[i..i + 2], 16).unwrap_or(0);
    let light = |c: u8| c + (255 - c) / 2;
    format!("#{:02X}{:02X}{:02X}", light(channel(1)), light(channel(3)), light(channel(5)))
}

/// Text safe inside an SVG element or attribute.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// A bar chart of monthly MRR stacked by layer (platform, managed operations) in the
/// partner's colour, with its MRR after discounts above each bar.
pub fn svg(report: &PartnerRevenue) -> String {
    let currency = Currency::new(&report.currency);
    let color = valid_color(report.primary_color.as_deref());
    let light = tint(&color);
    let gross = |m: &crate::planner::billing::revenue::MonthRevenue| {
        m.layers.platform.max(0) + m.layers.managed_operations.max(0) + m.layers.expansion.max(0)
    };
    let step = grid_step(report.months.iter().map(gross).max().unwrap_or(0));
    let top_value = step * 4;
    let (plot_w, plot_h) = (WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM);
    let y = |value: i64| TOP + plot_h - (i128::from(value) * i128::from(plot_h) / i128::from(top_value)) as i64;
    let mut out = svg_head(report, &color, &light);
    for line in 0..=4 {
        let value = step * line;
        let _ = writeln!(
            out,
            r##"  <line x1="{LEFT}" y1="{y}" x2="{x2}" y2="{y}" stroke="#D9DDE3" stroke-width="1"/>
  <text x="{lx}" y="{ty}" text-anchor="end" class="axis">{label}</text>"##,
            y = y(value),
            x2 = WIDTH - RIGHT,
            lx = LEFT - 8,
            ty = y(value) + 4,
            label = escape(&currency.format(value))
        );
    }
    let slot = plot_w / (report.months.len().max(1) as i64);
    for (index, month) in report.months.iter().enumerate() {
        let x = LEFT + slot * index as i64 + slot / 6;
        let bar_w = (slot * 2 / 3).max(1);
        let platform = month.layers.platform.max(0);
        let managed = month.layers.managed_operations.max(0) + month.layers.expansion.max(0);
        let (y_platform, y_top) = (y(platform), y(platform + managed));
        let _ = writeln!(
            out,
            r#"  <g><title>{period}: MRR {mrr} {code}</title>
    <rect x="{x}" y="{y_platform}" width="{bar_w}" height="{hp}" fill="{color}"/>
    <rect x="{x}" y="{y_top}" width="{bar_w}" height="{hm}" fill="{light}"/>
    <text x="{cx}" y="{vy}" text-anchor="middle" class="value">{mrr_short}</text>
    <text x="{cx}" y="{my}" text-anchor="middle" class="axis">{label}</text>
  </g>"#,
            period = month.period,
            mrr = escape(&currency.format(month.mrr)),
            code = escape(&report.currency),
            hp = TOP + plot_h - y_platform,
            hm = y_platform - y_top,
            cx = x + bar_w / 2,
            vy = y_top - 6,
            my = TOP + plot_h + 20,
            mrr_short = escape(&whole_units(&currency, month.mrr)),
            label = month_label(&month.period),
        );
    }
    out.push_str("</svg>\n");
    out
}

/// An amount in whole major units for a label (`12345.67` EUR is `12346`).
fn whole_units(currency: &Currency, amount: i64) -> String {
    let scale = 10i64.pow(currency.exponent());
    let rounded = crate::planner::billing::Exact::prorated(amount, 1, scale).round();
    Currency::new("JPY").format(rounded)
}

fn svg_head(report: &PartnerRevenue, color: &str, light: &str) -> String {
    let first = report.months.first().map(|m| month_label(&m.period)).unwrap_or_default();
    let last = report.months.last().map(|m| month_label(&m.period)).unwrap_or_default();
    let legend_y = TOP - 22;
    format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="Helvetica, Arial, sans-serif">
  <style>.title {{ font-size: 18px; font-weight: bold; fill: #1F2933; }} .sub {{ font-size: 12px; fill: #52606D; }} .axis {{ font-size: 11px; fill: #52606D; }} .value {{ font-size: 10px; fill: #1F2933; }}</style>
  <rect width="{WIDTH}" height="{HEIGHT}" fill="#FFFFFF"/>
  <text x="{LEFT}" y="28" class="title">{product}: monthly recurring revenue ({code})</text>
  <text x="{LEFT}" y="46" class="sub">{partner}, {first} to {last}. Figures above the bars: MRR after contract discounts, in {code}.</text>
  <rect x="{LEFT}" y="{ly}" width="12" height="12" fill="{color}"/>
  <text x="{lx1}" y="{ty}" class="axis">Platform (tier base fees)</text>
  <rect x="{lx2}" y="{ly}" width="12" height="12" fill="{light}"/>
  <text x="{lx3}" y="{ty}" class="axis">Managed operations (active workflows)</text>
"##,
        product = escape(&report.product_name),
        code = escape(&report.currency),
        partner = escape(&report.display_name),
        ly = legend_y,
        ty = legend_y + 10,
        lx1 = LEFT + 18,
        lx2 = LEFT + 200,
        lx3 = LEFT + 218,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::planner::billing::revenue::{MonthRevenue, MrrLayers, MrrMovements};

    #[test]
    fn bars_scale_to_the_largest_value_in_eighths() {
        assert_eq!(bar(100, 100, 4), "████");
        assert_eq!(bar(50, 100, 4), "██");
        assert_eq!(bar(1, 100, 4), "▏", "anything above zero shows");
        assert_eq!(bar(0, 100, 4), "");
        assert_eq!(bar(-5, 100, 4), "");
        assert_eq!(bar(0, 0, 4), "", "every month at zero: no bars, no division by zero");
        assert_eq!(bar(3, 8, 1), "▍", "3/8 of a cell");
    }

    #[test]
    fn a_single_month_or_all_zero_months_still_chart() {
        let one = bars(&[("2026-11".into(), 5)], 10, |v| v.to_string());
        assert_eq!(one, "2026-11 │██████████ 5\n");
        let zeros = bars(&[("2026-10".into(), 0), ("2026-11".into(), 0)], 3, |v| v.to_string());
        assert_eq!(zeros, "2026-10 │    0\n2026-11 │    0\n");
        assert_eq!(bars(&[], 10, |v| v.to_string()), "");
    }

    #[test]
    fn grid_steps_are_round_numbers_covering_the_maximum() {
        assert_eq!(grid_step(0), 1);
        assert_eq!(grid_step(4), 1);
        assert_eq!(grid_step(5), 2);
        assert_eq!(grid_step(1_000_000), 500_000);
        assert_eq!(grid_step(1_000_001), 500_000);
        assert_eq!(grid_step(2_000_001), 1_000_000);
        assert!(grid_step(3_570_000) * 4 >= 3_570_000);
    }

    fn month(period: &str, platform: i64, managed: i64) -> MonthRevenue {
        MonthRevenue {
            period: period.into(),
            mrr: platform + managed,
            layers: MrrLayers { platform, managed_operations: managed, expansion: 0, discount: 0 },
            by_tier: Default::default(),
            arr: 12 * (platform + managed),
            movements: MrrMovements::default(),
            accounts: 1,
            arpa: platform + managed,
            attach_rate_bp: 0,
            nrr_bp: None,
            grr_bp: None,
            billed: 0,
            credits: 0,
            costs: None,
            gross_margin: None,
            gross_margin_bp: None,
            adoption: None,
            adoption_bp: None,
        }
    }

    fn report(months: Vec<MonthRevenue>, color: Option<&str>) -> PartnerRevenue {
        PartnerRevenue {
            partner: "acme".into(),
            display_name: "Acme & Sons".into(),
            product_name: "Acme <Flow>".into(),
            currency: "KWD".into(),
            primary_color: color.map(str::to_string),
            months,
        }
    }

    #[test]
    fn the_svg_carries_the_brand_the_months_and_escapes_names() {
        let svg = svg(&report(vec![month("2025-12", 1_000, 500), month("2026-01", 0, 0)], Some("#0B4F6C")));
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains("fill=\"#0B4F6C\"") && svg.contains("fill=\"#85A7B5\""), "the colour and its tint");
        assert!(svg.contains(">Dec 25<") && svg.contains(">Jan 26<"));
        assert!(svg.contains("Acme &lt;Flow&gt;: monthly recurring revenue (KWD)"));
        assert!(svg.contains("Acme &amp; Sons"));
        assert!(svg.contains("MRR 1.500 KWD"), "{svg}");
        assert!(!svg.contains("NaN") && !svg.contains("height=\"-"), "{svg}");
    }

    #[test]
    fn an_svg_of_nothing_is_still_a_chart() {
        let svg = svg(&report(vec![month("2026-11", 0, 0)], Some("not a colour")));
        assert!(svg.contains(DEFAULT_COLOR));
        assert!(!svg.contains("height=\"-"), "{svg}");
    }

    #[test]
    fn month_labels_are_short() {
        assert_eq!(month_label("2026-11"), "Nov 26");
        assert_eq!(month_label("2026-01"), "Jan 26");
        assert_eq!(month_label("junk"), "junk");
    }
}
