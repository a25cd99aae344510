//! One call into a loaded plugin version: a fresh store with a memory cap and a deadline, the export, and the two
//! levels of result told apart (the outer one is a trap or a host fault, the inner one is the plugin's answer).

use std::sync::Arc;

use wasmtime::{Store, Trap};

use super::bindings::payment::PaymentProcessorPre;
use super::bindings::shipper::ShipperPre;
use super::bindings::validator::ValidatorPre;
use super::bindings::wit;
use super::deadline::DeadlinePassed;
use super::error::describe;
use super::limits::Limits;
use super::meta::PluginMeta;
use super::output::{OUTPUT_TOO_LARGE, OutputSize};
use super::state::CallState;
use super::{PluginError, PluginRuntime, Slot};

/// The pre-instantiated, type-checked exports of one version, by world.
#[derive(Clone)]
pub(crate) enum Exports {
    Validator(ValidatorPre<CallState>),
    Payment(PaymentProcessorPre<CallState>),
    Shipper(ShipperPre<CallState>),
}

/// One compiled, type-checked, pre-instantiated plugin version. Cheap to share (`Arc`); each call gets its own store.
pub struct LoadedPlugin {
    pub(crate) meta: Arc<PluginMeta>,
    /// The component file, kept so a rollback can publish it again.
    pub(crate) bytes: Arc<[u8]>,
    pub(crate) exports: Exports,
    pub(crate) runtime: Arc<PluginRuntime>,
    pub(crate) limits: Limits,
    /// Whose instances its calls count against: the slot's, or (for `info()` and trial calls while it loads) the
    /// few kept for loading, so that a slot whose share is exhausted by a bad version can still load its fix.
    pub(crate) share: Share,
}

/// Where a call's instance comes from (see [`PluginRuntime::claim`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Share {
    /// The slot's third of the pool.
    Serving,
    /// The instances kept for loading new versions.
    Loading,
}

impl std::fmt::Debug for LoadedPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedPlugin").field("meta", &self.meta).field("limits", &self.limits).finish_non_exhaustive()
    }
}

type CallResult<T> = wasmtime::Result<Result<T, wit::ActivityError>>;

impl LoadedPlugin {
    /// What this version is: slot, digest, name, version.
    pub fn meta(&self) -> &Arc<PluginMeta> {
        &self.meta
    }

    /// The component file this version was loaded from.
    pub fn bytes(&self) -> &Arc<[u8]> {
        &self.bytes
    }

    /// The same version, its calls counted against the instances kept for loading.
    pub(crate) fn loading(&self) -> LoadedPlugin {
        LoadedPlugin {
            meta: Arc::clone(&self.meta),
            bytes: Arc::clone(&self.bytes),
            exports: self.exports.clone(),
            runtime: Arc::clone(&self.runtime),
            limits: self.limits,
            share: Share::Loading,
        }
    }

    /// The per-call limits this version runs under.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// `validator.validate(order)`.
    pub fn validate(&self, order: &wit::Order) -> Result<wit::ValidatedOrder, PluginError> {
        let Exports::Validator(pre) = &self.exports else { return Err(PluginError::NotLoaded(Slot::Validation)) };
        self.run(|store| pre.instantiate(&mut *store)?.call_validate(&mut *store, order))
    }

    /// `payment-processor.charge(request)`.
    pub fn charge(&self, request: &wit::ChargeRequest) -> Result<wit::Receipt, PluginError> {
        let Exports::Payment(pre) = &self.exports else { return Err(PluginError::NotLoaded(Slot::Payment)) };
        self.run(|store| pre.instantiate(&mut *store)?.call_charge(&mut *store, request))
    }

    /// `payment-processor.refund(request)`.
    pub fn refund(&self, request: &wit::RefundRequest) -> Result<wit::RefundReceipt, PluginError> {
        let Exports::Payment(pre) = &self.exports else { return Err(PluginError::NotLoaded(Slot::Payment)) };
        self.run(|store| pre.instantiate(&mut *store)?.call_refund(&mut *store, request))
    }

    /// `shipper.prepare-package(order)`.
    pub fn prepare_package(&self, order: &wit::Order) -> Result<wit::Package, PluginError> {
        let Exports::Shipper(pre) = &self.exports else { return Err(PluginError::NotLoaded(Slot::Shipping)) };
        self.run(|store| pre.instantiate(&mut *store)?.call_prepare_package(&mut *store, order))
    }

