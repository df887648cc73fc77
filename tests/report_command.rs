//! `tenantry report` on the bundled example, as a user runs it: golden HTML and Markdown
//! reviews, periods, errors and exit codes, escaping of hostile names, Prometheus trends from
//! a fake Prometheus (and a dead one), and the page drawn by headless Chromium.
//! Regenerate the golden files with `UPDATE_GOLDEN=1 cargo test --test report_command`.
//! The browser check is ignored by default: `tools/install-chromium`, then
//! `cargo test --test report_command -- --ignored` (`.ci/run` does both).

use std::io::{Read, Write};
use std::net::TcpListener;
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

fn review(tenant: &str, period: &str, format: &str) -> String {
    let output =
        tenantry(&["report", "examples/gitops", "--tenant", tenant, "--period", period, "--at", AT, "-o", format]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    text(&output.stdout)
}

/// A directory of its own under the system's temporary one.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tenantry-report-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

#[test]
fn golden_reviews_of_the_example() {
    for tenant in ["alpine-supply", "sierra-health-distribution"] {
        for period in ["2026-10", "2026-11"] {
            golden(&format!("gitops-report-{tenant}-{period}.html"), &review(tenant, period, "html"));
            golden(&format!("gitops-report-{tenant}-{period}.md"), &review(tenant, period, "md"));
        }
    }
}

#[test]
fn the_review_carries_the_brand_and_the_figures() {
    let html = review("alpine-supply", "2026-10", "html");
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("--brand: #0B4F6C;"), "the partner's colour drives the page");
    assert!(html.contains(
        r#"<img src="https://assets.northbridge-erp.example/flowops/logo.svg" alt="Northbridge FlowOps logo">"#
    ));
    assert!(html.contains("<h1>Northbridge FlowOps</h1>"));
    assert!(html.contains("Business review for Alpine Supply GmbH, October 2026"));
    // October is closed: Intelligence Plus 7990.00 + 6 workflows × 199.00, less 10 %.
    assert!(html.contains("8265.60 EUR"), "the month's bill");
    assert!(
        html.contains("99.95%") && html.contains("not measured for this period"),
        "the SLA target; no status.sla for October"
    );
    assert!(html.contains("6 of 7"), "price-sync is blocked by governance");
    assert!(html.contains("3,038"), "October's runs");
    assert!(html.contains("100.0%") && html.contains("5 of 5 scheduled workflows ran"));
    assert!(!html.contains("still running"), "October is over on 15 November");
    let md = review("alpine-supply", "2026-10", "md");
    for figure in ["8265.60 EUR", "99.95%", "6 of 7", "3,038", "not measured for this period"] {
        assert!(md.contains(figure), "the Markdown has {figure}");
    }
    // November is open: amounts so far, with the estimate; month-end-reconciliation has not run yet.
    let november = review("alpine-supply", "2026-11", "md");
    assert!(november.contains("figures are up to 2026-11-15T09:00:00Z"));
    assert!(november.contains("3960.60 EUR") && november.contains("Estimate for the whole month: 8265.60 EUR"));
    assert!(november.contains("| month-end-reconciliation | financeCompliance | schedule | Running | no |"));
    assert!(november.contains("80.0% (4 of 5 scheduled workflows ran)"));
}

#[test]
fn quarters_and_weeks() {
    let quarter = review("sierra-health-distribution", "2026-Q4", "md");
    assert!(quarter.contains("Q4 2026 (October to December)"));
    assert!(quarter.contains("Billed (2026-10, 2026-11, 2026-12)"), "{quarter}");
    assert!(quarter.contains("### 2026-10 (final)") && quarter.contains("### 2026-11 (open: amounts so far)"));
    assert!(!quarter.contains("### 2026-12"), "no record for December yet");
    let week = tenantry(&[
        "report",
        "examples/gitops",
        "--tenant",
        "alpine-supply",
        "--period",
        "2026-W46",
        "--at",
        AT,
        "-o",
        "md",
    ]);
    assert!(week.status.success(), "{}", text(&week.stderr));
    let md = text(&week.stdout);
    assert!(md.contains("Week 46 of 2026 (9 Nov 2026 to 15 Nov 2026)"), "{md}");
    assert!(md.contains("the figures are those of the month(s) the week falls in"));
    assert!(!md.contains("The tier reports"), "Intelligence Plus reports weekly: no cadence note");
    assert!(text(&week.stderr).is_empty(), "{}", text(&week.stderr));
    let monthly =
        tenantry(&["report", "examples/gitops", "--tenant", "alpine-supply", "--period", "2026-10", "--at", AT]);
    assert!(text(&monthly.stderr).contains("note: The tier reports weekly"), "a period off the cadence is noted");
}

