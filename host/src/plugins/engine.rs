//! The shared wasmtime machinery: one engine, one linker, one epoch ticker, one compiled-artifact cache.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use wasmtime::component::Linker;
use wasmtime::{Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use super::cache::ArtifactCache;
use super::call::Share;
use super::compile::Compiler;
use super::error::describe;
use super::limits::SlotLimits;
use super::state::CallState;
use super::{PluginError, Slot};
use super::{host_log, wasi};

/// How the runtime is set up.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// Per-slot call limits.
    pub limits: SlotLimits,
    /// Where compiled artifacts are cached across restarts (`None`: compile every load).
    pub cache_dir: Option<PathBuf>,
    /// Plugin calls that may run at once: each slot may have a third of them in flight (a call beyond its share
    /// fails as busy), and [`LOADING_SHARE`] more are kept for loading new versions.
    pub max_instances: u32,
    /// The epoch ticker's period: deadlines are enforced with this granularity.
    pub epoch_tick: Duration,
    /// The largest component file accepted (`PLUGIN_MAX_BYTES`).
    pub max_component_bytes: usize,
    /// Where components are compiled, and within what budget.
    pub compiler: Compiler,
    /// How a memory is made ready for the next fresh instance once a call is done.
    pub memory_reset: MemoryReset,
}

/// How the pooling allocator resets a freed memory for the next fresh instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MemoryReset {
    /// Reset the first 256 KiB in place and hand the rest back to the kernel: every page beyond is faulted in again
    /// by the next call that touches it. Enough for small guests (a Rust plugin touches well under 256 KiB); a Python
    /// or JavaScript guest faults much of its 12 MiB snapshot in again on every call.
    #[default]
    Prefix,
    /// Copy back only the pages the call wrote (up to [`WRITTEN_PAGES_RESIDENT`] per memory, the rest handed back)
    /// and leave the pages it merely read mapped, found with Linux's `PAGEMAP_SCAN` (kernel 6.7 and later): a large
    /// guest's snapshot stays mapped between fresh instances. Only where no swap is active: wasmtime 48's scan skips
    /// a written page that was swapped out, which would then reach the next call unreset. Elsewhere
    /// [`MemoryReset::Prefix`] is used, with a warning.
    WrittenPages,
}

/// What a memory may keep resident between calls under [`MemoryReset::WrittenPages`]: enough for an interpreter's
/// snapshot (12 MiB for componentize-py) and what a call writes around it.
pub const WRITTEN_PAGES_RESIDENT: usize = 16 << 20;

impl MemoryReset {
    /// The reset this machine can honour for `self`, and why it differs when it does.
    pub fn effective(self) -> (MemoryReset, Option<&'static str>) {
        match self {
            MemoryReset::Prefix => (MemoryReset::Prefix, None),
            MemoryReset::WrittenPages if !PoolingAllocationConfig::is_pagemap_scan_available() => {
                (MemoryReset::Prefix, Some("the kernel has no PAGEMAP_SCAN (Linux 6.7 and later)"))
            }
            MemoryReset::WrittenPages if !swap_is_off() => (
                MemoryReset::Prefix,
                Some("swap is active (or /proc/swaps unreadable): a swapped-out page would escape the reset"),
            ),
            MemoryReset::WrittenPages => (MemoryReset::WrittenPages, None),
        }
    }
}

/// Whether `/proc/swaps` lists no swap area (nothing beyond its header line).
fn swap_is_off() -> bool {
    std::fs::read_to_string("/proc/swaps").is_ok_and(|text| text.lines().skip(1).all(|l| l.trim().is_empty()))
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            limits: SlotLimits::default(),
            cache_dir: None,
            max_instances: 128,
            epoch_tick: Duration::from_millis(5),
            max_component_bytes: 64 << 20,
            compiler: Compiler::InProcess,
            memory_reset: MemoryReset::default(),
        }
    }
}

/// Core instances one component may create.
pub const MAX_CORE_INSTANCES_PER_COMPONENT: u32 = 48;
/// Linear memories one component may define.
pub const MAX_MEMORIES_PER_COMPONENT: u32 = 2;
/// Tables one component may define.
pub const MAX_TABLES_PER_COMPONENT: u32 = 32;