    /// `shipper.dispatch-carrier(order, package)`.
    pub fn dispatch_carrier(&self, order: &wit::Order, package: &wit::Package) -> Result<wit::Dispatch, PluginError> {
        let Exports::Shipper(pre) = &self.exports else { return Err(PluginError::NotLoaded(Slot::Shipping)) };
        self.run(|store| pre.instantiate(&mut *store)?.call_dispatch_carrier(&mut *store, order, package))
    }

    /// `info()`, whichever the world.
    pub(crate) fn info(&self) -> Result<wit::PluginInfo, PluginError> {
        self.run(|store| {
            let info = match &self.exports {
                Exports::Validator(pre) => pre.instantiate(&mut *store)?.call_info(&mut *store)?,
                Exports::Payment(pre) => pre.instantiate(&mut *store)?.call_info(&mut *store)?,
                Exports::Shipper(pre) => pre.instantiate(&mut *store)?.call_info(&mut *store)?,
            };
            Ok(Ok(info))
        })
    }

    /// Runs `f` in a fresh store under this version's limits and sorts out what came back. An answer (or error)
    /// larger than [`Limits::max_output`] is a permanent error: it goes no further than this function.
    fn run<T: OutputSize>(&self, f: impl FnOnce(&mut Store<CallState>) -> CallResult<T>) -> Result<T, PluginError> {
        let _claim = self.runtime.claim(self.meta.slot, self.share)?;
        let state = CallState::new(&self.limits, &self.meta.name, self.meta.digest.short());
        let mut store = Store::new(&self.runtime.engine, state);
        store.limiter(|state| &mut state.limiter);
        store.set_epoch_deadline(self.runtime.deadline_ticks(self.limits.deadline));
        store.epoch_deadline_trap();
        store.set_hostcall_fuel(self.limits.hostcall_fuel());
        let answer = f(&mut store);
        if let Ok(result) = &answer {
            let size = result.output_bytes();
            if size > self.limits.max_output {
                let message = format!(
                    "the plugin answered {size} bytes; at most {} are accepted (PLUGIN_MAX_OUTPUT)",
                    self.limits.max_output
                );
                return Err(PluginError::Permanent { code: OUTPUT_TOO_LARGE.into(), message });
            }
        }
        match answer {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(wit::ActivityError::Retryable(f))) => {
                Err(PluginError::Retryable { code: f.code, message: f.message })
            }
            Ok(Err(wit::ActivityError::Permanent(f))) => {
                Err(PluginError::Permanent { code: f.code, message: f.message })
            }
            Err(err) => Err(self.classify(&err, store.data())),
        }
    }

    fn classify(&self, err: &wasmtime::Error, state: &CallState) -> PluginError {
        // A refused memory.grow shows up as whatever the guest does next (a Rust guest aborts): the limiter's flag
        // is the truth.
        if let Some(requested_bytes) = state.limiter.refused {
            return PluginError::MemoryLimit { limit_bytes: self.limits.memory_bytes, requested_bytes };
        }
        if err.downcast_ref::<DeadlinePassed>().is_some() {
            return PluginError::Timeout { deadline: self.limits.deadline };
        }
        if let Some(trap) = err.downcast_ref::<Trap>() {
            return match trap {
                Trap::Interrupt => PluginError::Timeout { deadline: self.limits.deadline },
                other => PluginError::Trap(other.to_string()),
            };
        }
        if err.downcast_ref::<wasmtime::PoolConcurrencyLimitError>().is_some() {
            return PluginError::Busy(describe(err));
        }
        if hostcall_fuel_exhausted(err) {
            let message = format!(
                "the plugin handed the host more than {} bytes at once (an answer, or a host call's arguments); \
                 at most {} are accepted (PLUGIN_MAX_OUTPUT)",
                self.limits.hostcall_fuel(),
                self.limits.max_output
            );
            return PluginError::Permanent { code: OUTPUT_TOO_LARGE.into(), message };
        }
        // The description may quote the component (names in a backtrace, an exit message): bounded like an answer.
        PluginError::Trap(bounded(describe(err), self.limits.max_output.min(4096)))
    }
}

/// Whether wasmtime stopped lifting because the call's hostcall fuel ran out. Its error type is private: the message
/// is matched (a test with an amplifying fixture pins it).
fn hostcall_fuel_exhausted(err: &wasmtime::Error) -> bool {
    // The root cause only: the rest of the chain may quote the component (a backtrace's function names).
    err.root_cause().to_string().contains("fuel allocated for hostcalls has been exhausted")
}

/// `text` cut to at most `max` bytes (at a character boundary), saying so.
fn bounded(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push_str(" …(cut)");
    }
    text
}