#[test]
fn usage_and_input_errors_have_their_exit_codes() {
    let bad_period = tenantry(&["report", "examples/gitops", "--tenant", "alpine-supply", "--period", "2026-13"]);
    assert_eq!(bad_period.status.code(), Some(2));
    assert!(text(&bad_period.stderr).contains("2026-Q4"), "{}", text(&bad_period.stderr));
    let unknown = tenantry(&["report", "examples/gitops", "--tenant", "nobody", "--period", "2026-10", "--at", AT]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(text(&unknown.stderr).contains("no tenant 'nobody' (tenants: al-noor-trading, alpine-supply,"));
    assert!(unknown.stdout.is_empty());
    let https = tenantry(&[
        "report",
        "examples/gitops",
        "--tenant",
        "alpine-supply",
        "--period",
        "2026-10",
        "--prometheus",
        "https://prometheus.example",
    ]);
    assert_eq!(https.status.code(), Some(2), "{}", text(&https.stderr));
    assert_eq!(tenantry(&["report", "--tenant", "alpine-supply", "--period", "2026-10"]).status.code(), Some(2));
    assert_eq!(tenantry(&["report", "no/such/dir", "--tenant", "a", "--period", "2026-10"]).status.code(), Some(2));
}

/// A fake Prometheus on a free local port: answers `responses.len()` connections in turn
/// and returns the request lines it saw.
fn fake_prometheus(responses: Vec<String>) -> (String, std::thread::JoinHandle<Vec<String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = format!("http://{}", listener.local_addr().expect("address"));
    let handle = std::thread::spawn(move || {
        let mut requests = Vec::new();
        for response in responses {
            let (mut socket, _) = listener.accept().expect("accept");
            let mut request = Vec::new();
            let mut buffer = [0u8; 4096];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = socket.read(&mut buffer).expect("read");
                if n == 0 {
                    break;
                }
                request.extend_from_slice(&buffer[..n]);
            }
            requests.push(text(&request).lines().next().unwrap_or_default().to_string());
            socket.write_all(response.as_bytes()).expect("write");
        }
        requests
    });
    (address, handle)
}

fn json_response(body: &str) -> String {
    format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

#[test]
fn trends_from_prometheus_and_a_review_without_them_when_it_fails() {
    // 2 and 3 October 2026, 00:00 UTC: the ends of the first two days of October.
    let processed = r#"{"status":"success","data":{"resultType":"matrix","result":[
        {"metric":{"category":"orderToCash"},"values":[[1790899200,"1200"],[1790985600,"1350.4"]]},
        {"metric":{"category":"inventoryProcurement"},"values":[[1790899200,"410"],[1790985600,"395"]]}]}}"#;
    let exceptions = r#"{"status":"success","data":{"resultType":"matrix","result":[
        {"metric":{"category":"orderToCash"},"values":[[1790899200,"12"],[1790985600,"9"]]}]}}"#;
    let (address, requests) = fake_prometheus(vec![json_response(processed), json_response(exceptions)]);
    let args = ["report", "examples/gitops", "--tenant", "alpine-supply", "--period", "2026-10", "--at", AT];
    let output = tenantry(&[&args[..], &["--prometheus", &address, "-o", "md"]].concat());
    assert!(output.status.success(), "{}", text(&output.stderr));
    let requests = requests.join().expect("fake Prometheus");
    assert!(requests[0].contains("tenantry_runner_items_processed_total%7Btenant%3D%22alpine-supply%22%7D"));
    assert!(requests[0].contains("&start=1790899200&end=1793491200&step=86400"), "{requests:?}");
    assert!(requests[1].contains("tenantry_runner_exceptions_total"), "{requests:?}");
    let md = text(&output.stdout);
    assert!(md.contains("| inventoryProcurement | 805 | 0 | 0.0% |"), "{md}");
    assert!(md.contains("| orderToCash | 2,550 | 21 | 0.8% |"), "{md}");

    // Bad JSON: the review is written, says why trends are missing, and warns on stderr.
    let (address, _) = fake_prometheus(vec![json_response("<html>oops</html>")]);
    let output = tenantry(&[&args[..], &["--prometheus", &address]].concat());
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(text(&output.stderr).contains("warning: Prometheus at"), "{}", text(&output.stderr));
    let html = text(&output.stdout);
    assert!(html.contains("Trends are not available: Prometheus at"), "{html}");
    assert!(html.contains("not JSON"), "{html}");
    assert!(html.contains("8265.60 EUR"), "the rest of the review is there");

    // Nobody listening.
    let port = TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("address").port();
    let output = tenantry(&[&args[..], &["--prometheus", &format!("http://127.0.0.1:{port}"), "-o", "md"]].concat());
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(text(&output.stdout).contains("> Trends are not available: Prometheus at http://127.0.0.1:"));
}

