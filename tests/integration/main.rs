//! order-host's integration tests: one binary, a module per area. Every test gets its own database (SQLite file or
//! PostgreSQL schema), task queues and ids, so they run in parallel against one Temporal dev server.

mod adversarial;
mod api;
mod canary;
mod console;
mod fleet;
mod languages;
mod lifecycle;
mod process;
mod replay;
mod rollout;
mod sandbox;
mod search;
mod store;

/// Runs an async test body once per backend: `both_backends!(name, |db: TestDb| async move { … })` defines
/// `name::sqlite` and `name::postgres`.
#[macro_export]
macro_rules! both_backends {
    ($name:ident, $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let db = order_host_tests::db::TestDb::new(order_host_tests::db::Backend::Sqlite).await;
                ($body)(db).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let db = order_host_tests::db::TestDb::new(order_host_tests::db::Backend::Postgres).await;
                ($body)(db).await;
            }
        }
    };
}
