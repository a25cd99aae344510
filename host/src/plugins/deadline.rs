//! The call's deadline across host calls. Epoch interruption stops a guest that computes past its deadline, but a
//! guest waiting in `wasi:io/poll` (what `std::thread::sleep` and every blocking read become) sits in the host, where
//! no epoch check runs: the stock binding would block the thread for as long as the guest asked. This binding waits
//! at most until the call's deadline and then fails the call with [`DeadlinePassed`], which is reported like an
//! epoch interrupt (a retryable `plugin_timeout`), and the thread and the instance are free at once.

use std::time::Instant;

use wasmtime::Result;
use wasmtime::component::{HasData, Resource, ResourceTable};
use wasmtime_wasi::p2::bindings::sync::io::poll;
use wasmtime_wasi::runtime::in_tokio;
use wasmtime_wasi_io::bindings::wasi::io::poll as async_poll;
use wasmtime_wasi_io::poll::DynPollable;

/// A wait in the host outlived the call's deadline.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("the plugin waited past its deadline")]
pub(crate) struct DeadlinePassed;

/// `wasi:io/poll` over the store's resource table, bounded by the call's deadline.
pub(crate) struct BoundedPoll;

impl HasData for BoundedPoll {
    type Data<'a> = Bounded<'a>;
}

/// The resource table and the instant the call must be over by.
pub(crate) struct Bounded<'a> {
    pub(crate) table: &'a mut ResourceTable,
    pub(crate) deadline: Instant,
}

impl Bounded<'_> {
    /// Runs `wait` until it finishes or the deadline passes, whichever comes first.
    fn until_deadline<T>(&mut self, wait: impl AsyncFnOnce(&mut ResourceTable) -> Result<T>) -> Result<T> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        let table = &mut *self.table;
        in_tokio(async move { tokio::time::timeout(left, wait(table)).await })
            .map_err(|_| wasmtime::Error::new(DeadlinePassed))?
    }
}

impl poll::Host for Bounded<'_> {
    fn poll(&mut self, pollables: Vec<Resource<DynPollable>>) -> Result<Vec<u32>> {
        self.until_deadline(async move |table| async_poll::Host::poll(table, pollables).await)
    }
}

impl poll::HostPollable for Bounded<'_> {
    fn ready(&mut self, pollable: Resource<DynPollable>) -> Result<bool> {
        // Never waits: it only asks whether the pollable is ready now.
        in_tokio(async_poll::HostPollable::ready(&mut *self.table, pollable))
    }

    fn block(&mut self, pollable: Resource<DynPollable>) -> Result<()> {
        self.until_deadline(async move |table| async_poll::HostPollable::block(table, pollable).await)
    }

    fn drop(&mut self, pollable: Resource<DynPollable>) -> Result<()> {
        async_poll::HostPollable::drop(&mut *self.table, pollable)
    }
}
