//! The plugin runtime: every piece of business logic runs as a sandboxed WebAssembly component.
//!
//! This module knows wasmtime and nothing of HTTP, Temporal or SQL. The pieces, in the order a call meets them:
//!
//! - [`Slot`]: the three places a plugin can occupy (validation, payment, shipping) and the WIT world each requires;
//! - [`PluginRuntime`]: one [`wasmtime::Engine`] (component model, pooling allocator, epoch interruption) and one
//!   linker that offers an empty WASI context plus the host `log` interface, nothing else;
//! - [`PluginRuntime::load`]: decode → check the world → compile (or reuse a cached artifact) → pre-instantiate →
//!   ask the plugin's `info()`, giving a [`LoadedPlugin`];
//! - [`LoadedPlugin`]: calls an export in a fresh store with a memory cap and a deadline;
//! - [`Registry`]: the active version of each slot, swapped atomically, with history, and [`watch`] to hear which
//!   slot files of a directory changed.
//!
//! Modules depend one way: `state` (a call's store data: WASI, memory cap, `host_log`) ← `engine` ← `call` ←
//! `loader` ← `registry`; `meta` describes a version; [`convert`] maps domain values to and from the WIT types.
//!
//! Errors are decided where they are born: [`PluginError::is_retryable`] tells the activity layer what to do.

mod bindings;
mod cache;
mod call;
pub mod compile;
pub mod convert;
mod deadline;
mod digest;
mod engine;
mod error;
mod host_log;
mod limits;
mod loader;
mod meta;
mod output;
mod registry;
mod slot;
mod state;
mod wasi;
mod watch;

pub use bindings::wit;
pub use call::LoadedPlugin;
pub use compile::Compiler;
pub use digest::Digest;
pub use engine::{MemoryReset, PluginRuntime, RuntimeConfig, WRITTEN_PAGES_RESIDENT, slot_share};
pub use error::{LoadError, PluginError};
pub use limits::{Limits, SlotLimits};
pub use loader::read_component;
pub use meta::PluginMeta;
pub use registry::{Activation, Invocation, Registry, RegistryEvent, SlotStatus, VersionRecord};
pub use slot::{Slot, UnknownSlot};
pub use watch::{WatchHandle, watch};
