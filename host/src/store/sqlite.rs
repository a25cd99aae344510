//! The SQLite adapter: the embedded default (`sqlite://data/orders.db`), created on first use.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};

use super::StoreError;
use super::migrations::{Embedded, SQLITE};
use super::plugins::{impl_plugin_store, release_columns};
use super::rows::{event_columns, transition_sql};
use super::sql::{impl_sql_store, order_columns, payment_columns};

/// Orders, payments and events in a SQLite file.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    const MIGRATIONS: Embedded = SQLITE;
    /// Two statements handed to the connection's thread at once (SQLite has no writing `WITH`); `changes()` is what
    /// the update changed. Not atomic together: an event lost between them is lost as it would be as two calls.
    const TRANSITION_WITH_EVENT: &'static str = concat!(
        transition_sql!(),
        ";\nINSERT INTO events (",
        event_columns!(),
        ") SELECT $1, $12, $13, $14, $15, $16, $17, $18, $19, $20 WHERE changes() = 1"
    );
    /// The payment (`$12`, transaction `$13`), the order's transition, and the payment as it now stands: three
    /// statements handed over at once, the one that answers last.
    const COMPLETE_CHARGE: &'static str = concat!(
        "UPDATE payments SET status = 'charged', transaction_id = $13, updated_at = $11
         WHERE payment_id = $12 AND status = 'pending';\n",
        transition_sql!(),
        " AND EXISTS (SELECT 1 FROM payments WHERE payment_id = $12 AND status = 'charged' AND transaction_id = $13)",
        ";\nSELECT ",
        payment_columns!(),
        " FROM payments WHERE payment_id = $12"
    );

    /// Opens `url` (`sqlite://path/to/file.db` or `sqlite::memory:`), creating the file and its directory.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            // WAL lets readers (the REST API) run while a worker writes; NORMAL sync is durable across process
            // crashes, which is what the crash tests kill.
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(5))
            .foreign_keys(true);
        if let Some(dir) = Path::new(options.get_filename()).parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                StoreError::Database(sqlx::Error::Configuration(format!("{}: {e}", dir.display()).into()))
            })?;
        }
        let pool = SqlitePoolOptions::new()
            // Each connection is a thread of its own that every statement is handed to: a few keep the REST API's
            // reads beside the writers (WAL), more only add threads to wake (SQLite has one writer at a time anyway).
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(5))
            // A connection to a local file does not go stale the way a network one does: no ping before each use.
            // (sqlx pings on acquire by default and again on release, each a trip to the connection's thread; the
            // one on release stays, it also flushes what a dropped statement left behind.)
            .test_before_acquire(false)
            .connect_with(options)
            .await?;
        Ok(SqliteStore { pool })
    }

    /// A transaction that changes a slot's releases: `BEGIN IMMEDIATE` takes the write lock before it reads, so it
    /// never reads a release another writer is about to supersede (nor fails at its first write under WAL).
    async fn begin_plugin_tx(&self, _slot: &str) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, StoreError> {
        Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?)
    }

    /// SQLite has no notifications: readers poll.
    #[allow(clippy::unused_async)]
    async fn announcements(&self) -> Result<Option<tokio::sync::mpsc::Receiver<()>>, StoreError> {
        Ok(None)
    }
}

impl_sql_store!(SqliteStore, sqlx::Sqlite);
impl_plugin_store!(SqliteStore, sqlx::Sqlite, notify = false);
