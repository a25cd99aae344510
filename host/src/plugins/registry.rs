//! The active version of each slot, swapped atomically, with the history of what was loaded and refused.
//!
//! A call takes the slot's current version (`ArcSwap::load_full`) and keeps it for its whole duration, so a swap never
//! disturbs calls in flight: they finish on the version they started with while new calls get the new one.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use arc_swap::ArcSwapOption;
use tokio::sync::broadcast;

use super::meta::PluginMeta;
use super::{Digest, LoadError, LoadedPlugin, PluginError, PluginRuntime, Slot};

/// Versions kept compiled per slot so that a rollback needs no recompilation.
const RETAINED_VERSIONS: usize = 8;

/// How a version became active.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    /// Loaded from the plugins directory or an upload.
    Loaded,
    /// Re-activated by a rollback.
    Rollback,
}

/// One entry of a slot's history.
#[derive(Debug, Clone, serde::Serialize)]
pub struct VersionRecord {
    #[serde(flatten)]
    pub meta: Arc<PluginMeta>,
    /// How it became active.
    pub activation: Activation,
    /// When it became active.
    #[serde(serialize_with = "rfc3339")]
    pub activated_at: SystemTime,
}

/// A component that was refused for a slot.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Refusal {
    pub slot: Slot,
    pub digest: Option<Digest>,
    pub source: String,
    #[serde(serialize_with = "display")]
    pub error: LoadError,
    #[serde(serialize_with = "rfc3339")]
    pub at: SystemTime,
}

/// What observers (the store, metrics, logs) hear about.
#[derive(Debug, Clone)]
pub enum RegistryEvent {
    /// A version became active.
    Activated(VersionRecord),
    /// A component was refused; the active version did not change.
    Refused(Refusal),
}

/// A slot's state, for listings.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SlotStatus {
    pub slot: Slot,
    pub active: Option<Arc<PluginMeta>>,
    /// Oldest first.
    pub history: Vec<VersionRecord>,
    pub last_refusal: Option<Refusal>,
}

/// The result of calling a slot's active version.
#[derive(Debug)]
pub struct Invocation<T> {
    /// The version that ran (`None` when the slot was empty).
    pub plugin: Option<Arc<PluginMeta>>,
    /// What it answered.
    pub outcome: Result<T, PluginError>,
    /// Time spent in the plugin call (store, instantiation, call).
    pub elapsed: Duration,
}

#[derive(Debug, Default)]
struct Book {
    /// Counts activations: an install that saw another activation while it loaded stands
    /// down, so a slow load never undoes a newer decision.
    activations: u64,
    history: Vec<VersionRecord>,
    retained: Vec<Arc<LoadedPlugin>>,
    last_refusal: Option<Refusal>,
}

#[derive(Debug, Default)]
struct Cell {
    active: ArcSwapOption<LoadedPlugin>,
    /// Held only to read or update the book and swap `active`: never across a compile or a trial call, so a slow or
    /// hostile component cannot stall readers (`status`, rollback, the API) while it loads.
    book: Mutex<Book>,
}

/// The three slots and what runs in each.
#[derive(Debug)]
pub struct Registry {
    runtime: Arc<PluginRuntime>,
    cells: [Cell; 3],
    events: broadcast::Sender<RegistryEvent>,
}

impl Registry {
    /// An empty registry on `runtime`.
    pub fn new(runtime: Arc<PluginRuntime>) -> Arc<Self> {
        let (events, _) = broadcast::channel(256);
        Arc::new(Registry { runtime, cells: Default::default(), events })
    }

    /// The runtime versions are compiled with.
    pub fn runtime(&self) -> &Arc<PluginRuntime> {
        &self.runtime
    }

