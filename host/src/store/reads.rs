//! The reads behind `events`, `needing_attention` and `audit_page`, as free functions over `$db`'s pool, expanded
//! per backend like [`super::rows`] (`#[async_trait]` cannot see methods a macro adds to its impl block).

/// `read_events`, `read_event_summary`, `read_plugin_runs`, `read_last_errors`, `read_recent_failures`, `read_created_since`, `read_payments`, `read_needing_attention`, `read_audit_page` over a `sqlx::Pool<$db>`.
macro_rules! impl_sql_reads {
    ($db:ty) => {
            const EVENT_COLUMNS: &str = "id, order_id, event_type, activity, attempt, outcome, message, plugin_digest,
                                          state, payload_json, \"timestamp\"";

            fn event_row(r: &<$db as sqlx::Database>::Row) -> Result<$crate::store::EventRow, $crate::store::StoreError> {
                use sqlx::Row as _;
                let state: Option<String> = r.try_get("state")?;
                let attempt: Option<i32> = r.try_get("attempt")?;
                let details: Option<sqlx::types::Json<serde_json::Value>> = r.try_get("payload_json")?;
                Ok($crate::store::EventRow {
                    id: r.try_get("id")?,
                    order_id: r.try_get("order_id")?,
                    kind: r.try_get("event_type")?,
                    activity: r.try_get("activity")?,
                    attempt: attempt.map(|a| a.max(0) as u32),
                    outcome: r.try_get("outcome")?,
                    message: r.try_get("message")?,
                    plugin_digest: r.try_get("plugin_digest")?,
                    state: state.as_deref().map(parse_state).transpose()?,
                    details: details.map(|d| d.0),
                    created_at: r.try_get("timestamp")?,
                })
            }

            async fn read_events(
                pool: &sqlx::Pool<$db>,
                order_id: &str,
                limit: u32,
            ) -> Result<Vec<$crate::store::EventRow>, $crate::store::StoreError> {
                let rows = sqlx::query(&format!(
                    "SELECT {EVENT_COLUMNS} FROM events WHERE order_id = $1 ORDER BY id LIMIT $2"
                ))
                .bind(order_id)
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?;
                rows.iter().map(event_row).collect()
            }

            /// Three bounded reads: failure counts per activity (kept as the events are written,
            /// `failure_tallies`), the newest `recent` failures and the newest attention message (each the newest
            /// few entries of an index). An order failing an attempt for days reads as fast as one that never did.
            async fn read_event_summary(
                pool: &sqlx::Pool<$db>,
                order_id: &str,
                recent: u32,
            ) -> Result<$crate::store::EventSummary, $crate::store::StoreError> {
                let counts: Vec<(String, i64)> =
                    sqlx::query_as("SELECT activity, failures FROM failure_tallies WHERE order_id = $1")
                        .bind(order_id)
                        .fetch_all(pool)
                        .await?;
                let newest = sqlx::query(&format!(
                    "SELECT {EVENT_COLUMNS} FROM events WHERE order_id = $1 AND {FAILED_ATTEMPT} ORDER BY id DESC LIMIT $2"
                ))
                .bind(order_id)
                .bind(i64::from(recent))
                .fetch_all(pool)
                .await?;
                let mut recent_failures = newest.iter().map(event_row).collect::<Result<Vec<_>, _>>()?;
                recent_failures.reverse();
                let attention: Option<Option<String>> = sqlx::query_scalar(
                    "SELECT message FROM events WHERE order_id = $1 AND event_type = 'attention' ORDER BY id DESC LIMIT 1",
                )
                .bind(order_id)
                .fetch_optional(pool)
                .await?;
                Ok($crate::store::EventSummary {
                    failures: counts.into_iter().map(|(a, n)| (a, u32::try_from(n).unwrap_or(u32::MAX))).collect(),
                    recent_failures,
                    attention: attention.flatten(),
                })
            }

            /// Per activity, the plugin version its newest attempt ran. Reads every attempt of the order that names a
            /// digest: only the database's own view of an order needs it (its workflow's documents carry their
            /// plugins), so it is not part of every status read.
            async fn read_plugin_runs(
                pool: &sqlx::Pool<$db>,
                order_id: &str,
            ) -> Result<Vec<$crate::store::DigestRun>, $crate::store::StoreError> {
                let digests: Vec<(String, String, Option<String>, Option<String>)> = sqlx::query_as(
                    "SELECT e.activity, e.plugin_digest, c.name, c.version FROM events e
                     LEFT JOIN plugin_components c ON c.digest = e.plugin_digest
                     WHERE e.id IN (SELECT MAX(id) FROM events
                                    WHERE order_id = $1 AND plugin_digest IS NOT NULL AND activity IS NOT NULL
                                    GROUP BY activity)
                     ORDER BY e.id",
                )
                .bind(order_id)
                .fetch_all(pool)
                .await?;
                Ok(digests
                    .into_iter()
                    .map(|(activity, digest, name, version)| $crate::store::DigestRun {
                        activity,
                        digest,
                        name: name.unwrap_or_default(),
                        version: version.unwrap_or_default(),
                    })
                    .collect())
            }

            async fn read_payments(
                pool: &sqlx::Pool<$db>,
                order_id: &str,
            ) -> Result<Vec<$crate::store::PaymentRow>, $crate::store::StoreError> {
                let rows = sqlx::query(concat!(
                    "SELECT ",
                    payment_columns!(),
                    " FROM payments WHERE order_id = $1 ORDER BY created_at, payment_id"
                ))
                .bind(order_id)
                .fetch_all(pool)
                .await?;
                rows.iter().map(payment_row).collect()
            }

            /// The failure outcome filter of the reads below (`refused` is [`crate::activities::REFUSED`]).
            const FAILED_ATTEMPT: &str = "event_type = 'activity' AND outcome IS NOT NULL
                                          AND outcome NOT IN ('completed', 'refused')";

            async fn read_last_errors(
                pool: &sqlx::Pool<$db>,
                order_ids: &[String],
            ) -> Result<Vec<(String, String)>, $crate::store::StoreError> {
                if order_ids.is_empty() {
                    return Ok(Vec::new());
                }
                let placeholders: Vec<String> = (1..=order_ids.len()).map(|n| format!("${n}")).collect();
                let sql = format!(
                    "SELECT order_id, message FROM events WHERE id IN (
                         SELECT MAX(id) FROM events WHERE order_id IN ({}) AND {FAILED_ATTEMPT} GROUP BY order_id)",
                    placeholders.join(", ")
                );
                let mut query = sqlx::query_as::<_, (String, Option<String>)>(&sql);
                for id in order_ids {
                    query = query.bind(id);
                }
                let rows = query.fetch_all(pool).await?;
                Ok(rows.into_iter().map(|(id, message)| (id, message.unwrap_or_default())).collect())
            }

            async fn read_recent_failures(
                pool: &sqlx::Pool<$db>,
                limit: u32,
            ) -> Result<Vec<$crate::store::EventRow>, $crate::store::StoreError> {
                let rows = sqlx::query(&format!(
                    "SELECT {EVENT_COLUMNS} FROM events WHERE {FAILED_ATTEMPT} ORDER BY id DESC LIMIT $1"
                ))
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?;
                rows.iter().map(event_row).collect()
            }

            async fn read_created_since(
                pool: &sqlx::Pool<$db>,
                since: chrono::DateTime<chrono::Utc>,
            ) -> Result<u64, $crate::store::StoreError> {
                let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM orders WHERE created_at >= $1")
                    .bind(since)
                    .fetch_one(pool)
                    .await?;
                Ok(n.max(0) as u64)
            }

            async fn read_needing_attention(pool: &sqlx::Pool<$db>, limit: u32) -> Result<Vec<(String, String)>, $crate::store::StoreError> {
                let rows: Vec<(String, Option<String>)> = sqlx::query_as(
                    "SELECT e.order_id, e.message FROM events e
                     WHERE e.event_type = 'attention'
                       AND e.id = (SELECT MAX(id) FROM events l WHERE l.order_id = e.order_id AND l.event_type = 'attention')
                     ORDER BY e.id DESC LIMIT $1",
                )
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?;
                Ok(rows.into_iter().map(|(id, message)| (id, message.unwrap_or_default())).collect())
            }

            async fn read_audit_page(
                pool: &sqlx::Pool<$db>,
                after: Option<&str>,
                limit: u32,
            ) -> Result<Vec<($crate::store::OrderRow, Vec<$crate::store::PaymentRow>)>, $crate::store::StoreError> {
                let rows = sqlx::query(concat!(
                    "SELECT ",
                    order_columns!(),
                    " FROM orders WHERE ($1 IS NULL OR id > $1) ORDER BY id LIMIT $2"
                ))
                .bind(after)
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?;
                let mut page = Vec::with_capacity(rows.len());
                for row in &rows {
                    let order = order_row(row)?;
                    let payments = read_payments(pool, &order.order_id).await?;
                    page.push((order, payments));
                }
                Ok(page)
            }
    };
}

pub(crate) use impl_sql_reads;
