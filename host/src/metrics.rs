//! Prometheus metrics, kept in a `prometheus` registry and rendered in the text exposition format at `/metrics`: HTTP
//! requests, activity attempts and failures, activity and plugin call time, and gauges filled at scrape time (orders
//! by state and needing attention from the store, plugin calls in flight from the runtime). The Temporal SDK's own
//! worker metrics (prefixed [`TEMPORAL_PREFIX`]) are served beside them: the SDK exports them on a loopback port of its
//! own ([`Metrics::temporal_exporter`]), which `/metrics` reads.

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Duration;

use prometheus::{Encoder as _, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry};

/// The prefix of the Temporal SDK's worker metrics (task latencies, slots, sticky cache, polls).
/// The SDK's own prefix: its default histogram buckets are keyed by names without it, so another one would leave the
/// long latencies (workflow end-to-end, schedule-to-start) in the wrong buckets.
pub const TEMPORAL_PREFIX: &str = "temporal_";

/// Upper bounds of the latency buckets, in seconds: fine below a millisecond (a plugin call takes ~10–50 µs), then
/// around the usual deadlines (`PLUGIN_DEADLINE`).
const LATENCY_BUCKETS: [f64; 12] =
    [0.000_01, 0.000_02, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.01, 0.1, 0.25, 0.5, 1.0];

/// What `/metrics` reads from elsewhere at scrape time.
#[derive(Debug, Default)]
pub struct Scrape {
    /// Orders per state, from the store (`None`: the store did not answer; the gauges are left out).
    pub orders_by_state: Option<Vec<(String, u64)>>,
    /// Orders with an `attention` event, from the store.
    pub needing_attention: Option<u64>,
    /// Plugin calls running now, per slot.
    pub in_flight: Vec<(String, u64)>,
}

/// The process's metrics.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    http: IntCounterVec,
    attempts: IntCounterVec,
    failures: IntCounterVec,
    activity_time: HistogramVec,
    plugin_calls: HistogramVec,
    status_reads: IntCounterVec,
    temporal: OnceLock<SocketAddr>,
}

impl Default for Metrics {
    fn default() -> Self {
        let registry = Registry::new();
        let counter = |name: &str, help: &str, labels: &[&str]| {
            let vec = IntCounterVec::new(Opts::new(name, help), labels).expect("a valid counter");
            registry.register(Box::new(vec.clone())).expect("registered once");
            vec
        };
        let histogram = |name: &str, help: &str, labels: &[&str]| {
            let opts = HistogramOpts::new(name, help).buckets(LATENCY_BUCKETS.to_vec());
            let vec = HistogramVec::new(opts, labels).expect("a valid histogram");
            registry.register(Box::new(vec.clone())).expect("registered once");
            vec
        };
        Metrics {
            http: counter(
                "order_host_http_requests_total",
                "HTTP requests by method, route and status.",
                &["method", "route", "status"],
            ),
            attempts: counter(
                "order_host_activity_attempts_total",
                "Activity attempts by activity and outcome.",
                &["activity", "outcome"],
            ),
            failures: counter(
                "order_host_activity_failures_total",
                "Failed activity attempts by activity.",
                &["activity"],
            ),
            activity_time: histogram(
                "order_host_activity_seconds",
                "Time activity attempts ran in this process.",
                &["activity"],
            ),
            plugin_calls: histogram(
                "order_host_plugin_call_seconds",
                "Plugin call latency (fresh instance + call).",
                &["slot", "digest"],
            ),
            status_reads: counter(
                "order_host_status_reads_total",
                "Status reads by where the workflow's part of the document came from: published (by this process's \
                 worker), closed (the result of a run that completed in this process), query, result (a finished \
                 run's, from Temporal), finished (this process's copy of it) or database.",
                &["source"],
            ),
            registry,
            temporal: OnceLock::new(),
        }
    }
}

impl Metrics {
    /// Counts one HTTP request by method, route template and status.
    /// A method outside the standard ones counts as `other`, so a client inventing methods cannot grow the label
    /// set without bound (routes are templates, statuses a small set).
    pub fn http_request(&self, method: &str, route: &str, status: u16) {
        self.http.with_label_values(&[method_label(method), route, &status.to_string()]).inc();
    }

    /// Counts one activity attempt by activity and outcome (`completed`, `retryable_error`, …).
    pub fn activity_attempt(&self, activity: &str, outcome: &str) {
        self.attempts.with_label_values(&[activity, outcome]).inc();
        if outcome != "completed" {
            self.failures.with_label_values(&[activity]).inc();
        }
    }

    /// Records one plugin call's duration.
    pub fn plugin_call(&self, slot: &str, digest: &str, elapsed: Duration) {
        self.plugin_calls.with_label_values(&[slot, digest]).observe(elapsed.as_secs_f64());
    }

