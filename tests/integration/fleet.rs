//! Many processes, one rollout: an `order-host api` and two `order-host worker` processes (the real binary) on one
//! PostgreSQL database and the real dev server, the workers with empty plugins directories. A publish through the API
//! reaches both workers while orders run; a killed worker comes back on the published version; a rollback from the
//! command line reaches both; a refund after the switch runs on the version that charged; each worker's metrics show
//! the plugin calls it made. A shipment whose worker dies mid-dispatch, cancelled before another worker takes it up,
//! still ships.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use order_host::domain::{OrderState, PaymentState, StatusDocument};
use order_host::plugins::Slot;
use order_host::store::EventRow;
use order_host::workflows::OrderWorkflow;
use order_host::workflows::messages::start_input;
use order_host_tests::db::TestDb;
use order_host_tests::orders::{self, OrderHandle, order_id, sample_input};
use order_host_tests::{paths, temporal, wait};
use serde_json::Value;
use temporalio_client::{WorkflowGetResultOptions, WorkflowStartOptions};
use tokio::process::{Child, Command};

const WITHIN: Duration = Duration::from_mins(1);
const SHIPPING: &[&str] = &["worker", "--queue", "shipping"];
const ADMIN: &str = "fleet-admin-token";

/// One `order-host` process of the fleet (its command line after the binary) and how to start it again.
struct Process {
    args: &'static [&'static str],
    env: Vec<(String, String)>,
    log: PathBuf,
    child: Child,
}

impl Process {
    fn start(args: &'static [&'static str], env: Vec<(String, String)>, log: PathBuf) -> Process {
        let child = spawn(args, &env, &log);
        Process { args, env, log, child }
    }

    async fn kill(&mut self) {
        self.child.start_kill().unwrap();
        self.child.wait().await.unwrap();
    }

    async fn kill_and_restart(&mut self) {
        self.kill().await;
        std::fs::remove_file(&self.log).unwrap();
        self.child = spawn(self.args, &self.env, &self.log);
    }

    /// The URL the process logged for `message` (its listener, on a port of its own choosing).
    async fn url(&self, message: &str) -> String {
        wait::until(WITHIN, &format!("{} to log {message:?}", self.args[0]), || async {
            let text = std::fs::read_to_string(&self.log).unwrap_or_default();
            text.lines()
                .filter_map(|l| serde_json::from_str::<Value>(l).ok())
                .find(|l| l["fields"]["message"] == message)
                .and_then(|l| l["fields"]["url"].as_str().map(str::to_owned))
        })
        .await
    }
}

fn spawn(args: &[&str], env: &[(String, String)], log: &Path) -> Child {
    Command::new(paths::order_host_binary())
        .args(args)
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .kill_on_drop(true)
        .spawn()
        .expect("starting order-host")
}

/// The task queues of one test's processes.
struct Queues {
    orders: String,
    shipping: String,
}

/// The environment of an `order-host` process at home `home` (its plugins directory and data made there) on `db`, the
/// test's Temporal server and `queues`, logging JSON, with `extra` on top; and that home.
fn process_env(db: &TestDb, queues: &Queues, home: &Path, extra: &[(&str, &str)]) -> (PathBuf, Vec<(String, String)>) {
    std::fs::create_dir_all(home.join("plugins")).unwrap();
    let env = [
        ("DATABASE_URL", db.url.as_str()),
        ("TEMPORAL_ADDRESS", temporal::server().address.as_str()),
        ("ORDERS_TASK_QUEUE", &queues.orders),
        ("SHIPPING_TASK_QUEUE", &queues.shipping),
        ("PLUGINS_DIR", home.join("plugins").to_str().unwrap()),
        ("DATA_DIR", home.join("data").to_str().unwrap()),
        ("LOG_FORMAT", "json"),
        ("RUST_LOG", "info"),
    ]
    .iter()
    .chain(extra)
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    (home.to_path_buf(), env)
}

