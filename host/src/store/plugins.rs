//! The shared plugin store: component bytes, the releases that say which version of a slot is active, and what each
//! process reports running. Every process on every machine reads the same rows, so they all run the same versions and
//! a restart keeps them.
//!
//! A slot's active version is its newest release; a release is only ever appended (`publish` or `rollback`), so the
//! history survives restarts and the release id doubles as a generation number. PostgreSQL announces each release on
//! the [`CHANNEL`] channel (`NOTIFY`, delivered at commit); SQLite has no notifications and is polled.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::StoreError;

/// The PostgreSQL notification channel a release is announced on (payload: the slot).
pub const CHANNEL: &str = "order_host_plugins";

/// A component to publish: its bytes and what it said about itself when it was checked.
#[derive(Debug, Clone)]
pub struct NewComponent<'a> {
    pub slot: &'a str,
    pub digest: &'a str,
    pub name: &'a str,
    pub version: &'a str,
    pub bytes: &'a [u8],
}

/// How a release came about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReleaseAction {
    Publish,
    Rollback,
    /// A version for a share of new orders; the slot's stable version is unchanged.
    Canary,
}

impl ReleaseAction {
    pub fn as_str(self) -> &'static str {
        match self {
            ReleaseAction::Publish => "publish",
            ReleaseAction::Rollback => "rollback",
            ReleaseAction::Canary => "canary",
        }
    }
}

/// One change of a slot's active version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ReleaseRow {
    /// Increases with every release of any slot: a generation number.
    pub id: i64,
    pub slot: String,
    pub digest: String,
    pub name: String,
    pub version: String,
    pub size_bytes: u64,
    pub action: ReleaseAction,
    /// For a canary: the share of new orders (1–99 %) that get it.
    pub canary_percent: Option<u8>,
    /// Where it came from: `upload`, `publish`, a file path.
    pub source: String,
    /// The process that made the release.
    pub process_id: String,
    pub created_at: DateTime<Utc>,
}

/// A version a process could not load, reported instead of run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ProcessRefusal {
    pub digest: String,
    pub error: String,
}

/// What a process reports about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ProcessRow {
    pub process_id: String,
    /// The machine it runs on.
    pub host: String,
    /// `serve`, `api` or `worker`.
    pub role: String,
    /// The digest it runs, per slot.
    pub digests: BTreeMap<String, String>,
    /// The published version it refused, per slot (it keeps running its current one).
    pub refusals: BTreeMap<String, ProcessRefusal>,
    pub started_at: DateTime<Utc>,
    pub seen_at: DateTime<Utc>,
}

