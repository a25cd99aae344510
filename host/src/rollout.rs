//! One plugin rollout for every process: the shared store ([`crate::store::plugins`]) says which version of each slot
//! is active, and every process runs that version.
//!
//! Publishing (an upload, `order-host plugins publish`, a file dropped in `PLUGINS_DIR`) checks the component here
//! first — load, world, trial call, exactly what `plugins check` does — and only then writes it to the store. Each
//! process then follows the store ([`Rollout::sync`]): woken by the database's announcement (PostgreSQL) or by
//! polling (SQLite, and every 5 s on PostgreSQL in case an announcement was missed), it loads the newest release of
//! each slot from the store's bytes and swaps it in. A process that cannot load a published version (its limits
//! differ, say) keeps running its current one and reports the refusal; every process reports what it runs
//! ([`Rollout::report`]) so operators can see whether the fleet has converged.
//!
//! This module knows the plugin registry and the store; nothing of HTTP.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tokio::sync::Mutex;

use crate::plugins::{Activation, Digest, LoadError, LoadedPlugin, PluginMeta, Registry, Slot, read_component};
use crate::store::{NewComponent, ProcessRefusal, ProcessRow, ReleaseAction, ReleaseRow, Store, StoreError};

/// Debounce of the plugins-directory watcher: a burst of writes becomes one publish.
const WATCH_DEBOUNCE: Duration = Duration::from_millis(50);

/// How often to look and to report.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// Reading the store when the database cannot announce releases.
    pub poll: Duration,
    /// Reading the store although the database announces releases, in case an announcement was missed.
    pub fallback_poll: Duration,
    /// Reporting what this process runs.
    pub report: Duration,
    /// A process silent for this long is no longer listed.
    pub process_ttl: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            poll: Duration::from_millis(250),
            fallback_poll: Duration::from_secs(5),
            report: Duration::from_secs(5),
            process_ttl: Duration::from_secs(30),
        }
    }
}

/// Why a publish or a rollback did not happen.
#[derive(Debug, thiserror::Error)]
pub enum RolloutError {
    /// The component failed its check; nothing was published.
    #[error(transparent)]
    Refused(#[from] LoadError),
    /// The slot has no earlier version.
    #[error("the {0} slot has no earlier version to roll back to")]
    NoEarlierVersion(Slot),
    /// The store could not be read or written.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The store's bytes do not match the digest they are stored under.
    #[error("the stored {slot} component {digest} does not match its digest; it is not loaded")]
    Corrupt { slot: Slot, digest: String },
}

/// Who this process is, as it reports itself.
#[derive(Debug, Clone)]
struct Identity {
    process_id: String,
    host: String,
    role: String,
    started_at: DateTime<Utc>,
}

/// A release this process does not run, and why.
#[derive(Debug, Clone)]
struct NotRunning {
    digest: String,
    error: String,
    /// `None`: a verdict on the component, not asked for again until another version is released. `Some`: it failed
    /// for another reason (a compiler fault, no free instance) and is tried again at that time, the delay doubling.
    retry: Option<(Instant, Duration)>,
}

/// First and longest delay before a release that failed for a reason other than a verdict is tried again.
const RETRY_FIRST: Duration = Duration::from_secs(1);
const RETRY_MAX: Duration = Duration::from_mins(1);

/// What this process does not run of the store's releases, per slot.
type Refused = BTreeMap<Slot, NotRunning>;

/// A process's side of the rollout.
#[derive(Debug)]
pub struct Rollout {
    store: Arc<dyn Store>,
    registry: Arc<Registry>,
    me: Identity,
    timing: Timing,
    /// Whether this process runs what it publishes (false for one-shot commands such as `plugins publish`, which
    /// publish for the others and exit).
    runs_plugins: bool,
    /// Held for a whole sync, so two never load the same release at once; the map is what was refused.
    syncing: Mutex<Refused>,
}

impl Rollout {
    /// This process's rollout, as `role` (`serve`, `api`, `worker`, `cli`).
    pub fn new(store: Arc<dyn Store>, registry: Arc<Registry>, role: &str, timing: Timing) -> Arc<Self> {
        let host = crate::temporal::hostname();
        let nonce: u32 = rand::random();
        let me = Identity {
            process_id: format!("{host}:{}:{nonce:08x}", std::process::id()),
            host,
            role: role.to_owned(),
            started_at: Utc::now(),
        };
        Arc::new(Rollout { store, registry, me, timing, runs_plugins: true, syncing: Mutex::new(Refused::new()) })
    }

    /// A rollout for a one-shot command: it checks and publishes (or rolls back) for the other processes, but runs
    /// nothing itself and does not report itself as a process.
    pub fn publisher(store: Arc<dyn Store>, registry: Arc<Registry>) -> Arc<Self> {
        let mut rollout = Rollout::new(store, registry, "cli", Timing::default());
        Arc::get_mut(&mut rollout).expect("just built").runs_plugins = false;
        rollout
    }