const HOSTILE: &str = r##"
apiVersion: tenantry.dev/v1alpha1
kind: Partner
metadata: {name: evil}
spec:
  displayName: "Evil <script>alert('partner')</script> & Co"
  branding:
    productName: "Flow\"><img src=x onerror=alert(1)>"
    logoUrl: "https://logo.example/a.png?\"onload=\"alert(2)"
    primaryColor: "#12AB34"
    supportEmail: "help@evil.example"
  currency: USD
  invoicePrefix: EVIL
---
apiVersion: tenantry.dev/v1alpha1
kind: ServiceTier
metadata: {name: evil-tier}
spec:
  partnerRef: evil
  displayName: "Tier <b>bold</b> | pipe"
  level: 1
  capabilities: [workflowAutomation]
  workflowCategories: [orderToCash]
  limits:
    maxWorkflows: 2
    maxConnectedSystems: 2
    namespaceQuota: {cpu: "1", memory: 1Gi, pods: 5}
    defaultContainer: {cpu: 100m, memory: 128Mi}
    maxContainer: {cpu: 200m, memory: 256Mi}
  pricing: {monthlyBaseFee: 10000}
  sla: {availabilityTarget: "99.5", exceptionResponseMinutes: 60, reportingCadence: Monthly}
---
apiVersion: tenantry.dev/v1alpha1
kind: Tenant
metadata: {name: victim}
spec:
  partnerRef: evil
  tierRef: evil-tier
  displayName: "Victim </title><script>alert(3)</script>"
  region: eu-west-1
"##;

#[test]
fn every_declared_string_is_escaped() {
    let dir = scratch("hostile");
    std::fs::write(dir.join("fleet.yaml"), HOSTILE).expect("write");
    let dir_arg = dir.to_string_lossy().to_string();
    let run = |format: &str| {
        let output =
            tenantry(&["report", &dir_arg, "--tenant", "victim", "--period", "2026-10", "--at", AT, "-o", format]);
        assert!(output.status.success(), "{}", text(&output.stderr));
        text(&output.stdout)
    };
    let html = run("html");
    assert!(!html.contains("<script>") && !html.contains("<img src=x") && !html.contains("<b>"), "{html}");
    assert!(!html.contains("\"onload=\""), "{html}");
    assert!(html.contains("Victim &lt;/title&gt;&lt;script&gt;alert(3)&lt;/script&gt;"));
    assert!(html.contains("Evil &lt;script&gt;alert(&#39;partner&#39;)&lt;/script&gt; &amp; Co"));
    assert!(html.contains("--brand: #12AB34;"));
    let md = run("md");
    assert!(!md.contains("<script>") && !md.contains("<img src=x"), "{md}");
    assert!(md.contains("Tier &lt;b&gt;bold&lt;/b&gt; \\| pipe"), "{md}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_same_input_gives_the_same_bytes() {
    assert_eq!(
        review("sierra-health-distribution", "2026-Q4", "html"),
        review("sierra-health-distribution", "2026-Q4", "html")
    );
}

// --- Headless Chromium -------------------------------------------------------------------

/// Where Chromium is: `$CHROMIUM`, else the first of Debian's and others' names on the PATH.
fn chromium() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("CHROMIUM") {
        return Some(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH")?;
    for dir in std::env::split_paths(&path) {
        for name in ["chromium", "chromium-browser", "google-chrome"] {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return Some(candidate);
            }
        }
    }
    None
}

fn screenshot(browser: &Path, html: &Path, png: &Path, profile: &Path) -> Output {
    Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--no-first-run",
            "--force-color-profile=srgb",
            // No network: the example's logo address does not resolve, and must not be fetched.
            "--host-resolver-rules=MAP * ~NOTFOUND",
            "--window-size=1200,1600",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("file://{}", html.display()))
        .output()
        .expect("chromium runs")
}

