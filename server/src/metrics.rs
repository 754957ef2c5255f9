//! Prometheus text metrics: request counts and latency histograms by route.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

/// Latency histogram bucket bounds, seconds.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

#[derive(Default)]
pub struct Metrics {
    /// (method, route, status) → count.
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
    /// (method, route) → latency.
    latency: Mutex<BTreeMap<(String, String), Histogram>>,
}

impl Metrics {
    /// Counts a request. Labels are bounded whatever clients send: a method outside
    /// HTTP's own is `other`, a path outside the routes is `unmatched` (the caller's).
    pub fn record(&self, method: &str, route: &str, status: u16, seconds: f64) {
        const METHODS: [&str; 7] = ["GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH"];
        let method = if METHODS.contains(&method) {
            method
        } else {
            "other"
        };
        *self
            .requests
            .lock()
            .expect("metrics")
            .entry((method.to_string(), route.to_string(), status))
            .or_default() += 1;
        let mut lat = self.latency.lock().expect("metrics");
        let h = lat
            .entry((method.to_string(), route.to_string()))
            .or_default();
        for (i, b) in BUCKETS.iter().enumerate() {
            if seconds <= *b {
                h.counts[i] += 1;
            }
        }
        h.sum += seconds;
        h.count += 1;
    }

    /// The exposition text; `gauges` are (name, help, labels, value) appended as is.
    pub fn render(&self, gauges: &[(&str, &str, &str, f64)]) -> String {
        let mut out = String::new();
        out.push_str(
            "# HELP seine_http_requests_total HTTP requests by method, route and status.\n",
        );
        out.push_str("# TYPE seine_http_requests_total counter\n");
        for ((m, r, s), n) in self.requests.lock().expect("metrics").iter() {
            let _ = writeln!(
                out,
                "seine_http_requests_total{{method=\"{m}\",route=\"{r}\",status=\"{s}\"}} {n}"
            );
        }
        out.push_str(
            "# HELP seine_http_request_duration_seconds HTTP request latency by method and route.\n",
        );
        out.push_str("# TYPE seine_http_request_duration_seconds histogram\n");
        for ((m, r), h) in self.latency.lock().expect("metrics").iter() {
            for (i, b) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "seine_http_request_duration_seconds_bucket{{method=\"{m}\",route=\"{r}\",le=\"{b}\"}} {}",
                    h.counts[i]
                );
            }
            let _ = writeln!(
                out,
                "seine_http_request_duration_seconds_bucket{{method=\"{m}\",route=\"{r}\",le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "seine_http_request_duration_seconds_sum{{method=\"{m}\",route=\"{r}\"}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "seine_http_request_duration_seconds_count{{method=\"{m}\",route=\"{r}\"}} {}",
                h.count
            );
        }
        let mut last = "";
        for (name, help, labels, v) in gauges {
            if *name != last {
                let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
                last = name;
            }
            let _ = writeln!(out, "{name}{labels} {v}");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_cumulative_buckets() {
        let m = Metrics::default();
        m.record("POST", "/search", 200, 0.003);
        m.record("POST", "/search", 200, 0.2);
        m.record("POST", "/search", 422, 0.0001);
        let t = m.render(&[("seine_documents", "Docs.", "", 5.0)]);
        assert!(t.contains(
            "seine_http_requests_total{method=\"POST\",route=\"/search\",status=\"200\"} 2"
        ));
        assert!(t.contains(
            "seine_http_requests_total{method=\"POST\",route=\"/search\",status=\"422\"} 1"
        ));
        assert!(t.contains(
            "seine_http_request_duration_seconds_bucket{method=\"POST\",route=\"/search\",le=\"0.005\"} 2"
        ));
        assert!(t.contains(
            "seine_http_request_duration_seconds_bucket{method=\"POST\",route=\"/search\",le=\"+Inf\"} 3"
        ));
        assert!(t.contains("seine_documents 5"));
    }
}
