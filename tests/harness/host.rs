//! An order-host worker process inside the test: its own task queues, plugins directory, data directory and
//! database, running the real `App` against the real dev server on a thread of its own (Temporal workers are not
//! `Send`, so they get a runtime to themselves).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use order_host::app::App;
use order_host::cli::Cli;
use order_host::config::Config;
use order_host::plugins::Slot;
use order_host::store::Store;
use order_host::temporal::worker::Queue;
use rand::Rng;
use temporalio_client::Client;
use tokio::sync::oneshot;

use crate::db::TestDb;
use crate::{paths, temporal};

/// How to set up a host.
#[derive(Debug, Clone)]
pub struct HostSpec {
    /// The component for each slot, by dist name (`"payment"`, `"fixtures/payment-v2"`); `None` leaves it empty.
    pub validation: Option<&'static str>,
    pub payment: Option<&'static str>,
    pub shipping: Option<&'static str>,
    /// Extra `order-host` flags, e.g. `["--failure-inject", "charge_payment:after:2"]`.
    pub flags: Vec<String>,
    /// Serve the REST API on a free port.
    pub http: bool,
    /// Run the workers (off: an API-only host, as `order-host api`).
    pub workers: bool,
}

impl Default for HostSpec {
    fn default() -> Self {
        HostSpec {
            validation: Some("validation"),
            payment: Some("payment"),
            shipping: Some("shipping"),
            flags: vec![],
            http: false,
            workers: true,
        }
    }
}

impl HostSpec {
    #[must_use]
    pub fn with_flags(mut self, flags: &[&str]) -> Self {
        self.flags.extend(flags.iter().map(|f| (*f).to_owned()));
        self
    }
}

/// A running host; its workers stop when it is dropped.
pub struct TestHost {
    pub config: Config,
    pub client: Client,
    pub store: Arc<dyn Store>,
    pub plugins_dir: PathBuf,
    pub data_dir: PathBuf,
    /// `http://127.0.0.1:<port>` when the REST API runs.
    pub base_url: Option<String>,
    stop: Option<oneshot::Sender<()>>,
    _dirs: tempfile::TempDir,
}

impl std::fmt::Debug for TestHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestHost").field("queue", &self.config.orders_task_queue).finish_non_exhaustive()
    }
}

impl TestHost {
    /// Starts a host on `db` with private task queues.
    pub async fn start(db: &TestDb, spec: HostSpec) -> TestHost {
        let dirs = tempfile::tempdir().expect("temp dir");
        let plugins_dir = dirs.path().join("plugins");
        std::fs::create_dir_all(&plugins_dir).expect("plugins dir");
        for (slot, name) in
            [(Slot::Validation, spec.validation), (Slot::Payment, spec.payment), (Slot::Shipping, spec.shipping)]
        {
            if let Some(name) = name {
                std::fs::copy(paths::component(name), plugins_dir.join(slot.file_name())).expect("copying plugin");
            }
        }
        let suffix = format!("{:08x}", rand::rng().random::<u32>());
        let mut args: Vec<String> = [
            "order-host",
            "--database-url",
            &db.url,
            "--temporal-address",
            &temporal::server().address,
            "--temporal-namespace",
            "default",
            "--plugins-dir",
            plugins_dir.to_str().expect("utf-8 path"),
            "--data-dir",
            dirs.path().join("data").to_str().expect("utf-8 path"),
            "--orders-task-queue",
            &format!("orders-{suffix}"),
            "--shipping-task-queue",
            &format!("shipping-{suffix}"),
        ]
        .into_iter()
        .map(str::to_owned)
        .collect();
        args.extend(spec.flags.iter().cloned());
        args.push("worker".into());
        let config = <Cli as clap::Parser>::try_parse_from(&args).expect("test flags parse").config;

        let (ready_rx, stop_tx) = spawn_host(config.clone(), spec.http, spec.workers, &suffix);
        let port = ready_rx.await.expect("host thread").unwrap_or_else(|e| panic!("host did not start: {e}"));

        let client = order_host::temporal::connect(&config).await.expect("test client");
        TestHost {
            data_dir: config.data_dir.clone(),
            base_url: port.map(|p| format!("http://127.0.0.1:{p}")),
            config,
            client,
            store: Arc::clone(&db.store),
            plugins_dir,
            stop: Some(stop_tx),
            _dirs: dirs,
        }
    }

    /// Publishes `component` as the slot's plugin the way an operator should: copy beside, rename into place.
    pub fn publish(&self, slot: Slot, component: &str) {
        publish(&self.plugins_dir, slot, &paths::component(component));
    }

    pub fn orders_queue(&self) -> &str {
        &self.config.orders_task_queue
    }

    /// `<base url><path>` (panics if the host runs no REST API).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url.as_deref().expect("this host serves no REST API"))
    }
}

impl Drop for TestHost {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Runs `App` on a thread of its own (Temporal workers are not `Send`): the REST API on a free port when `http`,
/// the workers when `workers`, until the returned sender fires or drops. The receiver yields the API's port.
fn spawn_host(
    config: Config,
    http: bool,
    workers: bool,
    suffix: &str,
) -> (oneshot::Receiver<Result<Option<u16>, String>>, oneshot::Sender<()>) {
    let (ready_tx, ready_rx) = oneshot::channel::<Result<Option<u16>, String>>();
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let worker_config = config;
    std::thread::Builder::new()
        .name(format!("host-{suffix}"))
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("host runtime");
            runtime.block_on(async move {
                let app = match App::build(worker_config, if http { "serve" } else { "worker" }).await {
                    Ok(app) => app,
                    Err(e) => {
                        let _ = ready_tx.send(Err(format!("{e:#}")));
                        return;
                    }
                };
                let (stop_all, stopped) = tokio::sync::watch::channel(false);
                let mut port = None;
                if http {
                    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a free port");
                    port = Some(listener.local_addr().expect("bound").port());
                    let router = order_host::http::router(app.http_state());
                    let mut stopped = stopped.clone();
                    tokio::spawn(async move {
                        let shutdown = async move {
                            let _ = stopped.wait_for(|s| *s).await;
                        };
                        let timeout = order_host::http::HEADER_READ_TIMEOUT;
                        let _ = order_host::http::serve(listener, router, shutdown, timeout).await;
                    });
                }
                let _ = ready_tx.send(Ok(port));
                let mut stopped_workers = stopped.clone();
                let stop_workers = async move {
                    let _ = stopped_workers.wait_for(|s| *s).await;
                };
                let forward = async move {
                    let _ = stop_rx.await;
                    let _ = stop_all.send(true);
                };
                if workers {
                    let run = app.run_workers(&[Queue::Orders, Queue::Shipping], stop_workers);
                    let (result, ()) = tokio::join!(run, forward);
                    if let Err(e) = result {
                        eprintln!("test host workers failed: {e:#}");
                    }
                } else {
                    forward.await;
                }
            });
        })
        .expect("spawning host thread");
    (ready_rx, stop_tx)
}

/// Copies `source` next to `<dir>/<slot>.wasm` and renames it into place.
pub fn publish(dir: &Path, slot: Slot, source: &Path) {
    let tmp = dir.join(format!(".{}.incoming", slot.file_name()));
    std::fs::copy(source, &tmp).expect("copying component");
    std::fs::rename(&tmp, dir.join(slot.file_name())).expect("renaming component into place");
}