    /// The registry this rollout feeds.
    pub fn registry(&self) -> &Arc<Registry> {
        &self.registry
    }

    /// This process's id, as reported.
    pub fn process_id(&self) -> &str {
        &self.me.process_id
    }

    /// Checks `bytes` as a version of `slot` and publishes it: every process switches to it, this one before this
    /// returns. A component identical to the active version publishes nothing and is not an error.
    pub async fn publish(&self, slot: Slot, bytes: Vec<u8>, source: &str) -> Result<Arc<PluginMeta>, RolloutError> {
        let plugin = self.prepare(slot, bytes, source).await?;
        let meta = plugin.meta();
        let component = NewComponent {
            slot: slot.as_str(),
            digest: meta.digest.as_str(),
            name: &meta.name,
            version: &meta.version,
            bytes: plugin.bytes(),
        };
        let release = self.store.publish_plugin(&component, source, &self.me.process_id).await?;
        if let Some(release) = &release {
            tracing::info!(%slot, digest = %release.digest, name = %meta.name, version = %meta.version, %source,
                release = release.id, "plugin version published");
        }
        let meta = Arc::clone(meta);
        if !self.runs_plugins {
            return Ok(meta);
        }
        {
            // The store now names this version (or, if another publish came in between, the sync below corrects it):
            // it runs here at once, without loading it a second time from the store.
            let mut refused = self.syncing.lock().await;
            self.registry.activate_version(plugin, Activation::Loaded);
            refused.remove(&slot);
        }
        // Published: what follows only brings this process up to date, and a store hiccup here must not make the
        // caller believe the publish failed (the background sync catches up).
        if let Err(e) = self.sync().await {
            tracing::warn!(%slot, error = %e, "published, but cannot read the plugin store back now; catching up later");
        }
        if let Err(e) = self.report().await {
            tracing::warn!(error = %e, "cannot report this process's plugin versions");
        }
        Ok(meta)
    }

    /// Makes the slot's previous version active again, everywhere; this process before this returns. With `expect`
    /// (a release id), only if that is still the slot's newest release.
    pub async fn rollback(&self, slot: Slot, expect: Option<i64>) -> Result<ReleaseRow, RolloutError> {
        let release = self
            .store
            .rollback_plugin(slot.as_str(), &self.me.process_id, expect)
            .await?
            .ok_or(RolloutError::NoEarlierVersion(slot))?;
        tracing::info!(%slot, digest = %release.digest, release = release.id, "plugin version rolled back");
        if self.runs_plugins
            && let Err(e) = self.sync().await
        {
            tracing::warn!(%slot, error = %e, "rolled back, but cannot read the plugin store back now; catching up later");
        }
        Ok(release)
    }

    /// Runs what the store says is active: each slot whose newest release differs from what runs here is loaded
    /// (from the versions this process still holds, else from the store's bytes) and swapped in. A version refused
    /// here is reported and not tried again until another is released; one that failed for another reason is
    /// reported and tried again after a growing delay. Reports this process's state when anything changed.
    pub async fn sync(&self) -> Result<(), StoreError> {
        let mut refused = self.syncing.lock().await;
        let releases = self.store.active_plugins().await?;
        let mut changed = false;
        for release in releases {
            let Ok(slot) = release.slot.parse::<Slot>() else {
                tracing::warn!(slot = %release.slot, "the plugin store names an unknown slot; ignored");
                continue;
            };
            let running = self.registry.active(slot).map(|p| p.meta().digest.to_string());
            if running.as_deref() == Some(release.digest.as_str()) {
                changed |= refused.remove(&slot).is_some();
                continue;
            }
            let previous = refused.get(&slot).filter(|n| n.digest == release.digest);
            if previous.is_some_and(|n| n.retry.is_none_or(|(at, _)| Instant::now() < at)) {
                continue;
            }
            let delay = previous.and_then(|n| n.retry).map_or(RETRY_FIRST, |(_, d)| (d * 2).min(RETRY_MAX));
            match self.load_release(slot, &release).await {
                Ok(plugin) => {
                    let activation = match release.action {
                        ReleaseAction::Publish => Activation::Loaded,
                        ReleaseAction::Rollback => Activation::Rollback,
                    };
                    self.registry.activate_version(plugin, activation);
                    refused.remove(&slot);
                    changed = true;
                }
                Err(RolloutError::Store(e)) => return Err(e),
                Err(e) => {
                    let verdict = match &e {
                        RolloutError::Refused(load) => load.is_verdict(),
                        _ => true,
                    };
                    let retry = (!verdict).then(|| (Instant::now() + delay, delay));
                    tracing::error!(%slot, digest = %release.digest, error = %e, retry_in = ?retry.map(|(_, d)| d),
                        "cannot run the published plugin version here; the current one stays");
                    refused.insert(slot, NotRunning { digest: release.digest.clone(), error: e.to_string(), retry });
                    changed = true;
                }
            }
        }
        let report = changed.then(|| self.process_row(&refused));
        drop(refused);
        if let Some(row) = report {
            self.store.report_process(&row).await?;
        }
        Ok(())
    }

