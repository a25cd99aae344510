//! Prometheus metrics, rendered in the text exposition format at `/metrics`: HTTP requests, activity attempts and
//! failures, plugin call latency by slot and digest. Orders by state are read from the store at scrape time.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds of the plugin-call latency buckets, in seconds: fine below a millisecond (a plugin call takes
/// ~10–50 µs), then around the usual deadlines (`PLUGIN_DEADLINE`).
const LATENCY_BUCKETS: [f64; 12] =
    [0.000_01, 0.000_02, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.01, 0.1, 0.25, 0.5, 1.0];

#[derive(Debug, Default, Clone)]
struct Histogram {
    buckets: [u64; LATENCY_BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        for (bucket, bound) in self.buckets.iter_mut().zip(LATENCY_BUCKETS) {
            if seconds <= bound {
                *bucket += 1;
            }
        }
        self.count += 1;
        self.sum += seconds;
    }
}

/// The process's metrics.
#[derive(Debug, Default)]
pub struct Metrics {
    http: Mutex<BTreeMap<(String, String, u16), u64>>,
    attempts: Mutex<BTreeMap<(String, String), u64>>,
    plugin_calls: Mutex<BTreeMap<(String, String), Histogram>>,
    activity_time: Mutex<BTreeMap<String, Histogram>>,
}

impl Metrics {
    /// Counts one HTTP request by method, route template and status.
    /// A method outside the standard ones counts as `other`, so a client inventing methods cannot grow the label
    /// set without bound (routes are templates, statuses a small set).
    pub fn http_request(&self, method: &str, route: &str, status: u16) {
        let method = method_label(method);
        *self.http.lock().expect("metrics lock").entry((method.to_owned(), route.to_owned(), status)).or_default() += 1;
    }

    /// Counts one activity attempt by activity and outcome (`completed`, `retryable_error`, …).
    pub fn activity_attempt(&self, activity: &str, outcome: &str) {
        *self.attempts.lock().expect("metrics lock").entry((activity.to_owned(), outcome.to_owned())).or_default() += 1;
    }

    /// Records one plugin call's duration.
    pub fn plugin_call(&self, slot: &str, digest: &str, elapsed: Duration) {
        self.plugin_calls
            .lock()
            .expect("metrics lock")
            .entry((slot.to_owned(), digest.to_owned()))
            .or_default()
            .observe(elapsed.as_secs_f64());
    }

    /// Records how long one activity attempt ran in this process (failure simulation, plugin call, store, event).
    pub fn activity_time(&self, activity: &str, elapsed: Duration) {
        self.activity_time
            .lock()
            .expect("metrics lock")
            .entry(activity.to_owned())
            .or_default()
            .observe(elapsed.as_secs_f64());
    }

