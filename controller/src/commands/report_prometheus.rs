//! Exception and throughput trends per category for `tenantry report --prometheus URL`: two
//! `query_range` calls to Prometheus's HTTP API over the runner metrics of docs/runner.md,
//! one point a day.
//!
//! Plain HTTP/1.1 (an in-cluster Service address or a `kubectl port-forward`); the answer is
//! parsed into [`Trends`] with counts rounded to whole items. Every failure is a
//! [`TrendsError`] that says what went wrong; the review renders without trends then.

use super::report::{CategoryTrend, ReviewPeriod, Trends};
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use jiff::Timestamp;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// One point a day.
pub const STEP_SECONDS: i64 = 86_400;
/// How long one query may take, connection included.
pub const TIMEOUT: Duration = Duration::from_secs(15);
/// Largest answer read.
const MAX_BODY: usize = 8 << 20;

/// Why Prometheus gave no trends.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrendsError {
    /// The address is not `http://host[:port][/path]`.
    #[error("--prometheus '{0}' is not an http:// address such as http://prometheus.monitoring:9090 (https is not supported: use a port-forward or the in-cluster Service)")]
    BadAddress(String),
    /// Connecting or talking HTTP failed, or it took too long.
    #[error("Prometheus at {address} did not answer: {reason}")]
    Unreachable {
        /// The address.
        address: String,
        /// What failed.
        reason: String,
    },
    /// It answered, but not with a query_range result.
    #[error("Prometheus at {address} gave an answer that is not a query_range result: {reason}")]
    BadAnswer {
        /// The address.
        address: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// The PromQL of items processed per category and per day, for one tenant.
pub fn processed_query(tenant: &str) -> String {
    format!(
        "sum by (category) (increase(tenantry_runner_items_processed_total{{tenant=\"{}\"}}[1d]))",
        promql_string(tenant)
    )
}

/// The PromQL of exceptions per category and per day, for one tenant.
pub fn exceptions_query(tenant: &str) -> String {
    format!(
        "sum by (category) (increase(tenantry_runner_exceptions_total{{tenant=\"{}\"}}[1d]))",
        promql_string(tenant)
    )
}

/// Text safe inside a double-quoted PromQL string.
fn promql_string(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"")
}

/// `text` percent-encoded for a query string: unreserved characters kept, the rest as `%XX`.
fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Host, port and path prefix of an `http://` address.
fn parse_address(address: &str) -> Result<(String, u16, String), TrendsError> {
    let bad = || TrendsError::BadAddress(address.to_string());
    let rest = address.strip_prefix("http://").ok_or_else(bad)?;
    let (authority, path) = rest.split_once('/').map_or((rest, ""), |(a, p)| (a, p));
    if authority.is_empty() || authority.contains('@') {
        return Err(bad());
    }
    let port_of = |text: Option<&str>| text.map_or(Ok(80), |p| p.parse::<u16>().map_err(|_| bad()));
    let (host, port) = match authority.strip_prefix('[') {
        // An IPv6 literal: [::1]:9090.
        Some(v6) => {
            let (host, after) = v6.split_once(']').ok_or_else(bad)?;
            let port = match after {
                "" => 80,
                _ => port_of(Some(after.strip_prefix(':').ok_or_else(bad)?))?,
            };
            (host.to_string(), port)
        }
        None => {
            let (host, port) = authority.split_once(':').map_or((authority, None), |(h, p)| (h, Some(p)));
            (host.to_string(), port_of(port)?)
        }
    };
    if host.is_empty() {
        return Err(bad());
    }
    let prefix = path.trim_end_matches('/');
    Ok((host, port, if prefix.is_empty() { String::new() } else { format!("/{prefix}") }))
}