    /// Hears every activation and refusal from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<RegistryEvent> {
        self.events.subscribe()
    }

    /// The slot's active version, kept alive for as long as the caller holds it.
    pub fn active(&self, slot: Slot) -> Option<Arc<LoadedPlugin>> {
        self.cells[slot.index()].active.load_full()
    }

    /// Loads `bytes` for `slot`, gives it a trial call ([`PluginRuntime::vet`]) and activates it. A component
    /// identical to the active one is a no-op; a refused one leaves the active version in place. Compiles: call from a
    /// blocking context. No lock is held while it compiles or runs the trial; if another version became active
    /// meanwhile (an install or a rollback), this one stands down with [`LoadError::Superseded`].
    pub fn install(&self, slot: Slot, bytes: &[u8], source: &str) -> Result<Arc<PluginMeta>, LoadError> {
        let cell = &self.cells[slot.index()];
        let digest = Digest::of(bytes);
        if let Some(active) = cell.active.load_full().filter(|a| a.meta.digest == digest) {
            return Ok(Arc::clone(&active.meta));
        }
        let started = cell.book.lock().expect("registry lock").activations;
        let loaded = self.prepare(slot, bytes, source)?;
        let mut book = cell.book.lock().expect("registry lock");
        if book.activations != started {
            return Err(LoadError::Superseded(slot));
        }
        Ok(self.activate(cell, &mut book, loaded, Activation::Loaded))
    }

    /// Loads `bytes` for `slot` and gives it a trial call ([`PluginRuntime::vet`]) without activating it: the caller
    /// decides when ([`Registry::activate_version`]). A version this registry retains is reused as it is. A verdict
    /// on the component is recorded as the slot's last refusal. Compiles: call from a blocking context; no lock is
    /// held meanwhile.
    pub fn prepare(&self, slot: Slot, bytes: &[u8], source: &str) -> Result<Arc<LoadedPlugin>, LoadError> {
        let digest = Digest::of(bytes);
        if let Some(retained) = self.version(slot, &digest) {
            return Ok(retained);
        }
        let loaded = self.runtime.load(slot, bytes, source).and_then(|p| self.runtime.vet(&p).map(|()| Arc::new(p)));
        match loaded {
            Ok(plugin) => Ok(plugin),
            Err(error) if !error.is_verdict() => {
                // Not a verdict on the component: it is not recorded as refused and may be installed again.
                tracing::warn!(%slot, %source, %digest, %error, "plugin not loaded this time");
                Err(error)
            }
            Err(error) => {
                tracing::warn!(%slot, %source, %digest, %error, "plugin refused; the active version stays");
                let refusal = Refusal {
                    slot,
                    digest: Some(digest),
                    source: source.to_owned(),
                    error: error.clone(),
                    at: SystemTime::now(),
                };
                self.cells[slot.index()].book.lock().expect("registry lock").last_refusal = Some(refusal.clone());
                let _ = self.events.send(RegistryEvent::Refused(refusal));
                Err(error)
            }
        }
    }

    /// Makes a prepared version the slot's active one (a no-op if it already is).
    pub fn activate_version(&self, plugin: Arc<LoadedPlugin>, activation: Activation) -> Arc<PluginMeta> {
        let cell = &self.cells[plugin.meta.slot.index()];
        let mut book = cell.book.lock().expect("registry lock");
        match cell.active.load_full().filter(|a| a.meta.digest == plugin.meta.digest) {
            Some(active) => Arc::clone(&active.meta),
            None => self.activate(cell, &mut book, plugin, activation),
        }
    }

    /// A version of `slot` this registry still holds (the active one or a retained earlier one), by digest.
    pub fn version(&self, slot: Slot, digest: &Digest) -> Option<Arc<LoadedPlugin>> {
        let book = self.cells[slot.index()].book.lock().expect("registry lock");
        book.retained.iter().find(|p| p.meta.digest == *digest).cloned()
    }

    fn activate(
        &self,
        cell: &Cell,
        book: &mut Book,
        plugin: Arc<LoadedPlugin>,
        activation: Activation,
    ) -> Arc<PluginMeta> {
        let meta = Arc::clone(&plugin.meta);
        book.activations += 1;
        book.retained.retain(|p| p.meta.digest != meta.digest);
        book.retained.push(Arc::clone(&plugin));
        if book.retained.len() > RETAINED_VERSIONS {
            book.retained.remove(0);
        }
        cell.active.store(Some(plugin));
        let record = VersionRecord { meta: Arc::clone(&meta), activation, activated_at: SystemTime::now() };
        book.history.push(record.clone());
        tracing::info!(
            slot = %meta.slot, name = %meta.name, version = %meta.version, digest = %meta.digest,
            source = %meta.source, ?activation, "plugin version active"
        );
        let _ = self.events.send(RegistryEvent::Activated(record));
        meta
    }

    /// Installs `<slot>.wasm` from `dir` for every slot whose file exists; a missing file leaves the slot as it is.
    pub fn load_dir(&self, dir: &Path) -> Vec<(Slot, Result<Arc<PluginMeta>, LoadError>)> {
        Slot::ALL
            .into_iter()
            .filter_map(|slot| {
                let path = dir.join(slot.file_name());
                match super::read_component(&path, self.runtime.config().max_component_bytes) {
                    Ok(Some(bytes)) => Some((slot, self.install(slot, &bytes, &path.display().to_string()))),
                    Ok(None) => None,
                    Err(e) => Some((slot, Err(e))),
                }
            })
            .collect()
    }

    /// The state of `slot`.
    pub fn status(&self, slot: Slot) -> SlotStatus {
        let cell = &self.cells[slot.index()];
        let book = cell.book.lock().expect("registry lock");
        SlotStatus {
            slot,
            active: cell.active.load_full().map(|p| Arc::clone(&p.meta)),
            history: book.history.clone(),
            last_refusal: book.last_refusal.clone(),
        }
    }

    /// The digest of the last component refused for `slot`, if any.
    pub(crate) fn last_refused_digest(&self, slot: Slot) -> Option<Digest> {
        let book = self.cells[slot.index()].book.lock().expect("registry lock");
        book.last_refusal.as_ref().and_then(|r| r.digest.clone())
    }

    /// Calls the active version of `slot` on a blocking thread. The version is chosen when `call` is called, not when
    /// the future is first polled, and the call keeps it to the end whatever is swapped in meanwhile.
    pub fn call<T, F>(&self, slot: Slot, f: F) -> impl Future<Output = Invocation<T>> + Send + 'static
    where
        T: Send + 'static,
        F: FnOnce(&LoadedPlugin) -> Result<T, PluginError> + Send + 'static,
    {
        Self::call_on(slot, self.active(slot), f)
    }

    /// Calls `plugin` (a version of `slot` chosen by the caller, e.g. the one that took a charge) on a blocking
    /// thread; `None` answers like an empty slot.
    pub async fn call_on<T, F>(slot: Slot, plugin: Option<Arc<LoadedPlugin>>, f: F) -> Invocation<T>
    where
        T: Send + 'static,
        F: FnOnce(&LoadedPlugin) -> Result<T, PluginError> + Send + 'static,
    {
        let Some(plugin) = plugin else {
            return Invocation { plugin: None, outcome: Err(PluginError::NotLoaded(slot)), elapsed: Duration::ZERO };
        };
        let meta = Arc::clone(&plugin.meta);
        let joined = tokio::task::spawn_blocking(move || {
            let started = Instant::now();
            let outcome = f(&plugin);
            (outcome, started.elapsed())
        })
        .await;
        let (outcome, elapsed) =
            joined.unwrap_or_else(|e| (Err(PluginError::Trap(format!("host task failed: {e}"))), Duration::ZERO));
        Invocation { plugin: Some(meta), outcome, elapsed }
    }
}

fn rfc3339<S: serde::Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&humantime::format_rfc3339_millis(*t))
}

fn display<S: serde::Serializer, T: std::fmt::Display>(v: &T, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}
