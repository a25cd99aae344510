//! order-host: an order lifecycle on Temporal whose business logic runs in sandboxed WebAssembly components.
//!
//! - [`plugins`]: the wasmtime runtime, the slot registry and hot swap (no HTTP, Temporal or SQL in there);
//! - [`config`]: one typed configuration from flags and environment;
//! - [`cli`]: the subcommands of the `order-host` binary;
//! - [`telemetry`]: logging set-up.

pub mod activities;
pub mod app;
pub mod cli;
pub mod config;
pub mod domain;
pub mod http;
pub mod metrics;
pub mod plugins;
pub mod store;
pub mod telemetry;
pub mod temporal;
pub mod workflows;
