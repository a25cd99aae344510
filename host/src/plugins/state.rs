//! What a store holds during one call: an empty WASI context, the memory cap and the capped log.

use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::host_log::LogSink;
use super::limits::{Limits, MemoryCap};

/// What a store holds during one call.
pub(crate) struct CallState {
    wasi: WasiCtx,
    table: ResourceTable,
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
            limiter: MemoryCap::new(limits.memory_bytes),
            log: LogSink::new(plugin, digest, limits),
        }
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
