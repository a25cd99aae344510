//! The REST API against a real host: the seed's curls verbatim, every route's success and failure paths, the
//! bad-input matrix, plugin administration, operations endpoints.

use std::time::Duration;

use order_host_tests::api::{Answer, Api};
use order_host_tests::db::{Backend, TestDb};
use order_host_tests::host::{HostSpec, TestHost};
use order_host_tests::orders::{OrderHandle, order_id};
use order_host_tests::{paths, wait};
use serde_json::json;

const WITHIN: Duration = Duration::from_secs(30);
const ADMIN: &str = "s3cret-admin";

async fn api_host(db: &TestDb, spec: HostSpec) -> (TestHost, Api) {
    let host = TestHost::start(db, HostSpec { http: true, ..spec }).await;
    let api = Api::new(&host);
    (host, api)
}

fn assert_error(answer: &Answer, status: u16, code: &str) {
    assert_eq!(answer.status, status, "{answer:?}");
    assert_eq!(answer.error(), code, "{answer:?}");
    assert!(!answer.message().is_empty(), "every error has a message: {answer:?}");
    assert!(answer.content_type.starts_with("application/json"), "{answer:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_curls_work_verbatim() {
    let db = TestDb::new(Backend::Sqlite).await;
    let (_host, api) = api_host(&db, HostSpec::default()).await;
    let id = order_id("order");

    // curl -X POST .../orders/order-123/start -H "Content-Type: application/json" -d '{"payment_id": "payment-456"}'
    let started = api.post_json(&format!("/orders/{id}/start"), r#"{"payment_id": "payment-456"}"#).await;
    assert_eq!(started.status, 202, "{started:?}");
    assert_eq!(started.body["order_id"], id.as_str());
    assert_eq!(started.body["status_url"], format!("/orders/{id}/status"));

    let waiting = api.wait_for_state(&id, "awaiting_approval", WITHIN).await;
    assert_eq!(waiting["total_cents"], 4200, "the documented sample cart");
    assert_eq!(waiting["address"]["city"], "Springfield");

    // curl -X POST .../orders/order-123/signals/update-address -H "Content-Type: application/json" -d '{...}'
    let moved = api
        .post_json(
            &format!("/orders/{id}/signals/update-address"),
            r#"{"street": "456 Oak Ave", "city": "Shelbyville", "state": "IL", "zip_code": "62565"}"#,
        )
        .await;
    assert_eq!(moved.status, 200, "{moved:?}");
    assert_eq!(moved.body["command"], "update_address");

    // curl -X POST .../orders/order-123/signals/approve   (no body, no Content-Type)
    let approved = api.post_empty(&format!("/orders/{id}/signals/approve")).await;
    assert_eq!(approved.status, 200, "{approved:?}");
    assert_eq!(approved.body["command"], "approve_order");

    // curl .../orders/order-123/status
    api.wait_for_state(&id, "shipped", WITHIN).await;
    let shipped = order_host_tests::wait::until(WITHIN, "the run closed", || async {
        let doc = api.get(&format!("/orders/{id}/status")).await.body;
        (doc["workflow"]["status"] == "COMPLETED").then_some(doc)
    })
    .await;
    assert_eq!(shipped["address"]["street"], "456 Oak Ave");
    assert_eq!(shipped["payment"]["status"], "charged");
    for slot in ["validation", "payment", "shipping"] {
        assert!(shipped["plugins"][slot]["digest"].as_str().unwrap().starts_with("sha256:"), "{shipped}");
    }

    // curl -X POST .../orders/order-123/signals/cancel   (too late now)
    assert_error(&api.post_empty(&format!("/orders/{id}/signals/cancel")).await, 409, "conflict");

    // And a second order, cancelled the seed's way before approval.
    let other = order_id("order");
    assert_eq!(api.post_json(&format!("/orders/{other}/start"), r#"{"payment_id": "payment-789"}"#).await.status, 202);
    api.wait_for_state(&other, "awaiting_approval", WITHIN).await;
    let cancelled = api.post_empty(&format!("/orders/{other}/signals/cancel")).await;
    assert_eq!(cancelled.status, 200, "{cancelled:?}");
    api.wait_for_state(&other, "cancelled", WITHIN).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_refuses_bad_input_with_json_errors() {
    let db = TestDb::new(Backend::Sqlite).await;
    let (_host, api) = api_host(&db, HostSpec::default()).await;
    let id = order_id("bad");
    let start = |body: &'static str| {
        let api = api.clone();
        let id = id.clone();
        async move { api.post_json(&format!("/orders/{id}/start"), body).await }
    };
    assert_error(&start("{").await, 400, "malformed_json");
    assert_error(&start("not json").await, 400, "malformed_json");
    assert_error(&start("").await, 422, "invalid_body");
    assert_error(&start("{}").await, 422, "invalid_body");
    assert_error(&start(r#"{"payment_id": 5}"#).await, 422, "invalid_body");
    assert_error(&start(r#"{"payment_id": "p", "colour": "red"}"#).await, 422, "invalid_body");
    assert_error(&start(r#"{"payment_id": "has space"}"#).await, 422, "invalid_body");
    assert_error(
        &start(r#"{"payment_id": "p", "items": [{"sku": "A", "quantity": -1, "unit_price_cents": 1}]}"#).await,
        422,
        "invalid_body",
    );
    let bad_address =
        start(r#"{"payment_id": "p", "address": {"street": "", "city": "X", "state": "Texas", "zip_code": "1"}}"#)
            .await;
    assert_error(&bad_address, 422, "invalid_body");
    assert!(bad_address.message().contains("street is missing"), "{bad_address:?}");

    assert_error(&api.post_json("/orders/has%20space/start", r#"{"payment_id":"p"}"#).await, 400, "invalid_id");
    assert_error(
        &api.post_json(&format!("/orders/{}/start", "x".repeat(65)), r#"{"payment_id":"p"}"#).await,
        400,
        "invalid_id",
    );
    assert_error(&api.post_json("/orders/o-1-shipping-2/start", r#"{"payment_id":"p"}"#).await, 400, "invalid_id");
    let huge = format!(r#"{{"payment_id":"p","pad":"{}"}}"#, "x".repeat(100_000));
    assert_error(
        &api.send("POST", &format!("/orders/{id}/start"), Some(huge.into_bytes()), &[]).await,
        413,
        "payload_too_large",
    );

    // Nothing above started anything; a good start works once and conflicts the second time.
    assert_eq!(start(r#"{"payment_id": "p-1"}"#).await.status, 202);
    assert_error(&start(r#"{"payment_id": "p-1"}"#).await, 409, "conflict");
    assert_eq!(api.post_empty(&format!("/orders/{id}/signals/cancel")).await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_answer_404_409_and_422_precisely() {
    let db = TestDb::new(Backend::Postgres).await;
    let (_host, api) = api_host(&db, HostSpec::default()).await;
    let unknown = order_id("ghost");
    assert_error(&api.post_empty(&format!("/orders/{unknown}/signals/approve")).await, 404, "not_found");
    assert_error(&api.post_empty(&format!("/orders/{unknown}/signals/cancel")).await, 404, "not_found");
    assert_error(&api.get(&format!("/orders/{unknown}/status")).await, 404, "not_found");
    assert_error(&api.get(&format!("/orders/{unknown}/events")).await, 404, "not_found");

    let id = order_id("cmd");
    assert_eq!(api.post_json(&format!("/orders/{id}/start"), r#"{"payment_id":"p"}"#).await.status, 202);
    api.wait_for_state(&id, "awaiting_approval", WITHIN).await;
    let path = |command: &str| format!("/orders/{id}/signals/{command}");
    assert_error(&api.post_json(&path("cancel"), "{").await, 400, "malformed_json");
    assert_error(&api.post_json(&path("cancel"), r#"{"reason": 3}"#).await, 422, "invalid_body");
    assert_error(&api.post_json(&path("update-address"), r#"{"street":"1 A St"}"#).await, 422, "invalid_body");
    assert_error(&api.post_empty(&path("update-address")).await, 422, "invalid_body");
    let invalid =
        api.post_json(&path("update-address"), r#"{"street":"1 A St","city":"B","state":"IL","zip_code":"123"}"#).await;
    assert_error(&invalid, 422, "invalid_body");
    assert!(invalid.message().contains("zip_code"), "{invalid:?}");
    assert_error(&api.send("GET", &path("approve"), None, &[]).await, 405, "method_not_allowed");
    assert_error(&api.get("/no/such/route").await, 404, "not_found");

    assert_eq!(api.post_empty(&path("approve")).await.status, 200);
    api.wait_for_state(&id, "shipped", WITHIN).await;
    let late = api.post_empty(&path("approve")).await;
    assert_error(&late, 409, "conflict");
    assert!(late.message().contains("shipped"), "{late:?}");
    let late = api
        .post_json(&path("update-address"), r#"{"street":"1 A St","city":"B","state":"IL","zip_code":"12345"}"#)
        .await;
    assert_error(&late, 409, "conflict");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approval_after_the_timeout_and_cancel_after_dispatch_are_refused() {
    let db = TestDb::new(Backend::Sqlite).await;
    let spec = HostSpec::default().with_flags(&["--failure-inject", "ship_order:before:100000"]);
    let (_host, api) = api_host(&db, spec).await;

    let timed_out = order_id("late");
    let body = r#"{"payment_id":"p","options":{"approval_timeout_ms":1000}}"#;
    assert_eq!(api.post_json(&format!("/orders/{timed_out}/start"), body).await.status, 202);
    api.wait_for_state(&timed_out, "cancelled", WITHIN).await;
    let late = api.post_empty(&format!("/orders/{timed_out}/signals/approve")).await;
    assert_error(&late, 409, "conflict");
    assert!(late.message().contains("cancelled"), "{late:?}");

    let dispatched = order_id("dispatched");
    assert_eq!(api.post_json(&format!("/orders/{dispatched}/start"), r#"{"payment_id":"p2"}"#).await.status, 202);
    assert_eq!(api.post_empty(&format!("/orders/{dispatched}/signals/approve")).await.status, 200);
    // Only the shipping child knows it has dispatched (it holds the dispatch): the events show it.
    order_host_tests::wait::until(WITHIN, "the dispatch", || async {
        let events = api.get(&format!("/orders/{dispatched}/events")).await.body;
        let events = events["events"].as_array().cloned().unwrap_or_default();
        events.iter().any(|e| e["activity"] == "dispatch_carrier" && e["outcome"] == "completed").then_some(())
    })
    .await;
    // Asked of the child, which answers that its dispatch has begun.
    let refused = api.post_empty(&format!("/orders/{dispatched}/signals/cancel")).await;
    assert_error(&refused, 409, "conflict");
    assert!(refused.message().contains("dispatched"), "{refused:?}");
    let doc = api.get(&format!("/orders/{dispatched}/status")).await.body;
    assert_eq!((doc["step"].as_str(), doc["payment"]["status"].as_str()), (Some("dispatch_carrier"), Some("charged")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_shows_retries_errors_and_the_plugins_that_ran() {
    let db = TestDb::new(Backend::Postgres).await;
    let (_host, api) = api_host(&db, HostSpec { validation: Some("fixtures/flaky"), ..HostSpec::default() }).await;
    let id = order_id("retries");
    assert_eq!(api.post_json(&format!("/orders/{id}/start"), r#"{"payment_id":"p"}"#).await.status, 202);
    assert_eq!(api.post_empty(&format!("/orders/{id}/signals/approve")).await.status, 200);
    let doc = api.wait_for_state(&id, "shipped", WITHIN).await;
    assert_eq!(doc["retries"]["validate_order"], 2, "{doc}");
    let errors = doc["recent_errors"].as_array().unwrap();
    assert!(
        errors
            .iter()
            .any(|e| e["activity"] == "validate_order" && e["message"].as_str().unwrap().contains("transient")),
        "{doc}"
    );
    assert_eq!(doc["plugins"]["validation"]["digest"], paths::digest_of("fixtures/flaky"));
    assert_eq!(doc["plugins"]["validation"]["name"], "flaky");

    let events = api.get(&format!("/orders/{id}/events")).await;
    assert_eq!(events.status, 200);
    let events = events.body["events"].as_array().unwrap().clone();
    let validations: Vec<_> = events.iter().filter(|e| e["activity"] == "validate_order").collect();
    assert_eq!(validations.len(), 3);
    assert!(validations.iter().all(|e| e["plugin_digest"] == paths::digest_of("fixtures/flaky")));
    assert!(events.iter().any(|e| e["kind"] == "command" && e["activity"] == "approve_order"));

    let listed = api.get("/orders?state=shipped&limit=10").await;
    assert_eq!(listed.status, 200);
    assert!(listed.body["orders"].as_array().unwrap().iter().any(|o| o["order_id"] == id.as_str()));
    assert_eq!(api.get("/orders?state=shipped&limit=1&offset=0").await.body["orders"].as_array().unwrap().len(), 1);
    assert_error(&api.get("/orders?state=lost").await, 400, "invalid_query");
    assert_error(&api.get("/orders?limit=0").await, 400, "invalid_query");
    assert_error(&api.get("/orders?limit=abc").await, 400, "invalid_query");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_worker_means_503_after_a_bounded_wait_never_a_hang() {
    let db = TestDb::new(Backend::Sqlite).await;
    let spec = HostSpec { workers: false, ..HostSpec::default() }.with_flags(&["--command-timeout", "1s"]);
    let (_host, api) = api_host(&db, spec).await;
    let id = order_id("orphan");
    assert_eq!(
        api.post_json(&format!("/orders/{id}/start"), r#"{"payment_id":"p"}"#).await.status,
        202,
        "starting needs no worker"
    );
    let started = std::time::Instant::now();
    assert_error(&api.post_empty(&format!("/orders/{id}/signals/approve")).await, 503, "unavailable");
    assert!(started.elapsed() < Duration::from_secs(15), "bounded by the command timeout");
    assert_error(&api.get(&format!("/orders/{id}/status")).await, 503, "unavailable");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_reads_answer_304_while_nothing_changed_and_a_finished_order_needs_no_worker() {
    let db = TestDb::new(Backend::Sqlite).await;
    let (host, api) = api_host(&db, HostSpec::default()).await;
    let id = order_id("etag");
    let path = format!("/orders/{id}/status");
    assert_eq!(api.post_json(&format!("/orders/{id}/start"), r#"{"payment_id":"p-etag"}"#).await.status, 202);
    let waiting = wait::until(Duration::from_secs(30), "awaiting approval", || async {
        let answer = api.get(&path).await;
        (answer.body["state"] == "awaiting_approval").then_some(answer)
    })
    .await;
    let etag = waiting.etag.clone().expect("a status document has an ETag");
    let again = api.send("GET", &path, None, &[("if-none-match", &etag)]).await;
    assert_eq!(again.status, 304, "{again:?}");
    assert_eq!(again.body, serde_json::Value::String(String::new()), "a 304 has no body");
    assert_eq!(again.etag.as_deref(), Some(etag.as_str()));
    let listed = api.send("GET", &path, None, &[("if-none-match", &format!("\"other\", W/{etag}"))]).await;
    assert_eq!(listed.status, 304, "one of several tags, weak or not, matches: {listed:?}");

    assert_eq!(api.post_empty(&format!("/orders/{id}/signals/approve")).await.status, 200);
    let shipped = wait::until(Duration::from_secs(30), "shipped", || async {
        let answer = api.send("GET", &path, None, &[("if-none-match", &etag)]).await;
        (answer.status == 200 && answer.body["state"] == "shipped").then_some(answer)
    })
    .await;
    assert_ne!(shipped.etag.as_deref(), Some(etag.as_str()), "a changed document has a new ETag");
    let shipped = wait::until(Duration::from_secs(30), "the run to complete", || async {
        let answer = api.get(&path).await;
        (answer.body["workflow"]["status"] == "COMPLETED").then_some(answer)
    })
    .await;

    // With no worker anywhere, a finished order is still read in full: from its final document, not by a query
    // (which would need a worker to replay its history) and not from the database alone.
    drop(host);
    let spec = HostSpec { workers: false, ..HostSpec::default() }.with_flags(&["--command-timeout", "1s"]);
    let (_api_only, api) = api_host(&db, spec).await;
    let started = std::time::Instant::now();
    let finished = api.get(&path).await;
    assert_eq!(finished.status, 200, "{finished:?}");
    assert_eq!(finished.body["notes"], serde_json::json!([]), "{finished:?}");
    for field in ["state", "shipping", "payment", "plugins", "approval", "workflow"] {
        assert_eq!(finished.body[field], shipped.body[field], "{field}");
    }
    assert!(started.elapsed() < Duration::from_secs(1), "no wait for a worker: {:?}", started.elapsed());
    let unchanged = api.send("GET", &path, None, &[("if-none-match", shipped.etag.as_deref().unwrap())]).await;
    assert_eq!(unchanged.status, 304, "the same document from another process has the same ETag: {unchanged:?}");
}

/// Status reads by source, from `order_host_status_reads_total`.
async fn status_reads(api: &Api, source: &str) -> u64 {
    let metrics = api.get("/metrics").await;
    let prefix = format!(r#"order_host_status_reads_total{{source="{source}"}} "#);
    metrics.body.as_str().unwrap_or_default().lines().find_map(|l| l.strip_prefix(&prefix)?.parse().ok()).unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_orders_status_comes_from_its_workflow_in_this_process_without_a_query() {
    let db = TestDb::new(Backend::Sqlite).await;
    let (_host, api) = api_host(&db, HostSpec::default()).await;
    let id = order_id("published");
    let path = format!("/orders/{id}/status");
    assert_eq!(api.post_json(&format!("/orders/{id}/start"), r#"{"payment_id":"p-pub"}"#).await.status, 202);
    api.wait_for_state(&id, "awaiting_approval", WITHIN).await;
    let (queries, published) = (status_reads(&api, "query").await, status_reads(&api, "published").await);

    let address = r#"{"street": "456 Oak Ave", "city": "Shelbyville", "state": "IL", "zip_code": "62565"}"#;
    let moved = api.post_json(&format!("/orders/{id}/signals/update-address"), address).await;
    assert_eq!(moved.status, 200, "{moved:?}");
    // The change is in the very next read, which this process's worker answered without a query.
    let read = api.get(&path).await;
    assert_eq!(read.status, 200, "{read:?}");
    assert_eq!(read.body["address"]["city"], "Shelbyville", "{read:?}");
    assert_eq!(read.body["state"], "awaiting_approval");
    assert_eq!(read.body["workflow"]["status"], "RUNNING");
    assert_eq!(status_reads(&api, "query").await, queries, "no status query reached Temporal");
    assert!(status_reads(&api, "published").await > published, "served from the published document");

    // Finished: the run's result (as its worker left it, or once from Temporal), never a query.
    assert_eq!(api.post_empty(&format!("/orders/{id}/signals/approve")).await.status, 200);
    let shipped = api.wait_for_state(&id, "shipped", WITHIN).await;
    assert_eq!(shipped["address"]["city"], "Shelbyville");
    let finished = wait::until(WITHIN, "the final document", || async {
        let read = api.get(&path).await;
        (read.body["workflow"]["status"] == "COMPLETED").then_some(read)
    })
    .await;
    assert_eq!(finished.body["state"], "shipped");
    assert_eq!(status_reads(&api, "query").await, queries, "no status query reached Temporal");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_ended_outside_the_lifecycle_is_read_as_ended_not_replayed_for_a_query() {
    // Terminated from the CLI while it waits for approval: the row never hears of an end. The status query of a
    // closed run would make a worker replay its history on every read and answer RUNNING; the read asks only an open
    // run, and says what Temporal knows.
    let db = TestDb::new(Backend::Sqlite).await;
    let (host, api) = api_host(&db, HostSpec::default()).await;
    let id = order_id("terminated");
    let path = format!("/orders/{id}/status");
    assert_eq!(api.post_json(&format!("/orders/{id}/start"), r#"{"payment_id":"p-term"}"#).await.status, 202);
    api.wait_for_state(&id, "awaiting_approval", WITHIN).await;
    let handle: OrderHandle = host.client.get_workflow_handle(id.clone());
    handle.terminate(temporalio_client::WorkflowTerminateOptions::default()).await.expect("terminating the run");

    let read = wait::until(WITHIN, "the read to show the run terminated", || async {
        let read = api.get(&path).await;
        (read.body["workflow"]["status"] == "TERMINATED").then_some(read)
    })
    .await;
    assert_eq!(read.status, 200, "{read:?}");
    assert_eq!(read.body["state"], "awaiting_approval", "the last state recorded: {read:?}");
    let notes = read.body["notes"].as_array().cloned().unwrap_or_default();
    assert!(notes.iter().any(|n| n.as_str().is_some_and(|n| n.contains("TERMINATED"))), "{read:?}");
    let queries = status_reads(&api, "query").await;
    for _ in 0..3 {
        assert_eq!(api.get(&path).await.body["workflow"]["status"], "TERMINATED");
    }
    assert_eq!(status_reads(&api, "query").await, queries, "a closed run is not answered by a replay");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_reads_who_the_caller_is_the_overview_and_each_orders_last_error() {
    let db = TestDb::new(Backend::Sqlite).await;
    let flags = [
        "--client-tokens",
        "c-1",
        "--operator-tokens",
        "o-1",
        "--admin-tokens",
        "a-1",
        // The first validation attempt of every order fails, then the next passes.
        "--failure-inject",
        "validate_order:before:1",
    ];
    let (_host, api) = api_host(&db, HostSpec::default().with_flags(&flags)).await;
    let who = |token: Option<&'static str>| {
        let api = api.clone();
        async move {
            let bearer = token.map(|t| format!("Bearer {t}"));
            let headers: Vec<(&str, &str)> = bearer.iter().map(|b| ("authorization", b.as_str())).collect();
            api.send("GET", "/auth/whoami", None, &headers).await
        }
    };
    let anonymous = who(None).await;
    assert_eq!((anonymous.status, anonymous.body["role"].clone()), (200, serde_json::Value::Null));
    assert_eq!(anonymous.body["may"], json!({"admin": false, "client": false, "operator": false}));
    let operator = who(Some("o-1")).await;
    assert_eq!(operator.body["role"], "operator");
    assert_eq!(operator.body["may"], json!({"admin": false, "client": true, "operator": true}));
    assert_eq!(who(Some("a-1")).await.body["may"]["admin"], true);
    assert_error(&who(Some("guess")).await, 401, "unauthorized");

    let id = order_id("last-error");
    let client = [("authorization", "Bearer c-1"), ("content-type", "application/json")];
    let body = br#"{"payment_id":"pay-last-error"}"#.to_vec();
    assert_eq!(api.send("POST", &format!("/orders/{id}/start"), Some(body), &client).await.status, 202);
    let operator = [("authorization", "Bearer o-1")];
    let listed = wait::until(Duration::from_secs(30), "the order to be validated", || async {
        let page = api.send("GET", "/orders", None, &operator).await;
        let order = page.body["orders"].as_array()?.iter().find(|o| o["order_id"] == id.as_str())?.clone();
        (order["state"] == "awaiting_approval").then_some(order)
    })
    .await;
    assert!(listed["last_error"].as_str().is_some_and(|m| m.contains("injected")), "{listed}");

    assert_error(&api.send("GET", "/overview", None, &[("authorization", "Bearer c-1")]).await, 403, "forbidden");
    let overview = api.send("GET", "/overview", None, &operator).await;
    assert_eq!(overview.status, 200, "{overview:?}");
    assert_eq!(overview.body["counts"]["awaiting_approval"], 1);
    assert!(overview.body["per_minute"]["last_1m"].as_f64().is_some_and(|n| n >= 1.0), "{overview:?}");
    let failure = &overview.body["recent_failures"][0];
    assert_eq!(
        (failure["order_id"].as_str(), failure["activity"].as_str()),
        (Some(id.as_str()), Some("validate_order"))
    );

    let page = api.get("/ui").await;
    assert_eq!(page.status, 200);
    assert!(page.content_type.starts_with("text/html"), "{page:?}");
    let script = api.get("/ui/app.js").await;
    assert!(script.content_type.starts_with("text/javascript"), "{script:?}");
    assert_error(&api.get("/ui/secrets.txt").await, 404, "not_found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugin_administration() {
    let db = TestDb::new(Backend::Sqlite).await;
    let flags = ["--admin-token", ADMIN, "--plugin-max-bytes", "4MiB"];
    let (_host, api) = api_host(&db, HostSpec::default().with_flags(&flags)).await;
    let bearer = format!("Bearer {ADMIN}");
    let auth = [("authorization", bearer.as_str())];
    let upload = |slot: &'static str, component: &'static str| {
        let api = api.clone();
        let bearer = bearer.clone();
        async move {
            let bytes = std::fs::read(paths::component(component)).unwrap();
            api.send("PUT", &format!("/plugins/{slot}"), Some(bytes), &[("authorization", bearer.as_str())]).await
        }
    };
    let active = |slot: &'static str| {
        let api = api.clone();
        async move { api.get(&format!("/plugins/{slot}")).await.body["active"]["digest"].clone() }
    };

    let listing = api.get("/plugins").await;
    assert_eq!(listing.status, 200);
    assert_eq!(listing.body["slots"].as_array().unwrap().len(), 3);
    assert_eq!(active("payment").await, paths::digest_of("payment"));
    assert_error(&api.get("/plugins/billing").await, 404, "not_found");

    let bytes = std::fs::read(paths::component("fixtures/payment-v2")).unwrap();
    assert_error(&api.send("PUT", "/plugins/payment", Some(bytes.clone()), &[]).await, 401, "unauthorized");
    let wrong = [("authorization", "Bearer nope")];
    assert_error(&api.send("PUT", "/plugins/payment", Some(bytes.clone()), &wrong).await, 401, "unauthorized");
    assert_error(&api.send("POST", "/plugins/payment/rollback", None, &wrong).await, 401, "unauthorized");
    assert_error(&api.send("PUT", "/plugins/billing", Some(bytes), &auth).await, 404, "not_found");

    for (slot, component, code) in [
        ("validation", "fixtures/infinite-loop", "trial_failed"),
        ("validation", "fixtures/memory-bomb", "trial_failed"),
        ("validation", "fixtures/panic", "trial_failed"),
        ("validation", "fixtures/aliased-strings", "trial_failed"),
        ("validation", "fixtures/unknown-import", "unsupported_imports"),
        ("payment", "fixtures/wrong-world", "wrong_world"),
        ("shipping", "validation", "wrong_world"),
    ] {
        let before = active(slot).await;
        assert_error(&upload(slot, component).await, 400, code);
        assert_eq!(active(slot).await, before, "{component} left {slot} unchanged");
    }
    assert_error(&api.send("PUT", "/plugins/payment", Some(b"garbage".to_vec()), &auth).await, 400, "not_wasm");
    assert_error(&api.send("PUT", "/plugins/payment", Some(vec![0u8; 5 << 20]), &auth).await, 413, "payload_too_large");

    let v2 = upload("payment", "fixtures/payment-v2").await;
    assert_eq!(v2.status, 200, "{v2:?}");
    assert_eq!(v2.body["version"], "0.2.0");
    assert_eq!(active("payment").await, paths::digest_of("fixtures/payment-v2"));
    // Published to the shared store (not to a directory): what every process follows, with the bytes for later.
    let stored = db.store.plugin_bytes("payment", &paths::digest_of("fixtures/payment-v2")).await.unwrap();
    assert_eq!(stored.unwrap(), std::fs::read(paths::component("fixtures/payment-v2")).unwrap());
    let slot = api.get("/plugins/payment").await.body;
    assert_eq!(slot["history"].as_array().unwrap().len(), 2);
    assert_eq!(slot["release"]["digest"], paths::digest_of("fixtures/payment-v2"));
    assert_eq!(slot["releases"].as_array().unwrap().len(), 2, "the default, then the upload: {slot}");
    assert_eq!(slot["converged"], true, "{slot}");
    let me = slot["processes"].as_array().unwrap();
    assert_eq!(me.len(), 1, "this host reports itself: {slot}");
    assert_eq!(me[0]["digest"], paths::digest_of("fixtures/payment-v2"));
    assert!(
        slot["recorded"].as_array().unwrap().iter().any(|r| r["digest"] == paths::digest_of("fixtures/payment-v2"))
    );

    let newest = slot["release"]["id"].as_i64().unwrap();
    let expecting = format!("/plugins/payment/rollback?expect={newest}");
    assert_error(&api.send("POST", "/plugins/payment/rollback?expect=x", None, &auth).await, 400, "invalid_query");
    let back = api.send("POST", &expecting, None, &auth).await;
    assert_eq!(back.status, 200, "{back:?}");
    assert_eq!(back.body["digest"], paths::digest_of("payment"));
    assert_eq!(active("payment").await, paths::digest_of("payment"));
    // The same request again (its answer lost, say) does not undo the rollback.
    assert_error(&api.send("POST", &expecting, None, &auth).await, 409, "conflict");
    assert_eq!(active("payment").await, paths::digest_of("payment"));
    assert_error(&api.send("POST", "/plugins/shipping/rollback", None, &auth).await, 409, "conflict");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn administration_is_off_without_a_token() {
    let db = TestDb::new(Backend::Sqlite).await;
    let (_host, api) = api_host(&db, HostSpec::default()).await;
    let bytes = std::fs::read(paths::component("payment")).unwrap();
    let refused = api.send("PUT", "/plugins/payment", Some(bytes), &[("authorization", "Bearer anything")]).await;
    assert_error(&refused, 401, "unauthorized");
    assert!(refused.message().contains("disabled"), "{refused:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_without_the_admin_role_is_refused_before_its_body_is_read() {
    // Before: the server read up to 16 MiB first and only then looked at the token; a client announcing a large
    // body and sending nothing held the request open. Now the answer comes from the headers alone.
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let db = TestDb::new(Backend::Sqlite).await;
    let spec = HostSpec::default().with_flags(&["--admin-tokens", ADMIN]);
    let (host, _api) = api_host(&db, spec).await;
    let addr = host.url("").trim_start_matches("http://").trim_end_matches('/').to_owned();
    let mut socket = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "PUT /plugins/payment HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer not-the-token\r\n\
         Content-Length: 15000000\r\n\r\n"
    );
    socket.write_all(head.as_bytes()).await.unwrap();
    let mut answer = vec![0; 4096];
    let n = tokio::time::timeout(WITHIN, socket.read(&mut answer)).await.expect("answered without the body").unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    assert!(answer.contains("unknown token"), "{answer}");

    // With the token, a body that stalls is cut off (408) rather than holding the request open.
    let mut socket = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "PUT /plugins/payment HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {ADMIN}\r\n\
         Content-Length: 1000\r\n\r\n\0asm"
    );
    socket.write_all(head.as_bytes()).await.unwrap();
    let mut answer = vec![0; 4096];
    let n = tokio::time::timeout(WITHIN, socket.read(&mut answer)).await.expect("answered").unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("body_timeout"), "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operations_endpoints() {
    let db = TestDb::new(Backend::Postgres).await;
    let (_host, api) = api_host(&db, HostSpec::default()).await;
    assert_eq!(api.get("/healthz").await.body, json!({"status": "ok"}));
    let ready = api.get("/readyz").await;
    assert_eq!(ready.status, 200, "{ready:?}");
    assert_eq!(ready.body["database"], "ok");

    let id = order_id("metrics");
    api.post_json(&format!("/orders/{id}/start"), r#"{"payment_id":"p"}"#).await;
    api.post_empty(&format!("/orders/{id}/signals/approve")).await;
    api.wait_for_state(&id, "shipped", WITHIN).await;
    let metrics = api.get("/metrics").await;
    assert!(metrics.content_type.starts_with("text/plain"), "{metrics:?}");
    let text = metrics.body.as_str().unwrap();
    for needle in [
        r#"order_host_http_requests_total{method="POST",route="/orders/{id}/start",status="202"} 1"#,
        r#"order_host_orders{state="shipped"} 1"#,
        r#"order_host_activity_attempts_total{activity="charge_payment",outcome="completed"} 1"#,
    ] {
        assert!(text.contains(needle), "missing {needle} in\n{text}");
    }
    let validation_calls = |l: &&str| {
        l.starts_with(r#"order_host_plugin_call_seconds_count{digest="sha256:"#) && l.contains(r#"slot="validation""#)
    };
    assert!(text.lines().any(|l| validation_calls(&l)), "no validation call count in\n{text}");
    assert!(text.lines().any(|l| l.starts_with("temporal_")), "no Temporal worker metrics in\n{text}");

    let doc = api.get("/openapi.json").await.body;
    let documented: Vec<&str> = doc["paths"].as_object().unwrap().keys().map(String::as_str).collect();
    for route in [
        "/orders",
        "/orders/{id}/start",
        "/orders/{id}/signals/approve",
        "/orders/{id}/signals/cancel",
        "/orders/{id}/signals/update-address",
        "/orders/{id}/status",
        "/orders/{id}/events",
        "/plugins",
        "/plugins/{slot}",
        "/plugins/{slot}/rollback",
        "/healthz",
        "/readyz",
        "/metrics",
        "/openapi.json",
    ] {
        assert!(documented.contains(&route), "{route} missing from /openapi.json");
    }
    assert!(doc["components"]["schemas"]["StatusDocument"].is_object());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_falls_back_to_the_database_when_no_worker_answers() {
    let db = TestDb::new(Backend::Sqlite).await;
    let workers = TestHost::start(&db, HostSpec::default()).await;
    let id = order_id("orphaned");
    let handle = order_host_tests::orders::start(&workers, order_host_tests::orders::sample_input(&id)).await;
    order_host_tests::orders::wait_for(&handle, order_host::domain::OrderState::AwaitingApproval, WITHIN).await;
    drop(workers);

    // An API-only host on the same database; nobody polls the order's task queue any more.
    let spec = HostSpec { workers: false, ..HostSpec::default() }.with_flags(&["--command-timeout", "1s"]);
    let (_api_host, api) = api_host(&db, spec).await;
    let doc = order_host_tests::wait::until(WITHIN, "the database's view", || async {
        let answer = api.get(&format!("/orders/{id}/status")).await;
        let fallback = answer.body["notes"]
            .as_array()
            .is_some_and(|n| n.iter().any(|n| n.as_str().unwrap_or("").contains("database's view")));
        (answer.status == 200 && fallback).then_some(answer.body)
    })
    .await;
    assert_eq!(doc["state"], "awaiting_approval");
    assert_eq!(doc["total_cents"], 4200);
    assert_eq!(doc["workflow"]["status"], "RUNNING", "Temporal still describes the run");
    assert!(doc["plugins"]["validation"]["digest"].as_str().unwrap().starts_with("sha256:"), "{doc}");
}
