//! What a store holds during one call: an empty WASI context, the memory cap and the capped log.

use std::time::Instant;

use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::deadline::Bounded;
use super::host_log::LogSink;
use super::limits::{Limits, MemoryCap};
use super::wasi::NoNetwork;

/// Random bytes one `get-random-bytes` call may ask for.
const MAX_RANDOM_BYTES: u64 = 4096;
/// Host resources (pollables, streams) one call may hold at once.
const MAX_TABLE_ENTRIES: usize = 1024;

/// What a store holds during one call.
pub(crate) struct CallState {
    wasi: WasiCtx,
    http: wasmtime_wasi_http::WasiHttpCtx,
    no_network: NoNetwork,
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
        // Host-side allocations the guest can ask for are bounded too: random bytes per call (WASI's default is
        // 64 MiB, filled on the host before the guest's own memory cap is consulted) and table entries (pollables,
        // stream handles: 1,000,000 by default).
        let wasi = WasiCtx::builder()
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .max_random_size(MAX_RANDOM_BYTES)
            .build();
        let mut table = ResourceTable::new();
        table.set_max_capacity(MAX_TABLE_ENTRIES);
        CallState {
            wasi,
            http: wasmtime_wasi_http::WasiHttpCtx::new(),
            no_network: NoNetwork,
            table,
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

impl wasmtime_wasi_http::WasiHttpView for CallState {
    fn http(&mut self) -> wasmtime_wasi_http::WasiHttpCtxView<'_> {
        wasmtime_wasi_http::WasiHttpCtxView { hooks: &mut self.no_network, table: &mut self.table, ctx: &mut self.http }
    }
}

impl WasiView for CallState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}