    /// Publishes `<slot>.wasm` from `dir` for each slot the store has no release of yet: the first start of an empty
    /// store publishes the defaults. A slot with a release keeps it, so a restart (or an upgrade whose image carries
    /// other defaults) never undoes an upload or a rollback; publish on purpose with `plugins publish`, an upload, or
    /// by dropping the file in while a process runs. Refusals are logged; the slot stays empty.
    pub async fn publish_dir(&self, dir: &Path) -> Result<(), StoreError> {
        let released = self.store.active_plugins().await?;
        for slot in Slot::ALL {
            if released.iter().any(|r| r.slot == slot.as_str()) {
                continue;
            }
            self.publish_file(slot, &dir.join(slot.file_name())).await?;
        }
        Ok(())
    }

    /// Publishes `path` for `slot` unless it is gone, already active, or the component this process refused last.
    async fn publish_file(&self, slot: Slot, path: &Path) -> Result<(), StoreError> {
        let limit = self.registry.runtime().config().max_component_bytes;
        let read = {
            let path = path.to_path_buf();
            tokio::task::spawn_blocking(move || read_component(&path, limit)).await
        };
        let bytes = match read {
            Ok(Ok(Some(bytes))) => bytes,
            Ok(Ok(None)) => return Ok(()),
            Ok(Err(e)) => {
                tracing::warn!(%slot, path = %path.display(), error = %e, "plugin file refused before reading");
                return Ok(());
            }
            Err(e) => {
                tracing::error!(%slot, error = %e, "plugin file task failed");
                return Ok(());
            }
        };
        let digest = Digest::of(&bytes);
        if self.registry.active(slot).is_some_and(|p| p.meta().digest == digest)
            || self.registry.last_refused_digest(slot).as_ref() == Some(&digest)
        {
            return Ok(());
        }
        match self.publish(slot, bytes, &path.display().to_string()).await {
            Ok(_)
            | Err(RolloutError::Refused(_) | RolloutError::Corrupt { .. } | RolloutError::NoEarlierVersion(_)) => {
                Ok(())
            }
            Err(RolloutError::Store(e)) => Err(e),
        }
    }

    /// Writes this process's report now.
    pub async fn report(&self) -> Result<(), StoreError> {
        let row = self.process_row(&*self.syncing.lock().await);
        self.store.report_process(&row).await
    }

    /// The processes that reported within the configured time.
    pub async fn fleet(&self) -> Result<Vec<ProcessRow>, StoreError> {
        let ttl = chrono::Duration::from_std(self.timing.process_ttl).unwrap_or(chrono::Duration::MAX);
        self.store.processes(Utc::now() - ttl).await
    }

    /// Follows the store (announcements or polling) and `dir` (files dropped there are published), and reports on
    /// schedule, until the handle is dropped. Must run inside a Tokio runtime.
    pub fn spawn(self: &Arc<Self>, dir: Option<&Path>) -> Result<RolloutHandle, String> {
        let mut tasks = vec![tokio::spawn(Arc::clone(self).follow_store())];
        let mut watch = None;
        if let Some(dir) = dir {
            let (handle, changed) = crate::plugins::watch(dir, WATCH_DEBOUNCE)?;
            watch = Some(handle);
            tasks.push(tokio::spawn(Arc::clone(self).follow_dir(dir.to_path_buf(), changed)));
        }
        Ok(RolloutHandle {
            tasks,
            _watch: watch,
            store: Arc::clone(&self.store),
            process_id: self.me.process_id.clone(),
        })
    }

    async fn follow_store(self: Arc<Self>) {
        let mut announcements = match self.store.plugin_announcements().await {
            Ok(announcements) => announcements,
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for plugin releases; polling instead");
                None
            }
        };
        let poll = if announcements.is_some() { self.timing.fallback_poll } else { self.timing.poll };
        let mut look = tokio::time::interval(poll);
        look.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut report = tokio::time::interval(self.timing.report);
        report.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let heard = async {
                match announcements.as_mut() {
                    Some(rx) => rx.recv().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                heard = heard => if heard.is_none() {
                    tracing::warn!("plugin announcements ended; polling instead");
                    announcements = None;
                    look = tokio::time::interval(self.timing.poll);
                },
                _ = look.tick() => {}
                _ = report.tick() => {
                    if let Err(e) = self.report().await {
                        tracing::warn!(error = %e, "cannot report this process's plugin versions");
                    }
                    continue;
                }
            }
            if let Err(e) = self.sync().await {
                tracing::warn!(error = %e, "cannot read the plugin store; the current versions stay");
            }
        }
    }