#[test]
#[ignore = "needs chromium (tools/install-chromium)"]
fn chromium_draws_the_review_in_the_partners_colours() {
    let Some(browser) = chromium() else {
        let required = std::env::var_os("TENANTRY_REQUIRE_CHROMIUM").is_some();
        assert!(!required, "TENANTRY_REQUIRE_CHROMIUM is set but no chromium is installed: run tools/install-chromium");
        eprintln!("skipped: no chromium on the PATH (install it with tools/install-chromium, or set CHROMIUM)");
        return;
    };
    let dir = scratch("chromium");
    for (tenant, color) in [("alpine-supply", (0x0B, 0x4F, 0x6C)), ("sierra-health-distribution", (0xE4, 0x57, 0x2E))] {
        let html = review(tenant, "2026-10", "html");
        let page = dir.join(format!("{tenant}.html"));
        let png = dir.join(format!("{tenant}.png"));
        std::fs::write(&page, &html).expect("write page");
        let output = screenshot(&browser, &page, &png, &dir.join(format!("profile-{tenant}")));
        assert!(png.is_file(), "chromium wrote no screenshot: {}", text(&output.stderr));
        let image = png::decode(&std::fs::read(&png).expect("read png")).expect("a PNG chromium wrote");
        assert_eq!((image.width, image.height), (1200, 1600));
        let brand =
            image.count(|(r, g, b)| r.abs_diff(color.0) <= 3 && g.abs_diff(color.1) <= 3 && b.abs_diff(color.2) <= 3);
        let white = image.count(|p| p == (255, 255, 255));
        let share = brand * 1000 / image.pixels();
        // The header band alone is 1200 × ~130 pixels; with the cards, table headings and bars
        // the brand colour covers well over 5 % of the first screen.
        eprintln!("{tenant}: {share}‰ of the screenshot in the partner's colour");
        assert!(share >= 50, "{tenant}: only {brand} pixels ({share}‰) in the partner's colour");
        assert!(white * 2 > image.pixels(), "{tenant}: the page is mostly white paper");
        // The numbers it shows.
        if tenant == "alpine-supply" {
            for figure in ["8265.60 EUR", "99.95%", "6 of 7", "3,038"] {
                assert!(html.contains(figure), "{figure}");
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Just enough PNG to read Chromium's screenshots: 8-bit RGB or RGBA, non-interlaced, with
/// the zlib stream inflated here (no image crate in the workspace).
mod png {
    pub struct Image {
        pub width: usize,
        pub height: usize,
        channels: usize,
        data: Vec<u8>,
    }

    impl Image {
        pub fn pixels(&self) -> usize {
            self.width * self.height
        }

        pub fn count(&self, mut wanted: impl FnMut((u8, u8, u8)) -> bool) -> usize {
            self.data.chunks_exact(self.channels).filter(|p| wanted((p[0], p[1], p[2]))).count()
        }
    }

    pub fn decode(bytes: &[u8]) -> Result<Image, String> {
        if bytes.get(..8) != Some(b"\x89PNG\r\n\x1a\n") {
            return Err("not a PNG".into());
        }
        let (mut pos, mut idat, mut header) = (8, Vec::new(), None);
        while pos + 8 <= bytes.len() {
            let len = u32::from_be_bytes(bytes[pos..pos + 4].try_into().unwrap()) as usize;
            let kind = &bytes[pos + 4..pos + 8];
            let body = bytes.get(pos + 8..pos + 8 + len).ok_or("truncated chunk")?;
            match kind {
                b"IHDR" => header = Some(body.to_vec()),
                b"IDAT" => idat.extend_from_slice(body),
                b"IEND" => break,
                _ => {}
            }
            pos += 12 + len;
        }
        let header = header.ok_or("no IHDR")?;
        let width = u32::from_be_bytes(header[0..4].try_into().unwrap()) as usize;
        let height = u32::from_be_bytes(header[4..8].try_into().unwrap()) as usize;
        let channels = match (header[8], header[9], header[12]) {
            (8, 2, 0) => 3,
            (8, 6, 0) => 4,
            other => return Err(format!("unsupported PNG (depth, colour type, interlace) {other:?}")),
        };
        let raw = inflate(idat.get(2..).ok_or("empty zlib stream")?)?;
        let stride = width * channels;
        if raw.len() < height * (stride + 1) {
            return Err("short image data".into());
        }
        let mut data = vec![0u8; height * stride];
        for y in 0..height {
            let filter = raw[y * (stride + 1)];
            let line = &raw[y * (stride + 1) + 1..(y + 1) * (stride + 1)];
            for x in 0..stride {
                let a = if x >= channels { data[y * stride + x - channels] } else { 0 };
                let b = if y > 0 { data[(y - 1) * stride + x] } else { 0 };
                let c = if x >= channels && y > 0 { data[(y - 1) * stride + x - channels] } else { 0 };
                let predicted = match filter {
                    0 => 0,
                    1 => a,
                    2 => b,
                    3 => ((u16::from(a) + u16::from(b)) / 2) as u8,
                    4 => {
                        let p = i16::from(a) + i16::from(b) - i16::from(c);
                        let (pa, pb, pc) =
                            ((p - i16::from(a)).abs(), (p - i16::from(b)).abs(), (p - i16::from(c)).abs());
                        if pa <= pb && pa <= pc {
                            a
                        } else if pb <= pc {
                            b
                        } else {
                            c
                        }
                    }
                    f => return Err(format!("filter {f}")),
                };
                data[y * stride + x] = line[x].wrapping_add(predicted);
            }
        }
        Ok(Image { width, height, channels, data })
    }

    struct Bits<'a> {
        data: &'a [u8],
        pos: usize,
        bit: u32,
    }

    impl Bits<'_> {
        fn bit(&mut self) -> Result<u32, String> {
            let byte = *self.data.get(self.pos).ok_or("inflate: out of input")?;
            let value = u32::from(byte >> self.bit) & 1;
            self.bit += 1;
            if self.bit == 8 {
                self.bit = 0;
                self.pos += 1;
            }
            Ok(value)
        }

        fn bits(&mut self, n: u32) -> Result<u32, String> {
            let mut value = 0;
            for i in 0..n {
                value |= self.bit()? << i;
            }
            Ok(value)
        }
    }

    /// A canonical Huffman code: how many codes of each length, and the symbols in order.
    struct Huffman {
        counts: [u16; 16],
        symbols: Vec<u16>,
    }

    impl Huffman {
        fn new(lengths: &[u8]) -> Self {
            let mut counts = [0u16; 16];
            for &l in lengths {
                counts[l as usize] += 1;
            }
            counts[0] = 0;
            let mut offsets = [0u16; 16];
            for len in 1..15 {
                offsets[len + 1] = offsets[len] + counts[len];
            }
            let mut symbols = vec![0u16; lengths.len()];
            for (symbol, &l) in lengths.iter().enumerate() {
                if l != 0 {
                    symbols[offsets[l as usize] as usize] = symbol as u16;
                    offsets[l as usize] += 1;
                }
            }
            Huffman { counts, symbols }
        }

        fn decode(&self, bits: &mut Bits) -> Result<u16, String> {
            let (mut code, mut first, mut index) = (0i32, 0i32, 0i32);
            for len in 1..16 {
                code |= bits.bit()? as i32;
                let count = i32::from(self.counts[len]);
                if code - count < first {
                    return Ok(self.symbols[(index + (code - first)) as usize]);
                }
                index += count;
                first = (first + count) << 1;
                code <<= 1;
            }
            Err("inflate: bad code".into())
        }
    }

    const LENGTH_BASE: [u16; 29] = [
        3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227,
        258,
    ];
    const LENGTH_EXTRA: [u32; 29] =
        [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0];
    const DIST_BASE: [u16; 30] = [
        1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097,
        6145, 8193, 12289, 16385, 24577,
    ];
    const DIST_EXTRA: [u32; 30] =
        [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13];

    /// Raw DEFLATE (RFC 1951): stored, fixed and dynamic blocks.
    pub fn inflate(data: &[u8]) -> Result<Vec<u8>, String> {
        let mut bits = Bits { data, pos: 0, bit: 0 };
        let mut out = Vec::new();
        loop {
            let last = bits.bit()?;
            match bits.bits(2)? {
                0 => {
                    if bits.bit != 0 {
                        bits.bit = 0;
                        bits.pos += 1;
                    }
                    let header = data.get(bits.pos..bits.pos + 4).ok_or("inflate: stored header")?;
                    let len = usize::from(u16::from_le_bytes([header[0], header[1]]));
                    bits.pos += 4;
                    out.extend_from_slice(data.get(bits.pos..bits.pos + len).ok_or("inflate: stored block")?);
                    bits.pos += len;
                }
                1 => {
                    let mut lengths = [0u8; 288];
                    lengths[..144].fill(8);
                    lengths[144..256].fill(9);
                    lengths[256..280].fill(7);
                    lengths[280..].fill(8);
                    block(&mut bits, &mut out, &Huffman::new(&lengths), &Huffman::new(&[5u8; 30]))?;
                }
                2 => {
                    let literals = bits.bits(5)? as usize + 257;
                    let distances = bits.bits(5)? as usize + 1;
                    let code_lengths = bits.bits(4)? as usize + 4;
                    const ORDER: [usize; 19] = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];
                    let mut lengths = [0u8; 19];
                    for &i in ORDER.iter().take(code_lengths) {
                        lengths[i] = bits.bits(3)? as u8;
                    }
                    let code = Huffman::new(&lengths);
                    let mut all = Vec::with_capacity(literals + distances);
                    while all.len() < literals + distances {
                        match code.decode(&mut bits)? {
                            symbol @ 0..=15 => all.push(symbol as u8),
                            16 => {
                                let previous = *all.last().ok_or("inflate: repeat with nothing")?;
                                all.extend(std::iter::repeat_n(previous, 3 + bits.bits(2)? as usize));
                            }
                            17 => all.extend(std::iter::repeat_n(0, 3 + bits.bits(3)? as usize)),
                            _ => all.extend(std::iter::repeat_n(0, 11 + bits.bits(7)? as usize)),
                        }
                    }
                    block(&mut bits, &mut out, &Huffman::new(&all[..literals]), &Huffman::new(&all[literals..]))?;
                }
                _ => return Err("inflate: bad block type".into()),
            }
            if last == 1 {
                return Ok(out);
            }
        }
    }

    fn block(bits: &mut Bits, out: &mut Vec<u8>, literals: &Huffman, distances: &Huffman) -> Result<(), String> {
        loop {
            let symbol = literals.decode(bits)? as usize;
            match symbol {
                0..=255 => out.push(symbol as u8),
                256 => return Ok(()),
                _ => {
                    let i = symbol - 257;
                    let len = usize::from(*LENGTH_BASE.get(i).ok_or("inflate: bad length")?)
                        + bits.bits(LENGTH_EXTRA[i])? as usize;
                    let d = distances.decode(bits)? as usize;
                    let distance = usize::from(*DIST_BASE.get(d).ok_or("inflate: bad distance")?)
                        + bits.bits(DIST_EXTRA[d])? as usize;
                    let start = out.len().checked_sub(distance).ok_or("inflate: distance too far")?;
                    for k in 0..len {
                        out.push(out[start + k]);
                    }
                }
            }
        }
    }

    #[test]
    fn inflates_a_stored_block() {
        assert_eq!(inflate(&[1, 3, 0, 0xFC, 0xFF, b'a', b'b', b'c']).unwrap(), b"abc");
    }
}
