//! Request counters for `/metrics`: totals, and per route (the pattern a request matched,
//! `/v1/groups/{id}`, so the label set stays small) a count by status class and a latency
//! histogram. Lock-free on the request path once a route was seen.

use std::collections::HashMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::RwLock;

/// The histogram's upper bounds, in seconds.
pub const BUCKETS: [f64; 14] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// One route's figures.
#[derive(Default)]
pub struct RouteStats {
    /// Answers by status class: 1xx–5xx at 0–4.
    by_class: [AtomicU64; 5],
    /// Answers at or under each bound of `BUCKETS` (not cumulative here; summed when shown).
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    micros: AtomicU64,
}

/// All answers summed over the routes: count, 4xx, 5xx, and time in microseconds.
#[derive(Debug, Default, PartialEq)]
pub struct Totals {
    pub requests: u64,
    pub client_errors: u64,
    pub server_errors: u64,
    pub micros: u64,
}

#[derive(Default)]
pub struct Metrics {
    /// Method → route pattern → figures; looked up by `&str`, so counting allocates
    /// nothing once a route was seen.
    routes: RwLock<HashMap<String, HashMap<String, Arc<RouteStats>>>>,
}

impl Metrics {
    /// Counts one answer. `route` is the matched pattern, or `None` for paths no route took.
    pub fn record(&self, method: &str, route: Option<&str>, status: u16, micros: u64) {
        // Unmatched paths are one label, whatever they were, so a scan cannot grow the set.
        let (method, route) = match route {
            Some(r) => (method, r),
            None => ("any", "unmatched"),
        };
        let stats = self.route(method, route);
        let class = (status / 100).clamp(1, 5) as usize - 1;
        stats.by_class[class].fetch_add(1, Ordering::Relaxed);
        let secs = micros as f64 / 1e6;
        if let Some(i) = BUCKETS.iter().position(|b| secs <= *b) {
            stats.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        stats.count.fetch_add(1, Ordering::Relaxed);
        stats.micros.fetch_add(micros, Ordering::Relaxed);
    }

    /// The totals over every route (the unmatched paths included).
    pub fn totals(&self) -> Totals {
        let mut t = Totals::default();
        for s in self.routes.read().values().flat_map(|rs| rs.values()) {
            t.requests += s.count.load(Ordering::Relaxed);
            t.client_errors += s.by_class[3].load(Ordering::Relaxed);
            t.server_errors += s.by_class[4].load(Ordering::Relaxed);
            t.micros += s.micros.load(Ordering::Relaxed);
        }
        t
    }

    fn route(&self, method: &str, route: &str) -> Arc<RouteStats> {
        if let Some(s) = self.routes.read().get(method).and_then(|m| m.get(route)) {
            return s.clone();
        }
        self.routes.write().entry(method.to_string()).or_default().entry(route.to_string()).or_default().clone()
    }

    /// The per-route families in the Prometheus text format.
    pub fn write_routes(&self, out: &mut String) {
        let mut routes: Vec<_> = self
            .routes
            .read()
            .iter()
            .flat_map(|(m, rs)| rs.iter().map(move |(r, s)| ((m.clone(), r.clone()), s.clone())))
            .collect();
        routes.sort_by(|a, b| a.0.cmp(&b.0));
        out.push_str(
            "# HELP groupscout_http_requests_total HTTP answers by route and status class.\n\
             # TYPE groupscout_http_requests_total counter\n",
        );
        for ((method, route), s) in &routes {
            for (i, n) in s.by_class.iter().enumerate() {
                let n = n.load(Ordering::Relaxed);
                if n > 0 {
                    let _ = writeln!(
                        out,
                        "groupscout_http_requests_total{{method=\"{method}\",route=\"{}\",status=\"{}xx\"}} {n}",
                        escape(route),
                        i + 1
                    );
                }
            }
        }
        out.push_str(
            "# HELP groupscout_http_request_duration_seconds Time to answer, by route.\n\
             # TYPE groupscout_http_request_duration_seconds histogram\n",
        );
        for ((method, route), s) in &routes {
            let labels = format!("method=\"{method}\",route=\"{}\"", escape(route));
            let mut cumulative = 0;
            for (bound, n) in BUCKETS.iter().zip(&s.buckets) {
                cumulative += n.load(Ordering::Relaxed);
                let _ = writeln!(
                    out,
                    "groupscout_http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {cumulative}"
                );
            }
            let count = s.count.load(Ordering::Relaxed);
            let _ = writeln!(out, "groupscout_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {count}");
            let sum = s.micros.load(Ordering::Relaxed) as f64 / 1e6;
            let _ = writeln!(out, "groupscout_http_request_duration_seconds_sum{{{labels}}} {sum:.6}");
            let _ = writeln!(out, "groupscout_http_request_duration_seconds_count{{{labels}}} {count}");
        }
    }
}

/// A label value as the text format wants it.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_count_by_class_and_the_histogram_is_cumulative() {
        let m = Metrics::default();
        m.record("GET", Some("/v1/search"), 200, 300);
        m.record("GET", Some("/v1/search"), 200, 3_000);
        m.record("GET", Some("/v1/search"), 400, 20_000_000);
        m.record("GET", None, 404, 100);
        let mut out = String::new();
        m.write_routes(&mut out);
        assert!(out.contains("groupscout_http_requests_total{method=\"GET\",route=\"/v1/search\",status=\"2xx\"} 2\n"));
        assert!(out.contains("groupscout_http_requests_total{method=\"GET\",route=\"/v1/search\",status=\"4xx\"} 1\n"));
        assert!(out.contains("groupscout_http_requests_total{method=\"any\",route=\"unmatched\",status=\"4xx\"} 1\n"));
        let bucket = |le: &str| {
            let key = format!(
                "groupscout_http_request_duration_seconds_bucket{{method=\"GET\",route=\"/v1/search\",le=\"{le}\"}} "
            );
            let line = out.lines().find(|l| l.starts_with(&key)).expect(le);
            line[key.len()..].parse::<u64>().unwrap()
        };
        assert_eq!(bucket("0.0005"), 1);
        assert_eq!(bucket("0.005"), 2);
        assert_eq!(bucket("10"), 2);
        assert_eq!(bucket("+Inf"), 3);
        assert_eq!(
            m.totals(),
            Totals { requests: 4, client_errors: 2, server_errors: 0, micros: 300 + 3_000 + 20_000_000 + 100 }
        );
    }
}
