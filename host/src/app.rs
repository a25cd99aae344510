//! Wiring: [`App::build`] opens the store, runs the plugin versions the shared store names (publishing what
//! `PLUGINS_DIR` adds), connects to Temporal; the subcommands then run workers (and, with `serve`, the REST API) until
//! a shutdown signal.

use std::sync::Arc;

use temporalio_client::Client;
use tokio::net::TcpListener;
use tokio::sync::broadcast::error::RecvError;

use crate::activities::ActivityDeps;
use crate::config::Config;
use crate::http::{self, AppState, StateInner};
use crate::metrics::Metrics;
use crate::plugins::{PluginRuntime, Registry, RegistryEvent, Slot};
use crate::rollout::{Rollout, RolloutHandle};
use crate::store::{self, PluginVersionRow, Store};
use crate::temporal::{self, worker};

/// A built host: store, plugins, Temporal client.
pub struct App {
    pub config: Config,
    pub store: Arc<dyn Store>,
    pub registry: Arc<Registry>,
    pub rollout: Arc<Rollout>,
    pub client: Client,
    pub metrics: Arc<Metrics>,
    following: std::sync::Mutex<Option<RolloutHandle>>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App").field("config", &self.config).field("store", &self.store).finish_non_exhaustive()
    }
}

impl App {
    /// Opens (and migrates) the store, runs the plugin versions it names (publishing what `PLUGINS_DIR` adds) and
    /// follows it, and connects to Temporal. `role` (`serve`, `api`, `worker`) is how this process reports itself.
    pub async fn build(config: Config, role: &str) -> anyhow::Result<App> {
        let store = store::open(&config.database_url).await?;
        let rollout = start_rollout(&config, &store, role).await?;
        let following = rollout.spawn(Some(&config.plugins_dir)).map_err(anyhow::Error::msg)?;
        let client = temporal::connect(&config).await?;
        Ok(App {
            registry: Arc::clone(rollout.registry()),
            rollout,
            config,
            store,
            client,
            metrics: Arc::new(Metrics::default()),
            following: std::sync::Mutex::new(Some(following)),
        })
    }

    /// Stops following the plugin store and removes this process from its reports: call once the workers and the
    /// API have stopped.
    pub async fn leave(&self) {
        let following = self.following.lock().expect("rollout handle lock").take();
        if let Some(following) = following {
            following.stop().await;
        }
    }

    /// What activities get.
    pub fn activity_deps(&self) -> ActivityDeps {
        ActivityDeps {
            store: Arc::clone(&self.store),
            registry: Arc::clone(&self.registry),
            rollout: Arc::clone(&self.rollout),
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
            rollout: Arc::clone(&self.rollout),
            access: self.config.access(),
            command_timeout: self.config.command_timeout,
            finished: Arc::default(),
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

/// Builds the plugin registry (recording every activation in `plugin_versions`), publishes what `PLUGINS_DIR` holds
/// that the store never had (the defaults, on the first start of an empty store), and runs what the store names. A
/// slot the store has nothing for stays empty: its activities retry until an operator publishes a plugin.
pub async fn start_rollout(config: &Config, store: &Arc<dyn Store>, role: &str) -> anyhow::Result<Arc<Rollout>> {
    let runtime = PluginRuntime::new(config.runtime(true)).map_err(anyhow::Error::msg)?;
    let registry = Registry::new(runtime);
    record_activations(&registry, Arc::clone(store));
    let rollout = Rollout::new(Arc::clone(store), registry, role, config.rollout_timing());
    rollout.publish_dir(&config.plugins_dir).await?;
    rollout.sync().await?;
    rollout.report().await?;
    for slot in Slot::ALL {
        if rollout.registry().active(slot).is_none() {
            tracing::warn!(
                %slot, dir = %config.plugins_dir.display(),
                "no {slot} plugin published: its activities will retry until one is (plugins publish, an upload, \
                 or a file in the plugins directory)"
            );
        }
    }
    Ok(rollout)
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
