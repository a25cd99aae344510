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
    /// `promote` with no live canary.
    #[error("the {0} slot has no canary to promote")]
    NoCanary(Slot),
    /// A canary share outside 1–99 %.
    #[error("a canary takes 1 to 99 percent of new orders, not {0}")]
    CanaryPercent(u8),
    /// The order is pinned to a canary this process cannot run now (retried).
    #[error("the order is pinned to the {slot} canary {digest}, which is not loaded here")]
    CanaryUnavailable { slot: Slot, digest: String },
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

/// A slot's live canary in this process.
#[derive(Debug, Clone)]
struct LiveCanary {
    release_id: i64,
    percent: u8,
    digest: String,
    plugin: Option<Arc<LoadedPlugin>>,
}

/// The bucket (0–99) of an order for canaries: from its id alone, so every process and every retry agrees.
pub fn canary_bucket(order_id: &str) -> u8 {
    use sha2::Digest as _;
    let hash = sha2::Sha256::digest(order_id.as_bytes());
    u8::try_from(u16::from_be_bytes([hash[0], hash[1]]) % 100).expect("below 100")
}

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
    /// Each slot's live canary as this process holds it: release id, share of new orders, the version (`None` when it
    /// could not be loaded here).
    canaries: std::sync::RwLock<BTreeMap<Slot, LiveCanary>>,
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
        Arc::new(Rollout {
            store,
            registry,
            me,
            timing,
            runs_plugins: true,
            canaries: std::sync::RwLock::default(),
            syncing: Mutex::new(Refused::new()),
        })
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
    /// returns. A component identical to the active version publishes nothing and is not an error. With `canary`
    /// (1–99), it goes to that share of new orders only ([`canary_bucket`]) until [`Rollout::promote`] or a rollback.
    pub async fn publish(
        &self,
        slot: Slot,
        bytes: Vec<u8>,
        source: &str,
        canary: Option<u8>,
    ) -> Result<Arc<PluginMeta>, RolloutError> {
        if let Some(percent) = canary.filter(|p| !(1..=99).contains(p)) {
            return Err(RolloutError::CanaryPercent(percent));
        }
        let plugin = self.prepare(slot, bytes, source).await?;
        let meta = plugin.meta();
        let component = NewComponent {
            slot: slot.as_str(),
            digest: meta.digest.as_str(),
            name: &meta.name,
            version: &meta.version,
            bytes: plugin.bytes(),
        };
        let release = self.store.publish_plugin(&component, source, &self.me.process_id, canary).await?;
        if let Some(release) = &release {
            tracing::info!(%slot, digest = %release.digest, name = %meta.name, version = %meta.version, %source,
                release = release.id, "plugin version published");
        }
        let meta = Arc::clone(meta);
        if !self.runs_plugins {
            return Ok(meta);
        }
        if canary.is_none() {
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

    /// Makes the slot's live canary its stable version, everywhere.
    pub async fn promote(&self, slot: Slot) -> Result<ReleaseRow, RolloutError> {
        let release =
            self.store.promote_plugin(slot.as_str(), &self.me.process_id).await?.ok_or(RolloutError::NoCanary(slot))?;
        tracing::info!(%slot, digest = %release.digest, release = release.id, "plugin canary promoted");
        if self.runs_plugins
            && let Err(e) = self.sync().await
        {
            tracing::warn!(%slot, error = %e, "promoted, but cannot read the plugin store back now; catching up later");
        }
        Ok(release)
    }

    /// Pins a new order to each live canary whose share its bucket falls in (`receive_order` calls this; the first pin
    /// stays, so a retry on a process that sees the canaries differently changes nothing it decided).
    pub async fn pin_new_order(&self, order_id: &str) -> Result<(), StoreError> {
        let bucket = canary_bucket(order_id);
        let canaries: Vec<(Slot, LiveCanary)> =
            self.canaries.read().expect("canaries lock").iter().map(|(s, c)| (*s, c.clone())).collect();
        for (slot, canary) in canaries.into_iter().filter(|(_, c)| bucket < c.percent) {
            self.store.pin_order_plugin(order_id, slot.as_str(), canary.release_id, &canary.digest).await?;
        }
        Ok(())
    }

    /// The version of `slot` an order runs on: the live canary if the order is pinned to it, else the stable one. While
    /// no canary is live (most of the time) this reads nothing from the store.
    pub async fn plugin_for(&self, order_id: &str, slot: Slot) -> Result<Option<Arc<LoadedPlugin>>, RolloutError> {
        let canary = self.canaries.read().expect("canaries lock").get(&slot).cloned();
        let Some(canary) = canary else {
            return Ok(self.registry.active(slot));
        };
        match self.store.order_plugin_pin(order_id, slot.as_str()).await? {
            Some((release_id, _)) if release_id == canary.release_id => match canary.plugin {
                Some(plugin) => Ok(Some(plugin)),
                None => Err(RolloutError::CanaryUnavailable { slot, digest: canary.digest }),
            },
            _ => Ok(self.registry.active(slot)),
        }
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
                        // (active_plugins names no canary: a canary becomes stable through a publish)
                        ReleaseAction::Publish | ReleaseAction::Canary => Activation::Loaded,
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
        changed |= self.follow_canaries().await?;
        let report = changed.then(|| self.process_row(&refused));
        drop(refused);
        if let Some(row) = report {
            self.store.report_process(&row).await?;
        }
        Ok(())
    }

    /// Holds each slot's live canary (loading it once per release); forgets ended ones. Whether anything changed.
    async fn follow_canaries(&self) -> Result<bool, StoreError> {
        let live = self.store.live_canaries().await?;
        let held = self.canaries.read().expect("canaries lock").clone();
        let mut next = BTreeMap::new();
        for release in live {
            let Ok(slot) = release.slot.parse::<Slot>() else { continue };
            if let Some(canary) = held.get(&slot).filter(|c| c.release_id == release.id && c.plugin.is_some()) {
                next.insert(slot, canary.clone());
                continue;
            }
            let plugin = match self.load_release(slot, &release).await {
                Ok(plugin) => Some(plugin),
                Err(RolloutError::Store(e)) => return Err(e),
                Err(e) => {
                    tracing::error!(%slot, digest = %release.digest, error = %e,
                        "cannot run the canary here; its orders retry until it can");
                    None
                }
            };
            let percent = release.canary_percent.unwrap_or(0);
            next.insert(slot, LiveCanary { release_id: release.id, percent, digest: release.digest, plugin });
        }
        let changed = next.keys().ne(held.keys())
            || next.iter().any(|(s, c)| held.get(s).is_none_or(|h| h.release_id != c.release_id));
        *self.canaries.write().expect("canaries lock") = next;
        Ok(changed)
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
        match self.publish(slot, bytes, &path.display().to_string(), None).await {
            Err(RolloutError::Store(e)) => Err(e),
            _ => Ok(()),
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
        let mut digests: BTreeMap<String, String> = Slot::ALL
            .into_iter()
            .filter_map(|slot| self.registry.active(slot).map(|p| (slot.to_string(), p.meta().digest.to_string())))
            .collect();
        // A live canary this process runs, as `<slot>.canary`.
        for (slot, canary) in self.canaries.read().expect("canaries lock").iter() {
            if canary.plugin.is_some() {
                digests.insert(format!("{slot}.canary"), canary.digest.clone());
            }
        }
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