/// The plugin half of the persistence port.
#[async_trait::async_trait]
pub trait PluginStore: Send + Sync {
    /// Stores the component (once per digest) and makes it the slot's active version, unless it already is; with
    /// `canary`, makes it a canary for that share of new orders instead (the stable version stays). Returns the
    /// release, or `None` when nothing changed.
    async fn publish_plugin(
        &self,
        component: &NewComponent<'_>,
        source: &str,
        process_id: &str,
        canary: Option<u8>,
    ) -> Result<Option<ReleaseRow>, StoreError>;
    /// Makes the slot's live canary its stable version; `None` when there is no live canary.
    async fn promote_plugin(&self, slot: &str, process_id: &str) -> Result<Option<ReleaseRow>, StoreError>;
    /// Each slot's live canary: its newest release, when that is a canary.
    async fn live_canaries(&self) -> Result<Vec<ReleaseRow>, StoreError>;
    /// Pins an order to a canary release for a slot, unless it is pinned already (the first pin stays).
    async fn pin_order_plugin(
        &self,
        order_id: &str,
        slot: &str,
        release_id: i64,
        digest: &str,
    ) -> Result<(), StoreError>;
    /// The canary release (id, digest) an order is pinned to for a slot.
    async fn order_plugin_pin(&self, order_id: &str, slot: &str) -> Result<Option<(i64, String)>, StoreError>;
    /// Makes the version active before the current one active again (ending a live canary: the stable version stays);
    /// `None` when there is no earlier version. With
    /// `expect`, only if the slot's newest release is that one (else a [`StoreError::Conflict`], nothing changed): a
    /// retried rollback never undoes the rollback it retries, nor a publish made meanwhile.
    async fn rollback_plugin(
        &self,
        slot: &str,
        process_id: &str,
        expect: Option<i64>,
    ) -> Result<Option<ReleaseRow>, StoreError>;
    /// Each slot's stable version: its newest release that is not a canary.
    async fn active_plugins(&self) -> Result<Vec<ReleaseRow>, StoreError>;
    /// A slot's releases, newest first.
    async fn plugin_releases(&self, slot: &str, limit: u32) -> Result<Vec<ReleaseRow>, StoreError>;
    /// A stored component's bytes.
    async fn plugin_bytes(&self, slot: &str, digest: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// Writes (or refreshes) a process's report.
    async fn report_process(&self, process: &ProcessRow) -> Result<(), StoreError>;
    /// Processes seen since `since`, by process id.
    async fn processes(&self, since: DateTime<Utc>) -> Result<Vec<ProcessRow>, StoreError>;
    /// Forgets a process (it stopped).
    async fn forget_process(&self, process_id: &str) -> Result<(), StoreError>;
    /// A signal for each release announced from now on (PostgreSQL `LISTEN`); `None` where the backend has no
    /// notifications (SQLite) and must be polled. The receiver also hears after a lost connection is back, since
    /// announcements made meanwhile were missed.
    async fn plugin_announcements(&self) -> Result<Option<tokio::sync::mpsc::Receiver<()>>, StoreError>;
}

/// Implements [`PluginStore`] for `$store` (a struct with a `pool: sqlx::Pool<$db>` field, and `begin_plugin_tx` and
/// `announcements` methods); `$notify` says whether the backend announces releases with `pg_notify`.
macro_rules! impl_plugin_store {
    ($store:ty, $db:ty, notify = $notify:expr) => {
        #[async_trait::async_trait]
        impl $crate::store::plugins::PluginStore for $store {
            async fn publish_plugin(
                &self,
                c: &$crate::store::plugins::NewComponent<'_>,
                source: &str,
                process_id: &str,
                canary: Option<u8>,
            ) -> Result<Option<$crate::store::plugins::ReleaseRow>, $crate::store::StoreError> {
                use $crate::store::plugins::ReleaseAction;
                let now = chrono::Utc::now();
                let mut tx = self.begin_plugin_tx(c.slot).await?;
                sqlx::query(
                    "INSERT INTO plugin_components (slot, digest, name, version, size_bytes, bytes, created_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
                )
                .bind(c.slot)
                .bind(c.digest)
                .bind(c.name)
                .bind(c.version)
                .bind(i64::try_from(c.bytes.len()).unwrap_or(i64::MAX))
                .bind(c.bytes)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                let newest = newest_release(&mut *tx, c.slot).await?;
                let action = if canary.is_some() { ReleaseAction::Canary } else { ReleaseAction::Publish };
                let unchanged = newest.as_ref().is_some_and(|r| {
                    r.digest == c.digest && (r.action == ReleaseAction::Canary) == canary.is_some()
                        && r.canary_percent == canary
                });
                if unchanged {
                    tx.commit().await?;
                    return Ok(None);
                }
                let release = insert_release(&mut *tx, c.slot, c.digest, action, canary, source, process_id).await?;
                tx.commit().await?;
                Ok(Some(release))
            }

            async fn rollback_plugin(
                &self,
                slot: &str,
                process_id: &str,
                expect: Option<i64>,
            ) -> Result<Option<$crate::store::plugins::ReleaseRow>, $crate::store::StoreError> {
                let mut tx = self.begin_plugin_tx(slot).await?;
                let current = newest_release(&mut *tx, slot).await?;
                if let Some(expected) = expect
                    && current.as_ref().map(|r| r.id) != Some(expected)
                {
                    return Err($crate::store::StoreError::Conflict(format!(
                        "the newest release of the {slot} slot is {}, not {expected}: it changed meanwhile (a retried \
                         rollback, or another publish); nothing was rolled back",
                        current.map_or_else(|| "none".to_owned(), |r| r.id.to_string())
                    )));
                }
                let Some(current) = current else {
                    return Ok(None);
                };
                // The version that was active before the current one became active; for a live canary, the stable one
                // (whatever its digest).
                let canary = current.action == $crate::store::plugins::ReleaseAction::Canary;
                let previous: Option<(String,)> = sqlx::query_as(
                    "SELECT digest FROM plugin_releases
                     WHERE slot = $1 AND id < $2 AND action <> 'canary' AND ($4 OR digest <> $3)
                     ORDER BY id DESC LIMIT 1",
                )
                .bind(slot)
                .bind(current.id)
                .bind(&current.digest)
                .bind(canary)
                .fetch_optional(&mut *tx)
                .await?;
                let Some((previous,)) = previous else {
                    return Ok(None);
                };
                let release = insert_release(
                    &mut *tx,
                    slot,
                    &previous,
                    $crate::store::plugins::ReleaseAction::Rollback,
                    None,
                    "rollback",
                    process_id,
                )
                .await?;
                tx.commit().await?;
                Ok(Some(release))
            }

            async fn active_plugins(
                &self,
            ) -> Result<Vec<$crate::store::plugins::ReleaseRow>, $crate::store::StoreError> {
                let rows = sqlx::query(concat!(
                    "SELECT ",
                    release_columns!(),
                    " FROM plugin_releases r JOIN plugin_components c ON c.slot = r.slot AND c.digest = r.digest
                     WHERE r.id IN (SELECT MAX(id) FROM plugin_releases WHERE action <> 'canary' GROUP BY slot)
                     ORDER BY r.slot"
                ))
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(release_row).collect()
            }

            async fn live_canaries(
                &self,
            ) -> Result<Vec<$crate::store::plugins::ReleaseRow>, $crate::store::StoreError> {
                let rows = sqlx::query(concat!(
                    "SELECT ",
                    release_columns!(),
                    " FROM plugin_releases r JOIN plugin_components c ON c.slot = r.slot AND c.digest = r.digest
                     WHERE r.action = 'canary' AND r.id IN (SELECT MAX(id) FROM plugin_releases GROUP BY slot)
                     ORDER BY r.slot"
                ))
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(release_row).collect()
            }

            async fn promote_plugin(
                &self,
                slot: &str,
                process_id: &str,
            ) -> Result<Option<$crate::store::plugins::ReleaseRow>, $crate::store::StoreError> {
                use $crate::store::plugins::ReleaseAction;
                let mut tx = self.begin_plugin_tx(slot).await?;
                let Some(canary) = newest_release(&mut *tx, slot).await?.filter(|r| r.action == ReleaseAction::Canary)
                else {
                    return Ok(None);
                };
                let release =
                    insert_release(&mut *tx, slot, &canary.digest, ReleaseAction::Publish, None, "promote", process_id)
                        .await?;
                tx.commit().await?;
                Ok(Some(release))
            }

            async fn pin_order_plugin(
                &self,
                order_id: &str,
                slot: &str,
                release_id: i64,
                digest: &str,
            ) -> Result<(), $crate::store::StoreError> {
                sqlx::query(
                    "INSERT INTO order_plugin_pins (order_id, slot, release_id, digest, created_at)
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                )
                .bind(order_id)
                .bind(slot)
                .bind(release_id)
                .bind(digest)
                .bind(chrono::Utc::now())
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn order_plugin_pin(
                &self,
                order_id: &str,
                slot: &str,
            ) -> Result<Option<(i64, String)>, $crate::store::StoreError> {
                Ok(sqlx::query_as("SELECT release_id, digest FROM order_plugin_pins WHERE order_id = $1 AND slot = $2")
                    .bind(order_id)
                    .bind(slot)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn plugin_releases(
                &self,
                slot: &str,
                limit: u32,
            ) -> Result<Vec<$crate::store::plugins::ReleaseRow>, $crate::store::StoreError> {
                let rows = sqlx::query(concat!(
                    "SELECT ",
                    release_columns!(),
                    " FROM plugin_releases r JOIN plugin_components c ON c.slot = r.slot AND c.digest = r.digest
                     WHERE r.slot = $1 ORDER BY r.id DESC LIMIT $2"
                ))
                .bind(slot)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(release_row).collect()
            }

            async fn plugin_bytes(
                &self,
                slot: &str,
                digest: &str,
            ) -> Result<Option<Vec<u8>>, $crate::store::StoreError> {
                let found: Option<(Vec<u8>,)> =
                    sqlx::query_as("SELECT bytes FROM plugin_components WHERE slot = $1 AND digest = $2")
                        .bind(slot)
                        .bind(digest)
                        .fetch_optional(&self.pool)
                        .await?;
                Ok(found.map(|(bytes,)| bytes))
            }

            async fn report_process(
                &self,
                p: &$crate::store::plugins::ProcessRow,
            ) -> Result<(), $crate::store::StoreError> {
                sqlx::query(
                    "INSERT INTO plugin_processes (process_id, host, role, digests_json, refusals_json, started_at,
                                                   seen_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7)
                     ON CONFLICT (process_id) DO UPDATE SET digests_json = $4, refusals_json = $5, seen_at = $7",
                )
                .bind(&p.process_id)
                .bind(&p.host)
                .bind(&p.role)
                .bind(sqlx::types::Json(&p.digests))
                .bind(sqlx::types::Json(&p.refusals))
                .bind(p.started_at)
                .bind(p.seen_at)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn processes(
                &self,
                since: chrono::DateTime<chrono::Utc>,
            ) -> Result<Vec<$crate::store::plugins::ProcessRow>, $crate::store::StoreError> {
                let rows = sqlx::query(
                    "SELECT process_id, host, role, digests_json, refusals_json, started_at, seen_at
                     FROM plugin_processes WHERE seen_at >= $1 ORDER BY process_id",
                )
                .bind(since)
                .fetch_all(&self.pool)
                .await?;
                rows.iter()
                    .map(|r| {
                        use sqlx::Row as _;
                        let digests: sqlx::types::Json<std::collections::BTreeMap<String, String>> =
                            r.try_get("digests_json")?;
                        let refusals: sqlx::types::Json<
                            std::collections::BTreeMap<String, $crate::store::plugins::ProcessRefusal>,
                        > = r.try_get("refusals_json")?;
                        Ok($crate::store::plugins::ProcessRow {
                            process_id: r.try_get("process_id")?,
                            host: r.try_get("host")?,
                            role: r.try_get("role")?,
                            digests: digests.0,
                            refusals: refusals.0,
                            started_at: r.try_get("started_at")?,
                            seen_at: r.try_get("seen_at")?,
                        })
                    })
                    .collect()
            }

            async fn forget_process(&self, process_id: &str) -> Result<(), $crate::store::StoreError> {
                sqlx::query("DELETE FROM plugin_processes WHERE process_id = $1")
                    .bind(process_id)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn plugin_announcements(
                &self,
            ) -> Result<Option<tokio::sync::mpsc::Receiver<()>>, $crate::store::StoreError> {
                self.announcements().await
            }
        }

        async fn newest_release(
            conn: &mut <$db as sqlx::Database>::Connection,
            slot: &str,
        ) -> Result<Option<$crate::store::plugins::ReleaseRow>, $crate::store::StoreError> {
            let row = sqlx::query(concat!(
                "SELECT ",
                release_columns!(),
                " FROM plugin_releases r JOIN plugin_components c ON c.slot = r.slot AND c.digest = r.digest
                 WHERE r.slot = $1 ORDER BY r.id DESC LIMIT 1"
            ))
            .bind(slot)
            .fetch_optional(&mut *conn)
            .await?;
            row.as_ref().map(release_row).transpose()
        }

        async fn insert_release(
            conn: &mut <$db as sqlx::Database>::Connection,
            slot: &str,
            digest: &str,
            action: $crate::store::plugins::ReleaseAction,
            canary_percent: Option<u8>,
            source: &str,
            process_id: &str,
        ) -> Result<$crate::store::plugins::ReleaseRow, $crate::store::StoreError> {
            let (id,): (i64,) = sqlx::query_as(
                "INSERT INTO plugin_releases (slot, digest, action, source, process_id, created_at, canary_percent)
                 VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
            )
            .bind(slot)
            .bind(digest)
            .bind(action.as_str())
            .bind(source)
            .bind(process_id)
            .bind(chrono::Utc::now())
            .bind(canary_percent.map(i32::from))
            .fetch_one(&mut *conn)
            .await?;
            if $notify {
                // Delivered when the transaction commits, never before the release is visible.
                sqlx::query("SELECT pg_notify($1, $2)")
                    .bind($crate::store::plugins::CHANNEL)
                    .bind(slot)
                    .execute(&mut *conn)
                    .await?;
            }
            let row = sqlx::query(concat!(
                "SELECT ",
                release_columns!(),
                " FROM plugin_releases r JOIN plugin_components c ON c.slot = r.slot AND c.digest = r.digest
                 WHERE r.id = $1"
            ))
            .bind(id)
            .fetch_one(&mut *conn)
            .await?;
            release_row(&row)
        }

        fn release_row(
            r: &<$db as sqlx::Database>::Row,
        ) -> Result<$crate::store::plugins::ReleaseRow, $crate::store::StoreError> {
            use sqlx::Row as _;
            let action: String = r.try_get("action")?;
            let size: i64 = r.try_get("size_bytes")?;
            let percent: Option<i32> = r.try_get("canary_percent")?;
            Ok($crate::store::plugins::ReleaseRow {
                id: r.try_get("id")?,
                slot: r.try_get("slot")?,
                digest: r.try_get("digest")?,
                name: r.try_get("name")?,
                version: r.try_get("version")?,
                size_bytes: size.max(0) as u64,
                action: match action.as_str() {
                    "publish" => $crate::store::plugins::ReleaseAction::Publish,
                    "rollback" => $crate::store::plugins::ReleaseAction::Rollback,
                    "canary" => $crate::store::plugins::ReleaseAction::Canary,
                    other => {
                        return Err($crate::store::StoreError::Corrupt(format!("unknown release action {other:?}")));
                    }
                },
                canary_percent: percent.and_then(|p| u8::try_from(p).ok()),
                source: r.try_get("source")?,
                process_id: r.try_get("process_id")?,
                created_at: r.try_get("created_at")?,
            })
        }
    };
}

macro_rules! release_columns {
    () => {
        "r.id, r.slot, r.digest, c.name, c.version, c.size_bytes, r.action, r.canary_percent, r.source, r.process_id, \
         r.created_at"
    };
}

pub(crate) use {impl_plugin_store, release_columns};
