//! What one plugin call may use: wall-clock time, linear memory (all memories together), log output, and the size of
//! what it hands back.

use std::time::Duration;

/// The budget of a single plugin call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Wall-clock time for one call (instantiation included); enforced by epoch interruption, so a call may overshoot
    /// by up to one epoch tick.
    pub deadline: Duration,
    /// Linear memory one instance may grow to, in bytes.
    pub memory_bytes: usize,
    /// Log lines forwarded per call; later lines are counted and dropped.
    pub log_lines: u32,
    /// Log bytes forwarded per call; later lines are counted and dropped.
    pub log_bytes: usize,
    /// Bytes a plugin may hand back from one call, strings and lists together (`PLUGIN_MAX_OUTPUT`).
    pub max_output: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            deadline: Duration::from_millis(500),
            memory_bytes: 32 << 20,
            log_lines: 100,
            log_bytes: 16 << 10,
            max_output: 64 << 10,
        }
    }
}

impl Limits {
    /// Bytes the host may copy out of the guest in one go — an answer being lifted, or the arguments of one host call
    /// (a log line, a write to stdout) — before the call fails (wasmtime's "hostcall fuel", 128 MiB by default).
    /// Counted while lifting, before anything is copied, so that strings aliasing one region of guest memory cannot
    /// multiply into more than this; the exact output count ([`Limits::max_output`]) is checked on what was lifted.
    /// Four times the output cap: the host's own representation of a list element is larger than its WIT payload.
    pub fn hostcall_fuel(&self) -> usize {
        self.max_output.saturating_mul(4).max(MIN_HOSTCALL_FUEL)
    }
}

/// The least hostcall fuel a call gets whatever `max_output` says: enough for WASI's own plumbing (a panic message
/// written to stderr, a list of pollables).
const MIN_HOSTCALL_FUEL: usize = 64 << 10;

/// Limits for each slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SlotLimits {
    pub validation: Limits,
    pub payment: Limits,
    pub shipping: Limits,
}

impl SlotLimits {
    /// The same limits for every slot.
    pub fn uniform(limits: Limits) -> Self {
        SlotLimits { validation: limits, payment: limits, shipping: limits }
    }

    /// The limits of `slot`.
    pub fn get(&self, slot: super::Slot) -> Limits {
        match slot {
            super::Slot::Validation => self.validation,
            super::Slot::Payment => self.payment,
            super::Slot::Shipping => self.shipping,
        }
    }

    /// Mutable access to the limits of `slot`.
    pub fn get_mut(&mut self, slot: super::Slot) -> &mut Limits {
        match slot {
            super::Slot::Validation => &mut self.validation,
            super::Slot::Payment => &mut self.payment,
            super::Slot::Shipping => &mut self.shipping,
        }
    }

    /// The largest memory cap of any slot: the pooling allocator's slots must hold it.
    pub fn max_memory_bytes(&self) -> usize {
        super::Slot::ALL.iter().map(|s| self.get(*s).memory_bytes).max().unwrap_or(0)
    }
}

/// Enforces [`Limits::memory_bytes`] and remembers whether it refused, so that the abort a refused `memory.grow`
/// causes in a Rust guest is reported as "memory limit" rather than as a plain trap.
#[derive(Debug)]
pub(crate) struct MemoryCap {
    limit: usize,
    /// Bytes of every memory of the instance so far.
    used: usize,
    /// What the last allowed grow added, until it is known to have happened.
    granted: usize,
    pub(crate) refused: Option<usize>,
}

impl MemoryCap {
    pub(crate) fn new(limit: usize) -> Self {
        MemoryCap { limit, used: 0, granted: 0, refused: None }
    }
}

impl wasmtime::ResourceLimiter for MemoryCap {
    /// The cap holds for all of an instance's memories together: a component of many core modules gets no more
    /// than one of a single module.
    fn memory_growing(&mut self, current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        let total = self.used.saturating_sub(current).saturating_add(desired);
        if total > self.limit {
            self.refused = Some(total);
            return Ok(false);
        }
        self.granted = desired.saturating_sub(current);
        self.used = total;
        Ok(true)
    }

    /// A grow this limiter allowed failed anyway (past the memory's own maximum): it takes no budget.
    fn memory_grow_failed(&mut self, _error: wasmtime::Error) -> wasmtime::Result<()> {
        self.used = self.used.saturating_sub(std::mem::take(&mut self.granted));
        Ok(())
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        // Tables hold function references; 64k entries is far beyond any honest plugin.
        Ok(desired <= 65_536)
    }
}
