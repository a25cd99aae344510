//! The real `order-host` binary as a process: structured JSON logs for state changes, retries and cancellations,
//! and a clean exit on SIGTERM.

use std::process::Stdio;
use std::time::Duration;

use order_host::domain::OrderState;
use order_host::plugins::Slot;
use order_host::workflows::OrderWorkflow;
use order_host::workflows::messages::to_raw;
use order_host_tests::db::TestDb;
use order_host_tests::orders::{self, OrderHandle, order_id, sample_input};
use order_host_tests::{paths, temporal};
use serde_json::Value;
use temporalio_client::WorkflowStartOptions;

const WITHIN: Duration = Duration::from_mins(1);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_logs_state_changes_retries_and_cancellations_then_stops_on_sigterm() {
    let db = TestDb::sqlite().await;
    let dir = tempfile::tempdir().unwrap();
    let plugins = dir.path().join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    for (slot, name) in [(Slot::Validation, "fixtures/flaky"), (Slot::Payment, "payment"), (Slot::Shipping, "shipping")]
    {
        std::fs::copy(paths::component(name), plugins.join(slot.file_name())).unwrap();
    }
    let suffix = order_id("q");
    let (orders_queue, shipping_queue) = (format!("orders-{suffix}"), format!("shipping-{suffix}"));
    let log_path = dir.path().join("host.log");
    let mut child = tokio::process::Command::new(paths::order_host_binary())
        .arg("worker")
        .env("DATABASE_URL", &db.url)
        .env("TEMPORAL_ADDRESS", &temporal::server().address)
        .env("PLUGINS_DIR", &plugins)
        .env("DATA_DIR", dir.path().join("data"))
        .env("ORDERS_TASK_QUEUE", &orders_queue)
        .env("SHIPPING_TASK_QUEUE", &shipping_queue)
        .env("METRICS_ADDR", "127.0.0.1:0")
        .env("LOG_FORMAT", "json")
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log_path).unwrap())
        .kill_on_drop(true)
        .spawn()
        .expect("starting order-host");

    let client = order_host::temporal::connect(&order_host_config()).await.unwrap();
    let start = |id: String| {
        let client = client.clone();
        let queue = orders_queue.clone();
        async move {
            let options = WorkflowStartOptions::new(queue, id.clone()).build();
            client.start_workflow(OrderWorkflow::run, to_raw(Some(&sample_input(&id))), options).await.expect("start")
        }
    };
    let shipped_id = order_id("logged");
    let shipped: OrderHandle = start(shipped_id.clone()).await;
    orders::approve_signal(&shipped).await;
    orders::wait_for(&shipped, OrderState::Shipped, WITHIN).await;
    // Started as the `temporal` CLI starts it, with no revision named: the run records its one patch marker (and the
    // upsert that comes with it), as before the revision existed.
    assert_eq!(orders::patch_marks(&client, &shipped_id).await, (1, 1), "{shipped_id}");

    let cancelled_id = order_id("logged-cancel");
    let cancelled: OrderHandle = start(cancelled_id.clone()).await;
    orders::wait_for(&cancelled, OrderState::AwaitingApproval, WITHIN).await;
    orders::cancel_signal(&cancelled, "changed my mind").await;
    orders::wait_for(&cancelled, OrderState::Cancelled, WITHIN).await;

    // A worker-only process serves its own metrics (the activities ran here), liveness and readiness on METRICS_ADDR,
    // and nothing of the REST API.
    let metrics_url = wait_for_log_field(&log_path, "metrics listening", "url").await;
    let http = reqwest::Client::new();
    let get = |path: &str| {
        let (http, url) = (http.clone(), metrics_url.replace("/metrics", path));
        async move {
            let response = http.get(&url).send().await.expect("the metrics listener answers");
            (response.status().as_u16(), response.text().await.unwrap())
        }
    };
    let (status, text) = get("/metrics").await;
    assert_eq!(status, 200, "{text}");
    for line in [
        r#"order_host_activity_attempts_total{activity="validate_order",outcome="retryable_error"}"#,
        r#"order_host_activity_attempts_total{activity="charge_payment",outcome="completed"}"#,
        r#"order_host_plugin_calls_in_flight{slot="payment"} 0"#,
        // Temporal's own worker metrics, beside ours.
        "temporal_sticky_cache_size",
        "temporal_worker_task_slots_available",
    ] {
        assert!(text.lines().any(|l| l.starts_with(line)), "no {line} in\n{text}");
    }
    assert_eq!(get("/healthz").await.0, 200);
    let (status, text) = get("/readyz").await;
    assert_eq!((status, text.contains("\"ready\"")), (200, true), "{text}");
    let (status, text) = get("/orders").await;
    assert_eq!(status, 404, "the REST API is not served here: {text}");

    // SIGTERM: the workers drain and the process exits 0.
    let pid = i32::try_from(child.id().expect("running")).unwrap();
    #[allow(unsafe_code)]
    // SAFETY: kill(2) with a pid we own and a valid signal number.
    unsafe {
        libc::kill(pid, libc::SIGTERM);
    }
    let status =
        tokio::time::timeout(Duration::from_secs(30), child.wait()).await.expect("exits after SIGTERM").unwrap();
    assert!(status.success(), "exit status {status:?}");

    let lines: Vec<Value> =
        std::fs::read_to_string(&log_path).unwrap().lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    let find = |what: &str, pred: &dyn Fn(&Value) -> bool| {
        lines
            .iter()
            .find(|l| l["fields"]["message"] == what && pred(&l["fields"]))
            .unwrap_or_else(|| panic!("no {what:?} line matching; {} lines logged", lines.len()))
            .clone()
    };
    let validated = find("order state changed", &|f| f["order_id"] == shipped_id.as_str() && f["state"] == "validated");
    assert_eq!(validated["fields"]["workflow_id"], shipped_id.as_str());
    assert_eq!(validated["fields"]["activity"], "validate_order");
    assert_eq!(validated["fields"]["attempt"], 3, "the flaky validator passes on its third attempt");
    let retry = find("activity attempt failed", &|f| f["order_id"] == shipped_id.as_str() && f["attempt"] == 1);
    assert_eq!(retry["fields"]["activity"], "validate_order");
    assert_eq!(retry["fields"]["retryable"], true);
    assert_eq!(retry["level"], "WARN");
    let cancel = find("order state changed", &|f| f["order_id"] == cancelled_id.as_str() && f["state"] == "cancelled");
    assert_eq!(cancel["fields"]["reason"], "changed my mind");
    assert_eq!(cancel["fields"]["workflow_id"], cancelled_id.as_str());
    find("shutting down workers", &|_| true);
}

/// Polls the JSON log at `path` until a line with `message` appears, and returns its field `field`.
async fn wait_for_log_field(path: &std::path::Path, message: &str, field: &str) -> String {
    let deadline = tokio::time::Instant::now() + WITHIN;
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let found = text
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .find(|l| l["fields"]["message"] == message)
            .and_then(|l| l["fields"][field].as_str().map(str::to_owned));
        if let Some(value) = found {
            return value;
        }
        assert!(tokio::time::Instant::now() < deadline, "no {message:?} line logged within {WITHIN:?}:\n{text}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn order_host_config() -> order_host::config::Config {
    let args = ["order-host", "--temporal-address", &temporal::server().address, "worker"];
    <order_host::cli::Cli as clap::Parser>::try_parse_from(args).unwrap().config
}