    async fn follow_dir(self: Arc<Self>, dir: PathBuf, mut changed: tokio::sync::mpsc::UnboundedReceiver<Slot>) {
        while let Some(slot) = changed.recv().await {
            if let Err(e) = self.publish_file(slot, &dir.join(slot.file_name())).await {
                tracing::warn!(%slot, error = %e, "cannot publish the dropped plugin file");
            }
        }
    }

    async fn prepare(&self, slot: Slot, bytes: Vec<u8>, source: &str) -> Result<Arc<LoadedPlugin>, RolloutError> {
        let registry = Arc::clone(&self.registry);
        let source = source.to_owned();
        tokio::task::spawn_blocking(move || registry.prepare(slot, &bytes, &source))
            .await
            .map_err(|e| RolloutError::Refused(LoadError::Internal(format!("plugin load task failed: {e}"))))?
            .map_err(RolloutError::Refused)
    }

    async fn load_release(&self, slot: Slot, release: &ReleaseRow) -> Result<Arc<LoadedPlugin>, RolloutError> {
        let corrupt = || RolloutError::Corrupt { slot, digest: release.digest.clone() };
        let digest = Digest::parse(&release.digest).ok_or_else(corrupt)?;
        if let Some(plugin) = self.registry.version(slot, &digest) {
            return Ok(plugin);
        }
        let bytes = self.store.plugin_bytes(slot.as_str(), &release.digest).await?.ok_or_else(corrupt)?;
        if Digest::of(&bytes) != digest {
            return Err(corrupt());
        }
        self.prepare(slot, bytes, &format!("store:{}", release.source)).await
    }

    /// A version of `slot` by digest, to call without activating it (a refund on the version that charged): the
    /// one this process holds, else loaded from the store's bytes (checked against the digest; it passed its trial
    /// when it was published).
    pub async fn version(&self, slot: Slot, digest: &str) -> Result<Arc<LoadedPlugin>, RolloutError> {
        let corrupt = || RolloutError::Corrupt { slot, digest: digest.to_owned() };
        let parsed = Digest::parse(digest).ok_or_else(corrupt)?;
        if let Some(plugin) = self.registry.version(slot, &parsed) {
            return Ok(plugin);
        }
        let bytes = self.store.plugin_bytes(slot.as_str(), digest).await?.ok_or_else(corrupt)?;
        if Digest::of(&bytes) != parsed {
            return Err(corrupt());
        }
        let runtime = Arc::clone(self.registry.runtime());
        let source = format!("store:{digest}");
        tokio::task::spawn_blocking(move || runtime.load(slot, &bytes, &source).map(Arc::new))
            .await
            .map_err(|e| RolloutError::Refused(LoadError::Internal(format!("plugin load task failed: {e}"))))?
            .map_err(RolloutError::Refused)
    }

    fn process_row(&self, refused: &Refused) -> ProcessRow {
        let digests = Slot::ALL
            .into_iter()
            .filter_map(|slot| self.registry.active(slot).map(|p| (slot.to_string(), p.meta().digest.to_string())))
            .collect();
        let refusals = refused
            .iter()
            .map(|(slot, n)| {
                let error = match n.retry {
                    None => n.error.clone(),
                    Some(_) => format!("not loaded yet, retrying: {}", n.error),
                };
                (slot.to_string(), ProcessRefusal { digest: n.digest.clone(), error })
            })
            .collect();
        ProcessRow {
            process_id: self.me.process_id.clone(),
            host: self.me.host.clone(),
            role: self.me.role.clone(),
            digests,
            refusals,
            started_at: self.me.started_at,
            seen_at: Utc::now(),
        }
    }
}

/// Stops following when dropped, and removes this process from the reports.
#[derive(Debug)]
pub struct RolloutHandle {
    tasks: Vec<tokio::task::JoinHandle<()>>,
    _watch: Option<crate::plugins::WatchHandle>,
    store: Arc<dyn Store>,
    process_id: String,
}

impl RolloutHandle {
    /// Stops following and removes this process's report (it no longer runs anything).
    pub async fn stop(mut self) {
        for task in std::mem::take(&mut self.tasks) {
            task.abort();
            // A report in flight lands before the removal, never after it.
            let _ = task.await;
        }
        if let Err(e) = self.store.forget_process(&self.process_id).await {
            tracing::warn!(error = %e, "cannot remove this process's plugin report");
        }
    }
}

impl Drop for RolloutHandle {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}
