//! Test harness for order-host's integration tests: real services, isolated per test.
//!
//! - [`api`]: a small REST client for the API tests;
//! - [`browser`]: headless Chromium over `WebDriver`, for the console tests;
//! - [`db`]: a fresh SQLite file or PostgreSQL schema per test (`TEST_DATABASE_URL`, default the local server);
//! - [`temporal`]: one `temporal server start-dev` per test process on a free port, unless `TEMPORAL_ADDRESS` is set;
//! - [`host`]: an order-host worker with private task queues, plugins directory and database;
//! - [`orders`]: starting orders and driving them through the client, as other SDKs and the CLI would;
//! - [`paths`]: where the built plugin components are;
//! - [`wait`]: polling a condition with a deadline (tests never sleep to wait).

pub mod api;
pub mod browser;
pub mod db;
pub mod host;
pub mod orders;
pub mod paths;
pub mod temporal;
pub mod wait;