/// The wasmtime engine and linker every plugin version shares.
pub struct PluginRuntime {
    pub(crate) engine: Engine,
    pub(crate) linker: Linker<CallState>,
    pub(crate) config: RuntimeConfig,
    /// The memory reset in effect ([`MemoryReset::effective`] of the configured one).
    memory_reset: MemoryReset,
    pub(crate) cache: Option<ArtifactCache>,
    /// Calls in flight per slot, each at most [`slot_share`] of `max_instances`; then loading calls (`info()` and
    /// trial calls of versions being loaded), at most [`LOADING_SHARE`].
    in_flight: [AtomicU32; 4],
    _ticker: EpochTicker,
}

/// The instances one slot may have in flight at once: a third of the pool (at least one).
pub fn slot_share(max_instances: u32) -> u32 {
    (max_instances / 3).max(1)
}

/// Instances kept for loading new versions (their `info()` and trial calls), beside the slots' shares.
pub const LOADING_SHARE: u32 = 2;

/// A call's place in its slot's share; given back when dropped.
#[derive(Debug)]
pub(crate) struct Claim<'a>(&'a AtomicU32);

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl std::fmt::Debug for PluginRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginRuntime")
            .field("config", &self.config)
            .field("cache", &self.cache)
            .finish_non_exhaustive()
    }
}

impl PluginRuntime {
    /// Builds the engine (component model, pooling allocator, epoch interruption), the linker (empty WASI + `log`)
    /// and starts the epoch ticker.
    pub fn new(config: RuntimeConfig) -> Result<Arc<Self>, String> {
        let (memory_reset, fallback) = config.memory_reset.effective();
        if let Some(why) = fallback {
            tracing::warn!(requested = ?config.memory_reset, "plugin memories are reset by prefix: {why}");
        }
        let engine = Engine::new(&wasmtime_config(&config, memory_reset))
            .map_err(|e| format!("cannot create the wasmtime engine: {}", describe(&e)))?;

        let mut linker = Linker::new(&engine);
        wasi::add_to_linker(&mut linker).map_err(|e| describe(&e))?;
        host_log::add_to_linker(&mut linker).map_err(|e| describe(&e))?;

        // The cache only saves compile time: without it (a read-only disk, a broken key) plugins still load.
        let cache = config.cache_dir.as_ref().and_then(|dir| {
            ArtifactCache::open(dir.clone(), &engine)
                .map_err(|e| tracing::warn!(error = %e, "compiled-plugin cache disabled"))
                .ok()
        });
        let ticker = EpochTicker::start(&engine, config.epoch_tick);
        Ok(Arc::new(PluginRuntime {
            engine,
            linker,
            config,
            memory_reset,
            cache,
            in_flight: Default::default(),
            _ticker: ticker,
        }))
    }

    /// How this runtime resets memories between calls: what was asked for, unless the machine cannot honour it.
    pub fn memory_reset(&self) -> MemoryReset {
        self.memory_reset
    }

    /// The runtime's configuration.
    pub fn config(&self) -> &RuntimeConfig {
        &self.config
    }

    /// Takes a place in `slot`'s share of the instance pool, or says why not: a slot whose calls all hang (a plugin
    /// that sleeps to its deadline on every call) cannot take the instances the other slots need.
    pub(crate) fn claim(&self, slot: Slot, share: Share) -> Result<Claim<'_>, PluginError> {
        let (counter, limit) = match share {
            Share::Serving => (&self.in_flight[slot.index()], slot_share(self.config.max_instances)),
            Share::Loading => (&self.in_flight[3], LOADING_SHARE),
        };
        counter
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < limit).then_some(n + 1))
            .map(|_| Claim(counter))
            .map_err(|n| {
                let whose = match share {
                    Share::Serving => format!("the {slot} slot"),
                    Share::Loading => "loading".to_owned(),
                };
                PluginError::Busy(format!("{whose} already has {n} of its {limit} calls in flight"))
            })
    }

    /// Calls of `slot` running now (not counting `info()` and trial calls of versions being loaded).
    pub fn in_flight(&self, slot: Slot) -> u32 {
        self.in_flight[slot.index()].load(Ordering::Acquire)
    }

    /// Deadline in epoch ticks: rounded up, so a call always gets at least its deadline.
    pub(crate) fn deadline_ticks(&self, deadline: Duration) -> u64 {
        let tick = self.config.epoch_tick.as_nanos().max(1);
        (deadline.as_nanos().div_ceil(tick) as u64).max(1)
    }
}

