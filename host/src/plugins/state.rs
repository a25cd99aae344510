//! What a store holds during one call: an empty WASI context, the memory cap and the capped log.

use std::time::Instant;

use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::deadline::Bounded;
use super::host_log::LogSink;
use super::limits::{Limits, MemoryCap};

/// What a store holds during one call.
pub(crate) struct CallState {
    wasi: WasiCtx,
    table: ResourceTable,
    /// When the call must be over: host waits (`wasi:io/poll`) end here too.
    deadline: Instant,
    pub(crate) limiter: MemoryCap,
    pub(crate) log: LogSink,
}

impl CallState {
    pub(crate) fn new(limits: &Limits, plugin: &str, digest: &str) -> Self {
        // No preopened directories, environment, arguments or sockets; stdin is empty and stdout/stderr are discarded.
        // Clocks and randomness come from WASI's defaults.
        let wasi = WasiCtx::builder().allow_tcp(false).allow_udp(false).allow_ip_name_lookup(false).build();
        CallState {
            wasi,
            table: ResourceTable::new(),
            deadline: Instant::now() + limits.deadline,
            limiter: MemoryCap::new(limits.memory_bytes),
            log: LogSink::new(plugin, digest, limits),
        }
    }
}

impl CallState {
    /// `wasi:io/poll`'s view of the store: the resource table and the call's deadline.
    pub(crate) fn bounded_poll(&mut self) -> Bounded<'_> {
        Bounded { table: &mut self.table, deadline: self.deadline }
    }
}

impl std::fmt::Debug for CallState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallState").field("limiter", &self.limiter).field("log", &self.log).finish_non_exhaustive()
    }
}

impl WasiView for CallState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}