    /// The exposition text; `orders_by_state` comes from the store.
    pub fn render(&self, orders_by_state: &[(String, u64)]) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "# HELP order_host_http_requests_total HTTP requests by method, route and status.");
        let _ = writeln!(out, "# TYPE order_host_http_requests_total counter");
        for ((method, route, status), n) in self.http.lock().expect("metrics lock").iter() {
            let _ = writeln!(
                out,
                "order_host_http_requests_total{{method=\"{method}\",route=\"{}\",status=\"{status}\"}} {n}",
                escape(route)
            );
        }
        let _ = writeln!(out, "# HELP order_host_orders Orders by lifecycle state.");
        let _ = writeln!(out, "# TYPE order_host_orders gauge");
        for (state, n) in orders_by_state {
            let _ = writeln!(out, "order_host_orders{{state=\"{state}\"}} {n}");
        }
        let _ = writeln!(out, "# HELP order_host_activity_attempts_total Activity attempts by activity and outcome.");
        let _ = writeln!(out, "# TYPE order_host_activity_attempts_total counter");
        let _ = writeln!(out, "# HELP order_host_activity_failures_total Failed activity attempts by activity.");
        let _ = writeln!(out, "# TYPE order_host_activity_failures_total counter");
        let attempts = self.attempts.lock().expect("metrics lock");
        let mut failures: BTreeMap<&str, u64> = BTreeMap::new();
        for ((activity, outcome), n) in attempts.iter() {
            let _ = writeln!(
                out,
                "order_host_activity_attempts_total{{activity=\"{activity}\",outcome=\"{outcome}\"}} {n}"
            );
            if outcome != "completed" {
                *failures.entry(activity).or_default() += n;
            }
        }
        for (activity, n) in failures {
            let _ = writeln!(out, "order_host_activity_failures_total{{activity=\"{activity}\"}} {n}");
        }
        let _ = writeln!(out, "# HELP order_host_activity_seconds Time activity attempts ran in this process.");
        let _ = writeln!(out, "# TYPE order_host_activity_seconds histogram");
        for (activity, h) in self.activity_time.lock().expect("metrics lock").iter() {
            write_histogram(&mut out, "order_host_activity_seconds", &format!("activity=\"{activity}\""), h);
        }
        let _ = writeln!(out, "# HELP order_host_plugin_call_seconds Plugin call latency (fresh instance + call).");
        let _ = writeln!(out, "# TYPE order_host_plugin_call_seconds histogram");
        for ((slot, digest), h) in self.plugin_calls.lock().expect("metrics lock").iter() {
            let labels = format!("slot=\"{slot}\",digest=\"{digest}\"");
            write_histogram(&mut out, "order_host_plugin_call_seconds", &labels, h);
        }
        out
    }
}

fn write_histogram(out: &mut String, name: &str, labels: &str, h: &Histogram) {
    for (bound, n) in LATENCY_BUCKETS.iter().zip(h.buckets) {
        let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{bound}\"}} {n}");
    }
    let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {}", h.count);
    let _ = writeln!(out, "{name}_sum{{{labels}}} {}", h.sum);
    let _ = writeln!(out, "{name}_count{{{labels}}} {}", h.count);
}

fn method_label(method: &str) -> &str {
    const KNOWN: [&str; 9] = ["GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"];
    KNOWN.into_iter().find(|m| *m == method).unwrap_or("other")
}

fn escape(label: &str) -> String {
    label.replace('\\', "\\\\").replace('"', "\\\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invented_methods_share_one_label() {
        let m = Metrics::default();
        for method in ["GET", "FOO", "BAR", "x".repeat(100).as_str()] {
            m.http_request(method, "/healthz", 200);
        }
        let text = m.render(&[]);
        assert!(text.contains(r#"method="GET""#), "{text}");
        assert!(
            text.contains(r#"order_host_http_requests_total{method="other",route="/healthz",status="200"} 3"#),
            "{text}"
        );
        assert!(!text.contains("FOO"), "{text}");
    }

    #[test]
    fn renders_counters_and_histograms() {
        let m = Metrics::default();
        m.http_request("GET", "/orders/{id}/status", 200);
        m.http_request("GET", "/orders/{id}/status", 200);
        m.activity_attempt("charge_payment", "completed");
        m.activity_attempt("charge_payment", "retryable_error");
        m.plugin_call("payment", "sha256:ab", Duration::from_micros(15));
        let text = m.render(&[("shipped".into(), 3)]);
        assert!(
            text.contains(r#"order_host_http_requests_total{method="GET",route="/orders/{id}/status",status="200"} 2"#)
        );
        assert!(text.contains(r#"order_host_orders{state="shipped"} 3"#));
        assert!(text.contains(r#"order_host_activity_failures_total{activity="charge_payment"} 1"#));
        assert!(
            text.contains(r#"order_host_plugin_call_seconds_bucket{slot="payment",digest="sha256:ab",le="0.00002"} 1"#)
        );
        assert!(
            text.contains(r#"order_host_plugin_call_seconds_bucket{slot="payment",digest="sha256:ab",le="0.00001"} 0"#)
        );
        assert!(text.contains(r#"order_host_plugin_call_seconds_count{slot="payment",digest="sha256:ab"} 1"#));
    }
}
