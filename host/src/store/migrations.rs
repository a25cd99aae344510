//! The SQL migrations of `migrations/postgres` and `migrations/sqlite`, embedded so the binary migrates any database
//! it is pointed at without the source tree.

use std::borrow::Cow;

use futures::future::BoxFuture;
use sqlx::error::BoxDynError;
use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};

/// One backend's migrations: `(version, description, sql)`, numbered the same on both backends.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Embedded(&'static [(i64, &'static str, &'static str)]);

pub(crate) const POSTGRES: Embedded = Embedded(&[
    (1, "orders payments events", include_str!("../../../migrations/postgres/0001_orders_payments_events.sql")),
    (2, "plugin versions", include_str!("../../../migrations/postgres/0002_plugin_versions.sql")),
    (3, "seed columns and run owner", include_str!("../../../migrations/postgres/0003_seed_columns_and_run_owner.sql")),
    (4, "plugin store", include_str!("../../../migrations/postgres/0004_plugin_store.sql")),
    (5, "plugin canary", include_str!("../../../migrations/postgres/0005_plugin_canary.sql")),
    (6, "shipment claims", include_str!("../../../migrations/postgres/0006_shipment_claims.sql")),
    (7, "failure tallies", include_str!("../../../migrations/postgres/0007_failure_tallies.sql")),
]);

pub(crate) const SQLITE: Embedded = Embedded(&[
    (1, "orders payments events", include_str!("../../../migrations/sqlite/0001_orders_payments_events.sql")),
    (2, "plugin versions", include_str!("../../../migrations/sqlite/0002_plugin_versions.sql")),
    (3, "seed columns and run owner", include_str!("../../../migrations/sqlite/0003_seed_columns_and_run_owner.sql")),
    (4, "plugin store", include_str!("../../../migrations/sqlite/0004_plugin_store.sql")),
    (5, "plugin canary", include_str!("../../../migrations/sqlite/0005_plugin_canary.sql")),
    (6, "shipment claims", include_str!("../../../migrations/sqlite/0006_shipment_claims.sql")),
    (7, "failure tallies", include_str!("../../../migrations/sqlite/0007_failure_tallies.sql")),
]);

impl MigrationSource<'static> for Embedded {
    fn resolve(self) -> BoxFuture<'static, Result<Vec<Migration>, BoxDynError>> {
        let migrations = self
            .0
            .iter()
            .map(|(version, description, sql)| {
                Migration::new(*version, Cow::Borrowed(*description), MigrationType::Simple, Cow::Borrowed(*sql), false)
            })
            .collect();
        Box::pin(async move { Ok(migrations) })
    }
}

impl Embedded {
    pub(crate) async fn migrator(self) -> Result<Migrator, sqlx::migrate::MigrateError> {
        Migrator::new(self).await
    }
}