/// What decides compiled code: the component model and epoch interruption. A compile child builds its engine from
/// this alone (the pooling allocator does not change compiled code, and the child instantiates nothing).
pub(crate) fn compile_config() -> Config {
    let mut wasm = Config::new();
    // Pinned rather than read from WASMTIME_BACKTRACE_DETAILS: the child runs with an empty environment, and its
    // artifacts must fit the parent's engine whatever the parent's environment says.
    wasm.wasm_component_model(true)
        .epoch_interruption(true)
        .wasm_backtrace_details(wasmtime::WasmBacktraceDetails::Disable);
    wasm
}

/// The engine's whole configuration: [`compile_config`] and the pooling allocator.
fn wasmtime_config(config: &RuntimeConfig, reset: MemoryReset) -> Config {
    let mut pool = PoolingAllocationConfig::default();
    // A Rust wasip2 component instantiates a handful of core modules (the program plus small shims), each with at
    // most one memory and a table or two. Each slot may have a third of the instances in flight (`claim`), loading
    // has a few of its own, and the pool holds all of them at the size of the largest component allowed: however
    // one slot's component is built and however busy it is, the other slots' shares are still there.
    let shares = slot_share(config.max_instances) * 3 + LOADING_SHARE;
    pool.total_component_instances(shares)
        .total_core_instances(shares * MAX_CORE_INSTANCES_PER_COMPONENT)
        .total_memories(shares * MAX_MEMORIES_PER_COMPONENT)
        .total_tables(shares * MAX_TABLES_PER_COMPONENT)
        .max_memory_size(config.limits.max_memory_bytes())
        // Per component: enough for the toolchains' shims and runtimes (its memories together are capped by
        // the limiter as well).
        .max_core_instances_per_component(MAX_CORE_INSTANCES_PER_COMPONENT)
        .max_memories_per_component(MAX_MEMORIES_PER_COMPONENT)
        .max_memories_per_module(MAX_MEMORIES_PER_COMPONENT)
        .max_tables_per_component(MAX_TABLES_PER_COMPONENT)
        // Keeping a small prefix of each freed memory resident (reset with memset, not madvise) is what makes a
        // fresh instance per call cheap: ~13 µs instead of ~29 µs.
        .linear_memory_keep_resident(256 << 10)
        .table_keep_resident(64 << 10);
    // Resetting only the written pages keeps a Python or JavaScript guest's fresh instance cheap: its 12 MiB
    // interpreter snapshot stays mapped instead of being faulted in again after every call (see BENCHMARKS.md). Each
    // memory slot then keeps up to WRITTEN_PAGES_RESIDENT of what its calls wrote.
    if reset == MemoryReset::WrittenPages {
        pool.pagemap_scan(Enabled::Yes)
            .linear_memory_keep_resident(config.limits.max_memory_bytes().min(WRITTEN_PAGES_RESIDENT))
            .table_keep_resident(1 << 20);
    }

    let mut wasm = compile_config();
    wasm.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    wasm
}

/// Advances the engine's epoch every tick on a dedicated thread; stops when dropped.
#[derive(Debug)]
struct EpochTicker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl EpochTicker {
    fn start(engine: &Engine, tick: Duration) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let weak = engine.weak();
        let flag = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("wasm-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(tick);
                    match weak.upgrade() {
                        Some(engine) => engine.increment_epoch(),
                        None => return,
                    }
                }
            })
            .expect("spawning the epoch ticker thread");
        EpochTicker { stop, thread: Some(thread) }
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
