//! A fresh database per test, on either backend.

use std::fmt;
use std::sync::Arc;

use order_host::store::{self, Store};
use rand::Rng;
use sqlx::Connection;

/// The two backends every store test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        })
    }
}

/// The PostgreSQL server tests use: `TEST_DATABASE_URL`, default the local trust-auth server.
pub fn postgres_admin_url() -> String {
    std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// A migrated, empty database that disappears with the value: a temporary SQLite file, or a private PostgreSQL
/// schema (selected through the URL's `search_path`, so a spawned host process sees the same schema).
pub struct TestDb {
    pub backend: Backend,
    /// A `DATABASE_URL` for this database.
    pub url: String,
    pub store: Arc<dyn Store>,
    schema: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

impl fmt::Debug for TestDb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestDb").field("backend", &self.backend).field("url", &self.url).finish_non_exhaustive()
    }
}

impl TestDb {
    pub async fn new(backend: Backend) -> TestDb {
        match backend {
            Backend::Sqlite => Self::sqlite().await,
            Backend::Postgres => Self::postgres().await,
        }
    }

    pub async fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("orders.db").display());
        let store = store::open(&url).await.expect("opening sqlite");
        TestDb { backend: Backend::Sqlite, url, store, schema: None, _dir: Some(dir) }
    }

    pub async fn postgres() -> TestDb {
        let admin = postgres_admin_url();
        let schema = format!("t_{:016x}", rand::rng().random::<u64>());
        let mut conn = sqlx::PgConnection::connect(&admin)
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL at {admin} is needed for this test (is it running?): {e}"));
        sqlx::query(&format!("CREATE SCHEMA {schema}")).execute(&mut conn).await.expect("create schema");
        let sep = if admin.contains('?') { '&' } else { '?' };
        let url = format!("{admin}{sep}options=-c%20search_path%3D{schema}");
        let store = store::open(&url).await.expect("opening postgres");
        TestDb { backend: Backend::Postgres, url, store, schema: Some(schema), _dir: None }
    }
}

/// What a query run outside the store returned: the column names and how many rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rows {
    pub columns: Vec<String>,
    pub count: usize,
}

impl TestDb {
    /// Runs `sql` over a connection of its own, as the seed's scripts and reports would (not through the store).
    pub async fn query(&self, sql: &str) -> Result<Rows, sqlx::Error> {
        use sqlx::Column as _;
        fn shape<R: sqlx::Row>(rows: &[R]) -> Rows {
            let columns = rows.first().map(|r| r.columns().iter().map(|c| c.name().to_owned()).collect());
            Rows { columns: columns.unwrap_or_default(), count: rows.len() }
        }
        match self.backend {
            Backend::Postgres => {
                let mut conn = sqlx::PgConnection::connect(&self.url).await?;
                Ok(shape(&sqlx::query(sql).fetch_all(&mut conn).await?))
            }
            Backend::Sqlite => {
                let mut conn = sqlx::SqliteConnection::connect(&self.url).await?;
                Ok(shape(&sqlx::query(sql).fetch_all(&mut conn).await?))
            }
        }
    }

    /// The first column of the first row of `sql`, which must be text (cast it in the query).
    pub async fn text(&self, sql: &str) -> Result<Option<String>, sqlx::Error> {
        use sqlx::Row as _;
        match self.backend {
            Backend::Postgres => {
                let mut conn = sqlx::PgConnection::connect(&self.url).await?;
                sqlx::query(sql).fetch_optional(&mut conn).await?.map(|r| r.try_get(0)).transpose()
            }
            Backend::Sqlite => {
                let mut conn = sqlx::SqliteConnection::connect(&self.url).await?;
                sqlx::query(sql).fetch_optional(&mut conn).await?.map(|r| r.try_get(0)).transpose()
            }
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some(schema) = self.schema.take() else { return };
        // Drop runs inside the test's runtime: clean up on a thread of our own.
        let admin = postgres_admin_url();
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            rt.block_on(async {
                if let Ok(mut conn) = sqlx::PgConnection::connect(&admin).await {
                    let _ = sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE")).execute(&mut conn).await;
                }
            });
        })
        .join();
    }
}