#[derive(Deserialize)]
struct Answer {
    status: String,
    #[serde(default)]
    data: Option<AnswerData>,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AnswerData {
    result_type: String,
    result: Vec<Series>,
}

#[derive(Deserialize)]
struct Series {
    #[serde(default)]
    metric: BTreeMap<String, String>,
    #[serde(default)]
    values: Vec<(f64, String)>,
}

/// A query_range answer as whole counts per category: `category -> [(time, count)]`.
/// A series without a category label counts as `unlabelled`; NaN and negative values as 0.
pub fn parse_matrix(body: &[u8]) -> Result<BTreeMap<String, Vec<(i64, i64)>>, String> {
    let answer: Answer = serde_json::from_slice(body).map_err(|e| format!("not JSON of the Prometheus API: {e}"))?;
    if answer.status != "success" {
        return Err(format!("status {}: {}", answer.status, answer.error.unwrap_or_default()));
    }
    let data = answer.data.ok_or("no data")?;
    if data.result_type != "matrix" {
        return Err(format!("resultType {}, not matrix", data.result_type));
    }
    let mut out: BTreeMap<String, Vec<(i64, i64)>> = BTreeMap::new();
    for series in data.result {
        let category = series.metric.get("category").cloned().unwrap_or_else(|| "unlabelled".into());
        let points = out.entry(category).or_default();
        for (time, value) in series.values {
            let value: f64 = value.parse().map_err(|_| format!("value '{value}' is not a number"))?;
            let count = if value.is_finite() && value > 0.0 { value.round() as i64 } else { 0 };
            points.push((time.round() as i64, count));
        }
        points.sort_unstable();
    }
    Ok(out)
}

/// Both queries' answers as trends: every category of either, in name order.
pub fn trends(
    processed: BTreeMap<String, Vec<(i64, i64)>>,
    mut exceptions: BTreeMap<String, Vec<(i64, i64)>>,
) -> Trends {
    let mut categories: Vec<CategoryTrend> = processed
        .into_iter()
        .map(|(category, processed)| {
            let exceptions = exceptions.remove(&category).unwrap_or_default();
            CategoryTrend {
                processed_total: processed.iter().map(|(_, v)| v).sum(),
                exceptions_total: exceptions.iter().map(|(_, v)| v).sum(),
                category,
                processed,
                exceptions,
            }
        })
        .collect();
    categories.extend(exceptions.into_iter().map(|(category, exceptions)| CategoryTrend {
        processed_total: 0,
        exceptions_total: exceptions.iter().map(|(_, v)| v).sum(),
        category,
        processed: Vec::new(),
        exceptions,
    }));
    categories.sort_by(|a, b| a.category.cmp(&b.category));
    Trends { step_seconds: STEP_SECONDS, categories }
}

/// The range asked: one point at the end of each whole day of the period up to `at`
/// (`None` when not even one day has passed).
pub fn range(period: &ReviewPeriod, at: Timestamp) -> Option<(i64, i64)> {
    let first = period.start.as_second() + STEP_SECONDS;
    let last = period.end.as_second().min(at.as_second());
    (first <= last).then_some((first, last))
}

/// GET `path_and_query` from `host:port`, HTTP/1.1; the body of a 200 answer.
async fn get(address: &str, host: &str, port: u16, path_and_query: &str) -> Result<Bytes, TrendsError> {
    let unreachable = |reason: String| TrendsError::Unreachable { address: address.to_string(), reason };
    let stream = tokio::net::TcpStream::connect((host, port)).await.map_err(|e| unreachable(e.to_string()))?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
        .await
        .map_err(|e| unreachable(e.to_string()))?;
    let driver = tokio::spawn(connection);
    let bracketed = if host.contains(':') { format!("[{host}]") } else { host.to_string() };
    let host_header = if port == 80 { bracketed } else { format!("{bracketed}:{port}") };
    let request = hyper::Request::get(path_and_query)
        .header(hyper::header::HOST, host_header)
        .header(hyper::header::ACCEPT, "application/json")
        .header(hyper::header::USER_AGENT, concat!("tenantry/", env!("CARGO_PKG_VERSION")))
        .body(Empty::<Bytes>::new())
        .map_err(|e| unreachable(e.to_string()))?;
    let response = sender.send_request(request).await.map_err(|e| unreachable(e.to_string()))?;
    let status = response.status();
    let body = http_body_util::Limited::new(response.into_body(), MAX_BODY)
        .collect()
        .await
        .map_err(|e| unreachable(format!("reading the answer: {e}")))?
        .to_bytes();
    driver.abort();
    if !status.is_success() {
        let excerpt: String = String::from_utf8_lossy(&body).chars().take(300).collect();
        return Err(TrendsError::BadAnswer {
            address: address.to_string(),
            reason: format!("HTTP {status}: {}", excerpt.trim()),
        });
    }
    Ok(body)
}

async fn query_range(
    address: &str,
    query: &str,
    (start, end): (i64, i64),
) -> Result<BTreeMap<String, Vec<(i64, i64)>>, TrendsError> {
    let (host, port, prefix) = parse_address(address)?;
    let path =
        format!("{prefix}/api/v1/query_range?query={}&start={start}&end={end}&step={STEP_SECONDS}", encode(query));
    let body = tokio::time::timeout(TIMEOUT, get(address, &host, port, &path)).await.map_err(|_| {
        TrendsError::Unreachable {
            address: address.to_string(),
            reason: format!("no answer within {}s", TIMEOUT.as_secs()),
        }
    })??;
    parse_matrix(&body).map_err(|reason| TrendsError::BadAnswer { address: address.to_string(), reason })
}

/// The trends of `tenant` over `period` up to `at`, from the Prometheus at `address`.
pub async fn fetch(address: &str, tenant: &str, period: &ReviewPeriod, at: Timestamp) -> Result<Trends, TrendsError> {
    parse_address(address)?;
    let Some(span) = range(period, at) else {
        return Ok(Trends { step_seconds: STEP_SECONDS, categories: Vec::new() });
    };
    let processed = query_range(address, &processed_query(tenant), span).await?;
    let exceptions = query_range(address, &exceptions_query(tenant), span).await?;
    Ok(trends(processed, exceptions))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_plain_http() {
        assert_eq!(parse_address("http://prom:9090").unwrap(), ("prom".into(), 9090, String::new()));
        assert_eq!(parse_address("http://prom/").unwrap(), ("prom".into(), 80, String::new()));
        assert_eq!(
            parse_address("http://127.0.0.1:9/prometheus/").unwrap(),
            ("127.0.0.1".into(), 9, "/prometheus".into())
        );
        for bad in ["https://prom", "prom:9090", "http://", "http://u:p@prom", "http://prom:x"] {
            assert!(parse_address(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn queries_are_encoded_and_quote_the_tenant() {
        assert_eq!(
            processed_query("alpine-supply"),
            "sum by (category) (increase(tenantry_runner_items_processed_total{tenant=\"alpine-supply\"}[1d]))"
        );
        assert_eq!(encode("a b{c=\"d\"}[1d]"), "a%20b%7Bc%3D%22d%22%7D%5B1d%5D");
        assert!(exceptions_query("x\"y").contains("tenant=\"x\\\"y\""));
    }

    #[test]
    fn matrices_become_whole_counts_per_category() {
        let body = br#"{"status":"success","data":{"resultType":"matrix","result":[
            {"metric":{"category":"orderToCash"},"values":[[1700086400,"10.4"],[1700000000,"2.6"]]},
            {"metric":{},"values":[[1700000000,"NaN"]]}]}}"#;
        let parsed = parse_matrix(body).unwrap();
        assert_eq!(parsed["orderToCash"], vec![(1_700_000_000, 3), (1_700_086_400, 10)]);
        assert_eq!(parsed["unlabelled"], vec![(1_700_000_000, 0)]);
        assert!(parse_matrix(b"<html>").unwrap_err().contains("not JSON"));
        assert!(parse_matrix(br#"{"status":"error","error":"parse error"}"#).unwrap_err().contains("parse error"));
        assert!(parse_matrix(br#"{"status":"success","data":{"resultType":"vector","result":[]}}"#).is_err());
    }

    #[test]
    fn the_range_is_whole_days_up_to_now() {
        let period: ReviewPeriod = "2026-11".parse().unwrap();
        let start = period.start.as_second();
        assert_eq!(range(&period, period.start), None, "not a day yet");
        let at: Timestamp = "2026-11-15T09:00:00Z".parse().unwrap();
        assert_eq!(range(&period, at), Some((start + STEP_SECONDS, at.as_second())));
        let later: Timestamp = "2027-01-01T00:00:00Z".parse().unwrap();
        assert_eq!(range(&period, later), Some((start + STEP_SECONDS, period.end.as_second())));
    }

    /// A fake Prometheus on its own thread: answers each connection with the next canned
    /// response and returns the request lines it was sent.
    fn fake_prometheus(responses: Vec<String>) -> (String, std::thread::JoinHandle<Vec<String>>) {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = format!("http://{}", listener.local_addr().unwrap());
        let handle = std::thread::spawn(move || {
            let mut requests = Vec::new();
            for response in responses {
                let (mut socket, _) = listener.accept().unwrap();
                let mut request = Vec::new();
                let mut buffer = [0u8; 4096];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    let n = socket.read(&mut buffer).unwrap();
                    if n == 0 {
                        break;
                    }
                    request.extend_from_slice(&buffer[..n]);
                }
                requests.push(String::from_utf8_lossy(&request).lines().next().unwrap_or_default().to_string());
                socket.write_all(response.as_bytes()).unwrap();
            }
            requests
        });
        (address, handle)
    }

    fn ok(body: &str) -> String {
        format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
    }

    #[tokio::test]
    async fn trends_come_from_two_range_queries() {
        let processed = r#"{"status":"success","data":{"resultType":"matrix","result":[
            {"metric":{"category":"orderToCash"},"values":[[1793577600,"120"],[1793664000,"130"]]},
            {"metric":{"category":"inventoryProcurement"},"values":[[1793577600,"40"]]}]}}"#;
        let exceptions = r#"{"status":"success","data":{"resultType":"matrix","result":[
            {"metric":{"category":"orderToCash"},"values":[[1793577600,"3"],[1793664000,"1"]]},
            {"metric":{"category":"financeCompliance"},"values":[[1793577600,"2"]]}]}}"#;
        let (address, requests) = fake_prometheus(vec![ok(processed), ok(exceptions)]);
        let period: ReviewPeriod = "2026-11".parse().unwrap();
        let at: Timestamp = "2026-11-15T09:00:00Z".parse().unwrap();
        let trends = fetch(&address, "alpine-supply", &period, at).await.unwrap();
        let requests = requests.join().unwrap();
        assert_eq!(requests.len(), 2);
        assert!(requests[0].starts_with("GET /api/v1/query_range?query=sum%20by%20%28category%29"), "{requests:?}");
        assert!(requests[0].contains("tenantry_runner_items_processed_total%7Btenant%3D%22alpine-supply%22%7D"));
        assert!(requests[1].contains("tenantry_runner_exceptions_total"));
        let start = period.start.as_second() + STEP_SECONDS;
        assert!(requests[0].contains(&format!("&start={start}&end={}&step=86400 ", at.as_second())), "{requests:?}");
        let names: Vec<&str> = trends.categories.iter().map(|c| c.category.as_str()).collect();
        assert_eq!(names, ["financeCompliance", "inventoryProcurement", "orderToCash"]);
        let order = &trends.categories[2];
        assert_eq!((order.processed_total, order.exceptions_total), (250, 4));
        assert_eq!(trends.categories[0].processed_total, 0, "exceptions without throughput still show");
    }

    #[tokio::test]
    async fn errors_say_what_went_wrong() {
        let period: ReviewPeriod = "2026-11".parse().unwrap();
        let at: Timestamp = "2026-11-15T09:00:00Z".parse().unwrap();
        let (address, _) = fake_prometheus(vec![ok("this is not json")]);
        let error = fetch(&address, "t", &period, at).await.unwrap_err();
        assert!(matches!(error, TrendsError::BadAnswer { .. }), "{error}");
        assert!(error.to_string().contains("not JSON"), "{error}");
        let (address, _) =
            fake_prometheus(vec!["HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n\r\nbusy".into()]);
        let error = fetch(&address, "t", &period, at).await.unwrap_err();
        assert!(error.to_string().contains("503"), "{error}");
        // A port nothing listens on: bind one, then free it.
        let port = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap().port();
        let error = fetch(&format!("http://127.0.0.1:{port}"), "t", &period, at).await.unwrap_err();
        assert!(matches!(error, TrendsError::Unreachable { .. }), "{error}");
        assert!(matches!(fetch("https://prom", "t", &period, at).await, Err(TrendsError::BadAddress(_))));
    }
}