/// The three processes: an API holding the defaults (the first start of the empty store publishes them) and two
/// workers whose plugins directories stay empty (they run what the store names). Packing never succeeds on the
/// workers, so charged orders wait in `shipping` until they are cancelled (and refunded) on purpose.
struct Fleet {
    api: Process,
    workers: [Process; 2],
    orders_queue: String,
    base: String,
}

async fn start_fleet(db: &TestDb, dir: &Path) -> Fleet {
    let suffix = order_id("fleet");
    let queues = Queues { orders: format!("orders-{suffix}"), shipping: format!("shipping-{suffix}") };
    let timing = [("PLUGIN_REPORT_INTERVAL", "300ms"), ("PLUGIN_PROCESS_TTL", "3s")];
    let env = |name: &str, extra: &[(&str, &str)]| {
        let extra: Vec<_> = timing.iter().chain(extra).copied().collect();
        process_env(db, &queues, &dir.join(name), &extra)
    };
    let (api_home, api_env) = env("api", &[("HTTP_ADDR", "127.0.0.1:0"), ("ADMIN_TOKEN", ADMIN)]);
    for slot in Slot::ALL {
        std::fs::copy(paths::component(slot.as_str()), api_home.join("plugins").join(slot.file_name())).unwrap();
    }
    let worker_extra = [("METRICS_ADDR", "127.0.0.1:0"), ("FAILURE_INJECT", "prepare_package:before:100000")];
    let api = Process::start(&["api"], api_env, dir.join("api.log"));
    let (_, w1_env) = env("worker-1", &worker_extra);
    let (_, w2_env) = env("worker-2", &worker_extra);
    let workers = [
        Process::start(&["worker"], w1_env, dir.join("worker-1.log")),
        Process::start(&["worker"], w2_env, dir.join("worker-2.log")),
    ];
    let base = api.url("REST API listening").await;
    Fleet { api, workers, orders_queue: queues.orders, base }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_rollout_reaches_every_process() {
    let db = TestDb::postgres().await;
    let dir = tempfile::tempdir().unwrap();
    let Fleet { api, mut workers, orders_queue, base } = start_fleet(&db, dir.path()).await;
    let http = reqwest::Client::new();
    let payment_slot = || {
        let (http, url) = (http.clone(), format!("{base}/plugins/payment"));
        async move { http.get(url).send().await.unwrap().json::<Value>().await.unwrap() }
    };
    let converged_on = |digest: String, processes: usize| async move {
        wait::until(WITHIN, &format!("{processes} processes to run {digest}"), || async {
            let slot = payment_slot().await;
            let running = slot["processes"].as_array().unwrap().iter().filter(|p| p["digest"] == digest.as_str());
            (slot["converged"] == true && running.count() == processes).then_some(slot)
        })
        .await
    };
    let (v1, v2) = (paths::digest_of("payment"), paths::digest_of("fixtures/payment-v2"));
    converged_on(v1.clone(), 3).await;

    let client = order_host::temporal::connect(&config()).await.unwrap();
    let start = |id: String| {
        let (client, queue) = (client.clone(), orders_queue.clone());
        async move {
            let options = WorkflowStartOptions::new(queue, id.clone()).build();
            let handle: OrderHandle =
                client.start_workflow(OrderWorkflow::run, start_input(&sample_input(&id)), options).await.unwrap();
            orders::approve_signal(&handle).await;
            orders::wait_for(&handle, OrderState::Shipping, WITHIN).await;
            handle
        }
    };
    let before = start(order_id("fleet-v1")).await;

    // Publish v2 through the API while an order runs: both workers switch, and the next charge is v2's.
    let upload = http
        .put(format!("{base}/plugins/payment"))
        .bearer_auth(ADMIN)
        .body(std::fs::read(paths::component("fixtures/payment-v2")).unwrap())
        .send();
    let (during, uploaded) = tokio::join!(start(order_id("fleet-during")), upload);
    assert_eq!(uploaded.unwrap().status(), 200);
    converged_on(v2.clone(), 3).await;
    let after = start(order_id("fleet-v2")).await;
    let charged_with = |id: String| {
        let store = std::sync::Arc::clone(&db.store);
        async move { store.payments_for_order(&id).await.unwrap().remove(0).plugin_digest.unwrap() }
    };
    assert_eq!(charged_with(before.info().workflow_id.clone()).await, v1);
    assert_eq!(charged_with(after.info().workflow_id.clone()).await, v2);

    // A killed worker comes back on v2, from the store alone; its old report drops out.
    let killed = format!(":{}:", workers[0].child.id().unwrap());
    workers[0].kill_and_restart().await;
    let restarted = format!(":{}:", workers[0].child.id().unwrap());
    wait::until(WITHIN, "the restarted worker on v2 and the killed one gone", || async {
        let slot = converged_on(v2.clone(), 3).await;
        let ids: Vec<String> = slot["processes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["process_id"].as_str().unwrap().to_owned())
            .collect();
        (ids.iter().any(|id| id.contains(&restarted)) && !ids.iter().any(|id| id.contains(&killed))).then_some(())
    })
    .await;

    // A refund after the switch runs on the version that took the charge.
    orders::cancel_signal(&before, "refund on v1").await;
    orders::wait_for(&before, OrderState::Cancelled, WITHIN).await;
    let refund = refund_event(&db, &before.info().workflow_id).await;
    assert_eq!(refund.plugin_digest.as_deref(), Some(v1.as_str()), "{refund:?}");
    assert_eq!(refund.details.as_ref().unwrap()["charged_with"], v1.as_str());

    // A rollback from the command line reaches both workers.
    let rollback = std::process::Command::new(paths::order_host_binary())
        .args(["plugins", "rollback", "--slot", "payment"])
        .env("DATABASE_URL", &db.url)
        .output()
        .unwrap();
    assert!(rollback.status.success(), "{}", String::from_utf8_lossy(&rollback.stderr));
    converged_on(v1.clone(), 3).await;
    let status = std::process::Command::new(paths::order_host_binary())
        .args(["plugins", "status"])
        .env("DATABASE_URL", &db.url)
        .env("PLUGIN_PROCESS_TTL", "3s")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(status.status.success() && text.contains("3 process(es); converged"), "{text}");
    assert!(text.contains("rollback"), "{text}");

    // The order charged on v2 is refunded on v2 although v1 is active again.
    orders::cancel_signal(&after, "refund on v2").await;
    orders::wait_for(&after, OrderState::Cancelled, WITHIN).await;
    assert_eq!(refund_event(&db, &after.info().workflow_id).await.plugin_digest.as_deref(), Some(v2.as_str()));
    orders::cancel_signal(&during, "done").await;
    let ended = orders::wait_for(&during, OrderState::Cancelled, WITHIN).await;
    assert_eq!(ended.payment.status, PaymentState::Refunded);

    // No charge failed across the switches, and each worker's metrics show the plugin calls it made itself.
    for handle in [&before, &during, &after] {
        assert_no_failed_charge(&db, &handle.info().workflow_id).await;
    }
    // All three refunds ran after the restart, each on one worker: the workers' own counts add up to exactly three.
    let mut refunds = 0.0;
    for worker in &workers {
        let url = worker.url("metrics listening").await;
        let text = http.get(url).send().await.unwrap().text().await.unwrap();
        refunds +=
            metric(&text, r#"order_host_activity_attempts_total{activity="refund_payment",outcome="completed"}"#);
        assert!(text.contains(r#"order_host_plugin_calls_in_flight{slot="payment"}"#), "{text}");
    }
    assert!((refunds - 3.0).abs() < f64::EPSILON, "refunds counted by the workers: {refunds}");
    drop(api);
}

/// A shipment's worker dies while it dispatches — its dispatch has reached the carrier, the workflow task that ran it
/// is lost — and a cancel arrives before another worker runs the shipment again. The parcel is with the carrier: the
/// cancel must be refused and the order ship, never end cancelled and refunded with its parcel on the way. (The task
/// runs again from the shipment's last commit. Before `committed-dispatch` that commit came after the dispatch, so the
/// run again met the stop first in its history, took it, and ended the shipment cancelled.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_after_a_lost_dispatch_is_refused() {
    let db = TestDb::postgres().await;
    let dir = tempfile::tempdir().unwrap();
    // Every dispatch the lost worker runs reaches the carrier, then fails: it stays inside its workflow task meanwhile.
    let inject = "dispatch_carrier:after:100000";
    let carried = |e: &EventRow| e.activity.as_deref() == Some("dispatch_carrier") && e.plugin_digest.is_some();
    let cancel = async |handle: &OrderHandle| orders::cancel_signal(handle, "after the parcel left").await;
    let (id, ended, _) = with_a_lost_worker(&db, dir.path(), "shipping", inject, carried, cancel).await;
    assert_eq!(ended.state, OrderState::Shipped, "the parcel was dispatched, yet: {ended:?}");
    assert_eq!(ended.payment.status, PaymentState::Charged, "{ended:?}");
    assert!(db.store.payments_for_order(&id).await.unwrap().iter().all(|p| p.refund_id.is_none()));
}

/// The task that dispatched is lost after the dispatch completed (the worker dies while `ship_order` retries in the
/// same task): the worker that runs it again finds the recorded dispatch and does not hand the parcel over twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dispatch_run_again_is_not_sent_to_the_carrier_twice() {
    let db = TestDb::postgres().await;
    let dir = tempfile::tempdir().unwrap();
    let completed =
        |e: &EventRow| e.activity.as_deref() == Some("dispatch_carrier") && e.outcome.as_deref() == Some("completed");
    let nothing = async |_: &OrderHandle| {};
    // The loss must fall inside the task (its first quick `ship_order` retries, ~125 ms): a later kill finds the
    // dispatch committed and nothing runs again, so a run that shows no second dispatch attempt is tried anew.
    for _ in 0..3 {
        let inject = "ship_order:before:100000";
        let (id, ended, events) = with_a_lost_worker(&db, dir.path(), "shipping", inject, completed, nothing).await;
        assert_eq!(ended.state, OrderState::Shipped, "{ended:?}");
        let dispatches: Vec<_> = events.iter().filter(|e| e.activity.as_deref() == Some("dispatch_carrier")).collect();
        if dispatches.len() < 2 {
            continue;
        }
        let carrier_calls = dispatches.iter().filter(|e| e.plugin_digest.is_some()).count();
        assert_eq!(carrier_calls, 1, "{id}: the carrier was asked again: {dispatches:?}");
        let reused = dispatches.iter().filter_map(|e| e.details.as_ref()).any(|d| d["reused_dispatch"] == true);
        assert!(reused, "{id}: {dispatches:?}");
        let shipped = db.store.get_order(&id).await.unwrap().unwrap();
        let first = dispatches.iter().find(|e| e.plugin_digest.is_some()).unwrap().details.clone().unwrap();
        assert_eq!(shipped.tracking.as_deref(), first["tracking"].as_str(), "{shipped:?}");
        return;
    }
    panic!("the worker was never killed inside the task that dispatched");
}

/// The workflow task that heard the approval charged the payment and was lost with its worker; a cancel arrives
/// before another worker runs the task again. The run again hears approval and cancel together and never charges:
/// the end refunds the charge the lost run made, rather than leave the money taken (`refund-unheard-charges`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_charge_lost_with_its_worker_is_refunded_when_a_cancel_follows() {
    let db = TestDb::postgres().await;
    let dir = tempfile::tempdir().unwrap();
    // Every charge the lost worker makes is taken and recorded, then fails: it retries inside its task meanwhile.
    let inject = "charge_payment:after:100000";
    let charged = |e: &EventRow| e.activity.as_deref() == Some("charge_payment") && e.plugin_digest.is_some();
    let cancel = async |handle: &OrderHandle| orders::cancel_signal(handle, "before the charge was heard of").await;
    let (id, ended, _) = with_a_lost_worker(&db, dir.path(), "orders", inject, charged, cancel).await;
    assert_eq!(ended.state, OrderState::Cancelled, "{ended:?}");
    let payments = db.store.payments_for_order(&id).await.unwrap();
    assert_eq!(payments.len(), 1, "{payments:?}");
    assert_eq!(
        payments[0].status,
        PaymentState::Refunded,
        "charged by the lost run and never given back: {payments:?}"
    );
}

/// Runs one order whose worker of queue `lost` (`orders` or `shipping`) has `inject` and is killed as soon as one of
/// the order's events is `lost_at`; then `meanwhile`, then another worker of that queue takes the order up. The order
/// id, its end and its events.
async fn with_a_lost_worker(
    db: &TestDb,
    dir: &Path,
    lost: &'static str,
    inject: &str,
    lost_at: impl Fn(&EventRow) -> bool,
    meanwhile: impl AsyncFnOnce(&OrderHandle),
) -> (String, StatusDocument, Vec<EventRow>) {
    let suffix = order_id("lost");
    let dir = dir.join(&suffix);
    let queues = Queues { orders: format!("orders-{suffix}"), shipping: format!("shipping-{suffix}") };
    // Only the worker of the other queue brings the plugins (it publishes them); the others run what the store names.
    let env = |name: &str, plugins: bool, extra: &[(&str, &str)]| {
        let (home, env) = process_env(db, &queues, &dir.join(name), extra);
        for slot in Slot::ALL.into_iter().filter(|_| plugins) {
            std::fs::copy(paths::component(slot.as_str()), home.join("plugins").join(slot.file_name())).unwrap();
        }
        env
    };
    let worker: &'static [&'static str] = if lost == "orders" { &["worker", "--queue", "orders"] } else { SHIPPING };
    let other: &'static [&'static str] = if lost == "orders" { SHIPPING } else { &["worker", "--queue", "orders"] };
    let _stays = Process::start(other, env("stays", true, &[]), dir.join("stays.log"));
    let lost_env = env("lost", false, &[("FAILURE_INJECT", inject)]);
    let mut lost = Process::start(worker, lost_env, dir.join("lost.log"));

    let client = order_host::temporal::connect(&config()).await.unwrap();
    let id = order_id("lost-task");
    let options = WorkflowStartOptions::new(queues.orders.clone(), id.clone()).build();
    let handle: OrderHandle =
        client.start_workflow(OrderWorkflow::run, start_input(&sample_input(&id)), options).await.unwrap();
    orders::approve_signal(&handle).await;

    // Kill the worker at once, before the task it is in commits.
    let deadline = tokio::time::Instant::now() + WITHIN;
    while !db.store.events(&id, 500).await.unwrap().iter().any(&lost_at) {
        assert!(tokio::time::Instant::now() < deadline, "{id}: the moment to kill never came within {WITHIN:?}");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    lost.kill().await;
    meanwhile(&handle).await;
    let _again = Process::start(worker, env("again", false, &[]), dir.join("again.log"));

    let ended = tokio::time::timeout(WITHIN, handle.get_result(WorkflowGetResultOptions::default()))
        .await
        .expect("the order ends")
        .expect("the order completes");
    let events = db.store.events(&id, 500).await.unwrap();
    (id, ended, events)
}

async fn assert_no_failed_charge(db: &TestDb, id: &str) {
    let events = db.store.events(id, 500).await.unwrap();
    let failed: Vec<_> = events
        .into_iter()
        .filter(|e| e.activity.as_deref() == Some("charge_payment") && e.outcome.as_deref() != Some("completed"))
        .collect();
    assert!(failed.is_empty(), "{id}: {failed:?}");
}

async fn refund_event(db: &TestDb, order_id: &str) -> EventRow {
    let events = db.store.events(order_id, 500).await.unwrap();
    events
        .into_iter()
        .find(|e| e.activity.as_deref() == Some("refund_payment") && e.outcome.as_deref() == Some("completed"))
        .unwrap_or_else(|| panic!("no completed refund for {order_id}"))
}

fn metric(text: &str, prefix: &str) -> f64 {
    text.lines().filter(|l| l.starts_with(prefix)).filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok()).sum()
}

fn config() -> order_host::config::Config {
    let args = ["order-host", "--temporal-address", &temporal::server().address, "worker"];
    <order_host::cli::Cli as clap::Parser>::try_parse_from(args).unwrap().config
}
