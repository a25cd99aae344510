//! The PostgreSQL adapter (production, docker-compose).

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

use super::StoreError;
use super::migrations::{Embedded, POSTGRES};
use super::plugins::{impl_plugin_store, release_columns};
use super::rows::{event_columns, transition_sql};
use super::sql::{impl_sql_store, order_columns, payment_columns};

/// Orders, payments and events in PostgreSQL.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    const MIGRATIONS: Embedded = POSTGRES;
    /// One statement, atomic: the event is inserted from the row the update returned, if it returned one.
    const TRANSITION_WITH_EVENT: &'static str = concat!(
        "WITH moved AS (",
        transition_sql!(),
        " RETURNING id) INSERT INTO events (",
        event_columns!(),
        ") SELECT id, $12, $13, $14, $15, $16, $17, $18, $19, $20 FROM moved"
    );
    /// The payment (`$12`, transaction `$13`) and the order's transition in one statement, answering the payment as
    /// it now stands (the one the update returned, else the row it left alone).
    const COMPLETE_CHARGE: &'static str = concat!(
        "WITH charged AS (
            UPDATE payments SET status = 'charged', transaction_id = $13, updated_at = $11
            WHERE payment_id = $12 AND status = 'pending' RETURNING ",
        payment_columns!(),
        "), moved AS (",
        transition_sql!(),
        " AND EXISTS (SELECT 1 FROM charged) RETURNING id)
         SELECT * FROM charged
         UNION ALL SELECT ",
        payment_columns!(),
        " FROM payments WHERE payment_id = $12 AND NOT EXISTS (SELECT 1 FROM charged)"
    );

    /// Connects to `url` (`postgres://user@host:port/db`).
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_with(PgConnectOptions::from_str(url)?).await
    }

    /// Connects with explicit options (tests use this to pin a schema per test).
    pub async fn connect_with(options: PgConnectOptions) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options)
            .await?;
        Ok(PgStore { pool })
    }

    /// A transaction that changes a slot's releases, serialized with every other one for the slot (a transaction-level
    /// advisory lock), so a rollback and a publish never both read the same "current" release.
    async fn begin_plugin_tx(&self, slot: &str) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))")
            .bind(format!("{}:{slot}", super::plugins::CHANNEL))
            .execute(&mut *tx)
            .await?;
        Ok(tx)
    }

    /// `LISTEN`s on the plugin channel on a connection of its own; a signal per announcement, and one after a lost
    /// connection comes back (announcements made meanwhile were missed). Ends when the receiver is dropped.
    async fn announcements(&self) -> Result<Option<tokio::sync::mpsc::Receiver<()>>, StoreError> {
        use tokio::sync::mpsc::error::TrySendError;
        let mut listener = sqlx::postgres::PgListener::connect_with(&self.pool).await?;
        listener.listen(super::plugins::CHANNEL).await?;
        let (tx, rx) = tokio::sync::mpsc::channel(1);
        tokio::spawn(async move {
            loop {
                let heard = tokio::select! {
                    heard = listener.try_recv() => heard,
                    () = tx.closed() => return,
                };
                if let Err(e) = heard {
                    tracing::warn!(error = %e, "plugin announcements: connection trouble; retrying in 1 s");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                // `Full`: a signal is already waiting, which covers this one too.
                if let Err(TrySendError::Closed(())) = tx.try_send(()) {
                    return;
                }
            }
        });
        Ok(Some(rx))
    }
}

impl_sql_store!(PgStore, sqlx::Postgres);
impl_plugin_store!(PgStore, sqlx::Postgres, notify = true);
