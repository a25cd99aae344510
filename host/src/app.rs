//! Wiring: [`App::build`] opens the store, loads and watches the plugins, connects to Temporal; the subcommands then
//! run workers (and, with `serve`, the REST API) until a shutdown signal.

use std::sync::Arc;
use std::time::Duration;

use temporalio_client::Client;
use tokio::net::TcpListener;
use tokio::sync::broadcast::error::RecvError;

use crate::activities::ActivityDeps;
use crate::config::Config;
use crate::http::{self, AppState, StateInner};
use crate::metrics::Metrics;
use crate::plugins::{PluginRuntime, Registry, RegistryEvent, WatchHandle, watch};
use crate::store::{self, PluginVersionRow, Store};
use crate::temporal::{self, worker};

/// Debounce of the plugins-directory watcher: a burst of writes becomes one load.
const WATCH_DEBOUNCE: Duration = Duration::from_millis(50);

/// A built host: store, plugins, Temporal client.
pub struct App {
    pub config: Config,
    pub store: Arc<dyn Store>,
    pub registry: Arc<Registry>,
    pub client: Client,
    pub metrics: Arc<Metrics>,
    _watch: WatchHandle,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App").field("config", &self.config).field("store", &self.store).finish_non_exhaustive()
    }
}

impl App {
    /// Opens (and migrates) the store, loads `PLUGINS_DIR` and starts watching it, and connects to Temporal.
    pub async fn build(config: Config) -> anyhow::Result<App> {
        let store = store::open(&config.database_url).await?;
        let registry = load_plugins(&config, &store).await?;
        let watch = watch(Arc::clone(&registry), &config.plugins_dir, WATCH_DEBOUNCE).map_err(anyhow::Error::msg)?;
        let client = temporal::connect(&config).await?;
        Ok(App { config, store, registry, client, metrics: Arc::new(Metrics::default()), _watch: watch })
    }

    /// What activities get.
    pub fn activity_deps(&self) -> ActivityDeps {
        ActivityDeps {
            store: Arc::clone(&self.store),
            registry: Arc::clone(&self.registry),
            failure: self.config.failure(),
            defaults: self.config.order_defaults(),
            metrics: Arc::clone(&self.metrics),
        }
    }

    /// The REST API's shared state.
    pub fn http_state(&self) -> AppState {
        AppState::new(StateInner {
            client: self.client.clone(),
            store: Arc::clone(&self.store),
            registry: Arc::clone(&self.registry),
            metrics: Arc::clone(&self.metrics),
            orders_queue: self.config.orders_task_queue.clone(),
            plugins_dir: self.config.plugins_dir.clone(),
            data_dir: self.config.data_dir.clone(),
            access: self.config.access(),
            command_timeout: self.config.command_timeout,
        })
    }

    /// Binds `HTTP_ADDR`, saying clearly when the port is taken.
    pub async fn bind(&self) -> anyhow::Result<TcpListener> {
        bind(&self.config.http_addr, "HTTP_ADDR").await
    }

    /// Binds `METRICS_ADDR` when it is set.
    pub async fn bind_metrics(&self) -> anyhow::Result<Option<TcpListener>> {
        match &self.config.metrics_addr {
            Some(addr) => Ok(Some(bind(addr, "METRICS_ADDR").await?)),
            None => Ok(None),
        }
    }

    /// Serves `/metrics`, `/healthz` and `/readyz` (no REST API) on `listener` until `shutdown` resolves.
    pub async fn serve_ops(
        &self,
        listener: TcpListener,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        http::serve(listener, http::ops_router(self.http_state()), shutdown, http::HEADER_READ_TIMEOUT).await?;
        Ok(())
    }

    /// Serves the REST API on `listener` until `shutdown` resolves.
    pub async fn serve_http(
        &self,
        listener: TcpListener,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let state = self.http_state();
        state.access.log_summary();
        let router = http::router(state);
        http::serve(listener, router, shutdown, http::HEADER_READ_TIMEOUT).await?;
        Ok(())
    }

    /// Runs the workers for `queues` until `shutdown` resolves.
    pub async fn run_workers(
        &self,
        queues: &[worker::Queue],
        shutdown: impl std::future::Future<Output = ()>,
    ) -> anyhow::Result<()> {
        let names = worker::QueueNames {
            orders: self.config.orders_task_queue.clone(),
            shipping: self.config.shipping_task_queue.clone(),
        };
        worker::run(self.client.clone(), self.activity_deps(), &names, queues, shutdown).await
    }
}

/// Binds `addr` (the value of `setting`), saying clearly when the port is taken.
async fn bind(addr: &str, setting: &str) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr).await.map_err(|e| {
        if e.kind() == std::io::ErrorKind::AddrInUse {
            anyhow::anyhow!("cannot listen on {addr}: the port is already in use (set {setting} to another one)")
        } else {
            anyhow::anyhow!("cannot listen on {addr} ({setting}): {e}")
        }
    })
}

/// Builds the plugin registry, records every activation in the store, and loads what `PLUGINS_DIR` holds. A slot
/// whose file is missing or refused stays empty (its activities retry until an operator provides a plugin).
pub async fn load_plugins(config: &Config, store: &Arc<dyn Store>) -> anyhow::Result<Arc<Registry>> {
    let runtime = PluginRuntime::new(config.runtime(true)).map_err(anyhow::Error::msg)?;
    let registry = Registry::new(runtime);
    record_activations(&registry, Arc::clone(store));
    let dir = config.plugins_dir.clone();
    let registry_for_load = Arc::clone(&registry);
    let results = tokio::task::spawn_blocking(move || registry_for_load.load_dir(&dir)).await?;
    for (slot, result) in results {
        if let Err(e) = result {
            tracing::error!(%slot, error = %e, "plugin refused at start-up; the slot stays empty");
        }
    }
    for slot in crate::plugins::Slot::ALL {
        if registry.active(slot).is_none() {
            tracing::warn!(
                %slot, dir = %config.plugins_dir.display(),
                "no {slot} plugin loaded: its activities will retry until one is provided"
            );
        }
    }
    Ok(registry)
}

/// Writes each activated plugin version to `plugin_versions`.
fn record_activations(registry: &Registry, store: Arc<dyn Store>) {
    let mut events = registry.subscribe();
    let host = format!("{}:{}", temporal::hostname(), std::process::id());
    tokio::spawn(async move {
        loop {
            match events.recv().await {
                Ok(RegistryEvent::Activated(record)) => {
                    let meta = &record.meta;
                    let row = PluginVersionRow {
                        slot: meta.slot.to_string(),
                        digest: meta.digest.to_string(),
                        name: meta.name.clone(),
                        version: meta.version.clone(),
                        source: meta.source.clone(),
                        size_bytes: meta.size_bytes as u64,
                        activation: serde_json::to_value(record.activation)
                            .ok()
                            .and_then(|v| v.as_str().map(str::to_owned))
                            .unwrap_or_default(),
                        host: host.clone(),
                        loaded_at: record.activated_at.into(),
                    };
                    if let Err(e) = store.record_plugin_version(&row).await {
                        tracing::error!(error = %e, digest = %row.digest, "cannot record plugin version");
                    }
                }
                Ok(RegistryEvent::Refused(_)) => {}
                Err(RecvError::Lagged(n)) => tracing::warn!(missed = n, "plugin version recorder lagged"),
                Err(RecvError::Closed) => return,
            }
        }
    });
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
        tokio::select! {
            _ = interrupt => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
    tracing::info!("shutdown signal received");
}
