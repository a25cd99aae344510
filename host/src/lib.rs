//! order-host: an order lifecycle on Temporal whose business logic runs in sandboxed WebAssembly components.
//!
//! Data flows one way: [`http`] → Temporal → [`workflows`] → [`activities`] → [`plugins`] → [`store`].
//!
//! - [`domain`]: pure types and rules — the order lifecycle as one state machine ([`domain::lifecycle`]), ids,
//!   addresses, the status document, the activities' names;
//! - [`workflows`]: `OrderWorkflow` and `ShippingWorkflow`, thin deterministic drivers of the lifecycle;
//! - [`activities`]: failure simulation → plugin call → idempotent persistence → one event per attempt;
//! - [`plugins`]: the wasmtime runtime, the slot registry and hot swap (no HTTP, Temporal or SQL in there);
//! - [`store`]: orders, payments, events and the shared plugin store on PostgreSQL or SQLite;
//! - [`rollout`]: every process runs the plugin versions the shared store names (publish, rollback, reports);
//! - [`status`]: the status read model (workflow query + execution description + events + plugin versions);
//! - [`http`]: the REST API; [`temporal`]: client connection and workers; [`app`]: wiring;
//! - [`config`]: one typed configuration from flags and environment;
//! - [`cli`]: the subcommands of the `order-host` binary;
//! - [`telemetry`]: logging set-up.

pub mod activities;
pub mod app;
pub mod audit;
pub mod cli;
pub mod config;
pub mod domain;
pub mod http;
pub mod metrics;
pub mod plugins;
pub mod rollout;
pub mod status;
pub mod store;
pub mod telemetry;
pub mod temporal;
pub mod workflows;