    /// Records how long one activity attempt ran in this process (failure simulation, plugin call, store, event).
    pub fn activity_time(&self, activity: &str, elapsed: Duration) {
        self.activity_time.with_label_values(&[activity]).observe(elapsed.as_secs_f64());
    }

    /// Counts one status read by where the workflow's part of the document came from.
    pub fn status_read(&self, source: &str) {
        self.status_reads.with_label_values(&[source]).inc();
    }

    /// Where the Temporal SDK exports this process's worker metrics (set once, when the workers start).
    pub fn set_temporal_exporter(&self, addr: SocketAddr) {
        let _ = self.temporal.set(addr);
    }

    /// The SDK's exporter, if this process runs workers.
    pub fn temporal_exporter(&self) -> Option<SocketAddr> {
        self.temporal.get().copied()
    }

    /// The exposition text: this process's counters and histograms, and the gauges of `scrape`.
    pub fn render(&self, scrape: &Scrape) -> String {
        let mut families = self.registry.gather();
        families.extend(scrape_gauges(scrape).gather());
        let mut out = Vec::new();
        if let Err(e) = prometheus::TextEncoder::new().encode(&families, &mut out) {
            tracing::error!(error = %e, "cannot encode metrics");
        }
        String::from_utf8(out).unwrap_or_default()
    }
}

/// The scrape-time gauges, in a registry of their own built for this scrape: a state that disappears from the store
/// does not linger with its last value.
fn scrape_gauges(scrape: &Scrape) -> Registry {
    let registry = Registry::new();
    let gauges = |name: &str, help: &str, label: &str, values: &[(String, u64)]| {
        let vec = IntGaugeVec::new(Opts::new(name, help), &[label]).expect("a valid gauge");
        for (value, n) in values {
            vec.with_label_values(&[value.as_str()]).set(i64::try_from(*n).unwrap_or(i64::MAX));
        }
        registry.register(Box::new(vec)).expect("registered once");
    };
    if let Some(orders) = &scrape.orders_by_state {
        gauges("order_host_orders", "Orders by lifecycle state.", "state", orders);
    }
    gauges("order_host_plugin_calls_in_flight", "Plugin calls running now, per slot.", "slot", &scrape.in_flight);
    if let Some(n) = scrape.needing_attention {
        let gauge = IntGauge::new("order_host_orders_needing_attention", "Orders a person must look at.")
            .expect("a valid gauge");
        gauge.set(i64::try_from(n).unwrap_or(i64::MAX));
        registry.register(Box::new(gauge)).expect("registered once");
    }
    registry
}

fn method_label(method: &str) -> &str {
    const KNOWN: [&str; 9] = ["GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"];
    KNOWN.into_iter().find(|m| *m == method).unwrap_or("other")
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
        let text = m.render(&Scrape::default());
        assert!(text.contains(r#"method="GET""#), "{text}");
        assert!(
            text.contains(r#"order_host_http_requests_total{method="other",route="/healthz",status="200"} 3"#),
            "{text}"
        );
        assert!(!text.contains("FOO"), "{text}");
    }

    #[test]
    fn renders_counters_histograms_and_scrape_gauges() {
        let m = Metrics::default();
        m.http_request("GET", "/orders/{id}/status", 200);
        m.http_request("GET", "/orders/{id}/status", 200);
        m.activity_attempt("charge_payment", "completed");
        m.activity_attempt("charge_payment", "retryable_error");
        m.plugin_call("payment", "sha256:ab", Duration::from_micros(15));
        let scrape = Scrape {
            orders_by_state: Some(vec![("shipped".into(), 3)]),
            needing_attention: Some(1),
            in_flight: vec![("payment".into(), 0)],
        };
        let text = m.render(&scrape);
        for line in [
            r#"order_host_http_requests_total{method="GET",route="/orders/{id}/status",status="200"} 2"#,
            r#"order_host_orders{state="shipped"} 3"#,
            "order_host_orders_needing_attention 1",
            r#"order_host_plugin_calls_in_flight{slot="payment"} 0"#,
            r#"order_host_activity_failures_total{activity="charge_payment"} 1"#,
            r#"order_host_plugin_call_seconds_bucket{digest="sha256:ab",slot="payment",le="0.00002"} 1"#,
            r#"order_host_plugin_call_seconds_bucket{digest="sha256:ab",slot="payment",le="0.00001"} 0"#,
            r#"order_host_plugin_call_seconds_count{digest="sha256:ab",slot="payment"} 1"#,
            "# TYPE order_host_plugin_call_seconds histogram",
        ] {
            assert!(text.lines().any(|l| l == line), "no {line} in\n{text}");
        }
        // A state gone from the store is gone from the gauges, not stuck at its last value.
        let text = m.render(&Scrape { orders_by_state: Some(vec![]), ..Scrape::default() });
        assert!(!text.contains(r#"order_host_orders{state="shipped"}"#), "{text}");
    }
}
